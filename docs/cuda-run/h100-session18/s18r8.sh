#!/usr/bin/env bash
# session 18 run 8: the int8 decode kernels' index arithmetic without divisions where the divisor is a power of two
# (qi8_divmod), the swiglu's pair index in 32 bits (was two 64-bit divisions), G as a shift, x copies row by row.
# Same arithmetic on the data: tests unchanged. A = HEAD (.lab7/A.tar), B = the tree.
export ZF_COMMIT=s18r8
. scripts/gpu-lab.sh
lab_build .lab7/A.tar "zf zfast_cuda zf_cuda_moe_bench test_cuda_moe test_cuda_model test_cuda" "zf zfast_cuda zf_cuda_moe_bench"
lab_tests test_cuda_moe test_cuda_model test_cuda
ZF_TEST_QUICK=1 timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 $LAB_B/tests/cuda/test_cuda_moe > $OUT/memcheck-moe.txt 2>&1
echo "memcheck moe rc=$? $(lab_elapsed) s"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-moe.txt | tail -2
for i in 1 2 3; do for side in A B; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b
  (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens 1 > $OUT/moe-$side-$i.txt 2>&1); echo "moe $side $i rc=$?"; grep -E "\| 1 \| " $OUT/moe-$side-$i.txt | grep approx
done; done
for side in A B; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b
  (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens 4 > $OUT/moe4-$side.txt 2>&1); echo "moe4 $side rc=$?"; grep -E "\| 4 \| " $OUT/moe4-$side.txt | grep approx
done
lab_models qwen8
for i in 1 2; do lab_bench A qwen8 16 edge; lab_bench B qwen8 16 edge; done
echo "total $(lab_elapsed) s"
