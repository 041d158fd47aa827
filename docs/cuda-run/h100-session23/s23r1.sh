#!/usr/bin/env bash
# session 23 run 1: carry [".gpudeps", ".lab"] (.lab/A.tar = `git archive 1c5ba14`). B = the working tree:
# zf_moe_route_experts (router + experts in one call; at one token the swiglu's and the combine's decode
# kernels rank the logits themselves, no router kernel). test_cuda_moe on B, then the one-token MoE bench
# A/B alternated twice (B's rows include the route + moe_experts block and the new one in one process), then
# the 8-layer Qwen3-shape decode (qwen_moe models call moe_route_experts in B) A/B alternated twice.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build .lab/A.tar "zf zfast_cuda test_cuda_moe zf_cuda_moe_bench" "zf zfast_cuda zf_cuda_moe_bench" || exit 1
lab_tests test_cuda_moe
for i in 1 2; do for s in A B; do lab_moe_bench $s $i; done; done
lab_models qwen8
for i in 1 2; do for s in A B; do lab_bench $s qwen8 16 edge; lab_bench $s qwen8 16 stable; done; done
echo "total $(lab_elapsed) s"
