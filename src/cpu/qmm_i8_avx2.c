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
 * (zf_avx2_qx_i8_prepare); zf_avx2_qdot_i8 prepares its own. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "cpu/qmm.h"
#include "cpu/simd_avx2.h"

#define I8_MAX_BLOCKS 512 /* k up to 16384 */
#define I8_STRETCH 8      /* blocks per step */
#define I8_AHEAD 2048 /* bytes of codes prefetched ahead (into the next rows: they are contiguous) */
#define INLINE ZF_AVX2_INLINE

/* One x row ready for the integer dots, a view of nb + I8_STRETCH blocks
 * (x's blocks, then a copy of its first stretch). 4-bit order: per pair of
 * blocks (j, j+1), [even elements of j | of j+1 | odd of j | of j+1], the
 * order the weights' low and high nibbles come in; 8-bit: element order. */
typedef struct xq8 {
    int8_t *q;     /* 32-byte aligned */
    float *a;      /* x ≈ a_j * q */
    float *sum;    /* X_j = Σ x over block j, f32 */
    int32_t *qsum; /* 128 · Σ q over block j (8-bit) */
} xq8;

/* Bytes of one prepared row of nb blocks: the codes, then a, sum and qsum
 * each padded to 64 bytes; and the view at p (64-byte aligned; the walks
 * only read through it). */
#define XQ8_LANE_BYTES(nb) ((((nb) + I8_STRETCH) * 4 + 63) / 64 * 64)
#define XQ8_BYTES(nb) (((nb) + I8_STRETCH) * ZF_QBLOCK + 3 * XQ8_LANE_BYTES(nb))
static xq8 xq8_at(const void *p, int64_t nb) {
    char *c = (char *)p, *lanes = c + (nb + I8_STRETCH) * ZF_QBLOCK;
    return (xq8){(int8_t *)c, (float *)lanes, (float *)(lanes + XQ8_LANE_BYTES(nb)),
                 (int32_t *)(lanes + 2 * XQ8_LANE_BYTES(nb))};
}

/* 32 int32 lanes (4 vectors) to 32 int8 in element order. */
INLINE __m256i pack32(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    __m256i p01 = _mm256_packs_epi32(v0, v1), p23 = _mm256_packs_epi32(v2, v3); /* lane-interleaved */
    __m256i b = _mm256_packs_epi16(p01, p23);
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

INLINE float hsum(__m256 v) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
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

/* 2, 4 or 8 values of T at p (2 << n2 of them) as f32 in the low lanes. */
INLINE __m256 load_groups(zf_dtype t, const void *p, int n2) {
    if (t == ZF_DTYPE_F32)
        return n2 == 2 ? _mm256_loadu_ps(p)
             : n2 == 1 ? _mm256_castps128_ps256(_mm_loadu_ps(p))
                       : _mm256_castps128_ps256(_mm_castsi128_ps(_mm_loadl_epi64(p)));
    int32_t two = 0; /* two 16-bit values, p not 4-byte aligned in general */
    if (n2 == 0) memcpy(&two, p, sizeof two);
    __m128i h = n2 == 2 ? _mm_loadu_si128(p) : n2 == 1 ? _mm_loadl_epi64(p) : _mm_cvtsi32_si128(two);
    if (t == ZF_DTYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); /* bf16 */
}

/* A stretch's 8 per-block values from its groups' values at p (group g of
 * the stretch covers blocks g << gshift ..): 8, 4 or 2 groups. */
INLINE __m256 load_blocks(zf_dtype t, const void *p, int gshift) {
    __m256 g = load_groups(t, p, 2 - gshift);
    if (gshift == 0) return g;
    const __m256i idx = gshift == 1 ? _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3) : _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    return _mm256_permutevar8x32_ps(g, idx);
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

/* The same for one 8-bit stretch (256 bytes): codes c in 0..255 enter as
 * c' = c - 128, as |c'| (0..128, unsigned) times q with c''s sign (|q| <=
 * 127), so maddubs' pair sums stay below 2^15; 128 Σ q per block is added
 * back. */
INLINE __m256i stretch8(const uint8_t *w, const xq8 *x, int64_t j) {
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    __m256i v[8];
    for (int i = 0; i < 8; i++) {
        __m256i c = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(w + 32 * i)), flip);
        __m256i q = _mm256_load_si256((const __m256i *)(x->q + (j + i) * ZF_QBLOCK));
        v[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(c), _mm256_sign_epi8(q, c)), ones);
    }
    __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    /* h0: [0 1 2 3 | 0 1 2 3] halves of blocks 0-3; h1 the same for 4-7 */
    __m256i s = _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20), _mm256_permute2x128_si256(h0, h1, 0x31));
    return _mm256_add_epi32(s, _mm256_loadu_si256((const __m256i *)(x->qsum + j)));
}

/* The integer dot of one block j (4- or 8-bit codes at w). */
INLINE int32_t block_dot(const uint8_t *w, const xq8 *x, int64_t j, int bits) {
    __m128i d;
    if (bits == 4) { /* evens and odds of block j sit in its pair's slots */
        const int8_t *xe = x->q + (j & ~(int64_t)1) * ZF_QBLOCK + (j & 1) * 16;
        const __m128i m4 = _mm_set1_epi8(15);
        __m128i c = _mm_loadu_si128((const __m128i *)w);
        __m128i lo = _mm_and_si128(c, m4), hi = _mm_and_si128(_mm_srli_epi16(c, 4), m4);
        __m128i p = _mm_add_epi16(_mm_maddubs_epi16(lo, _mm_loadu_si128((const __m128i *)xe)),
                                  _mm_maddubs_epi16(hi, _mm_loadu_si128((const __m128i *)(xe + 32))));
        d = _mm_madd_epi16(p, _mm_set1_epi16(1));
    } else {
        __m256i c = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)w), _mm256_set1_epi8((char)0x80));
        __m256i q = _mm256_load_si256((const __m256i *)(x->q + j * ZF_QBLOCK));
        __m256i v = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(c), _mm256_sign_epi8(q, c)),
                                      _mm256_set1_epi16(1));
        d = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    }
    d = _mm_add_epi32(d, _mm_shuffle_epi32(d, _MM_SHUFFLE(1, 0, 3, 2)));
    d = _mm_add_epi32(d, _mm_shuffle_epi32(d, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(d) + (bits == 8 ? x->qsum[j] : 0);
}

/* The share of y, in f32, of x block j against block G of the call's rows
 * (w's groups are contiguous across rows: block G's is G >> gshift), from
 * their integer dot S. */
INLINE float block_term(int32_t S, const xq8 *x, int64_t j, const zf_qrows *w, int64_t G, int gshift) {
    return (float)S * x->a[j] * zf_load(w->sdt, w->scales, G >> gshift) + zf_load(w->sdt, w->biases, G >> gshift) * x->sum[j];
}

/* What a stretch needs of the weights' layout. Passed by value to the
 * always-inline walk, so the common layouts (below) get their own copy of
 * it with these folded to constants. */
typedef struct i8_layout {
    int bits, gshift; /* gshift: log2(blocks per group) */
    zf_dtype sdt;
    size_t ss; /* bytes per scale */
} i8_layout;

/* The layout of w's rows as the walks take it. */
static i8_layout layout_of(const zf_qrows *w) {
    return (i8_layout){w->bits, w->group_size == 32 ? 0 : w->group_size == 64 ? 1 : 2, w->sdt, zf_dtype_size(w->sdt)};
}

/* The scales and biases of blocks G .. G+7 of the call's rows (contiguous
 * across rows), one per block. */
INLINE void stretch_groups(const zf_qrows *w, i8_layout L, int64_t G, __m256 *s, __m256 *b) {
    size_t g = (size_t)(G >> L.gshift) * L.ss;
    *s = load_blocks(L.sdt, (const char *)w->scales + g, L.gshift);
    *b = load_blocks(L.sdt, (const char *)w->biases + g, L.gshift);
}

/* The f32 share of x blocks j .. j+7 from their integer dots d, the blocks'
 * scales s and biases b, lane by lane: (S · a) · s + b · X. */
INLINE __m256 share(__m256i d, __m256 s, __m256 b, const xq8 *x, int64_t j) {
    __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_loadu_ps(x->a + j));
    return _mm256_fmadd_ps(t, s, _mm256_mul_ps(b, _mm256_loadu_ps(x->sum + j)));
}

/* A stretch's f32 shares of y for codes at c, x blocks j .. j+7 and stream blocks G .. G+7. */
INLINE __m256 stretch_share(const zf_qrows *w, i8_layout L, const uint8_t *c, const xq8 *x, int64_t j, int64_t G) {
    __m256 s, b;
    stretch_groups(w, L, G, &s, &b);
    return share(L.bits == 4 ? stretch4(c, x->q + j * ZF_QBLOCK) : stretch8(c, x, j), s, b, x, j);
}

/* All rows of the call as one stream of blocks, 8 at a time whatever the
 * row length: the rows' codes are contiguous, and so are their groups. A
 * stretch that runs into the next row reads x's first blocks again from
 * the copy past its end (wrap_x), and its lanes split between the two
 * rows. The last row's last blocks (if the stream does not end on a
 * stretch) take one stretch ending at the row's end, the lanes already
 * counted masked off. Needs nb >= 8, and nb even for 4-bit. */
INLINE void dot_rows_joined(const zf_qrows *w, i8_layout L, const xq8 *x, int64_t nb, float *out) {
    const size_t cb = (size_t)L.bits * 4; /* bytes of codes per block */
    const uint8_t *p = (const uint8_t *)w->packed;
    const int64_t total = w->rows * nb;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 acc = _mm256_setzero_ps();
    int64_t G = 0, r = 0, j = 0; /* stream block, its row and its block in the row */
    for (; G + I8_STRETCH <= total; G += I8_STRETCH) {
        const uint8_t *c = p + G * cb;
        for (size_t l = 0; l < cb * I8_STRETCH; l += 64) _mm_prefetch((const char *)c + l + I8_AHEAD, _MM_HINT_T0);
        __m256 v = stretch_share(w, L, c, x, j, G);
        int64_t left = nb - j; /* lanes of row r */
        if (left > I8_STRETCH) {
            acc = _mm256_add_ps(acc, v);
            j += I8_STRETCH;
            continue;
        }
        __m256 mine = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)left), lane));
        out[r++] = hsum(_mm256_add_ps(acc, _mm256_and_ps(v, mine)));
        acc = _mm256_andnot_ps(mine, v);
        j = I8_STRETCH - left;
    }
    if (G < total) { /* row r's last total - G blocks */
        int64_t back = I8_STRETCH - (total - G), G0 = G - back; /* r nb + nb - 8: a multiple of the blocks per group */
        __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32((int)back - 1)));
        __m256 v = stretch_share(w, L, p + G0 * cb, x, nb - I8_STRETCH, G0);
        out[r++] = hsum(_mm256_add_ps(acc, _mm256_and_ps(v, keep)));
    }
}

/* 8 row sums at once: the lanes of acc[i] add up to row i's result. */
INLINE __m256 hsum8(const __m256 *acc) {
    __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
    __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(acc[4], acc[5]), _mm256_hadd_ps(acc[6], acc[7]));
    /* u0: rows 0-3 of the low 128-bit halves | of the high ones; u1 rows 4-7 */
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* The results of `group` (<= 8) rows from their accumulators. */
INLINE void store_rows(const __m256 *acc, int group, float *out) {
    if (group == I8_STRETCH) _mm256_storeu_ps(out, hsum8(acc));
    else
        for (int i = 0; i < group; i++) out[i] = hsum(acc[i]);
}

/* Rows of whole stretches (nb a multiple of 8): each row's own
 * accumulator, and the horizontal sums of 8 rows in one go (hsum8) instead
 * of one per row, which is a tenth of a k = 768 row's work. */
INLINE void dot_rows_whole(const zf_qrows *w, i8_layout L, const xq8 *x, int64_t nb, float *out) {
    const size_t cb = (size_t)L.bits * 4;
    const uint8_t *p = (const uint8_t *)w->packed;
    int64_t r = 0, G = 0; /* row, stream block */
    for (; r < w->rows; r += I8_STRETCH) {
        const int group = w->rows - r < I8_STRETCH ? (int)(w->rows - r) : I8_STRETCH;
        __m256 acc[I8_STRETCH];
        for (int i = 0; i < group; i++) {
            __m256 a = _mm256_setzero_ps();
            for (int64_t j = 0; j < nb; j += I8_STRETCH, G += I8_STRETCH) {
                const uint8_t *c = p + G * cb;
                for (size_t l = 0; l < cb * I8_STRETCH; l += 64) _mm_prefetch((const char *)c + l + I8_AHEAD, _MM_HINT_T0);
                a = _mm256_add_ps(a, stretch_share(w, L, c, x, j, G));
            }
            acc[i] = a;
        }
        store_rows(acc, group, out + r);
    }
}

/* dot_rows_whole for two x rows at once (4-bit): each stretch's codes,
 * scales and biases are loaded and split once for both. Each x row's
 * values are those of its own walk. */
INLINE void dot_rows_whole_x2(const zf_qrows *w, i8_layout L, const xq8 *x0, const xq8 *x1, int64_t nb, float *out0,
                              float *out1) {
    const size_t cb = (size_t)L.bits * 4;
    const uint8_t *p = (const uint8_t *)w->packed;
    int64_t r = 0, G = 0;
    for (; r < w->rows; r += I8_STRETCH) {
        const int group = w->rows - r < I8_STRETCH ? (int)(w->rows - r) : I8_STRETCH;
        __m256 acc0[I8_STRETCH], acc1[I8_STRETCH];
        for (int i = 0; i < group; i++) {
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
            for (int64_t j = 0; j < nb; j += I8_STRETCH, G += I8_STRETCH) {
                const uint8_t *c = p + G * cb;
                for (size_t l = 0; l < cb * I8_STRETCH; l += 64) _mm_prefetch((const char *)c + l + I8_AHEAD, _MM_HINT_T0);
                __m256 s, b;
                stretch_groups(w, L, G, &s, &b);
                __m256i d0, d1;
                stretch4_x2(c, x0->q + j * ZF_QBLOCK, x1->q + j * ZF_QBLOCK, &d0, &d1);
                a0 = _mm256_add_ps(a0, share(d0, s, b, x0, j));
                a1 = _mm256_add_ps(a1, share(d1, s, b, x1, j));
            }
            acc0[i] = a0, acc1[i] = a1;
        }
        store_rows(acc0, group, out0 + r);
        store_rows(acc1, group, out1 + r);
    }
}

/* A call's rows: rows of whole stretches, or the joined stream; below, the
 * layouts real models use with their constants folded in (MLX 4-bit group
 * 64 with bf16 scales; GGUF Q4_0/Q4_1 and Q8_0 as group 32 with f16
 * scales), and walk() takes any other as it is. */
INLINE void walk_rows(const zf_qrows *w, i8_layout L, const xq8 *x, int64_t nb, float *out) {
    if (nb % I8_STRETCH == 0) dot_rows_whole(w, L, x, nb, out);
    else dot_rows_joined(w, L, x, nb, out);
}
static void walk_q4_g64_bf16(const zf_qrows *w, const xq8 *x, int64_t nb, float *out) {
    walk_rows(w, (i8_layout){4, 1, ZF_DTYPE_BF16, 2}, x, nb, out);
}
static void walk_q4_g32_f16(const zf_qrows *w, const xq8 *x, int64_t nb, float *out) {
    walk_rows(w, (i8_layout){4, 0, ZF_DTYPE_F16, 2}, x, nb, out);
}
static void walk_q8_g32_f16(const zf_qrows *w, const xq8 *x, int64_t nb, float *out) {
    walk_rows(w, (i8_layout){8, 0, ZF_DTYPE_F16, 2}, x, nb, out);
}

/* One row that the joined walk cannot take (fewer than 8 blocks, or an
 * odd count of 4-bit blocks): its whole stretches, then one block at a time. */
static float dot_row(const zf_qrows *w, i8_layout L, int64_t r, const xq8 *x, int64_t nb) {
    const size_t cb = (size_t)L.bits * 4;
    const uint8_t *p = (const uint8_t *)(w->packed + r * w->words);
    __m256 acc = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + I8_STRETCH <= nb; j += I8_STRETCH)
        acc = _mm256_add_ps(acc, stretch_share(w, L, p + j * cb, x, j, r * nb + j));
    float tail = 0.0f;
    for (; j < nb; j++) tail += block_term(block_dot(p + j * cb, x, j, L.bits), x, j, w, r * nb + j, L.gshift);
    return hsum(acc) + tail;
}

/* Whether the int8 walk takes rows of this width and length; others run
 * the canonical kernel. */
static int i8_takes(int bits, int64_t k) { return (bits == 4 || bits == 8) && k / ZF_QBLOCK <= I8_MAX_BLOCKS; }

/* The joined walk needs nb >= 8, and whole pairs of blocks for 4-bit. */
static int i8_joined(int bits, int64_t nb) { return nb >= I8_STRETCH && (bits == 8 || nb % 2 == 0); }

static void prepare(const float *xf, int64_t nb, int bits, const xq8 *x) {
    quantize_x(xf, nb, bits, x);
    if (i8_joined(bits, nb)) wrap_x(x, nb);
}

static void walk(const zf_qrows *w, const xq8 *x, float *out) {
    const int64_t nb = w->k / ZF_QBLOCK;
    const i8_layout L = layout_of(w);
    if (!i8_joined(w->bits, nb)) {
        for (int64_t r = 0; r < w->rows; r++) out[r] = dot_row(w, L, r, x, nb);
        return;
    }
    if (L.bits == 4 && L.gshift == 1 && L.sdt == ZF_DTYPE_BF16) walk_q4_g64_bf16(w, x, nb, out);
    else if (L.bits == 4 && L.gshift == 0 && L.sdt == ZF_DTYPE_F16) walk_q4_g32_f16(w, x, nb, out);
    else if (L.bits == 8 && L.gshift == 0 && L.sdt == ZF_DTYPE_F16) walk_q8_g32_f16(w, x, nb, out);
    else walk_rows(w, L, x, nb, out);
}

void zf_avx2_qdot_i8(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out) {
    if (!i8_takes(w->bits, w->k)) {
        zf_avx2_qdot(w, nx, xf, xs, out);
        return;
    }
    const int64_t nb = w->k / ZF_QBLOCK;
    _Alignas(64) unsigned char buf[XQ8_BYTES(I8_MAX_BLOCKS)];
    const xq8 x = xq8_at(buf, nb);
    for (int i = 0; i < nx; i++) {
        prepare(xf[i], nb, w->bits, &x);
        walk(w, &x, out + i * w->rows);
    }
}

size_t zf_avx2_qx_i8_size(int64_t k) { return (size_t)XQ8_BYTES(k / ZF_QBLOCK); }

int zf_avx2_qx_i8_prepare(const float *xf, int64_t k, int bits, void *out) {
    if (!i8_takes(bits, k)) return 0;
    const xq8 x = xq8_at(out, k / ZF_QBLOCK);
    prepare(xf, k / ZF_QBLOCK, bits, &x);
    return 1;
}

/* Two x rows over 4-bit rows of whole stretches, the layouts real models
 * use (MLX group 64 bf16; GGUF group 32 f16) and any other. */
static void walk_x2(const zf_qrows *w, const xq8 *x0, const xq8 *x1, float *out0, float *out1) {
    const int64_t nb = w->k / ZF_QBLOCK;
    const i8_layout L = layout_of(w); /* 4-bit */
    if (L.gshift == 1 && L.sdt == ZF_DTYPE_BF16)
        dot_rows_whole_x2(w, (i8_layout){4, 1, ZF_DTYPE_BF16, 2}, x0, x1, nb, out0, out1);
    else if (L.gshift == 0 && L.sdt == ZF_DTYPE_F16)
        dot_rows_whole_x2(w, (i8_layout){4, 0, ZF_DTYPE_F16, 2}, x0, x1, nb, out0, out1);
    else dot_rows_whole_x2(w, L, x0, x1, nb, out0, out1);
}

void zf_avx2_qdot_i8_prepared(const zf_qrows *w, int nx, const void *const *xq, float *out) {
    const int64_t nb = w->k / ZF_QBLOCK;
    const int pairs = w->bits == 4 && nb % I8_STRETCH == 0 ? nx / 2 : 0; /* x rows two at a time */
    for (int i = 0; i < 2 * pairs; i += 2) {
        const xq8 x0 = xq8_at(xq[i], nb), x1 = xq8_at(xq[i + 1], nb);
        walk_x2(w, &x0, &x1, out + i * w->rows, out + (i + 1) * w->rows);
    }
    for (int i = 2 * pairs; i < nx; i++) {
        const xq8 x = xq8_at(xq[i], nb);
        walk(w, &x, out + i * w->rows);
    }
}
