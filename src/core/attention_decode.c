/* zf_attention_decode's argument checks, shared by every backend: the
 * public entry point (src/core/ops.c) runs them before it routes the call,
 * so the CPU composition and the CUDA kernel see only valid arguments. */
#include <math.h>

#include "core/error.h"
#include "core/tensor.h"

#define OP "attention_decode"

/* t is [1, heads, d] of dtype dt (heads and d given, or 0: any) */
static zf_status token_rows(const char *arg, const zf_tensor *t, zf_dtype dt, int64_t heads, int64_t d) {
    ZF_TRY(zf_check_float(OP, arg, t));
    if (t->ndim != 3 || t->shape[0] != 1 || (heads && t->shape[1] != heads) || (d && t->shape[2] != d))
        return zf_error(ZF_ERR_SHAPE, "[" OP "] %s must be [1, %s, %lld] (one token)", arg,
                        heads ? "kv_heads" : "heads", (long long)d);
    if (t->dtype != dt)
        return zf_error(ZF_ERR_DTYPE, "[" OP "] %s is %s but q is %s; q, k, v and out share a dtype", arg,
                        zf_dtype_name(t->dtype), zf_dtype_name(dt));
    return ZF_OK;
}

/* a norm weight: [d], contiguous, q's dtype */
static zf_status norm_weight(const char *arg, const zf_tensor *w, zf_dtype dt, int64_t d) {
    if (!w) return zf_error(ZF_ERR_INVALID_ARG, "[" OP "] norm->%s is NULL", arg);
    ZF_TRY(zf_check_float(OP, arg, w));
    if (w->ndim != 1 || w->shape[0] != d || w->stride[0] != 1)
        return zf_error(ZF_ERR_SHAPE, "[" OP "] %s must be [%lld] (head_dim), contiguous", arg, (long long)d);
    if (w->dtype != dt)
        return zf_error(ZF_ERR_DTYPE, "[" OP "] %s is %s but q is %s; the norm weights have q's dtype", arg,
                        zf_dtype_name(w->dtype), zf_dtype_name(dt));
    return ZF_OK;
}

zf_status zf_check_attention_decode(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v,
                                    const zf_qk_norm *norm, const zf_tensor *cs, int neox, const zf_tensor *pos,
                                    const zf_tensor *kc, const zf_tensor *vc, float scale, const zf_tensor *out) {
    ZF_TRY(zf_check_float(OP, "q", q));
    if (q->ndim != 3 || q->shape[0] != 1)
        return zf_error(ZF_ERR_SHAPE, "[" OP "] q must be [1, heads, head_dim] (one token)");
    const int64_t hq = q->shape[1], d = q->shape[2];
    if (d % 2) return zf_error(ZF_ERR_SHAPE, "[" OP "] head_dim %lld is odd; expected an even size", (long long)d);
    ZF_TRY(token_rows("out", out, q->dtype, hq, d));
    ZF_TRY(token_rows("k", k, q->dtype, 0, d));
    const int64_t hkv = k->shape[1];
    ZF_TRY(token_rows("v", v, q->dtype, hkv, d));
    if (hq % hkv)
        return zf_error(ZF_ERR_SHAPE, "[" OP "] q has %lld heads, not a multiple of k's %lld kv heads",
                        (long long)hq, (long long)hkv);
    ZF_TRY(zf_check_float(OP, "kc", kc));
    if (kc->ndim != 3 || kc->shape[0] != hkv || kc->shape[2] != d)
        return zf_error(ZF_ERR_SHAPE, "[" OP "] kc must be [%lld, max_ctx, %lld] (kv_heads, positions, head_dim)",
                        (long long)hkv, (long long)d);
    ZF_TRY(zf_check_same(OP, "kc", kc, "vc", vc));
    ZF_TRY(zf_check_tensor(OP, "cs", cs));
    if (cs->dtype != ZF_DTYPE_F32 || cs->ndim != 3 || cs->shape[1] != d / 2 || cs->shape[2] != 2 ||
        cs->stride[1] != 2)
        return zf_error(ZF_ERR_SHAPE, "[" OP "] cs must be the f32 table [rows, %lld, 2] of zf_rope_table",
                        (long long)(d / 2));
    ZF_TRY(zf_check_tensor(OP, "pos", pos));
    if (pos->dtype != ZF_DTYPE_I32 || pos->ndim != 1 || pos->shape[0] != 1)
        return zf_error(ZF_ERR_DTYPE, "[" OP "] pos must be an int32 tensor of one element");
    /* the norm weights are inputs like q (q stands in for them without a norm) */
    const zf_tensor *wq = norm ? norm->w_q : q, *wk = norm ? norm->w_k : q;
    if (norm) {
        ZF_TRY(norm_weight("w_q", norm->w_q, q->dtype, d));
        ZF_TRY(norm_weight("w_k", norm->w_k, q->dtype, d));
        if (!(norm->eps >= 0.0f && norm->eps <= 3.0e38f))
            return zf_error(ZF_ERR_INVALID_ARG, "[" OP "] norm->eps = %g; expected a finite value >= 0",
                            (double)norm->eps);
    }
    const zf_tensor *all[] = {k, v, cs, pos, kc, vc, out, wq, wk};
    for (int i = 0; i < 9; i++)
        if (all[i]->device != q->device)
            return zf_error(ZF_ERR_INVALID_ARG, "[" OP "] q and the other arguments must be on one device");
    if (neox != 0 && neox != 1)
        return zf_error(ZF_ERR_INVALID_ARG, "[" OP "] neox = %d; expected 0 (adjacent pairs) or 1 (halves)", neox);
    if (!(fabsf(scale) <= 3.0e38f))
        return zf_error(ZF_ERR_INVALID_ARG, "[" OP "] scale = %g; expected a finite value", (double)scale);
    const zf_tensor *ins[] = {q, k, v, cs, pos, wq, wk};
    const char *in_names[] = {"q", "k", "v", "cs", "pos", "w_q", "w_k"};
    const zf_tensor *outs[] = {out, kc, vc};
    const char *out_names[] = {"out", "kc", "vc"};
    for (int o = 0; o < 3; o++) {
        for (int i = 0; i < 7; i++)
            if (zf_tensors_overlap(outs[o], ins[i]))
                return zf_error(ZF_ERR_ALIAS, "[" OP "] %s overlaps %s; it needs its own memory", out_names[o],
                                in_names[i]);
        for (int j = o + 1; j < 3; j++)
            if (zf_tensors_overlap(outs[o], outs[j]))
                return zf_error(ZF_ERR_ALIAS, "[" OP "] %s overlaps %s; each output needs its own memory",
                                out_names[o], out_names[j]);
    }
    return ZF_OK;
}
