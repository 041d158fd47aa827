#!/usr/bin/env bash
# Session 9, call 4: the int8 swiglu decode kernel at 5 CTAs per SM (launch bounds, 47 registers; B = working tree)
# vs without the bound (64 registers, 4 per SM; L = B with it removed); tests on B.
set -u
R=$PWD
export CMAKE_PREFIX_PATH=$R/.gpudeps/usr LD_LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export PKG_CONFIG_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu/pkgconfig CPATH=$R/.gpudeps/usr/include LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export ZF_COMMIT=${ZF_COMMIT:-lab}
rm -rf /tmp/l && mkdir -p /tmp/l
tar -cf - --exclude=./build-gpu --exclude=./models --exclude=./.lab2 --exclude=./build --exclude=./build-prof . | tar -xf - -C /tmp/l
sed -i 's/__launch_bounds__(QI8_THREADS, 5) qi8_swiglu_kernel/__launch_bounds__(QI8_THREADS) qi8_swiglu_kernel/' /tmp/l/src/cuda/qdecode_i8.cu; grep -c "(QI8_THREADS) qi8_swiglu" /tmp/l/src/cuda/qdecode_i8.cu
(cd /tmp/l && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && nice cmake --build build -j 6 --target zfast_cuda > $OUT/l-build.log 2>&1; echo "L build exit $?" >> $OUT/l-build.log) &
STEPS="build moe" bash scripts/gpu-check.sh $OUT/c > /dev/null 2>&1
wait; tail -n1 $OUT/l-build.log
grep -E "^=== .*exit" $OUT/c/logs.txt
grep -E "FAIL|checks|ERROR SUMMARY" $OUT/c/logs.txt | head -20
cp $OUT/c/logs.txt $OUT/check-logs.txt; cp $OUT/c/moe_bench.jsonl $OUT/moe_bench.jsonl
grep -A40 "^| what" $OUT/c/logs.txt | head -45 > $OUT/moe_bench.txt
B=$R/build-gpu; L=/tmp/l/build/libzfast_cuda.so
{
for i in 1 2; do for P in $L $B/libzfast_cuda.so; do
  echo "== $P $i"; ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens 1 2>&1 | grep -E "gather_qmm_swiglu.*approx|block.*approx"
  ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens 4 2>&1 | grep -E "gather_qmm_swiglu.*approx|block.*approx"
done; done
} 2>&1 | tee $OUT/ab.txt
