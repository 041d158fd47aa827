#!/usr/bin/env bash
# session 23 run 5: carry [".gpudeps", ".lab"] (.lab/A.tar = `git archive 1c5ba14`). Run 4 suggests unexecuted
# code slows the one-token MoE block when its kernels share the SMs (router + moe_experts 17.4 -> 19.5 us
# with ~20 KB more code a kernel, each kernel alone unchanged). The reverse: B = 1c5ba14 with the
# one-token combine (qd_combine_kernel) and the int8 swiglu specialised for bf16 activations and bf16
# scales (compile-time dtypes: 49.4 -> 42.4 KB and 37.6 -> 36.5 KB of code). test_cuda_moe on B, then the
# one-token MoE bench A/B alternated three times.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build .lab/A.tar "zfast_cuda test_cuda_moe zf_cuda_moe_bench" "zfast_cuda zf_cuda_moe_bench" || exit 1
lab_tests test_cuda_moe
for i in 1 2 3; do for s in A B; do lab_moe_bench $s $i; done; done
echo "total $(lab_elapsed) s"
