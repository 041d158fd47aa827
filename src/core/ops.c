/* Public op entry points: route to the backend that owns the tensors (and,
 * with ZF_PROFILE set, time the call: core/profile.h). */
#include "core/backend.h"
#include "core/error.h"
#include "core/profile.h"
#include "core/tensor.h"

#define ZF_ROUTE(op, first, ...)                                                                  \
    do {                                                                                          \
        if (!(first)) return zf_error(ZF_ERR_INVALID_ARG, "[" #op "] " #first " is NULL");        \
        const zf_backend_ops *b_ = zf_backend_for((first)->device, #op);                          \
        if (!b_) return ZF_ERR_UNSUPPORTED;                                                       \
        if (!b_->op) return zf_error(ZF_ERR_UNSUPPORTED, "[" #op "] not implemented on this backend"); \
        if (!zf_prof_on()) return b_->op(__VA_ARGS__);                                            \
        static zf_prof_site site_ = {.name = #op};                                                \
        uint64_t saved_;                                                                          \
        const uint64_t t0_ = zf_prof_begin(&saved_);                                              \
        const zf_status st_ = b_->op(__VA_ARGS__);                                                \
        zf_prof_end(&site_, (first)->device, t0_, saved_);                                        \
        return st_;                                                                               \
    } while (0)

zf_status zf_add(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o) {
    ZF_ROUTE(add, a, a, b, out, o);
}
zf_status zf_mul(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o) {
    ZF_ROUTE(mul, a, a, b, out, o);
}
zf_status zf_silu(const zf_tensor *x, zf_tensor *out, const zf_opts *o) { ZF_ROUTE(silu, x, x, out, o); }
zf_status zf_silu_vjp(const zf_tensor *x, const zf_tensor *d_out, zf_tensor *d_x, const zf_opts *o) {
    ZF_ROUTE(silu_vjp, x, x, d_out, d_x, o);
}
zf_status zf_rms_norm(const zf_tensor *x, const zf_tensor *w, float eps, zf_tensor *y, const zf_opts *o) {
    ZF_ROUTE(rms_norm, x, x, w, eps, y, o);
}
zf_status zf_rms_norm_vjp(const zf_tensor *x, const zf_tensor *w, float eps, const zf_tensor *d_y, zf_tensor *d_x,
                          zf_tensor *d_w, const zf_opts *o) {
    ZF_ROUTE(rms_norm_vjp, x, x, w, eps, d_y, d_x, d_w, o);
}
zf_status zf_swiglu(const zf_tensor *gate, const zf_tensor *up, zf_tensor *out, const zf_opts *o) {
    ZF_ROUTE(swiglu, gate, gate, up, out, o);
}
zf_status zf_swiglu_vjp(const zf_tensor *gate, const zf_tensor *up, const zf_tensor *d_out, zf_tensor *d_gate,
                        zf_tensor *d_up, const zf_opts *o) {
    ZF_ROUTE(swiglu_vjp, gate, gate, up, d_out, d_gate, d_up, o);
}
zf_status zf_add_rms_norm(const zf_tensor *x, const zf_tensor *residual, const zf_tensor *w, float eps, zf_tensor *y,
                          zf_tensor *h, const zf_opts *o) {
    ZF_ROUTE(add_rms_norm, x, x, residual, w, eps, y, h, o);
}
zf_status zf_add_rms_norm_vjp(const zf_tensor *h, const zf_tensor *w, float eps, const zf_tensor *d_y,
                              const zf_tensor *d_h, zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o) {
    ZF_ROUTE(add_rms_norm_vjp, h, h, w, eps, d_y, d_h, d_x, d_w, o);
}

/* model ops */
zf_status zf_embedding(const zf_tensor *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o) {
    ZF_ROUTE(embedding, table, table, ids, out, o);
}
zf_status zf_embedding_q(const zf_qweight *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o) {
    ZF_ROUTE(embedding_q, table, table, ids, out, o);
}
zf_status zf_rope(const zf_tensor *x, const zf_tensor *cs, int neox, zf_tensor *out, const zf_opts *o) {
    ZF_ROUTE(rope, x, x, cs, neox, out, o);
}
zf_status zf_softmax(const zf_tensor *x, zf_tensor *out, const zf_opts *o) { ZF_ROUTE(softmax, x, x, out, o); }
zf_status zf_attention(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, float scale, zf_tensor *out,
                       const zf_opts *o) {
    ZF_ROUTE(attention, q, q, k, v, scale, out, o);
}
zf_status zf_copy(const zf_tensor *x, zf_tensor *out, const zf_opts *o) { ZF_ROUTE(copy, x, x, out, o); }
zf_status zf_attention_decode(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, const zf_qk_norm *norm,
                              const zf_tensor *cs, int neox, const zf_tensor *pos, zf_tensor *kc, zf_tensor *vc,
                              float scale, zf_tensor *out, const zf_opts *o) {
    ZF_TRY(zf_check_attention_decode(q, k, v, norm, cs, neox, pos, kc, vc, scale, out));
    ZF_ROUTE(attention_decode, q, q, k, v, norm, cs, neox, pos, kc, vc, scale, out, o);
}

/* affine-quantized weights and MoE */
zf_status zf_quantize(const zf_tensor *w, zf_qweight *q) { ZF_ROUTE(quantize, w, w, q); }
zf_status zf_dequantize(const zf_qweight *q, zf_tensor *w) { ZF_ROUTE(dequantize, q, q, w); }
zf_status zf_qmm(const zf_tensor *x, const zf_qweight *w, zf_tensor *y, const zf_opts *o) {
    ZF_ROUTE(qmm, x, x, w, y, o);
}
zf_status zf_gather_qmm(const zf_tensor *x, const zf_qweight *w, const zf_tensor *ids, zf_tensor *y,
                        const zf_opts *o) {
    ZF_ROUTE(gather_qmm, x, x, w, ids, y, o);
}
zf_status zf_moe_route(const zf_tensor *logits, int k, int norm_topk_prob, zf_tensor *ids, zf_tensor *weights,
                       const zf_opts *o) {
    ZF_ROUTE(moe_route, logits, logits, k, norm_topk_prob, ids, weights, o);
}
zf_status zf_gather_qmm_swiglu(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu, const zf_tensor *ids,
                               zf_tensor *out, const zf_opts *o) {
    ZF_ROUTE(gather_qmm_swiglu, x, x, wg, wu, ids, out, o);
}
zf_status zf_gather_qmm_combine(const zf_tensor *a, const zf_qweight *wd, const zf_tensor *ids,
                                const zf_tensor *weights, zf_tensor *y, const zf_opts *o) {
    ZF_ROUTE(gather_qmm_combine, a, a, wd, ids, weights, y, o);
}
zf_status zf_moe_experts(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu, const zf_qweight *wd,
                         const zf_tensor *ids, const zf_tensor *weights, zf_tensor *act, zf_tensor *y,
                         const zf_opts *o) {
    ZF_ROUTE(moe_experts, x, x, wg, wu, wd, ids, weights, act, y, o);
}

/* float weights */
zf_status zf_matmul(const zf_tensor *x, const zf_tensor *w, zf_tensor *y, const zf_opts *o) {
    ZF_ROUTE(matmul, x, x, w, y, o);
}
