/* AVX2 + FMA canonical-dot kernel (docs/NUMERICS.md §8.2): the same
 * operations as zf_scalar_qdot, eight lanes at once, in a different but
 * harmless order. The columns are independent accumulators, so:
 * - one x row (decode): a weight row streams through in ascending blocks
 *   with all eight columns in registers (block j into column j mod 8), so
 *   the weights are one sequential stream and nothing is revisited;
 * - several x rows: a tile walks the columns one at a time (column c:
 *   blocks c, c+8, ... ascending) and keeps R weight rows x NX activation
 *   rows of one column in registers: each unpacked q vector used NX
 *   times, each x vector R times.
 * At one x row the kernel runs near what this mix of operations allows on
 * a Zen 3 core (18 vector operations and 11 loads per block of 32 4-bit
 * weights; docs/PERF-CPU.md, bench/cpu_mix.c); byte-shuffle unpacking and
 * row tiles were measured there and are not faster. */
#include <immintrin.h>
#include <string.h>

#include "core/dtype.h"
#include "cpu/qmm.h"
#include "cpu/qunpack_avx2.h"

#define SEG 128 /* blocks per segment whose scales are converted up front (a multiple of 8) */
#ifndef STREAM_AHEAD
#define STREAM_AHEAD 1024 /* bytes a streamed row prefetches ahead */
#endif

#define INLINE static inline __attribute__((always_inline))

/* q as f32 for elements 8r .. 8r+7 of the block at b (qunpack_avx2.h) */
INLINE __m256 unpack(const uint8_t *b, int r, const int bits) { return _mm256_cvtepi32_ps(zf_qu_unpack8(b, r, bits)); }

/* lanes tree (l, l+4), (l, l+2), (l, l+1) */
INLINE float hsum_tree(__m256 a) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
    __m128 v = _mm_add_ss(u, _mm_shuffle_ps(u, u, 1));
    return _mm_cvtss_f32(v);
}

/* The lane tree of §8.2 for each of eight column vectors, then the column
 * tree: the lanes are folded for all columns at once (pairs of columns
 * share a register), R_c in lane order [0 2 4 6 | 1 3 5 7]; the column
 * tree is the lane tree again ((c, c+4), (c, c+2), (c, c+1)). */
INLINE float reduce_columns(const __m256 a[ZF_QCOLS]) {
    __m256 s[4], t[2];
    for (int i = 0; i < 4; i++) /* (l, l+4): [col 2i lanes 0-3 | col 2i+1 lanes 0-3] */
        s[i] = _mm256_add_ps(_mm256_permute2f128_ps(a[2 * i], a[2 * i + 1], 0x20),
                             _mm256_permute2f128_ps(a[2 * i], a[2 * i + 1], 0x31));
    for (int i = 0; i < 2; i++) /* (l, l+2): per half [c, c | c+2, c+2] */
        t[i] = _mm256_add_ps(_mm256_shuffle_ps(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm256_shuffle_ps(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    /* (l, l+1): [R0 R2 R4 R6 | R1 R3 R5 R7] */
    __m256 r = _mm256_add_ps(_mm256_shuffle_ps(t[0], t[1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm256_shuffle_ps(t[0], t[1], _MM_SHUFFLE(3, 1, 3, 1)));
    __m128 lo = _mm256_castps256_ps128(r), hi = _mm256_extractf128_ps(r, 1);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo)); /* R0+R4, R2+R6 */
    hi = _mm_add_ps(hi, _mm_movehl_ps(hi, hi)); /* R1+R5, R3+R7 */
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    hi = _mm_add_ss(hi, _mm_shuffle_ps(hi, hi, 1));
    return _mm_cvtss_f32(_mm_add_ss(lo, hi));
}

/* n scales (or biases) of dtype t from p as f32. */
INLINE void to_f32(zf_dtype t, const void *p, int64_t n, float *out) {
    int64_t i = 0;
    if (t == ZF_DTYPE_BF16) {
        for (; i + 8 <= n; i += 8) {
            __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));
            _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
        }
    } else if (t == ZF_DTYPE_F16) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i))));
        for (; i < n; i++) /* F16C one at a time (the portable conversion is slower) */
            out[i] = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(((const uint16_t *)p)[i])));
    }
    for (; i < n; i++) out[i] = zf_load(t, p, i);
}

/* Rows r0 .. r0+R of w against x rows xf[0..NX): out[i * w->rows + r0 + r]. */
INLINE void tile(const zf_qrows *w, int64_t r0, const float *const *xf, const float *const *xs, float *out,
                 const int bits, const int R, const int NX) {
    const int64_t nb = w->k / ZF_QBLOCK, bb = 4 * bits; /* bytes per block */
    const int gshift = w->group_size == 32 ? 0 : w->group_size == 64 ? 1 : 2;
    const uint8_t *p[ZF_QTILE_R];
    for (int r = 0; r < R; r++) p[r] = (const uint8_t *)(w->packed + (r0 + r) * w->words);
    __m256 acc[ZF_QCOLS][ZF_QTILE_R * ZF_QTILE_NX]; /* between segments */
    float sf[ZF_QTILE_R][SEG], bf[ZF_QTILE_R][SEG];
    uint8_t pad[ZF_QTILE_R][64];
    for (int c = 0; c < ZF_QCOLS; c++)
#pragma GCC unroll 16
        for (int t = 0; t < R * NX; t++) acc[c][t] = _mm256_setzero_ps();
    /* The column order visits a tile's lines out of sequence, which the
     * hardware prefetchers follow poorly from DRAM: fetch the R rows that
     * start ZF_QTILE_R rows further (contiguous) while this tile computes,
     * R * bb bytes per step. */
    const char *pf = (const char *)(w->packed + (r0 + ZF_QTILE_R) * w->words);
    size_t ss = zf_dtype_size(w->sdt);
    for (int64_t off = 0; off < R * w->groups * (int64_t)ss; off += 64) {
        _mm_prefetch((const char *)w->scales + (size_t)((r0 + ZF_QTILE_R) * w->groups) * ss + off, _MM_HINT_T0);
        _mm_prefetch((const char *)w->biases + (size_t)((r0 + ZF_QTILE_R) * w->groups) * ss + off, _MM_HINT_T0);
    }
    for (int64_t j0 = 0; j0 < nb; j0 += SEG) {
        int64_t seg = nb - j0 < SEG ? nb - j0 : SEG, g0 = j0 >> gshift, ng = ((seg - 1) >> gshift) + 1;
        for (int r = 0; r < R; r++) {
            size_t off = (size_t)((r0 + r) * w->groups + g0) * zf_dtype_size(w->sdt);
            to_f32(w->sdt, (const char *)w->scales + off, ng, sf[r]);
            to_f32(w->sdt, (const char *)w->biases + off, ng, bf[r]);
        }
        for (int c = 0; c < ZF_QCOLS; c++) {
            __m256 a[ZF_QTILE_R * ZF_QTILE_NX];
#pragma GCC unroll 16
            for (int t = 0; t < R * NX; t++) a[t] = acc[c][t];
            for (int64_t j = j0 + c; j < j0 + seg; j += ZF_QCOLS) {
                int64_t gi = (j >> gshift) - g0;
                for (int off = 0; off < R * bb; off += 64) _mm_prefetch(pf + off, _MM_HINT_T0);
                pf += R * bb;
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) {
                    const uint8_t *b = p[r] + j * bb;
                    if ((bits == 3 || bits == 5 || bits == 6) && j == nb - 1) { /* no read past the row */
                        memset(pad[r], 0, sizeof pad[r]);
                        memcpy(pad[r], b, (size_t)bb);
                        b = pad[r];
                    }
                    __m256 q0 = unpack(b, 0, bits), q1 = unpack(b, 1, bits), q2 = unpack(b, 2, bits),
                           q3 = unpack(b, 3, bits);
                    __m256 s = _mm256_broadcast_ss(&sf[r][gi]), bi = _mm256_broadcast_ss(&bf[r][gi]);
#pragma GCC unroll 4
                    for (int i = 0; i < NX; i++) {
                        const float *x = xf[i] + j * ZF_QBLOCK;
                        __m256 d = _mm256_mul_ps(_mm256_loadu_ps(x), q0);
                        d = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), q1, d);
                        d = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), q2, d);
                        d = _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), q3, d);
                        __m256 *ai = &a[r * NX + i];
                        *ai = _mm256_fmadd_ps(s, d, *ai);
                        *ai = _mm256_fmadd_ps(bi, _mm256_loadu_ps(xs[i] + j * ZF_QLANES), *ai);
                    }
                }
            }
#pragma GCC unroll 16
            for (int t = 0; t < R * NX; t++) acc[c][t] = a[t];
        }
    }
    for (int r = 0; r < R; r++)
        for (int i = 0; i < NX; i++) {
            float col[ZF_QCOLS];
            for (int c = 0; c < ZF_QCOLS; c++) col[c] = hsum_tree(acc[c][r * NX + i]);
            out[i * w->rows + r0 + r] =
                ((col[0] + col[4]) + (col[2] + col[6])) + ((col[1] + col[5]) + (col[3] + col[7]));
        }
}

/* Block j of a streamed row into its column's accumulator (s, bi: its
 * group's scale and bias). */
INLINE void stream_block(const uint8_t *p, int64_t j, int64_t nb, const float *xf, const float *xs, const float *s,
                         const float *bi, __m256 *acc, const int bits) {
    const uint8_t *b = p + j * 4 * bits;
    uint8_t pad[64];
    if ((bits == 3 || bits == 5 || bits == 6) && j == nb - 1) { /* no read past the row */
        memset(pad, 0, sizeof pad);
        memcpy(pad, b, (size_t)(4 * bits));
        b = pad;
    }
    const float *x = xf + j * ZF_QBLOCK;
    __m256 d = _mm256_mul_ps(_mm256_loadu_ps(x), unpack(b, 0, bits));
    d = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), unpack(b, 1, bits), d);
    d = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), unpack(b, 2, bits), d);
    d = _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), unpack(b, 3, bits), d);
    *acc = _mm256_fmadd_ps(_mm256_broadcast_ss(s), d, *acc);
    *acc = _mm256_fmadd_ps(_mm256_broadcast_ss(bi), _mm256_loadu_ps(xs + j * ZF_QLANES), *acc);
}

/* Blocks j0 .. end of a streamed row (j0 a multiple of 8), sf/bf the f32
 * scales and biases from block j0's group on: eight blocks per step (one
 * per column), then the tail. G = log2(blocks per group) is a compile-time
 * constant: block j + c of a step takes the scale at ((j - j0) >> G) +
 * (c >> G), so a step needs one index and its scale loads have constant
 * offsets (blocks of one group share them). */
INLINE void stream_blocks(const uint8_t *p, int64_t j0, int64_t end, int64_t nb, const float *xf, const float *xs,
                          const float *sf, const float *bf, __m256 a[ZF_QCOLS], const int bits, const int G) {
    int64_t j = j0;
    for (; j + ZF_QCOLS <= end; j += ZF_QCOLS) {
        /* DRAM latency: ask for the bytes STREAM_AHEAD further on (the
         * next rows' when this one ends; rows are contiguous) */
        for (int off = 0; off < ZF_QCOLS * 4 * bits; off += 64)
            _mm_prefetch((const char *)p + j * 4 * bits + STREAM_AHEAD + off, _MM_HINT_T0);
        const float *sp = sf + ((j - j0) >> G), *bp = bf + ((j - j0) >> G);
#pragma GCC unroll 8
        for (int c = 0; c < ZF_QCOLS; c++) stream_block(p, j + c, nb, xf, xs, sp + (c >> G), bp + (c >> G), &a[c], bits);
    }
    const float *sp = sf + ((j - j0) >> G), *bp = bf + ((j - j0) >> G);
#pragma GCC unroll 8
    for (int c = 0; c < ZF_QCOLS; c++)
        if (j + c < end) stream_block(p, j + c, nb, xf, xs, sp + (c >> G), bp + (c >> G), &a[c], bits);
}

/* Row r of w against one x row: blocks ascending, block j into column
 * j mod 8, all columns in registers; the scales converted a segment at a
 * time. */
INLINE float stream_row(const zf_qrows *w, int64_t r, const float *xf, const float *xs, const int bits, const int G) {
    const int64_t nb = w->k / ZF_QBLOCK;
    const uint8_t *p = (const uint8_t *)(w->packed + r * w->words);
    const size_t ss = zf_dtype_size(w->sdt);
    float sf[SEG], bf[SEG];
    __m256 a[ZF_QCOLS];
    for (int c = 0; c < ZF_QCOLS; c++) a[c] = _mm256_setzero_ps();
    for (int64_t j0 = 0; j0 < nb; j0 += SEG) {
        int64_t seg = nb - j0 < SEG ? nb - j0 : SEG, g0 = j0 >> G, ng = ((seg - 1) >> G) + 1;
        size_t off = (size_t)(r * w->groups + g0) * ss;
        to_f32(w->sdt, (const char *)w->scales + off, ng, sf);
        to_f32(w->sdt, (const char *)w->biases + off, ng, bf);
        stream_blocks(p, j0, j0 + seg, nb, xf, xs, sf, bf, a, bits, G);
    }
    return reduce_columns(a);
}

/* Every row of w against one x row. Rows whose scales fit a batch (rows
 * are `groups` apart, so a run of rows is one run of scales) are converted
 * several rows at a time, which spares short rows a conversion, and its
 * scalar tail, each; the next batch's scales and biases are prefetched
 * while this one computes (from DRAM they would otherwise stall the next
 * conversion). Longer rows convert a segment at a time. */
#define SCALE_BATCH 512
INLINE void rows_1_g(const zf_qrows *w, const float *xf, const float *xs, float *out, const int bits, const int G) {
    const int64_t nb = w->k / ZF_QBLOCK, groups = w->groups;
    if (groups > SCALE_BATCH) {
        for (int64_t r = 0; r < w->rows; r++) out[r] = stream_row(w, r, xf, xs, bits, G);
        return;
    }
    const size_t ss = zf_dtype_size(w->sdt);
    const int64_t per = SCALE_BATCH / groups;
    float sf[SCALE_BATCH], bf[SCALE_BATCH];
    for (int64_t r0 = 0; r0 < w->rows; r0 += per) {
        int64_t nr = w->rows - r0 < per ? w->rows - r0 : per;
        size_t off = (size_t)(r0 * groups) * ss, len = (size_t)(nr * groups) * ss;
        to_f32(w->sdt, (const char *)w->scales + off, nr * groups, sf);
        to_f32(w->sdt, (const char *)w->biases + off, nr * groups, bf);
        if (r0 + per < w->rows) {
            size_t next = (size_t)((w->rows - r0 - per < per ? w->rows - r0 - per : per) * groups) * ss;
            for (size_t o = 0; o < next; o += 64) {
                _mm_prefetch((const char *)w->scales + off + len + o, _MM_HINT_T0);
                _mm_prefetch((const char *)w->biases + off + len + o, _MM_HINT_T0);
            }
        }
        for (int64_t r = 0; r < nr; r++) {
            __m256 a[ZF_QCOLS];
            for (int c = 0; c < ZF_QCOLS; c++) a[c] = _mm256_setzero_ps();
            stream_blocks((const uint8_t *)(w->packed + (r0 + r) * w->words), 0, nb, nb, xf, xs, sf + r * groups,
                          bf + r * groups, a, bits, G);
            out[r0 + r] = reduce_columns(a);
        }
    }
}

INLINE void rows_1(const zf_qrows *w, const float *xf, const float *xs, float *out, const int bits) {
    switch (w->group_size) {
    case 32: rows_1_g(w, xf, xs, out, bits, 0); break;
    case 64: rows_1_g(w, xf, xs, out, bits, 1); break;
    default: rows_1_g(w, xf, xs, out, bits, 2); break;
    }
}

#define QDRIVE_ROWS_1 rows_1
#include "cpu/qmm_drive.h"

void zf_avx2_qdot(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out) {
    qdrive(w, nx, xf, xs, out);
}
