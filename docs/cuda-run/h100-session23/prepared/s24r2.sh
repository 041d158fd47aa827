#!/usr/bin/env bash
# Prepared in session 23, not yet run. carry [".gpudeps", ".lab"], .lab/A.tar = `git archive HEAD` made just
# before the call. B = HEAD + attention-split.patch: the decode attention's tiled and warp paths as two
# kernels (a template flag), so the kernel that runs carries only its own path's code: 75-77 KB of SASS ->
# 52-59 KB (tiled) and 42-48 KB (warp path), the largest kernel of a dense decode step (cubin .text sizes;
# ptxas: the tiled kernel then takes 80 registers instead of 64, the warp one 32-40). Session 23 found code a
# kernel never runs slowing the kernels beside it (docs/cuda-run/h100-session23/README.md). test_cuda_model on
# B; SmolLM2-shaped decode at 16 and 1024 positions, stable and edge, A/B twice.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
patch -p1 < docs/cuda-run/h100-session23/prepared/attention-split.patch || exit 1
lab_build .lab/A.tar "zf zfast_cuda test_cuda_model" "zf zfast_cuda" || exit 1
lab_tests test_cuda_model
lab_models smol
for i in 1 2; do for s in A B; do for p in 16 1024; do lab_bench $s smol.gguf $p stable; done; lab_bench $s smol.gguf 16 edge; done; done
echo "total $(lab_elapsed) s"
