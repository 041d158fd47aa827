#!/usr/bin/env bash
# session 13 run 4: the final tree (CTAs of 4 warps, 4 per SM) against 71f08eb (8 warps),
# then test_cuda_moe, test_cuda_model and the memcheck of test_cuda_moe (quick)
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=71f08eb+w4-final
B=$ROOT/build-gpu
ZF_AB_GREP='==|approx \| (16|64) \|' timeout 320 bash scripts/gpu-ab.sh .lab5/A.tar $OUT/ab 2 bash -c './zf_cuda_moe_bench --tokens 64; ./zf_cuda_moe_bench --tokens 16' > /dev/null 2>&1
echo "ab rc=$?"; cat $OUT/ab/ab.txt | grep -E "==|swiglu|combine|both"
timeout 60 $B/tests/cuda/test_cuda_moe > $OUT/test_cuda_moe.txt 2>&1; echo "test_cuda_moe rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_moe.txt | head
timeout 45 $B/tests/cuda/test_cuda_model > $OUT/test_cuda_model.txt 2>&1; echo "test_cuda_model rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_model.txt | head
ZF_TEST_QUICK=1 timeout 150 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 $B/tests/cuda/test_cuda_moe > $OUT/memcheck_moe.txt 2>&1; echo "memcheck_moe rc=$?"; grep -E "checks|ERROR SUMMARY" $OUT/memcheck_moe.txt | tail -2
