#!/usr/bin/env bash
# session 19 run 7: does the one-wave residency cap help the other decode kernels? lab-qcap.patch (on 0a6cdc7):
# ZF_QCAP=1 pads the shared memory of the exact decode kernels (qd_launch: qd_pair, qd_combine) and the int8
# one-row qmm so a grid of r <= 4 CTAs an SM lands r to an SM; 2: r + 1. One build, the setting alternated.
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo 0a6cdc7)+lab-qcap
. scripts/gpu-lab.sh
{ cmake -S . -B $LAB_B -G Ninja $LAB_CMAKE && cmake --build $LAB_B -j 16 --target zf zfast_cuda zf_cuda_moe_bench; } > $OUT/build.log 2>&1
echo "build rc=$? $(lab_elapsed) s"
lab_models smol qwen8
for i in 1 2; do for q in 0 1 2; do
  (cd $LAB_B && ZF_QCAP=$q timeout 60 ./zf_cuda_moe_bench --tokens 1 > $OUT/moe-q$q-$i.txt 2>&1)
  echo "moe q=$q $i: $(grep -E '\| (exact|approx) \| 1 \|' $OUT/moe-q$q-$i.txt | awk -F'|' '{printf "%s %s %s;", $2, $3, $7}')"
done; done
for i in 1 2; do for mt in smol.gguf:stable qwen8:stable qwen8:edge; do IFS=: read mod tier <<< "$mt"
  for q in 0 1 2; do lab_bench B $mod 16 $tier ZF_QCAP=$q; done
done; done
mkdir -p $OUT/r7 && mv $OUT/moe-* $OUT/r7/ && tar -czf $OUT/r7.tgz -C $OUT r7 && rm -rf $OUT/r7
echo "total $(lab_elapsed) s"
