#!/usr/bin/env bash
# Session 9, call 3: int8 decode kernels: x, scales, weights in two halves by cp.async (B = working tree) vs HEAD (A);
# lab plugin L = B with the int8 combine from one token.
set -u
R=$PWD
export CMAKE_PREFIX_PATH=$R/.gpudeps/usr LD_LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export PKG_CONFIG_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu/pkgconfig CPATH=$R/.gpudeps/usr/include LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export ZF_COMMIT=${ZF_COMMIT:-lab}
rm -rf /tmp/v /tmp/l && mkdir -p /tmp/v /tmp/l && tar -xf $R/.lab2/A.tar -C /tmp/v
tar -cf - --exclude=./build-gpu --exclude=./models --exclude=./.lab2 --exclude=./build --exclude=./build-prof . | tar -xf - -C /tmp/l
sed -i 's/#define ZF_CU_QI8_COMBINE_MIN_M 4/#define ZF_CU_QI8_COMBINE_MIN_M 1/' /tmp/l/src/cuda/qmm.cuh; grep -c "MIN_M 1" /tmp/l/src/cuda/qmm.cuh
(cd /tmp/v && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && nice cmake --build build -j 5 --target zfast_cuda > $OUT/a-build.log 2>&1; echo "A build exit $?" >> $OUT/a-build.log) &
(cd /tmp/l && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && nice cmake --build build -j 5 --target zfast_cuda > $OUT/l-build.log 2>&1; echo "L build exit $?" >> $OUT/l-build.log) &
STEPS="build moe" bash scripts/gpu-check.sh $OUT/c > /dev/null 2>&1
wait; tail -n1 $OUT/a-build.log; tail -n1 $OUT/l-build.log
grep -E "^=== .*exit" $OUT/c/logs.txt
grep -E "FAIL|checks|ERROR SUMMARY" $OUT/c/logs.txt | head -20
cp $OUT/c/logs.txt $OUT/check-logs.txt
B=$R/build-gpu; A=/tmp/v/build/libzfast_cuda.so; L=/tmp/l/build/libzfast_cuda.so
{
for i in 1 2; do for P in $A $B/libzfast_cuda.so; do
  echo "== $P $i 16"; ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens 16 2>&1 | grep -E "approx"
  echo "== $P $i"; ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens 1 2>&1 | grep -E "moe_route|approx"
  ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens 4 2>&1 | grep -E "approx"
done; done
echo "== L, int8 combine from one token"; ZF_CUDA_LIB=$L $B/zf_cuda_moe_bench --tokens 1 2>&1 | grep -E "approx"
echo "== L layers 1"; ZF_CUDA_LIB=$L $B/zf_cuda_moe_bench --tokens 1 --layers 1 2>&1 | grep -E "approx"
echo "== B layers 1"; $B/zf_cuda_moe_bench --tokens 1 --layers 1 2>&1 | grep -E "approx"
} 2>&1 | tee $OUT/ab.txt
timeout 150 ncu --set full --import-source yes --kernel-name regex:"qi8_swiglu" --launch-skip 30 --launch-count 1 \
  -o $OUT/sw $B/zf_cuda_moe_bench --tokens 1 > $OUT/ncu-run.txt 2>&1; echo "ncu rc=$?"
ncu -i $OUT/sw.ncu-rep --page source --csv --print-source sass > $OUT/ncu-src.csv 2>&1
ncu -i $OUT/sw.ncu-rep --page details > $OUT/ncu-details.txt 2>&1
grep -hE "^  [a-z_]+.*\(|Duration|DRAM Throughput|Registers Per|Achieved Occupancy|Issued Warp|Warp Cycles Per Issued|No Eligible|Theoretical Occ|Waves Per SM" $OUT/ncu-details.txt | cut -c1-150 | head -20
rm -f $OUT/sw.ncu-rep
