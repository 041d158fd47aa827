#!/usr/bin/env bash
# session 16 run 1 (prepared at the end of session 15): the tree as committed. test_cuda_model first (its max_ctx
# 70000 case, e8b1c0e, has never run on a GPU), then test_cuda, test_cuda_moe, memcheck of test_cuda_model (quick),
# --compare cpu,cuda and --backend cuda on the tiny synthetic models.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=${ZF_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
B=$ROOT/build-gpu; t0=$(date +%s)
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zf zfast_cuda test_cuda_model test_cuda test_cuda_moe; } > $OUT/build.log 2>&1
echo "build rc=$? $(( $(date +%s) - t0 )) s"; grep -E "error" $OUT/build.log | head -5
for t in test_cuda_model test_cuda test_cuda_moe; do
  timeout 150 $B/tests/cuda/$t > $OUT/$t.txt 2>&1; echo "$t rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL" $OUT/$t.txt | head -6
done
ZF_TEST_QUICK=1 timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/cuda/test_cuda_model > $OUT/memcheck-model.txt 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-model.txt | tail -2
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset tiny --format gguf --quant q4_1 -o $m/llama.gguf >/dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset tiny --format gguf --quant q8_0 -o $m/moe.gguf >/dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o $m/moe-mlx >/dev/null 2>&1
for f in llama.gguf moe.gguf moe-mlx; do
  timeout 60 $B/zf validate $m/$f -n 64 --runs 2 --compare cpu,cuda -o $OUT/compare-$f.json > /tmp/c.txt 2>&1; echo "compare $f rc=$? $(grep verdict /tmp/c.txt)"
done
echo "total $(( $(date +%s) - t0 )) s"
# where a SmolLM2-shaped stable decode spends its time: per-kernel (no graph, L2 not flushed)
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf >/dev/null 2>&1
timeout 60 $B/zf bench $m/smol.gguf -p 16 -n 64 -r 3 --backend cuda 2>&1 | tr '\r' '\n' | grep -E "^(prefill|decode) +[0-9]+ tokens|roofline" | tr -s ' ' | tr '\n' ' '; echo
ZF_CUDA_GRAPHS=0 timeout 150 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv $B/zf bench $m/smol.gguf -p 1 -n 4 -r 1 --backend cuda > $OUT/ncu-smol.csv 2> $OUT/ncu-smol.err; echo "ncu rc=$? $(( $(date +%s) - t0 )) s"; wc -l $OUT/ncu-smol.csv
echo "total $(( $(date +%s) - t0 )) s"
