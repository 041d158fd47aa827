#!/usr/bin/env bash
# Session 10 call 1: grid-floor lab; gpu-ab.sh A/A (A = HEAD tarball, B = working tree = HEAD); test_cuda_moe.
set -u
R=$PWD
ROOT=$R; . scripts/gpu-env.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $OUT/gpu.txt
nvcc -std=c++17 -arch=sm_90a -o /tmp/floor .lab3/floor.cu && /tmp/floor 2>&1 | tee $OUT/floor.txt
export ZF_COMMIT=8530091
t0=$SECONDS
ZF_AB_GREP="approx|exact|moe_route|===" bash scripts/gpu-ab.sh .lab3/A.tar $OUT/ab 2 bash -c './zf_cuda_moe_bench --tokens 1; ./zf_cuda_moe_bench --tokens 64'
echo "gpu-ab rc=$? in $((SECONDS - t0)) s" | tee -a $OUT/ab/ab.txt
tail -3 $OUT/ab/b-build.log
STEPS="moe" bash scripts/gpu-check.sh $OUT/c > /dev/null 2>&1
grep -E "^=== .*exit|checks|FAIL|ERROR SUMMARY" $OUT/c/logs.txt | head -20
