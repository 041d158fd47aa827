#!/usr/bin/env bash
# session 18 run 6: the benchmarks on their shared module (bench/cuda_common.c) and moe.cu's initialised flag:
# build, test_cuda_moe, zf_cuda_bench --quick, zf_cuda_moe_bench at one token with the weights rotated over 8 layers
# (from HBM) and over 1 (in L2: the kernels' time without HBM).
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=${ZF_COMMIT:-s18r6}
B=$ROOT/build-gpu; t0=$(date +%s)
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zfast_cuda zf_cuda_bench zf_cuda_moe_bench test_cuda_moe; } > $OUT/build.log 2>&1
echo "build rc=$? $(( $(date +%s) - t0 )) s"; grep -E "error" $OUT/build.log | head -5
timeout 120 $B/tests/cuda/test_cuda_moe > $OUT/test_cuda_moe.txt 2>&1; echo "test_cuda_moe rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_moe.txt | head -5
timeout 120 $B/zf_cuda_bench --quick --json $OUT/bench.jsonl > $OUT/bench.txt 2>&1; echo "zf_cuda_bench rc=$?"; grep -E "copy|decode (add_)?rms_norm" $OUT/bench.txt
for l in 8 1 8 1; do timeout 60 $B/zf_cuda_moe_bench --tokens 1 --layers $l > $OUT/moe-l$l.txt 2>&1; echo "moe --layers $l rc=$?"; grep -E "copy|\| 1 \| " $OUT/moe-l$l.txt | grep -vE "stock" ; done
echo "total $(( $(date +%s) - t0 )) s"
