#!/usr/bin/env bash
# session 19 run 12: where the int8 combine's time goes at one token. lab-combine.patch (on c578e8c; results wrong
# for ZF_LAB > 0): ZF_CMIN=1 sends one token to the int8 combine, ZF_CRPW=1|2 its output rows per warp (8 or 16
# rows a CTA: 256 or 128 CTAs at the Qwen3 shape), ZF_LAB stops it early (1: after the PDL wait; 2: every copy
# landed; 3: + x staging; 4: all but the staging). Weights from HBM.
ROOT=$PWD; . scripts/gpu-env.sh
B=$ROOT/build-gpu; T0=$(date +%s)
{ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON && cmake --build $B -j 16 --target zfast_cuda zf_cuda_moe_bench; } > $OUT/build.log 2>&1
echo "build rc=$? $(($(date +%s) - T0)) s"
mkdir -p $OUT/r12
for rep in 1 2; do for c in 2 1; do for lab in 0 1 2 3 4; do
  f=$OUT/r12/c$c-lab$lab-$rep.txt
  (cd $B && ZF_CMIN=1 ZF_CRPW=$c ZF_LAB=$lab timeout 60 ./zf_cuda_moe_bench --tokens 1 > $f 2>&1)
  echo "crpw $c lab $lab: $(grep -E '\| approx \| 1 \|' $f | awk -F'|' '{printf "%s %s;", $2, $7}')"
done; done; done
for c in 2 1; do f=$OUT/r12/c$c-t4.txt
  (cd $B && ZF_CRPW=$c timeout 60 ./zf_cuda_moe_bench --tokens 4 > $f 2>&1)
  echo "t=4 crpw $c: $(grep -E '\| approx \| 4 \|' $f | awk -F'|' '{printf "%s %s;", $2, $7}')"
done
tar -czf $OUT/r12.tgz -C $OUT r12 && rm -rf $OUT/r12
echo "total $(($(date +%s) - T0)) s"
