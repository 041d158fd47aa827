#!/usr/bin/env bash
# session 12 run 3: as run 2 with the demangled regex that matches
ROOT=$PWD; . scripts/gpu-env.sh
B=$ROOT/build-gpu
[ -x $B/zf_cuda_moe_bench ] || STEPS="build" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
timeout 240 ncu --clock-control none --set full --import-source yes --kernel-name-base demangled --kernel-name 'regex:qxi_kernel<\(int\)2, \(int\)2>' \
  --launch-skip 1 --launch-count 2 -o $OUT/qxi64 $B/zf_cuda_moe_bench --tokens 64 > $OUT/ncu-run.txt 2>&1; echo "ncu rc=$?"
grep -E "PROF" $OUT/ncu-run.txt | tail -4
ncu --import $OUT/qxi64.ncu-rep --page details > $OUT/qxi64-details.txt 2>&1; echo "details rc=$?"
grep -E "qxi_kernel|Duration|DRAM Through|Issued Warp|stalled" $OUT/qxi64-details.txt | cut -c1-160 | head -30
ncu --import $OUT/qxi64.ncu-rep --page source --csv --print-source sass > $OUT/qxi64-sass.csv 2>&1; echo "source rc=$?"
wc -c $OUT/qxi64-sass.csv
