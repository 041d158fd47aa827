#!/usr/bin/env bash
# session 18 run 9 (right after run 8, same machine: A's build in /tmp/zfA/b kept): B's x copies stepped over all
# threads again (run 8's row-at-a-time copies left 160 of 256 threads idle at k = 768 and slowed the 4-token combine).
export ZF_COMMIT=s18r9
. scripts/gpu-lab.sh
t0=$(date +%s)
cmake --build $LAB_B -j 16 --target zfast_cuda test_cuda_moe zf_cuda_moe_bench test_cuda > $OUT/build.log 2>&1; echo "build rc=$? $(( $(date +%s) - t0 )) s"
lab_tests test_cuda_moe test_cuda
for i in 1 2; do for side in A B; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b
  for m in 1 4; do (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens $m > $OUT/moe$m-$side-$i.txt 2>&1); echo "moe $m $side $i rc=$?"; grep -E "\| $m \| " $OUT/moe$m-$side-$i.txt | grep approx; done
done; done
echo "total $(( $(date +%s) - t0 )) s"
