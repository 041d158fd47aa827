/* RoPE on CUDA: per pair (a, b) (neox: (i, i + d/2); normal: (2i, 2i+1)),
 * a' = T(a*c - b*s), b' = T(a*s + b*c): two products and one sum each,
 * as src/cpu/rope.c. The cos/sin table comes from the host (zf_rope_table). */
#include "cuda/model_ops.cuh"

/* A thread per (token, head, pair); both of a pair are read before either is
 * written, so out may be x. */
template <int DT> __global__ void rope_kernel(const zf_cu_rope_args a) {
    zf_cu_wait_prior();
    const int64_t h = a.dims / 2, total = a.m * a.heads * h;
    for (int64_t u = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; u < total; u += (int64_t)gridDim.x * blockDim.x) {
        int64_t p = u % h, head = u / h % a.heads, i = u / h / a.heads;
        int64_t ia = a.neox ? p : 2 * p, ib = a.neox ? p + h : 2 * p + 1;
        int64_t xo = i * a.xs0 + head * a.xs1, oo = i * a.os0 + head * a.os1;
        float x0 = zf_cu_load<DT>(a.x, xo + ia), x1 = zf_cu_load<DT>(a.x, xo + ib);
        float c = a.cs[i * a.cs_stride + 2 * p], s = a.cs[i * a.cs_stride + 2 * p + 1];
        zf_cu_store<DT>(a.out, oo + ia, __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s)));
        zf_cu_store<DT>(a.out, oo + ib, __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c)));
    }
}

cudaError_t zf_cu_rope(const zf_cu_rope_args *a, cudaStream_t s) {
    int64_t total = a->m * a->heads * (a->dims / 2), blocks = (total + 127) / 128;
    dim3 g((unsigned)(blocks < 65535 ? blocks : 65535)), b(128);
    switch (a->t) {
    case ZF_DTYPE_F32: return zf_cu_launch(rope_kernel<0>, g, b, 0, s, *a);
    case ZF_DTYPE_F16: return zf_cu_launch(rope_kernel<1>, g, b, 0, s, *a);
    case ZF_DTYPE_BF16: return zf_cu_launch(rope_kernel<2>, g, b, 0, s, *a);
    default: return cudaErrorInvalidValue;
    }
}

typedef cudaError_t (*rope_fn)(const zf_cu_rope_args *, cudaStream_t);

static zf_status rope_args(const zf_tensor *x, const zf_tensor *cs, int neox, zf_tensor *out, zf_cu_rope_args *a) {
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(H->check_float("rope", "x", x));
    ZF_TRY(H->check_float("rope", "out", out));
    if (!cs || !cs->data) return ZF_ERR(ZF_ERR_INVALID_ARG, "[rope] cs is NULL");
    if (x->ndim != 3)
        return ZF_ERR(ZF_ERR_SHAPE, "[rope] x has %d axes; expected [tokens, heads, head_dim]", x->ndim);
    if (x->shape[2] % 2)
        return ZF_ERR(ZF_ERR_SHAPE, "[rope] head_dim %lld is odd; expected an even size", (long long)x->shape[2]);
    ZF_TRY(H->check_same("rope", "x", x, "out", out));
    ZF_TRY(H->check_alias("rope", "out", out, "x", x));
    if (cs->dtype != ZF_DTYPE_F32 || cs->device != x->device || cs->ndim != 3 || cs->shape[0] != x->shape[0] ||
        cs->shape[1] != x->shape[2] / 2 || cs->shape[2] != 2 || cs->stride[1] != 2 || cs->stride[2] != 1)
        return ZF_ERR(ZF_ERR_SHAPE, "[rope] cs must be f32 [%lld, %lld, 2] (one table row per token, from "
                      "zf_rope_table) on x's device", (long long)x->shape[0], (long long)(x->shape[2] / 2));
    if (neox != 0 && neox != 1)
        return ZF_ERR(ZF_ERR_INVALID_ARG, "[rope] neox = %d; expected 0 (adjacent pairs) or 1 (halves)", neox);
    ZF_TRY(zf_cu_on_device("rope", "x", x));
    *a = zf_cu_rope_args{};
    a->t = x->dtype;
    a->x = x->data;
    a->out = out->data;
    a->cs = (const float *)cs->data;
    a->m = x->shape[0];
    a->heads = x->shape[1];
    a->dims = x->shape[2];
    a->xs0 = x->stride[0];
    a->xs1 = x->stride[1];
    a->os0 = out->stride[0];
    a->os1 = out->stride[1];
    a->cs_stride = cs->stride[0];
    a->neox = neox;
    return ZF_OK;
}

zf_status zf_cuda_rope(const zf_tensor *x, const zf_tensor *cs, int neox, zf_tensor *out, const zf_opts *o) {
    zf_cu_rope_args a;
    ZF_TRY(rope_args(x, cs, neox, out, &a));
    const zf_variant *v;
    ZF_TRY(zf_cu_pick(ZF_OP_ROPE, o, &v));
    cudaError_t e = ((rope_fn)v->fn)(&a, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail("rope", v->name, e);
}

/* x [3, 5, 38] of each dtype, both pair styles, in place and not; cs random. */
int zf_cu_selftest_rope(const zf_variant *v, char *msg, size_t size) {
    uint64_t rng = 0xa4093822299f31d0ull;
    const int64_t xs[3] = {3, 5, 38}, cs[3] = {3, 19, 2};
    zf_opts stock = {ZF_FIDELITY_STOCK, NULL};
    int fail = 0;
    for (int c = 0; c < 12 && !fail; c++) {
        int t = c % 3, neox = c / 3 % 2, inplace = c / 6;
        zf_cu_st_buf x = {}, tab = {}, out = {};
        fail = zf_cu_st_make(&x, (zf_dtype)t, 3, xs, 40.0f, &rng, msg, size) ||
               zf_cu_st_make(&tab, ZF_DTYPE_F32, 3, cs, 1.0f, &rng, msg, size) ||
               zf_cu_st_make(&out, (zf_dtype)t, 3, xs, 0.0f, &rng, msg, size);
        zf_cu_st_buf *res = inplace ? &x : &out;
        zf_cu_rope_args a;
        if (!fail && (zf_cu_host->cpu->rope(&x.host, &tab.host, neox, &res->host, &stock) != ZF_OK ||
                      rope_args(&x.dev, &tab.dev, neox, &res->dev, &a) != ZF_OK)) {
            snprintf(msg, size, "the CPU rope or the argument check failed");
            fail = 1;
        }
        cudaError_t e = fail ? cudaSuccess : ((rope_fn)v->fn)(&a, 0);
        if (e != cudaSuccess) { snprintf(msg, size, "launch: %s", cudaGetErrorName(e)); fail = 1; }
        if (!fail) fail = zf_cu_st_compare(res, neox ? "neox out" : "out", msg, size);
        for (zf_cu_st_buf *b : {&x, &tab, &out}) zf_cu_st_free(b);
    }
    return fail;
}
