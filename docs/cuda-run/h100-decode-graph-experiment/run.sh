#!/bin/bash
# One device call: build, CUDA tests, then decode graphs on/off on SmolLM2- and Qwen3-shaped synthetic models.
set -u
R=$(pwd); O=/tmp/o; mkdir -p $O; RES=$OUT/result.txt
[ -x build-gpu/zf ] || { STEPS="build test" bash scripts/gpu-check.sh $O/chk >/dev/null 2>&1; cp $O/chk/summary.md $OUT/; }
D=$R/.gpudeps/usr; export LD_LIBRARY_PATH=$D/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
B=$R/build-gpu
{
for t in test_cuda_model; do timeout 200 $B/tests/cuda/$t > $O/$t.txt 2>&1; echo "$t rc=$? $(tail -2 $O/$t.txt | tr '\n' ' ')"; done
grep -E "FAIL" $O/test_cuda_model.txt | head -5
M=$B/synth-models; mkdir -p $M
timeout 120 $B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $M/smol.gguf >/dev/null 2>&1; echo "synth smol rc=$?"
for i in 1 2; do
  $B/zf bench $M/smol.gguf -p 16 -n 128 -r 3 --backend cuda -o $O/smol-graph-$i.json 2>/dev/null | grep -E "tier|decode|prefill"
  ZF_CUDA_GRAPHS=0 $B/zf bench $M/smol.gguf -p 16 -n 128 -r 3 --backend cuda -o $O/smol-nograph-$i.json 2>/dev/null | grep -E "tier|decode|prefill"
done
cp $O/smol-graph-2.json $O/smol-nograph-2.json $OUT/
timeout 60 $B/zf validate $M/smol.gguf -n 32 --runs 1 --compare cpu,cuda 2>&1 | tail -3
timeout 200 $B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 48 --format mlx --bits 4 -o $M/q48 >/dev/null 2>&1; echo "synth q48 rc=$? $(du -sh $M/q48 | cut -f1)"
timeout 80 $B/zf bench $M/q48 -p 16 -n 32 -r 3 --backend cuda -o $OUT/q48-graph.json 2>/dev/null | grep -E "tier|decode|prefill|roofline"
ZF_CUDA_GRAPHS=0 timeout 80 $B/zf bench $M/q48 -p 16 -n 32 -r 3 --backend cuda -o $OUT/q48-nograph.json 2>/dev/null | grep -E "tier|decode|prefill|roofline"
} > $RES 2>&1
cat $RES
