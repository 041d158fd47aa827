#!/usr/bin/env bash
# Session 24, run 6 (lab, results wrong by design): why the MoE top-k kernel costs ~7 us a layer in the
# replayed Qwen3 decode graph (run 5) when it takes 2.1 us a call alone. lab-skip.patch's ZF_LAB_SKIP on the
# 8-layer Qwen3 shape, edge, after the first step: 0 as is; 2 no top-k; 4 a one-element add (an elementwise
# kernel: it releases the next grid after its wait) in the top-k's place; 8 the top-k, then that add.
# If 4 costs what 0 does, the position (a kernel between the router's qmm and the swiglu, which can copy
# nothing before its wait) is the cost; if it costs what 2 does, the top-k kernel itself is. carry [".gpudeps"].
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build_b "zf zfast_cuda" || exit 1
lab_models qwen8
for i in 1 2; do for v in 0 2 4 8; do lab_bench B qwen8 16 edge ZF_LAB_SKIP=$v; done; done
for v in 0 2 4; do lab_bench B qwen8 16 stable ZF_LAB_SKIP=$v; done
echo "total $(lab_elapsed) s"
