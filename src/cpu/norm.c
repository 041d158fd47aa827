/* rms_norm and the fused add_rms_norm on the CPU, forward and VJP: the scalar
 * kernels that define the bits, the stock compositions of the fused ops, and
 * the entry points (argument checks, variant pick, rows over threads). */
#include "cpu/norm.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"

/* ---- scalar kernels ------------------------------------------------------ */

/* The fixed tree of the L256 reduction over acc[256]. */
static float l256_tree(float *acc) {
    for (int s = 128; s >= 1; s >>= 1)
        for (int l = 0; l < s; l++) acc[l] = acc[l] + acc[l + s];
    return acc[0];
}

static float inv_rms(float ss, int64_t n, float eps) { return 1.0f / sqrtf(ss / (float)n + eps); }

enum { ROW_PLAIN, ROW_ADD_EXACT, ROW_ADD_FAST };

/* One forward row. Exact stores h = T(x + r) in pass 1 and normalises it
 * from there; fast recomputes x + r unrounded in pass 2 and stores h then
 * (x and r are intact until then, so h may be either of them). */
static inline void norm_row(int mode, zf_dtype t, const void *x, const void *r, const void *w, float eps, void *y,
                            void *h, int64_t n) {
    float acc[256] = {0};
    for (int64_t i = 0; i < n; i++) {
        float v = zf_load(t, x, i);
        if (mode != ROW_PLAIN) v = v + zf_load(t, r, i);
        if (mode == ROW_ADD_EXACT) {
            zf_store(t, h, i, v);
            v = zf_round_to(t, v);
        }
        acc[i & 255] = fmaf(v, v, acc[i & 255]);
    }
    float inv = inv_rms(l256_tree(acc), n, eps);
    for (int64_t i = 0; i < n; i++) {
        float wi = zf_load(t, w, i);
        if (mode == ROW_ADD_FAST) {
            float v = zf_load(t, x, i) + zf_load(t, r, i);
            zf_store(t, h, i, v);
            zf_store(t, y, i, (v * inv) * wi);
        } else { /* a T value: x, or h as stored in pass 1 */
            float v = zf_load(t, mode == ROW_PLAIN ? x : h, i);
            zf_store(t, y, i, zf_round_to(t, v * inv) * wi);
        }
    }
}

/* stream is a store hint; the scalar path writes through the caches */
void zf_scalar_rms_norm(zf_dtype t, const void *x, const void *w, float eps, void *y, int64_t n, int stream) {
    (void)stream;
    norm_row(ROW_PLAIN, t, x, NULL, w, eps, y, NULL, n);
}
void zf_scalar_add_rms_norm_exact(zf_dtype t, const void *x, const void *r, const void *w, float eps, void *y,
                                  void *h, int64_t n, int stream) {
    (void)stream;
    norm_row(ROW_ADD_EXACT, t, x, r, w, eps, y, h, n);
}
void zf_scalar_add_rms_norm_fast(zf_dtype t, const void *x, const void *r, const void *w, float eps, void *y,
                                 void *h, int64_t n, int stream) {
    (void)stream;
    norm_row(ROW_ADD_FAST, t, x, r, w, eps, y, h, n);
}

/* One VJP row: g = d_y * w; dot = L256(g, x); c = (dot / n) * inv^3;
 * d_x = T(inv * g - c * x) (+ d_h: exact rounds first, fast does not);
 * dw_acc += d_y * T(x * inv). */
static inline void vjp_row(int fast, zf_dtype t, const void *x, const void *w, float eps, const void *d_y,
                           const void *d_h, void *d_x, float *dw_acc, int64_t n) {
    float ss[256] = {0}, dt[256] = {0};
    for (int64_t i = 0; i < n; i++) {
        float xv = zf_load(t, x, i), g = zf_load(t, d_y, i) * zf_load(t, w, i);
        ss[i & 255] = fmaf(xv, xv, ss[i & 255]);
        dt[i & 255] = fmaf(g, xv, dt[i & 255]);
    }
    float inv = inv_rms(l256_tree(ss), n, eps);
    float c = (l256_tree(dt) / (float)n) * ((inv * inv) * inv);
    for (int64_t i = 0; i < n; i++) {
        float xv = zf_load(t, x, i), dy = zf_load(t, d_y, i);
        float g = dy * zf_load(t, w, i);
        float d = inv * g - c * xv;
        if (d_h) d = (fast ? d : zf_round_to(t, d)) + zf_load(t, d_h, i);
        if (dw_acc) dw_acc[i] = fmaf(dy, zf_round_to(t, xv * inv), dw_acc[i]);
        zf_store(t, d_x, i, d);
    }
}

void zf_scalar_rms_norm_vjp(zf_dtype t, const void *x, const void *w, float eps, const void *d_y, const void *d_h,
                            void *d_x, float *dw_acc, int64_t n) {
    vjp_row(0, t, x, w, eps, d_y, d_h, d_x, dw_acc, n);
}
void zf_scalar_add_rms_norm_vjp_fast(zf_dtype t, const void *x, const void *w, float eps, const void *d_y,
                                     const void *d_h, void *d_x, float *dw_acc, int64_t n) {
    vjp_row(1, t, x, w, eps, d_y, d_h, d_x, dw_acc, n);
}

/* ---- rows over threads ----------------------------------------------------- */

#define ROW_TASK_ELEMS 16384 /* rows are grouped into tasks of at least this many elements */

typedef struct norm_job {
    zf_op op;
    void (*fn)(void);
    zf_dtype t;
    size_t es;
    int64_t rows, n, rows_per_task;
    zf_rows a, b, out, out2; /* fwd: x, r, y, h; vjp: x, d_y, d_x, d_h (out2 is an input there) */
    int has_b, has_out2, stream;
    const void *w;
    float eps;
    float *dw_parts; /* vjp with d_w: one n-float partial per chunk of the batch */
    int64_t chunk0;
} norm_job;

static void *row_ptr(const norm_job *j, const zf_rows *r, int64_t row) {
    return (char *)r->data + (size_t)(row * r->row_stride) * j->es;
}

static void run_row(const norm_job *j, int64_t row, float *dw_acc) {
    const void *a = row_ptr(j, &j->a, row), *b = j->has_b ? row_ptr(j, &j->b, row) : NULL;
    void *out = row_ptr(j, &j->out, row), *out2 = j->has_out2 ? row_ptr(j, &j->out2, row) : NULL;
    switch (j->op) {
    case ZF_OP_RMS_NORM: ((zf_rms_norm_fn)j->fn)(j->t, a, j->w, j->eps, out, j->n, j->stream); break;
    case ZF_OP_ADD_RMS_NORM:
        ((zf_add_rms_norm_fn)j->fn)(j->t, a, b, j->w, j->eps, out, out2, j->n, j->stream);
        break;
    default: ((zf_norm_vjp_fn)j->fn)(j->t, a, j->w, j->eps, b, out2, out, dw_acc, j->n); break;
    }
}

static void rows_task(void *ctx, int64_t task) {
    norm_job *j = ctx;
    int64_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    for (int64_t r = r0; r < r1; r++) run_row(j, r, NULL);
}

/* One chunk of ZF_NORM_DW_CHUNK rows: its own d_w partial, rows ascending. */
static void chunk_task(void *ctx, int64_t task) {
    norm_job *j = ctx;
    float *p = j->dw_parts + task * j->n;
    memset(p, 0, (size_t)j->n * sizeof *p); /* +0.0f */
    int64_t r0 = (j->chunk0 + task) * ZF_NORM_DW_CHUNK;
    int64_t r1 = r0 + ZF_NORM_DW_CHUNK < j->rows ? r0 + ZF_NORM_DW_CHUNK : j->rows;
    for (int64_t r = r0; r < r1; r++) run_row(j, r, p);
}

static void run_tasks(int64_t tasks, int64_t bytes, zf_task_fn fn, norm_job *j) {
    if (tasks == 1 || zf_tasks_for_bytes(bytes, 2) == 1) {
        for (int64_t i = 0; i < tasks; i++) fn(j, i);
    } else {
        zf_parallel_for(tasks, fn, j);
    }
}

static void run_rows(norm_job *j, int streams, int outputs) {
    j->stream = j->rows * j->n * (int64_t)j->es * outputs >= ZF_NORM_STREAM_BYTES;
    j->rows_per_task = j->n >= ROW_TASK_ELEMS ? 1 : ROW_TASK_ELEMS / j->n;
    int64_t tasks = (j->rows + j->rows_per_task - 1) / j->rows_per_task;
    run_tasks(tasks, j->rows * j->n * (int64_t)j->es * streams, rows_task, j);
}

/* VJP with d_w: chunks run in batches (bounded scratch); after each batch the
 * partials are added to dw in chunk order, so dw is the canonical sum
 * whatever the thread count or batch size. */
static zf_status run_vjp_dw(norm_job *j, zf_tensor *d_w, const char *op) {
    int64_t chunks = (j->rows + ZF_NORM_DW_CHUNK - 1) / ZF_NORM_DW_CHUNK;
    int64_t batch = 4 * (int64_t)zf_get_num_threads();
    if (batch > chunks) batch = chunks;
    float *dw = calloc((size_t)j->n, sizeof *dw);
    j->dw_parts = malloc((size_t)(batch * j->n) * sizeof *j->dw_parts);
    if (!dw || !j->dw_parts) {
        free(dw);
        free(j->dw_parts);
        return zf_error(ZF_ERR_NO_MEMORY, "[%s] no memory for the d_w partial sums (%lld floats)", op,
                        (long long)((batch + 1) * j->n));
    }
    for (j->chunk0 = 0; j->chunk0 < chunks; j->chunk0 += batch) {
        int64_t nb = chunks - j->chunk0 < batch ? chunks - j->chunk0 : batch;
        int64_t rows = nb * ZF_NORM_DW_CHUNK;
        run_tasks(nb, rows * j->n * (int64_t)j->es * 4, chunk_task, j);
        for (int64_t k = 0; k < nb; k++) {
            const float *p = j->dw_parts + k * j->n;
            for (int64_t c = 0; c < j->n; c++) dw[c] = dw[c] + p[c];
        }
    }
    for (int64_t c = 0; c < j->n; c++) zf_store(d_w->dtype, d_w->data, c, dw[c]);
    free(dw);
    free(j->dw_parts);
    return ZF_OK;
}

/* ---- argument checks ------------------------------------------------------ */

static zf_status check_eps(const char *op, float eps) {
    if (!(eps >= 0.0f && eps <= FLT_MAX))
        return zf_error(ZF_ERR_INVALID_ARG, "[%s] eps = %g; expected a finite value >= 0", op, (double)eps);
    return ZF_OK;
}

/* w: [n], contiguous, x's dtype and device. */
static zf_status check_w(const char *op, const zf_tensor *x, const zf_tensor *w) {
    ZF_TRY(zf_check_float(op, "w", w));
    int64_t n = x->shape[x->ndim - 1];
    if (w->dtype != x->dtype)
        return zf_error(ZF_ERR_DTYPE, "[%s] w is %s but x is %s; w must have x's dtype", op, zf_dtype_name(w->dtype),
                        zf_dtype_name(x->dtype));
    if (w->device != x->device) return zf_error(ZF_ERR_INVALID_ARG, "[%s] w and x are on different devices", op);
    if (w->ndim != 1 || w->shape[0] != n)
        return zf_error(ZF_ERR_SHAPE, "[%s] w must have shape [%lld] (the row length of x); got ndim %d, shape[0] %lld",
                        op, (long long)n, w->ndim, (long long)w->shape[0]);
    if (n >= ZF_NORM_MAX_ROW) /* mean = ss / (float)n needs n exact in f32 */
        return zf_error(ZF_ERR_SHAPE, "[%s] rows of %lld elements; at most %d are supported", op, (long long)n,
                        ZF_NORM_MAX_ROW - 1);
    return ZF_OK;
}

/* d_w: NULL, or [n] in f32 or x's dtype. */
static zf_status check_dw(const char *op, const zf_tensor *x, const zf_tensor *d_w) {
    if (!d_w) return ZF_OK;
    ZF_TRY(zf_check_float(op, "d_w", d_w));
    int64_t n = x->shape[x->ndim - 1];
    if (d_w->dtype != ZF_DTYPE_F32 && d_w->dtype != x->dtype)
        return zf_error(ZF_ERR_DTYPE, "[%s] d_w is %s; expected f32 or x's dtype %s", op, zf_dtype_name(d_w->dtype),
                        zf_dtype_name(x->dtype));
    if (d_w->device != x->device) return zf_error(ZF_ERR_INVALID_ARG, "[%s] d_w and x are on different devices", op);
    if (d_w->ndim != 1 || d_w->shape[0] != n)
        return zf_error(ZF_ERR_SHAPE, "[%s] d_w must have shape [%lld] (the row length); got ndim %d, shape[0] %lld",
                        op, (long long)n, d_w->ndim, (long long)d_w->shape[0]);
    return ZF_OK;
}

static zf_status check_disjoint(const char *op, const char *an, const zf_tensor *a, const char *bn,
                                const zf_tensor *b) {
    const char *a0, *a1, *b0, *b1;
    zf_tensor_span(a, &a0, &a1);
    zf_tensor_span(b, &b0, &b1);
    if (a0 < b1 && b0 < a1) return zf_error(ZF_ERR_ALIAS, "[%s] %s overlaps %s; they need separate memory", op, an, bn);
    return ZF_OK;
}

static zf_status check_cpu(const char *op, const zf_tensor *t) {
    if (t->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[%s] tensor is on a device with no backend loaded here", op);
    return ZF_OK;
}

/* Row operands: float tensors shaped like the first, viewable as rows; each
 * output the same view as an input (in place) or disjoint from it, and
 * disjoint from w. */
typedef struct operands {
    const char *names[6];
    const zf_tensor *t[6];
    int n_in, n_out; /* inputs first, then outputs */
} operands;

static zf_status check_rows(const char *op, const operands *o, const zf_tensor *w, float eps) {
    for (int k = 0; k < o->n_in + o->n_out; k++) ZF_TRY(zf_check_float(op, o->names[k], o->t[k]));
    for (int k = 1; k < o->n_in + o->n_out; k++) ZF_TRY(zf_check_same(op, o->names[0], o->t[0], o->names[k], o->t[k]));
    ZF_TRY(check_w(op, o->t[0], w));
    ZF_TRY(check_eps(op, eps));
    for (int k = o->n_in; k < o->n_in + o->n_out; k++) {
        for (int i = 0; i < o->n_in; i++) ZF_TRY(zf_check_alias(op, o->names[k], o->t[k], o->names[i], o->t[i]));
        ZF_TRY(check_disjoint(op, o->names[k], o->t[k], "w", w));
    }
    for (int k = 0; k < o->n_in + o->n_out; k++) ZF_TRY(zf_as_rows(op, o->names[k], o->t[k], &(zf_rows){0}));
    return check_cpu(op, o->t[0]);
}

/* d_w may not touch any other operand. */
static zf_status check_dw_disjoint(const char *op, const operands *o, const zf_tensor *w, const zf_tensor *d_w) {
    if (!d_w) return ZF_OK;
    for (int k = 0; k < o->n_in + o->n_out; k++) ZF_TRY(check_disjoint(op, "d_w", d_w, o->names[k], o->t[k]));
    return check_disjoint(op, "d_w", d_w, "w", w);
}

static zf_fidelity fidelity_of(const zf_opts *o) { return o ? o->fidelity : ZF_FIDELITY_AUTO; }

static norm_job make_job(zf_op op, const zf_variant *v, const zf_tensor *x, const zf_tensor *w, float eps) {
    norm_job j = {.op = op, .fn = v->fn, .t = x->dtype, .es = zf_dtype_size(x->dtype), .w = w->data, .eps = eps};
    zf_rows r;
    zf_as_rows("norm", "x", x, &r); /* checked by check_rows */
    j.rows = r.rows;
    j.n = r.cols;
    return j;
}

static void as_rows(const zf_tensor *t, zf_rows *out) { zf_as_rows("norm", "operand", t, out); }

/* ---- entry points --------------------------------------------------------- */

zf_status zf_cpu_rms_norm(const zf_tensor *x, const zf_tensor *w, float eps, zf_tensor *y, const zf_opts *o) {
    operands ops = {{"x", "y"}, {x, y}, 1, 1};
    ZF_TRY(check_rows("rms_norm", &ops, w, eps));
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_RMS_NORM, ZF_DEVICE_CPU, fidelity_of(o), &v));
    norm_job j = make_job(ZF_OP_RMS_NORM, v, x, w, eps);
    as_rows(x, &j.a);
    as_rows(y, &j.out);
    run_rows(&j, 2, 1);
    return ZF_OK;
}

/* The stock composition add then rms_norm: fallback and oracle. */
static zf_status add_rms_norm_stock(const zf_tensor *x, const zf_tensor *r, const zf_tensor *w, float eps,
                                    zf_tensor *y, zf_tensor *h) {
    ZF_TRY(zf_cpu_add(x, r, h, NULL));
    return zf_cpu_rms_norm(h, w, eps, y, NULL);
}

zf_status zf_cpu_add_rms_norm(const zf_tensor *x, const zf_tensor *residual, const zf_tensor *w, float eps,
                              zf_tensor *y, zf_tensor *h, const zf_opts *o) {
    static const char op[] = "add_rms_norm";
    operands ops = {{"x", "residual", "y", "h"}, {x, residual, y, h}, 2, 2};
    ZF_TRY(check_rows(op, &ops, w, eps));
    ZF_TRY(check_disjoint(op, "y", y, "h", h));
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_ADD_RMS_NORM, ZF_DEVICE_CPU, fidelity_of(o), &v));
    if (v->fidelity == ZF_FIDELITY_STOCK) return add_rms_norm_stock(x, residual, w, eps, y, h);
    norm_job j = make_job(ZF_OP_ADD_RMS_NORM, v, x, w, eps);
    as_rows(x, &j.a);
    as_rows(residual, &j.b);
    as_rows(y, &j.out);
    as_rows(h, &j.out2);
    j.has_b = j.has_out2 = 1;
    run_rows(&j, 4, 2);
    return ZF_OK;
}

/* Runs a VJP variant: x (or h), d_y, optional d_h -> d_x, optional d_w. */
static zf_status run_vjp(const char *op, zf_op id, const zf_variant *v, const zf_tensor *x, const zf_tensor *w,
                         float eps, const zf_tensor *d_y, const zf_tensor *d_h, zf_tensor *d_x, zf_tensor *d_w) {
    norm_job j = make_job(id, v, x, w, eps);
    as_rows(x, &j.a);
    as_rows(d_y, &j.b);
    as_rows(d_x, &j.out);
    j.has_b = 1;
    if (d_h) {
        as_rows(d_h, &j.out2);
        j.has_out2 = 1;
    }
    if (d_w) return run_vjp_dw(&j, d_w, op);
    run_rows(&j, d_h ? 4 : 3, 1);
    return ZF_OK;
}

zf_status zf_cpu_rms_norm_vjp(const zf_tensor *x, const zf_tensor *w, float eps, const zf_tensor *d_y,
                              zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o) {
    static const char op[] = "rms_norm_vjp";
    operands ops = {{"x", "d_y", "d_x"}, {x, d_y, d_x}, 2, 1};
    ZF_TRY(check_rows(op, &ops, w, eps));
    ZF_TRY(check_dw(op, x, d_w));
    ZF_TRY(check_dw_disjoint(op, &ops, w, d_w));
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_RMS_NORM_VJP, ZF_DEVICE_CPU, fidelity_of(o), &v));
    return run_vjp(op, ZF_OP_RMS_NORM_VJP, v, x, w, eps, d_y, NULL, d_x, d_w);
}

/* The stock composition rms_norm_vjp(h) then add d_h: fallback and oracle. */
static zf_status add_rms_norm_vjp_stock(const zf_tensor *h, const zf_tensor *w, float eps, const zf_tensor *d_y,
                                        const zf_tensor *d_h, zf_tensor *d_x, zf_tensor *d_w) {
    if (!d_h) return zf_cpu_rms_norm_vjp(h, w, eps, d_y, d_x, d_w, NULL);
    void *p = malloc((size_t)zf_tensor_numel(h) * zf_dtype_size(h->dtype));
    if (!p) return zf_error(ZF_ERR_NO_MEMORY, "[add_rms_norm_vjp] no memory for a %lld-element intermediate",
                            (long long)zf_tensor_numel(h));
    zf_tensor d_hn = zf_tensor_nd(p, h->dtype, h->ndim, h->shape);
    zf_status st = zf_cpu_rms_norm_vjp(h, w, eps, d_y, &d_hn, d_w, NULL);
    if (st == ZF_OK) st = zf_cpu_add(&d_hn, d_h, d_x, NULL);
    free(p);
    return st;
}

zf_status zf_cpu_add_rms_norm_vjp(const zf_tensor *h, const zf_tensor *w, float eps, const zf_tensor *d_y,
                                  const zf_tensor *d_h, zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o) {
    static const char op[] = "add_rms_norm_vjp";
    operands ops = {{"h", "d_y", "d_h", "d_x"}, {h, d_y, d_h, d_x}, 3, 1};
    if (!d_h) ops = (operands){{"h", "d_y", "d_x"}, {h, d_y, d_x}, 2, 1};
    ZF_TRY(check_rows(op, &ops, w, eps));
    ZF_TRY(check_dw(op, h, d_w));
    ZF_TRY(check_dw_disjoint(op, &ops, w, d_w));
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_ADD_RMS_NORM_VJP, ZF_DEVICE_CPU, fidelity_of(o), &v));
    if (v->fidelity == ZF_FIDELITY_STOCK) return add_rms_norm_vjp_stock(h, w, eps, d_y, d_h, d_x, d_w);
    return run_vjp(op, ZF_OP_ADD_RMS_NORM_VJP, v, h, w, eps, d_y, d_h, d_x, d_w);
}
