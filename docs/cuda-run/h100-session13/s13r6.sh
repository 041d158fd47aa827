#!/usr/bin/env bash
# session 13 run 6: the synthetic Qwen3-30B-A3B 48-layer MLX 4-bit model on e9a2fcc+docs: zf bench in the edge tier
# (its 64-token prefill runs the changed int8 many-token kernels) and in stable; each step timed
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=7964412
B=$ROOT/build-gpu
t0=$(date +%s)
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zf zfast_cuda; } > $OUT/build.log 2>&1; echo "build rc=$? $(( $(date +%s) - t0 )) s"
mkdir -p /tmp/sm; q=/tmp/sm/qwen3-30b-a3b-48
timeout 200 $B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 48 --format mlx --bits 4 -o $q > $OUT/synth.txt 2>&1; echo "synth rc=$? $(( $(date +%s) - t0 )) s"; du -sh $q
timeout 150 $B/zf bench $q -p 64 -n 16 -r 3 --backend cuda --tier edge -o $OUT/bench-qwen3-edge-7964412.json > $OUT/bench-edge.txt 2>&1; echo "bench edge rc=$? $(( $(date +%s) - t0 )) s"; grep -v "^load\|\r" $OUT/bench-edge.txt | tail -8
timeout 120 $B/zf bench $q -p 64 -n 16 -r 3 --backend cuda -o $OUT/bench-qwen3-stable-7964412.json > $OUT/bench-stable.txt 2>&1; echo "bench stable rc=$? $(( $(date +%s) - t0 )) s"; tail -8 $OUT/bench-stable.txt
