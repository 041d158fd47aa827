#!/usr/bin/env bash
# run 2: the bulk-copy kernels: tests, memcheck, bench; then A/B against f317402 at one token
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build test moe sanitizer" bash scripts/gpu-check.sh $OUT/check
cat $OUT/check/summary.md | head -20
grep -E "FAIL|fail" $OUT/check/logs.txt | head -30
if grep -q "test_cuda_moe | exit 0" $OUT/check/summary.md; then
  ZF_AB_GREP='moe block|gather_qmm|moe_route' bash scripts/gpu-ab.sh .lab4/A.tar $OUT/ab 2 ./zf_cuda_moe_bench --tokens 1
  cat $OUT/ab/ab.txt
fi
