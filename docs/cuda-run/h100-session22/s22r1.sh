#!/usr/bin/env bash
# session 22 run 1 (prepared in session 21, not yet run). carry [".gpudeps", ".lab"], with .lab/A.tar =
# `git archive HEAD` made just before the call (A = the tree as committed). Two plugin-side lab patches, each
# against A, from session 21's run 8 (early weight copies in the exact one-row qmm made decode 2-5% slower):
#   1. qi8-postwait.patch: the edge tier's int8 one-row qmm (qi8_qmm_kernel) issues its copies AFTER its PDL
#      wait instead of before (does its early start cost the grid before it too?);
#   2. pair-late-release.patch: the exact pair kernel lets the next grid launch only at its end (do the next
#      grid's resident CTAs, waiting, cost it?).
# Each: B = this tree + the patch (built alone; A built once), tests, then decode A/B alternated twice.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
P=docs/cuda-run/h100-session21/prepared
patch -p1 < $P/qi8-postwait.patch || exit 1
lab_build .lab/A.tar "zf zfast_cuda test_cuda_moe test_cuda_model" "zf zfast_cuda" || exit 1
lab_tests test_cuda_model
lab_models smol qwen8
for i in 1 2; do for s in A B; do lab_bench $s smol.gguf 16 edge; lab_bench $s qwen8 16 edge; done; done
patch -R -p1 < $P/qi8-postwait.patch && patch -p1 < $P/pair-late-release.patch || exit 1
lab_build_b "zf zfast_cuda test_cuda_moe test_cuda_model" || exit 1
lab_tests test_cuda_moe test_cuda_model
for i in 1 2; do for s in A B; do lab_bench $s smol.gguf 16 stable; lab_bench $s qwen8 16 stable; done; done
echo "total $(lab_elapsed) s"
