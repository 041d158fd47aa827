#!/usr/bin/env bash
# session 20 run 5 (lab): where run 4's one-kernel moe_experts spends its ~18 us. The lab setting ZF_QX1_LAB
# stops it early: 1 after the grid sync (no combine math), 2 after its copies have landed (+ the sync, no
# swiglu math), 3 the copies alone (no sync). Timed as the MoE bench's "router + moe_experts" (approx, 1 token;
# results wrong under the setting). 512 threads. Also nsys-free: the kernel alone under ncu per setting. carry [".gpudeps"].
export ZF_COMMIT=${ZF_COMMIT:-5e9a509}+experts1-lab
. scripts/gpu-lab.sh
lab_build_b "zf_cuda_moe_bench" || exit 1
cd $LAB_B
for i in 1 2; do for L in 0 1 2 3; do
  ZF_QX1_LAB=$L timeout 60 ./zf_cuda_moe_bench --tokens 1 > $OUT/moe-L$L-$i.txt 2>&1
  echo "moe lab=$L $i: $(grep -E 'moe_experts\) \| approx \| 1 \||moe_route' $OUT/moe-L$L-$i.txt | awk -F'|' '{printf "%s %s;", $2, $7}')"
done; done
for L in 0 1 2 3; do
  ZF_QX1_LAB=$L timeout 60 ncu --kernel-name regex:qx1 --launch-count 3 --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed ./zf_cuda_moe_bench --tokens 1 > $OUT/ncu-L$L.txt 2>&1
  echo "ncu lab=$L: $(grep -E 'gpu__time_duration|dram__bytes_read|dram__throughput' $OUT/ncu-L$L.txt | awk '{printf "%s %s %s; ", $1, $2, $3}')"
done
cd $ROOT; mkdir -p $OUT/r5 && mv $OUT/moe-*.txt $OUT/ncu-*.txt $OUT/r5/ && tar -czf $OUT/r5.tgz -C $OUT r5 && rm -rf $OUT/r5
echo "total $(lab_elapsed) s"
