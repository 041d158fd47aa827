#!/usr/bin/env bash
# run 4: ncu of the bulk kernels at one token (and the old ones for reference)
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
tail -3 $OUT/check/summary.md
B=build-gpu
timeout 300 ncu --kernel-name regex:"qb_|qi8_|qd_combine" --launch-count 60 --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
  $B/zf_cuda_moe_bench --tokens 1 > $OUT/ncu.txt 2>&1
grep -E "qb_|qi8_|qd_comb|Duration|Grid Size|Dynamic Shared|Memory Throughput|DRAM Throughput|Achieved Occupancy|Stall|Waves" $OUT/ncu.txt | head -150
