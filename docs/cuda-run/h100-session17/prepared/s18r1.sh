#!/usr/bin/env bash
# session 18 run 1 (prepared in session 17). Before the call, here:
#   git archive -o .lab7/A.tar HEAD && git apply .lab7/patches/attn-tk-const-s18.patch .lab7/patches/qi8-combine-pre-s18.patch
# B = the tree:
#  (1) attn-tk-const: zf_cu_attend_tiles with its keys per tile as a template constant (TK = 32, 64, 128; the decode
#      kernel picks by a.tk; the prefill is 32). Session 17: the shared tile loop 2-4% slower than the decode-only loop
#      it replaced at 16 positions (dec_kernel 7.07 vs 6.30 us a SmolLM2 layer under ncu), whatever the tile size;
#      and a warp stops its scores once its 4 keys are past the last (a 128-key tile at p=16 computed 128 dots).
#  (2) qi8-combine-pre: the edge one-token combine inside zf_moe_experts (a.chained) starts its scale, bias and weight
#      copies before its PDL wait and quantizes x from global memory after it (as the exact combine does); issue 4's
#      one-token block was 19.21 us (combine 7.54) against 12 (4).
# A = HEAD, built with its own binaries. If a patch fails a test, rerun with the other alone.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo s17)+s18r1
B=$ROOT/build-gpu; A=/tmp/zfA; t0=$(date +%s)
mkdir -p $A/src && tar -xf .lab7/A.tar -C $A/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 10 --target zf zfast_cuda zf_cuda_moe_bench test_cuda test_cuda_model test_cuda_moe; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 6 --target zf zfast_cuda zf_cuda_moe_bench; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s"; grep -E "error" $OUT/build.log | head -5
for t in test_cuda_moe test_cuda_model test_cuda; do
  timeout 120 $B/tests/cuda/$t > $OUT/$t.txt 2>&1; echo "$t rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL|skipped" $OUT/$t.txt | head -5
done
ZF_TEST_QUICK=1 timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/cuda/test_cuda_moe > $OUT/memcheck-moe.txt 2>&1; echo "memcheck moe rc=$? $(( $(date +%s) - t0 )) s"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-moe.txt | tail -2
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1
timeout 90 $B/zf validate $m/smol.gguf -n 64 --runs 1 --compare cpu,cuda -o $OUT/compare-smol.json > /tmp/c.txt 2>&1; echo "compare smol rc=$? $(grep verdict /tmp/c.txt)"
for i in 1 2; do for side in A B; do d=$B; [ $side = A ] && d=$A/b
  (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens 1 > $OUT/moe-$side-$i.txt 2>&1); echo "moe $side $i rc=$?"; grep -E "\| 1 \| " $OUT/moe-$side-$i.txt | head -12
done; done
bench() { # side model p
  local Z=$B/zf; [ $1 = A ] && Z=$A/b/zf
  local left=$(( 540 - ($(date +%s) - t0) )); [ $left -lt 20 ] && return
  echo -n "$1 $2 p=$3: "; timeout $left $Z bench $m/$2 -p $3 -n 32 -r 3 --backend cuda > /tmp/b.txt 2>&1; echo -n "rc=$? "
  tr '\r' '\n' < /tmp/b.txt | grep -E "^(prefill|decode) +[0-9]+ tokens" | tr -s ' ' | cut -d' ' -f1-7 | tr '\n' ' ' | grep . || tail -n 2 /tmp/b.txt; echo
}
for i in 1 2; do for mp in smol.gguf:16 smol.gguf:1024 qwen8:16 qwen8:1024; do IFS=: read mod p <<< "$mp"
  bench A $mod $p; bench B $mod $p
done; done
echo "total $(( $(date +%s) - t0 )) s"
