#!/usr/bin/env bash
# session 16 run 2: qd_pair_kernel (stable one-row qmm) starts its weight copies before the PDL wait.
# B = the tree; A = b7f4402's plugin (same ABI) through ZF_CUDA_LIB. Tests on B; decode A/B alternated on a
# synthetic SmolLM2-shaped model (stable) at three prompt lengths (attention's cost grows with the context).
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=b7f4402+qd_prewait
B=$ROOT/build-gpu; A=/tmp/zfA; t0=$(date +%s)
mkdir -p $A/src && tar -xf .lab7/A.tar -C $A/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 10 --target zf zfast_cuda test_cuda_moe test_cuda test_cuda_model; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 6 --target zfast_cuda; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s; A plugin: $(ls $A/b/libzfast_cuda.so 2>&1)"
grep -E "error" $OUT/build.log | head -5
for t in test_cuda_moe test_cuda test_cuda_model; do
  timeout 100 $B/tests/cuda/$t > $OUT/$t.txt 2>&1; echo "$t rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL" $OUT/$t.txt | head -5
done
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1; echo "synth smol rc=$?"
for i in 1 2; do for side in A B; do for p in 16 256 1024; do
  L=$B/libzfast_cuda.so; [ $side = A ] && L=$A/b/libzfast_cuda.so
  echo -n "$side smol stable p=$p: "; ZF_CUDA_LIB=$L timeout 60 $B/zf bench $m/smol.gguf -p $p -n 64 -r 3 --backend cuda > /tmp/b.txt 2>&1; echo -n "rc=$? "
  tr '\r' '\n' < /tmp/b.txt | grep -E "^decode +[0-9]+ tokens" | tr -s ' ' | grep . || tail -2 /tmp/b.txt
done; done; done
echo "benches done $(( $(date +%s) - t0 )) s"
# the attention kernel alone at a long context: per-kernel times
ZF_CUDA_GRAPHS=0 timeout 90 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv -k regex:"dec_kernel|qd_pair|fwd_decode|ew_word" $B/zf bench $m/smol.gguf -p 1024 -n 2 -r 1 --backend cuda > $OUT/ncu-smol-p1024.csv 2> /dev/null; echo "ncu rc=$? $(( $(date +%s) - t0 )) s"
echo "total $(( $(date +%s) - t0 )) s"
