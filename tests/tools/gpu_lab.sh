#!/usr/bin/env bash
# scripts/gpu-lab.sh's plugin-variant helpers (lab_plugin, lab_ptest, lab_pbench, lab_pmoe) without a GPU, so
# a device call does not spend its minutes on a broken helper: a scratch tree whose CMake project builds a
# stand-in libzfast_cuda.so (a string says which variant it is), stand-ins for zf, a CUDA test and
# zf_cuda_moe_bench that print what they were given or a recorded table (session 25, run 4).
#   tests/tools/gpu_lab.sh SOURCE_DIR
. "$(dirname "$0")/check.sh"
src=${1:?usage: gpu_lab.sh SOURCE_DIR}
root=$dir/root
mkdir -p "$root/scripts" "$root/proj" "$dir/models"
cp "$src/scripts/gpu-lab.sh" "$src/scripts/gpu-env.sh" "$root/scripts/"
cat >"$root/proj/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(lab C)
add_library(zfast_cuda SHARED plugin.c)
EOF
printf '#include "variant.h"\nconst char *zf_lab_variant = "variant-" VARIANT;\n' >"$root/proj/plugin.c"
printf '#define VARIANT "a"\n' >"$root/proj/variant.h"
cat >"$dir/to-b.patch" <<'EOF'
--- a/proj/variant.h
+++ b/proj/variant.h
@@ -1 +1 @@
-#define VARIANT "a"
+#define VARIANT "b"
EOF
cat >"$dir/broken.patch" <<'EOF'
--- a/proj/plugin.c
+++ b/proj/plugin.c
@@ -2 +2 @@
-const char *zf_lab_variant = "variant-" VARIANT;
+const char *zf_lab_variant = "variant-" VARIANT
EOF
b=$root/build-gpu
cmake -S "$root/proj" -B "$b" >"$dir/cmake.log" 2>&1 || { echo "FAIL: the scratch project does not configure"; cat "$dir/cmake.log"; exit 1; }
mkdir -p "$b/tests/cuda"
# stand-ins: each names the plugin it was handed (its variant string), or fails without one
cat >"$b/zf" <<'EOF'
#!/usr/bin/env bash
[ -f "${ZF_CUDA_LIB:-}" ] || { echo "no plugin"; exit 3; }
echo "plugin $(grep -a -o 'variant-[a-z]' "$ZF_CUDA_LIB") args $* x=${X:-}"
printf 'prefill     16 tokens:    5000.0 tok/s median [4990.0 .. 5010.0]\r'
echo 'decode      32 tokens:    1234.5 tok/s median [1230.0 .. 1240.0]'
EOF
cat >"$b/tests/cuda/test_x" <<'EOF'
#!/usr/bin/env bash
[ -f "${ZF_CUDA_LIB:-}" ] || exit 3
echo "test_x: 10 checks, 0 failures ($(grep -a -o 'variant-[a-z]' "$ZF_CUDA_LIB"))"
EOF
cat >"$b/zf_cuda_moe_bench" <<EOF
#!/usr/bin/env bash
[ -f "\${ZF_CUDA_LIB:-}" ] || exit 3
cat "$src/docs/cuda-run/h200-session25/run4/moe-A-1.txt"
EOF
chmod +x "$b/zf" "$b/tests/cuda/test_x" "$b/zf_cuda_moe_bench"

cd "$root" || exit 1
export OUT=$dir/lab ZF_LAB_PLUGINS=$dir/plugins ZF_LAB_MODELS=$dir/models TMPDIR=$dir
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-lab.sh
. "$root/scripts/gpu-lab.sh"

check "the tree as it is, as plugin a" 0 lab_plugin a true
has out "^plugin a [0-9]* s [0-9a-f]\{12\}$"
check "a patch on top, as plugin b" 0 lab_plugin b patch -p1 -i "$dir/to-b.patch"
grep -a -q variant-a "$dir/plugins/a.so" || { echo "FAIL: a.so is not variant a"; fail=1; }
grep -a -q variant-b "$dir/plugins/b.so" || { echo "FAIL: b.so is not variant b"; fail=1; }
check "a command that fails" 1 lab_plugin c false
has out "lab_plugin c: 'false' failed"
[ ! -e "$dir/plugins/c.so" ] || { echo "FAIL: a failed variant left a plugin"; fail=1; }
check "a patch that breaks the build" 1 lab_plugin d patch -p1 -i "$dir/broken.patch"
has out "lab_plugin d: the build failed"
[ ! -e "$dir/plugins/d.so" ] || { echo "FAIL: a variant that did not build left a plugin"; fail=1; }

check "a test on plugin a" 0 lab_ptest a test_x
has out "^a test_x  rc=0 [0-9]* s: test_x: 10 checks, 0 failures (variant-a)"
check "a bench on plugin b, with an environment" 0 lab_pbench b m.gguf 16 edge X=7
has out "^b m.gguf p=16 edge X=7 rc=0 1234.5 tok/s median \[1230.0 ..$"
grep -q "plugin variant-b args bench $dir/models/m.gguf -p 16 -n 32 -r 3 --backend cuda --tier edge x=7" "$LAB_TXT" ||
    { echo "FAIL: zf was not run as lab_pbench says"; cat "$LAB_TXT"; fail=1; }
check "the one-token MoE rows of plugin a" 0 lab_pmoe a 1
has out "^moe a 1 rc=0: .*gather_qmm_swiglu | approx | 6.23 ;"
has out "moe block (router + moe_experts) | approx | 15.40 ;"
if grep -q stock "$dir/out"; then echo "FAIL: a stock row printed"; fail=1; fi
exit $fail
