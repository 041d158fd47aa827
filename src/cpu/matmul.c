/* Float matmul on the CPU: y[m, n] = T(x[m, k] @ W[n, k]^T). The scalar
 * kernel defines the bits (one L256 dot per output element); the AVX2 kernel
 * (matmul_avx2.c) returns the same bits. Tasks own fixed chunks of W rows,
 * so threads change nothing but the speed. */
#include "cpu/matmul.h"

#include <stdio.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "cpu/l256.h"
#include "cpu/selftest.h"

#define ZF_MM_ROWS 16 /* W rows per task */

void zf_scalar_matmul(zf_dtype tx, const void *const *x, int nx, zf_dtype tw, const void *w, int64_t w_stride,
                      int64_t rows, int64_t k, float *out) {
    float acc[256];
    int64_t m = k < 256 ? k : 256;
    size_t ws = zf_dtype_size(tw);
    for (int64_t r = 0; r < rows; r++) {
        const char *wr = (const char *)w + (size_t)(r * w_stride) * ws;
        for (int i = 0; i < nx; i++) {
            for (int64_t l = 0; l < m; l++) acc[l] = 0.0f;
            for (int64_t c = 0; c < k; c++) acc[c & 255] = fmaf(zf_load(tx, x[i], c), zf_load(tw, wr, c), acc[c & 255]);
            out[i * rows + r] = zf_l256_fold(acc, m);
        }
    }
}

typedef struct mm_job {
    zf_rows x, w, y;
    zf_dtype tx, tw;
    zf_matmul_fn fn;
} mm_job;

/* Task: W rows [16 task, 16 task + 16) against every x row, ZF_MM_NX at a time. */
static void mm_task(void *ctx, int64_t task) {
    const mm_job *j = ctx;
    int64_t r0 = task * ZF_MM_ROWS, rows = j->w.rows - r0 < ZF_MM_ROWS ? j->w.rows - r0 : ZF_MM_ROWS;
    size_t xs = zf_dtype_size(j->tx), ws = zf_dtype_size(j->tw);
    const char *w = (const char *)j->w.data + (size_t)(r0 * j->w.row_stride) * ws;
    float d[ZF_MM_NX * ZF_MM_ROWS];
    for (int64_t i0 = 0; i0 < j->x.rows; i0 += ZF_MM_NX) {
        int nx = j->x.rows - i0 < ZF_MM_NX ? (int)(j->x.rows - i0) : ZF_MM_NX;
        const void *xp[ZF_MM_NX];
        for (int i = 0; i < nx; i++) xp[i] = (const char *)j->x.data + (size_t)((i0 + i) * j->x.row_stride) * xs;
        j->fn(j->tx, xp, nx, j->tw, w, j->w.row_stride, rows, j->x.cols, d);
        for (int i = 0; i < nx; i++) {
            char *yr = (char *)j->y.data + (size_t)((i0 + i) * j->y.row_stride) * xs;
            for (int64_t r = 0; r < rows; r++) zf_store(j->tx, yr, r0 + r, d[i * rows + r]);
        }
    }
}

static int overlaps(const zf_tensor *a, const zf_tensor *b) {
    const char *a0, *a1, *b0, *b1;
    zf_tensor_span(a, &a0, &a1);
    zf_tensor_span(b, &b0, &b1);
    return a0 < b1 && b0 < a1;
}

static zf_status check_args(const zf_tensor *x, const zf_tensor *w, const zf_tensor *y) {
    ZF_TRY(zf_check_float("matmul", "x", x));
    ZF_TRY(zf_check_float("matmul", "w", w));
    ZF_TRY(zf_check_float("matmul", "y", y));
    if (x->ndim != 2 || w->ndim != 2 || y->ndim != 2)
        return zf_error(ZF_ERR_SHAPE, "[matmul] x, w and y need 2 axes: x [m, k], w [n, k], y [m, n]");
    if (w->shape[1] != x->shape[1])
        return zf_error(ZF_ERR_SHAPE, "[matmul] w is [%lld, %lld]; expected [n, k] with k = %lld (x's columns)",
                        (long long)w->shape[0], (long long)w->shape[1], (long long)x->shape[1]);
    if (y->shape[0] != x->shape[0] || y->shape[1] != w->shape[0])
        return zf_error(ZF_ERR_SHAPE, "[matmul] y is [%lld, %lld]; expected [m, n] = [%lld, %lld]",
                        (long long)y->shape[0], (long long)y->shape[1], (long long)x->shape[0],
                        (long long)w->shape[0]);
    if (y->dtype != x->dtype)
        return zf_error(ZF_ERR_DTYPE, "[matmul] y is %s but x is %s; expected one dtype", zf_dtype_name(y->dtype),
                        zf_dtype_name(x->dtype));
    if (x->device != ZF_DEVICE_CPU || w->device != ZF_DEVICE_CPU || y->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[matmul] x, w and y must all be on the CPU here");
    if (overlaps(y, x) || overlaps(y, w))
        return zf_error(ZF_ERR_ALIAS, "[matmul] y overlaps %s; every output reads whole rows of x and w, so y "
                        "needs its own memory", overlaps(y, x) ? "x" : "w");
    return ZF_OK;
}

zf_status zf_cpu_matmul(const zf_tensor *x, const zf_tensor *w, zf_tensor *y, const zf_opts *o) {
    ZF_TRY(check_args(x, w, y));
    mm_job j = {.tx = x->dtype, .tw = w->dtype};
    ZF_TRY(zf_as_rows("matmul", "x", x, &j.x));
    ZF_TRY(zf_as_rows("matmul", "w", w, &j.w));
    ZF_TRY(zf_as_rows("matmul", "y", y, &j.y));
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_MATMUL, ZF_DEVICE_CPU, o ? o->fidelity : ZF_FIDELITY_AUTO, &v));
    j.fn = (zf_matmul_fn)v->fn;
    int64_t tasks = (j.w.rows + ZF_MM_ROWS - 1) / ZF_MM_ROWS;
    /* W is read once per ZF_MM_NX x rows: that is the work to share */
    int64_t bytes = j.w.rows * j.w.cols * (int64_t)zf_dtype_size(j.tw) * ((j.x.rows + ZF_MM_NX - 1) / ZF_MM_NX);
    if (zf_tasks_for_bytes(bytes, 2) == 1) {
        for (int64_t t = 0; t < tasks; t++) mm_task(&j, t);
    } else {
        zf_parallel_for(tasks, mm_task, &j);
    }
    return ZF_OK;
}

int zf_cpu_selftest_matmul(const zf_variant *v, char *msg, size_t msg_size) {
    enum { K = 523, ROWS = 3 };
    static const int64_t ks[] = {1, 7, 8, 200, 256, 259, K};
    static const zf_dtype dts[] = {ZF_DTYPE_F32, ZF_DTYPE_F16, ZF_DTYPE_BF16};
    static float x[ZF_MM_NX][K], w[ROWS * K];
    float got[ZF_MM_NX * ROWS], want[ZF_MM_NX * ROWS];
    uint64_t st = 0x6a09e667f3bcc909ull;
    const void *xp[ZF_MM_NX];
    for (int i = 0; i < ZF_MM_NX; i++) xp[i] = x[i];
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (size_t c = 0; c < sizeof ks / sizeof *ks; c++) {
                int64_t k = ks[c];
                for (int i = 0; i < ZF_MM_NX; i++) zf_selftest_fill(dts[a], x[i], k, &st, 2.0f);
                zf_selftest_fill(dts[b], w, ROWS * k, &st, 1.0f);
                for (int nx = 1; nx <= ZF_MM_NX; nx += ZF_MM_NX - 1) {
                    ((zf_matmul_fn)v->fn)(dts[a], xp, nx, dts[b], w, k, ROWS, k, got);
                    zf_scalar_matmul(dts[a], xp, nx, dts[b], w, k, ROWS, k, want);
                    for (int i = 0; i < nx * ROWS; i++)
                        if (zf_f32_bits(got[i]) != zf_f32_bits(want[i])) {
                            snprintf(msg, msg_size, "x %s, w %s, k %lld, %d x rows: out[%d] = %a, scalar gives %a",
                                     zf_dtype_name(dts[a]), zf_dtype_name(dts[b]), (long long)k, nx, i,
                                     (double)got[i], (double)want[i]);
                            return -1;
                        }
                }
            }
    return 0;
}
