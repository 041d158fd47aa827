/* AVX2 attention kernel: the same operations as zf_scalar_attention, 8 lanes
 * at a time (the L256 lanes and the output columns), so the same bits. */
#include <immintrin.h>
#include <math.h>

#include "core/dtype.h"
#include "core/zmath.h"
#include "cpu/l256_avx2.h"
#include "cpu/model_ops.h"

static float dot_l256(const float *a, const float *b, int64_t n, float *acc) {
    int64_t p = zf_avx2_l256_init(acc, n), i = 0;
    for (; i + 8 <= n; i += 8) {
        float *x = acc + (i & 255);
        _mm256_storeu_ps(x, _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), _mm256_loadu_ps(x)));
    }
    for (; i < n; i++) acc[i & 255] = fmaf(a[i], b[i], acc[i & 255]);
    return zf_avx2_l256_fold(acc, n < 256 ? n : 256, p);
}

/* L256(a, 1): fma(a_i, 1, acc) is exactly acc + a_i. */
static float sum_l256(const float *a, int64_t n, float *acc) {
    int64_t p = zf_avx2_l256_init(acc, n), i = 0;
    for (; i + 8 <= n; i += 8) {
        float *x = acc + (i & 255);
        _mm256_storeu_ps(x, _mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(a + i)));
    }
    for (; i < n; i++) acc[i & 255] = acc[i & 255] + a[i];
    return zf_avx2_l256_fold(acc, n < 256 ? n : 256, p);
}

void zf_avx2_attention(zf_dtype tq, const void *q, zf_dtype tkv, const void *k, int64_t k_stride, const void *v,
                       int64_t v_stride, int64_t len, int64_t d, float scale, void *out, float *scratch) {
    float lanes[256];
    float *qb = scratch, *rb = scratch + d, *s = scratch + 2 * d;
    size_t es = zf_dtype_size(tkv);
    const float *qf = zf_row_f32(tq, q, d, qb);
    float mx = -INFINITY;
    for (int64_t j = 0; j < len; j++) {
        const float *kf = zf_row_f32(tkv, (const char *)k + (size_t)(j * k_stride) * es, d, rb);
        s[j] = dot_l256(qf, kf, d, lanes) * scale;
        if (s[j] > mx) mx = s[j];
    }
    for (int64_t j = 0; j < len; j++) s[j] = zf_exp_scalar(s[j] - mx);
    float sum = sum_l256(s, len, lanes);
    float *acc = qb;
    int64_t c;
    for (c = 0; c < d; c++) acc[c] = 0.0f;
    for (int64_t j = 0; j < len; j++) {
        const float *vf = zf_row_f32(tkv, (const char *)v + (size_t)(j * v_stride) * es, d, rb);
        __m256 e = _mm256_set1_ps(s[j]);
        for (c = 0; c + 8 <= d; c += 8)
            _mm256_storeu_ps(acc + c, _mm256_fmadd_ps(e, _mm256_loadu_ps(vf + c), _mm256_loadu_ps(acc + c)));
        for (; c < d; c++) acc[c] = fmaf(s[j], vf[c], acc[c]);
    }
    for (c = 0; c < d; c++) zf_store(tq, out, c, acc[c] / sum);
}
