#!/usr/bin/env bash
# run 6: which bulk kernel makes the block slow
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
tail -3 $OUT/check/summary.md
B=build-gpu
for r in 1 2; do
 for v in "ZF_QB_OFF=1" "ZF_QB_ORDER=1" "ZF_QB_ORDER=1 ZF_QB_NOSW=1" "ZF_QB_ORDER=1 ZF_QB_NOC=1"; do
  echo "== $v ($r)"; env $v $B/zf_cuda_moe_bench --tokens 1 | grep -E "approx"
 done
done
