#!/usr/bin/env bash
# session 18 run 10: the committed form of runs 8-9 (the x copies' row and column stepped by a precomputed quotient
# instead of a loop; the swiglu's fits bound m slots < 2^30). A = HEAD (.lab7/A.tar), B = the tree.
export ZF_COMMIT=s18r10
. scripts/gpu-lab.sh
lab_build .lab7/A.tar "zfast_cuda zf_cuda_moe_bench test_cuda_moe test_cuda_model test_cuda" "zfast_cuda zf_cuda_moe_bench"
lab_tests test_cuda_moe test_cuda_model test_cuda
ZF_TEST_QUICK=1 timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 $LAB_B/tests/cuda/test_cuda_moe > $OUT/memcheck-moe.txt 2>&1
echo "memcheck moe rc=$? $(lab_elapsed) s"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-moe.txt | tail -2
for i in 1 2; do for side in A B; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b
  for m in 1 4; do (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens $m > $OUT/moe$m-$side-$i.txt 2>&1); echo "moe $m $side $i rc=$?"; grep -E "\| $m \| " $OUT/moe$m-$side-$i.txt | grep approx; done
done; done
echo "total $(lab_elapsed) s"
