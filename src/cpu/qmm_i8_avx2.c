/* Edge-tier int8 kernel (fidelity approx; docs/NUMERICS.md §8.7) of qmm,
 * gather_qmm and the fused MoE ops: each x row is quantized to int8 per
 * 32-element block (a_j = max|x| / 127, q = rint(x / a_j)), the block
 * dots with the 4- or 8-bit weight codes run in integers (maddubs, exact),
 * and f32 brings them back per block:
 *   y = Σ_j (S_j · a_j) · s_g(j)  +  Σ_j b_g(j) · X_j        (X_j = Σ x over block j)
 * Not the canonical dot: a different, approximate result. Other widths,
 * and rows longer than I8_MAX_BLOCKS blocks, run the exact kernel.
 *
 * A row is walked 8 blocks at a time: the 8 integer block dots are reduced
 * to one vector of 8 int32 (horizontal adds), converted once, and scaled by
 * vectors of 8 per-block a_j, scales and biases, so the per-block work is
 * the integer dot alone. Rows of whole stretches keep an accumulator each
 * and are summed 8 at a time (dot_rows_whole; two x rows share one pass
 * over 4-bit codes); other rows are walked as one stream of blocks
 * (dot_rows_joined), so a row whose length is not a multiple of 8 blocks
 * wastes no lanes. The engine prepares each x row once per call
 * (zf_avx2_qx_i8_prepare, here: the x layout of every int8 walk);
 * zf_avx2_qdot_i8 prepares its own. The walk itself is qmm_i8_walk.h; this
 * file gives it the AVX2 block dots (maddubs on 256-bit vectors). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "cpu/qmm_i8.h"

/* 32 int32 lanes (4 vectors) to 32 int8 in element order. */
INLINE __m256i pack32(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    __m256i p01 = _mm256_packs_epi32(v0, v1), p23 = _mm256_packs_epi32(v2, v3); /* lane-interleaved */
    __m256i b = _mm256_packs_epi16(p01, p23);
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}


static void quantize_x(const float *x, int64_t nb, int bits, const xq8 *o) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    /* even elements to the low 8 bytes of each 16-byte lane, odd to the high 8 */
    const __m256i deint = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10,
                                           12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    for (int64_t j = 0; j < nb; j++) {
        const float *b = x + j * ZF_QBLOCK;
        __m256 v[4], mx = _mm256_setzero_ps(), s = _mm256_setzero_ps();
        for (int r = 0; r < 4; r++) {
            v[r] = _mm256_loadu_ps(b + 8 * r);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[r]));
            s = _mm256_add_ps(s, v[r]);
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1)));
        o->sum[j] = hsum(s);
        o->a[j] = amax / 127.0f;
        __m256 inv = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        __m256i qi[4];
        for (int r = 0; r < 4; r++) qi[r] = _mm256_cvtps_epi32(_mm256_mul_ps(v[r], inv)); /* rint: ties to even */
        __m256i q = pack32(qi[0], qi[1], qi[2], qi[3]);
        if (bits == 8) {
            _mm256_store_si256((__m256i *)(o->q + j * ZF_QBLOCK), q);
            __m256i s32 = _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3]));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
            o->qsum[j] = 128 * _mm_cvtsi128_si32(s4);
        } else { /* [evens | odds] of this block into its pair's slots */
            __m256i d = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(q, deint), _MM_SHUFFLE(3, 1, 2, 0));
            int8_t *pair = o->q + (j & ~(int64_t)1) * ZF_QBLOCK + (j & 1) * 16;
            _mm_storeu_si128((__m128i *)pair, _mm256_castsi256_si128(d));
            _mm_storeu_si128((__m128i *)(pair + 32), _mm256_extracti128_si256(d, 1));
        }
    }
}

/* Blocks nb .. nb+7 of x = blocks 0 .. 7 (nb >= 8; 4-bit: nb even, so the
 * pairs of the layout line up), for stretches that run into the next row. */
static void wrap_x(const xq8 *o, int64_t nb) {
    memcpy(o->q + nb * ZF_QBLOCK, o->q, I8_STRETCH * ZF_QBLOCK);
    memcpy(o->a + nb, o->a, I8_STRETCH * sizeof *o->a);
    memcpy(o->sum + nb, o->sum, I8_STRETCH * sizeof *o->sum);
    memcpy(o->qsum + nb, o->qsum, I8_STRETCH * sizeof *o->qsum);
}


static void prepare(const float *xf, int64_t nb, int bits, const xq8 *x) {
    quantize_x(xf, nb, bits, x);
    if (i8_joined(bits, nb)) wrap_x(x, nb);
}

size_t zf_avx2_qx_i8_size(int64_t k) { return (size_t)XQ8_BYTES(k / ZF_QBLOCK); }

int zf_avx2_qx_i8_prepare(const float *xf, int64_t k, int bits, void *out) {
    if (!i8_takes(bits, k)) return 0;
    const xq8 x = xq8_at(out, k / ZF_QBLOCK);
    prepare(xf, k / ZF_QBLOCK, bits, &x);
    return 1;
}

/* The 8 int32 block dots of a 4-bit stretch from its four vectors of int16
 * pair sums: two more pairwise sums (|.| <= 4 * 15 * 127 each, so they stay
 * below 2^15), then one to int32; per 128-bit lane blocks [0 2 4 6] low,
 * [1 3 5 7] high, put in block order. */
INLINE __m256i reduce4(const __m256i *v) {
    __m256i h = _mm256_hadd_epi16(_mm256_hadd_epi16(v[0], v[1]), _mm256_hadd_epi16(v[2], v[3]));
    h = _mm256_madd_epi16(h, _mm256_set1_epi16(1));
    return _mm256_permutevar8x32_epi32(h, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Codes 32i .. 32i+31 of a 4-bit stretch against x's pair-ordered codes:
 * blocks 2i (low 128 bits) and 2i+1 (high), 8 int16 pair sums each. */
INLINE __m256i pairs4(__m256i lo, __m256i hi, const int8_t *xq, int i) {
    return _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_load_si256((const __m256i *)(xq + 64 * i))),
                            _mm256_maddubs_epi16(hi, _mm256_load_si256((const __m256i *)(xq + 64 * i + 32))));
}

/* The 8 integer block dots of one 4-bit stretch (128 bytes of codes), in
 * block order; stretch4_x2 gives two x rows' from one pass over the codes
 * (the same operations for each, so the same values). */
INLINE __m256i stretch4(const uint8_t *w, const int8_t *xq) {
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256i v[4];
    for (int i = 0; i < 4; i++) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(w + 32 * i));
        v[i] = pairs4(_mm256_and_si256(c, m4), _mm256_and_si256(_mm256_srli_epi16(c, 4), m4), xq, i);
    }
    return reduce4(v);
}
INLINE void stretch4_x2(const uint8_t *w, const int8_t *xq0, const int8_t *xq1, __m256i *d0, __m256i *d1) {
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256i v0[4], v1[4];
    for (int i = 0; i < 4; i++) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(w + 32 * i));
        __m256i lo = _mm256_and_si256(c, m4), hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), m4);
        v0[i] = pairs4(lo, hi, xq0, i);
        v1[i] = pairs4(lo, hi, xq1, i);
    }
    *d0 = reduce4(v0);
    *d1 = reduce4(v1);
}


#define ZF_I8(name) zf_avx2_##name
#define ZF_I8_CANON zf_avx2_qdot
#include "cpu/qmm_i8_walk.h"
