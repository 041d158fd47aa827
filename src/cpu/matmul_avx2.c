/* AVX2 float matmul kernel: the operations of zf_scalar_matmul, 8 L256 lanes
 * per step, each W row loaded once for up to ZF_MM_NX x rows; same bits. */
#include <immintrin.h>
#include <math.h>

#include "core/dtype.h"
#include "cpu/l256_avx2.h"
#include "cpu/matmul.h"
#include "cpu/simd_avx2.h"

/* One W row against nx x rows into out[i * out_stride]. */
ZF_AVX2_INLINE void row_dots(zf_dtype tx, const void *const *x, int nx, zf_dtype tw, const void *w, int64_t k,
                             float (*acc)[256], float *out, int64_t out_stride) {
    int64_t p = 8;
    for (int i = 0; i < nx; i++) p = zf_avx2_l256_init(acc[i], k);
    int64_t c = 0;
    for (; c + 8 <= k; c += 8) {
        __m256 wv = zf_avx2_load(tw, w, c);
        for (int i = 0; i < nx; i++) {
            float *a = acc[i] + (c & 255);
            _mm256_storeu_ps(a, _mm256_fmadd_ps(zf_avx2_load(tx, x[i], c), wv, _mm256_loadu_ps(a)));
        }
    }
    for (; c < k; c++) {
        float wc = zf_load(tw, w, c);
        for (int i = 0; i < nx; i++) acc[i][c & 255] = fmaf(zf_load(tx, x[i], c), wc, acc[i][c & 255]);
    }
    for (int i = 0; i < nx; i++) out[i * out_stride] = zf_avx2_l256_fold(acc[i], k < 256 ? k : 256, p);
}

/* tx, tw and nx are constants at every call below, so loads specialise. */
ZF_AVX2_INLINE void rows_dots(zf_dtype tx, const void *const *x, int nx, zf_dtype tw, const void *w,
                              int64_t w_stride, int64_t rows, int64_t k, float *out) {
    float acc[ZF_MM_NX][256];
    size_t ws = zf_dtype_size(tw);
    for (int64_t r = 0; r < rows; r++)
        row_dots(tx, x, nx, tw, (const char *)w + (size_t)(r * w_stride) * ws, k, acc, out + r, rows);
}

#define NX_CASES(TX, TW)                                                                  \
    switch (nx) {                                                                          \
    case 1: rows_dots(TX, x, 1, TW, w, w_stride, rows, k, out); return;                   \
    case 2: rows_dots(TX, x, 2, TW, w, w_stride, rows, k, out); return;                   \
    case 3: rows_dots(TX, x, 3, TW, w, w_stride, rows, k, out); return;                   \
    default: rows_dots(TX, x, ZF_MM_NX, TW, w, w_stride, rows, k, out); return;           \
    }
#define TW_CASES(TX)                                                                      \
    switch (tw) {                                                                          \
    case ZF_DTYPE_F16: NX_CASES(TX, ZF_DTYPE_F16)                                          \
    case ZF_DTYPE_BF16: NX_CASES(TX, ZF_DTYPE_BF16)                                        \
    default: NX_CASES(TX, ZF_DTYPE_F32)                                                    \
    }

void zf_avx2_matmul(zf_dtype tx, const void *const *x, int nx, zf_dtype tw, const void *w, int64_t w_stride,
                    int64_t rows, int64_t k, float *out) {
    switch (tx) {
    case ZF_DTYPE_F16: TW_CASES(ZF_DTYPE_F16)
    case ZF_DTYPE_BF16: TW_CASES(ZF_DTYPE_BF16)
    default: TW_CASES(ZF_DTYPE_F32)
    }
}
