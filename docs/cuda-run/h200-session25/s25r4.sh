#!/usr/bin/env bash
# Session 25, run 4 (H200; carry [".gpudeps", ".lab"]): what the H100's tuning and floors are on the H200.
# 1. Session 11's copy-only lab (docs/cuda-run/h100-session11/stream-lab.cu, as .lab/stream-lab.cu): how fast one
#    token's selected expert bytes can move at all on this chip (the floor under issue 4's 7 / 4 / 12 us).
# 2. Two thresholds measured on the H100, as plugins of one tree loaded by one set of binaries (ZF_CUDA_LIB):
#    A = 41647f0; G = A + .lab/g.patch (the int8 combine from one token on, not from 4: on the H100 it lost at one
#    token because its copies landed late, and they land ~1.4x sooner here); N = A + .lab/n.patch (the decode norm's
#    cluster of 8 CTAs from 4096 wide, 16 from 8192: issue 3's rows). G's test_cuda_moe, N's test_cuda (quick).
# 3. The GPU check's profile step (ncu per kernel of one-token decode steps), its first run on a GPU, with A.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
# every log under /tmp/o4 (packed into $OUT/logs4.tgz at the end: a call returns a few files only)
RESULTS=$OUT OUT=/tmp/o4
mkdir -p $OUT
. scripts/gpu-lab.sh
nvcc -std=c++17 -arch=sm_90a -O3 -o /tmp/stream .lab/stream-lab.cu >"$OUT/stream-build.txt" 2>&1 &&
    timeout 60 /tmp/stream >"$OUT/stream.txt" 2>&1
echo "stream lab rc=$?"; cat "$OUT/stream.txt"
touch src/cuda/*.cu src/cuda/*.cuh
lab_build_b "zf zfast_cuda test_cuda test_cuda_moe zf_cuda_moe_bench zf_cuda_bench" || exit 1
so=$LAB_B/libzfast_cuda.so
cp "$so" /tmp/pA.so
plugin() { # NAME PATCH: A + PATCH, rebuilt, kept as /tmp/pNAME.so; the tree back to A
    patch -p1 -i "$2" >>"$OUT/patch.log" 2>&1 || { echo "patching $1 failed"; return 1; }
    cmake --build "$LAB_B" -j 16 --target zfast_cuda >"$OUT/build$1.log" 2>&1 || { echo "build $1 failed"; return 1; }
    cp "$so" "/tmp/p$1.so"
    patch -R -p1 -i "$2" >>"$OUT/patch.log" 2>&1
    echo "plugin $1 $(lab_elapsed) s"
}
plugin G .lab/g.patch || exit 1
plugin N .lab/n.patch || exit 1
cp /tmp/pA.so "$so" # the profile step loads the build's own plugin: A
md5sum /tmp/p[AGN].so
vt() { # VARIANT TEST [ENV...]
    local v=$1 t=$2; shift 2
    env ZF_CUDA_LIB=/tmp/p$v.so "$@" timeout 150 "$LAB_B/tests/cuda/$t" >"$OUT/$t-$v.txt" 2>&1
    echo "$v $t $* rc=$? $(lab_elapsed) s: $(grep -E 'checks|FAIL' "$OUT/$t-$v.txt" | tail -n 2 | tr '\n' ' ')"
}
vt G test_cuda_moe
vt N test_cuda ZF_TEST_QUICK=1
lab_models qwen8
vb() { # VARIANT MODEL TIER: decode median of `zf bench -p 16 -n 32 -r 3`
    env ZF_CUDA_LIB=/tmp/p$1.so timeout 60 "$LAB_B/zf" bench "$LAB_M/$2" -p 16 -n 32 -r 3 --backend cuda --tier "$3" \
        >/tmp/vb.txt 2>&1
    echo "$1 $2 $3 rc=$? $(tr '\r' '\n' </tmp/vb.txt | grep -E '^decode +[0-9]+ tokens' | tr -s ' ' | cut -d' ' -f4-8)"
}
vm() { # VARIANT ROUND: the one-token MoE rows but stock
    env ZF_CUDA_LIB=/tmp/p$1.so timeout 100 "$LAB_B/zf_cuda_moe_bench" --tokens 1 >"$OUT/moe-$1-$2.txt" 2>&1
    echo "moe $1 $2 rc=$?: $(grep -E '^\| (moe|gather)' "$OUT/moe-$1-$2.txt" | grep -v stock | cut -d'|' -f2,3,7 | tr '\n' ';')"
}
vn() { # VARIANT ROUND: the decode norm rows of zf_cuda_bench
    env ZF_CUDA_LIB=/tmp/p$1.so timeout 100 "$LAB_B/zf_cuda_bench" --quick >"$OUT/bench-$1-$2.txt" 2>&1
    echo "norms $1 $2 rc=$?: $(grep -E '^\| decode (rms_norm|add_rms_norm)' "$OUT/bench-$1-$2.txt" | cut -d'|' -f2,4 | tr '\n' ';')"
}
for i in 1 2; do
    vm A $i; vm G $i; vb A qwen8 edge; vb G qwen8 edge
    vn A $i; vn N $i
    echo "round $i done $(lab_elapsed) s"
done
STEPS=profile ZF_CHECK_BUDGET=150 bash scripts/gpu-check.sh "$OUT/profile" >/dev/null 2>&1
echo "profile step rc=$? $(lab_elapsed) s"; grep -E '^\| (synth|ncu)' "$OUT/profile/summary.md"
head -40 "$OUT"/profile/profile-qwen8.md
echo "total $(lab_elapsed) s"
tar czf "$RESULTS/logs4.tgz" -C "$OUT" .
