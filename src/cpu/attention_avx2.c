/* AVX2 attention kernel: the same operations as zf_scalar_attention, 8 lanes
 * at a time (the L256 lanes and the output columns), so the same bits. For
 * head sizes that are a multiple of 8 up to 128 (64 and 128 in the
 * supported families), a key's dot keeps its L256 lanes in registers and
 * 64 output columns stay in registers over all keys; the exps run 8 lanes
 * at a time. */
#include <immintrin.h>
#include <math.h>

#include "core/dtype.h"
#include "core/zmath.h"
#include "cpu/l256_avx2.h"
#include "cpu/model_ops.h"
#include "cpu/simd_avx2.h"

#define ATTN_REG_D 128 /* largest head size whose L256 lanes fit 16 registers */

/* A K or V row as f32: f32 rows as they are, 16-bit rows widened 8 at a
 * time into buf (exact conversions, so the scalar kernel's values; the
 * element-wise zf_row_f32 made a 16-bit cache ~2x slower than f32 at
 * SmolLM2 decode). */
static inline __attribute__((always_inline)) const float *row_f32(zf_dtype t, const void *p, int64_t n, float *buf) {
    if (t == ZF_DTYPE_F32) return (const float *)p;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(buf + i, zf_avx2_load(t, p, i));
    for (; i < n; i++) buf[i] = zf_load(t, p, i);
    return buf;
}

static float dot_l256(const float *a, const float *b, int64_t n, float *acc) {
    int64_t p = zf_avx2_l256_init(acc, n), i = 0;
    for (; i + 8 <= n; i += 8) {
        float *x = acc + (i & 255);
        _mm256_storeu_ps(x, _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), _mm256_loadu_ps(x)));
    }
    for (; i < n; i++) acc[i & 255] = fmaf(a[i], b[i], acc[i & 255]);
    return zf_avx2_l256_fold(acc, n < 256 ? n : 256, p);
}

/* L256(a·b) for n <= ATTN_REG_D, n a multiple of 8, with lane vector i
 * (elements 8i .. 8i+7) in a register: the steps of zf_avx2_l256_init and
 * _fold with pv = p / 8 lane vectors (a constant after inlining). */
static inline __attribute__((always_inline)) float dot_regs(const float *a, const float *b, int64_t nv, const int pv) {
    __m256 v[ATTN_REG_D / 8], z = _mm256_setzero_ps();
    for (int i = 0; i < pv; i++) v[i] = i < nv ? _mm256_fmadd_ps(_mm256_loadu_ps(a + 8 * i), _mm256_loadu_ps(b + 8 * i), z) : z;
    for (int i = 0; i < pv; i++) v[i] = _mm256_add_ps(v[i], z); /* the fold's +0 for rows <= 128 */
    for (int s = pv / 2; s >= 1; s >>= 1)
        for (int l = 0; l < s; l++) v[l] = _mm256_add_ps(v[l], v[l + s]);
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v[0]), _mm256_extractf128_ps(v[0], 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
}

/* The same as dot_l256 for the register case (n a multiple of 8, <= 128). */
static float dot_small(const float *a, const float *b, int64_t n) {
    int64_t nv = n / 8;
    switch (nv) { /* head sizes of a power of two: every count a constant */
    case 8: return dot_regs(a, b, 8, 8);
    case 16: return dot_regs(a, b, 16, 16);
    case 4: return dot_regs(a, b, 4, 4);
    default: break;
    }
    switch (nv <= 1 ? 1 : nv <= 2 ? 2 : nv <= 4 ? 4 : nv <= 8 ? 8 : 16) {
    case 1: return dot_regs(a, b, nv, 1);
    case 2: return dot_regs(a, b, nv, 2);
    case 4: return dot_regs(a, b, nv, 4);
    case 8: return dot_regs(a, b, nv, 8);
    default: return dot_regs(a, b, nv, 16);
    }
}

/* acc[c] = fma(s_j, v_jc, acc[c]) over keys j ascending for 8 * nv <= 64
 * columns starting at c0, the accumulators in registers (nv a constant
 * after inlining, so no per-key tests). */
static inline __attribute__((always_inline)) void pv_regs_n(const float *s, zf_dtype tkv, const void *v,
                                                            int64_t v_stride, int64_t len, int64_t c0,
                                                            const int64_t nv, float *acc, float *rb) {
    size_t es = zf_dtype_size(tkv);
    __m256 a[8];
    for (int i = 0; i < 8; i++) a[i] = _mm256_setzero_ps();
    for (int64_t j = 0; j < len; j++) {
        const float *vf = row_f32(tkv, (const char *)v + (size_t)(j * v_stride + c0) * es, 8 * nv, rb);
        __m256 e = _mm256_set1_ps(s[j]);
        for (int i = 0; i < 8; i++)
            if (i < nv) a[i] = _mm256_fmadd_ps(e, _mm256_loadu_ps(vf + 8 * i), a[i]);
    }
    for (int i = 0; i < nv; i++) _mm256_storeu_ps(acc + c0 + 8 * i, a[i]);
}

static void pv_regs(const float *s, zf_dtype tkv, const void *v, int64_t v_stride, int64_t len, int64_t c0,
                    int64_t nv, float *acc, float *rb) {
    if (nv == 8) pv_regs_n(s, tkv, v, v_stride, len, c0, 8, acc, rb); /* 64 columns: head sizes 64, 128 */
    else pv_regs_n(s, tkv, v, v_stride, len, c0, nv, acc, rb);
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

float zf_avx2_attn_exp_sum(float *s, int64_t len, float mx) {
    float lanes[256];
    int64_t j = 0;
    for (__m256 m = _mm256_set1_ps(mx); j + 8 <= len; j += 8) { /* the bits of zf_exp_scalar */
        __m256 x = _mm256_sub_ps(_mm256_loadu_ps(s + j), m), y;
        zf_avx2_exp_sign_n(&x, &y, 1, 0);
        _mm256_storeu_ps(s + j, y);
    }
    for (; j < len; j++) s[j] = zf_exp_scalar(s[j] - mx);
    return sum_l256(s, len, lanes);
}

static void head(zf_dtype tq, const void *q, zf_dtype tkv, const void *k, int64_t k_stride, const void *v,
                 int64_t v_stride, int64_t len, int64_t d, float scale, void *out, float *scratch) {
    float lanes[256];
    float *qb = scratch, *rb = scratch + d, *s = scratch + 2 * d;
    size_t es = zf_dtype_size(tkv);
    const float *qf = zf_row_f32(tq, q, d, qb);
    const int regs = d % 8 == 0 && d <= ATTN_REG_D;
    float mx = -INFINITY;
    for (int64_t j = 0; j < len; j++) {
        const float *kf = row_f32(tkv, (const char *)k + (size_t)(j * k_stride) * es, d, rb);
        s[j] = (regs ? dot_small(qf, kf, d) : dot_l256(qf, kf, d, lanes)) * scale;
        if (s[j] > mx) mx = s[j];
    }
    const float sum = zf_avx2_attn_exp_sum(s, len, mx);
    float *acc = qb;
    int64_t c, j;
    if (regs) {
        for (c = 0; c < d; c += 64) pv_regs(s, tkv, v, v_stride, len, c, (d - c < 64 ? d - c : 64) / 8, acc, rb);
    } else {
        for (c = 0; c < d; c++) acc[c] = 0.0f;
        for (j = 0; j < len; j++) {
            const float *vf = row_f32(tkv, (const char *)v + (size_t)(j * v_stride) * es, d, rb);
            __m256 e = _mm256_set1_ps(s[j]);
            for (c = 0; c + 8 <= d; c += 8)
                _mm256_storeu_ps(acc + c, _mm256_fmadd_ps(e, _mm256_loadu_ps(vf + c), _mm256_loadu_ps(acc + c)));
            for (; c < d; c++) acc[c] = fmaf(s[j], vf[c], acc[c]);
        }
    }
    /* out = T(acc / S): IEEE division lane by lane, 8 at a time, then the scalar tail */
    const __m256 S = _mm256_set1_ps(sum);
    for (c = 0; c + 8 <= d; c += 8) zf_avx2_store(tq, out, c, _mm256_div_ps(_mm256_loadu_ps(acc + c), S));
    for (; c < d; c++) zf_store(tq, out, c, acc[c] / sum);
}

void zf_avx2_attention(zf_dtype tq, const void *q, int64_t q_hs, int nh, zf_dtype tkv, const void *k,
                       int64_t k_stride, const void *v, int64_t v_stride, int64_t len, int64_t d, float scale,
                       void *out, int64_t o_hs, float *scratch) {
    zf_attention_each_head(head, tq, q, q_hs, nh, tkv, k, k_stride, v, v_stride, len, d, scale, out, o_hs, scratch);
}
