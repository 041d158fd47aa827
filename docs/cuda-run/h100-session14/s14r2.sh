#!/usr/bin/env bash
# session 14 run 2 (lab): where one-token step time goes on the GPU: host time to record a step, to update the
# graph, to launch it, and the step's enqueue time without graphs; replay-only (ZF_LAB_REPLAY: the first step's
# graph relaunched, wrong positions) as the floor a device-resident position would reach
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=9338b81+graphs-lab
B=$ROOT/build-gpu
t0=$(date +%s)
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zf zfast_cuda test_cuda_model; } > $OUT/build.log 2>&1; echo "build rc=$? $(( $(date +%s) - t0 )) s"
timeout 60 $B/tests/cuda/test_cuda_model > $OUT/test_cuda_model.txt 2>&1; echo "test_cuda_model rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_model.txt | head -5
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1; echo "synth smol rc=$?"
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1; echo "synth qwen8 rc=$? $(( $(date +%s) - t0 )) s"
nproc; grep -m1 "model name" /proc/cpuinfo
for i in 1 2; do for mode in 0 1 R; do
  for mod in smol.gguf qwen8; do
    g=$mode; unset ZF_LAB_REPLAY; [ $mode = R ] && { g=1; export ZF_LAB_REPLAY=1; }
    echo -n "mode=$mode $mod edge: "; ZF_CUDA_GRAPHS=$g timeout 60 $B/zf bench $m/$mod -p 16 -n 64 -r 3 --backend cuda --tier edge 2>&1 | tr '\r' '\n' | grep -E "^decode +[0-9]+ tokens|^LAB" | tr -s ' ' | tr '\n' ' '; echo
  done
done; done
unset ZF_LAB_REPLAY
echo "total $(( $(date +%s) - t0 )) s"
