#!/usr/bin/env bash
# session 16 run 3: zf_attention_decode's attention through cp.async tiles (8 threads per key, d <= 256) + the
# one-row qmm's pre-wait copies (pointer form). B = the tree; A = b7f4402's plugin through ZF_CUDA_LIB.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=b7f4402+dec_tiles
B=$ROOT/build-gpu; A=/tmp/zfA; t0=$(date +%s)
mkdir -p $A/src && tar -xf .lab7/A.tar -C $A/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 10 --target zf zfast_cuda test_cuda_moe test_cuda test_cuda_model; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 6 --target zfast_cuda; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s; A plugin: $(ls $A/b/libzfast_cuda.so 2>&1)"
grep -E "error" $OUT/build.log | head -5
for t in test_cuda_model test_cuda test_cuda_moe; do
  timeout 120 $B/tests/cuda/$t > $OUT/$t.txt 2>&1; echo "$t rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL" $OUT/$t.txt | head -5
done
ZF_TEST_QUICK=1 timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/cuda/test_cuda_model > $OUT/memcheck-model.txt 2>&1; echo "memcheck rc=$? $(( $(date +%s) - t0 )) s"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-model.txt | tail -2
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1
$B/zf synth --arch llama --preset tiny --format gguf --quant q4_1 -o $m/llama.gguf >/dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o $m/moe-mlx >/dev/null 2>&1
for f in llama.gguf moe-mlx smol.gguf; do
  timeout 90 $B/zf validate $m/$f -n 64 --runs 1 --compare cpu,cuda -o $OUT/compare-$f.json > /tmp/c.txt 2>&1; echo "compare $f rc=$? $(grep verdict /tmp/c.txt)"
done
for i in 1 2; do for side in A B; do for p in 16 256 1024 3000; do
  L=$B/libzfast_cuda.so; [ $side = A ] && L=$A/b/libzfast_cuda.so
  echo -n "$side smol stable p=$p: "; ZF_CUDA_LIB=$L timeout 60 $B/zf bench $m/smol.gguf -p $p -n 64 -r 3 --backend cuda > /tmp/b.txt 2>&1; echo -n "rc=$? "
  tr '\r' '\n' < /tmp/b.txt | grep -E "^decode +[0-9]+ tokens" | tr -s ' ' | grep . || tail -2 /tmp/b.txt
done; done; done
echo "benches done $(( $(date +%s) - t0 )) s"
ZF_CUDA_GRAPHS=0 timeout 60 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv -k regex:"dec_kernel" $B/zf bench $m/smol.gguf -p 1024 -n 2 -r 1 --backend cuda > $OUT/ncu-smol-p1024.csv 2> /dev/null; echo "ncu rc=$? $(( $(date +%s) - t0 )) s"
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1; echo "synth qwen8 rc=$? $(( $(date +%s) - t0 )) s"
for side in A B; do for p in 16 1024; do
  L=$B/libzfast_cuda.so; [ $side = A ] && L=$A/b/libzfast_cuda.so
  left=$(( 570 - ($(date +%s) - t0) )); [ $left -lt 30 ] && break
  echo -n "$side qwen8 stable p=$p: "; ZF_CUDA_LIB=$L timeout $left $B/zf bench $m/qwen8 -p $p -n 32 -r 3 --backend cuda > /tmp/b.txt 2>&1; echo -n "rc=$? "
  tr '\r' '\n' < /tmp/b.txt | grep -E "^decode +[0-9]+ tokens" | tr -s ' ' | grep . || tail -2 /tmp/b.txt
done; done
echo "total $(( $(date +%s) - t0 )) s"
