#!/usr/bin/env bash
# session 18 run 2 (prepared in session 17): the edge combine at one token with one output row per warp (256 CTAs
# for a Qwen3 layer's 2048 rows instead of 128, fewer than the H100's 132 SMs); two per warp above one token (at 4
# tokens two measured 22.2 -> 18.4 us against one). Stacked on qi8-combine-pre. Before the call, here:
#   git archive -o .lab7/A.tar HEAD && git apply [.lab7/patches/qi8-combine-pre-s18.patch] .lab7/patches/qi8-combine-crpw1-s18.patch
# (the first only where HEAD does not have it yet; then A gets it too, below, so only the rows per warp differ).
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo s17)+s18r2
# (the device copy has no .git: HEAD's file is read from A.tar)
tar -xOf .lab7/A.tar src/cuda/qdecode_i8.cu | grep -q "chained && a.m == 1" ||
    export ZF_LAB_PATCH_A=.lab7/patches/qi8-combine-pre-s18.patch
. scripts/gpu-lab.sh
lab_build .lab7/A.tar "zf zfast_cuda zf_cuda_moe_bench test_cuda_moe test_cuda" "zf zfast_cuda zf_cuda_moe_bench"
lab_tests test_cuda_moe test_cuda
for i in 1 2 3; do for side in A B; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b
  (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens 1 > $OUT/moe-$side-$i.txt 2>&1); echo "moe $side $i rc=$?"; grep -E "\| 1 \| " $OUT/moe-$side-$i.txt | head -12
done; done
(cd $LAB_B && timeout 60 ./zf_cuda_moe_bench --tokens 4 > $OUT/moe-B-4tok.txt 2>&1); grep -E "\| 4 \| " $OUT/moe-B-4tok.txt | head -6
echo "total $(lab_elapsed) s"
