#!/bin/bash
# A/B: one RoPE call for q and k at one token (this tree) vs two (.base = HEAD), same plugin.
set -u
R=$(pwd); RES=$OUT/result.txt
D=$R/.gpudeps/usr; export LD_LIBRARY_PATH=$D/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
export CMAKE_PREFIX_PATH=$D CPATH=$D/include LIBRARY_PATH=$D/lib/x86_64-linux-gnu PKG_CONFIG_PATH=$D/lib/x86_64-linux-gnu/pkgconfig
B=$R/build-gpu; BB=$R/build-base
{
STEPS="build" bash scripts/gpu-check.sh /tmp/chk > /tmp/b.txt 2>&1; echo "build rc=$?"; grep "build" /tmp/chk/summary.md
(cmake -S .base -B $BB -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=OFF > /tmp/bb.txt 2>&1 && cmake --build $BB --target zf -j 16 >> /tmp/bb.txt 2>&1); echo "base build rc=$?"
export ZF_CUDA_LIB=$B/libzfast_cuda.so
timeout 120 $B/tests/cuda/test_cuda_model > /tmp/t.txt 2>&1; echo "test_cuda_model rc=$? $(tail -1 /tmp/t.txt)"
M=$B/synth-models; mkdir -p $M
timeout 60 $B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $M/smol.gguf >/dev/null 2>&1; echo "synth smol rc=$?"
timeout 60 $B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $M/q8 >/dev/null 2>&1; echo "synth q8 rc=$?"
for i in 1 2; do
  for m in smol.gguf q8; do
    echo "new $m:"; timeout 60 $B/zf bench $M/$m -p 16 -n 64 -r 3 --backend cuda -o $([ $i = 2 ] && echo $OUT || echo /tmp)/$m-new.json 2>/dev/null | grep -E "decode "
    echo "base $m:"; timeout 60 $BB/zf bench $M/$m -p 16 -n 64 -r 3 --backend cuda -o $([ $i = 2 ] && echo $OUT || echo /tmp)/$m-base.json 2>/dev/null | grep -E "decode "
  done
done
timeout 60 $B/zf validate $M/smol.gguf -n 32 --runs 1 --compare cpu,cuda 2>&1 | tail -4
} > $RES 2>&1
cat $RES
