/* AVX2 + FMA canonical-dot kernel (docs/NUMERICS-quant.md §2): the same
 * operations as zf_scalar_qdot, eight lanes at once. A vector r of a block
 * holds elements 8r .. 8r+7, unpacked with one broadcast, a variable shift
 * and a mask; the eight column accumulators stay in registers. */
#include <immintrin.h>
#include <string.h>

#include "core/dtype.h"
#include "cpu/qmm.h"

#define SEG 64 /* blocks per segment whose scales are converted up front */

static inline __attribute__((always_inline)) uint32_t ld32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline __attribute__((always_inline)) uint64_t ld64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* q as f32 for elements 8r .. 8r+7 of the block at b (may read up to 3 bytes
 * past a 3/5/6-bit block; the caller pads the last block of a row). */
static inline __attribute__((always_inline)) __m256 unpack(const uint8_t *b, int r, const int bits) {
    __m256i v, sh;
    switch (bits) {
    case 2:
        v = _mm256_set1_epi32((int)ld32(b + 2 * r));
        sh = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
        break;
    case 3:
        v = _mm256_set1_epi32((int)ld32(b + 3 * r));
        sh = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
        break;
    case 4:
        v = _mm256_set1_epi32((int)ld32(b + 4 * r));
        sh = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
        break;
    case 5: { /* 40 bits: lanes 0-5 from the low word, 6-7 from the word 8 bits up */
        uint64_t u = ld64(b + 5 * r);
        v = _mm256_blend_epi32(_mm256_set1_epi32((int)(uint32_t)u), _mm256_set1_epi32((int)(uint32_t)(u >> 8)), 0xC0);
        sh = _mm256_setr_epi32(0, 5, 10, 15, 20, 25, 22, 27);
        break;
    }
    case 6: { /* 48 bits: lanes 0-4 from the low word, 5-7 from the word 16 bits up */
        uint64_t u = ld64(b + 6 * r);
        v = _mm256_blend_epi32(_mm256_set1_epi32((int)(uint32_t)u), _mm256_set1_epi32((int)(uint32_t)(u >> 16)), 0xE0);
        sh = _mm256_setr_epi32(0, 6, 12, 18, 24, 14, 20, 26);
        break;
    }
    default: /* 8 */
        return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(b + 8 * r))));
    }
    v = _mm256_and_si256(_mm256_srlv_epi32(v, sh), _mm256_set1_epi32((1 << bits) - 1));
    return _mm256_cvtepi32_ps(v);
}

/* lanes tree (l, l+4), (l, l+2), (l, l+1) */
static inline float hsum_tree(__m256 a) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
    __m128 v = _mm_add_ss(u, _mm_shuffle_ps(u, u, 1));
    return _mm_cvtss_f32(v);
}

static inline __attribute__((always_inline)) float dot_row(const zf_qrows *w, int64_t row, const float *xf,
                                                           const float *xs, const int bits) {
    const uint8_t *p = (const uint8_t *)(w->packed + row * w->words);
    const int bpg = w->group_size / ZF_QBLOCK, bb = 4 * bits; /* bytes per block */
    const int64_t nb = w->k / ZF_QBLOCK, g0 = row * w->groups;
    __m256 acc[ZF_QCOLS];
    for (int c = 0; c < ZF_QCOLS; c++) acc[c] = _mm256_setzero_ps();
    float sf[SEG], bf[SEG];
    uint8_t pad[64];
    for (int64_t j0 = 0; j0 < nb; j0 += SEG) {
        int64_t seg = nb - j0 < SEG ? nb - j0 : SEG;
        for (int64_t g = j0 / bpg; g < (j0 + seg) / bpg; g++) {
            sf[g - j0 / bpg] = zf_load(w->sdt, w->scales, g0 + g);
            bf[g - j0 / bpg] = zf_load(w->sdt, w->biases, g0 + g);
        }
        for (int64_t j8 = 0; j8 < seg; j8 += ZF_QCOLS) {
#pragma GCC unroll 8
            for (int c = 0; c < ZF_QCOLS; c++) {
                int64_t j = j0 + j8 + c;
                if (j8 + c >= seg) break;
                const uint8_t *b = p + j * bb;
                if ((bits == 3 || bits == 5 || bits == 6) && j == nb - 1) { /* no read past the row */
                    memset(pad, 0, sizeof pad);
                    memcpy(pad, b, (size_t)bb);
                    b = pad;
                }
                const float *x = xf + j * ZF_QBLOCK;
                __m256 d = _mm256_mul_ps(_mm256_loadu_ps(x), unpack(b, 0, bits));
                d = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), unpack(b, 1, bits), d);
                d = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), unpack(b, 2, bits), d);
                d = _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), unpack(b, 3, bits), d);
                int64_t gi = (j8 + c) / bpg;
                acc[c] = _mm256_fmadd_ps(_mm256_broadcast_ss(&sf[gi]), d, acc[c]);
                acc[c] = _mm256_fmadd_ps(_mm256_broadcast_ss(&bf[gi]), _mm256_loadu_ps(xs + j * ZF_QLANES), acc[c]);
            }
        }
    }
    float col[ZF_QCOLS];
    for (int c = 0; c < ZF_QCOLS; c++) col[c] = hsum_tree(acc[c]);
    return ((col[0] + col[4]) + (col[2] + col[6])) + ((col[1] + col[5]) + (col[3] + col[7]));
}

#define DOT_BITS(B)                                                                                       \
    static void dot_##B(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out) { \
        for (int64_t r = 0; r < w->rows; r++)                                                            \
            for (int i = 0; i < nx; i++) out[i * w->rows + r] = dot_row(w, r, xf[i], xs[i], B);          \
    }
DOT_BITS(2)
DOT_BITS(3)
DOT_BITS(4)
DOT_BITS(5)
DOT_BITS(6)
DOT_BITS(8)

void zf_avx2_qdot(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out) {
    switch (w->bits) {
    case 2: dot_2(w, nx, xf, xs, out); break;
    case 3: dot_3(w, nx, xf, xs, out); break;
    case 4: dot_4(w, nx, xf, xs, out); break;
    case 5: dot_5(w, nx, xf, xs, out); break;
    case 6: dot_6(w, nx, xf, xs, out); break;
    default: dot_8(w, nx, xf, xs, out); break;
    }
}
