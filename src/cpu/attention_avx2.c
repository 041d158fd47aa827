/* AVX2 attention kernel: the same operations as zf_scalar_attention, 8 lanes
 * at a time (the L256 lanes and the output columns), so the same bits. */
#include <immintrin.h>
#include <math.h>

#include "core/dtype.h"
#include "core/zmath.h"
#include "cpu/model_ops.h"

/* Lanes [0, p) for m written lanes: p = next power of two >= m, at least 8,
 * zeroed so the tree's partners beyond m are real +0 lanes. */
static int64_t lanes_init(float *acc, int64_t n) {
    int64_t m = n < 256 ? n : 256, p = 8;
    while (p < m) p <<= 1;
    __m256 z = _mm256_setzero_ps();
    for (int64_t l = 0; l < p; l += 8) _mm256_storeu_ps(acc + l, z);
    return p;
}

/* The L256 tree over acc[0, p); m = min(n, 256) written lanes. */
static float fold_l256(float *acc, int64_t m, int64_t p) {
    __m256 z = _mm256_setzero_ps();
    if (m <= 128) /* the scalar fold's one-time +0 (turns -0 into +0) */
        for (int64_t l = 0; l < p; l += 8) _mm256_storeu_ps(acc + l, _mm256_add_ps(_mm256_loadu_ps(acc + l), z));
    for (int64_t s = p / 2; s >= 8; s >>= 1)
        for (int64_t l = 0; l < s; l += 8)
            _mm256_storeu_ps(acc + l, _mm256_add_ps(_mm256_loadu_ps(acc + l), _mm256_loadu_ps(acc + l + s)));
    __m256 v = _mm256_loadu_ps(acc);
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); /* s = 4 */
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));                                       /* s = 2 */
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));                                   /* s = 1 */
    return _mm_cvtss_f32(x);
}

static float dot_l256(const float *a, const float *b, int64_t n, float *acc) {
    int64_t p = lanes_init(acc, n), i = 0;
    for (; i + 8 <= n; i += 8) {
        float *x = acc + (i & 255);
        _mm256_storeu_ps(x, _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), _mm256_loadu_ps(x)));
    }
    for (; i < n; i++) acc[i & 255] = fmaf(a[i], b[i], acc[i & 255]);
    return fold_l256(acc, n < 256 ? n : 256, p);
}

/* L256(a, 1): fma(a_i, 1, acc) is exactly acc + a_i. */
static float sum_l256(const float *a, int64_t n, float *acc) {
    int64_t p = lanes_init(acc, n), i = 0;
    for (; i + 8 <= n; i += 8) {
        float *x = acc + (i & 255);
        _mm256_storeu_ps(x, _mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(a + i)));
    }
    for (; i < n; i++) acc[i & 255] = acc[i & 255] + a[i];
    return fold_l256(acc, n < 256 ? n : 256, p);
}

static const float *row_f32(zf_dtype t, const void *p, int64_t d, float *buf) {
    if (t == ZF_DTYPE_F32) return p;
    for (int64_t c = 0; c < d; c++) buf[c] = zf_load(t, p, c);
    return buf;
}

void zf_avx2_attention(zf_dtype tq, const void *q, zf_dtype tkv, const void *k, int64_t k_stride, const void *v,
                       int64_t v_stride, int64_t len, int64_t d, float scale, void *out, float *scratch) {
    float lanes[256];
    float *qb = scratch, *rb = scratch + d, *s = scratch + 2 * d;
    size_t es = zf_dtype_size(tkv);
    const float *qf = row_f32(tq, q, d, qb);
    float mx = -INFINITY;
    for (int64_t j = 0; j < len; j++) {
        const float *kf = row_f32(tkv, (const char *)k + (size_t)(j * k_stride) * es, d, rb);
        s[j] = dot_l256(qf, kf, d, lanes) * scale;
        if (s[j] > mx) mx = s[j];
    }
    for (int64_t j = 0; j < len; j++) s[j] = zf_exp_scalar(s[j] - mx);
    float sum = sum_l256(s, len, lanes);
    float *acc = qb;
    int64_t c;
    for (c = 0; c < d; c++) acc[c] = 0.0f;
    for (int64_t j = 0; j < len; j++) {
        const float *vf = row_f32(tkv, (const char *)v + (size_t)(j * v_stride) * es, d, rb);
        __m256 e = _mm256_set1_ps(s[j]);
        for (c = 0; c + 8 <= d; c += 8)
            _mm256_storeu_ps(acc + c, _mm256_fmadd_ps(e, _mm256_loadu_ps(vf + c), _mm256_loadu_ps(acc + c)));
        for (; c < d; c++) acc[c] = fmaf(s[j], vf[c], acc[c]);
    }
    for (c = 0; c < d; c++) zf_store(tq, out, c, acc[c] / sum);
}
