#!/usr/bin/env bash
# session 21 run 4: carry [".gpudeps", ".lab"] (.lab/A.tar = `git archive c3d0b2f`, the tree before
# zf_cu_rowwalk). B = the working tree (37ca112 + gpu-check.sh's exit status): the full test_cuda that
# aborted in run 1 (the CPU elementwise head overflow, fixed in 37ca112) and compute-sanitizer of it, then
# the SmolLM2-shaped decode at 16 and 1024 positions, A and B alternated (the attention's tile copies now
# walk with zf_cu_rowwalk: ptxas gives its decode kernels 120-128 registers, 124-128 before).
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build .lab/A.tar "zf zfast_cuda test_cuda test_cuda_model" "zf zfast_cuda" || exit 1
lab_tests test_cuda test_cuda_model
timeout 200 env ZF_TEST_QUICK=1 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 \
    $LAB_B/tests/cuda/test_cuda > $OUT/memcheck.txt 2>&1; echo "memcheck rc=$? $(grep -E 'checks|ERROR SUMMARY' $OUT/memcheck.txt | tr '\n' ' ')"
lab_models smol
for i in 1 2; do for s in A B; do for p in 16 1024; do lab_bench $s smol.gguf $p stable; done; done; done
echo "total $(lab_elapsed) s"
