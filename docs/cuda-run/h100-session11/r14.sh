#!/usr/bin/env bash
# run 14: ncu of the 64-token approx path's qxi_kernel (swiglu and combine)
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
grep -E "exit" $OUT/check/summary.md | tail -2
timeout 400 ncu --kernel-name regex:"qxi_kernel<1|combine_finish" --launch-count 12 --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis \
  build-gpu/zf_cuda_moe_bench --tokens 64 > $OUT/ncu-qxi-combine.txt 2>&1
grep -E "^  [a-zA-Z_].*\(|Duration|DRAM Throughput|Achieved Occupancy|Grid Size|No Eligible|Warp Cycles Per Issued" $OUT/ncu-qxi-combine.txt | cut -c1-120 | tail -80
