#!/usr/bin/env bash
# Session 24, run 4: the attention kernels start their first K/V tile copies right after their wait
# (zf_cu_attend_tiles_start), before the decode kernel normalizes and rotates its own row (and before the
# prefill kernel stages q); the decode kernel also loads the q/k norms' weights before its wait and its cos/sin
# pair and v beside q and k. Bit-identical by construction (same arithmetic, loads moved). carry [".gpudeps",
# ".lab"], .lab/A.tar = `git archive HEAD` (a86846f); B = the working tree. Per-kernel figures that motivated
# it: run 3 (dec_kernel 7.6-8.6 us alone for a 4-token context, ~4 dependent round trips before its tiles).
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build .lab/A.tar "zf zfast_cuda test_cuda test_cuda_model" "zf zfast_cuda" || exit 1
lab_tests test_cuda test_cuda_model
lab_models smol qwen8
for i in 1 2; do for s in A B; do
  lab_bench $s smol.gguf 16 stable; lab_bench $s smol.gguf 1024 stable; lab_bench $s qwen8 16 edge
done; done
echo "total $(lab_elapsed) s"
