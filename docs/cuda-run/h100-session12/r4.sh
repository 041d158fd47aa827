#!/usr/bin/env bash
# session 12 run 4: qxi_kernel's scales/biases by cp.async into stage buffer 2 (converted after stage 0's wait)
# A/B (A = HEAD) at 16 and 64 tokens first (builds both), then test_cuda_moe + its memcheck on B
ROOT=$PWD; . scripts/gpu-env.sh
ZF_AB_GREP='\| (16|64) \|' bash scripts/gpu-ab.sh .lab4/A.tar $OUT/ab 2 bash -c './zf_cuda_moe_bench --tokens 16; ./zf_cuda_moe_bench --tokens 64'
grep -E "==|approx|exact" $OUT/ab/ab.txt | grep -E "==|block \(router \+ both|gather"
B=$ROOT/build-gpu
$B/tests/cuda/test_cuda_moe > $OUT/test_cuda_moe.txt 2>&1; echo "test_cuda_moe rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_moe.txt | head
ZF_TEST_QUICK=1 timeout 300 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 $B/tests/cuda/test_cuda_moe > $OUT/memcheck_moe.txt 2>&1; echo "memcheck_moe rc=$?"; grep -E "checks|ERROR SUMMARY" $OUT/memcheck_moe.txt | tail -2
