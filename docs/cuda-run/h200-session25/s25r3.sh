#!/usr/bin/env bash
# Session 25, run 3 (H200; carry [".gpudeps", ".lab"], .lab/attn.patch = the tree's change against ad5706f):
# the decode attention's release of the next grid after its wait (run 2's variant C, with the router
# patch) alone, A/B in one set of host binaries (ZF_CUDA_LIB), 4 rounds alternated, 16 and 1024 positions:
#   A = ad5706f (the tree with .lab/attn.patch reversed), B = the tree, F = B + norm-release-at-start
#   (run 2's D on top: the 8-layer Qwen3 edge decode rose ~3% there while the norm rows got mixed).
# Correctness: B's test_cuda_model (and under memcheck), test_cuda_moe, the synthetic models' --compare.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
P=docs/cuda-run/h100-session24/prepared
. scripts/gpu-lab.sh
LIMIT=540
touch src/cuda/*.cu src/cuda/*.cuh
lab_build_b "zf zfast_cuda test_cuda test_cuda_moe test_cuda_model zf_cuda_bench" || exit 1
so=$LAB_B/libzfast_cuda.so
cp "$so" /tmp/pB.so
plugin() { # NAME PATCH-COMMAND...: apply, rebuild the plugin, keep it as /tmp/pNAME.so
    local n=$1; shift
    "$@" >>"$OUT/patch.log" 2>&1 || { echo "patching $n failed"; return 1; }
    cmake --build "$LAB_B" -j 16 --target zfast_cuda >"$OUT/build$n.log" 2>&1 || { echo "build $n failed"; return 1; }
    cp "$so" "/tmp/p$n.so"
    echo "plugin $n $(lab_elapsed) s"
}
plugin A patch -R -p1 -i .lab/attn.patch || exit 1
plugin F bash -c "patch -p1 -i .lab/attn.patch && patch -p1 -i $P/norm-release-at-start.patch" || exit 1
md5sum /tmp/p[ABF].so
vt() { # VARIANT TEST [ENV...]
    local v=$1 t=$2; shift 2
    env ZF_CUDA_LIB=/tmp/p$v.so "$@" timeout 150 "$LAB_B/tests/cuda/$t" >"$OUT/$t-$v.txt" 2>&1
    echo "$v $t $* rc=$? $(lab_elapsed) s: $(grep -E 'checks|FAIL|ERROR SUMMARY' "$OUT/$t-$v.txt" | tail -n 2 | tr '\n' ' ')"
}
vt B test_cuda_model
vt B test_cuda_moe
vt F test_cuda ZF_TEST_QUICK=1
env ZF_CUDA_LIB=/tmp/pB.so ZF_TEST_QUICK=1 timeout 150 compute-sanitizer --tool memcheck --error-exitcode 3 \
    "$LAB_B/tests/cuda/test_cuda_model" >"$OUT/memcheck-model-B.txt" 2>&1
echo "B memcheck test_cuda_model rc=$? $(lab_elapsed) s: $(grep 'ERROR SUMMARY' "$OUT/memcheck-model-B.txt")"
lab_models qwen8 smol moe llama
export ZF_CUDA_LIB=/tmp/pB.so
for m in smol.gguf qwen8 moe-mlx llama.gguf; do lab_compare $m; done
unset ZF_CUDA_LIB
vb() { # VARIANT MODEL POSITIONS TIER [ENV...]: decode median of `zf bench -n 32 -r 3`
    local v=$1 m=$2 p=$3 t=$4; shift 4
    local left=$((LIMIT - $(lab_elapsed)))
    [ $left -lt 20 ] && return 0
    env ZF_CUDA_LIB=/tmp/p$v.so "$@" timeout $left "$LAB_B/zf" bench "$LAB_M/$m" -p "$p" -n 32 -r 3 --backend cuda \
        --tier "$t" >/tmp/vb.txt 2>&1
    echo "$v $m p=$p $t $* rc=$? $(tr '\r' '\n' </tmp/vb.txt | grep -E '^decode +[0-9]+ tokens' | tr -s ' ' | cut -d' ' -f4-8)"
}
for i in 1 2 3 4; do
    for v in A B F; do
        vb $v smol.gguf 16 edge; vb $v smol.gguf 16 stable; vb $v qwen8 16 edge; vb $v qwen8 16 stable
        vb $v smol.gguf 1024 stable; vb $v qwen8 1024 edge
    done
    echo "round $i done $(lab_elapsed) s"
done
echo "total $(lab_elapsed) s"
