#!/usr/bin/env bash
# session 18 run 4: the tree of 39b3864 (CUDA sources of 0238588): the model step of the GPU check in parts that
# fit a call. Tiny synthetic llama / qwen3_moe files (GGUF and MLX) validated on CUDA and compared CPU vs CUDA; the
# Qwen3-30B-A3B shape with all 48 layers (4-bit MLX) benched, edge and stable. Leaves .smolA (the first half of
# SmolLM2-135M Q4_1, carried) and build-gpu for run 5.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=39b3864
B=$ROOT/build-gpu; t0=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zf zfast_cuda test_cuda_model; } > $OUT/build.log 2>&1
echo "build rc=$? $(( $(date +%s) - t0 )) s"; grep -E "error" $OUT/build.log | head -5
M=/tmp/sm; mkdir -p $M
$B/zf synth --arch llama --preset tiny --format gguf --quant q4_1 -o $M/llama.gguf >/dev/null 2>&1
$B/zf synth --arch llama --preset tiny --format mlx -o $M/llama-mlx >/dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset tiny --format gguf --quant q8_0 -o $M/moe.gguf >/dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o $M/moe-mlx >/dev/null 2>&1
for m in llama.gguf llama-mlx moe.gguf moe-mlx; do
  timeout 60 $B/zf validate $M/$m -n 64 --runs 2 --compare cpu,cuda -o $OUT/compare-$m.json > /tmp/c.txt 2>&1; echo "compare $m rc=$? $(grep verdict /tmp/c.txt)"
  timeout 60 $B/zf validate $M/$m -n 64 --runs 2 --backend cuda -o $OUT/validate-cuda-$m.json > /tmp/c.txt 2>&1; echo "validate cuda $m rc=$? $(grep verdict /tmp/c.txt)"
done
echo "validations done $(( $(date +%s) - t0 )) s"
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --format mlx --bits 4 -o $M/qwen48 > /dev/null 2>&1; echo "synth qwen48 rc=$? $(( $(date +%s) - t0 )) s"
for tier in edge stable edge; do
  left=$(( 570 - ($(date +%s) - t0) )); [ $left -lt 40 ] && break
  echo -n "qwen48 $tier: "; timeout $left $B/zf bench $M/qwen48 -p 64 -n 16 -r 3 --backend cuda --tier $tier -o $OUT/bench-qwen48-$tier.json 2>&1 | tr '\r' '\n' | grep -E "^(prefill|decode) +[0-9]+ tokens|roofline" | tr -s ' ' | tr '\n' ' '; echo " $(( $(date +%s) - t0 )) s"
done
echo "total $(( $(date +%s) - t0 )) s"
