#!/usr/bin/env bash
# Session 8, call 4: A/B of the parallel-scan group kernel (A = committed 26f1cd3 plugin, B = working tree), tests on B, ncu of B's qxi kernels.
set -u
R=$PWD
export CMAKE_PREFIX_PATH=$R/.gpudeps/usr LD_LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export PKG_CONFIG_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu/pkgconfig CPATH=$R/.gpudeps/usr/include LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export ZF_COMMIT=${ZF_COMMIT:-lab}
rm -rf /tmp/v && mkdir -p /tmp/v && tar -cf - --exclude=./build-gpu --exclude=./models --exclude=./.lab2 . | tar -xf - -C /tmp/v
cp $R/.lab2/qmm-A.cu /tmp/v/src/cuda/qmm.cu
(cd /tmp/v && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && nice cmake --build build -j 6 --target zfast_cuda > $OUT/a-build.log 2>&1; echo "A build exit $?" >> $OUT/a-build.log) &
STEPS="build moe" bash scripts/gpu-check.sh $OUT/c > /dev/null 2>&1
wait; tail -1 $OUT/a-build.log
grep -E "^=== .*exit" $OUT/c/logs.txt
grep -E "FAIL|checks|ERROR SUMMARY" $OUT/c/logs.txt | head -20
B=$R/build-gpu
for i in 1 2; do for L in A B; do
  P=$([ $L = A ] && echo /tmp/v/build/libzfast_cuda.so || echo $B/libzfast_cuda.so)
  echo "== $L $i"; ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens 64 2>&1 | grep -E "^\| (gather|moe block)"
done; done
timeout 200 ncu --clock-control none --kernel-name regex:"qxi" --launch-skip 8 --launch-count 4 \
  --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats \
  $B/zf_cuda_moe_bench --tokens 64 > $OUT/ncu64.txt 2>&1; echo "ncu rc=$?"
timeout 100 ncu --clock-control none --kernel-name regex:"group_kernel|combine_finish" --launch-skip 4 --launch-count 2 \
  $B/zf_cuda_moe_bench --tokens 64 > $OUT/ncu64g.txt 2>&1; echo "ncu rc=$?"
grep -hE "^  [a-z_]+.*\(|Duration|DRAM Throughput|Registers Per|Achieved Occupancy|Issued Warp|Warp Cycles Per Issued|No Eligible|Theoretical Occ" $OUT/ncu64.txt $OUT/ncu64g.txt | cut -c1-150 | head -90
