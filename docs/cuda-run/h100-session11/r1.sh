#!/usr/bin/env bash
# run 1: verify HEAD (build test moe sanitizer), then the stream lab
ROOT=$PWD; . scripts/gpu-env.sh
nvcc -std=c++17 -arch=sm_90a -O3 -o /tmp/stream .lab4/stream.cu > $OUT/lab-build.txt 2>&1
/tmp/stream > $OUT/stream1.txt 2>&1
STEPS="build test moe sanitizer" bash scripts/gpu-check.sh $OUT/check
/tmp/stream > $OUT/stream2.txt 2>&1
tail -5 $OUT/check/summary.md
cat $OUT/stream1.txt $OUT/stream2.txt
