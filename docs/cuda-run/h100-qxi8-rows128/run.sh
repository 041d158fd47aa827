#!/usr/bin/env bash
# Session 8, call 8: A/B of 128-row combine CTAs, the swiglu code as before (A = committed 826bcb7 plugin, B = working tree), tests on B, ncu of B's qxi kernels.
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
timeout 200 ncu --clock-control none --kernel-name regex:"qxi" --launch-skip 8 --launch-count 4 \
  --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats \
  $B/zf_cuda_moe_bench --tokens 64 > $OUT/ncu64.txt 2>&1; echo "ncu rc=$?"
timeout 100 ncu --clock-control none --kernel-name regex:"group_kernel|combine_finish" --launch-skip 4 --launch-count 2 \
  $B/zf_cuda_moe_bench --tokens 64 > $OUT/ncu64g.txt 2>&1; echo "ncu rc=$?"
grep -hE "^  [a-z_]+.*\(|Duration|DRAM Throughput|Registers Per|Achieved Occupancy|Issued Warp|Warp Cycles Per Issued|No Eligible|Theoretical Occ" $OUT/ncu64.txt $OUT/ncu64g.txt | cut -c1-150 | head -90
# Qwen3-30B-A3B shape, 48 layers, MLX 4-bit: prefill (64 tokens: the grouped path) and decode, A and B plugins, edge tier
mkdir -p $B/synth-models; q=$B/synth-models/qwen3-30b-a3b-48
timeout 120 $B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 48 --format mlx --bits 4 -o $q > /dev/null 2>&1; echo "synth rc=$?"
for L in A B; do
  P=$([ $L = A ] && echo /tmp/v/build/libzfast_cuda.so || echo $B/libzfast_cuda.so)
  ZF_CUDA_LIB=$P timeout 100 $B/zf bench $q -p 64 -n 16 -r 3 --backend cuda --tier edge -o $OUT/bench-qwen3-edge-$L.json 2>&1 | grep -E "^prefill|^decode +[0-9]" | sed "s/^/$L edge: /"
done 2>&1 | tee $OUT/qwen.txt
timeout 100 $B/zf bench $q -p 64 -n 16 -r 3 --backend cuda -o $OUT/bench-qwen3-stable.json 2>&1 | grep -E "^prefill|^decode +[0-9]" | sed "s/^/stable: /" | tee -a $OUT/qwen.txt
