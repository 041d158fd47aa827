/* Quantized matmul on the CPU: the scalar kernel that defines the canonical
 * dot's bits (docs/NUMERICS.md §8.2), the gathered-projection engine,
 * and the qmm / gather_qmm entry points. SIMD kernels (qmm_avx2.c) return
 * the very same bits. */
#include "cpu/qmm.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "cpu/quant.h"
#include "cpu/selftest.h"

#define ZF_QTASK_DOTS 4096    /* a task's dots, rows x its x rows (or calls), at most */
#define ZF_QTASKS_PER_THREAD 2 /* at least, where the rows allow: see zf_qgather_run */
#define ZF_QMAX_HOMES 64       /* threads that one batch's home ranges serve (more: even pieces) */

void zf_qx_prepare(zf_dtype t, const void *x, int64_t k, float *xf, float *xs) {
    for (int64_t i = 0; i < k; i++) xf[i] = zf_load(t, x, i);
    for (int64_t j = 0; j < k / ZF_QBLOCK; j++)
        for (int l = 0; l < ZF_QLANES; l++) {
            const float *b = xf + j * ZF_QBLOCK + l;
            xs[j * ZF_QLANES + l] = ((b[0] + b[8]) + b[16]) + b[24];
        }
}

zf_qrows zf_qrows_of(const zf_qweight *w, int64_t e, int64_t r0, int64_t rows) {
    int64_t words = zf_q_words(w), groups = zf_q_groups(w), row = e * w->n + r0;
    size_t ss = zf_dtype_size(w->scale_dtype);
    return (zf_qrows){.packed = w->packed + row * words,
                      .scales = (const char *)w->scales + (size_t)(row * groups) * ss,
                      .biases = (const char *)w->biases + (size_t)(row * groups) * ss,
                      .sdt = w->scale_dtype, .bits = w->bits, .group_size = w->group_size,
                      .k = w->k, .words = words, .groups = groups, .rows = rows};
}

/* ---- the scalar kernel: the definition of the canonical dot -------------- */

static float scalar_dot_row(const zf_qrows *w, int64_t r, const float *xf, const float *xs) {
    const uint32_t *p = w->packed + r * w->words;
    int64_t g0 = r * w->groups, nb = w->k / ZF_QBLOCK, bpg = w->group_size / ZF_QBLOCK;
    float acc[ZF_QCOLS][ZF_QLANES] = {{0.0f}};
    for (int64_t j = 0; j < nb; j++) {
        float s = zf_load(w->sdt, w->scales, g0 + j / bpg), b = zf_load(w->sdt, w->biases, g0 + j / bpg);
        float *a = acc[j % ZF_QCOLS];
        const float *x = xf + j * ZF_QBLOCK;
        for (int l = 0; l < ZF_QLANES; l++) {
            float d = x[l] * (float)zf_q_get(p, w->bits, j * ZF_QBLOCK + l);
            for (int q = 1; q < 4; q++)
                d = fmaf(x[8 * q + l], (float)zf_q_get(p, w->bits, j * ZF_QBLOCK + 8 * q + l), d);
            a[l] = fmaf(s, d, a[l]);
            a[l] = fmaf(b, xs[j * ZF_QLANES + l], a[l]);
        }
    }
    float col[ZF_QCOLS];
    for (int c = 0; c < ZF_QCOLS; c++) {
        const float *a = acc[c];
        col[c] = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
    }
    return ((col[0] + col[4]) + (col[2] + col[6])) + ((col[1] + col[5]) + (col[3] + col[7]));
}

void zf_scalar_qdot(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out) {
    for (int i = 0; i < nx; i++)
        for (int64_t r = 0; r < w->rows; r++) out[i * w->rows + r] = scalar_dot_row(w, r, xf[i], xs[i]);
}

/* ---- argument checks ------------------------------------------------------ */

zf_status zf_check_gather(const char *op, const zf_tensor *x, const char *xname, const zf_qweight *w,
                          const char *wname, const zf_tensor *ids, int64_t *m, int64_t *slots, int *x_per_slot,
                          int64_t *x_row_stride) {
    ZF_TRY(zf_check_qweight(op, wname, w));
    ZF_TRY(zf_check_float(op, xname, x));
    ZF_TRY(zf_check_tensor(op, "ids", ids));
    if (x->device != ZF_DEVICE_CPU || ids->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[%s] %s or ids is on a device with no backend loaded here", op, xname);
    if (ids->dtype != ZF_DTYPE_I32)
        return zf_error(ZF_ERR_DTYPE, "[%s] ids has dtype %s; expected i32", op, zf_dtype_name(ids->dtype));
    if (ids->ndim != 2)
        return zf_error(ZF_ERR_SHAPE, "[%s] ids has %d dims; expected [m, slots]", op, ids->ndim);
    *m = ids->shape[0];
    *slots = ids->shape[1];
    if (x->ndim == 2 && x->shape[0] == *m && x->shape[1] == w->k) {
        *x_per_slot = 0;
    } else if (x->ndim == 3 && x->shape[0] == *m && x->shape[1] == *slots && x->shape[2] == w->k) {
        *x_per_slot = 1;
    } else {
        return zf_error(ZF_ERR_SHAPE, "[%s] %s must be [m, k] = [%lld, %lld] or [m, slots, k] = [%lld, %lld, %lld]",
                        op, xname, (long long)*m, (long long)w->k, (long long)*m, (long long)*slots,
                        (long long)w->k);
    }
    zf_rows xr;
    ZF_TRY(zf_as_rows(op, xname, x, &xr));
    *x_row_stride = xr.row_stride;
    for (int64_t i = 0; i < *m; i++)
        for (int64_t s = 0; s < *slots; s++) {
            int32_t e = ((const int32_t *)ids->data)[i * ids->stride[0] + s];
            if (e < 0 || e >= w->experts)
                return zf_error(ZF_ERR_INVALID_ARG, "[%s] ids[%lld, %lld] = %d; expected an expert in [0, %lld)", op,
                                (long long)i, (long long)s, (int)e, (long long)w->experts);
        }
    return ZF_OK;
}

/* y: [m, slots, n] (gather) or [m, n] (qmm, slots == 1, ndim 2). */
static zf_status check_out(const char *op, const zf_tensor *y, const zf_tensor *x, int64_t m, int64_t slots,
                           int64_t n, int ndim, zf_rows *yr) {
    ZF_TRY(zf_check_float(op, "y", y));
    if (y->dtype != x->dtype)
        return zf_error(ZF_ERR_DTYPE, "[%s] y is %s but x is %s; expected one dtype", op, zf_dtype_name(y->dtype),
                        zf_dtype_name(x->dtype));
    int ok = y->ndim == ndim && y->shape[0] == m && y->shape[ndim - 1] == n && (ndim == 2 || y->shape[1] == slots);
    if (!ok)
        return ndim == 2 ? zf_error(ZF_ERR_SHAPE, "[%s] y must be [m, n] = [%lld, %lld]", op, (long long)m,
                                    (long long)n)
                         : zf_error(ZF_ERR_SHAPE, "[%s] y must be [m, slots, n] = [%lld, %lld, %lld]", op,
                                    (long long)m, (long long)slots, (long long)n);
    if (y->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[%s] y is on a device with no backend loaded here", op);
    ZF_TRY(zf_check_alias(op, "y", y, "x", x));
    return zf_as_rows(op, "y", y, yr);
}

/* ---- the gathered-projection engine --------------------------------------- */

/* Decode-sized calls keep their scratch on the stack: one token's prepared x
 * is 2560 floats for Qwen3-30B-A3B's gate/up, 7680 for its down (8 slots). */
#define ZF_QSMALL_FLOATS 8192
#define ZF_QSMALL_PAIRS 64
#define ZF_QSMALL_PREP 16384 /* bytes of kernel-prepared x rows (int8: 3.2 KB for k = 2048) */

typedef struct batch {
    int64_t first; /* index into the pair order */
    int n;
} batch;

typedef struct engine {
    const zf_qgather *g;
    const int32_t *ids; /* dense [m * slots] */
    const int64_t *order;
    const batch *batches;
    int64_t chunk, n_chunks; /* a batch's rows in n_chunks pieces of chunk rows */
    /* one batch: T home ranges of rows, each (front | back << 32), and the
     * rows a thread takes at a time from its own range's front and from the
     * back of another's (home_task) */
    _Atomic uint64_t *homes;
    int64_t n_homes, own_rows, steal_rows;
    const float *xf, *xs;
    zf_qdot_prepared_fn pdot; /* non-NULL: x rows prepared for it, xq_bytes apart */
    const unsigned char *xq;
    size_t xq_bytes;
} engine;

static int64_t expert_of(const engine *en, int64_t p) { return en->ids ? en->ids[p] : 0; }

/* Rows r0 .. r0 + rows - 1 (at most a dots tile) of batch b: the dots, then the epilogue. */
static void engine_rows(const engine *en, const batch *b, int64_t r0, int64_t rows) {
    const zf_qgather *g = en->g;
    int64_t k = g->w[0]->k;
    const int64_t *pairs = en->order + b->first;
    /* the task's dots (32 KB): per thread, not on a caller's stack; a task
     * never runs inside another on the same thread */
    static _Thread_local float d[2][ZF_QTASK_DOTS];
    const float *dp[2] = {d[0], d[1]};
    /* a batch is one expert's pairs (grouped), or one token's slots (per_token:
     * one kernel call per slot, each with its own expert) */
    int calls = g->per_token ? b->n : 1, nx = g->per_token ? 1 : b->n;
    for (int c = 0; c < calls; c++) {
        const int64_t *pc = pairs + c;
        const float *xf[ZF_QNX], *xs[ZF_QNX];
        const void *xq[ZF_QNX];
        for (int i = 0; i < nx; i++) {
            int64_t xr = g->x_per_slot ? pc[i] : pc[i] / g->slots;
            xf[i] = en->xf + xr * k;
            xs[i] = en->xs + xr * (k / 4);
            xq[i] = en->pdot ? en->xq + (size_t)xr * en->xq_bytes : NULL;
        }
        for (int w = 0; w < g->nw; w++) {
            zf_qrows qr = zf_qrows_of(g->w[w], expert_of(en, pc[0]), r0, rows);
            if (en->pdot) en->pdot(&qr, nx, xq, d[w] + c * rows);
            else g->dot(&qr, nx, xf, xs, d[w] + c * rows);
        }
    }
    g->epilogue(g->ctx, pairs, b->n, r0, rows, dp);
}

static void engine_task(void *ctx, int64_t task) {
    const engine *en = ctx;
    int64_t n = en->g->w[0]->n, r0 = task % en->n_chunks * en->chunk;
    engine_rows(en, &en->batches[task / en->n_chunks], r0, (r0 + en->chunk < n ? r0 + en->chunk : n) - r0);
}

/* Takes up to `step` rows from the front of a home range (or its back),
 * keeping cuts at multiples of 8 rows; 0 when the range is used up. */
static int take_rows(_Atomic uint64_t *fb, int64_t step, int back, int64_t *r0, int64_t *rows) {
    uint64_t v = atomic_load_explicit(fb, memory_order_relaxed);
    for (;;) {
        int64_t f = (int64_t)(v & 0xffffffffu), e = (int64_t)(v >> 32), nf = f, ne = e;
        if (f >= e) return 0;
        if (!back) nf = f + step < e ? f + step : e;
        else ne = e - step > f ? (e - step + 7) / 8 * 8 : f;
        if (atomic_compare_exchange_weak_explicit(fb, &v, (uint64_t)nf | (uint64_t)ne << 32, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *r0 = back ? ne : f;
            *rows = back ? e - ne : nf - f;
            return 1;
        }
    }
}

/* One batch over the threads: task t walks home range t front to back, so
 * its weight rows are one run of memory for the prefetchers, then takes
 * rows from the back of the other ranges until all are done, so the threads
 * finish together. (Pieces handed out in turn, each a new run, were 5-6%
 * slower at SmolLM2 decode: docs/PERF-CPU.md, session 13.) */
static void home_task(void *ctx, int64_t t) {
    const engine *en = ctx;
    int64_t r0, rows;
    while (take_rows(&en->homes[t], en->own_rows, 0, &r0, &rows)) engine_rows(en, &en->batches[0], r0, rows);
    for (int64_t i = 1; i < en->n_homes; i++)
        while (take_rows(&en->homes[(t + i) % en->n_homes], en->steal_rows, 1, &r0, &rows))
            engine_rows(en, &en->batches[0], r0, rows);
}

/* Pairs stably sorted by expert: insertion for a few, counting otherwise. */
static void sort_by_expert(const engine *en, int64_t npairs, int64_t experts, int64_t *count, int64_t *order) {
    if (!count) {
        for (int64_t p = 0; p < npairs; p++) {
            int64_t i = p;
            for (; i > 0 && expert_of(en, order[i - 1]) > expert_of(en, p); i--) order[i] = order[i - 1];
            order[i] = p;
        }
        return;
    }
    memset(count, 0, (size_t)(experts + 1) * sizeof *count);
    for (int64_t p = 0; p < npairs; p++) count[expert_of(en, p) + 1]++;
    for (int64_t e = 0; e < experts; e++) count[e + 1] += count[e];
    for (int64_t p = 0; p < npairs; p++) order[count[expert_of(en, p)]++] = p;
}

const zf_qprep *zf_qprep_of(zf_qdot_fn dot) {
    static const zf_qprep i8 = {zf_avx2_qx_i8_size, zf_avx2_qx_i8_prepare, zf_avx2_qdot_i8_prepared},
                          i8x512 = {zf_avx2_qx_i8_size, zf_avx2_qx_i8_prepare, zf_avx512_qdot_i8_prepared};
    return dot == zf_avx2_qdot_i8 ? &i8 : dot == zf_avx512_qdot_i8 ? &i8x512 : NULL;
}

zf_status zf_qgather_run(const char *op, const zf_qgather *g) {
    const zf_qweight *w = g->w[0];
    int64_t k = w->k, npairs = g->m * g->slots, nx = g->x_per_slot ? npairs : g->m, E = w->experts;
    size_t xfloats = (size_t)(nx * k + nx * (k / 4));
    int small = xfloats <= ZF_QSMALL_FLOATS && npairs <= ZF_QSMALL_PAIRS;
    float xbuf[ZF_QSMALL_FLOATS];
    int64_t order_s[ZF_QSMALL_PAIRS];
    batch batches_s[ZF_QSMALL_PAIRS];
    int32_t ids_s[ZF_QSMALL_PAIRS];
    float *xf = xbuf;
    int64_t *order = order_s, *count = NULL;
    batch *batches = batches_s;
    int32_t *ids = ids_s;
    void *heap = NULL;
    if (!small) { /* one block: x, order, count, batches, ids */
        size_t sizes[5] = {xfloats * sizeof(float), (size_t)npairs * sizeof(int64_t),
                           (size_t)(E + 1) * sizeof(int64_t), (size_t)npairs * sizeof(batch),
                           (size_t)npairs * sizeof(int32_t)};
        size_t total = 0, at[5];
        for (int i = 0; i < 5; i++) at[i] = total, total += (sizes[i] + 15) / 16 * 16;
        heap = malloc(total);
        if (!heap)
            return zf_error(ZF_ERR_NO_MEMORY, "[%s] no memory for %lld prepared rows of %lld", op, (long long)nx,
                            (long long)k);
        char *h = heap;
        xf = (float *)(h + at[0]), order = (int64_t *)(h + at[1]), count = (int64_t *)(h + at[2]);
        batches = (batch *)(h + at[3]), ids = (int32_t *)(h + at[4]);
    }
    float *xs = xf + nx * k;
    size_t xes = zf_dtype_size(g->xt);
    for (int64_t i = 0; i < nx; i++)
        zf_qx_prepare(g->xt, (const char *)g->x + (size_t)(i * g->x_row_stride) * xes, k, xf + i * k,
                      xs + i * (k / 4));
    if (g->ids)
        for (int64_t i = 0; i < g->m; i++)
            for (int64_t j = 0; j < g->slots; j++)
                ids[i * g->slots + j] = ((const int32_t *)g->ids->data)[i * g->ids->stride[0] + j];
    engine en = {.g = g, .ids = g->ids ? ids : NULL, .order = order, .batches = batches, .xf = xf, .xs = xs};
    _Alignas(64) unsigned char xq_small[ZF_QSMALL_PREP];
    void *xq_heap = NULL;
    const zf_qprep *pp = zf_qprep_of(g->dot);
    if (pp && (g->nw == 1 || g->w[1]->bits == w->bits)) {
        size_t row = (pp->size(k) + 63) / 64 * 64;
        unsigned char *xq = xq_small;
        if ((size_t)nx * row > sizeof xq_small) xq = xq_heap = aligned_alloc(64, (size_t)nx * row);
        if (!xq) {
            free(heap);
            return zf_error(ZF_ERR_NO_MEMORY, "[%s] no memory for %lld prepared rows of %lld", op, (long long)nx,
                            (long long)k);
        }
        int takes = 1;
        for (int64_t i = 0; i < nx && takes; i++) takes = pp->prepare(xf + i * k, k, w->bits, xq + (size_t)i * row);
        if (takes) en.pdot = pp->dot, en.xq = xq, en.xq_bytes = row;
    }
    int64_t nb = 0;
    if (g->per_token) { /* a batch per token, its slots in order */
        for (int64_t p = 0; p < npairs; p++) order[p] = p;
        for (int64_t i = 0; i < g->m; i++) batches[nb++] = (batch){i * g->slots, (int)g->slots};
    } else { /* pairs by expert, cut into batches of <= ZF_QNX */
        sort_by_expert(&en, npairs, E, count, order);
        for (int64_t p = 0; p < npairs;) {
            int n = 0;
            while (p + n < npairs && n < ZF_QNX && expert_of(&en, order[p + n]) == expert_of(&en, order[p])) n++;
            batches[nb++] = (batch){p, n};
            p += n;
        }
    }
    /* Rows per task: as many as its dots tile holds (ZF_QTASK_DOTS over the
     * widest batch: 4096 rows for one x row, 512 for 8). Each task starts a
     * new run of weight memory, which the prefetchers must pick up again:
     * one-token decode ran faster with runs of up to 4096 rows than with 64
     * (docs/PERF-CPU.md, session 7). Every dot is the same whatever the cut. */
    int64_t width = 1;
    for (int64_t b = 0; b < nb; b++) width = batches[b].n > width ? batches[b].n : width;
    int64_t max_chunk = ZF_QTASK_DOTS / width / 8 * 8, T = zf_get_num_threads();
    int64_t row_bytes = zf_q_words(w) * 4 * g->nw, per = (w->n + T - 1) / T;
    int64_t bytes = (g->per_token ? npairs : nb) * w->n * row_bytes;
    _Atomic uint64_t homes[ZF_QMAX_HOMES];
    if (nb == 1 && T > 1 && T <= ZF_QMAX_HOMES && per >= 64 && w->n < INT32_MAX && zf_tasks_for_bytes(bytes, 2) > 1) {
        /* One batch (a decode step's projection, or one token's combine): a
         * home range per thread (home_task), taken 64 KB of rows at a time
         * from the front by its thread, half that from the back by others */
        per = (per + 7) / 8 * 8;
        for (int64_t t = 0; t < T; t++) {
            int64_t f = t * per < w->n ? t * per : w->n, e = f + per < w->n ? f + per : w->n;
            atomic_init(&homes[t], (uint64_t)f | (uint64_t)e << 32);
        }
        int64_t own = 65536 / row_bytes / 8 * 8;
        own = own < 64 ? 64 : own > max_chunk ? max_chunk : own;
        en.homes = homes, en.n_homes = T, en.own_rows = own, en.steal_rows = own / 2 / 8 * 8;
        zf_parallel_for(T, home_task, &en);
    } else {
        /* every thread gets ZF_QTASKS_PER_THREAD tasks where the rows allow,
         * cut evenly within a batch, multiples of 8 */
        int64_t want = ZF_QTASKS_PER_THREAD * T, rows = (nb * w->n + want - 1) / want, pieces = (w->n + rows - 1) / rows;
        if ((w->n + pieces - 1) / pieces > max_chunk) pieces = (w->n + max_chunk - 1) / max_chunk;
        int64_t chunk = ((w->n + pieces - 1) / pieces + 7) / 8 * 8;
        en.chunk = chunk > max_chunk ? max_chunk : chunk;
        en.n_chunks = (w->n + en.chunk - 1) / en.chunk;
        int64_t tasks = nb * en.n_chunks;
        if (zf_tasks_for_bytes(bytes, 2) == 1) {
            for (int64_t t = 0; t < tasks; t++) engine_task(&en, t);
        } else {
            zf_parallel_for(tasks, engine_task, &en);
        }
    }
    free(xq_heap);
    free(heap);
    return ZF_OK;
}

/* ---- entry points ----------------------------------------------------------- */

typedef struct store_ctx {
    zf_rows y;
    zf_dtype t;
} store_ctx;

/* y row p = T(dot) */
static void store_epilogue(void *ctx, const int64_t *pairs, int np, int64_t r0, int64_t rows, const float *const *d) {
    const store_ctx *c = ctx;
    size_t es = zf_dtype_size(c->t);
    for (int i = 0; i < np; i++) {
        char *row = (char *)c->y.data + (size_t)(pairs[i] * c->y.row_stride + r0) * es;
        for (int64_t r = 0; r < rows; r++) zf_store(c->t, row, r, d[0][i * rows + r]);
    }
}

static zf_status pick_qdot(zf_op op, const zf_opts *o, zf_qdot_fn *fn) {
    const zf_variant *v;
    ZF_TRY(zf_pick(op, ZF_DEVICE_CPU, o ? o->fidelity : ZF_FIDELITY_AUTO, &v));
    *fn = (zf_qdot_fn)v->fn;
    return ZF_OK;
}

zf_status zf_cpu_qmm(const zf_tensor *x, const zf_qweight *w, zf_tensor *y, const zf_opts *o) {
    ZF_TRY(zf_check_qweight("qmm", "w", w));
    ZF_TRY(zf_check_float("qmm", "x", x));
    if (x->ndim != 2 || x->shape[1] != w->k)
        return zf_error(ZF_ERR_SHAPE, "[qmm] x must be [m, k] with k = %lld (w's k)", (long long)w->k);
    if (x->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[qmm] x is on a device with no backend loaded here");
    zf_rows xr, yr;
    ZF_TRY(zf_as_rows("qmm", "x", x, &xr));
    ZF_TRY(check_out("qmm", y, x, x->shape[0], 1, w->n, 2, &yr));
    zf_qdot_fn dot;
    ZF_TRY(pick_qdot(ZF_OP_QMM, o, &dot));
    store_ctx c = {yr, x->dtype};
    zf_qgather g = {.w = {w}, .nw = 1, .dot = dot, .m = x->shape[0], .slots = 1, .ids = NULL, .x_per_slot = 0,
                    .per_token = 0, .xt = x->dtype, .x = x->data, .x_row_stride = xr.row_stride, .epilogue = store_epilogue,
                    .ctx = &c};
    return zf_qgather_run("qmm", &g);
}

zf_status zf_cpu_gather_qmm(const zf_tensor *x, const zf_qweight *w, const zf_tensor *ids, zf_tensor *y,
                            const zf_opts *o) {
    int64_t m = 0, slots = 0, xrs = 0;
    int xps = 0;
    ZF_TRY(zf_check_gather("gather_qmm", x, "x", w, "w", ids, &m, &slots, &xps, &xrs));
    zf_rows yr;
    ZF_TRY(check_out("gather_qmm", y, x, m, slots, w->n, 3, &yr));
    zf_qdot_fn dot;
    ZF_TRY(pick_qdot(ZF_OP_GATHER_QMM, o, &dot));
    store_ctx c = {yr, x->dtype};
    zf_qgather g = {.w = {w}, .nw = 1, .dot = dot, .m = m, .slots = slots, .ids = ids, .x_per_slot = xps,
                    .per_token = 0, .xt = x->dtype, .x = x->data, .x_row_stride = xrs, .epilogue = store_epilogue,
                    .ctx = &c};
    return zf_qgather_run("gather_qmm", &g);
}

/* ---- self-test -------------------------------------------------------------- */

int zf_cpu_selftest_qdot(const zf_variant *v, char *msg, size_t msg_size) {
    static const int bits_list[] = {2, 3, 4, 5, 6, 8};
    static const int gs_list[] = {32, 64, 128};
    enum { K = 384, ROWS = 5, NX = 3 };
    uint64_t rng = 0x51ed2701c0ffee11ull ^ (uint64_t)v->op;
    uint32_t packed[ROWS * K * 8 / 32];
    float sc[ROWS * K / 32], bi[ROWS * K / 32], x[NX][K], xs[NX][K / 4], got[NX * ROWS], want[NX * ROWS];
    const float *xp[NX], *xsp[NX];
    for (int i = 0; i < NX; i++) xp[i] = x[i], xsp[i] = xs[i];
    for (size_t bi_ = 0; bi_ < sizeof bits_list / sizeof *bits_list; bi_++)
        for (size_t gi = 0; gi < sizeof gs_list / sizeof *gs_list; gi++) {
            int bits = bits_list[bi_], gs = gs_list[gi];
            for (size_t i = 0; i < sizeof packed / sizeof *packed; i++) packed[i] = (uint32_t)zf_selftest_next(&rng);
            zf_selftest_fill(ZF_DTYPE_F32, sc, ROWS * K / gs, &rng, 0.1f);
            zf_selftest_fill(ZF_DTYPE_F32, bi, ROWS * K / gs, &rng, 1.0f);
            for (int i = 0; i < NX; i++) {
                zf_selftest_fill(ZF_DTYPE_F32, x[i], K, &rng, 2.0f);
                zf_qx_prepare(ZF_DTYPE_F32, x[i], K, x[i], xs[i]);
            }
            zf_qrows w = {packed, sc, bi, ZF_DTYPE_F32, bits, gs, K, K * bits / 32, K / gs, ROWS};
            for (int nx = 1; nx <= NX; nx += NX - 1) {
                ((zf_qdot_fn)v->fn)(&w, nx, xp, xsp, got);
                zf_scalar_qdot(&w, nx, xp, xsp, want);
                for (int i = 0; i < nx * ROWS; i++)
                    if (zf_f32_bits(got[i]) != zf_f32_bits(want[i])) {
                        snprintf(msg, msg_size, "bits %d gs %d nx %d out[%d]: got %.9g, scalar %.9g", bits, gs, nx, i,
                                 got[i], want[i]);
                        return 1;
                    }
            }
        }
    return 0;
}

/* The int8 kernel's bound (docs/NUMERICS.md §8.7) for x row xf and row r:
 * *ref the float64 dot, return value the allowed |got - ref|. */
double zf_qdot_i8_bound(const zf_qrows *w, int64_t r, const float *xf, double *ref) {
    const uint32_t *p = w->packed + r * w->words;
    double y = 0, e = 0, mag = 0;
    for (int64_t j = 0; j < w->k / ZF_QBLOCK; j++) {
        int64_t g = r * w->groups + j * ZF_QBLOCK / w->group_size;
        double s = zf_load(w->sdt, w->scales, g), b = zf_load(w->sdt, w->biases, g), amax = 0, qsum = 0;
        for (int i = 0; i < ZF_QBLOCK; i++) amax = fmax(amax, fabs(xf[j * ZF_QBLOCK + i]));
        for (int i = 0; i < ZF_QBLOCK; i++) {
            double x = xf[j * ZF_QBLOCK + i], q = zf_q_get(p, w->bits, j * ZF_QBLOCK + i);
            y += x * (s * q + b);
            mag += fabs(x) * (fabs(s * q) + fabs(b));
            qsum += q;
        }
        e += fabs(s) * (amax / 127) * qsum;
    }
    *ref = y;
    return (0.5 + 0x1p-14) * e + (double)(w->k / ZF_QBLOCK + 8) * 0x1p-23 * (mag + e);
}

int zf_cpu_selftest_qdot_i8(const zf_variant *v, char *msg, size_t msg_size) {
    static const int bits_list[] = {4, 8, 2};
    static const int gs_list[] = {32, 64, 128};
    enum { K = 416, ROWS = 5 };
    uint64_t rng = 0x1e8a5c7f00d5eedull;
    uint32_t packed[ROWS * K * 8 / 32];
    float sc[ROWS * K / 32], bi[ROWS * K / 32], x[K], xs[K / 4], got[ROWS], want[ROWS];
    const float *xp[1] = {x}, *xsp[1] = {xs};
    for (size_t bi_ = 0; bi_ < sizeof bits_list / sizeof *bits_list; bi_++)
        for (size_t gi = 0; gi < sizeof gs_list / sizeof *gs_list; gi++) {
            int bits = bits_list[bi_], gs = gs_list[gi], k = K / gs * gs;
            for (size_t i = 0; i < sizeof packed / sizeof *packed; i++) packed[i] = (uint32_t)zf_selftest_next(&rng);
            zf_selftest_fill(ZF_DTYPE_F32, sc, ROWS * k / gs, &rng, 0.1f);
            zf_selftest_fill(ZF_DTYPE_F32, bi, ROWS * k / gs, &rng, 1.0f);
            zf_selftest_fill(ZF_DTYPE_F32, x, k, &rng, 2.0f);
            zf_qx_prepare(ZF_DTYPE_F32, x, k, x, xs);
            zf_qrows w = {packed, sc, bi, ZF_DTYPE_F32, bits, gs, k, k * bits / 32, k / gs, ROWS};
            ((zf_qdot_fn)v->fn)(&w, 1, xp, xsp, got);
            zf_scalar_qdot(&w, 1, xp, xsp, want);
            for (int r = 0; r < ROWS; r++) {
                double ref, bound = zf_qdot_i8_bound(&w, r, x, &ref);
                int exact = bits != 4 && bits != 8; /* handed to the canonical kernel */
                if (exact ? zf_f32_bits(got[r]) != zf_f32_bits(want[r]) : !(fabs(got[r] - ref) <= bound)) {
                    snprintf(msg, msg_size, "bits %d gs %d row %d: got %.9g, float64 %.9g (bound %.3g)", bits, gs, r,
                             got[r], ref, bound);
                    return 1;
                }
            }
        }
    return 0;
}
