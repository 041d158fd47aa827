/* AVX-512 canonical-dot kernel (docs/NUMERICS.md §8.2): the tiles of
 * qmm_avx2.c with two columns per zmm. Columns c and c+1 (c even) run in
 * the low and high eight lanes, so one pass takes blocks j and j+1 (j = c,
 * c+8, ...) together; a lane performs exactly the scalar kernel's operations
 * for its column. When a column has one block more than its neighbour (the
 * last pass of a segment), the high half is masked and keeps its value.
 * Rows of other than whole 16-block runs go to the AVX2 kernel, which is
 * faster there (zf_avx512_qdot). Only AVX-512 F/BW/VL instructions (the ISA
 * level's requirement). */
#include <immintrin.h>
#include <string.h>

#include "core/dtype.h"
#include "cpu/qmm.h"
#include "cpu/qunpack_avx2.h"

#define SEG 128 /* blocks per segment whose scales are converted up front (a multiple of 8) */

#define INLINE static inline __attribute__((always_inline))

/* q as f32 for elements 8r .. 8r+7 of block `lo` (low lanes) and of block
 * `hi` (high lanes). */
INLINE __m512 unpack2(const uint8_t *lo, const uint8_t *hi, int r, const int bits) {
    __m512i v;
    if (bits == 4) { /* word r of each block: both blocks' words in one register, one permute */
        __m512i w = _mm512_castsi256_si512(_mm256_set_m128i(_mm_loadu_si128((const __m128i *)hi),
                                                            _mm_loadu_si128((const __m128i *)lo)));
        __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(r),
                                       _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4));
        __m512i sh = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
        v = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(idx, w), sh), _mm512_set1_epi32(15));
    } else {
        v = _mm512_inserti64x4(_mm512_castsi256_si512(zf_qu_unpack8(lo, r, bits)), zf_qu_unpack8(hi, r, bits), 1);
    }
    return _mm512_cvtepi32_ps(v);
}

/* 8 floats at lo in the low lanes, 8 at hi in the high lanes. */
INLINE __m512 load2(const float *lo, const float *hi) {
    return _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(lo))),
                           _mm256_castps_pd(_mm256_loadu_ps(hi)), 1));
}

INLINE __m512 bcast2(float lo, float hi) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(lo)),
                                               _mm256_castps_pd(_mm256_set1_ps(hi)), 1));
}

/* lanes tree (l, l+4), (l, l+2), (l, l+1) of 8 lanes */
INLINE float hsum_tree(__m256 a) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
    __m128 v = _mm_add_ss(u, _mm_shuffle_ps(u, u, 1));
    return _mm_cvtss_f32(v);
}

/* n scales (or biases) of dtype t from p as f32. */
INLINE void to_f32(zf_dtype t, const void *p, int64_t n, float *out) {
    int64_t i = 0;
    if (t == ZF_DTYPE_BF16) {
        for (; i + 16 <= n; i += 16) {
            __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i)));
            _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
        }
    } else if (t == ZF_DTYPE_F16) {
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i))));
    }
    for (; i < n; i++) out[i] = zf_load(t, p, i);
}

/* Rows r0 .. r0+R of w against x rows xf[0..NX): out[i * w->rows + r0 + r]. */
INLINE void tile(const zf_qrows *w, int64_t r0, const float *const *xf, const float *const *xs, float *out,
                 const int bits, const int R, const int NX) {
    const int64_t nb = w->k / ZF_QBLOCK, bb = 4 * bits;
    const int gshift = w->group_size == 32 ? 0 : w->group_size == 64 ? 1 : 2;
    const uint8_t *p[ZF_QTILE_R];
    for (int r = 0; r < R; r++) p[r] = (const uint8_t *)(w->packed + (r0 + r) * w->words);
    __m512 acc[ZF_QCOLS / 2][ZF_QTILE_R * ZF_QTILE_NX]; /* column pairs, between segments */
    float sf[ZF_QTILE_R][SEG], bf[ZF_QTILE_R][SEG];
    uint8_t pad[ZF_QTILE_R][2][64];
    memset(pad, 0, sizeof pad);
    for (int c = 0; c < ZF_QCOLS / 2; c++)
#pragma GCC unroll 16
        for (int t = 0; t < R * NX; t++) acc[c][t] = _mm512_setzero_ps();
    const char *pf = (const char *)(w->packed + (r0 + ZF_QTILE_R) * w->words); /* as in qmm_avx2.c */
    size_t ss = zf_dtype_size(w->sdt);
    for (int64_t off = 0; off < R * w->groups * (int64_t)ss; off += 64) {
        _mm_prefetch((const char *)w->scales + (size_t)((r0 + ZF_QTILE_R) * w->groups) * ss + off, _MM_HINT_T0);
        _mm_prefetch((const char *)w->biases + (size_t)((r0 + ZF_QTILE_R) * w->groups) * ss + off, _MM_HINT_T0);
    }
    for (int64_t j0 = 0; j0 < nb; j0 += SEG) {
        int64_t seg = nb - j0 < SEG ? nb - j0 : SEG, g0 = j0 >> gshift, ng = ((seg - 1) >> gshift) + 1;
        for (int r = 0; r < R; r++) {
            size_t off = (size_t)((r0 + r) * w->groups + g0) * ss;
            to_f32(w->sdt, (const char *)w->scales + off, ng, sf[r]);
            to_f32(w->sdt, (const char *)w->biases + off, ng, bf[r]);
        }
        for (int cp = 0; cp < ZF_QCOLS / 2; cp++) {
            __m512 a[ZF_QTILE_R * ZF_QTILE_NX];
#pragma GCC unroll 16
            for (int t = 0; t < R * NX; t++) a[t] = acc[cp][t];
            for (int64_t j = j0 + 2 * cp; j < j0 + seg; j += ZF_QCOLS) {
                int both = j + 1 < j0 + seg; /* else column 2cp+1 has no block here */
                __mmask16 k = both ? 0xFFFF : 0x00FF;
                int64_t jh = both ? j + 1 : j; /* the high half's block (masked when absent) */
                int64_t gl = (j >> gshift) - g0, gh = (jh >> gshift) - g0;
                for (int off = 0; off < 2 * R * bb; off += 64) _mm_prefetch(pf + off, _MM_HINT_T0);
                pf += 2 * R * bb;
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) {
                    const uint8_t *lo = p[r] + j * bb, *hi = p[r] + jh * bb;
                    if (bits == 3 || bits == 5 || bits == 6) { /* no read past the row */
                        if (j == nb - 1) memcpy(pad[r][0], lo, (size_t)bb), lo = pad[r][0];
                        if (jh == nb - 1) memcpy(pad[r][1], hi, (size_t)bb), hi = pad[r][1];
                    }
                    __m512 q0 = unpack2(lo, hi, 0, bits), q1 = unpack2(lo, hi, 1, bits), q2 = unpack2(lo, hi, 2, bits),
                           q3 = unpack2(lo, hi, 3, bits);
                    __m512 s = bcast2(sf[r][gl], sf[r][gh]), bi = bcast2(bf[r][gl], bf[r][gh]);
#pragma GCC unroll 4
                    for (int i = 0; i < NX; i++) {
                        const float *xl = xf[i] + j * ZF_QBLOCK, *xh = xf[i] + jh * ZF_QBLOCK;
                        __m512 d = _mm512_mul_ps(load2(xl, xh), q0);
                        d = _mm512_fmadd_ps(load2(xl + 8, xh + 8), q1, d);
                        d = _mm512_fmadd_ps(load2(xl + 16, xh + 16), q2, d);
                        d = _mm512_fmadd_ps(load2(xl + 24, xh + 24), q3, d);
                        __m512 X = load2(xs[i] + j * ZF_QLANES, xs[i] + jh * ZF_QLANES);
                        __m512 *ai = &a[r * NX + i];
                        *ai = _mm512_mask3_fmadd_ps(s, d, *ai, k);
                        *ai = _mm512_mask3_fmadd_ps(bi, X, *ai, k);
                    }
                }
            }
#pragma GCC unroll 16
            for (int t = 0; t < R * NX; t++) acc[cp][t] = a[t];
        }
    }
    for (int r = 0; r < R; r++)
        for (int i = 0; i < NX; i++) {
            float col[ZF_QCOLS];
            for (int cp = 0; cp < ZF_QCOLS / 2; cp++) {
                __m512 v = acc[cp][r * NX + i];
                col[2 * cp] = hsum_tree(_mm512_castps512_ps256(v));
                col[2 * cp + 1] = hsum_tree(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
            }
            out[i * w->rows + r0 + r] =
                ((col[0] + col[4]) + (col[2] + col[6])) + ((col[1] + col[5]) + (col[3] + col[7]));
        }
}

#include "cpu/qmm_drive.h"

/* Rows of a block count that is not a multiple of 16 end every column
 * pair with a masked pass; there the AVX2 kernel (one column per ymm, and
 * at one x row its streaming walk) measured faster on a Zen 4 core
 * (zf_cpu_qdot, 4-bit, ns per row in cache, AVX2 vs this; group 32 f16:
 * k = 576 31 vs 35, 768 41 vs 55, 896 45 vs 68, 4 x rows at 768 122 vs
 * 139), while multiples of 16 blocks stay here (group 32 f16: 1024 52 vs
 * 46; group 64 bf16: 2048 94 vs 81, 3072 141 vs 116). Both are the
 * canonical dot: the same bits. */
void zf_avx512_qdot(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out) {
    if ((w->k / ZF_QBLOCK) % 16) {
        zf_avx2_qdot(w, nx, xf, xs, out);
        return;
    }
    qdrive(w, nx, xf, xs, out);
}
