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
# A = HEAD, built with its own binaries (scripts/gpu-lab.sh). If a patch fails a test, rerun with the other alone.
# HEAD itself has two CUDA changes not yet run on a GPU: the prefill and decode attention's long-context fallback to the warp
# path (2d034ce, 651c936; test_cuda_model's 40,000-key and 50,000-position cases): if those fail, they are HEAD's.
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo s17)+s18r1
. scripts/gpu-lab.sh
lab_build .lab7/A.tar "zf zfast_cuda zf_cuda_moe_bench test_cuda test_cuda_model test_cuda_moe" "zf zfast_cuda zf_cuda_moe_bench"
lab_tests test_cuda_moe test_cuda_model test_cuda
ZF_TEST_QUICK=1 timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $LAB_B/tests/cuda/test_cuda_moe > $OUT/memcheck-moe.txt 2>&1
echo "memcheck moe rc=$? $(lab_elapsed) s"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-moe.txt | tail -2
lab_models smol qwen8
lab_compare smol.gguf
for i in 1 2; do for side in A B; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b
  (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens 1 > $OUT/moe-$side-$i.txt 2>&1); echo "moe $side $i rc=$?"; grep -E "\| 1 \| " $OUT/moe-$side-$i.txt | head -12
done; done
for i in 1 2; do for mp in smol.gguf:16 smol.gguf:1024 qwen8:16 qwen8:1024; do IFS=: read mod p <<< "$mp"
  lab_bench A $mod $p stable; lab_bench B $mod $p stable
done; done
echo "total $(lab_elapsed) s"
