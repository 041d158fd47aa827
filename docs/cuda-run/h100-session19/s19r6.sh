#!/usr/bin/env bash
# session 19 run 6: A = HEAD (4fddd49), B = the int8 one-token swiglu with its shared memory padded so a one-wave
# grid lands ceil(CTAs / SMs) to an SM (one more when chained; qi8_sw_launch_smem). B's MoE tests, the MoE bench at
# 1 and 4 tokens and the Qwen3-shape decode in the edge tier (the int8 kernels), A/B alternated.
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo 4fddd49)+s19r6
. scripts/gpu-lab.sh
lab_build .lab7/A.tar "zf zfast_cuda zf_cuda_moe_bench test_cuda_moe test_cuda_model" "zf zfast_cuda zf_cuda_moe_bench"
lab_tests test_cuda_moe test_cuda_model
lab_models qwen8
for i in 1 2; do for side in A B; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b
  for t in 1 4; do (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens $t > $OUT/moe-$side-t$t-$i.txt 2>&1)
  echo "moe $side t=$t $i: $(grep -E '\| approx \| '$t' \|' $OUT/moe-$side-t$t-$i.txt | awk -F'|' '{printf "%s %s;", $2, $7}')"; done
done; done
for i in 1 2; do for p in 16 1024; do lab_bench A qwen8 $p edge; lab_bench B qwen8 $p edge; done; done
mkdir -p $OUT/r6 && mv $OUT/moe-* $OUT/r6/ && tar -czf $OUT/r6.tgz -C $OUT r6 && rm -rf $OUT/r6
echo "total $(lab_elapsed) s"
