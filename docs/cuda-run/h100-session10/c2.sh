#!/usr/bin/env bash
# Session 10 call 2: test_cuda + memcheck of HEAD (build-gpu from call 1); ncu of the one-token combine (fast path).
set -u
R=$PWD
ROOT=$R; . scripts/gpu-env.sh
export ZF_COMMIT=8530091
B=$R/build-gpu
ls $B/zf_cuda_moe_bench > /dev/null || exit 1
STEPS="test sanitizer" bash scripts/gpu-check.sh $OUT/c > /dev/null 2>&1
grep -E "^=== .*exit|checks|FAIL|ERROR SUMMARY" $OUT/c/logs.txt | head -20
timeout 200 ncu --set full --import-source yes --kernel-name regex:"qd_combine" --launch-skip 30 --launch-count 1 \
  -o $OUT/cb $B/zf_cuda_moe_bench --tokens 1 > $OUT/ncu-run.txt 2>&1; echo "ncu rc=$?"
ncu -i $OUT/cb.ncu-rep --page source --csv --print-source sass > $OUT/ncu-src.csv 2>&1
ncu -i $OUT/cb.ncu-rep --page details > $OUT/ncu-details.txt 2>&1
grep -hE "Duration|DRAM Throughput|Registers Per|Achieved Occupancy|Issued Warp|Warp Cycles Per Issued|No Eligible|Theoretical Occ|Waves Per SM|Elapsed Cycles|L2 Hit" $OUT/ncu-details.txt | cut -c1-150 | head -20
rm -f $OUT/cb.ncu-rep
