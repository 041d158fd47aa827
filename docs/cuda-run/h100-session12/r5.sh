#!/usr/bin/env bash
# session 12 run 5: + the combine with 4 stage buffers (3 in flight). A/B (A = 67f6b0a, the commit before; B = the tree that became 8fe1c4d) at 16/64 tokens, tests + memcheck on B
ROOT=$PWD; . scripts/gpu-env.sh
ZF_AB_GREP='\| (16|64) \|' bash scripts/gpu-ab.sh .lab4/A.tar $OUT/ab 2 bash -c './zf_cuda_moe_bench --tokens 16; ./zf_cuda_moe_bench --tokens 64'
grep -E "==|approx" $OUT/ab/ab.txt | grep -E "==|block \(router \+ both|gather"
B=$ROOT/build-gpu
$B/tests/cuda/test_cuda_moe > $OUT/test_cuda_moe.txt 2>&1; echo "test_cuda_moe rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_moe.txt | head
ZF_TEST_QUICK=1 timeout 300 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 $B/tests/cuda/test_cuda_moe > $OUT/memcheck_moe.txt 2>&1; echo "memcheck_moe rc=$?"; grep -E "checks|ERROR SUMMARY" $OUT/memcheck_moe.txt | tail -2
