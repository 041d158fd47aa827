/* The int8 walk over weight rows (docs/NUMERICS.md §8.7), written once
 * for the AVX2 and AVX-512 kernels (qmm_i8_avx2.c, qmm_i8_avx512.c), like
 * elementwise_simd.h. Before including, a file includes cpu/qmm_i8.h and
 * defines:
 *   stretch4(w, xq)                 the 8 int32 block dots of one 4-bit
 *                                   stretch (128 bytes of codes at w, x's
 *                                   pair-ordered codes at xq), block order
 *   stretch4_x2(w, xq0, xq1, d0, d1) the same for two x rows at once
 *   ZF_I8(name)                     the exported names' prefix
 *   ZF_I8_CANON                     the canonical kernel for rows it does not take
 * The block dots are exact integers, so every kernel built from this file
 * gives the same bits: only the integer work differs. The f32 part (per
 * stretch: (S · a) · s + b · X on 8 lanes, the sums over stretches and
 * rows) is this file's, on 256-bit vectors. */

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

/* The 8 int32 block dots of one 8-bit stretch (256 bytes): codes c in
 * 0..255 enter as c' = c - 128, as |c'| (0..128, unsigned) times q with
 * c''s sign (|q| <= 127), so maddubs' pair sums stay below 2^15; 128 Σ q
 * per block is added back. */
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

/* Prefetches for a stretch of codes at c (n bytes): I8_AHEAD bytes on into
 * L1, I8_AHEAD_L2 bytes on into L2. */
INLINE void stretch_prefetch(const uint8_t *c, size_t n) {
    for (size_t l = 0; l < n; l += 64) {
        _mm_prefetch((const char *)c + l + I8_AHEAD, _MM_HINT_T0);
        _mm_prefetch((const char *)c + l + I8_AHEAD_L2, _MM_HINT_T1);
    }
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

/* The prefetches for stretch G (its codes at c): the codes' (stretch_prefetch),
 * and into L2 the scales and biases as far ahead as the codes' L2 prefetch
 * goes (the same blocks). */
INLINE void walk_prefetch(const zf_qrows *w, i8_layout L, const uint8_t *c, int64_t G) {
    stretch_prefetch(c, (size_t)L.bits * 4 * I8_STRETCH);
    const size_t g = (size_t)(G >> L.gshift) * L.ss, ahead = I8_AHEAD_L2 * L.ss / (((size_t)L.bits * 4) << L.gshift);
    _mm_prefetch((const char *)w->scales + g + ahead, _MM_HINT_T1);
    _mm_prefetch((const char *)w->biases + g + ahead, _MM_HINT_T1);
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
        walk_prefetch(w, L, c, G);
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
                walk_prefetch(w, L, c, G);
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
                walk_prefetch(w, L, c, G);
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

/* One call's rows against one prepared x row. */
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

void ZF_I8(qdot_i8)(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out) {
    if (!i8_takes(w->bits, w->k)) {
        ZF_I8_CANON(w, nx, xf, xs, out);
        return;
    }
    const int64_t nb = w->k / ZF_QBLOCK;
    _Alignas(64) unsigned char buf[XQ8_BYTES(I8_MAX_BLOCKS)];
    const xq8 x = xq8_at(buf, nb);
    for (int i = 0; i < nx; i++) {
        zf_avx2_qx_i8_prepare(xf[i], w->k, w->bits, buf);
        walk(w, &x, out + i * w->rows);
    }
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

void ZF_I8(qdot_i8_prepared)(const zf_qrows *w, int nx, const void *const *xq, float *out) {
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
