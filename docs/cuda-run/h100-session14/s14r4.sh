#!/usr/bin/env bash
# session 14 run 4: zf_attention_decode (rope + cache rows + attention in one kernel, the position read on the
# device) and one-token model steps recorded once as a CUDA graph and replayed. Builds the tree (B) and 9338b81
# (A, its own binaries: plugin ABI 4 vs 5) side by side; test_cuda_model (the new op against the CPU, graph
# replays at positions written between launches, whole models with graphs on and off), test_cuda (attention
# refactored onto cuda/attend.cuh); decode A / B graphs=1 / B graphs=0 alternated twice on synthetic
# SmolLM2-shaped and 8-layer Qwen3-shaped models; zf validate --backend cuda (stock vs stable: re-recording);
# the 48-layer Qwen3-30B-A3B-shaped model, edge, graphs on and off; memcheck of test_cuda_model if time is left
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=9338b81+attention_decode
B=$ROOT/build-gpu; A=/tmp/zfA
t0=$(date +%s)
mkdir -p $A/src && tar -xf .lab6/A.tar -C $A/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 10 --target zf zfast_cuda test_cuda_model test_cuda; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 6 --target zf zfast_cuda; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s; B zf: $(ls $B/zf 2>&1 | wc -l) A zf: $(ls $A/b/zf 2>&1 | wc -l)"
grep -E "error" $OUT/build.log | head -5
timeout 120 $B/tests/cuda/test_cuda_model > $OUT/test_cuda_model.txt 2>&1; echo "test_cuda_model rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_model.txt | head -8
timeout 120 $B/tests/cuda/test_cuda > $OUT/test_cuda.txt 2>&1; echo "test_cuda rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda.txt | head -5
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1; echo "synth smol rc=$?"
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1; echo "synth qwen8 rc=$? $(( $(date +%s) - t0 )) s"
for i in 1 2; do for side in A B1 B0; do
  for mod in smol.gguf qwen8; do
    Z=$B/zf; g=1; [ $side = A ] && Z=$A/b/zf; [ $side = B0 ] && g=0
    echo -n "$side $mod edge: "; ZF_CUDA_GRAPHS=$g timeout 60 $Z bench $m/$mod -p 16 -n 64 -r 3 --backend cuda --tier edge > /tmp/b.txt 2>&1; echo -n "rc=$? "
    tr '\r' '\n' < /tmp/b.txt | grep -E "^decode +[0-9]+ tokens" | tr -s ' ' | grep . || tail -2 /tmp/b.txt
  done
done; done
echo "benches done $(( $(date +%s) - t0 )) s"
timeout 90 $B/zf validate $m/smol.gguf --backend cuda -n 32 --runs 2 -o $OUT/validate-smol-cuda.json > $OUT/validate.txt 2>&1; echo "validate rc=$?"; tail -6 $OUT/validate.txt
echo "validate done $(( $(date +%s) - t0 )) s"
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --format mlx --bits 4 -o $m/qwen48 > /dev/null 2>&1; echo "synth qwen48 rc=$? $(( $(date +%s) - t0 )) s"
for g in 1 0; do
  echo -n "qwen48 edge graphs=$g: "; ZF_CUDA_GRAPHS=$g timeout 110 $B/zf bench $m/qwen48 -p 64 -n 16 -r 3 --backend cuda --tier edge -o $OUT/bench-qwen48-edge-g$g.json 2>&1 | tr '\r' '\n' | grep -E "^(prefill|decode) +[0-9]+ tokens|roofline" | tr -s ' ' | tr '\n' ' '; echo " $(( $(date +%s) - t0 )) s"
done
left=$(( 570 - ($(date +%s) - t0) ))
if [ $left -gt 60 ]; then
  ZF_TEST_QUICK=1 timeout $left compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/cuda/test_cuda_model > $OUT/memcheck-model.txt 2>&1; echo "memcheck test_cuda_model rc=$?"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-model.txt | tail -2
fi
echo "total $(( $(date +%s) - t0 )) s"
