#!/usr/bin/env bash
# Session 10 call 8: the final tree (zf_moe_experts; ABI 4) vs A = 5dc7162, each with its own binaries
# (the plugin ABI differs); B's test_cuda_moe + memcheck; test_cuda_model (whole models use moe_experts).
set -u
R=$PWD
ROOT=$R; . scripts/gpu-env.sh
export ZF_COMMIT=${ZF_COMMIT:-lab}
B=$R/build-gpu
rm -rf /tmp/a && mkdir -p /tmp/a && tar -xf .lab3/A.tar -C /tmp/a
(cd /tmp/a && ZF_COMMIT=5dc7162 cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && cmake --build build -j 8 --target zfast_cuda zf_cuda_moe_bench > $OUT/a-build.log 2>&1; echo "A build $?" >> $OUT/a-build.log) &
(cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && cmake --build $B -j 8 --target zfast_cuda zf_cuda_moe_bench test_cuda_moe test_cuda_model zf > $OUT/b-build.log 2>&1; echo "B build $?" >> $OUT/b-build.log)
wait; tail -1 $OUT/a-build.log; tail -1 $OUT/b-build.log; grep -E "error" $OUT/b-build.log | head
$B/tests/cuda/test_cuda_moe 2>&1 | grep -E "FAIL|checks" | head -20
ZF_TEST_QUICK=1 timeout 120 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 $B/tests/cuda/test_cuda_moe 2>&1 | tail -2
{
for i in 1 2; do
  echo "== A $i"; /tmp/a/build/zf_cuda_moe_bench --tokens 1 2>&1 | grep -E "approx|exact"
  echo "== B $i"; $B/zf_cuda_moe_bench --tokens 1 2>&1 | grep -E "approx|exact"
done
echo "== B, 4 tokens"; $B/zf_cuda_moe_bench --tokens 4 2>&1 | grep -E "approx|exact"
} | tee $OUT/ab.txt
timeout 150 $B/tests/cuda/test_cuda_model 2>&1 | tail -3
