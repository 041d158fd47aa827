#!/usr/bin/env bash
# Prepared in session 24, not yet run (the device time was spent). carry [".gpudeps", ".lab"], .lab/A.tar =
# `git archive HEAD`; B = HEAD + route-release-after-wait.patch: the router's top-k kernels (route_warp_kernel,
# route_kernel) release the next grid after their wait instead of at their start. Why (session 24, runs 5-6,
# lab-skip.patch, 8-layer Qwen3 shape, edge, H100): without the top-k kernel the decode went from 1917-1936 to
# 2292-2294 tok/s (~10 us a layer), with a one-element add in its place (an elementwise kernel, which releases
# after its wait) 2223-2264 (0.7-1.7 us a layer for that kernel), while the top-k alone takes 2.1 us a call. The
# placement of the release is the first difference between the two. Correctness cannot change (scheduling
# only); test_cuda_moe checks it anyway. The MoE bench's block (issue 4) has the same chain.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
patch -p1 < docs/cuda-run/h100-session24/prepared/route-release-after-wait.patch || exit 1
lab_build .lab/A.tar "zf zfast_cuda test_cuda_moe zf_cuda_moe_bench" "zf zfast_cuda zf_cuda_moe_bench" || exit 1
lab_tests test_cuda_moe
lab_models qwen8 smol
for i in 1 2; do for s in A B; do lab_bench $s qwen8 16 edge; lab_bench $s qwen8 16 stable; done; done
for s in A B; do lab_bench $s smol.gguf 16 stable; done
# what programmatic launch is worth at all (ZF_CUDA_PDL=0, since session 24), on A
lab_bench A qwen8 16 edge ZF_CUDA_PDL=0; lab_bench A smol.gguf 16 stable ZF_CUDA_PDL=0
lab_moe_bench A route; lab_moe_bench B route
echo "total $(lab_elapsed) s"
