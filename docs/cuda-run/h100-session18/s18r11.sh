#!/usr/bin/env bash
# session 18 run 11: the 48-layer Qwen3-30B-A3B shape (MLX 4-bit) on the tree with the division-free int8 decode
# kernels, edge tier, as run 4 measured it before them (399.3, 404.6 tok/s).
ROOT=$PWD; . scripts/gpu-env.sh
B=$ROOT/build-gpu; t0=$(date +%s)
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zf zfast_cuda; } > $OUT/build.log 2>&1
echo "build rc=$? $(( $(date +%s) - t0 )) s"
M=/tmp/sm; mkdir -p $M
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --format mlx --bits 4 -o $M/qwen48 > /dev/null 2>&1; echo "synth qwen48 rc=$? $(( $(date +%s) - t0 )) s"
for i in 1 2; do
  left=$(( 420 - ($(date +%s) - t0) )); [ $left -lt 40 ] && break
  echo -n "qwen48 edge: "; timeout $left $B/zf bench $M/qwen48 -p 64 -n 16 -r 3 --backend cuda --tier edge -o $OUT/bench-qwen48-edge-$i.json 2>&1 | tr '\r' '\n' | grep -E "^(prefill|decode) +[0-9]+ tokens|roofline" | tr -s ' ' | tr '\n' ' '; echo " $(( $(date +%s) - t0 )) s"
done
