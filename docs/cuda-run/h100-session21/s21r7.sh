#!/usr/bin/env bash
# session 21 run 7: carry [".gpudeps", ".lab"] (.lab/A.tar = `git archive` of the HEAD before the change).
# B: the one-row / few-pair qmm kernel (qd_pair_kernel) takes 8 or 4 weight rows a CTA where 16 would give
# fewer than 256 CTAs (SmolLM2's projections: 36-60 CTAs of 16 rows; Qwen3's o projection 128, its router 8).
# Same bits (the canonical dot per row; only the partition changes): test_cuda_moe and test_cuda_model,
# cpu-vs-cuda parity; then decode A/B alternated (stable: the exact qmm; the edge tier's one-row qmm is the
# int8 kernel, not this one).
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
