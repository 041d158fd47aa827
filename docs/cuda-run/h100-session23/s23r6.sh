#!/usr/bin/env bash
# session 23 run 6: carry [".gpudeps", ".lab"] (.lab/A.tar = `git archive 1c5ba14`). Run 5's dtype
# specialisation widened: B = the one-token combine (qd_combine_kernel), the int8 swiglu and the two-matrix
# pair kernel (gather_qmm_swiglu exact/fast) with x in {f32, bf16} x scales in {f16, bf16} as template
# arguments for 4-bit weights (the one-matrix pair kernel, qmm's decode path, left as it is). test_cuda_moe on B;
# the one-token MoE bench (bf16) A/B twice; the 8-layer Qwen3 shape (f32 activations, so
# the f32 x variants) edge and stable A/B twice.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build .lab/A.tar "zf zfast_cuda test_cuda_moe zf_cuda_moe_bench" "zf zfast_cuda zf_cuda_moe_bench" || exit 1
lab_tests test_cuda_moe
for i in 1 2; do for s in A B; do lab_moe_bench $s $i; done; done
lab_models qwen8
for i in 1 2; do for s in A B; do lab_bench $s qwen8 16 edge; lab_bench $s qwen8 16 stable; done; done
echo "total $(lab_elapsed) s"
