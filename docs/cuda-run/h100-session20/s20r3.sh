#!/usr/bin/env bash
# session 20 run 3: moe_experts at one token in the edge tier as ONE cooperative kernel (src/cuda/qexperts1.cu:
# every CTA copies its share of gate/up AND down at once, grid sync, then the combine), against HEAD (A, the int8
# swiglu then the f32 combine). Before the call, here: bash scripts/gpu-deps.sh; mkdir -p .lab7 && git archive -o
# .lab7/A.tar HEAD. carry [".gpudeps", ".lab7"]. Tests first (test_cuda_moe compares moe_experts with its two calls,
# bit for bit, at one token over 5 shapes), memcheck and synccheck, then the MoE bench and the 8-layer Qwen3 decode A/B.
export ZF_COMMIT=${ZF_COMMIT:-5e9a509}+experts1
. scripts/gpu-lab.sh
lab_build .lab7/A.tar "zf zfast_cuda zf_cuda_moe_bench test_cuda_moe test_cuda_model test_cuda" "zf zfast_cuda zf_cuda_moe_bench" || exit 1
lab_tests test_cuda_moe test_cuda_model test_cuda
for tool in memcheck synccheck; do
  ZF_TEST_QUICK=1 timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 $LAB_B/tests/cuda/test_cuda_moe > $OUT/$tool-moe.txt 2>&1
  echo "$tool moe rc=$? $(lab_elapsed) s"; grep -E "ERROR SUMMARY|checks" $OUT/$tool-moe.txt | tail -2
done
lab_models qwen8
for i in 1 2; do for side in A B; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b
  for t in 1 4; do [ $t = 4 ] && [ $i = 2 ] && continue
    (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens $t > $OUT/moe-$side-t$t-$i.txt 2>&1)
    echo "moe $side t=$t $i: $(grep -E '\| approx \| '$t' \|' $OUT/moe-$side-t$t-$i.txt | awk -F'|' '{printf "%s %s;", $2, $7}')"; done
done; done
for i in 1 2; do for p in 16 1024; do lab_bench A qwen8 $p edge; lab_bench B qwen8 $p edge; done; done
mkdir -p $OUT/r3 && mv $OUT/moe-*.txt $OUT/r3/ && tar -czf $OUT/r3.tgz -C $OUT r3 && rm -rf $OUT/r3
echo "total $(lab_elapsed) s"
