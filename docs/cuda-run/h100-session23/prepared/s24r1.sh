#!/usr/bin/env bash
# Prepared in session 23, not yet run. carry [".gpudeps", ".lab"], .lab/A.tar = `git archive HEAD` made just
# before the call. B = HEAD + qmm-f32-spec.patch: the one-matrix pair kernel (qmm's and gather_qmm's decode
# path, every projection of a one-token step) with f32 activations and f16 or bf16 scales as template
# arguments, launch bounds (128, 4) so that it keeps 4 CTAs an SM (ptxas: 119 registers, no spill, for the
# specialised and the run-time kernels alike; 122 and 129 before). Session 23 measured the same idea on the
# combine and the swiglu: 4-6% a kernel with bf16 activations. Here the f32 models' decode is the question.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
patch -p1 < docs/cuda-run/h100-session23/prepared/qmm-f32-spec.patch || exit 1
lab_build .lab/A.tar "zf zfast_cuda test_cuda_moe test_cuda_model" "zf zfast_cuda" || exit 1
lab_tests test_cuda_moe test_cuda_model
lab_models smol qwen8
for i in 1 2; do for s in A B; do lab_bench $s smol.gguf 16 stable; lab_bench $s qwen8 16 stable; lab_bench $s qwen8 16 edge; done; done
echo "total $(lab_elapsed) s"
