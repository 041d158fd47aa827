#!/usr/bin/env bash
# session 17 run 2. B = the tree: run 1's patches (tiles of up to 128 keys; swiglu_qmm / add_rms_norm_qmm in the
# llama decode step) + every shared-memory opt-in through zf_cu_allow_smem (once per kernel and size, counting static
# memory; run 1: prefill attention at p=3000 failed with 48 KiB - 32 B dynamic + 1 KiB static, and the decode
# graphs were presumably lost to a per-launch cudaFuncSetAttribute inside the capture). A = HEAD (ABI 6).
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo s16)+tiles128+swiglu_qmm+allow_smem
B=$ROOT/build-gpu; A=/tmp/zfA; t0=$(date +%s)
mkdir -p $A/src && tar -xf .lab7/A.tar -C $A/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 10 --target zf zfast_cuda test_cuda test_cuda_model test_cuda_moe; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 6 --target zf zfast_cuda; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s; A: $(ls $A/b/zf $A/b/libzfast_cuda.so 2>&1 | tr '\n' ' ')"
grep -E "error" $OUT/build.log | head -5
for t in test_cuda_moe test_cuda_model test_cuda; do
  timeout 120 $B/tests/cuda/$t > $OUT/$t.txt 2>&1; echo "$t rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL|SKIP|skipped" $OUT/$t.txt | head -5
done
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o $m/moe-mlx >/dev/null 2>&1
for f in moe-mlx smol.gguf; do
  timeout 90 $B/zf validate $m/$f -n 64 --runs 1 --compare cpu,cuda -o $OUT/compare-$f.json > /tmp/c.txt 2>&1; echo "compare $f rc=$? $(grep verdict /tmp/c.txt)"
done
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1
bench() { # side model p tier [env]
  local Z=$B/zf; [ $1 = A ] && Z=$A/b/zf
  local left=$(( 560 - ($(date +%s) - t0) )); [ $left -lt 20 ] && return
  echo -n "$1 $2 $4 p=$3 $5: "; env $5 timeout $left $Z bench $m/$2 -p $3 -n 32 -r 3 --backend cuda --tier $4 > /tmp/b.txt 2>&1; echo -n "rc=$? "
  tr '\r' '\n' < /tmp/b.txt | grep -E "^(prefill|decode) +[0-9]+ tokens|decode steps" | sed -E 's/.*decode steps ([a-z ]+CUDA graph|kernel by kernel).*/[\1]/' | tr -s ' ' | tr '\n' ' ' | grep . || tail -n 2 /tmp/b.txt; echo
}
for i in 1 2; do for side in A B; do for mp in smol.gguf:16:stable smol.gguf:16:edge smol.gguf:1024:stable smol.gguf:3000:stable qwen8:16:stable qwen8:1024:stable; do
  IFS=: read mod p tier <<< "$mp"; bench $side $mod $p $tier
done; done
bench B smol.gguf 16 stable ZF_CUDA_GRAPHS=0; bench A smol.gguf 16 stable ZF_CUDA_GRAPHS=0; bench B smol.gguf 16 edge ZF_CUDA_GRAPHS=0; bench A smol.gguf 16 edge ZF_CUDA_GRAPHS=0
done
echo "total $(( $(date +%s) - t0 )) s"
