#!/usr/bin/env bash
# session 19 run 3: where the one-token int8 MoE kernels' time goes. The tree carries a lab patch
# (lab-stages.patch, not committed): ZF_LAB=N makes qi8_swiglu_kernel and qi8_combine_kernel stop early
# (1: right after the PDL wait; 2: after every copy has landed; 3: after the copies and the x staging;
# 4: everything but the x staging; 0: the whole kernel). Results are wrong for N > 0: only the times count.
# Then ncu's per-SASS-instruction counters of both kernels (lab 0, weights in L2).
ROOT=$PWD; . scripts/gpu-env.sh
B=$ROOT/build-gpu; T0=$(date +%s)
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zfast_cuda zf_cuda_moe_bench; } > $OUT/build.log 2>&1
echo "build rc=$? $(($(date +%s) - T0)) s"
for L in 8 1; do for lab in 0 1 2 3 4 0; do
  (cd $B && ZF_LAB=$lab timeout 60 ./zf_cuda_moe_bench --tokens 1 --layers $L > $OUT/lab$lab-L$L.txt 2>&1)
  echo "layers $L lab $lab: $(grep -E '\| approx \| 1 \|' $OUT/lab$lab-L$L.txt | awk -F'|' '{printf "%s %s; ", $2, $7}')"
done; done
for k in qi8_swiglu_kernel qi8_combine_kernel; do
  (cd $B && timeout 150 ncu --clock-control none --section SourceCounters --section WarpStateStats --import-source no \
     -k "regex:$k" -s 20 -c 1 -o $OUT/$k ./zf_cuda_moe_bench --tokens 1 --layers 1 > $OUT/ncu-$k.log 2>&1)
  echo "ncu $k rc=$?"
  ncu -i $OUT/$k.ncu-rep --page source --csv --print-source sass > $OUT/sass-$k.csv 2>&1; echo "sass rc=$? $(wc -l < $OUT/sass-$k.csv) lines"
  rm -f $OUT/$k.ncu-rep; gzip $OUT/sass-$k.csv
done
echo "total $(($(date +%s) - T0)) s"
