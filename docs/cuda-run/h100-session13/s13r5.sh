#!/usr/bin/env bash
# session 13 run 5: e9a2fcc as committed: the edge tier's MoE gate (capsule) and the synthetic Qwen3-30B-A3B
# 48-layer MLX 4-bit model's prefill/decode in the edge tier (zf bench), plus the stable tier for scale
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=e9a2fcc
B=$ROOT/build-gpu
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zf zfast_cuda; } > $OUT/build.log 2>&1; echo "build rc=$?"
ZF_TIER=edge timeout 200 $B/zf gate moe --backend cuda -o $OUT/cuda-gate-moe-edge-e9a2fcc.json > $OUT/gate-moe-edge.txt 2>&1; echo "gate rc=$?"; tail -25 $OUT/gate-moe-edge.txt
mkdir -p $B/synth-models; q=$B/synth-models/qwen3-30b-a3b-48
timeout 120 $B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 48 --format mlx --bits 4 -o $q > /dev/null 2>&1; echo "synth rc=$?"
timeout 100 $B/zf bench $q -p 64 -n 16 -r 3 --backend cuda --tier edge -o $OUT/bench-qwen3-edge-e9a2fcc.json 2>&1 | grep -E "^prefill|^decode +[0-9]" | sed "s/^/edge: /" | tee $OUT/qwen.txt
timeout 100 $B/zf bench $q -p 64 -n 16 -r 3 --backend cuda -o $OUT/bench-qwen3-stable-e9a2fcc.json 2>&1 | grep -E "^prefill|^decode +[0-9]" | sed "s/^/stable: /" | tee -a $OUT/qwen.txt
