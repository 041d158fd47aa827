/* Edge-tier qmm kernel (fidelity FAST; docs/NUMERICS.md §8.7): each x row
 * is quantized to int8 per 32-element block (a_j = max|x| / 127, q = rint(x
 * / a_j)), the block dots with the 4- or 8-bit weight codes run in integers
 * (maddubs, exact), and one f32 scale s_g * a_j per block brings them back:
 *   y = Σ_j s_g(j) · a_j · Σ_i w_i q_i  +  Σ_g b_g · Σ_{i in g} x_i
 * Not the canonical dot: a different, approximate result. Other widths,
 * and rows longer than I8_MAX_BLOCKS blocks, run the exact kernel. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "cpu/qmm.h"
#include "cpu/simd_avx2.h"

#define I8_MAX_BLOCKS 512 /* k up to 16384 */
#define I8_AHEAD 1024     /* bytes of codes prefetched ahead (into the next rows: they are contiguous) */
#define INLINE ZF_AVX2_INLINE

/* One x row ready for the integer dots. 4-bit order: per pair of blocks
 * (j, j+1), [even elements of j | of j+1 | odd of j | of j+1], the order the
 * weights' low and high nibbles come in; 8-bit: element order. */
typedef struct xq8 {
    _Alignas(32) int8_t q[I8_MAX_BLOCKS * ZF_QBLOCK];
    float a[I8_MAX_BLOCKS];   /* x ≈ a_j * q */
    float sum[I8_MAX_BLOCKS]; /* Σ x over the block, f32 */
} xq8;

/* 32 int32 lanes (4 vectors) to 32 int8 in element order. */
INLINE __m256i pack32(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    __m256i p01 = _mm256_packs_epi32(v0, v1), p23 = _mm256_packs_epi32(v2, v3); /* lane-interleaved */
    __m256i b = _mm256_packs_epi16(p01, p23);
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static void quantize_x(const float *x, int64_t nb, int bits, xq8 *o) {
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
        __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        o->sum[j] = _mm_cvtss_f32(_mm_add_ss(s4, _mm_shuffle_ps(s4, s4, 1)));
        o->a[j] = amax / 127.0f;
        __m256 inv = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        __m256i qi[4];
        for (int r = 0; r < 4; r++) qi[r] = _mm256_cvtps_epi32(_mm256_mul_ps(v[r], inv)); /* rint: ties to even */
        __m256i q = pack32(qi[0], qi[1], qi[2], qi[3]);
        if (bits == 8) {
            _mm256_store_si256((__m256i *)(o->q + j * ZF_QBLOCK), q);
        } else { /* [evens | odds] of this block into its pair's slots */
            __m256i d = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(q, deint), _MM_SHUFFLE(3, 1, 2, 0));
            int8_t *pair = o->q + (j & ~(int64_t)1) * ZF_QBLOCK + (j & 1) * 16;
            _mm_storeu_si128((__m128i *)pair, _mm256_castsi256_si128(d));
            _mm_storeu_si128((__m128i *)(pair + 32), _mm256_extracti128_si256(d, 1));
        }
    }
}

INLINE float hsum(__m256 v) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

/* n scales (or biases) from p as f32: eight at a time, then one at a time. */
INLINE void load_groups(zf_dtype t, const void *p, int64_t n, float *out) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, zf_avx2_load(t, p, i));
    const uint16_t *h = p;
    for (; i < n; i++)
        out[i] = t == ZF_DTYPE_F32 ? ((const float *)p)[i]
               : t == ZF_DTYPE_F16 ? _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h[i])))
                                   : zf_cvt_bf16_f32(h[i]);
}

/* Σ_j sa_j (block dot j) for one 4-bit row; sa_j = s_g(j) a_j. */
static float dot4(const uint8_t *w, const xq8 *x, int64_t nb, const float *sa) {
    const __m256i m4 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 2 <= nb; j += 2) { /* two blocks: 32 bytes of codes */
        if (j % 4 == 0) _mm_prefetch((const char *)w + j * 16 + I8_AHEAD, _MM_HINT_T0);
        __m256i v = _mm256_loadu_si256((const __m256i *)(w + j * 16));
        const int8_t *xq = x->q + j * ZF_QBLOCK;
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_load_si256((const __m256i *)xq)),
                                     _mm256_maddubs_epi16(hi, _mm256_load_si256((const __m256i *)(xq + 32))));
        __m256 d = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones)); /* lanes 0-3: block j, 4-7: j+1 */
        __m256 sc = _mm256_set_m128(_mm_broadcast_ss(sa + j + 1), _mm_broadcast_ss(sa + j));
        acc = _mm256_fmadd_ps(d, sc, acc);
    }
    float tail = 0.0f;
    if (j < nb) { /* a last single block */
        __m128i v = _mm_loadu_si128((const __m128i *)(w + j * 16)), m = _mm_set1_epi8(15);
        const int8_t *xq = x->q + j * ZF_QBLOCK;
        __m128i lo = _mm_and_si128(v, m), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
        __m128i p = _mm_add_epi16(_mm_maddubs_epi16(lo, _mm_loadu_si128((const __m128i *)xq)),
                                  _mm_maddubs_epi16(hi, _mm_loadu_si128((const __m128i *)(xq + 32))));
        __m128 d = _mm_cvtepi32_ps(_mm_madd_epi16(p, _mm_set1_epi16(1)));
        d = _mm_add_ps(d, _mm_movehl_ps(d, d));
        tail = _mm_cvtss_f32(_mm_add_ss(d, _mm_shuffle_ps(d, d, 1))) * sa[j];
    }
    return hsum(acc) + tail;
}

/* The same for one 8-bit row: codes split into nibbles so maddubs' int16
 * pair sums cannot saturate (15 * 127 * 2 < 2^15). */
static float dot8(const uint8_t *w, const xq8 *x, int64_t nb, const float *sa) {
    const __m256i m4 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1), sixteen = _mm256_set1_epi16(16);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < nb; j++) {
        if (j % 2 == 0) _mm_prefetch((const char *)w + j * 32 + I8_AHEAD, _MM_HINT_T0);
        __m256i v = _mm256_loadu_si256((const __m256i *)(w + j * 32));
        __m256i xq = _mm256_load_si256((const __m256i *)(x->q + j * ZF_QBLOCK));
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        __m256i s = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(lo, xq), ones),
                                     _mm256_madd_epi16(_mm256_maddubs_epi16(hi, xq), sixteen));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_broadcast_ss(sa + j), acc);
    }
    return hsum(acc);
}

void zf_avx2_qdot_i8(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out) {
    int64_t nb = w->k / ZF_QBLOCK, ng = w->k / w->group_size;
    if ((w->bits != 4 && w->bits != 8) || nb > I8_MAX_BLOCKS) {
        zf_avx2_qdot(w, nx, xf, xs, out);
        return;
    }
    const int gshift = w->group_size == 32 ? 0 : w->group_size == 64 ? 1 : 2, bpg = 1 << gshift;
    const size_t ss = zf_dtype_size(w->sdt);
    xq8 x;
    float xg[I8_MAX_BLOCKS], sf[I8_MAX_BLOCKS], bf[I8_MAX_BLOCKS], sa[I8_MAX_BLOCKS];
    for (int i = 0; i < nx; i++) {
        quantize_x(xf[i], nb, w->bits, &x);
        for (int64_t g = 0; g < ng; g++) { /* Σ x per group, for the bias term */
            float s = 0.0f;
            for (int b = 0; b < bpg; b++) s += x.sum[g * bpg + b];
            xg[g] = s;
        }
        for (int64_t r = 0; r < w->rows; r++) {
            const uint8_t *p = (const uint8_t *)(w->packed + r * w->words);
            load_groups(w->sdt, (const char *)w->scales + (size_t)(r * w->groups) * ss, ng, sf);
            load_groups(w->sdt, (const char *)w->biases + (size_t)(r * w->groups) * ss, ng, bf);
            int64_t j = 0;
            if (gshift == 0) /* a scale per block: eight products at once */
                for (; j + 8 <= nb; j += 8)
                    _mm256_storeu_ps(sa + j, _mm256_mul_ps(_mm256_loadu_ps(sf + j), _mm256_loadu_ps(x.a + j)));
            for (; j < nb; j++) sa[j] = sf[j >> gshift] * x.a[j];
            float y = w->bits == 4 ? dot4(p, &x, nb, sa) : dot8(p, &x, nb, sa);
            __m256 bacc = _mm256_setzero_ps();
            int64_t g = 0;
            for (; g + 8 <= ng; g += 8)
                bacc = _mm256_fmadd_ps(_mm256_loadu_ps(bf + g), _mm256_loadu_ps(xg + g), bacc);
            float bias = hsum(bacc);
            for (; g < ng; g++) bias += bf[g] * xg[g];
            out[i * w->rows + r] = y + bias;
        }
    }
}
