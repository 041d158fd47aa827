#!/usr/bin/env bash
# session 13 run 3: CTAs of 4 warps (half the rows, 4 CTAs per SM) against 8; A = 71f08eb, B = the tree with the
# temporary knob ZF_QXI_W (bit 0: combine with 4 warps, bit 1: swiglu with 4 warps); then test_cuda_moe with both at 4
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=71f08eb+w4
B=$ROOT/build-gpu
ZF_AB_GREP='==|^w |approx \| (16|64) \|' timeout 400 bash scripts/gpu-ab.sh .lab5/A.tar $OUT/ab 2 bash -c \
  'ws="0 1 2 3"; case $ZF_CUDA_LIB in *zf-ab-base*) ws=0;; esac; for w in $ws; do echo "w $w"; ZF_QXI_W=$w ./zf_cuda_moe_bench --tokens 64; ZF_QXI_W=$w ./zf_cuda_moe_bench --tokens 16; done' > /dev/null 2>&1
echo "ab rc=$?"; grep -E "==|^w |swiglu|combine|both" $OUT/ab/ab.txt | grep -v experts
ZF_QXI_W=3 timeout 60 $B/tests/cuda/test_cuda_moe > $OUT/test_cuda_moe_w4.txt 2>&1; echo "test_cuda_moe (4 warps) rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_moe_w4.txt | head
ZF_QXI_W=3 ZF_TEST_QUICK=1 timeout 120 compute-sanitizer --tool memcheck --error-exitcode 3 $B/tests/cuda/test_cuda_moe > $OUT/memcheck_moe_w4.txt 2>&1; echo "memcheck_moe (4 warps) rc=$?"; grep -E "checks|ERROR SUMMARY" $OUT/memcheck_moe_w4.txt | tail -2
