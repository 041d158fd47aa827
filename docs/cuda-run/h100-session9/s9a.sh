#!/usr/bin/env bash
# Session 9, call 1: warp router (working tree B) vs HEAD (A); decomposition of the one-token int8 swiglu
# (lab plugin L = B + knobs in qdecode_i8, ZF_LAB bits: 1 no x staging, 2 no scales, 4 no weight copies,
# 8 no block loop, 16 no id load); ncu source-level of the one-token kernels.
set -u
R=$PWD
export CMAKE_PREFIX_PATH=$R/.gpudeps/usr LD_LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export PKG_CONFIG_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu/pkgconfig CPATH=$R/.gpudeps/usr/include LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export ZF_COMMIT=${ZF_COMMIT:-lab}
rm -rf /tmp/v /tmp/l && mkdir -p /tmp/v /tmp/l && tar -xf $R/.lab2/A.tar -C /tmp/v
tar -cf - --exclude=./build-gpu --exclude=./models --exclude=./.lab2 --exclude=./build --exclude=./build-prof . | tar -xf - -C /tmp/l
cp $R/.lab2/qdecode_i8-lab.cu /tmp/l/src/cuda/qdecode_i8.cu
(cd /tmp/v && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && nice cmake --build build -j 5 --target zfast_cuda > $OUT/a-build.log 2>&1; echo "A build exit $?" >> $OUT/a-build.log) &
(cd /tmp/l && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && nice cmake --build build -j 5 --target zfast_cuda > $OUT/l-build.log 2>&1; echo "L build exit $?" >> $OUT/l-build.log) &
STEPS="build moe" bash scripts/gpu-check.sh $OUT/c > /dev/null 2>&1
wait; tail -1 $OUT/a-build.log $OUT/l-build.log
grep -E "^=== .*exit" $OUT/c/logs.txt
grep -E "FAIL|checks|ERROR SUMMARY" $OUT/c/logs.txt | head -20
B=$R/build-gpu; A=/tmp/v/build/libzfast_cuda.so; L=/tmp/l/build/libzfast_cuda.so
{
for i in 1 2; do for P in $A $B/libzfast_cuda.so; do
  echo "== $P $i"; ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens 1 2>&1 | grep -E "moe_route|block|approx"
done; done
for lay in 8 1; do for k in 0 1 2 4 8 16 3 12 15 31; do
  echo "== lab $k layers $lay: $(ZF_LAB=$k ZF_CUDA_LIB=$L $B/zf_cuda_moe_bench --tokens 1 --layers $lay 2>&1 | grep -E 'gather_qmm_swiglu .*approx')"
done; done
} 2>&1 | tee $OUT/ab.txt
timeout 150 ncu --set full --import-source yes --kernel-name regex:"qi8_swiglu|qd_combine|route_warp" --launch-skip 30 --launch-count 3 \
  -o $OUT/one $B/zf_cuda_moe_bench --tokens 1 > $OUT/ncu-run.txt 2>&1; echo "ncu rc=$?"
ncu -i $OUT/one.ncu-rep --page details > $OUT/ncu-details.txt 2>&1
ncu -i $OUT/one.ncu-rep --page source --csv --print-source sass > $OUT/ncu-src.csv 2>&1; echo "src rc=$? $(wc -l < $OUT/ncu-src.csv)"
grep -hE "^  [a-z_]+.*\(|Duration|DRAM Throughput|Registers Per|Achieved Occupancy|Issued Warp|Warp Cycles Per Issued|No Eligible|Theoretical Occ|Waves Per SM" $OUT/ncu-details.txt | cut -c1-150 | head -60
