/* zf_copy on CUDA: rows under up to three leading axes of any strides,
 * converted to out's dtype with the same RNE and NaN bits as the CPU's
 * zf_store (a plain copy of the bits when the dtypes match). */
#include "cuda/model_ops.cuh"

/* Block = rows of the flattened leading axes (grid-stride), threads over columns. */
template <int DX, int DO> __global__ void copy_kernel(const zf_cu_copy_args a) {
    zf_cu_wait_prior();
    const int64_t rows = a.shape[0] * a.shape[1] * a.shape[2];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        int64_t i2 = r % a.shape[2], i1 = r / a.shape[2] % a.shape[1], i0 = r / a.shape[2] / a.shape[1];
        int64_t xo = i0 * a.xs[0] + i1 * a.xs[1] + i2 * a.xs[2], oo = i0 * a.os[0] + i1 * a.os[1] + i2 * a.os[2];
        for (int64_t c = threadIdx.x; c < a.cols; c += blockDim.x) {
            if constexpr (DX == DO) {
                typedef typename zf_cu_elem<DX>::type E;
                ((E *)a.out)[oo + c] = ((const E *)a.x)[xo + c];
            } else {
                zf_cu_store<DO>(a.out, oo + c, zf_cu_load<DX>(a.x, xo + c));
            }
        }
    }
}

template <int DX> static cudaError_t copy_to(const zf_cu_copy_args *a, dim3 g, dim3 b, cudaStream_t s) {
    switch (a->to) {
    case ZF_DTYPE_F32: return zf_cu_launch(copy_kernel<DX, 0>, g, b, 0, s, *a);
    case ZF_DTYPE_F16: return zf_cu_launch(copy_kernel<DX, 1>, g, b, 0, s, *a);
    case ZF_DTYPE_BF16: return zf_cu_launch(copy_kernel<DX, 2>, g, b, 0, s, *a);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t zf_cu_copy(const zf_cu_copy_args *a, cudaStream_t s) {
    int64_t rows = a->shape[0] * a->shape[1] * a->shape[2];
    dim3 g((unsigned)(rows < 65535 ? rows : 65535)), b(a->cols >= 256 ? 256 : a->cols >= 64 ? 128 : 32);
    switch (a->tx) {
    case ZF_DTYPE_F32: return copy_to<0>(a, g, b, s);
    case ZF_DTYPE_F16: return copy_to<1>(a, g, b, s);
    case ZF_DTYPE_BF16: return copy_to<2>(a, g, b, s);
    default: return cudaErrorInvalidValue;
    }
}

static void span(const zf_tensor *t, const char **lo, const char **hi) {
    int64_t last = 0;
    for (int i = 0; i < t->ndim; i++) last += (t->shape[i] - 1) * t->stride[i];
    *lo = (const char *)t->data;
    *hi = *lo + (size_t)(last + 1) * zf_cu_dtype_size(t->dtype);
}

typedef cudaError_t (*copy_fn)(const zf_cu_copy_args *, cudaStream_t);

static zf_status copy_args(const zf_tensor *x, zf_tensor *out, zf_cu_copy_args *a) {
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(H->check_float("copy", "x", x));
    ZF_TRY(H->check_float("copy", "out", out));
    if (x->ndim != out->ndim) return ZF_ERR(ZF_ERR_SHAPE, "[copy] x has %d axes but out has %d", x->ndim, out->ndim);
    for (int i = 0; i < x->ndim; i++)
        if (x->shape[i] != out->shape[i])
            return ZF_ERR(ZF_ERR_SHAPE, "[copy] x and out differ in axis %d (%lld vs %lld)", i,
                          (long long)x->shape[i], (long long)out->shape[i]);
    if (x->device != out->device)
        return ZF_ERR(ZF_ERR_INVALID_ARG, "[copy] x and out are on different devices; use zf_memcpy");
    ZF_TRY(zf_cu_on_device("copy", "x", x));
    const char *a0, *a1, *b0, *b1;
    span(x, &a0, &a1);
    span(out, &b0, &b1);
    if (a0 < b1 && b0 < a1) return ZF_ERR(ZF_ERR_ALIAS, "[copy] out overlaps x; it needs its own memory");
    *a = zf_cu_copy_args{};
    a->tx = x->dtype;
    a->to = out->dtype;
    a->x = x->data;
    a->out = out->data;
    int lead = x->ndim - 1;
    for (int i = 0; i < 3; i++) a->shape[i] = 1;
    for (int i = 0; i < lead; i++) {
        a->shape[3 - lead + i] = x->shape[i];
        a->xs[3 - lead + i] = x->stride[i];
        a->os[3 - lead + i] = out->stride[i];
    }
    a->cols = x->shape[x->ndim - 1];
    return ZF_OK;
}

zf_status zf_cuda_copy(const zf_tensor *x, zf_tensor *out, const zf_opts *o) {
    zf_cu_copy_args a;
    ZF_TRY(copy_args(x, out, &a));
    const zf_variant *v;
    ZF_TRY(zf_cu_pick(ZF_OP_COPY, o, &v));
    cudaError_t e = ((copy_fn)v->fn)(&a, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail("copy", v->name, e);
}

/* x [3, 4, 37] of each dtype into each dtype, out a transposed view [3, 4, 37]
 * of a [4, 3, 37] buffer (the KV-cache write's shape of strides). */
int zf_cu_selftest_copy(const zf_variant *v, char *msg, size_t size) {
    uint64_t rng = 0x243f6a8885a308d3ull;
    const int64_t xs[3] = {3, 4, 37}, os[3] = {4, 3, 37};
    zf_opts stock = {ZF_FIDELITY_STOCK, NULL};
    int fail = 0;
    for (int tx = 0; tx < 3 && !fail; tx++)
        for (int to = 0; to < 3 && !fail; to++) {
            zf_cu_st_buf x = {}, out = {};
            fail = zf_cu_st_make(&x, (zf_dtype)tx, 3, xs, 50.0f, &rng, msg, size) ||
                   zf_cu_st_make(&out, (zf_dtype)to, 3, os, 0.0f, &rng, msg, size);
            zf_tensor oh = out.host, od = out.dev;
            for (zf_tensor *t : {&oh, &od}) {
                t->shape[0] = 3; t->shape[1] = 4;
                t->stride[0] = 37; t->stride[1] = 3 * 37;
            }
            zf_cu_copy_args a;
            if (!fail && (zf_cu_host->cpu->copy(&x.host, &oh, &stock) != ZF_OK || copy_args(&x.dev, &od, &a) != ZF_OK)) {
                snprintf(msg, size, "the CPU copy or the argument check failed");
                fail = 1;
            }
            cudaError_t e = fail ? cudaSuccess : ((copy_fn)v->fn)(&a, 0);
            if (e != cudaSuccess) { snprintf(msg, size, "launch: %s", cudaGetErrorName(e)); fail = 1; }
            if (!fail) fail = zf_cu_st_compare(&out, "out", msg, size);
            zf_cu_st_free(&x);
            zf_cu_st_free(&out);
        }
    return fail;
}
