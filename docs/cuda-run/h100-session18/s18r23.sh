#!/usr/bin/env bash
# session 18 runs 2+3 in one call. A = HEAD + qi8-combine-pre; B = the tree (HEAD + pre + crpw1: the edge
# one-token combine with one row per warp); C = HEAD + pre + qi8-swiglu-prefetch-down (.lab7/C.tar).
export ZF_COMMIT=0238588+s18r23
export ZF_LAB_PATCH_A=.lab7/patches/qi8-combine-pre-s18.patch
. scripts/gpu-lab.sh
C=/tmp/zfC
rm -rf $C && mkdir -p $C/src && tar -xf .lab7/C.tar -C $C/src
{ cmake -S $C/src -B $C/b -G Ninja $LAB_CMAKE && cmake --build $C/b -j 5 --target zf zfast_cuda zf_cuda_moe_bench test_cuda_moe; } > $OUT/buildC.log 2>&1 &
pc=$!
lab_build .lab7/A.tar "zf zfast_cuda zf_cuda_moe_bench test_cuda_moe test_cuda" "zf zfast_cuda zf_cuda_moe_bench"
wait $pc; echo "C build rc=$? $(lab_elapsed) s"; grep -E "error:|FAILED:" $OUT/buildC.log | head -5
lab_tests test_cuda_moe test_cuda
timeout 120 $C/b/tests/cuda/test_cuda_moe > $OUT/test_cuda_moe-C.txt 2>&1; echo "C test_cuda_moe rc=$? $(lab_elapsed) s"; grep -E "checks|FAIL" $OUT/test_cuda_moe-C.txt | head -5
for i in 1 2 3; do for side in A B C; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b; [ $side = C ] && d=$C/b
  (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens 1 > $OUT/moe-$side-$i.txt 2>&1); echo "moe $side $i rc=$?"; grep -E "\| 1 \| " $OUT/moe-$side-$i.txt | grep -E "approx|edge" | head -6
done; done
(cd $LAB_B && timeout 60 ./zf_cuda_moe_bench --tokens 4 > $OUT/moe-B-4tok.txt 2>&1); grep -E "\| 4 \| " $OUT/moe-B-4tok.txt | head -6
(cd $LAB_A/b && timeout 60 ./zf_cuda_moe_bench --tokens 4 > $OUT/moe-A-4tok.txt 2>&1); grep -E "\| 4 \| " $OUT/moe-A-4tok.txt | head -6
lab_models qwen8
for i in 1 2; do lab_bench A qwen8 16 edge; lab_bench B qwen8 16 edge
  echo -n "C: "; timeout 60 $C/b/zf bench $LAB_M/qwen8 -p 16 -n 32 -r 3 --backend cuda --tier edge 2>&1 | tr '\r' '\n' | grep -E "^decode +[0-9]+ tokens" | tr -s ' ' | cut -d' ' -f1-7; done
echo "total $(lab_elapsed) s"
