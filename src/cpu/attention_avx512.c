/* AVX-512 attention kernel: the q heads of one kv head in one pass over its
 * keys, so each K and V row is loaded once for all of them, and the L256
 * lanes 16 per register. The operations per head are those of
 * zf_scalar_attention (docs/NUMERICS.md §9.4), so the same bits:
 *   - a dot's lanes l < d hold fma(q_l, k_l, +0), the rest +0; the tree of
 *     docs/NUMERICS.md §4 (one +0 when d <= 128, then lane l += lane l + s
 *     for s = p/2 .. 1, p the power of two >= d) runs s >= 16 across
 *     registers and s = 8 .. 1 inside the first, as zf_avx2_l256_fold does;
 *   - exp and the sum of the scores by zf_avx2_attn_exp_sum;
 *   - each output column's fma chain over the keys in order, then the IEEE
 *     division, 16 columns per register.
 * One head alone (nothing to share; measured faster on AVX2: SmolLM2 shape,
 * two threads, 7.3-7.5 against 8.4-11.0 us a call) and head sizes that are
 * not a multiple of 16 or exceed 256 take the AVX2 kernel. */
#include <immintrin.h>
#include <math.h>

#include "core/dtype.h"
#include "cpu/model_ops.h"
#include "cpu/simd_avx512.h"

#define A512_MAX_D 256 /* 16 registers of lanes */

/* L256(q, k) with k's nz (<= 16) registers of lanes in kr and q in memory;
 * pw: the power of two >= nz; plus0: d <= 128. Constants after inlining. */
ZF_AVX512_INLINE float dot16(const float *q, const __m512 *kr, const int nz, const int pw, const int plus0) {
    const __m512 z = _mm512_setzero_ps();
    __m512 w[A512_MAX_D / 16];
    for (int i = 0; i < pw; i++) w[i] = i < nz ? _mm512_fmadd_ps(_mm512_loadu_ps(q + 16 * i), kr[i], z) : z;
    if (plus0)
        for (int i = 0; i < pw; i++) w[i] = _mm512_add_ps(w[i], z);
    for (int s = pw / 2; s >= 1; s >>= 1)
        for (int l = 0; l < s; l++) w[l] = _mm512_add_ps(w[l], w[l + s]);
    const __m256 v = _mm256_add_ps(_mm512_castps512_ps256(w[0]), _mm512_extractf32x8_ps(w[0], 1)); /* s = 8 */
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));                  /* s = 4 */
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));                                                        /* s = 2 */
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));                                                    /* s = 1 */
    return _mm_cvtss_f32(x);
}

/* The scores of nh heads (q rows qf + h*d in f32) over the keys, row by row:
 * s[h*len + j] = dot * scale; mx[h] their maxima. */
ZF_AVX512_INLINE void scores(const float *qf, int nh, zf_dtype tkv, const void *k, int64_t k_stride, int64_t len,
                             const int nz, const int pw, const int plus0, int64_t d, float scale, float *s,
                             float *mx) {
    const size_t es = zf_dtype_size(tkv);
    for (int h = 0; h < nh; h++) mx[h] = -INFINITY;
    for (int64_t j = 0; j < len; j++) {
        const char *row = (const char *)k + (size_t)(j * k_stride) * es;
        __m512 kr[A512_MAX_D / 16];
        for (int i = 0; i < nz; i++) kr[i] = zf_avx512_load(tkv, row, 16 * i);
        for (int h = 0; h < nh; h++) {
            const float sc = dot16(qf + h * d, kr, nz, pw, plus0) * scale;
            s[h * len + j] = sc;
            if (sc > mx[h]) mx[h] = sc;
        }
    }
}

/* out_h[c] = T(Σ_j fma(e_hj, v_jc) / sum_h) for NH heads and CZ registers of
 * columns at a time (NH * CZ accumulators), columns c0 .. d. */
ZF_AVX512_INLINE void weighted(const int NH, const int CZ, const float *s, int64_t len, const float *sum,
                               zf_dtype tkv, const void *v, int64_t v_stride, int64_t d, zf_dtype tq, void *out,
                               int64_t o_hs) {
    const size_t es = zf_dtype_size(tkv), eq = zf_dtype_size(tq);
    for (int64_t c0 = 0; c0 < d; c0 += 16 * CZ) {
        __m512 acc[ZF_ATTN_MAX_GROUP][4];
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < CZ; i++) acc[h][i] = _mm512_setzero_ps();
        for (int64_t j = 0; j < len; j++) {
            const char *row = (const char *)v + (size_t)(j * v_stride) * es;
            __m512 vr[4];
            for (int i = 0; i < CZ; i++) vr[i] = zf_avx512_load(tkv, row, c0 + 16 * i);
            for (int h = 0; h < NH; h++) {
                const __m512 e = _mm512_set1_ps(s[h * len + j]);
                for (int i = 0; i < CZ; i++) acc[h][i] = _mm512_fmadd_ps(e, vr[i], acc[h][i]);
            }
        }
        for (int h = 0; h < NH; h++) {
            const __m512 S = _mm512_set1_ps(sum[h]);
            for (int i = 0; i < CZ; i++)
                zf_avx512_store(tq, (char *)out + (size_t)(h * o_hs) * eq, c0 + 16 * i, _mm512_div_ps(acc[h][i], S));
        }
    }
}

/* weighted() with NH and CZ as constants: CZ the most column registers
 * (4, 2 or 1) that divide d/16 and keep NH * CZ <= 24 accumulators. */
static void weighted_any(int nh, const float *s, int64_t len, const float *sum, zf_dtype tkv, const void *v,
                         int64_t v_stride, int64_t d, zf_dtype tq, void *out, int64_t o_hs) {
    const int64_t nz = d / 16;
    const int cz = nz % 4 == 0 && nh * 4 <= 24 ? 4 : nz % 2 == 0 && nh * 2 <= 24 ? 2 : 1;
#define W(NH)                                                                                             \
    case NH:                                                                                              \
        if (cz == 4) weighted(NH, 4, s, len, sum, tkv, v, v_stride, d, tq, out, o_hs);                    \
        else if (cz == 2) weighted(NH, 2, s, len, sum, tkv, v, v_stride, d, tq, out, o_hs);               \
        else weighted(NH, 1, s, len, sum, tkv, v, v_stride, d, tq, out, o_hs);                            \
        return;
    switch (nh) {
        W(1) W(2) W(3) W(4) W(5) W(6) W(7) W(8)
    default: return;
    }
#undef W
}

void zf_avx512_attention(zf_dtype tq, const void *q, int64_t q_hs, int nh, zf_dtype tkv, const void *k,
                         int64_t k_stride, const void *v, int64_t v_stride, int64_t len, int64_t d, float scale,
                         void *out, int64_t o_hs, float *scratch) {
    if (nh < 2 || nh > ZF_ATTN_MAX_GROUP || d % 16 || d > A512_MAX_D) {
        zf_avx2_attention(tq, q, q_hs, nh, tkv, k, k_stride, v, v_stride, len, d, scale, out, o_hs, scratch);
        return;
    }
    float *qf = scratch, *s = scratch + nh * d, mx[ZF_ATTN_MAX_GROUP], sum[ZF_ATTN_MAX_GROUP];
    const size_t eq = zf_dtype_size(tq);
    for (int h = 0; h < nh; h++)
        for (int64_t c = 0; c < d; c += 16)
            _mm512_storeu_ps(qf + h * d + c, zf_avx512_load(tq, (const char *)q + (size_t)(h * q_hs) * eq, c));
    const int nz = (int)(d / 16), plus0 = d <= 128;
    switch (nz) { /* the head sizes of the supported families as constants */
    case 4: scores(qf, nh, tkv, k, k_stride, len, 4, 4, 1, d, scale, s, mx); break;
    case 8: scores(qf, nh, tkv, k, k_stride, len, 8, 8, 1, d, scale, s, mx); break;
    default: {
        int pw = 1;
        while (pw < nz) pw <<= 1;
        scores(qf, nh, tkv, k, k_stride, len, nz, pw, plus0, d, scale, s, mx);
    }
    }
    for (int h = 0; h < nh; h++) sum[h] = zf_avx2_attn_exp_sum(s + h * len, len, mx[h]);
    weighted_any(nh, s, len, sum, tkv, v, v_stride, d, tq, out, o_hs);
}
