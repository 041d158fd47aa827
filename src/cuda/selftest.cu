/* Self-tests of the CUDA variants: small fresh inputs, the variant run on the
 * device, the CPU stock path run on the same bits; stock and exact must be
 * bit-identical (any NaN equals any NaN: GPU arithmetic returns one
 * canonical NaN where x86 keeps an operand's payload). A fast variant is held
 * to the CPU's fast variant of the same op, bit for bit: both compute the one
 * formula of docs/NUMERICS.md in the one order, and the CPU's is checked
 * against the stock path and float64 by its own tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/check.cuh"
#include "cuda/kernels.cuh"

extern "C" {
#include "core/dtype.h"
}

namespace {

enum { MAX_IN = 4, MAX_OUT = 2 };

struct buf {
    zf_dtype t;
    int64_t rows, cols; /* rows == 0: a 1-D tensor of cols */
    void *host, *dev;
    size_t bytes;
};

uint64_t next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

void fill(buf *b, uint64_t *rng, float scale) {
    int64_t n = (b->rows ? b->rows : 1) * b->cols;
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = next(rng);
        float u = (float)((r >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
        float v = (r & 31) == 0 ? u * 90.0f : (r & 31) == 1 ? u * 1e-6f : u * scale;
        zf_store(b->t, b->host, i, v);
    }
}

zf_tensor host_tensor(const buf *b) {
    zf_tensor t = {};
    t.data = b->host;
    t.dtype = b->t;
    t.device = ZF_DEVICE_CPU;
    t.ndim = b->rows ? 2 : 1;
    t.shape[0] = b->rows ? b->rows : b->cols;
    t.stride[0] = b->rows ? b->cols : 1;
    t.shape[1] = b->cols;
    t.stride[1] = 1;
    return t;
}

bool is_norm(zf_op op) { return op >= ZF_OP_RMS_NORM && op != ZF_OP_SWIGLU && op != ZF_OP_SWIGLU_VJP; }

/* The CPU path of that fidelity (stock, or fast for fast variants) on host buffers. */
zf_status cpu_oracle(zf_op op, zf_fidelity fidelity, buf *in, buf *out) {
    const zf_backend_ops *c = zf_cu_host->cpu;
    zf_opts o = {fidelity, NULL};
    zf_tensor i0 = host_tensor(&in[0]), i1 = host_tensor(&in[1]), i2 = host_tensor(&in[2]), i3 = host_tensor(&in[3]);
    zf_tensor o0 = host_tensor(&out[0]), o1 = host_tensor(&out[1]);
    const float eps = 1e-5f;
    switch (op) {
    case ZF_OP_ADD: return c->add ? c->add(&i0, &i1, &o0, &o) : ZF_ERR_UNSUPPORTED;
    case ZF_OP_MUL: return c->mul ? c->mul(&i0, &i1, &o0, &o) : ZF_ERR_UNSUPPORTED;
    case ZF_OP_SILU: return c->silu ? c->silu(&i0, &o0, &o) : ZF_ERR_UNSUPPORTED;
    case ZF_OP_SILU_VJP: return c->silu_vjp ? c->silu_vjp(&i0, &i1, &o0, &o) : ZF_ERR_UNSUPPORTED;
    case ZF_OP_SWIGLU: return c->swiglu ? c->swiglu(&i0, &i1, &o0, &o) : ZF_ERR_UNSUPPORTED;
    case ZF_OP_SWIGLU_VJP: return c->swiglu_vjp ? c->swiglu_vjp(&i0, &i1, &i2, &o0, &o1, &o) : ZF_ERR_UNSUPPORTED;
    case ZF_OP_RMS_NORM: return c->rms_norm ? c->rms_norm(&i0, &i1, eps, &o0, &o) : ZF_ERR_UNSUPPORTED;
    case ZF_OP_ADD_RMS_NORM:
        return c->add_rms_norm ? c->add_rms_norm(&i0, &i1, &i2, eps, &o0, &o1, &o) : ZF_ERR_UNSUPPORTED;
    case ZF_OP_RMS_NORM_VJP:
        return c->rms_norm_vjp ? c->rms_norm_vjp(&i0, &i1, eps, &i2, &o0, &o1, &o) : ZF_ERR_UNSUPPORTED;
    case ZF_OP_ADD_RMS_NORM_VJP:
        return c->add_rms_norm_vjp ? c->add_rms_norm_vjp(&i0, &i1, eps, &i2, &i3, &o0, &o1, &o) : ZF_ERR_UNSUPPORTED;
    default: return ZF_ERR_UNSUPPORTED;
    }
}

/* The variant itself on device buffers. */
cudaError_t run_variant(const zf_variant *v, zf_dtype t, int64_t rows, int64_t n, buf *in, buf *out, cudaStream_t s) {
    if (!is_norm(v->op)) {
        zf_ew_view w = {};
        w.rows = 1;
        w.cols = rows * n;
        for (int k = 0; k < 3; k++) { w.in[k] = in[k].dev; w.in_stride[k] = w.cols; }
        for (int k = 0; k < 2; k++) { w.out[k] = out[k].dev; w.out_stride[k] = w.cols; }
        return ((zf_cu_ew_fn)v->fn)(t, &w, s);
    }
    zf_norm_args a = {};
    a.rows = rows;
    a.n = n;
    a.eps = 1e-5f;
    a.x = in[0].dev;
    a.w = in[1].dev;
    a.x_stride = a.r_stride = a.y_stride = a.h_stride = a.dy_stride = a.dh_stride = a.dx_stride = n;
    switch (v->op) {
    case ZF_OP_RMS_NORM: a.y = out[0].dev; break;
    case ZF_OP_ADD_RMS_NORM: a.r = in[1].dev; a.w = in[2].dev; a.y = out[0].dev; a.h = out[1].dev; break;
    default: /* VJPs: (x or h, w, d_y[, d_h]) -> (d_x, d_w f32) */
        a.dy = in[2].dev;
        a.dh = v->op == ZF_OP_ADD_RMS_NORM_VJP ? in[3].dev : nullptr;
        a.dx = out[0].dev;
        a.dw = out[1].dev;
        a.dw_dtype = ZF_DTYPE_F32;
        break;
    }
    return ((zf_cu_norm_fn)v->fn)(t, &a, s);
}

/* Operand shapes per op: ins and outs filled with dtype and shape. */
void shapes(zf_op op, zf_dtype t, int64_t rows, int64_t n, buf *in, int *n_in, buf *out, int *n_out) {
    buf row = {t, rows, n, 0, 0, 0}, vec = {t, 0, n, 0, 0, 0}, flat = {t, 0, rows * n, 0, 0, 0};
    buf dw = {ZF_DTYPE_F32, 0, n, 0, 0, 0};
    switch (op) {
    case ZF_OP_SILU: *n_in = 1; *n_out = 1; in[0] = flat; out[0] = flat; break;
    case ZF_OP_SWIGLU_VJP: *n_in = 3; *n_out = 2; in[0] = in[1] = in[2] = out[0] = out[1] = flat; break;
    case ZF_OP_RMS_NORM: *n_in = 2; *n_out = 1; in[0] = row; in[1] = vec; out[0] = row; break;
    case ZF_OP_ADD_RMS_NORM: *n_in = 3; *n_out = 2; in[0] = in[1] = row; in[2] = vec; out[0] = out[1] = row; break;
    case ZF_OP_RMS_NORM_VJP: *n_in = 3; *n_out = 2; in[0] = in[2] = row; in[1] = vec; out[0] = row; out[1] = dw; break;
    case ZF_OP_ADD_RMS_NORM_VJP:
        *n_in = 4; *n_out = 2; in[0] = in[2] = in[3] = row; in[1] = vec; out[0] = row; out[1] = dw; break;
    default: *n_in = 2; *n_out = 1; in[0] = in[1] = flat; out[0] = flat; break;
    }
}

int one_case(const zf_variant *v, zf_dtype t, int64_t rows, int64_t n, uint64_t *rng, cudaStream_t s, char *msg,
             size_t size) {
    buf in[MAX_IN] = {}, out[MAX_OUT] = {}, want[MAX_OUT] = {};
    int n_in, n_out, fail = 0;
    shapes(v->op, t, rows, n, in, &n_in, out, &n_out);
    for (int k = 0; k < n_in; k++) in[k].bytes = (size_t)((in[k].rows ? in[k].rows : 1) * in[k].cols) * zf_cu_dtype_size(in[k].t);
    for (int k = 0; k < n_out; k++) {
        out[k].bytes = (size_t)((out[k].rows ? out[k].rows : 1) * out[k].cols) * zf_cu_dtype_size(out[k].t);
        want[k] = out[k];
    }
    cudaError_t e = cudaSuccess;
    for (int k = 0; k < n_in && e == cudaSuccess; k++) {
        in[k].host = malloc(in[k].bytes);
        e = cudaMalloc(&in[k].dev, in[k].bytes);
        if (in[k].host) fill(&in[k], rng, k == 1 && is_norm(v->op) ? 1.5f : 6.0f);
        if (e == cudaSuccess) e = cudaMemcpyAsync(in[k].dev, in[k].host, in[k].bytes, cudaMemcpyHostToDevice, s);
    }
    for (int k = 0; k < n_out && e == cudaSuccess; k++) {
        out[k].host = malloc(out[k].bytes);
        want[k].host = malloc(out[k].bytes);
        e = cudaMalloc(&out[k].dev, out[k].bytes);
        if (e == cudaSuccess) e = cudaMemsetAsync(out[k].dev, 0x7f, out[k].bytes, s);
    }
    if (e == cudaSuccess) e = run_variant(v, t, rows, n, in, out, s);
    for (int k = 0; k < n_out && e == cudaSuccess; k++)
        e = cudaMemcpyAsync(out[k].host, out[k].dev, out[k].bytes, cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    if (e != cudaSuccess) {
        snprintf(msg, size, "%s: %s", cudaGetErrorName(e), cudaGetErrorString(e));
        fail = 1;
    }
    if (!fail) {
        zf_fidelity f = v->fidelity == ZF_FIDELITY_FAST ? ZF_FIDELITY_FAST : ZF_FIDELITY_STOCK;
        zf_status st = cpu_oracle(v->op, f, in, want);
        if (st != ZF_OK) {
            snprintf(msg, size, "CPU stock path for %s unavailable: %s", v->name,
                     st == ZF_ERR_UNSUPPORTED ? "not implemented" : "error");
            fail = 1;
        }
    }
    for (int k = 0; k < n_out && !fail; k++) {
        int64_t cnt = (out[k].rows ? out[k].rows : 1) * out[k].cols;
        for (int64_t i = 0; i < cnt && !fail; i++) {
            float a = zf_load(out[k].t, out[k].host, i), b = zf_load(out[k].t, want[k].host, i);
            if (zf_f32_bits(a) != zf_f32_bits(b) && !(a != a && b != b)) {
                snprintf(msg, size, "%s [%lld x %lld] out%d[%lld]: cuda %.9g, cpu %.9g (bits differ)",
                         zf_cu_dtype_name(t), (long long)rows, (long long)n, k, (long long)i, a, b);
                fail = 1;
            }
        }
    }
    for (int k = 0; k < n_in; k++) { free(in[k].host); cudaFree(in[k].dev); }
    for (int k = 0; k < n_out; k++) { free(out[k].host); free(want[k].host); cudaFree(out[k].dev); }
    return fail;
}

} // namespace

int zf_cu_selftest(const zf_variant *v, char *msg, size_t msg_size) {
    static const int64_t widths[] = {1, 7, 67, 1031};
    cudaStream_t s;
    cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        snprintf(msg, msg_size, "stream: %s", cudaGetErrorName(e));
        return 1;
    }
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)v->op << 8) ^ (uint64_t)v->fidelity;
    int fail = 0;
    for (int dt = 0; dt < 3 && !fail; dt++)
        for (size_t i = 0; i < sizeof widths / sizeof *widths && !fail; i++)
            fail = one_case(v, (zf_dtype)dt, 3, widths[i], &rng, s, msg, msg_size);
    cudaStreamDestroy(s);
    return fail;
}
