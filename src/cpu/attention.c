/* Causal grouped-query attention on the CPU (docs/NUMERICS.md §9):
 * s_j = L256(q, k_j) * scale; e_j = exp(s_j - max); S = L256 sum of e_j;
 * o_c = T((sum over j ascending of fma(e_j, v_jc, .)) / S).
 * Each (query, head) is one independent unit, so results never depend on
 * the batch size, the thread count or which keys came from a cache. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "core/zmath.h"
#include "cpu/l256.h"
#include "cpu/model_ops.h"
#include "cpu/selftest.h"

static void scalar_head(zf_dtype tq, const void *q, zf_dtype tkv, const void *k, int64_t k_stride, const void *v,
                        int64_t v_stride, int64_t len, int64_t d, float scale, void *out, float *scratch) {
    float *qb = scratch, *rb = scratch + d, *s = scratch + 2 * d;
    size_t es = zf_dtype_size(tkv);
    const float *qf = zf_row_f32(tq, q, d, qb);
    float mx = -INFINITY;
    for (int64_t j = 0; j < len; j++) {
        const float *kf = zf_row_f32(tkv, (const char *)k + (size_t)(j * k_stride) * es, d, rb);
        s[j] = zf_l256_dot(qf, kf, d) * scale;
        if (s[j] > mx) mx = s[j];
    }
    for (int64_t j = 0; j < len; j++) s[j] = zf_exp_scalar(s[j] - mx);
    float sum = zf_l256_sum(s, len);
    float *acc = qb; /* q is no longer needed */
    for (int64_t c = 0; c < d; c++) acc[c] = 0.0f;
    for (int64_t j = 0; j < len; j++) {
        const float *vf = zf_row_f32(tkv, (const char *)v + (size_t)(j * v_stride) * es, d, rb);
        for (int64_t c = 0; c < d; c++) acc[c] = fmaf(s[j], vf[c], acc[c]);
    }
    for (int64_t c = 0; c < d; c++) zf_store(tq, out, c, acc[c] / sum);
}

void zf_scalar_attention(zf_dtype tq, const void *q, int64_t q_hs, int nh, zf_dtype tkv, const void *k,
                         int64_t k_stride, const void *v, int64_t v_stride, int64_t len, int64_t d, float scale,
                         void *out, int64_t o_hs, float *scratch) {
    zf_attention_each_head(scalar_head, tq, q, q_hs, nh, tkv, k, k_stride, v, v_stride, len, d, scale, out, o_hs,
                           scratch);
}

/* Scratch floats a task keeps on its stack: no allocation per call while
 * the heads of one kernel call (at most ZF_ATTN_MAX_GROUP) times keys + 2
 * head_dim + 16 fit (7,664 keys at head_dim 256 for one head). */
#define ZF_ATTN_STACK_FLOATS 8192

typedef struct attn_job {
    const zf_tensor *q, *k, *v;
    zf_tensor *out;
    float scale;
    zf_attention_fn fn;
    int64_t units, per_task, scratch_floats;
    float *scratch; /* tasks x scratch_floats, or NULL: each task uses its stack */
} attn_job;

/* Task: a fixed range of (query, head) units, with its own scratch. */
static void attn_task(void *ctx, int64_t task) {
    attn_job *j = ctx;
    const zf_tensor *q = j->q, *k = j->k, *v = j->v;
    int64_t m = q->shape[0], hq = q->shape[1], d = q->shape[2], t = k->shape[1];
    int64_t group = hq / k->shape[0];
    size_t eq = zf_dtype_size(q->dtype), ekv = zf_dtype_size(k->dtype);
    float local[ZF_ATTN_STACK_FLOATS];
    float *scratch = j->scratch ? j->scratch + task * j->scratch_floats : local;
    int64_t end = (task + 1) * j->per_task < j->units ? (task + 1) * j->per_task : j->units;
    for (int64_t u = task * j->per_task; u < end;) {
        int64_t i = u / hq, h = u % hq, kh = h / group;
        /* this unit and the next ones of the task with the same query and kv head: one call */
        int nh = 1;
        while (nh < ZF_ATTN_MAX_GROUP && u + nh < end && (h + nh) < hq && (h + nh) / group == kh) nh++;
        int64_t len = t - m + i + 1; /* causal: keys up to this query's position */
        const char *qp = (const char *)q->data + (size_t)(i * q->stride[0] + h * q->stride[1]) * eq;
        const char *kp = (const char *)k->data + (size_t)(kh * k->stride[0]) * ekv;
        const char *vp = (const char *)v->data + (size_t)(kh * v->stride[0]) * ekv;
        char *op = (char *)j->out->data + (size_t)(i * j->out->stride[0] + h * j->out->stride[1]) * eq;
        j->fn(q->dtype, qp, q->stride[1], nh, k->dtype, kp, k->stride[1], vp, v->stride[1], len, d, j->scale, op,
              j->out->stride[1], scratch);
        u += nh;
    }
}

static zf_status check_args(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, float scale,
                            const zf_tensor *out) {
    ZF_TRY(zf_check_float("attention", "q", q));
    ZF_TRY(zf_check_float("attention", "k", k));
    ZF_TRY(zf_check_float("attention", "v", v));
    ZF_TRY(zf_check_float("attention", "out", out));
    if (q->ndim != 3 || k->ndim != 3 || v->ndim != 3)
        return zf_error(ZF_ERR_SHAPE, "[attention] q, k and v need 3 axes: q [tokens, heads, head_dim], "
                        "k and v [kv_heads, keys, head_dim]");
    ZF_TRY(zf_check_same("attention", "q", q, "out", out));
    ZF_TRY(zf_check_same("attention", "k", k, "v", v));
    if (q->device != k->device)
        return zf_error(ZF_ERR_INVALID_ARG, "[attention] q and k are on different devices");
    if (k->shape[2] != q->shape[2])
        return zf_error(ZF_ERR_SHAPE, "[attention] k has head_dim %lld but q has %lld", (long long)k->shape[2],
                        (long long)q->shape[2]);
    if (q->shape[1] % k->shape[0])
        return zf_error(ZF_ERR_SHAPE, "[attention] q has %lld heads, not a multiple of k's %lld kv heads",
                        (long long)q->shape[1], (long long)k->shape[0]);
    if (k->shape[1] < q->shape[0])
        return zf_error(ZF_ERR_SHAPE, "[attention] %lld keys for %lld queries; the queries are the last keys' "
                        "positions, so keys >= queries", (long long)k->shape[1], (long long)q->shape[0]);
    if (!(fabsf(scale) <= 3.0e38f))
        return zf_error(ZF_ERR_INVALID_ARG, "[attention] scale = %g; expected a finite value", (double)scale);
    ZF_TRY(zf_check_alias("attention", "out", out, "q", q));
    ZF_TRY(zf_check_alias("attention", "out", out, "k", k));
    ZF_TRY(zf_check_alias("attention", "out", out, "v", v));
    if (out->data == q->data)
        return zf_error(ZF_ERR_ALIAS, "[attention] out may not be q: every head reads q while others write");
    if (q->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[attention] tensor is on a device with no backend loaded here");
    return ZF_OK;
}

zf_status zf_cpu_attention(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, float scale, zf_tensor *out,
                           const zf_opts *o) {
    ZF_TRY(check_args(q, k, v, scale, out));
    const zf_variant *var;
    ZF_TRY(zf_pick(ZF_OP_ATTENTION, ZF_DEVICE_CPU, o ? o->fidelity : ZF_FIDELITY_AUTO, &var));
    attn_job j = {.q = q, .k = k, .v = v, .out = out, .scale = scale, .fn = (zf_attention_fn)var->fn};
    int64_t d = q->shape[2], t = k->shape[1];
    j.units = q->shape[0] * q->shape[1];
    /* work ~ units * keys * d: small calls stay on this thread */
    int64_t work = j.units * t * d * 8;
    int64_t tasks = zf_tasks_for_bytes(work, 4 * (int64_t)zf_get_num_threads());
    if (tasks > j.units) tasks = j.units;
    j.per_task = (j.units + tasks - 1) / tasks;
    tasks = (j.units + j.per_task - 1) / j.per_task;
    const int64_t most = j.per_task < ZF_ATTN_MAX_GROUP ? j.per_task : ZF_ATTN_MAX_GROUP; /* heads per call */
    j.scratch_floats = most * (t + 2 * d + 16);
    if (j.scratch_floats > ZF_ATTN_STACK_FLOATS) { /* long contexts only */
        j.scratch = malloc((size_t)(tasks * j.scratch_floats) * sizeof(float));
        if (!j.scratch)
            return zf_error(ZF_ERR_NO_MEMORY, "[attention] no memory for %lld score rows of %lld", (long long)tasks,
                            (long long)t);
    }
    if (tasks == 1) attn_task(&j, 0);
    else zf_parallel_for(tasks, attn_task, &j);
    free(j.scratch);
    return ZF_OK;
}

/* Against the scalar kernel, bit for bit: head sizes 7 (tails), 64 and 72,
 * 1 and 300 keys, one head and a group of 3 q heads per call. */
int zf_cpu_selftest_attention(const zf_variant *v, char *msg, size_t msg_size) {
    enum { D = 72, LEN = 300, H = 3 };
    static float q[H * D], k[LEN * D], vv[LEN * D], scratch[2][H * (LEN + 2 * D + 16)], o[2][H * D];
    uint64_t st = 0x9e3779b97f4a7c15ull;
    zf_selftest_fill(ZF_DTYPE_F32, q, H * D, &st, 1.0f);
    zf_selftest_fill(ZF_DTYPE_F32, k, LEN * D, &st, 1.0f);
    zf_selftest_fill(ZF_DTYPE_F32, vv, LEN * D, &st, 1.0f);
    const int64_t dims[3] = {7, 64, D};
    for (int c = 0; c < 3; c++)
        for (int nh = 1; nh <= H; nh += H - 1)
            for (int64_t len = 1; len <= LEN; len += 299) {
                zf_scalar_attention(ZF_DTYPE_F32, q, D, nh, ZF_DTYPE_F32, k, D, vv, D, len, dims[c], 0.125f, o[0], D,
                                    scratch[0]);
                ((zf_attention_fn)v->fn)(ZF_DTYPE_F32, q, D, nh, ZF_DTYPE_F32, k, D, vv, D, len, dims[c], 0.125f,
                                         o[1], D, scratch[1]);
                for (int h = 0; h < nh; h++)
                    for (int64_t i = 0; i < dims[c]; i++)
                        if (zf_f32_bits(o[0][h * D + i]) != zf_f32_bits(o[1][h * D + i])) {
                            snprintf(msg, msg_size, "head_dim %lld, %lld keys, head %d of %d: out[%lld] = %a, scalar "
                                     "gives %a", (long long)dims[c], (long long)len, h, nh, (long long)i,
                                     (double)o[1][h * D + i], (double)o[0][h * D + i]);
                            return -1;
                        }
            }
    return 0;
}
