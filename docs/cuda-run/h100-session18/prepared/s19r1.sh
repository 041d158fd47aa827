#!/usr/bin/env bash
# session 19 run 1 (prepared in session 18). Before the call, here:
#   bash scripts/gpu-deps.sh     (session 18 added OpenSSL's libcrypto: .gpudeps must have it)
#   git archive -o .lab7/A.tar HEAD && git apply docs/cuda-run/h100-session18/prepared/{attn-index,qdecode-index}-s19.patch
# carry [".gpudeps", ".lab7"]. B = the tree: the decode attention's and the exact decode kernels' index arithmetic
# without per-item divisions (session 18's int8 change, which took the one-token MoE block 19.2 -> 18.1 us, applied
# to dec_kernel / attn_kernel's tile copies and to qd_pair_kernel / qd_combine_kernel). Same data arithmetic: the
# tests' expectations do not change. A = HEAD, built with its own binaries. The first call also checks that the
# libcrypto from .gpudeps configures and links on the device (HEAD's first device build with it).
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo s18)+s19r1
. scripts/gpu-lab.sh
lab_build .lab7/A.tar "zf zfast_cuda zf_cuda_bench zf_cuda_moe_bench test_cuda test_cuda_model test_cuda_moe" "zf zfast_cuda zf_cuda_moe_bench"
lab_tests test_cuda_model test_cuda_moe test_cuda
ZF_TEST_QUICK=1 timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 $LAB_B/tests/cuda/test_cuda_model > $OUT/memcheck-model.txt 2>&1
echo "memcheck model rc=$? $(lab_elapsed) s"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-model.txt | tail -2
(cd $LAB_B && timeout 120 ./zf_cuda_bench --quick > $OUT/cuda-bench-quick.txt 2>&1); echo "zf_cuda_bench rc=$? (bench_graph_launch, first GPU run)"
lab_models smol qwen8
lab_compare smol.gguf
for i in 1 2; do for side in A B; do d=$LAB_B; [ $side = A ] && d=$LAB_A/b
  (cd $d && timeout 60 ./zf_cuda_moe_bench --tokens 1 > $OUT/moe-$side-$i.txt 2>&1); echo "moe $side $i rc=$?"; grep -E "\| 1 \| " $OUT/moe-$side-$i.txt | grep -v stock
done; done
for i in 1 2; do for mp in smol.gguf:16 smol.gguf:1024 qwen8:16 qwen8:1024; do IFS=: read mod p <<< "$mp"
  lab_bench A $mod $p stable; lab_bench B $mod $p stable
done; done
echo "total $(lab_elapsed) s"
