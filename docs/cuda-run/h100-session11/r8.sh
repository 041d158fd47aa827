#!/usr/bin/env bash
# run 8: the cooperative moe_experts kernel: tests, memcheck, bench (twice)
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build test moe sanitizer" bash scripts/gpu-check.sh $OUT/check
grep -E "exit|checks" $OUT/check/summary.md | head -20
grep -E "FAIL|fail" $OUT/check/logs.txt | head -30
build-gpu/zf_cuda_moe_bench --tokens 1 > $OUT/bench2.txt 2>&1
grep -E "approx|exact" $OUT/check/summary.md | grep "| 1 |"
grep -E "approx|exact" $OUT/bench2.txt
