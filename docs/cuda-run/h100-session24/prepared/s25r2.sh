#!/usr/bin/env bash
# Prepared in session 24, not yet run. carry [".gpudeps", ".lab"], .lab/A.tar = `git archive HEAD`.
# A = HEAD + route-release-after-wait.patch (ZF_LAB_PATCH_A; s25r1's B), B = A + attention-release.patch: the
# decode attention kernel releases the next grid after its wait. Today it never does, so the o projection that
# follows launches only when the attention's last block exits and starts its weight copies (4.72 MB at the
# Qwen3 shape; 6.5 us alone under ncu, run 3) only then, while the attention (32 blocks, one per q head, 7.6-8.6
# us alone) leaves ~100 SMs idle. Correctness cannot change (scheduling only); test_cuda_model checks it anyway.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
P=docs/cuda-run/h100-session24/prepared
export ZF_LAB_PATCH_A=$P/route-release-after-wait.patch
. scripts/gpu-lab.sh
{ patch -p1 < $P/route-release-after-wait.patch && patch -p1 < $P/attention-release.patch; } || exit 1
lab_build .lab/A.tar "zf zfast_cuda test_cuda_model" "zf zfast_cuda" || exit 1
lab_tests test_cuda_model
lab_models qwen8 smol
# edge: the int8 one-row qmm copies its weights before its wait (the overlap this is for); stable: the exact
# pair kernel copies after it (session 21, run 8), so there only the launch moves
for i in 1 2; do for s in A B; do
  lab_bench $s qwen8 16 edge; lab_bench $s qwen8 16 stable; lab_bench $s smol.gguf 16 edge; lab_bench $s smol.gguf 16 stable
done; done
echo "total $(lab_elapsed) s"
