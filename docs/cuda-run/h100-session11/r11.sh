#!/usr/bin/env bash
# run 11: ncu of the 64-token approx combine and swiglu (grouped int8 path)
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
tail -2 $OUT/check/summary.md
timeout 400 ncu --kernel-name regex:"qxi_|combine_finish|group_kernel" --launch-count 40 --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis \
  build-gpu/zf_cuda_moe_bench --tokens 64 > $OUT/ncu64.txt 2>&1
grep -E "^  [a-zA-Z_].*\(|Duration|DRAM Throughput|Achieved Occupancy|Grid Size|Registers Per|Dynamic Shared|Warp Cycles Per Issued|Issued Warp Per Scheduler|No Eligible|L2 Hit" $OUT/ncu64.txt | head -300
