#!/usr/bin/env bash
# session 18 run 1 (prepared in session 17). Before the call, here:
#   git archive -o .lab7/A.tar HEAD && git apply .lab7/patches/attn-tk-const-s18.patch
# B = the tree: zf_cu_attend_tiles with its keys per tile as a template constant (TK = 32, 64, 128; the decode
# kernel picks among the three by a.tk; the prefill is TK = 32). Session 17 measured the shared tile loop 2-4% slower
# than the decode-only loop it replaced at 16 positions (dec_kernel 7.07 vs 6.30 us a SmolLM2 layer under ncu),
# with 32- or 64-key tiles alike; the old loop had its tile size as a constant. ptxas (local): dec_kernel 64 -> 104-110
# registers, no spills; attn_kernel 64 -> 48-58.
# A = HEAD. Tests on B, compares, then decode and prefill A/B, alternated twice.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo s17)+tk-const
B=$ROOT/build-gpu; A=/tmp/zfA; t0=$(date +%s)
mkdir -p $A/src && tar -xf .lab7/A.tar -C $A/src
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 10 --target zf zfast_cuda test_cuda test_cuda_model; } > $OUT/build.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 6 --target zf zfast_cuda; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s"; grep -E "error" $OUT/build.log | head -5
for t in test_cuda_model test_cuda; do
  timeout 120 $B/tests/cuda/$t > $OUT/$t.txt 2>&1; echo "$t rc=$? $(( $(date +%s) - t0 )) s"; grep -E "checks|FAIL|SKIP|skipped" $OUT/$t.txt | head -5
done
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o $m/smol.gguf > /dev/null 2>&1
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1
timeout 90 $B/zf validate $m/smol.gguf -n 64 --runs 1 --compare cpu,cuda -o $OUT/compare-smol.json > /tmp/c.txt 2>&1; echo "compare smol rc=$? $(grep verdict /tmp/c.txt)"
bench() { # side model p tier
  local Z=$B/zf; [ $1 = A ] && Z=$A/b/zf
  local left=$(( 540 - ($(date +%s) - t0) )); [ $left -lt 20 ] && return
  echo -n "$1 $2 $4 p=$3: "; timeout $left $Z bench $m/$2 -p $3 -n 32 -r 3 --backend cuda --tier $4 > /tmp/b.txt 2>&1; echo -n "rc=$? "
  tr '\r' '\n' < /tmp/b.txt | grep -E "^(prefill|decode) +[0-9]+ tokens" | tr -s ' ' | cut -d' ' -f1-7 | tr '\n' ' ' | grep . || tail -n 2 /tmp/b.txt; echo
}
for i in 1 2; do for mp in smol.gguf:16 smol.gguf:256 smol.gguf:1024 smol.gguf:3000 qwen8:16 qwen8:1024; do IFS=: read mod p <<< "$mp"
  bench A $mod $p stable; bench B $mod $p stable
done; done
echo "total $(( $(date +%s) - t0 )) s"
