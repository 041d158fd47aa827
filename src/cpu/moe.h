/* MoE on the CPU: the router and the fused gathered projections. */
#ifndef ZF_CPU_MOE_H
#define ZF_CPU_MOE_H

#include "zfast.h"

zf_status zf_cpu_moe_route(const zf_tensor *logits, int k, int norm_topk_prob, zf_tensor *ids, zf_tensor *weights,
                           const zf_opts *o);
zf_status zf_cpu_gather_qmm_swiglu(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu,
                                   const zf_tensor *ids, zf_tensor *out, const zf_opts *o);
zf_status zf_cpu_gather_qmm_combine(const zf_tensor *a, const zf_qweight *wd, const zf_tensor *ids,
                                    const zf_tensor *weights, zf_tensor *y, const zf_opts *o);
zf_status zf_cpu_moe_experts(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu, const zf_qweight *wd,
                             const zf_tensor *ids, const zf_tensor *weights, zf_tensor *act, zf_tensor *y,
                             const zf_opts *o);

#endif
