# shellcheck shell=bash
# Helpers for a device run that compares the working tree (B) with a
# baseline (A) built with its own binaries, as docs/cuda-run/*/s*r*.sh do:
# source it from such a script, run in the repository root with $OUT set.
#   . scripts/gpu-lab.sh
#   lab_build A.tar "zf zfast_cuda test_cuda_model" "zf zfast_cuda"   (or lab_build_b "zf zfast_cuda": B alone)
#   lab_tests test_cuda_model test_cuda
#   lab_models smol qwen8
#   lab_bench A smol.gguf 16 stable; lab_bench B smol.gguf 16 stable ZF_CUDA_GRAPHS=0
# A is needed where the plugin ABI differs between the two trees; where it
# does not, scripts/gpu-ab.sh loads A's plugin into B's binaries instead, and
# the lab_p* helpers below build several variants of the plugin in the one
# tree (incremental: only the patched .cu files compile) for one set of host
# binaries, as session 25 did (docs/cuda-run/h200-session25/):
#   lab_build_b "zf zfast_cuda test_cuda_moe zf_cuda_moe_bench"; lab_plugin A true
#   lab_plugin B patch -p1 -i X.patch; lab_plugin C patch -p1 -i Y.patch  (C = X + Y)
#   lab_ptest B test_cuda_moe; lab_pbench A qwen8 16 edge; lab_pbench B qwen8 16 edge
#   lab_pmoe A 1; lab_pmoe B 1
# Everything prints one line per step and keeps the logs under $OUT.

ROOT=${ROOT:-$PWD}
# shellcheck source=scripts/gpu-env.sh
. "$ROOT/scripts/gpu-env.sh"
LAB_B=$ROOT/build-gpu          # B: the working tree
LAB_A=${ZF_LAB_A:-/tmp/zfA}   # A: the baseline's sources (src/) and build (b/)
LAB_M=${ZF_LAB_MODELS:-/tmp/sm} # synthetic models
LAB_LIMIT=${ZF_LAB_LIMIT:-540} # seconds after lab_build's start past which lab_bench runs nothing
LAB_CMAKE=${ZF_LAB_CMAKE:--DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON}
LAB_T0=$(date +%s)
LAB_TXT=$(mktemp) # the last bench's whole output

lab_elapsed() { echo $(($(date +%s) - LAB_T0)); }

# lab_cmake SRC BUILD JOBS "targets" LOG: configure and build one tree.
lab_cmake() {
    # shellcheck disable=SC2086 # the flag and target lists are meant to split
    { cmake -S "$1" -B "$2" -G Ninja $LAB_CMAKE && cmake --build "$2" -j "$3" --target $4; } >"$5" 2>&1
}

# lab_build A.tar "B targets" "A targets": both trees at once (B with 10 jobs,
# A with 6), logs in $OUT/build.log and $OUT/buildA.log. ZF_LAB_PATCH_A=FILE
# patches the baseline (patch -p1) first: a lab variant as A.
lab_build() {
    local tar=$1 tb=$2 ta=$3
    LAB_T0=$(date +%s)
    if ! { rm -rf "$LAB_A" && mkdir -p "$LAB_A/src" && tar -xf "$tar" -C "$LAB_A/src"; }; then
        echo "lab_build: cannot unpack $tar"
        return 1
    fi
    if [ -n "${ZF_LAB_PATCH_A:-}" ] && ! (cd "$LAB_A/src" && patch -p1 <"$ROOT/$ZF_LAB_PATCH_A") >"$OUT/a-patch.log" 2>&1; then
        echo "lab_build: $ZF_LAB_PATCH_A does not apply to A ($OUT/a-patch.log)"
        return 1
    fi
    lab_cmake "$ROOT" "$LAB_B" 10 "$tb" "$OUT/build.log" &
    local pb=$!
    lab_cmake "$LAB_A/src" "$LAB_A/b" 6 "$ta" "$OUT/buildA.log" &
    local pa=$! ok=0
    wait $pb || ok=1
    wait $pa || ok=$((ok + 2))
    echo "builds done $(lab_elapsed) s$([ $ok = 0 ] || echo ", FAILED (1: B, 2: A, 3: both): $ok")"
    grep -E "error:|FAILED:" "$OUT/build.log" "$OUT/buildA.log" | head -5
    return $ok
}

# lab_build_b "targets": the working tree alone (no baseline: a profile, or
# settings compared through the environment), 16 jobs, log in $OUT/build.log.
lab_build_b() {
    LAB_T0=$(date +%s)
    lab_cmake "$ROOT" "$LAB_B" 16 "$1" "$OUT/build.log"
    local rc=$?
    echo "build rc=$rc $(lab_elapsed) s"
    [ $rc = 0 ] || grep -E "error:|FAILED:" "$OUT/build.log" | head -5
    return $rc
}

# lab_tests NAME...: B's CUDA tests, each under a 120 s limit, output in $OUT/NAME.txt.
lab_tests() {
    local t
    for t in "$@"; do
        timeout 120 "$LAB_B/tests/cuda/$t" >"$OUT/$t.txt" 2>&1
        echo "$t rc=$? $(lab_elapsed) s"
        grep -E "checks|FAIL|skipped" "$OUT/$t.txt" | head -5
    done
}

# lab_models NAME...: synthetic models into $LAB_M made by B's zf: smol (the
# SmolLM2-135M shape, Q4_1 GGUF), qwen8 (8 layers of the Qwen3-30B-A3B shape,
# MLX 4-bit), moe (tiny qwen3_moe, MLX), llama (tiny llama GGUF).
lab_models() {
    local n
    mkdir -p "$LAB_M"
    for n in "$@"; do
        case $n in smol | qwen8 | moe | llama) ;; *) echo "lab_models: unknown model $n" && continue ;; esac
        case $n in
        smol) "$LAB_B/zf" synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o "$LAB_M/smol.gguf" ;;
        qwen8) "$LAB_B/zf" synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o "$LAB_M/qwen8" ;;
        moe) "$LAB_B/zf" synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o "$LAB_M/moe-mlx" ;;
        llama) "$LAB_B/zf" synth --arch llama --preset tiny --format gguf --quant q4_1 -o "$LAB_M/llama.gguf" ;;
        esac >/dev/null 2>&1 || echo "lab_models: $n failed"
    done
}

# lab_compare FILE: B's `zf validate --compare cpu,cuda` on a model of $LAB_M.
lab_compare() {
    timeout 90 "$LAB_B/zf" validate "$LAB_M/$1" -n 64 --runs 1 --compare cpu,cuda -o "$OUT/compare-$1.json" >"$OUT/compare-$1.txt" 2>&1
    echo "compare $1 rc=$? $(grep verdict "$OUT/compare-$1.txt" || tail -n 1 "$OUT/compare-$1.txt")"
}

# lab_moe_bench A|B|DIR TAG: `zf_cuda_moe_bench --tokens 1` of A, B or the build in DIR, its output in
# $OUT/moe-SIDE-TAG.txt (SIDE: A, B or DIR's last name), its one-token rows but stock printed.
lab_moe_bench() {
    local b=$LAB_B/zf_cuda_moe_bench side=$1
    [ "$1" = A ] && b=$LAB_A/b/zf_cuda_moe_bench
    [ "$1" != A ] && [ "$1" != B ] && b=$1/zf_cuda_moe_bench && side=$(basename "$(dirname "$1")")
    timeout 100 "$b" --tokens 1 >"$OUT/moe-$side-$2.txt" 2>&1
    echo "moe bench $side $2 rc=$? $(lab_elapsed) s"
    lab_moe_rows "$OUT/moe-$side-$2.txt" | cut -d'|' -f2-7
}

# lab_moe_rows FILE: a zf_cuda_moe_bench table's rows but stock
lab_moe_rows() { grep -E "^\| (moe|gather)" "$1" | grep -v stock; }

# lab_zf_bench ZF MODEL P TIER SECONDS [ENV...]: one `zf bench -n 32 -r 3` of
# ZF on the GPU, its whole output in $LAB_TXT; zf's exit status.
lab_zf_bench() {
    local z=$1 model=$2 p=$3 tier=$4 left=$5
    shift 5
    env "$@" timeout "$left" "$z" bench "$LAB_M/$model" -p "$p" -n 32 -r 3 --backend cuda --tier "$tier" >"$LAB_TXT" 2>&1
}

# lab_bench A|B MODEL P TIER [ENV...]: lab_zf_bench of A's or B's zf, its
# prefill and decode medians on one line; nothing once LAB_LIMIT is near.
lab_bench() {
    local side=$1 model=$2 p=$3 tier=$4 z=$LAB_B/zf
    shift 4
    [ "$side" = A ] && z=$LAB_A/b/zf
    local left=$((LAB_LIMIT - $(lab_elapsed)))
    [ $left -lt 20 ] && return 0
    echo -n "$side $model $tier p=$p $*: "
    lab_zf_bench "$z" "$model" "$p" "$tier" "$left" "$@"
    echo -n "rc=$? "
    tr '\r' '\n' <"$LAB_TXT" | grep -E "^(prefill|decode) +[0-9]+ tokens" | tr -s ' ' | cut -d' ' -f1-7 |
        tr '\n' ' ' | grep . || tail -n 1 "$LAB_TXT" | tr -d '\n'
    echo
}

# ---- variants of the plugin in one tree, loaded through ZF_CUDA_LIB ----------

LAB_P=${ZF_LAB_PLUGINS:-/tmp/zf-plugins} # the variants' plugins: NAME.so

# lab_plugin NAME [COMMAND...]: run COMMAND in the tree (a patch, or `true`
# for the tree as it is), rebuild B's plugin and keep it as $LAB_P/NAME.so.
# Patches accumulate: undo one with `patch -R` in the next variant's command.
lab_plugin() {
    local n=$1
    shift
    mkdir -p "$LAB_P"
    if [ $# -gt 0 ] && ! "$@" >>"$OUT/plugin-$n.log" 2>&1; then
        echo "lab_plugin $n: '$*' failed ($OUT/plugin-$n.log)"
        return 1
    fi
    if ! cmake --build "$LAB_B" -j "$(nproc)" --target zfast_cuda >>"$OUT/plugin-$n.log" 2>&1; then
        echo "lab_plugin $n: the build failed ($OUT/plugin-$n.log)"
        return 1
    fi
    cp "$LAB_B/libzfast_cuda.so" "$LAB_P/$n.so" && echo "plugin $n $(lab_elapsed) s $(md5sum <"$LAB_P/$n.so" | cut -c1-12)"
}

# lab_ptest NAME TEST [ENV...]: B's CUDA test TEST on plugin NAME, 150 s at most, output in $OUT/TEST-NAME.txt.
lab_ptest() {
    local n=$1 t=$2
    shift 2
    env ZF_CUDA_LIB="$LAB_P/$n.so" "$@" timeout 150 "$LAB_B/tests/cuda/$t" >"$OUT/$t-$n.txt" 2>&1
    echo "$n $t $* rc=$? $(lab_elapsed) s: $(grep -E 'checks|FAIL' "$OUT/$t-$n.txt" | tail -n 2 | tr '\n' ' ')"
}

# lab_pbench NAME MODEL P TIER [ENV...]: lab_bench's decode median with plugin NAME in B's zf.
lab_pbench() {
    local n=$1 m=$2 p=$3 t=$4
    shift 4
    local left=$((LAB_LIMIT - $(lab_elapsed)))
    [ $left -lt 20 ] && return 0
    lab_zf_bench "$LAB_B/zf" "$m" "$p" "$t" "$left" ZF_CUDA_LIB="$LAB_P/$n.so" "$@"
    echo "$n $m p=$p $t $* rc=$? $(tr '\r' '\n' <"$LAB_TXT" | grep -E '^decode +[0-9]+ tokens' | tr -s ' ' |
        cut -d' ' -f4-8)"
}

# lab_pmoe NAME TAG: `zf_cuda_moe_bench --tokens 1` with plugin NAME, its rows but stock on one line.
lab_pmoe() {
    env ZF_CUDA_LIB="$LAB_P/$1.so" timeout 100 "$LAB_B/zf_cuda_moe_bench" --tokens 1 >"$OUT/moe-$1-$2.txt" 2>&1
    echo "moe $1 $2 rc=$?: $(lab_moe_rows "$OUT/moe-$1-$2.txt" | cut -d'|' -f2,3,7 | tr '\n' ';')"
}
