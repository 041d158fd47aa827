/* MoE on the CPU (docs/NUMERICS.md §8.3-8.4): the router, and the fused
 * gather_qmm_swiglu / gather_qmm_combine next to their stock compositions
 * (the fallback and the oracle). The fused variants share qmm.c's engine and
 * dot kernels; they differ only in where they round. */
#include "cpu/moe.h"

#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "core/zmath.h"
#include "cpu/elementwise.h"
#include "cpu/l256.h"
#include "cpu/qmm.h"
#include "cpu/quant.h"

static zf_fidelity fidelity_of(const zf_opts *o) { return o ? o->fidelity : ZF_FIDELITY_AUTO; }

/* ---- router ------------------------------------------------------------------ */

zf_status zf_cpu_moe_route(const zf_tensor *logits, int k, int norm_topk_prob, zf_tensor *ids, zf_tensor *weights,
                           const zf_opts *o) {
    const char *op = "moe_route";
    ZF_TRY(zf_check_float(op, "logits", logits));
    if (logits->ndim != 2) return zf_error(ZF_ERR_SHAPE, "[%s] logits has %d dims; expected [m, E]", op, logits->ndim);
    int64_t m = logits->shape[0], E = logits->shape[1];
    if (k < 1 || k > E) return zf_error(ZF_ERR_INVALID_ARG, "[%s] k = %d; expected 1 <= k <= E = %lld", op, k, (long long)E);
    ZF_TRY(zf_check_tensor(op, "ids", ids));
    ZF_TRY(zf_check_float(op, "weights", weights));
    if (ids->dtype != ZF_DTYPE_I32)
        return zf_error(ZF_ERR_DTYPE, "[%s] ids has dtype %s; expected i32", op, zf_dtype_name(ids->dtype));
    if (weights->dtype != logits->dtype && weights->dtype != ZF_DTYPE_F32)
        return zf_error(ZF_ERR_DTYPE, "[%s] weights is %s; expected logits' dtype %s or f32", op,
                        zf_dtype_name(weights->dtype), zf_dtype_name(logits->dtype));
    if (ids->ndim != 2 || ids->shape[0] != m || ids->shape[1] != k || weights->ndim != 2 ||
        weights->shape[0] != m || weights->shape[1] != k)
        return zf_error(ZF_ERR_SHAPE, "[%s] ids and weights must be [m, k] = [%lld, %d]", op, (long long)m, k);
    if (logits->device != ZF_DEVICE_CPU || ids->device != ZF_DEVICE_CPU || weights->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[%s] a tensor is on a device with no backend loaded here", op);
    const char *l0, *l1, *i0, *i1, *w0, *w1;
    zf_tensor_span(logits, &l0, &l1);
    zf_tensor_span(ids, &i0, &i1);
    zf_tensor_span(weights, &w0, &w1);
    if ((i0 < l1 && l0 < i1) || (w0 < l1 && l0 < w1) || (w0 < i1 && i0 < w1))
        return zf_error(ZF_ERR_ALIAS, "[%s] logits, ids and weights must not overlap", op);
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_MOE_ROUTE, ZF_DEVICE_CPU, fidelity_of(o), &v));
    float *p = malloc((size_t)E * 2 * sizeof(float));
    unsigned char *taken = malloc((size_t)E);
    if (!p || !taken) {
        free(p), free(taken);
        return zf_error(ZF_ERR_NO_MEMORY, "[%s] no memory for %lld experts", op, (long long)E);
    }
    float *scratch = p + E;
    for (int64_t i = 0; i < m; i++) {
        const char *row = (const char *)logits->data + (size_t)(i * logits->stride[0]) * zf_dtype_size(logits->dtype);
        float mx = zf_load(logits->dtype, row, 0);
        for (int64_t e = 1; e < E; e++) {
            float l = zf_load(logits->dtype, row, e);
            mx = l > mx ? l : mx;
        }
        for (int64_t e = 0; e < E; e++) p[e] = zf_exp_scalar(zf_load(logits->dtype, row, e) - mx);
        memcpy(scratch, p, (size_t)E * sizeof(float));
        float sum = zf_l256_sum(scratch, E);
        for (int64_t e = 0; e < E; e++) p[e] = p[e] / sum;
        memset(taken, 0, (size_t)E);
        int32_t *id_out = (int32_t *)ids->data + i * ids->stride[0];
        /* top-k, descending probability, ties (and NaN) to the lower id */
        for (int s = 0; s < k; s++) {
            int64_t best = -1;
            for (int64_t e = 0; e < E; e++)
                if (!taken[e] && (best < 0 || p[e] > p[best])) best = e;
            taken[best] = 1;
            id_out[s] = (int32_t)best;
        }
        /* renormalise by the k probabilities summed in slot order */
        float den = 0.0f;
        for (int s = 0; s < k; s++) den = den + p[id_out[s]];
        char *wrow = (char *)weights->data + (size_t)(i * weights->stride[0]) * zf_dtype_size(weights->dtype);
        for (int s = 0; s < k; s++) zf_store(weights->dtype, wrow, s, norm_topk_prob ? p[id_out[s]] / den : p[id_out[s]]);
    }
    (void)v; /* one variant: the pick still checks ZF_TIER / ZF_CPU_ISA */
    free(p), free(taken);
    return ZF_OK;
}

/* ---- gather_qmm_swiglu ------------------------------------------------------- */

typedef void (*ew_binary_fn)(zf_dtype t, const void *a, const void *b, void *out, int64_t n, int stream);

typedef struct swiglu_ctx {
    zf_rows out;
    zf_dtype t;
    int exact;
    ew_binary_fn swiglu; /* the elementwise swiglu kernel of that fidelity (its SIMD exp) */
} swiglu_ctx;

/* exact: g, u materialised in T, then swiglu exact on T; fast: swiglu fast
 * on the f32 dots (silu(g) * u in f32), then T. Same bits as the scalar
 * formulas (every ISA path of the elementwise kernels gives them). */
static void swiglu_epilogue(void *ctx, const int64_t *pairs, int np, int64_t r0, int64_t rows, const float *const *d) {
    enum { PIECE = 64 };
    const swiglu_ctx *c = ctx;
    size_t es = zf_dtype_size(c->t);
    float a[PIECE], b[PIECE]; /* T values (exact) or f32 results (fast) */
    for (int i = 0; i < np; i++) {
        char *row = (char *)c->out.data + (size_t)(pairs[i] * c->out.row_stride + r0) * es;
        for (int64_t p0 = 0; p0 < rows; p0 += PIECE) {
            int64_t n = rows - p0 < PIECE ? rows - p0 : PIECE;
            const float *g = d[0] + i * rows + p0, *u = d[1] + i * rows + p0;
            char *o = row + (size_t)p0 * es;
            if (c->exact) {
                for (int64_t r = 0; r < n; r++) zf_store(c->t, a, r, g[r]), zf_store(c->t, b, r, u[r]);
                c->swiglu(c->t, a, b, o, n, 0);
            } else if (c->t == ZF_DTYPE_F32) {
                c->swiglu(ZF_DTYPE_F32, g, u, o, n, 0);
            } else {
                c->swiglu(ZF_DTYPE_F32, g, u, a, n, 0);
                for (int64_t r = 0; r < n; r++) zf_store(c->t, o, r, a[r]);
            }
        }
    }
}

/* The elementwise swiglu kernel for the fused op's epilogue: the registry's
 * pick at that fidelity, or the scalar kernel (same bits) if none is trusted. */
static ew_binary_fn swiglu_kernel(int exact) {
    const zf_variant *v;
    if (zf_pick(ZF_OP_SWIGLU, ZF_DEVICE_CPU, exact ? ZF_FIDELITY_EXACT : ZF_FIDELITY_FAST, &v) == ZF_OK &&
        v->fidelity == (exact ? ZF_FIDELITY_EXACT : ZF_FIDELITY_FAST))
        return (ew_binary_fn)v->fn;
    zf_clear_error();
    return exact ? zf_scalar_swiglu_exact : zf_scalar_swiglu_fast;
}

static zf_status check_same_qshape(const char *op, const zf_qweight *a, const char *an, const zf_qweight *b,
                                   const char *bn) {
    ZF_TRY(zf_check_qweight(op, bn, b));
    if (a->experts != b->experts || a->n != b->n || a->k != b->k)
        return zf_error(ZF_ERR_SHAPE, "[%s] %s is [%lld, %lld, %lld] but %s is [%lld, %lld, %lld]; expected equal", op,
                        an, (long long)a->experts, (long long)a->n, (long long)a->k, bn, (long long)b->experts,
                        (long long)b->n, (long long)b->k);
    return ZF_OK;
}

/* A contiguous T tensor [m, slots, n]. */
static zf_status scratch3(const char *op, zf_dtype t, int64_t m, int64_t s, int64_t n, zf_tensor *out) {
    void *p = malloc((size_t)(m * s * n) * zf_dtype_size(t));
    if (!p) return zf_error(ZF_ERR_NO_MEMORY, "[%s] no memory for a %lld-element intermediate", op, (long long)(m * s * n));
    int64_t shape[3] = {m, s, n};
    *out = zf_tensor_nd(p, t, 3, shape);
    return ZF_OK;
}

static const zf_opts k_stock = {ZF_FIDELITY_STOCK, NULL};

/* The stock composition: gather_qmm twice, then swiglu (silu then mul). */
static zf_status swiglu_stock(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu, const zf_tensor *ids,
                              zf_tensor *out, int64_t m, int64_t slots) {
    const char *op = "gather_qmm_swiglu";
    zf_tensor g, u = {0};
    ZF_TRY(scratch3(op, x->dtype, m, slots, wg->n, &g));
    zf_status st = scratch3(op, x->dtype, m, slots, wg->n, &u);
    if (st == ZF_OK) st = zf_cpu_gather_qmm(x, wg, ids, &g, &k_stock);
    if (st == ZF_OK) st = zf_cpu_gather_qmm(x, wu, ids, &u, &k_stock);
    if (st == ZF_OK) st = zf_cpu_swiglu(&g, &u, out, &k_stock);
    free(g.data), free(u.data);
    return st;
}

/* gather_qmm_swiglu as op `op` calls it, its output named `outn` in errors */
static zf_status swiglu_named(const char *op, const char *outn, const zf_tensor *x, const zf_qweight *wg,
                              const zf_qweight *wu, const zf_tensor *ids, zf_tensor *out, const zf_opts *o) {
    int64_t m = 0, slots = 0, xrs = 0;
    int xps = 0;
    ZF_TRY(zf_check_gather(op, x, "x", wg, "wg", ids, &m, &slots, &xps, &xrs));
    ZF_TRY(check_same_qshape(op, wg, "wg", wu, "wu"));
    ZF_TRY(zf_check_float(op, outn, out));
    if (out->dtype != x->dtype)
        return zf_error(ZF_ERR_DTYPE, "[%s] %s is %s but x is %s; expected one dtype", op, outn,
                        zf_dtype_name(out->dtype), zf_dtype_name(x->dtype));
    if (out->ndim != 3 || out->shape[0] != m || out->shape[1] != slots || out->shape[2] != wg->n)
        return zf_error(ZF_ERR_SHAPE, "[%s] %s must be [m, slots, n] = [%lld, %lld, %lld]", op, outn, (long long)m,
                        (long long)slots, (long long)wg->n);
    if (out->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[%s] %s is on a device with no backend loaded here", op, outn);
    ZF_TRY(zf_check_alias(op, outn, out, "x", x));
    zf_rows orows;
    ZF_TRY(zf_as_rows(op, outn, out, &orows));
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_GATHER_QMM_SWIGLU, ZF_DEVICE_CPU, fidelity_of(o), &v));
    if (v->fidelity == ZF_FIDELITY_STOCK) return swiglu_stock(x, wg, wu, ids, out, m, slots);
    const int exact = v->fidelity == ZF_FIDELITY_EXACT;
    swiglu_ctx c = {orows, x->dtype, exact, swiglu_kernel(exact)};
    zf_qgather g = {.w = {wg, wu}, .nw = 2, .dot = (zf_qdot_fn)v->fn, .m = m, .slots = slots, .ids = ids,
                    .x_per_slot = xps, .per_token = 0, .xt = x->dtype, .x = x->data, .x_row_stride = xrs,
                    .epilogue = swiglu_epilogue, .ctx = &c};
    return zf_qgather_run(op, &g);
}

zf_status zf_cpu_gather_qmm_swiglu(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu,
                                   const zf_tensor *ids, zf_tensor *out, const zf_opts *o) {
    return swiglu_named("gather_qmm_swiglu", "out", x, wg, wu, ids, out, o);
}

/* ---- gather_qmm_combine ------------------------------------------------------ */

/* Per-pair f32 dots; the sum over slots runs afterwards, per token. */
typedef struct dots_ctx {
    float *d;
    int64_t n;
} dots_ctx;

static void dots_epilogue(void *ctx, const int64_t *pairs, int np, int64_t r0, int64_t rows, const float *const *d) {
    const dots_ctx *c = ctx;
    for (int i = 0; i < np; i++) memcpy(c->d + pairs[i] * c->n + r0, d[0] + i * rows, (size_t)rows * sizeof(float));
}

/* n outputs of one token from its slots' dots d[s * stride + r]. exact:
 * y_s = T(dot), p_s = T(y_s * w_s), acc = p_0, acc = T(acc + p_s); fast:
 * acc = d_0 * w_0, acc = acc + d_s * w_s, T once. */
static void combine_rows(const float *d, int64_t slots, int64_t n, int64_t stride, zf_dtype t, zf_dtype wt,
                         const void *wrow, void *yrow, int exact) {
    enum { PIECE = 256 }; /* slot by slot over a piece of rows: each output's order is unchanged */
    float acc[PIECE];
    for (int64_t r0 = 0; r0 < n; r0 += PIECE) {
        const int64_t len = n - r0 < PIECE ? n - r0 : PIECE;
        for (int64_t s = 0; s < slots; s++) {
            const float w = zf_load(wt, wrow, s), *v = d + s * stride + r0;
            if (exact) {
                for (int64_t r = 0; r < len; r++) {
                    float p = zf_round_to(t, zf_round_to(t, v[r]) * w);
                    acc[r] = s == 0 ? p : zf_round_to(t, acc[r] + p);
                }
            } else if (s == 0) {
                for (int64_t r = 0; r < len; r++) acc[r] = v[r] * w;
            } else {
                for (int64_t r = 0; r < len; r++) acc[r] = acc[r] + v[r] * w;
            }
        }
        for (int64_t r = 0; r < len; r++) zf_store(t, yrow, r0 + r, acc[r]);
    }
}

/* per_token engine: one token's slots arrive together; combine in place. */
typedef struct combine_ctx {
    zf_rows y;
    zf_dtype t;
    const zf_tensor *weights;
    int64_t slots;
    int exact;
} combine_ctx;

static void combine_epilogue(void *ctx, const int64_t *pairs, int np, int64_t r0, int64_t rows,
                             const float *const *d) {
    const combine_ctx *c = ctx;
    int64_t m = pairs[0] / c->slots;
    const char *wrow = (const char *)c->weights->data +
                       (size_t)(m * c->weights->stride[0]) * zf_dtype_size(c->weights->dtype);
    char *yrow = (char *)c->y.data + (size_t)(m * c->y.row_stride + r0) * zf_dtype_size(c->t);
    combine_rows(d[0], np, rows, rows, c->t, c->weights->dtype, wrow, yrow, c->exact);
}

/* an: a's name in errors */
static zf_status check_combine(const char *op, const char *an, const zf_tensor *a, const zf_qweight *wd,
                               const zf_tensor *ids, const zf_tensor *weights, const zf_tensor *y, int64_t *m,
                               int64_t *slots, int64_t *ars, zf_rows *yr) {
    int xps;
    ZF_TRY(zf_check_gather(op, a, an, wd, "wd", ids, m, slots, &xps, ars));
    if (!xps)
        return zf_error(ZF_ERR_SHAPE, "[%s] %s must be [m, slots, k] = [%lld, %lld, %lld] (one row per slot)", op, an,
                        (long long)*m, (long long)*slots, (long long)wd->k);
    ZF_TRY(zf_check_float(op, "weights", weights));
    if (weights->dtype != a->dtype && weights->dtype != ZF_DTYPE_F32)
        return zf_error(ZF_ERR_DTYPE, "[%s] weights is %s; expected %s's dtype %s or f32", op,
                        zf_dtype_name(weights->dtype), an, zf_dtype_name(a->dtype));
    if (weights->ndim != 2 || weights->shape[0] != *m || weights->shape[1] != *slots)
        return zf_error(ZF_ERR_SHAPE, "[%s] weights must be [m, slots] = [%lld, %lld]", op, (long long)*m,
                        (long long)*slots);
    ZF_TRY(zf_check_float(op, "y", y));
    if (y->dtype != a->dtype)
        return zf_error(ZF_ERR_DTYPE, "[%s] y is %s but %s is %s; expected one dtype", op, zf_dtype_name(y->dtype),
                        an, zf_dtype_name(a->dtype));
    if (y->ndim != 2 || y->shape[0] != *m || y->shape[1] != wd->n)
        return zf_error(ZF_ERR_SHAPE, "[%s] y must be [m, n] = [%lld, %lld]", op, (long long)*m, (long long)wd->n);
    if (weights->device != ZF_DEVICE_CPU || y->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[%s] weights or y is on a device with no backend loaded here", op);
    const char *y0, *y1, *a0, *a1, *w0, *w1;
    zf_tensor_span(y, &y0, &y1);
    zf_tensor_span(a, &a0, &a1);
    zf_tensor_span(weights, &w0, &w1);
    if ((y0 < a1 && a0 < y1) || (y0 < w1 && w0 < y1))
        return zf_error(ZF_ERR_ALIAS, "[%s] y overlaps %s or weights; it needs its own memory", op, an);
    return zf_as_rows(op, "y", y, yr);
}

/* The combine of arguments check_combine accepted (m, slots, ars, yr: what it returned). */
static zf_status combine_checked(const char *op, const zf_tensor *a, const zf_qweight *wd, const zf_tensor *ids,
                                 const zf_tensor *weights, const zf_tensor *y, int64_t m, int64_t slots, int64_t ars,
                                 zf_rows yr, const zf_opts *o) {
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_GATHER_QMM_COMBINE, ZF_DEVICE_CPU, fidelity_of(o), &v));
    int64_t n = wd->n;
    /* stock rounds like exact; fast and approx keep the sum in f32 */
    int exact = zf_rounds_like_stock(v->fidelity);
    if (v->fidelity != ZF_FIDELITY_STOCK && slots <= ZF_QNX && m * slots <= ZF_QPER_TOKEN_PAIRS) {
        /* a few tokens: each task sums its token's slots, no dots buffer */
        combine_ctx c = {yr, a->dtype, weights, slots, exact};
        zf_qgather g = {.w = {wd}, .nw = 1, .dot = (zf_qdot_fn)v->fn, .m = m, .slots = slots, .ids = ids,
                        .x_per_slot = 1, .per_token = 1, .xt = a->dtype, .x = a->data, .x_row_stride = ars,
                        .epilogue = combine_epilogue, .ctx = &c};
        return zf_qgather_run(op, &g);
    }
    float *d = malloc((size_t)(m * slots * n) * sizeof(float));
    if (!d) return zf_error(ZF_ERR_NO_MEMORY, "[%s] no memory for %lld dots", op, (long long)(m * slots * n));
    zf_status st = ZF_OK;
    if (v->fidelity == ZF_FIDELITY_STOCK) {
        /* stock: gather_qmm -> T, then the mul and add passes (loaded back as f32) */
        zf_tensor ys;
        st = scratch3(op, a->dtype, m, slots, n, &ys);
        if (st == ZF_OK) st = zf_cpu_gather_qmm(a, wd, ids, &ys, &k_stock);
        for (int64_t i = 0; st == ZF_OK && i < m * slots * n; i++) d[i] = zf_load(a->dtype, ys.data, i);
        free(ys.data);
    } else {
        dots_ctx c = {d, n};
        zf_qgather g = {.w = {wd}, .nw = 1, .dot = (zf_qdot_fn)v->fn, .m = m, .slots = slots, .ids = ids,
                        .x_per_slot = 1, .per_token = 0, .xt = a->dtype, .x = a->data, .x_row_stride = ars,
                        .epilogue = dots_epilogue, .ctx = &c};
        st = zf_qgather_run(op, &g);
    }
    size_t wes = zf_dtype_size(weights->dtype), yes = zf_dtype_size(y->dtype);
    for (int64_t i = 0; st == ZF_OK && i < m; i++)
        combine_rows(d + i * slots * n, slots, n, n, a->dtype, weights->dtype,
                     (const char *)weights->data + (size_t)(i * weights->stride[0]) * wes,
                     (char *)yr.data + (size_t)(i * yr.row_stride) * yes, exact);
    free(d);
    return st;
}

zf_status zf_cpu_gather_qmm_combine(const zf_tensor *a, const zf_qweight *wd, const zf_tensor *ids,
                                    const zf_tensor *weights, zf_tensor *y, const zf_opts *o) {
    const char *op = "gather_qmm_combine";
    int64_t m, slots, ars;
    zf_rows yr;
    ZF_TRY(check_combine(op, "a", a, wd, ids, weights, y, &m, &slots, &ars, &yr));
    return combine_checked(op, a, wd, ids, weights, y, m, slots, ars, yr, o);
}

/* ---- moe_experts: swiglu then combine, every argument checked first ---------- */

zf_status zf_cpu_moe_experts(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu, const zf_qweight *wd,
                             const zf_tensor *ids, const zf_tensor *weights, zf_tensor *act, zf_tensor *y,
                             const zf_opts *o) {
    const char *op = "moe_experts";
    int64_t m, slots, ars;
    zf_rows yr;
    /* the combine's checks first: the swiglu checks its own before it writes act */
    ZF_TRY(check_combine(op, "act", act, wd, ids, weights, y, &m, &slots, &ars, &yr));
    ZF_TRY(swiglu_named(op, "act", x, wg, wu, ids, act, o));
    return combine_checked(op, act, wd, ids, weights, y, m, slots, ars, yr, o);
}
