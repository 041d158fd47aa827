#!/usr/bin/env bash
# session 20 run 4: run 3's one-cooperative-kernel moe_experts took the one-token block from 17.44 to 23.35 us
# with 256 threads (8 warps an SM). Here the same kernel with 256, 512 and 1024 threads a CTA (lab setting
# ZF_QX1_T), the tests (5 one-token shapes now with valid group sizes), and ncu sections of the kernel. carry [".gpudeps"].
export ZF_COMMIT=${ZF_COMMIT:-5e9a509}+experts1-t
. scripts/gpu-lab.sh
lab_build_b "zf_cuda_moe_bench test_cuda_moe" || exit 1
lab_tests test_cuda_moe
cd $LAB_B
for i in 1 2; do for T in 256 512 1024; do
  ZF_QX1_T=$T timeout 60 ./zf_cuda_moe_bench --tokens 1 > $OUT/moe-T$T-$i.txt 2>&1
  echo "moe T=$T $i: $(grep -E '\| approx \| 1 \|' $OUT/moe-T$T-$i.txt | awk -F'|' '{printf "%s %s;", $2, $7}')"
done; done
for T in 512; do
  ZF_QX1_T=$T timeout 120 ncu --kernel-name regex:qx1 --launch-count 2 --section SpeedOfLight --section WarpStateStats \
    --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis ./zf_cuda_moe_bench --tokens 1 > $OUT/ncu-T$T.txt 2>&1
  echo "ncu T=$T rc=$?"; grep -E "Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Stall|Warp Cycles Per Issued" $OUT/ncu-T$T.txt | head -24
done
cd $ROOT; mkdir -p $OUT/r4 && mv $OUT/moe-*.txt $OUT/ncu-*.txt $OUT/r4/ && tar -czf $OUT/r4.tgz -C $OUT r4 && rm -rf $OUT/r4
echo "total $(lab_elapsed) s"
