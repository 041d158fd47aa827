#!/usr/bin/env bash
# Prepared in session 23, not yet run. carry [".gpudeps", ".lab"], .lab/A.tar = `git archive HEAD` made just
# before the call. B = HEAD + both prepared patches (qmm-f32-spec.patch, attention-split.patch). The distinct
# kernels of one SmolLM2-shaped (f32) decode layer hold ~126-142 KB of SASS now (decode norm 6-10, one-matrix
# pair kernel 39, attention 75, swiglu 6-18 KB; cubin .text, sm_90a), about an SM's instruction cache if that is
# 128 KB; with both patches ~113 KB (pair 32, attention 55). If the chain's code is what costs (session 23:
# unexecuted code slowed co-resident kernels), both together should show more than each alone (s24r1, s24r2).
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
P=docs/cuda-run/h100-session23/prepared
{ patch -p1 < $P/qmm-f32-spec.patch && patch -p1 < $P/attention-split.patch; } || exit 1
lab_build .lab/A.tar "zf zfast_cuda test_cuda_model test_cuda_moe" "zf zfast_cuda" || exit 1
lab_tests test_cuda_model test_cuda_moe
lab_models smol
for i in 1 2; do for s in A B; do for p in 16 1024; do lab_bench $s smol.gguf $p stable; done; done; done
echo "total $(lab_elapsed) s"
