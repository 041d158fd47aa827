#!/usr/bin/env bash
# session 15 run 6: zf_attention_decode normalizes q and k itself (Qwen3's q_norm/k_norm: two launches a layer
# fewer); plugin ABI 6, so A = b49b76b is built with its own binaries. test_cuda_model (the op with and without the
# norms against the CPU, graph replay), test_cuda (self-tests), memcheck of test_cuda_model (quick); --compare
# cpu,cuda and --backend cuda on tiny synthetic qwen3_moe (GGUF, MLX) and llama; decode A/B (8-layer Qwen3 shape,
# edge and stable) alternated twice; the 48-layer Qwen3-30B-A3B shape, edge, B and A.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=b49b76b+qk_norm_fused
B=$ROOT/build-gpu; A=/tmp/zfA; t0=$(date +%s)
mkdir -p $A/src && tar -xf .lab7/A.tar -C $A/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 10 --target zf zfast_cuda test_cuda_model test_cuda; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 6 --target zf zfast_cuda; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s; B zf: $(ls $B/zf 2>&1 | wc -l) A zf: $(ls $A/b/zf 2>&1 | wc -l)"
grep -h -E "error" $OUT/build.log | head -5
timeout 120 $B/tests/cuda/test_cuda_model > $OUT/test_cuda_model.txt 2>&1; echo "test_cuda_model rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL" $OUT/test_cuda_model.txt | head -8
timeout 100 $B/tests/cuda/test_cuda > $OUT/test_cuda.txt 2>&1; echo "test_cuda rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda.txt | head -5
ZF_TEST_QUICK=1 timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/cuda/test_cuda_model > $OUT/memcheck-model.txt 2>&1; echo "memcheck model rc=$? $(( $(date +%s) - t0 )) s"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-model.txt | tail -2
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset tiny --format gguf --quant q4_1 -o $m/llama.gguf >/dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset tiny --format gguf --quant q8_0 -o $m/moe.gguf >/dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o $m/moe-mlx >/dev/null 2>&1
for f in llama.gguf moe.gguf moe-mlx; do
  timeout 60 $B/zf validate $m/$f -n 64 --runs 2 --compare cpu,cuda -o $OUT/compare-$f.json > /tmp/c.txt 2>&1; echo "compare $f rc=$? $(grep verdict /tmp/c.txt)"
  timeout 60 $B/zf validate $m/$f -n 64 --runs 2 --backend cuda > /tmp/c.txt 2>&1; echo "validate cuda $f rc=$? $(grep verdict /tmp/c.txt)"
done
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1; echo "synth qwen8 rc=$? $(( $(date +%s) - t0 )) s"
for i in 1 2; do for side in A B; do for tier in edge stable; do
  Z=$B/zf; [ $side = A ] && Z=$A/b/zf
  echo -n "$side qwen8 $tier: "; timeout 60 $Z bench $m/qwen8 -p 16 -n 64 -r 3 --backend cuda --tier $tier 2>&1 | tr '\r' '\n' | grep -E "^decode +[0-9]+ tokens" | tr -s ' '
done; done; done
echo "benches done $(( $(date +%s) - t0 )) s"
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --format mlx --bits 4 -o $m/qwen48 > /dev/null 2>&1; echo "synth qwen48 rc=$? $(( $(date +%s) - t0 )) s"
for side in B A; do
  Z=$B/zf; [ $side = A ] && Z=$A/b/zf
  left=$(( 585 - ($(date +%s) - t0) )); [ $left -lt 40 ] && break
  echo -n "qwen48 edge $side: "; timeout $left $Z bench $m/qwen48 -p 64 -n 16 -r 3 --backend cuda --tier edge -o $OUT/bench-qwen48-edge-$side.json 2>&1 | tr '\r' '\n' | grep -E "^(prefill|decode) +[0-9]+ tokens|roofline" | tr -s ' ' | tr '\n' ' '; echo " $(( $(date +%s) - t0 )) s"
done
echo "total $(( $(date +%s) - t0 )) s"
