#!/usr/bin/env bash
# session 22 run 2: carry [".gpudeps", ".lab"] (.lab/A.tar = `git archive 4cd9ac7`). B = the working tree:
# 4cd9ac7 + the attention tile copies' loop stepping the row walk alone (zf_cu_tile_issue: `w.r < rows`
# instead of a second index). test_cuda_model, decode at 16 and 1024 positions A/B alternated twice, then
# the GPU check (every step but the whole models) within the call's remaining time.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build .lab/A.tar "zf zfast_cuda test_cuda_model" "zf zfast_cuda" || exit 1
lab_tests test_cuda_model
lab_models smol
for i in 1 2; do for s in A B; do for p in 16 1024; do lab_bench $s smol.gguf $p stable; done; done; done
echo "lab total $(lab_elapsed) s"
ZF_CHECK_BUDGET=$((575 - $(lab_elapsed))) STEPS="build test moe bench torch sanitizer gate ctest" \
    scripts/gpu-check.sh "$OUT/check"
echo "check rc=$?"; cat "$OUT/check/summary.md"
