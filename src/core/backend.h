/* A backend is a table of op entry points with the public signatures. The
 * CPU backend is built in; the CUDA backend is a shared object loaded at run
 * time (src/core/cuda_loader.c) that hands back the same table. */
#ifndef ZF_CORE_BACKEND_H
#define ZF_CORE_BACKEND_H

#include "zfast.h"

typedef struct zf_backend_ops {
    zf_status (*add)(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o);
    zf_status (*mul)(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o);
    zf_status (*silu)(const zf_tensor *x, zf_tensor *out, const zf_opts *o);
    zf_status (*silu_vjp)(const zf_tensor *x, const zf_tensor *d_out, zf_tensor *d_x, const zf_opts *o);
    zf_status (*rms_norm)(const zf_tensor *x, const zf_tensor *w, float eps, zf_tensor *y, const zf_opts *o);
    zf_status (*rms_norm_vjp)(const zf_tensor *x, const zf_tensor *w, float eps, const zf_tensor *d_y,
                              zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o);
    zf_status (*swiglu)(const zf_tensor *gate, const zf_tensor *up, zf_tensor *out, const zf_opts *o);
    zf_status (*swiglu_vjp)(const zf_tensor *gate, const zf_tensor *up, const zf_tensor *d_out, zf_tensor *d_gate,
                            zf_tensor *d_up, const zf_opts *o);
    zf_status (*add_rms_norm)(const zf_tensor *x, const zf_tensor *residual, const zf_tensor *w, float eps,
                              zf_tensor *y, zf_tensor *h, const zf_opts *o);
    zf_status (*add_rms_norm_vjp)(const zf_tensor *h, const zf_tensor *w, float eps, const zf_tensor *d_y,
                                  const zf_tensor *d_h, zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o);
    /* model ops */
    zf_status (*embedding)(const zf_tensor *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o);
    zf_status (*embedding_q)(const zf_qweight *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o);
    zf_status (*rope)(const zf_tensor *x, const zf_tensor *cs, int neox, zf_tensor *out, const zf_opts *o);
    zf_status (*softmax)(const zf_tensor *x, zf_tensor *out, const zf_opts *o);
    zf_status (*attention)(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, float scale, zf_tensor *out,
                           const zf_opts *o);
    zf_status (*copy)(const zf_tensor *x, zf_tensor *out, const zf_opts *o);
    /* arguments checked by zf_check_attention_decode (src/core/ops.c) before the call */
    zf_status (*attention_decode)(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, const zf_qk_norm *norm,
                                  const zf_tensor *cs, int neox, const zf_tensor *pos, zf_tensor *kc, zf_tensor *vc,
                                  float scale, zf_tensor *out, const zf_opts *o);
    /* affine-quantized weights and MoE (src/cpu/quant.c, qmm.c, moe.c) */
    zf_status (*quantize)(const zf_tensor *w, zf_qweight *q);
    zf_status (*dequantize)(const zf_qweight *q, zf_tensor *w);
    zf_status (*qmm)(const zf_tensor *x, const zf_qweight *w, zf_tensor *y, const zf_opts *o);
    zf_status (*gather_qmm)(const zf_tensor *x, const zf_qweight *w, const zf_tensor *ids, zf_tensor *y,
                            const zf_opts *o);
    zf_status (*moe_route)(const zf_tensor *logits, int k, int norm_topk_prob, zf_tensor *ids, zf_tensor *weights,
                           const zf_opts *o);
    zf_status (*gather_qmm_swiglu)(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu,
                                   const zf_tensor *ids, zf_tensor *out, const zf_opts *o);
    zf_status (*gather_qmm_combine)(const zf_tensor *a, const zf_qweight *wd, const zf_tensor *ids,
                                    const zf_tensor *weights, zf_tensor *y, const zf_opts *o);
    zf_status (*moe_experts)(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu, const zf_qweight *wd,
                             const zf_tensor *ids, const zf_tensor *weights, zf_tensor *act, zf_tensor *y,
                             const zf_opts *o);
    /* float weights (src/cpu/matmul.c) */
    zf_status (*matmul)(const zf_tensor *x, const zf_tensor *w, zf_tensor *y, const zf_opts *o);
} zf_backend_ops;

/* The table for a device, or NULL with an error message saying why. */
const zf_backend_ops *zf_backend_for(zf_device dev, const char *op);

extern const zf_backend_ops zf_cpu_backend;

#endif
