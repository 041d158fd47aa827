#!/usr/bin/env bash
# session 19 run 2 (prepared in session 18; after s19r1.sh on the same machine, build-gpu kept): where the one-token
# MoE kernels' ~1,400 instructions a warp go. ncu's instruction statistics and source counters (the SASS lines with the
# most executed instructions and stall samples) for the int8 swiglu, the one-token combine and the exact one-row qmm,
# weights in L2 (--layers 1) so memory does not dominate. Output: $OUT/ncu-*.txt (the source pages are long: read the
# "Instruction Statistics" and the top of "Source Counters" first).
ROOT=$PWD; . scripts/gpu-env.sh
B=$ROOT/build-gpu
for k in qi8_swiglu_kernel qd_combine_kernel; do
  timeout 200 ncu --clock-control none --section InstructionStats --section SourceCounters --section WarpStateStats \
    -k "regex:$k" -s 20 -c 1 $B/zf_cuda_moe_bench --tokens 1 --layers 1 > $OUT/ncu-$k.txt 2>&1
  echo "$k rc=$?"; grep -E "Executed Instructions|Issued Instructions|Warp Cycles Per Issued|Branch Instructions" $OUT/ncu-$k.txt | head -6
done
