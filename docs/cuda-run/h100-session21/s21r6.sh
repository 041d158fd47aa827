#!/usr/bin/env bash
# session 21 run 6: carry [".gpudeps", ".lab"] (.lab/A.tar = `git archive` of the HEAD before the change).
# B: the dense FFN's one-token gate|up qmm + swiglu on CUDA as one zf_gather_qmm_swiglu call of a single
# expert (src/model/llama.c ffn_block; one kernel fewer a layer). Checks: test_cuda_model, cpu-vs-cuda
# token parity (stable) on the synthetic SmolLM2 shape and a tiny llama, then decode A/B alternated.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build .lab/A.tar "zf zfast_cuda test_cuda_model" "zf zfast_cuda" || exit 1
lab_tests test_cuda_model
lab_models smol llama
lab_compare smol.gguf
lab_compare llama.gguf
for i in 1 2; do for s in A B; do
  lab_bench $s smol.gguf 16 stable; lab_bench $s smol.gguf 16 edge; lab_bench $s smol.gguf 1024 stable
done; done
echo "total $(lab_elapsed) s"
