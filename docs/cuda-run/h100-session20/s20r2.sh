#!/usr/bin/env bash
# session 20 run 2 (prepared in session 19). Before the call, here:
#   bash scripts/gpu-deps.sh; mkdir -p .lab7 && git archive -o .lab7/A.tar HEAD
#   git apply docs/cuda-run/h100-session19/prepared/cluster-combine-s20.patch
# carry [".gpudeps", ".lab7"]. B = the tree: the one-token int8 combine as a cluster of 8 CTAs of 8 rows, each
# quantizing only its slot's x and sending the codes to the others (st.async), instead of every CTA quantizing all
# 8 slots (1.1-1.7 us of the call, session 19 run 12); one token of the edge combine now takes it (it took the f32
# kernel). ZF_QI8_CL=4 runs clusters of 4 (2 slots each). A = HEAD. Tests first: test_cuda_moe compares the one-token
# approx combine with the CPU's int8 variant (it compared with the fast one) and moe_experts with its two calls.
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo s19)+cluster-combine
. scripts/gpu-lab.sh
lab_build .lab7/A.tar "zf zfast_cuda zf_cuda_moe_bench test_cuda_moe test_cuda_model" "zf zfast_cuda zf_cuda_moe_bench"
lab_tests test_cuda_moe test_cuda_model
ZF_TEST_QUICK=1 timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 $LAB_B/tests/cuda/test_cuda_moe > $OUT/memcheck-moe.txt 2>&1
echo "memcheck moe rc=$? $(lab_elapsed) s"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-moe.txt | tail -2
lab_models qwen8
for i in 1 2; do for side in A B B4; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b; cl=8; [ $side = B4 ] && cl=4
  for t in 1 4; do (cd $d && ZF_QI8_CL=$cl timeout 60 ./zf_cuda_moe_bench --tokens $t > $OUT/moe-$side-t$t-$i.txt 2>&1)
  echo "moe $side t=$t $i: $(grep -E '\| approx \| '$t' \|' $OUT/moe-$side-t$t-$i.txt | awk -F'|' '{printf "%s %s;", $2, $7}')"; done
done; done
for i in 1 2; do for p in 16 1024; do lab_bench A qwen8 $p edge; lab_bench B qwen8 $p edge; lab_bench B qwen8 $p edge ZF_QI8_CL=4; done; done
mkdir -p $OUT/r2 && mv $OUT/moe-*.txt $OUT/r2/ && tar -czf $OUT/r2.tgz -C $OUT r2 && rm -rf $OUT/r2
echo "total $(lab_elapsed) s"
