#!/usr/bin/env bash
# session 19 run 10 (carrying .gpudeps and .smolA, the first 49,000,000 bytes of SmolLM2-135M-Instruct Q4_1):
# builds zf with the CUDA backend and keeps the first half in /tmp for run 11, which carries the second.
ROOT=$PWD; . scripts/gpu-env.sh
B=$ROOT/build-gpu; t0=$(date +%s)
cp .smolA /tmp/smolA && echo "first half kept: $(stat -c %s /tmp/smolA) bytes"
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zf zfast_cuda test_cuda_model; } > $OUT/build.log 2>&1
echo "build rc=$? $(( $(date +%s) - t0 )) s"
