#!/usr/bin/env bash
# per-SASS-instruction executed counts of the int8 MoE kernels (one token)
set -u
B=$PWD/build-gpu
if [ ! -x $B/zf_cuda_moe_bench ]; then STEPS="build" bash scripts/gpu-check.sh $OUT/b > $OUT/build.log 2>&1; fi
for kn in qi8_swiglu_kernel qi8_combine_kernel; do
  timeout 150 ncu --clock-control none --kernel-name regex:$kn --launch-skip 40 --launch-count 1 \
    --section SourceCounters --page source --print-source sass --csv \
    $B/zf_cuda_moe_bench --tokens 1 > $OUT/sass-$kn.csv 2> $OUT/sass-$kn.err; echo "$kn rc=$? $(wc -l < $OUT/sass-$kn.csv) lines"
done
