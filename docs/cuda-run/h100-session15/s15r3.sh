#!/usr/bin/env bash
# session 15 run 3: cuda.qmm.int8 (edge tier: one- and two-row qmm through an int8 dp4a kernel whose weight copies
# start before the PDL wait). B = the tree; A = 4466301's plugin (same ABI) loaded into B's binaries by ZF_CUDA_LIB.
# test_cuda (every variant's self-test), test_cuda_moe (new qmm approx cases), memcheck of test_cuda_moe (quick);
# decode A/B alternated twice on synthetic SmolLM2-shaped and 8-layer Qwen3-shaped models (edge); ncu of the new
# kernel in a 4-layer Qwen3 decode; the 48-layer Qwen3-30B-A3B shape, edge, A and B.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=4466301+qmm_int8
B=$ROOT/build-gpu; A=/tmp/zfA; t0=$(date +%s)
mkdir -p $A/src && tar -xf .lab7/A.tar -C $A/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 10 --target zf zfast_cuda test_cuda_moe test_cuda test_cuda_model; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 6 --target zfast_cuda; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s; A plugin: $(ls $A/b/libzfast_cuda.so 2>&1)"
grep -E "error" $OUT/build.log | head -5
timeout 100 $B/tests/cuda/test_cuda_moe > $OUT/test_cuda_moe.txt 2>&1; echo "test_cuda_moe rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL" $OUT/test_cuda_moe.txt | head -8
timeout 100 $B/tests/cuda/test_cuda > $OUT/test_cuda.txt 2>&1; echo "test_cuda rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL" $OUT/test_cuda.txt | head -5
ZF_TEST_QUICK=1 timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/cuda/test_cuda_moe > $OUT/memcheck-moe.txt 2>&1; echo "memcheck moe rc=$? $(( $(date +%s) - t0 )) s"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-moe.txt | tail -2
$B/zf caps 2>&1 | grep -i "qmm" | head -4
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1; echo "synth smol rc=$?"
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1; echo "synth qwen8 rc=$? $(( $(date +%s) - t0 )) s"
for i in 1 2; do for side in A B; do for mod in smol.gguf qwen8; do
  L=$B/libzfast_cuda.so; [ $side = A ] && L=$A/b/libzfast_cuda.so
  echo -n "$side $mod edge: "; ZF_CUDA_LIB=$L timeout 60 $B/zf bench $m/$mod -p 16 -n 64 -r 3 --backend cuda --tier edge > /tmp/b.txt 2>&1; echo -n "rc=$? "
  tr '\r' '\n' < /tmp/b.txt | grep -E "^decode +[0-9]+ tokens" | tr -s ' ' | grep . || tail -2 /tmp/b.txt
done; done; done
echo "benches done $(( $(date +%s) - t0 )) s"
timeout 60 $B/zf validate $m/qwen8 --backend cuda --tier edge -n 32 --runs 1 > $OUT/validate-qwen8-edge.txt 2>&1; echo "validate qwen8 edge rc=$?"; tail -4 $OUT/validate-qwen8-edge.txt
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 4 --format mlx --bits 4 -o $m/qwen4 > /dev/null 2>&1
ZF_CUDA_GRAPHS=0 timeout 90 ncu --clock-control none --metrics gpu__time_duration.sum --csv -k regex:"qi8_qmm|qd_pair" $B/zf bench $m/qwen4 -p 1 -n 3 -r 1 --backend cuda --tier edge > $OUT/ncu-qwen4.csv 2> /dev/null; echo "ncu rc=$? $(( $(date +%s) - t0 )) s"
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --format mlx --bits 4 -o $m/qwen48 > /dev/null 2>&1; echo "synth qwen48 rc=$? $(( $(date +%s) - t0 )) s"
for side in B A; do
  L=$B/libzfast_cuda.so; [ $side = A ] && L=$A/b/libzfast_cuda.so
  left=$(( 585 - ($(date +%s) - t0) )); [ $left -lt 40 ] && break
  echo -n "qwen48 edge $side: "; ZF_CUDA_LIB=$L timeout $left $B/zf bench $m/qwen48 -p 64 -n 16 -r 3 --backend cuda --tier edge -o $OUT/bench-qwen48-edge-$side.json 2>&1 | tr '\r' '\n' | grep -E "^(prefill|decode) +[0-9]+ tokens|roofline" | tr -s ' ' | tr '\n' ' '; echo " $(( $(date +%s) - t0 )) s"
done
echo "total $(( $(date +%s) - t0 )) s"
