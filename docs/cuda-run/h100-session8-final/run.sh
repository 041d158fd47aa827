#!/usr/bin/env bash
# Session 8, final call: the GPU check on the final tree, and the CUDA MoE gates (stable and edge) as capsules.
set -u
R=$PWD
export LD_LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
STEPS="build test moe sanitizer bench gate ctest" bash scripts/gpu-check.sh $OUT/check > /dev/null 2>&1
grep -E "^=== .*exit" $OUT/check/logs.txt | grep -v "env ZF_TEST"
grep -E "FAIL|checks|ERROR SUMMARY|tests passed" $OUT/check/logs.txt | head
B=$R/build-gpu
timeout 240 $B/zf gate moe --backend cuda -o $OUT/gate-moe-cuda-stable.json > $OUT/gate-moe-stable.txt 2>&1; echo "gate stable rc=$?"
ZF_TIER=edge timeout 240 $B/zf gate moe --backend cuda -o $OUT/gate-moe-cuda-edge.json > $OUT/gate-moe-edge.txt 2>&1; echo "gate edge rc=$?"
cat $OUT/gate-moe-stable.txt $OUT/gate-moe-edge.txt | cut -c1-200
