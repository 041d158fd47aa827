#!/usr/bin/env bash
# session 13 run 1: the streamed (persistent) int8 many-token kernel, A = 882442d, B = the tree (with lab knobs):
# ZF_QXI_CPS = CTAs per SM the grid targets (0: one CTA per (expert, row tile) as before), ZF_QXI_ST3 = swiglu with 3 buffers
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=882442d+s13
B=$ROOT/build-gpu
ZF_AB_GREP='==|^cps|approx \| (16|64) \|' bash scripts/gpu-ab.sh .lab5/A.tar $OUT/ab 2 bash -c \
  'for c in 2 0 1 3; do echo "cps $c"; ZF_QXI_CPS=$c ./zf_cuda_moe_bench --tokens 64; ZF_QXI_CPS=$c ./zf_cuda_moe_bench --tokens 16; done; echo "cps st3"; ZF_QXI_ST3=1 ./zf_cuda_moe_bench --tokens 64' > /dev/null 2>&1
grep -E "==|^cps|gather|block \(router \+ both" $OUT/ab/ab.txt | head -120
tail -3 $OUT/ab/b-build.log
$B/tests/cuda/test_cuda_moe > $OUT/test_cuda_moe.txt 2>&1; echo "test_cuda_moe rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_moe.txt | head
ZF_TEST_QUICK=1 timeout 300 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 $B/tests/cuda/test_cuda_moe > $OUT/memcheck_moe.txt 2>&1; echo "memcheck_moe rc=$?"; grep -E "checks|ERROR SUMMARY" $OUT/memcheck_moe.txt | tail -2
