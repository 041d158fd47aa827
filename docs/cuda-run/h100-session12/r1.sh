#!/usr/bin/env bash
# session 12 run 1: qxi_mma reads S through a magic constant (no I2F): tests, memcheck; A/B (A = HEAD) at 16 and 64 tokens
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build test moe sanitizer" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
grep -E "exit" $OUT/check/summary.md
grep -E "checks, " $OUT/check/logs.txt
if grep -q "test_cuda_moe | exit 0" $OUT/check/summary.md; then
  ZF_AB_GREP='\| (16|64) \|' bash scripts/gpu-ab.sh .lab4/A.tar $OUT/ab 2 bash -c './zf_cuda_moe_bench --tokens 16; ./zf_cuda_moe_bench --tokens 64'
  grep -E "==|approx|exact" $OUT/ab/ab.txt | grep -E "==|block|gather"
fi
