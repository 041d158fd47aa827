#!/usr/bin/env bash
# session 20 run 6: the tree as committed (the one-kernel moe_experts of runs 3-5 kept out, as
# prepared/experts1-lab.patch): test_cuda_moe with its new one-token moe_experts shapes, on the chain. carry [".gpudeps"].
export ZF_COMMIT=${ZF_COMMIT:-5e9a509}+test
. scripts/gpu-lab.sh
lab_build_b "test_cuda_moe zf_cuda_moe_bench" || exit 1
lab_tests test_cuda_moe
(cd $LAB_B && timeout 60 ./zf_cuda_moe_bench --tokens 1 > $OUT/moe-t1.txt 2>&1)
echo "moe t=1: $(grep -E '\| approx \| 1 \|' $OUT/moe-t1.txt | awk -F'|' '{printf "%s %s;", $2, $7}')"
echo "total $(lab_elapsed) s"
