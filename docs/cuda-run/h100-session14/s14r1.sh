#!/usr/bin/env bash
# session 14 run 1: one-token model steps replay a CUDA graph (updated in place each step), against
# ZF_CUDA_GRAPHS=0 (every kernel launched) in the same binaries; test_cuda_model (graph API + CPU/CUDA model
# bits); zf validate --backend cuda (stock vs stable sides: the rebuild path) on a synthetic SmolLM2-shaped model
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=9338b81+graphs
B=$ROOT/build-gpu
t0=$(date +%s)
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zf zfast_cuda test_cuda_model test_cuda; } > $OUT/build.log 2>&1; echo "build rc=$? $(( $(date +%s) - t0 )) s"
timeout 60 $B/tests/cuda/test_cuda_model > $OUT/test_cuda_model.txt 2>&1; echo "test_cuda_model rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_model.txt | head -5
timeout 120 $B/tests/cuda/test_cuda > $OUT/test_cuda.txt 2>&1; echo "test_cuda rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda.txt | head -5
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1; echo "synth smol rc=$?"
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1; echo "synth qwen8 rc=$? $(( $(date +%s) - t0 )) s"
for i in 1 2; do for g in 1 0; do
  for mod in smol.gguf qwen8; do
    echo -n "graphs=$g $mod edge: "; ZF_CUDA_GRAPHS=$g timeout 60 $B/zf bench $m/$mod -p 16 -n 64 -r 3 --backend cuda --tier edge 2>&1 | tr '\r' '\n' | grep -E "^decode +[0-9]+ tokens" | tr -s ' '
  done
done; done
echo "benches done $(( $(date +%s) - t0 )) s"
timeout 90 $B/zf validate $m/smol.gguf --backend cuda -n 32 --runs 2 -o $OUT/validate-smol-cuda.json > $OUT/validate.txt 2>&1; echo "validate rc=$?"; tail -6 $OUT/validate.txt
ZF_CUDA_GRAPHS=2 $B/zf bench $m/smol.gguf -p 1 -n 1 -r 1 --backend cuda 2>&1 | tail -1
echo "total $(( $(date +%s) - t0 )) s"
