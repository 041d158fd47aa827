#!/usr/bin/env bash
# Session 24, run 5 (lab, results wrong by design): what one kernel of a one-token step costs inside the
# replayed decode graph. lab-skip.patch (applied to the tree for this run only) adds ZF_LAB_SKIP: bit 1 drops
# each layer's FFN add_rms_norm at one token, bit 2 the MoE router's top-k kernel after the first step (ids
# stay those of the step before: in range, so the experts read as many bytes). The tok/s difference is the
# kernel's cost in the chain, the most that folding it into a neighbour could save. carry [".gpudeps"].
# Run 6 (s24r6.sh) adds bits 4 (a one-element add in the top-k's place) and 8 (the top-k, then that add).
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build_b "zf zfast_cuda" || exit 1
lab_models smol qwen8
for i in 1 2; do
  for v in 0 1; do lab_bench B smol.gguf 16 stable ZF_LAB_SKIP=$v; done
  for v in 0 1 2 3; do lab_bench B qwen8 16 edge ZF_LAB_SKIP=$v; done
done
echo "total $(lab_elapsed) s"
