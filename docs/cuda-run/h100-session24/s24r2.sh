#!/usr/bin/env bash
# Session 24, run 2: session 23's two prepared patches together (docs/cuda-run/h100-session23/prepared/,
# s24r3.sh's idea with s24r1.sh's models). carry [".gpudeps", ".lab"], .lab/A.tar = `git archive HEAD`.
# B = HEAD + qmm-f32-spec.patch (one-matrix pair kernel specialised for f32 x, launch bounds 128x4) +
# attention-split.patch (decode attention's tiled and warp paths as two kernels): the f32 decode layer's
# distinct kernels ~126-142 KB of SASS -> ~113 KB. SmolLM2-shaped and 8-layer Qwen3 decodes, A/B alternated.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
P=docs/cuda-run/h100-session23/prepared
{ patch -p1 < $P/qmm-f32-spec.patch && patch -p1 < $P/attention-split.patch; } || exit 1
lab_build .lab/A.tar "zf zfast_cuda test_cuda_model test_cuda_moe" "zf zfast_cuda" || exit 1
lab_tests test_cuda_model test_cuda_moe
lab_models smol qwen8
for i in 1 2; do for s in A B; do lab_bench $s smol.gguf 16 stable; lab_bench $s smol.gguf 1024 stable; lab_bench $s qwen8 16 stable; done; done
echo "total $(lab_elapsed) s"
