#!/usr/bin/env bash
# session 15 run 1: the tree of 4466301 (first device run of test_cuda's every-self-test check and test_cuda_model's
# graphed-decode check); validate/compare of the tiny synthetic models on CUDA (graph replayed); an ncu per-kernel
# time table of Qwen3-30B-A3B-shaped decode (4 layers, kernel by kernel) to see where a layer's time goes.
# Leaves .smolA (first part of SmolLM2) and build-gpu for run 2.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=4466301
B=$ROOT/build-gpu; t0=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zf zfast_cuda test_cuda_model test_cuda; } > $OUT/build.log 2>&1
echo "build rc=$? $(( $(date +%s) - t0 )) s"; grep -E "error" $OUT/build.log | head -5
timeout 150 $B/tests/cuda/test_cuda > $OUT/test_cuda.txt 2>&1; echo "test_cuda rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL" $OUT/test_cuda.txt | head -8
timeout 150 $B/tests/cuda/test_cuda_model > $OUT/test_cuda_model.txt 2>&1; echo "test_cuda_model rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL" $OUT/test_cuda_model.txt | head -8
M=/tmp/sm; mkdir -p $M
$B/zf synth --arch llama --preset tiny --format gguf --quant q4_1 -o $M/llama.gguf >/dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset tiny --format gguf --quant q8_0 -o $M/moe.gguf >/dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o $M/moe-mlx >/dev/null 2>&1
for m in llama.gguf moe.gguf moe-mlx; do
  timeout 60 $B/zf validate $M/$m -n 64 --runs 2 --compare cpu,cuda -o $OUT/compare-$m.json > /tmp/c.txt 2>&1; echo "compare $m rc=$?"; tail -3 /tmp/c.txt
  timeout 60 $B/zf validate $M/$m -n 64 --runs 2 --backend cuda > /tmp/c.txt 2>&1; echo "validate cuda $m rc=$?"; tail -2 /tmp/c.txt
done
echo "validations done $(( $(date +%s) - t0 )) s"
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 4 --format mlx --bits 4 -o $M/qwen4 > /dev/null 2>&1; echo "synth qwen4 rc=$? $(( $(date +%s) - t0 )) s"
left=$(( 560 - ($(date +%s) - t0) ))
ZF_CUDA_GRAPHS=0 timeout $left ncu --clock-control none --metrics gpu__time_duration.sum --csv $B/zf bench $M/qwen4 -p 1 -n 6 -r 1 --backend cuda --tier edge > $OUT/ncu-qwen4.csv 2> $OUT/ncu-qwen4.err; echo "ncu rc=$? $(( $(date +%s) - t0 )) s"; wc -l $OUT/ncu-qwen4.csv; tail -3 $OUT/ncu-qwen4.err
echo "total $(( $(date +%s) - t0 )) s"
