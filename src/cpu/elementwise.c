/* Elementwise ops on the CPU: add, mul, silu (+ VJP) and the fused swiglu
 * (+ VJP). Entry points check arguments, pick a variant, then split the
 * tensors into fixed chunks for the thread pool. Scalar kernels here are the
 * reference every SIMD variant (elementwise_avx2.c, elementwise_avx512.c)
 * reproduces bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "core/zmath.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"

/* ---- scalar kernels ------------------------------------------------------ */

/* stream is a store hint; the scalar kernels write through the caches */
#define ZF_SCALAR_BINARY(name, expr)                                                           \
    void name(zf_dtype t, const void *a, const void *b, void *out, int64_t n, int stream) {    \
        (void)stream;                                                                          \
        for (int64_t i = 0; i < n; i++) {                                                      \
            float x = zf_load(t, a, i), y = zf_load(t, b, i);                                  \
            zf_store(t, out, i, (expr));                                                       \
        }                                                                                      \
    }

ZF_SCALAR_BINARY(zf_scalar_add, x + y)
ZF_SCALAR_BINARY(zf_scalar_mul, x *y)
/* silu_vjp: a = x, b = d_out */
ZF_SCALAR_BINARY(zf_scalar_silu_vjp, y *zf_silu_grad_scalar(x))
/* exact: the stock rounding points T(T(silu(g)) * u) */
ZF_SCALAR_BINARY(zf_scalar_swiglu_exact, zf_round_to(t, zf_silu_scalar(x)) * y)
/* fast: silu kept in f32 */
ZF_SCALAR_BINARY(zf_scalar_swiglu_fast, zf_silu_scalar(x) * y)

void zf_scalar_silu(zf_dtype t, const void *x, void *out, int64_t n, int stream) {
    (void)stream;
    for (int64_t i = 0; i < n; i++) zf_store(t, out, i, zf_silu_scalar(zf_load(t, x, i)));
}

void zf_scalar_swiglu_vjp_exact(zf_dtype t, const void *gate, const void *up, const void *d_out, void *d_gate,
                                void *d_up, int64_t n, int stream) {
    (void)stream;
    for (int64_t i = 0; i < n; i++) {
        float g = zf_load(t, gate, i), u = zf_load(t, up, i), d = zf_load(t, d_out, i);
        float s = zf_round_to(t, zf_silu_scalar(g)); /* s = silu(g), materialised */
        float ds = zf_round_to(t, d * u);            /* mul VJP: d_s = T(d * u) */
        zf_store(t, d_up, i, d * s);                 /* mul VJP: d_u = T(d * s) */
        zf_store(t, d_gate, i, ds * zf_silu_grad_scalar(g)); /* silu VJP */
    }
}

void zf_scalar_swiglu_vjp_fast(zf_dtype t, const void *gate, const void *up, const void *d_out, void *d_gate,
                               void *d_up, int64_t n, int stream) {
    (void)stream;
    for (int64_t i = 0; i < n; i++) {
        float g = zf_load(t, gate, i), u = zf_load(t, up, i), d = zf_load(t, d_out, i);
        zf_store(t, d_up, i, d * zf_silu_scalar(g));
        zf_store(t, d_gate, i, (d * u) * zf_silu_grad_scalar(g));
    }
}

/* ---- splitting over threads --------------------------------------------- */

#define ZF_CHUNK 16384 /* elements per task: fixed, so results never depend on threads */

typedef struct ew_job {
    zf_dtype t;
    size_t es;
    int n_in, n_out, stream;
    zf_rows in[3], out[2];
    int64_t chunks_per_row;
    void (*fn)(void);
    zf_op op;
} ew_job;

static void ew_task(void *ctx, int64_t task) {
    ew_job *j = ctx;
    int64_t row = task / j->chunks_per_row, c = task % j->chunks_per_row;
    int64_t cols = j->in[0].cols, off = c * ZF_CHUNK;
    int64_t n = cols - off < ZF_CHUNK ? cols - off : ZF_CHUNK;
    const char *in[3];
    char *out[2];
    for (int k = 0; k < j->n_in; k++) in[k] = (const char *)j->in[k].data + (size_t)(row * j->in[k].row_stride + off) * j->es;
    for (int k = 0; k < j->n_out; k++) out[k] = (char *)j->out[k].data + (size_t)(row * j->out[k].row_stride + off) * j->es;
    switch (j->op) {
    case ZF_OP_SILU: ((zf_unary_fn)j->fn)(j->t, in[0], out[0], n, j->stream); break;
    case ZF_OP_SWIGLU_VJP: ((zf_swiglu_vjp_fn)j->fn)(j->t, in[0], in[1], in[2], out[0], out[1], n, j->stream); break;
    default: ((zf_binary_fn)j->fn)(j->t, in[0], in[1], out[0], n, j->stream); break;
    }
}

/* Views all operands as rows of equal length; all-contiguous tensors become
 * one long row so large 1-row and many-row calls split alike. */
static zf_status run_elementwise(const char *name, zf_op op, const zf_variant *v, const zf_tensor *const *ins,
                                 int n_in, zf_tensor *const *outs, int n_out) {
    ew_job j = {.t = ins[0]->dtype, .es = zf_dtype_size(ins[0]->dtype), .n_in = n_in, .n_out = n_out,
                .fn = v->fn, .op = op};
    int contiguous = 1;
    for (int k = 0; k < n_in; k++) {
        ZF_TRY(zf_as_rows(name, "input", ins[k], &j.in[k]));
        contiguous &= j.in[k].row_stride == j.in[k].cols;
    }
    for (int k = 0; k < n_out; k++) {
        ZF_TRY(zf_as_rows(name, "output", outs[k], &j.out[k]));
        contiguous &= j.out[k].row_stride == j.out[k].cols;
    }
    if (contiguous) {
        int64_t total = j.in[0].rows * j.in[0].cols;
        for (int k = 0; k < n_in; k++) j.in[k] = (zf_rows){j.in[k].data, 1, total, total};
        for (int k = 0; k < n_out; k++) j.out[k] = (zf_rows){j.out[k].data, 1, total, total};
    }
    j.chunks_per_row = (j.in[0].cols + ZF_CHUNK - 1) / ZF_CHUNK;
    int64_t tasks = j.in[0].rows * j.chunks_per_row;
    int64_t bytes = j.in[0].rows * j.in[0].cols * (int64_t)j.es * (n_in + n_out);
    j.stream = j.in[0].rows * j.in[0].cols * (int64_t)j.es * n_out >= ZF_EW_STREAM_BYTES;
    if (zf_tasks_for_bytes(bytes, 2) == 1) {
        for (int64_t i = 0; i < tasks; i++) ew_task(&j, i);
    } else {
        zf_parallel_for(tasks, ew_task, &j);
    }
    return ZF_OK;
}

/* ---- argument checks ------------------------------------------------------ */

static zf_status check_cpu(const char *op, const zf_tensor *t) {
    if (t->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[%s] tensor is on a device with no backend loaded here", op);
    return ZF_OK;
}

/* All inputs and outputs: valid float tensors of one dtype and shape; each
 * output is either one of the inputs exactly (in place) or disjoint. */
static zf_status check_elementwise(const char *op, const char *const *in_names, const zf_tensor *const *ins, int n_in,
                                   const char *const *out_names, zf_tensor *const *outs, int n_out) {
    for (int k = 0; k < n_in; k++) ZF_TRY(zf_check_float(op, in_names[k], ins[k]));
    for (int k = 0; k < n_out; k++) ZF_TRY(zf_check_float(op, out_names[k], outs[k]));
    for (int k = 1; k < n_in; k++) ZF_TRY(zf_check_same(op, in_names[0], ins[0], in_names[k], ins[k]));
    for (int k = 0; k < n_out; k++) ZF_TRY(zf_check_same(op, in_names[0], ins[0], out_names[k], outs[k]));
    for (int k = 0; k < n_out; k++)
        for (int i = 0; i < n_in; i++) ZF_TRY(zf_check_alias(op, out_names[k], outs[k], in_names[i], ins[i]));
    if (n_out == 2) {
        const char *a0, *a1, *b0, *b1;
        zf_tensor_span(outs[0], &a0, &a1);
        zf_tensor_span(outs[1], &b0, &b1);
        if (a0 < b1 && b0 < a1)
            return zf_error(ZF_ERR_ALIAS, "[%s] %s and %s overlap; the two outputs need separate memory", op,
                            out_names[0], out_names[1]);
    }
    ZF_TRY(zf_as_rows(op, in_names[0], ins[0], &(zf_rows){0}));
    return check_cpu(op, ins[0]);
}

static zf_fidelity fidelity_of(const zf_opts *o) { return o ? o->fidelity : ZF_FIDELITY_AUTO; }

/* ---- entry points --------------------------------------------------------- */

static zf_status binary_op(const char *name, zf_op op, const zf_tensor *a, const zf_tensor *b, zf_tensor *out,
                           const zf_opts *o, const char *an, const char *bn) {
    const char *in_names[2] = {an, bn}, *out_names[1] = {"out"};
    const zf_tensor *ins[2] = {a, b};
    zf_tensor *outs[1] = {out};
    ZF_TRY(check_elementwise(name, in_names, ins, 2, out_names, outs, 1));
    const zf_variant *v;
    ZF_TRY(zf_pick(op, ZF_DEVICE_CPU, fidelity_of(o), &v));
    return run_elementwise(name, op, v, ins, 2, outs, 1);
}

zf_status zf_cpu_add(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o) {
    return binary_op("add", ZF_OP_ADD, a, b, out, o, "a", "b");
}

zf_status zf_cpu_mul(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o) {
    return binary_op("mul", ZF_OP_MUL, a, b, out, o, "a", "b");
}

zf_status zf_cpu_silu_vjp(const zf_tensor *x, const zf_tensor *d_out, zf_tensor *d_x, const zf_opts *o) {
    return binary_op("silu_vjp", ZF_OP_SILU_VJP, x, d_out, d_x, o, "x", "d_out");
}

zf_status zf_cpu_silu(const zf_tensor *x, zf_tensor *out, const zf_opts *o) {
    const char *in_names[1] = {"x"}, *out_names[1] = {"out"};
    const zf_tensor *ins[1] = {x};
    zf_tensor *outs[1] = {out};
    ZF_TRY(check_elementwise("silu", in_names, ins, 1, out_names, outs, 1));
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_SILU, ZF_DEVICE_CPU, fidelity_of(o), &v));
    return run_elementwise("silu", ZF_OP_SILU, v, ins, 1, outs, 1);
}

/* A contiguous scratch tensor shaped like t. */
static zf_status scratch_like(const char *op, const zf_tensor *t, zf_tensor *out) {
    void *p = malloc((size_t)zf_tensor_numel(t) * zf_dtype_size(t->dtype));
    if (!p) return zf_error(ZF_ERR_NO_MEMORY, "[%s] no memory for a %lld-element intermediate", op,
                            (long long)zf_tensor_numel(t));
    *out = zf_tensor_nd(p, t->dtype, t->ndim, t->shape);
    return ZF_OK;
}

/* The stock composition swiglu = mul(silu(gate), up): the fallback and the
 * oracle for the fused variants. */
static zf_status swiglu_stock(const zf_tensor *gate, const zf_tensor *up, zf_tensor *out) {
    zf_tensor s;
    ZF_TRY(scratch_like("swiglu", gate, &s));
    zf_status st = zf_cpu_silu(gate, &s, NULL);
    if (st == ZF_OK) st = zf_cpu_mul(&s, up, out, NULL);
    free(s.data);
    return st;
}

zf_status zf_cpu_swiglu(const zf_tensor *gate, const zf_tensor *up, zf_tensor *out, const zf_opts *o) {
    const char *in_names[2] = {"gate", "up"}, *out_names[1] = {"out"};
    const zf_tensor *ins[2] = {gate, up};
    zf_tensor *outs[1] = {out};
    ZF_TRY(check_elementwise("swiglu", in_names, ins, 2, out_names, outs, 1));
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_SWIGLU, ZF_DEVICE_CPU, fidelity_of(o), &v));
    if (v->fidelity == ZF_FIDELITY_STOCK) return swiglu_stock(gate, up, out);
    return run_elementwise("swiglu", ZF_OP_SWIGLU, v, ins, 2, outs, 1);
}

/* Stock VJP of mul(silu(gate), up): s = silu(g); d_s = d*u; d_up = d*s;
 * d_gate = silu_vjp(g, d_s). */
static zf_status swiglu_vjp_stock(const zf_tensor *gate, const zf_tensor *up, const zf_tensor *d_out,
                                  zf_tensor *d_gate, zf_tensor *d_up) {
    zf_tensor s, ds = {0};
    ZF_TRY(scratch_like("swiglu_vjp", gate, &s));
    zf_status st = scratch_like("swiglu_vjp", gate, &ds);
    if (st == ZF_OK) st = zf_cpu_silu(gate, &s, NULL);
    if (st == ZF_OK) st = zf_cpu_mul(d_out, up, &ds, NULL);
    if (st == ZF_OK) st = zf_cpu_mul(d_out, &s, d_up, NULL);
    if (st == ZF_OK) st = zf_cpu_silu_vjp(gate, &ds, d_gate, NULL);
    free(s.data);
    free(ds.data);
    return st;
}

zf_status zf_cpu_swiglu_vjp(const zf_tensor *gate, const zf_tensor *up, const zf_tensor *d_out, zf_tensor *d_gate,
                            zf_tensor *d_up, const zf_opts *o) {
    const char *in_names[3] = {"gate", "up", "d_out"}, *out_names[2] = {"d_gate", "d_up"};
    const zf_tensor *ins[3] = {gate, up, d_out};
    zf_tensor *outs[2] = {d_gate, d_up};
    ZF_TRY(check_elementwise("swiglu_vjp", in_names, ins, 3, out_names, outs, 2));
    /* the stock order writes d_up before it reads gate the last time */
    if (d_up->data == gate->data)
        return zf_error(ZF_ERR_ALIAS, "[swiglu_vjp] d_up may not be gate (in place); d_gate may");
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_SWIGLU_VJP, ZF_DEVICE_CPU, fidelity_of(o), &v));
    if (v->fidelity == ZF_FIDELITY_STOCK) return swiglu_vjp_stock(gate, up, d_out, d_gate, d_up);
    return run_elementwise("swiglu_vjp", ZF_OP_SWIGLU_VJP, v, ins, 3, outs, 2);
}
