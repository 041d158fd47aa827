#!/usr/bin/env bash
# Prepared in session 24, not yet run (lower priority than s25r1-2). carry [".gpudeps", ".lab"], .lab/A.tar =
# `git archive HEAD`; B = HEAD + norm-release-at-start.patch: the decode norm kernels (one block a row, and the
# cluster path) release the next grid at their start instead of after their wait. Issue 3 times a norm as one
# call of a 100-call graph of the same op (1.42-1.78 us, asks 1.2); released after the wait, the next call
# launches only once this one's predecessor has finished. Session 24 (runs 5-6) showed that where a kernel
# releases can cost or save microseconds a layer in the decode chain, both ways, so the decodes are timed too.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
patch -p1 < docs/cuda-run/h100-session24/prepared/norm-release-at-start.patch || exit 1
lab_build .lab/A.tar "zf zfast_cuda test_cuda zf_cuda_bench" "zf zfast_cuda zf_cuda_bench" || exit 1
lab_tests test_cuda
lab_models smol qwen8
for i in 1 2; do for s in A B; do
  d=$LAB_B; [ $s = A ] && d=$LAB_A/b
  timeout 120 "$d/zf_cuda_bench" --quick > "$OUT/bench-$s-$i.txt" 2>&1
  echo "$s $i: $(grep -E '^\| decode (rms_norm|add_rms_norm)' "$OUT/bench-$s-$i.txt" | awk -F'|' '{printf "%s %s;", $2, $4}')"
  lab_bench $s smol.gguf 16 stable; lab_bench $s qwen8 16 edge
done; done
echo "total $(lab_elapsed) s"
