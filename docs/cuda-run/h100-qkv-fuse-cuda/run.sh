#!/bin/bash
# A/B: q|k|v fused at any size on CUDA (this tree) vs only under 2 MiB (.base = HEAD), same plugin.
set -u
R=$(pwd); RES=$OUT/result.txt
D=$R/.gpudeps/usr; export LD_LIBRARY_PATH=$D/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
export CMAKE_PREFIX_PATH=$D CPATH=$D/include LIBRARY_PATH=$D/lib/x86_64-linux-gnu PKG_CONFIG_PATH=$D/lib/x86_64-linux-gnu/pkgconfig
B=$R/build-gpu; BB=$R/build-base
{
STEPS="build" bash scripts/gpu-check.sh /tmp/chk > /tmp/b.txt 2>&1; echo "build rc=$?"; grep "build" /tmp/chk/summary.md
(cmake -S .base -B $BB -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=OFF > /tmp/bb.txt 2>&1 && cmake --build $BB --target zf -j 16 >> /tmp/bb.txt 2>&1); echo "base build rc=$?"
export ZF_CUDA_LIB=$B/libzfast_cuda.so
timeout 200 $B/tests/cuda/test_cuda_model > /tmp/t.txt 2>&1; echo "test_cuda_model rc=$? $(tail -1 /tmp/t.txt)"
M=$B/synth-models; mkdir -p $M
timeout 240 $B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 48 --format mlx --bits 4 -o $M/q48 >/dev/null 2>&1; echo "synth q48 rc=$?"
timeout 60 $B/zf validate $M/q48 -n 8 --runs 1 --backend cuda 2>&1 | grep -E "PASS|FAIL|verdict" | head -3
for i in 1 2; do
  echo "new:"; timeout 100 $B/zf bench $M/q48 -p 16 -n 32 -r 3 --backend cuda -o $OUT/q48-fused-$i.json 2>/dev/null | grep -E "decode |prefill|roofline"
  echo "base:"; timeout 100 $BB/zf bench $M/q48 -p 16 -n 32 -r 3 --backend cuda -o $OUT/q48-base-$i.json 2>/dev/null | grep -E "decode |prefill|roofline"
done
} > $RES 2>&1
cat $RES
