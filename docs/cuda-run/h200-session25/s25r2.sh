#!/usr/bin/env bash
# Session 25, run 2 (H200; carry [".gpudeps"]): session 24's three prepared scheduling patches
# (docs/cuda-run/h100-session24/prepared/, their comments say why each) as four plugins built
# incrementally in one tree and loaded by one set of host binaries (ZF_CUDA_LIB), alternated:
#   A = HEAD, B = A + route-release-after-wait, C = B + attention-release, D = A + norm-release-at-start.
# Only the plugin differs between variants, so the host side cannot be the difference (session 24's lesson
# from the CPU A/B). Correctness: B's test_cuda_moe, C's test_cuda_model, D's test_cuda (quick).
export ZF_COMMIT=${ZF_COMMIT:-unknown}
P=docs/cuda-run/h100-session24/prepared
. scripts/gpu-lab.sh
LIMIT=560
touch src/cuda/*.cu src/cuda/*.cuh
lab_build_b "zf zfast_cuda test_cuda test_cuda_moe test_cuda_model zf_cuda_moe_bench zf_cuda_bench" || exit 1
so=$LAB_B/libzfast_cuda.so
cp "$so" /tmp/pA.so
plugin() { # NAME PATCH-COMMANDS...: apply, rebuild the plugin, keep it as /tmp/pNAME.so
    local n=$1; shift
    "$@" >>"$OUT/patch.log" 2>&1 || { echo "patching $n failed"; return 1; }
    cmake --build "$LAB_B" -j 16 --target zfast_cuda >"$OUT/build$n.log" 2>&1 || { echo "build $n failed"; return 1; }
    cp "$so" "/tmp/p$n.so"
    echo "plugin $n $(lab_elapsed) s"
}
plugin B patch -p1 -i $P/route-release-after-wait.patch || exit 1
plugin C patch -p1 -i $P/attention-release.patch || exit 1
plugin D bash -c "patch -R -p1 -i $P/attention-release.patch && patch -R -p1 -i $P/route-release-after-wait.patch &&
    patch -p1 -i $P/norm-release-at-start.patch" || exit 1
md5sum /tmp/p[ABCD].so
vt() { # VARIANT TEST [ENV...]
    local v=$1 t=$2; shift 2
    env ZF_CUDA_LIB=/tmp/p$v.so "$@" timeout 120 "$LAB_B/tests/cuda/$t" >"$OUT/$t-$v.txt" 2>&1
    echo "$v $t rc=$? $(lab_elapsed) s: $(grep -E 'checks|FAIL' "$OUT/$t-$v.txt" | tail -n 2 | tr '\n' ' ')"
}
vt B test_cuda_moe
vt C test_cuda_model
vt D test_cuda ZF_TEST_QUICK=1
lab_models qwen8 smol
vb() { # VARIANT MODEL TIER [ENV...]: decode median of `zf bench -p 16 -n 32 -r 3`
    local v=$1 m=$2 t=$3; shift 3
    local left=$((LIMIT - $(lab_elapsed)))
    [ $left -lt 20 ] && return 0
    env ZF_CUDA_LIB=/tmp/p$v.so "$@" timeout $left "$LAB_B/zf" bench "$LAB_M/$m" -p 16 -n 32 -r 3 --backend cuda \
        --tier "$t" >/tmp/vb.txt 2>&1
    echo "$v $m $t $* rc=$? $(tr '\r' '\n' </tmp/vb.txt | grep -E '^decode +[0-9]+ tokens' | tr -s ' ' | cut -d' ' -f4-8)"
}
vm() { # VARIANT: the one-token MoE rows (not stock)
    env ZF_CUDA_LIB=/tmp/p$1.so timeout 100 "$LAB_B/zf_cuda_moe_bench" --tokens 1 >"$OUT/moe-$1-$2.txt" 2>&1
    echo "moe $1 $2 rc=$?: $(grep -E '^\| (moe|gather)' "$OUT/moe-$1-$2.txt" | grep -v stock | cut -d'|' -f2,3,7 | tr '\n' ';')"
}
vn() { # VARIANT ROUND: the decode norm rows of zf_cuda_bench
    env ZF_CUDA_LIB=/tmp/p$1.so timeout 100 "$LAB_B/zf_cuda_bench" --quick >"$OUT/bench-$1-$2.txt" 2>&1
    echo "norms $1 $2 rc=$?: $(grep -E '^\| decode (rms_norm|add_rms_norm)' "$OUT/bench-$1-$2.txt" | cut -d'|' -f2,4 | tr '\n' ';')"
}
for i in 1 2 3; do
    for v in A B C; do vb $v qwen8 edge; vb $v qwen8 stable; vb $v smol.gguf edge; vb $v smol.gguf stable; done
    vb A qwen8 edge ZF_CUDA_PDL=0; vb A smol.gguf stable ZF_CUDA_PDL=0
    vm A $i; vm B $i
    vn A $i; vn D $i; vb D smol.gguf stable; vb D qwen8 edge
    echo "round $i done $(lab_elapsed) s"
done
echo "total $(lab_elapsed) s"
