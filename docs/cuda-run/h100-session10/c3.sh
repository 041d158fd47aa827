#!/usr/bin/env bash
# Session 10 call 3: A = HEAD (8530091) vs B = x copied before the weights in the fast-path decode kernels (qdecode.cu).
set -u
R=$PWD
ROOT=$R; . scripts/gpu-env.sh
export ZF_COMMIT=${ZF_COMMIT:-lab}
t0=$SECONDS
ZF_AB_GREP="approx|exact|===" bash scripts/gpu-ab.sh .lab3/A.tar $OUT/ab 2 bash -c './zf_cuda_moe_bench --tokens 1; ./zf_cuda_moe_bench --tokens 4'
echo "gpu-ab rc=$? in $((SECONDS - t0)) s"
grep -E "error" $OUT/ab/b-build.log | head
STEPS="moe" bash scripts/gpu-check.sh $OUT/c > /dev/null 2>&1
grep -E "^=== .*exit|checks|FAIL|ERROR SUMMARY" $OUT/c/logs.txt | head -20
