#!/usr/bin/env bash
# ncu of the int8 MoE kernels vs the exact pair kernel, one token; and --layers 1
set -u
export ZF_COMMIT=${ZF_COMMIT:-lab}
STEPS="build" bash scripts/gpu-check.sh $OUT/b > $OUT/build.log 2>&1
B=$PWD/build-gpu
grep -E "\| build" $OUT/b/summary.md
$B/tests/cuda/test_cuda_moe 2>&1 | tail -1
$B/zf_cuda_moe_bench --tokens 1 2>&1 | grep -E "\| (gather|moe block)"
$B/zf_cuda_moe_bench --tokens 1 --layers 1 2>&1 | grep -E "\| (gather|moe block)" > $OUT/layers1.txt
cat $OUT/layers1.txt
N=$OUT/ncu.txt
for kn in qi8_swiglu_kernel qi8_combine_kernel; do
  echo "==== $kn" >> $N
  timeout 120 ncu --clock-control none --kernel-name regex:$kn --launch-skip 40 --launch-count 1 \
    --section SpeedOfLight --section SchedulerStats --section WarpStateStats --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
    --metrics smsp__inst_executed.sum,dram__bytes_read.sum,smsp__average_warp_latency_issue_stalled_barrier,smsp__average_warp_latency_issue_stalled_long_scoreboard \
    $B/zf_cuda_moe_bench --tokens 1 > $N.tmp 2>&1; echo "ncu $kn rc=$?"
  grep -v "^| " $N.tmp | grep -vi "copy bandwidth\|^device" >> $N
done
grep -E "^====|Duration|DRAM Throughput|Executed Ipc A|Issued Warp Per|Active Warps Per|Registers Per|inst_executed|dram__bytes|Stall|No Eligible|Achieved Occ|Block Limit|Waves|Shared Memory Config|Dynamic Shared|stalled" $N | cut -c1-120
