#!/usr/bin/env bash
# session 16 run 4: which change moved the 8-layer Qwen3 stable decode at p=16 (run 3: 1482.0 -> 1411.9)?
# A = b7f4402, B = the tree (tiled decode attention + qmm pre-wait copies), C = the tree without the qmm pre-wait.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=b7f4402+dec_tiles
B=$ROOT/build-gpu; A=/tmp/zfA; C=/tmp/zfC; t0=$(date +%s)
mkdir -p $A/src $C/src && tar -xf .lab7/A.tar -C $A/src && tar -xf .lab7/C.tar -C $C/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 8 --target zf zfast_cuda; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 4 --target zfast_cuda; } > $OUT/buildA.log 2>&1 &
{ cmake -S $C/src -B $C/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $C/b -j 4 --target zfast_cuda; } > $OUT/buildC.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s; $(ls $A/b/libzfast_cuda.so $C/b/libzfast_cuda.so 2>&1 | tr '\n' ' ')"
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1; echo "synth rc=$? $(( $(date +%s) - t0 )) s"
for i in 1 2; do for side in A B C; do for mp in smol.gguf:16 qwen8:16 qwen8:1024; do
  mod=${mp%%:*}; p=${mp##*:}
  L=$B/libzfast_cuda.so; [ $side = A ] && L=$A/b/libzfast_cuda.so; [ $side = C ] && L=$C/b/libzfast_cuda.so
  left=$(( 560 - ($(date +%s) - t0) )); [ $left -lt 20 ] && break
  echo -n "$side $mod stable p=$p: "; ZF_CUDA_LIB=$L timeout $left $B/zf bench $m/$mod -p $p -n 32 -r 3 --backend cuda > /tmp/b.txt 2>&1; echo -n "rc=$? "
  tr '\r' '\n' < /tmp/b.txt | grep -E "^decode +[0-9]+ tokens" | tr -s ' ' | grep . || tail -n 2 /tmp/b.txt
done; done; done
echo "total $(( $(date +%s) - t0 )) s"
