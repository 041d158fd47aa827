#!/usr/bin/env bash
# Session 26, run 7 (H200; carry [".gpudeps", ".lab"]): what still bounds the bulk bf16 swiglu (exact
# 0.373 ms, fast 0.362, torch.compile's best repetition 0.323)? Plugins of one tree, one set of binaries:
#   A the tree; N = A + silu's exp without its NaN restore (silu(NaN) is NaN through the division anyway);
#   S = A + the bulk elementwise path without the evict-first load/store hints; U2 / U8 = A with 2 / 8
#   vectors per thread in flight instead of 4. zf_cuda_bench alternated twice; N's test_cuda (quick).
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build_b "zf zfast_cuda test_cuda zf_cuda_bench" || exit 1
lab_plugin A true || exit 1
lab_plugin S patch -p1 -i .lab/nostream.patch || exit 1
lab_plugin U2 bash -c "patch -R -p1 -i .lab/nostream.patch && patch -p1 -i .lab/u2.patch" || exit 1
lab_plugin U8 bash -c "patch -R -p1 -i .lab/u2.patch && patch -p1 -i .lab/u8.patch" || exit 1
lab_plugin N bash -c "patch -R -p1 -i .lab/u8.patch && patch -p1 -i .lab/nanexp.patch" || exit 1
lab_ptest N test_cuda ZF_TEST_QUICK=1
for i in 1 2; do
    for v in A N S U2 U8; do
        ZF_CUDA_LIB=$LAB_P/$v.so timeout 60 "$LAB_B/zf_cuda_bench" >/tmp/bench.txt 2>&1
        echo "bench $v $i rc=$? $(lab_elapsed) s: $(grep -E 'swiglu (stock|exact|fast) bf16 \[16384|add_rms_norm (exact|fast) bf16 \[16384|decode (swiglu|silu) bf16 \[1, (2048|14336)' /tmp/bench.txt | awk -F'|' '{print $4}' | tr -s ' ' | tr '\n' ';')"
    done
done
echo "total $(lab_elapsed) s"
