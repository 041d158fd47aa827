#!/usr/bin/env bash
# session 20 run 7 (lab patch prepared/experts1-i8.patch): the one-kernel moe_experts with the int8 combine after
# the grid barrier (and ZF_CU_QI8_COMBINE_MIN_M = 1, so the two calls it must match run the int8 combine at one
# token too), down's copies issued once gate/up's first half has landed, 512 threads. B alone (run 6 measured the
# chain on this tree: router + moe_experts 17.51 us). carry [".gpudeps"].
export ZF_COMMIT=${ZF_COMMIT:-5e9a509}+experts1-i8
. scripts/gpu-lab.sh
lab_build_b "zf_cuda_moe_bench test_cuda_moe" || exit 1
lab_tests test_cuda_moe
cd $LAB_B
for i in 1 2; do for t in 1 4; do [ $t = 4 ] && [ $i = 2 ] && continue
  timeout 60 ./zf_cuda_moe_bench --tokens $t > $OUT/moe-t$t-$i.txt 2>&1
  echo "moe t=$t $i: $(grep -E '\| approx \| '$t' \|' $OUT/moe-t$t-$i.txt | awk -F'|' '{printf "%s %s;", $2, $7}')"
done; done
echo "total $(lab_elapsed) s"
