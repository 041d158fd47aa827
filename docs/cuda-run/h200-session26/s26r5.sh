#!/usr/bin/env bash
# Session 26, run 5 (H200; carry [".gpudeps", ".lab"], .lab/computed.patch = the tree's src/cuda change):
# results of GPU arithmetic converted to bf16/f16 without dtype.h's NaN fix-up (src/cuda/dtype.cuh,
# COMPUTED; elementwise and norm kernels). A = the tree with the patch reversed, B = the tree, as plugins
# of one set of host binaries (ZF_CUDA_LIB). Correctness: test_cuda (with the new NaN-bits test) on A and
# B, memcheck of B's (quick); bench: zf_cuda_bench alternated 3x; decodes of the SmolLM2 and Qwen3 shapes.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
touch src/cuda/*.cu src/cuda/*.cuh
lab_build_b "zf zfast_cuda test_cuda zf_cuda_bench" || exit 1
lab_plugin B true || exit 1
lab_plugin A patch -R -p1 -i .lab/computed.patch || exit 1
lab_ptest B test_cuda
lab_ptest A test_cuda
env ZF_CUDA_LIB=$LAB_P/B.so ZF_TEST_QUICK=1 timeout 150 compute-sanitizer --tool memcheck --error-exitcode 3 \
    "$LAB_B/tests/cuda/test_cuda" >"$OUT/memcheck-B.txt" 2>&1
echo "B memcheck test_cuda rc=$? $(lab_elapsed) s: $(grep 'ERROR SUMMARY' "$OUT/memcheck-B.txt")"
for i in 1 2 3; do
    for v in A B; do
        ZF_CUDA_LIB=$LAB_P/$v.so timeout 60 "$LAB_B/zf_cuda_bench" >"$OUT/bench-$v-$i.txt" 2>&1
        echo "bench $v $i rc=$? $(lab_elapsed) s"
    done
done
lab_models smol qwen8
for i in 1 2; do
    for v in A B; do
        lab_pbench $v smol.gguf 16 stable; lab_pbench $v qwen8 16 stable; lab_pbench $v qwen8 16 edge
    done
done
cd "$OUT" && tar -czf benches.tgz bench-*.txt && rm bench-*.txt
echo "total $(lab_elapsed) s"
