#!/usr/bin/env bash
# session 19 run 5: the int8 swiglu's residency (lab-stages.patch: ZF_SWPAD=BYTES pads its dynamic shared memory,
# so fewer CTAs fit an SM: 50 KB -> 4, 64 KB -> 3, 100 KB -> 2; unpadded ~44 KB -> 5), and the int8 combine at one
# token (ZF_CMIN=1 lowers its 4-token threshold). Weights from HBM (--layers 8), 1 and 4 tokens.
ROOT=$PWD; . scripts/gpu-env.sh
B=$ROOT/build-gpu; T0=$(date +%s)
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zfast_cuda zf_cuda_moe_bench; } > $OUT/build.log 2>&1
echo "build rc=$? $(($(date +%s) - T0)) s"
mkdir -p $OUT/r5
for rep in 1 2; do for t in 1 4; do for cfg in "ZF_SWPAD=0" "ZF_SWPAD=51200" "ZF_SWPAD=65536" "ZF_SWPAD=102400" "ZF_CMIN=1" "ZF_CMIN=1 ZF_SWPAD=65536"; do
  f=$OUT/r5/t$t-${cfg// /_}-$rep.txt
  (cd $B && env $cfg timeout 60 ./zf_cuda_moe_bench --tokens $t --layers 8 > $f 2>&1)
  echo "t=$t $cfg: $(grep -E '\| approx \| '$t' \|' $f | awk -F'|' '{printf "%s %s;", $2, $7}')"
done; done; done
tar -czf $OUT/r5.tgz -C $OUT r5 && rm -rf $OUT/r5
echo "total $(($(date +%s) - T0)) s"
