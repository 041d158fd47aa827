#!/usr/bin/env bash
# session 17 run 4. B = the tree: run 3's plus the fused prologues computed element by element across the CTA
# (run 3's ncu: fused qkv 9.8 us vs 3.4 + 4.4 unfused; gate_up 11.2 vs 8.6; down + swiglu 13.8 vs 7.9).
# LAB-ONLY knobs still in: ZF_X_NOFUSE, ZF_X_RING. A = HEAD.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo s16)+s17r4
B=$ROOT/build-gpu; A=/tmp/zfA; t0=$(date +%s)
mkdir -p $A/src && tar -xf .lab7/A.tar -C $A/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 10 --target zf zfast_cuda test_cuda test_cuda_model test_cuda_moe; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 6 --target zf zfast_cuda; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s"; grep -E "error" $OUT/build.log | head -5
for t in test_cuda_moe test_cuda_model test_cuda; do
  timeout 120 $B/tests/cuda/$t > $OUT/$t.txt 2>&1; echo "$t rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL|SKIP|skipped" $OUT/$t.txt | head -5
done
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1
timeout 90 $B/zf validate $m/smol.gguf -n 64 --runs 1 --compare cpu,cuda -o $OUT/compare-smol.json > /tmp/c.txt 2>&1; echo "compare smol rc=$? $(grep verdict /tmp/c.txt)"
for side in A B; do Z=$B/zf; [ $side = A ] && Z=$A/b/zf
ZF_CUDA_GRAPHS=0 timeout 60 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv -k regex:"qd_pair|dec_kernel|fwd_decode|ew_word" $Z bench $m/smol.gguf -p 16 -n 2 -r 1 --backend cuda > $OUT/ncu-$side-smol-p16.csv 2> /dev/null; echo "ncu $side rc=$? $(( $(date +%s) - t0 )) s"
done
bench() { # side model p tier [env]
  local Z=$B/zf; [ $1 = A ] && Z=$A/b/zf
  local left=$(( 470 - ($(date +%s) - t0) )); [ $left -lt 20 ] && return
  echo -n "$1 $2 $4 p=$3 $5: "; env $5 timeout $left $Z bench $m/$2 -p $3 -n 32 -r 3 --backend cuda --tier $4 > /tmp/b.txt 2>&1; echo -n "rc=$? "
  tr '\r' '\n' < /tmp/b.txt | grep -E "^decode +[0-9]+ tokens" | tr -s ' ' | cut -d' ' -f1-7 | tr '\n' ' ' | grep . || tail -n 2 /tmp/b.txt; echo
}
for i in 1 2; do for mp in smol.gguf:16 qwen8:16 smol.gguf:1024 qwen8:1024; do IFS=: read mod p <<< "$mp"
  bench A $mod $p stable; bench B $mod $p stable; bench B $mod $p stable ZF_X_NOFUSE=1
done; bench A smol.gguf 16 edge; bench B smol.gguf 16 edge; bench B smol.gguf 16 edge ZF_X_NOFUSE=1; done
echo "total $(( $(date +%s) - t0 )) s"
