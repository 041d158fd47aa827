#!/usr/bin/env bash
# Session 8, call 9: A/B of 8-token chunks (one n-tile) in the int8 tensor-core kernel (A = committed 33e5bbe plugin, B = working tree), tests on B, ncu of B's qxi kernels.
set -u
R=$PWD
export CMAKE_PREFIX_PATH=$R/.gpudeps/usr LD_LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export PKG_CONFIG_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu/pkgconfig CPATH=$R/.gpudeps/usr/include LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export ZF_COMMIT=${ZF_COMMIT:-lab}

rm -rf /tmp/v && mkdir -p /tmp/v && tar -xf $R/.lab2/A.tar -C /tmp/v
(cd /tmp/v && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && nice cmake --build build -j 6 --target zfast_cuda > $OUT/a-build.log 2>&1; echo "A build exit $?" >> $OUT/a-build.log) &
STEPS="build moe" bash scripts/gpu-check.sh $OUT/c > /dev/null 2>&1
wait; tail -1 $OUT/a-build.log
grep -E "^=== .*exit" $OUT/c/logs.txt
grep -E "FAIL|checks|ERROR SUMMARY" $OUT/c/logs.txt | head -20
B=$R/build-gpu
for i in 1 2; do for L in A B; do
  P=$([ $L = A ] && echo /tmp/v/build/libzfast_cuda.so || echo $B/libzfast_cuda.so)
  echo "== $L $i"; ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens 64 2>&1 | grep -E "approx"
  ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens 16 2>&1 | grep -E "approx"
done; done 2>&1 | tee $OUT/ab.txt
