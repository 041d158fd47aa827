#!/usr/bin/env bash
# run 12: the tree after the qweight.h fix: tests (moe, model), memcheck; then ncu of the 64-token approx path
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build test moe sanitizer" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
grep -E "exit" $OUT/check/summary.md
grep -E "checks, " $OUT/check/logs.txt
timeout 300 build-gpu/tests/cuda/test_cuda_model > $OUT/test_cuda_model.txt 2>&1; echo "test_cuda_model rc=$?"; tail -1 $OUT/test_cuda_model.txt
timeout 300 ncu --kernel-name regex:"qxi_|combine_finish|group_kernel" --launch-count 40 --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis \
  build-gpu/zf_cuda_moe_bench --tokens 64 > $OUT/ncu64.txt 2>&1
tail -2 $OUT/ncu64.txt
