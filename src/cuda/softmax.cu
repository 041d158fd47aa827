/* Row softmax on CUDA (docs/NUMERICS.md §9.3, src/cpu/softmax.c): mx = the
 * first element, raised by every later larger one (so a NaN first element
 * makes the row NaN, later NaNs are skipped); e_i = exp(x_i - mx) (zmath);
 * S = L256 sum of e_i; y_i = T(e_i / S). */
#include "cuda/model_ops.cuh"
#include "cuda/zmath.cuh"

/* A block of 256 threads per row; thread l is L256 lane l. */
template <int DT> __global__ void __launch_bounds__(256) softmax_kernel(const zf_cu_softmax_args a) {
    __shared__ float sh[256];
    zf_cu_wait_prior();
    const int l = threadIdx.x;
    for (int64_t r = blockIdx.x; r < a.rows; r += gridDim.x) {
        const void *x = (const char *)a.x + (size_t)(r * a.xs) * sizeof(typename zf_cu_elem<DT>::type);
        void *y = (char *)a.out + (size_t)(r * a.os) * sizeof(typename zf_cu_elem<DT>::type);
        float m = -INFINITY;
        for (int64_t i = l; i < a.n; i += 256) {
            float v = zf_cu_load<DT>(x, i);
            if (v > m) m = v;
        }
        float x0 = zf_cu_load<DT>(x, 0);
        float mx = zf_cu_max256(sh, m);
        if (x0 != x0) mx = x0;
        float acc = 0.0f;
        for (int64_t i = l; i < a.n; i += 256) acc = __fadd_rn(acc, zf_cu_exp(__fsub_rn(zf_cu_load<DT>(x, i), mx)));
        float s = zf_cu_l256_fold256(sh, acc);
        for (int64_t i = l; i < a.n; i += 256)
            zf_cu_store<DT>(y, i, __fdiv_rn(zf_cu_exp(__fsub_rn(zf_cu_load<DT>(x, i), mx)), s));
    }
}

cudaError_t zf_cu_softmax(const zf_cu_softmax_args *a, cudaStream_t s) {
    dim3 g((unsigned)(a->rows < 65535 ? a->rows : 65535)), b(256);
    switch (a->t) {
    case ZF_DTYPE_F32: return zf_cu_launch(softmax_kernel<0>, g, b, 0, s, *a);
    case ZF_DTYPE_F16: return zf_cu_launch(softmax_kernel<1>, g, b, 0, s, *a);
    case ZF_DTYPE_BF16: return zf_cu_launch(softmax_kernel<2>, g, b, 0, s, *a);
    default: return cudaErrorInvalidValue;
    }
}

typedef cudaError_t (*softmax_fn)(const zf_cu_softmax_args *, cudaStream_t);

static zf_status softmax_args(const zf_tensor *x, zf_tensor *out, zf_cu_softmax_args *a) {
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(H->check_float("softmax", "x", x));
    ZF_TRY(H->check_float("softmax", "out", out));
    ZF_TRY(H->check_same("softmax", "x", x, "out", out));
    ZF_TRY(H->check_alias("softmax", "out", out, "x", x));
    ZF_TRY(zf_cu_on_device("softmax", "x", x));
    zf_rows rx, ry;
    ZF_TRY(H->as_rows("softmax", "x", x, &rx));
    ZF_TRY(H->as_rows("softmax", "out", out, &ry));
    *a = zf_cu_softmax_args{};
    a->t = x->dtype;
    a->x = rx.data;
    a->out = ry.data;
    a->rows = rx.rows;
    a->n = rx.cols;
    a->xs = rx.row_stride;
    a->os = ry.row_stride;
    return ZF_OK;
}

zf_status zf_cuda_softmax(const zf_tensor *x, zf_tensor *out, const zf_opts *o) {
    zf_cu_softmax_args a;
    ZF_TRY(softmax_args(x, out, &a));
    const zf_variant *v;
    ZF_TRY(zf_cu_pick(ZF_OP_SOFTMAX, o, &v));
    cudaError_t e = ((softmax_fn)v->fn)(&a, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail("softmax", v->name, e);
}

/* Rows of 1, 37 and 600 (lanes summed three times) of each dtype. */
int zf_cu_selftest_softmax(const zf_variant *v, char *msg, size_t size) {
    uint64_t rng = 0x082efa98ec4e6c89ull;
    const int64_t ns[3] = {1, 37, 600};
    zf_opts stock = {ZF_FIDELITY_STOCK, NULL};
    int fail = 0;
    for (int c = 0; c < 9 && !fail; c++) {
        const int64_t shape[2] = {3, ns[c / 3]};
        zf_cu_st_buf x = {}, out = {};
        fail = zf_cu_st_make(&x, (zf_dtype)(c % 3), 2, shape, 12.0f, &rng, msg, size) ||
               zf_cu_st_make(&out, (zf_dtype)(c % 3), 2, shape, 0.0f, &rng, msg, size);
        zf_cu_softmax_args a;
        if (!fail && (zf_cu_host->cpu->softmax(&x.host, &out.host, &stock) != ZF_OK ||
                      softmax_args(&x.dev, &out.dev, &a) != ZF_OK)) {
            snprintf(msg, size, "the CPU softmax or the argument check failed");
            fail = 1;
        }
        cudaError_t e = fail ? cudaSuccess : ((softmax_fn)v->fn)(&a, 0);
        if (e != cudaSuccess) { snprintf(msg, size, "launch: %s", cudaGetErrorName(e)); fail = 1; }
        if (!fail) fail = zf_cu_st_compare(&out, "out", msg, size);
        zf_cu_st_free(&x);
        zf_cu_st_free(&out);
    }
    return fail;
}
