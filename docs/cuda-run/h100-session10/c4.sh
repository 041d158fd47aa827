#!/usr/bin/env bash
# Session 10 call 4: ZF_LAB_RAW bits (1 pair kernel copies x raw first, 2 combine does) in one plugin, alternated.
set -u
R=$PWD
ROOT=$R; . scripts/gpu-env.sh
export ZF_COMMIT=${ZF_COMMIT:-lab}
B=$R/build-gpu
(cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && cmake --build $B -j 16 --target zfast_cuda zf_cuda_moe_bench test_cuda_moe) > $OUT/build.log 2>&1 || { tail -30 $OUT/build.log; exit 1; }
for v in 3 0; do echo "== test ZF_LAB_RAW=$v"; ZF_LAB_RAW=$v $B/tests/cuda/test_cuda_moe 2>&1 | tail -1; done
{
for i in 1 2 3; do for v in 0 1 2 3; do
  echo "== raw $v round $i"; ZF_LAB_RAW=$v $B/zf_cuda_moe_bench --tokens 1 2>&1 | grep -E "approx|exact"
done; done
for v in 0 3; do echo "== raw $v, 4 tokens"; ZF_LAB_RAW=$v $B/zf_cuda_moe_bench --tokens 4 2>&1 | grep -E "approx|exact"; done
} | tee $OUT/ab.txt | grep -E "==|block"
