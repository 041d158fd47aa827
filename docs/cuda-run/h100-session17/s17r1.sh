#!/usr/bin/env bash
# session 17 run 1 (prepared in session 16). Before the call, here:
#   git archive -o .lab7/A.tar HEAD && git apply .lab7/patches/attn-tiles-s17.patch .lab7/patches/fused-qmm-s17.patch
# B = the tree: (1) the decode attention's tiles of up to 128 keys (~100 KB in flight per block instead of ~27 KB)
# and the prefill attention through the same tiles (zf_cu_attend_tiles in attend.cuh); (2) zf_swiglu_qmm and
# zf_add_rms_norm_qmm (the one-row qmm kernel staging swiglu(g, u) or rms_norm(x + r); plugin ABI 7), used by the
# llama decode step (3 kernels a layer fewer on the GPU).
# A = HEAD (ABI 6): its own zf and plugin. Tests on B (test_cuda_model: attention cases; test_cuda: self-tests;
# test_cuda_moe: the new swiglu_qmm / add_rms_norm_qmm cases), memcheck, compares (the tiny llama and the
# SmolLM2-shaped file exercise the fused decode step); decode A/B at 4 contexts (SmolLM2 shape) and 2 (Qwen3 8
# layers), stable and edge for the SmolLM2 shape at p=16 (edge runs the fused ops' compositions).
# If a patch fails, rerun with only the other one applied.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo s16)+tiles128+swiglu_qmm
B=$ROOT/build-gpu; A=/tmp/zfA; t0=$(date +%s)
mkdir -p $A/src && tar -xf .lab7/A.tar -C $A/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 10 --target zf zfast_cuda test_cuda test_cuda_model test_cuda_moe; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 6 --target zf zfast_cuda; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s; A: $(ls $A/b/zf $A/b/libzfast_cuda.so 2>&1 | tr '\n' ' ')"
grep -E "error" $OUT/build.log | head -5
for t in test_cuda_moe test_cuda_model test_cuda; do
  timeout 120 $B/tests/cuda/$t > $OUT/$t.txt 2>&1; echo "$t rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL|SKIP|skipped" $OUT/$t.txt | head -5
done
ZF_TEST_QUICK=1 timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/cuda/test_cuda_model > $OUT/memcheck-model.txt 2>&1; echo "memcheck rc=$? $(( $(date +%s) - t0 )) s"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-model.txt | tail -2
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o $m/moe-mlx >/dev/null 2>&1
for f in moe-mlx smol.gguf; do
  timeout 90 $B/zf validate $m/$f -n 64 --runs 1 --compare cpu,cuda -o $OUT/compare-$f.json > /tmp/c.txt 2>&1; echo "compare $f rc=$? $(grep verdict /tmp/c.txt)"
done
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1
for i in 1 2; do for side in A B; do for mp in smol.gguf:16:stable smol.gguf:16:edge smol.gguf:256:stable smol.gguf:1024:stable smol.gguf:3000:stable qwen8:16:stable qwen8:1024:stable; do
  IFS=: read mod p tier <<< "$mp"
  Z=$B/zf; [ $side = A ] && Z=$A/b/zf
  left=$(( 540 - ($(date +%s) - t0) )); [ $left -lt 20 ] && break
  echo -n "$side $mod $tier p=$p: "; timeout $left $Z bench $m/$mod -p $p -n 32 -r 3 --backend cuda --tier $tier > /tmp/b.txt 2>&1; echo -n "rc=$? "
  tr '\r' '\n' < /tmp/b.txt | grep -E "^(prefill|decode) +[0-9]+ tokens" | tr -s ' ' | tr '\n' ' ' | grep . || tail -n 2 /tmp/b.txt; echo
done; done; done
echo "total $(( $(date +%s) - t0 )) s"
