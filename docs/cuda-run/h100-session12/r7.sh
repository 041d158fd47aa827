#!/usr/bin/env bash
# session 12 run 7: B = combine_finish loads 8 slots before summing (run7-combine-finish.patch) + qxi_mma's magic-constant read-out (not kept).
# A/B 1: A = 3f36f79 (2 rounds); A/B 2: A = 3f36f79 + the combine_finish change only (1 round); tests on both plugins
ROOT=$PWD; . scripts/gpu-env.sh
ZF_AB_GREP='\| (16|64) \|' bash scripts/gpu-ab.sh .lab4/A.tar $OUT/ab1 2 bash -c './zf_cuda_moe_bench --tokens 16; ./zf_cuda_moe_bench --tokens 64'
grep -E "==|approx|exact" $OUT/ab1/ab.txt | grep -E "==|block \(router \+ both|combine"
ZF_AB_DIR=/tmp/zf-ab-fin ZF_AB_PATCH=$ROOT/.lab4/finish.patch ZF_AB_GREP='\| (16|64) \|' bash scripts/gpu-ab.sh .lab4/A.tar $OUT/ab2 1 bash -c './zf_cuda_moe_bench --tokens 16; ./zf_cuda_moe_bench --tokens 64'
grep -E "==|approx|exact" $OUT/ab2/ab.txt | grep -E "==|block \(router \+ both|gather"
B=$ROOT/build-gpu
$B/tests/cuda/test_cuda_moe > $OUT/test_moe_B.txt 2>&1; echo "test_cuda_moe B rc=$?"; grep -E "checks|FAIL" $OUT/test_moe_B.txt | head -5
ZF_CUDA_LIB=/tmp/zf-ab-fin/build/libzfast_cuda.so $B/tests/cuda/test_cuda_moe > $OUT/test_moe_fin.txt 2>&1; echo "test_cuda_moe finish-only rc=$?"; grep -E "checks|FAIL" $OUT/test_moe_fin.txt | head -5
ZF_TEST_QUICK=1 timeout 300 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 $B/tests/cuda/test_cuda_moe > $OUT/memcheck_moe.txt 2>&1; echo "memcheck_moe B rc=$?"; grep -E "checks|ERROR SUMMARY" $OUT/memcheck_moe.txt | tail -2
