#!/usr/bin/env bash
# session 21 run 8: carry [".gpudeps", ".lab"] (.lab/A.tar = `git archive` of the HEAD before the change).
# B: the one-row / few-pair exact qmm kernel (qd_pair_kernel, no ids) loads its first pair's scales and
# starts its weight copies before the PDL wait, as the edge tier's int8 one-row kernel does. Same bits:
# test_cuda_moe, test_cuda_model, cpu-vs-cuda parity; then decode A/B alternated (stable).
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build .lab/A.tar "zf zfast_cuda test_cuda_moe test_cuda_model" "zf zfast_cuda" || exit 1
lab_tests test_cuda_moe test_cuda_model
lab_models smol qwen8
lab_compare smol.gguf
for i in 1 2; do for s in A B; do
  lab_bench $s smol.gguf 16 stable; lab_bench $s smol.gguf 1024 stable; lab_bench $s qwen8 16 stable
done; done
echo "total $(lab_elapsed) s"
