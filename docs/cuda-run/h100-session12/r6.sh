#!/usr/bin/env bash
# session 12 run 6: 8fe1c4d as committed: gpu-check (build test moe sanitizer); ncu of the combine's qxi_kernel<1, 4, bf16> at 64 tokens
ROOT=$PWD; . scripts/gpu-env.sh
STEPS="build test moe sanitizer" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
grep -E "exit" $OUT/check/summary.md
grep -E "checks, " $OUT/check/logs.txt
grep -E "\| 1 \|" $OUT/check/summary.md | grep -E "approx|exact" | head -8
B=$ROOT/build-gpu
timeout 200 ncu --clock-control none --set full --import-source yes --kernel-name-base demangled --kernel-name 'regex:qxi_kernel<\(int\)1, \(int\)4, \(int\)2>' \
  --launch-skip 1 --launch-count 1 -o $OUT/qxi1 $B/zf_cuda_moe_bench --tokens 64 > $OUT/ncu-run.txt 2>&1; echo "ncu rc=$?"
ncu --import $OUT/qxi1.ncu-rep --page details > $OUT/qxi1-details.txt 2>&1
grep -E "qxi_kernel|Duration|DRAM Through|Issued Warp|stalled" $OUT/qxi1-details.txt | cut -c1-160 | head -12
ncu --import $OUT/qxi1.ncu-rep --page source --csv --print-source sass > $OUT/qxi1-sass.csv 2>&1; echo "source rc=$?"
rm -f $OUT/qxi1.ncu-rep
