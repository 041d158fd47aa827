#!/usr/bin/env bash
# session 19 run 4: the copy lab (.lab7/copylab.cu, with and without PDL) and the library's int8 swiglu with
# lab-stages.patch: ZF_LAB=2 stops after every copy has landed, 5 = 2 without the scale/bias copies, 6 = 2
# without the x copy. Weights from HBM (--layers 8).
ROOT=$PWD; . scripts/gpu-env.sh
B=$ROOT/build-gpu; T0=$(date +%s)
(cd .lab7 && nvcc -O3 -arch=sm_90a -std=c++17 -o copylab copylab.cu && ./copylab > $OUT/copylab2.txt 2>&1); echo "copylab rc=$?"
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zfast_cuda zf_cuda_moe_bench; } > $OUT/build.log 2>&1
echo "build rc=$? $(($(date +%s) - T0)) s"
mkdir -p $OUT/r4
for lab in 0 2 5 6 2 5 6 0; do
  (cd $B && ZF_LAB=$lab timeout 60 ./zf_cuda_moe_bench --tokens 1 --layers 8 > $OUT/r4/lab$lab.txt 2>&1)
  echo "lab $lab: $(grep -E '\| approx \| 1 \|' $OUT/r4/lab$lab.txt | head -1 | awk -F'|' '{printf "%s %s; ", $2, $7}')"
done
echo "total $(($(date +%s) - T0)) s"
