#!/usr/bin/env bash
# Session 9, call 8: the final tree (B) after the shared epilogue refactor: CUDA tests, memcheck, the MoE bench;
# A/B against its parent (A = df76147) at 1, 4 and 64 tokens.
set -u
R=$PWD
export CMAKE_PREFIX_PATH=$R/.gpudeps/usr LD_LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export PKG_CONFIG_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu/pkgconfig CPATH=$R/.gpudeps/usr/include LIBRARY_PATH=$R/.gpudeps/usr/lib/x86_64-linux-gnu
export ZF_COMMIT=${ZF_COMMIT:-lab}
rm -rf /tmp/v && mkdir -p /tmp/v && tar -xf $R/.lab2/A.tar -C /tmp/v
(cd /tmp/v && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON > /dev/null && nice cmake --build build -j 6 --target zfast_cuda > $OUT/a-build.log 2>&1; echo "A build exit $?" >> $OUT/a-build.log) &
STEPS="build test moe sanitizer" bash scripts/gpu-check.sh $OUT/c > /dev/null 2>&1
wait; tail -n1 $OUT/a-build.log
grep -E "^=== .*exit" $OUT/c/logs.txt
grep -E "FAIL|checks|ERROR SUMMARY" $OUT/c/logs.txt | head -20
cp $OUT/c/logs.txt $OUT/check-logs.txt
grep -A42 "^| what" $OUT/c/logs.txt | head -44 > $OUT/moe_bench.txt
B=$R/build-gpu; A=/tmp/v/build/libzfast_cuda.so
{
for i in 1 2; do for P in $A $B/libzfast_cuda.so; do
  echo "== $P $i"; for t in 1 4 64; do ZF_CUDA_LIB=$P $B/zf_cuda_moe_bench --tokens $t 2>&1 | grep -E "block"; done
done; done
} 2>&1 | tee $OUT/ab.txt
