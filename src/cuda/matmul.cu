/* Float matmul on CUDA (docs/NUMERICS.md §9.5, src/cpu/matmul.c):
 * y[i, r] = T(L256(x_i, W_r)), one L256 dot per output element. A warp per W
 * row: thread t holds lanes 8t .. 8t+7, the tree is shuffles 16..1 then three
 * steps in the thread (NUMERICS §4); each W element loaded is used for up to
 * MM_NX x rows. */
#include "cuda/model_ops.cuh"

enum { MM_THREADS = 256, MM_NX = 4 };

template <int DX, int DW> __global__ void __launch_bounds__(MM_THREADS) matmul_kernel(const zf_cu_matmul_args a) {
    zf_cu_wait_prior();
    typedef typename zf_cu_elem<DX>::type EX;
    typedef typename zf_cu_elem<DW>::type EW;
    const int t = threadIdx.x & 31;
    const int64_t r = blockIdx.x * (int64_t)(MM_THREADS / 32) + threadIdx.x / 32;
    if (r >= a.n) return;
    const EW *w = (const EW *)a.w + r * a.ws;
    for (int64_t i0 = 0; i0 < a.m; i0 += MM_NX) {
        const int nx = a.m - i0 < MM_NX ? (int)(a.m - i0) : MM_NX;
        float acc[MM_NX][8];
#pragma unroll
        for (int x = 0; x < MM_NX; x++)
#pragma unroll
            for (int i = 0; i < 8; i++) acc[x][i] = 0.0f;
        for (int64_t c0 = 0; c0 < a.k; c0 += 256)
#pragma unroll
            for (int i = 0; i < 8; i++) {
                const int64_t c = c0 + 8 * t + i;
                if (c >= a.k) break;
                const float wc = zf_cu_load<DW>(w, c);
#pragma unroll
                for (int x = 0; x < MM_NX; x++)
                    if (x < nx) acc[x][i] = __fmaf_rn(zf_cu_load<DX>((const EX *)a.x + (i0 + x) * a.xs, c), wc, acc[x][i]);
            }
#pragma unroll
        for (int x = 0; x < MM_NX; x++) {
            if (x >= nx) break;
            float *v = acc[x];
#pragma unroll
            for (int off = 16; off >= 1; off >>= 1)
#pragma unroll
                for (int i = 0; i < 8; i++) v[i] = __fadd_rn(v[i], __shfl_xor_sync(0xffffffffu, v[i], off));
#pragma unroll
            for (int s = 4; s >= 1; s >>= 1)
#pragma unroll
                for (int i = 0; i < s; i++) v[i] = __fadd_rn(v[i], v[i + s]);
            if (t == 0) zf_cu_store<DX>((EX *)a.y + (i0 + x) * a.ys, r, v[0]);
        }
    }
}

template <int DX> static cudaError_t mm_w(const zf_cu_matmul_args *a, cudaStream_t s) {
    int64_t blocks = (a->n + MM_THREADS / 32 - 1) / (MM_THREADS / 32);
    dim3 g((unsigned)blocks), b(MM_THREADS);
    switch (a->tw) {
    case ZF_DTYPE_F32: return zf_cu_launch(matmul_kernel<DX, 0>, g, b, 0, s, *a);
    case ZF_DTYPE_F16: return zf_cu_launch(matmul_kernel<DX, 1>, g, b, 0, s, *a);
    case ZF_DTYPE_BF16: return zf_cu_launch(matmul_kernel<DX, 2>, g, b, 0, s, *a);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t zf_cu_matmul(const zf_cu_matmul_args *a, cudaStream_t s) {
    switch (a->tx) {
    case ZF_DTYPE_F32: return mm_w<0>(a, s);
    case ZF_DTYPE_F16: return mm_w<1>(a, s);
    case ZF_DTYPE_BF16: return mm_w<2>(a, s);
    default: return cudaErrorInvalidValue;
    }
}

static int overlaps(const zf_rows *a, size_t ea, const zf_rows *b, size_t eb) {
    const char *a0 = (const char *)a->data, *a1 = a0 + (size_t)((a->rows - 1) * a->row_stride + a->cols) * ea;
    const char *b0 = (const char *)b->data, *b1 = b0 + (size_t)((b->rows - 1) * b->row_stride + b->cols) * eb;
    return a0 < b1 && b0 < a1;
}

typedef cudaError_t (*matmul_fn)(const zf_cu_matmul_args *, cudaStream_t);

static zf_status matmul_args(const zf_tensor *x, const zf_tensor *w, zf_tensor *y, zf_cu_matmul_args *a) {
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(H->check_float("matmul", "x", x));
    ZF_TRY(H->check_float("matmul", "w", w));
    ZF_TRY(H->check_float("matmul", "y", y));
    if (x->ndim != 2 || w->ndim != 2 || y->ndim != 2)
        return ZF_ERR(ZF_ERR_SHAPE, "[matmul] x, w and y need 2 axes: x [m, k], w [n, k], y [m, n]");
    if (w->shape[1] != x->shape[1])
        return ZF_ERR(ZF_ERR_SHAPE, "[matmul] w is [%lld, %lld]; expected [n, k] with k = %lld (x's columns)",
                      (long long)w->shape[0], (long long)w->shape[1], (long long)x->shape[1]);
    if (y->shape[0] != x->shape[0] || y->shape[1] != w->shape[0])
        return ZF_ERR(ZF_ERR_SHAPE, "[matmul] y is [%lld, %lld]; expected [m, n] = [%lld, %lld]",
                      (long long)y->shape[0], (long long)y->shape[1], (long long)x->shape[0], (long long)w->shape[0]);
    if (y->dtype != x->dtype)
        return ZF_ERR(ZF_ERR_DTYPE, "[matmul] y is %s but x is %s; expected one dtype", zf_cu_dtype_name(y->dtype),
                      zf_cu_dtype_name(x->dtype));
    ZF_TRY(zf_cu_on_device("matmul", "x", x));
    ZF_TRY(zf_cu_on_device("matmul", "w", w));
    ZF_TRY(zf_cu_on_device("matmul", "y", y));
    zf_rows rx, rw, ry;
    ZF_TRY(H->as_rows("matmul", "x", x, &rx));
    ZF_TRY(H->as_rows("matmul", "w", w, &rw));
    ZF_TRY(H->as_rows("matmul", "y", y, &ry));
    size_t ex = zf_cu_dtype_size(x->dtype), ew = zf_cu_dtype_size(w->dtype);
    if (overlaps(&ry, ex, &rx, ex) || overlaps(&ry, ex, &rw, ew))
        return ZF_ERR(ZF_ERR_ALIAS, "[matmul] y overlaps %s; every output reads whole rows of x and w, so y "
                      "needs its own memory", overlaps(&ry, ex, &rx, ex) ? "x" : "w");
    if ((rw.rows + MM_THREADS / 32 - 1) / (MM_THREADS / 32) > 0x7fffffff)
        return ZF_ERR(ZF_ERR_SHAPE, "[matmul] w has %lld rows; too many for one launch", (long long)rw.rows);
    *a = zf_cu_matmul_args{};
    a->tx = x->dtype;
    a->tw = w->dtype;
    a->x = rx.data;
    a->w = rw.data;
    a->y = ry.data;
    a->m = rx.rows;
    a->n = rw.rows;
    a->k = rx.cols;
    a->xs = rx.row_stride;
    a->ws = rw.row_stride;
    a->ys = ry.row_stride;
    return ZF_OK;
}

zf_status zf_cuda_matmul(const zf_tensor *x, const zf_tensor *w, zf_tensor *y, const zf_opts *o) {
    zf_cu_matmul_args a;
    ZF_TRY(matmul_args(x, w, y, &a));
    const zf_variant *v;
    ZF_TRY(zf_cu_pick(ZF_OP_MATMUL, o, &v));
    cudaError_t e = ((matmul_fn)v->fn)(&a, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail("matmul", v->name, e);
}

/* Every x / W dtype pair: 5 x rows (a group of 4 and a tail), 9 W rows,
 * k = 300 (more than the 256 lanes, a partial step). */
int zf_cu_selftest_matmul(const zf_variant *v, char *msg, size_t size) {
    uint64_t rng = 0xbe5466cf34e90c6cull;
    const int64_t xs[2] = {5, 300}, ws[2] = {9, 300}, ys[2] = {5, 9};
    zf_opts stock = {ZF_FIDELITY_STOCK, NULL};
    int fail = 0;
    for (int c = 0; c < 9 && !fail; c++) {
        zf_cu_st_buf x = {}, w = {}, y = {};
        fail = zf_cu_st_make(&x, (zf_dtype)(c / 3), 2, xs, 2.0f, &rng, msg, size) ||
               zf_cu_st_make(&w, (zf_dtype)(c % 3), 2, ws, 1.0f, &rng, msg, size) ||
               zf_cu_st_make(&y, (zf_dtype)(c / 3), 2, ys, 0.0f, &rng, msg, size);
        zf_cu_matmul_args a;
        if (!fail && (zf_cu_host->cpu->matmul(&x.host, &w.host, &y.host, &stock) != ZF_OK ||
                      matmul_args(&x.dev, &w.dev, &y.dev, &a) != ZF_OK)) {
            snprintf(msg, size, "the CPU matmul or the argument check failed");
            fail = 1;
        }
        cudaError_t e = fail ? cudaSuccess : ((matmul_fn)v->fn)(&a, 0);
        if (e != cudaSuccess) { snprintf(msg, size, "launch: %s", cudaGetErrorName(e)); fail = 1; }
        if (!fail) fail = zf_cu_st_compare(&y, "y", msg, size);
        for (zf_cu_st_buf *b : {&x, &w, &y}) zf_cu_st_free(b);
    }
    return fail;
}
