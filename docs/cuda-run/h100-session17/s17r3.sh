#!/usr/bin/env bash
# session 17 run 3: which of run 2's B changes slows the short-context decode (SmolLM2 shape p=16 1320 -> 745 tok/s,
# Qwen3 8 layers 1497 -> 1059)? B = the tree with two LAB-ONLY knobs: ZF_X_RING (the decode ring budget in bytes:
# 40000 -> 32-key tiles as at HEAD) and ZF_X_NOFUSE (the llama decode step without swiglu_qmm / add_rms_norm_qmm).
ROOT=$PWD; . scripts/gpu-env.sh
B=$ROOT/build-gpu; A=/tmp/zfA; t0=$(date +%s)
mkdir -p $A/src && tar -xf .lab7/A.tar -C $A/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 10 --target zf zfast_cuda; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 6 --target zf zfast_cuda; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s"; grep -E "error" $OUT/build.log | head -5
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1
ZF_CUDA_GRAPHS=0 timeout 60 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv $B/zf bench $m/smol.gguf -p 16 -n 2 -r 1 --backend cuda > $OUT/ncu-B-smol-p16.csv 2> /dev/null; echo "ncu rc=$? $(( $(date +%s) - t0 )) s"
ZF_X_NOFUSE=1 ZF_X_RING=40000 ZF_CUDA_GRAPHS=0 timeout 60 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv $B/zf bench $m/smol.gguf -p 16 -n 2 -r 1 --backend cuda > $OUT/ncu-B0-smol-p16.csv 2> /dev/null; echo "ncu rc=$? $(( $(date +%s) - t0 )) s"
bench() { # side model p tier [env]
  local Z=$B/zf; [ $1 = A ] && Z=$A/b/zf
  local left=$(( 560 - ($(date +%s) - t0) )); [ $left -lt 20 ] && return
  echo -n "$1 $2 $4 p=$3 $5: "; env $5 timeout $left $Z bench $m/$2 -p $3 -n 32 -r 3 --backend cuda --tier $4 > /tmp/b.txt 2>&1; echo -n "rc=$? "
  tr '\r' '\n' < /tmp/b.txt | grep -E "^decode +[0-9]+ tokens" | tr -s ' ' | cut -d' ' -f1-7 | tr '\n' ' ' | grep . || tail -n 2 /tmp/b.txt; echo
}
for i in 1 2; do for mp in smol.gguf:16 qwen8:16 smol.gguf:1024 qwen8:1024; do IFS=: read mod p <<< "$mp"
  bench A $mod $p stable; bench B $mod $p stable; bench B $mod $p stable ZF_X_RING=40000; bench B $mod $p stable ZF_X_NOFUSE=1
  bench B $mod $p stable "ZF_X_NOFUSE=1 ZF_X_RING=40000"
done; done
echo "total $(( $(date +%s) - t0 )) s"
