#!/usr/bin/env bash
# run 3: bulk kernels' lab switches (carveout, ordered issue) against the old kernels (ZF_QB_OFF) in one binary
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
tail -4 $OUT/check/summary.md
B=build-gpu
ZF_QB_ORDER=1 ZF_QB_CARVE=1 $B/tests/cuda/test_cuda_moe 2>&1 | tail -2
for r in 1 2; do
 for v in "ZF_QB_OFF=1" "ZF_QB_X=0" "ZF_QB_CARVE=1" "ZF_QB_ORDER=1" "ZF_QB_ORDER=1 ZF_QB_CARVE=1"; do
  echo "== $v ($r)"; env $v $B/zf_cuda_moe_bench --tokens 1 | grep -E "approx" 
 done
done
