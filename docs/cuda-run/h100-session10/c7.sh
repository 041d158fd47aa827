#!/usr/bin/env bash
# Session 10 call 7: A = 8530091 + early-combine.patch (LAB: swiglu kernels release the next grid after their
# PDL wait; the one-token combine loads ids/scales and starts its weight copies before its wait, 112 registers
# so one CTA fits beside 3 swiglu CTAs), B = HEAD (8530091's kernels). One token, alternated 3x; the lab
# plugin's test_cuda_moe run.
set -u
R=$PWD
ROOT=$R; . scripts/gpu-env.sh
export ZF_COMMIT=${ZF_COMMIT:-lab}
t0=$SECONDS
ZF_AB_PATCH=$R/.lab3/early-combine.patch ZF_AB_GREP="approx|exact|===" bash scripts/gpu-ab.sh .lab3/A.tar $OUT/ab 3 ./zf_cuda_moe_bench --tokens 1
echo "gpu-ab rc=$? in $((SECONDS - t0)) s"
cat $OUT/ab/a-patch.log 2>/dev/null | head -5
ZF_CUDA_LIB=/tmp/zf-ab-base/build/libzfast_cuda.so $R/build-gpu/tests/cuda/test_cuda_moe 2>&1 | tail -1
