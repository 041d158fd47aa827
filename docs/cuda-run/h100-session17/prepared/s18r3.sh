#!/usr/bin/env bash
# session 18 run 3 (prepared in session 17): moe_experts' one-token edge swiglu asks L2 to prefetch the combine's
# down weights for the token's 8 experts (one cp.async.bulk.prefetch.L2 per expert's codes, scales and biases, from
# its first CTA once the ids are final), so they stream while the swiglu runs; issue 4's block was 19.21 us (12 asked).
# An alternative to (or a partner of) qi8-combine-pre, which starts the combine's own copies before its PDL wait.
# Before the call, here:
#   git archive -o .lab7/A.tar HEAD && git apply .lab7/patches/qi8-swiglu-prefetch-down-s18.patch
# A = HEAD; B = the tree. Then, if qi8-combine-pre was measured a win in run 1 and not yet committed, rerun with
# ZF_LAB_PATCH_A=.lab7/patches/qi8-combine-pre-s18.patch and that patch applied here too: the two together.
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo s17)+s18r3
. scripts/gpu-lab.sh
lab_build .lab7/A.tar "zf zfast_cuda zf_cuda_moe_bench test_cuda_moe test_cuda" "zf zfast_cuda zf_cuda_moe_bench"
lab_tests test_cuda_moe test_cuda
for i in 1 2 3; do for side in A B; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b
  (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens 1 > $OUT/moe-$side-$i.txt 2>&1); echo "moe $side $i rc=$?"; grep -E "\| 1 \| " $OUT/moe-$side-$i.txt | head -12
done; done
lab_models qwen8
for i in 1 2; do lab_bench A qwen8 16 edge; lab_bench B qwen8 16 edge; done
echo "total $(lab_elapsed) s"
