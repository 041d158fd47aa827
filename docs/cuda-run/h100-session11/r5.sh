#!/usr/bin/env bash
# run 5: x copied first by the bulk engine; ordered issue switch; against the old kernels (ZF_QB_OFF)
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
tail -3 $OUT/check/summary.md
B=build-gpu
$B/tests/cuda/test_cuda_moe 2>&1 | tail -1
ZF_QB_ORDER=1 $B/tests/cuda/test_cuda_moe 2>&1 | tail -1
for r in 1 2; do
 for v in "ZF_QB_OFF=1" "ZF_QB_X=0" "ZF_QB_ORDER=1"; do
  echo "== $v ($r)"; env $v $B/zf_cuda_moe_bench --tokens 1 | grep -E "approx"
 done
done
