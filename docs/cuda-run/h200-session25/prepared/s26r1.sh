#!/usr/bin/env bash
# Prepared in session 25, not yet run. carry [".gpudeps"]. Is the MoE top-k's cost in the replayed decode graph
# the kernel, or the experts reading fresh ids? Session 24 (runs 5-6) timed the 8-layer Qwen3 step without the
# top-k (the experts then read the first step's last-layer ids: the same 8 experts in every layer) and with a
# one-element add in its place: 7.5-10 us a layer faster than with the top-k, while the top-k takes 2.1 us
# alone. Session 25 (run 2) moved the top-k's release after its wait: nothing changed. Both lab variants of
# session 24 also froze the ids, so the kernel and the ids were never separated. lab-topk-ids.patch (host side,
# qwen3_moe.c; results wrong by design) adds ZF_LAB_TOPK, from the second one-token step on:
#   0 as committed; 1 top-k, then the first step's last-layer ids copied over ids (frozen, one extra copy
#   kernel); 2 top-k, then ids copied to a dummy (fresh ids, the same kernel count); 3 no top-k, the copy of 1
#   (session 24's skip, plus the copy); 4 top-k, then this layer's own first-step ids (frozen per layer).
# Reading: 1 ~ 3 fast and 2 ~ 0 slow -> the ids, not the kernel (then 4 says whether "every layer the same
# experts" matters); 1 ~ 2 slow and 3 fast -> the kernel.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
P=docs/cuda-run/h200-session25/prepared
. scripts/gpu-lab.sh
patch -p1 < $P/lab-topk-ids.patch || exit 1
lab_build_b "zf zfast_cuda" || exit 1
lab_models qwen8
for i in 1 2 3; do
    for m in 0 1 2 3 4; do lab_bench B qwen8 16 edge ZF_LAB_TOPK=$m; done
    for m in 0 1 2 3; do lab_bench B qwen8 16 stable ZF_LAB_TOPK=$m; done
done
echo "total $(lab_elapsed) s"
