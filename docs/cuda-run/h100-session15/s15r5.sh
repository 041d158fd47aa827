#!/usr/bin/env bash
# session 15 run 5: the int8 combine (qi8_combine_kernel) quantizes x straight from global memory and, chained in
# moe_experts, starts its weight copies before the PDL wait. A = b49b76b's plugin; B = the tree (int8 combine from 4
# tokens, as before); C = the tree with ZF_CU_QI8_COMBINE_MIN_M 1 (int8 combine at every token count; its own
# test_cuda_moe with the matching expectation). Plugins swapped by ZF_CUDA_LIB inside B's binaries for the benches.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=b49b76b+combine_i8_early
B=$ROOT/build-gpu; A=/tmp/zfA; C=/tmp/zfC; t0=$(date +%s)
mkdir -p $A/src $C/src && tar -xf .lab7/A.tar -C $A/src
tar --exclude=./build-gpu --exclude=./.lab7 --exclude=./.gpudeps -cf - . | tar -xf - -C $C/src
sed -i 's/#define ZF_CU_QI8_COMBINE_MIN_M 4/#define ZF_CU_QI8_COMBINE_MIN_M 1/' $C/src/src/cuda/qmm.cuh
sed -i 's/(op == OP_COMBINE \&\& slots <= 8 \&\& m >= 4)/(op == OP_COMBINE \&\& slots <= 8 \&\& m >= 1)/' $C/src/tests/cuda/test_cuda_moe.c
grep -c "COMBINE_MIN_M 1" $C/src/src/cuda/qmm.cuh; grep -c "m >= 1)) &&" $C/src/tests/cuda/test_cuda_moe.c
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 8 --target zf zfast_cuda test_cuda_moe zf_cuda_moe_bench; } > $OUT/build.log 2>&1 &
{ cmake -S $C/src -B $C/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $C/b -j 6 --target zfast_cuda test_cuda_moe; } > $OUT/buildC.log 2>&1 &
{ cmake -S $A/src -B $A/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $A/b -j 2 --target zfast_cuda; } > $OUT/buildA.log 2>&1 &
wait; echo "builds done $(( $(date +%s) - t0 )) s: $(ls $A/b/libzfast_cuda.so $C/b/libzfast_cuda.so $B/zf_cuda_moe_bench 2>&1 | wc -l) of 3"
grep -h -E "error" $OUT/build.log $OUT/buildC.log | head -5
timeout 100 $B/tests/cuda/test_cuda_moe > $OUT/test_cuda_moe-B.txt 2>&1; echo "test_cuda_moe B rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_moe-B.txt | head -6
timeout 100 $C/b/tests/cuda/test_cuda_moe > $OUT/test_cuda_moe-C.txt 2>&1; echo "test_cuda_moe C rc=$?"; grep -E "checks|FAIL" $OUT/test_cuda_moe-C.txt | head -6
ZF_TEST_QUICK=1 timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 $C/b/tests/cuda/test_cuda_moe > $OUT/memcheck-C.txt 2>&1; echo "memcheck C rc=$? $(( $(date +%s) - t0 )) s"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-C.txt | tail -2
for i in 1 2; do for side in A B C; do
  L=$B/libzfast_cuda.so; [ $side = A ] && L=$A/b/libzfast_cuda.so; [ $side = C ] && L=$C/b/libzfast_cuda.so
  echo "== $side tokens 1"; ZF_CUDA_LIB=$L timeout 60 $B/zf_cuda_moe_bench --tokens 1 2>&1 | grep -E "^\| (gather_qmm_combine|moe block)" | grep -E "approx|exact"
done; done
for side in A B; do
  L=$B/libzfast_cuda.so; [ $side = A ] && L=$A/b/libzfast_cuda.so
  echo "== $side tokens 4"; ZF_CUDA_LIB=$L timeout 60 $B/zf_cuda_moe_bench --tokens 4 2>&1 | grep -E "^\| (gather_qmm_combine|moe block)" | grep -E "approx"
done
echo "moe benches done $(( $(date +%s) - t0 )) s"
m=/tmp/sm; mkdir -p $m
$B/zf synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 -o $m/qwen8 > /dev/null 2>&1; echo "synth qwen8 rc=$?"
for i in 1 2; do for side in A C; do
  L=$B/libzfast_cuda.so; [ $side = A ] && L=$A/b/libzfast_cuda.so; [ $side = C ] && L=$C/b/libzfast_cuda.so
  echo -n "$side qwen8 edge: "; ZF_CUDA_LIB=$L timeout 60 $B/zf bench $m/qwen8 -p 16 -n 64 -r 3 --backend cuda --tier edge 2>&1 | tr '\r' '\n' | grep -E "^decode +[0-9]+ tokens" | tr -s ' '
done; done
echo "total $(( $(date +%s) - t0 )) s"
