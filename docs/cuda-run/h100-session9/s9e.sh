#!/usr/bin/env bash
# Session 9, call 6: rows per warp of the int8 decode kernels (fewer, larger CTAs). B = HEAD (RPW 2, CRPW 1);
# lab tree L (int8 combine from one token, QI8_SMEM_MAX 200 KB) rebuilt per variant "RPW CTAS CRPW CBOUND".
set -u
R=$PWD
export CMAKE_PREFIX_PATH=$R/.gpudeps/usr LD_LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export PKG_CONFIG_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu/pkgconfig CPATH=$R/.gpudeps/usr/include LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export ZF_COMMIT=${ZF_COMMIT:-lab}
rm -rf /tmp/l /tmp/p && mkdir -p /tmp/l /tmp/p
tar -cf - --exclude=./build-gpu --exclude=./models --exclude=./.lab2 --exclude=./build --exclude=./build-prof . | tar -xf - -C /tmp/l
sed -i 's/#define ZF_CU_QI8_COMBINE_MIN_M 4/#define ZF_CU_QI8_COMBINE_MIN_M 1/' /tmp/l/src/cuda/qmm.cuh
cp /tmp/l/src/cuda/qdecode_i8.cu /tmp/p/base.cu
(cd /tmp/l && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && nice cmake --build build -j 8 --target zfast_cuda > $OUT/l-build.log 2>&1; echo "L build exit $?" >> $OUT/l-build.log) &
STEPS="build" bash scripts/gpu-check.sh $OUT/c > /dev/null 2>&1
wait; tail -n1 $OUT/l-build.log; grep -E "^=== .*exit" $OUT/c/logs.txt
for v in "2 5 1 3" "4 2 1 3" "6 1 1 3" "2 5 2 2" "2 5 4 1"; do set -- $v; n=w$1c$3
  sed -e "s/#define QI8_RPW 2 /#define QI8_RPW $1 /" -e "s/#define QI8_SW_CTAS 5/#define QI8_SW_CTAS $2/" -e "s/#define QI8_CRPW 1 /#define QI8_CRPW $3 /" \
      -e "s/__launch_bounds__(QI8_THREADS, 3) qi8_combine/__launch_bounds__(QI8_THREADS, $4) qi8_combine/" \
      -e "s/#define QI8_SMEM_MAX (100 \* 1024)/#define QI8_SMEM_MAX (200 * 1024)/" /tmp/p/base.cu > /tmp/l/src/cuda/qdecode_i8.cu
  (cd /tmp/l && cmake --build build -j 8 --target zfast_cuda > $OUT/v-$n.log 2>&1) && cp /tmp/l/build/libzfast_cuda.so /tmp/p/$n.so
  echo "$n: $(ZF_TEST_QUICK=1 ZF_CUDA_LIB=/tmp/p/$n.so $R/build-gpu/tests/cuda/test_cuda_moe 2>&1 | tail -1)"
done
B=$R/build-gpu
{
for i in 1 2; do for P in $B/libzfast_cuda.so /tmp/p/*.so; do
  echo "== $P $i"; ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens 1 2>&1 | grep -E "approx"
  ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens 4 2>&1 | grep -E "approx"
done; done
} 2>&1 | tee $OUT/ab.txt
