#!/usr/bin/env bash
# Session 10 call 6: HEAD kernels + the unaligned-x test cases: test_cuda_moe and its memcheck.
set -u
R=$PWD
ROOT=$R; . scripts/gpu-env.sh
B=$R/build-gpu
(cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && cmake --build $B -j 16 --target zfast_cuda test_cuda_moe) > $OUT/build.log 2>&1 || { tail -30 $OUT/build.log; exit 1; }
$B/tests/cuda/test_cuda_moe 2>&1 | tail -3
ZF_TEST_QUICK=1 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 $B/tests/cuda/test_cuda_moe 2>&1 | tail -2
