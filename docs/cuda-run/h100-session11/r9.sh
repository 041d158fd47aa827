#!/usr/bin/env bash
# run 9: where the cooperative kernel's time goes (lab bits: 1 no x stage, 2 no swiglu dots, 4 no act stage, 8 no combine dots, 16 no grid sync)
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
tail -3 $OUT/check/summary.md
for r in 1 2; do
for v in 0 1 2 4 8 16 3 12 15 31; do
  echo "== lab $v"; ZF_QB_LAB=$v build-gpu/zf_cuda_moe_bench --tokens 1 | grep -E "router \+ moe_experts\) \| approx"
done
done
