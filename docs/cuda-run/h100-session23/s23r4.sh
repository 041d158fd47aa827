#!/usr/bin/env bash
# session 23 run 4: carry [".gpudeps", ".lab"] (.lab/A.tar = `git archive 1c5ba14`). Why were the MoE blocks
# slower in run 3's B (router + moe_experts approx 17.4 -> 20.1 us) while each kernel alone was not? Three trees:
# A = 1c5ba14; B = the working tree, the in-kernel router now one copy of the warp code (PL = 8 for every
# E <= 256, a quarter of run 3's code); C = B with the kernels' routing taken out again
# (v2-no-kernel-route.patch: qdecode.cu and qdecode_i8.cu as in A, moe_route_experts runs the router kernel
# first). test_cuda_moe on B, then the one-token MoE bench A, B, C alternated twice.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build .lab/A.tar "zf zfast_cuda test_cuda_moe zf_cuda_moe_bench" "zfast_cuda zf_cuda_moe_bench" || exit 1
C=/tmp/zfC
rm -rf $C && mkdir -p $C/src
tar --exclude=./build-gpu --exclude=./.lab -cf - . | tar -xf - -C $C/src
(cd $C/src && patch -p1 < docs/cuda-run/h100-session23/v2-no-kernel-route.patch) > $OUT/c-patch.log 2>&1 || { echo "C patch failed"; exit 1; }
lab_cmake $C/src $C/b 16 "zfast_cuda zf_cuda_moe_bench" $OUT/buildC.log || { echo "C build failed"; exit 1; }
echo "C built $(lab_elapsed) s"
lab_tests test_cuda_moe
for i in 1 2; do for s in A B $C/b; do lab_moe_bench $s $i; done; done
echo "total $(lab_elapsed) s"
