/* The elementwise kernels for one SIMD width, written once and included by
 * elementwise_avx2.c and elementwise_avx512.c. Before including, a file
 * defines:
 *   ZF_VEC            the vector type (__m256, __m512); ZF_VW its f32 lanes
 *   ZF_V(name)        its helper prefix (zf_avx2_##name) for simd_<isa>.h:
 *                     load_pair(_n), store_pair_n, store_pair_arith,
 *                     round_arith, silu_den_n, silu_grad_from_den
 *   ZF_VZERO, ZF_VADD, ZF_VMUL, ZF_VDIV   lane-wise f32 operations
 *   ZF_VLOAD_F32A, ZF_VSTORE_F32A         aligned f32 vector load / store
 *   ZF_VINLINE        "static inline, always inlined"
 * It defines the ZF_EW_KERNELS set named ZF_V(add), ZF_V(mul), ...
 *
 * Each lane performs exactly the scalar kernel's operations (elementwise.c),
 * so results are bit-identical to it. The dtype and the op are constants in
 * every inlined loop, so each (op, dtype) pair compiles to its own loop, and
 * EW_U vectors go through each step together (see simd_<isa>.h, "_n forms").
 * Ops with silu run in two stages per tile (ew_den, then ew_group). With
 * stream set (a call larger than the caches), outputs are written
 * non-temporally. */

#define EW_U 4
#define EW_G (EW_U * ZF_VW)  /* elements per group */
#define EW_TILE (16 * EW_G)  /* elements per tile: its denominators stay in L1 */
#define EW_EACH(j) _Pragma("GCC unroll 4") for (int j = 0; j < EW_U; j++)

typedef enum ew_kind {
    EW_ADD,
    EW_MUL,
    EW_SILU,
    EW_SILU_VJP,      /* a = x, b = d_out */
    EW_SWIGLU_EXACT,  /* a = gate, b = up */
    EW_SWIGLU_FAST,
    EW_VJP_EXACT,     /* a = gate, b = up, c = d_out -> o0 = d_gate, o1 = d_up */
    EW_VJP_FAST,
} ew_kind;

ZF_VINLINE int ew_inputs(ew_kind k) { return k == EW_SILU ? 1 : (k == EW_VJP_EXACT || k == EW_VJP_FAST) ? 3 : 2; }
ZF_VINLINE int ew_outputs(ew_kind k) { return (k == EW_VJP_EXACT || k == EW_VJP_FAST) ? 2 : 1; }

/* The op on EW_U vectors, in the scalar kernel's order; den = 1 + exp(-a)
 * from stage 1 for the ops with silu (silu = a / den; the VJPs share it
 * between silu and silu', which the scalar code computes twice). Results
 * round to T with the arithmetic-result forms of simd_<isa>.h (same bits). */
ZF_VINLINE void ew_math(zf_dtype t, ew_kind k, const ZF_VEC *a, const ZF_VEC *b, const ZF_VEC *c, const ZF_VEC *den,
                        ZF_VEC *o0, ZF_VEC *o1) {
    switch (k) {
    case EW_ADD: EW_EACH(j) o0[j] = ZF_VADD(a[j], b[j]); break;
    case EW_MUL: EW_EACH(j) o0[j] = ZF_VMUL(a[j], b[j]); break;
    case EW_SILU: EW_EACH(j) o0[j] = ZF_VDIV(a[j], den[j]); break;
    case EW_SILU_VJP: EW_EACH(j) o0[j] = ZF_VMUL(b[j], ZF_V(silu_grad_from_den)(a[j], den[j])); break;
    case EW_SWIGLU_EXACT: /* T(T(silu(g)) * u) */
        EW_EACH(j) o0[j] = ZF_VMUL(ZF_V(round_arith)(t, ZF_VDIV(a[j], den[j])), b[j]);
        break;
    case EW_SWIGLU_FAST: EW_EACH(j) o0[j] = ZF_VMUL(ZF_VDIV(a[j], den[j]), b[j]); break;
    case EW_VJP_EXACT:
        EW_EACH(j) {
            ZF_VEC s = ZF_V(round_arith)(t, ZF_VDIV(a[j], den[j]));  /* s = T(silu(g)) */
            ZF_VEC ds = ZF_V(round_arith)(t, ZF_VMUL(c[j], b[j])); /* d_s = T(d * u) */
            o1[j] = ZF_VMUL(c[j], s);                               /* d_up = d * s */
            o0[j] = ZF_VMUL(ds, ZF_V(silu_grad_from_den)(a[j], den[j])); /* d_gate = d_s * silu'(g) */
        }
        break;
    case EW_VJP_FAST:
        EW_EACH(j) {
            o1[j] = ZF_VMUL(c[j], ZF_VDIV(a[j], den[j]));
            o0[j] = ZF_VMUL(ZF_VMUL(c[j], b[j]), ZF_V(silu_grad_from_den)(a[j], den[j]));
        }
        break;
    }
}

ZF_VINLINE int ew_has_den(ew_kind k) { return k != EW_ADD && k != EW_MUL; }

/* m elements from i into EW_U vectors, as EW_U / 2 pairs (simd_<isa>.h):
 * a full group (m = EW_G, a constant in the main loops) or the tail, where
 * only the first m elements are read and the other lanes are 0. */
ZF_VINLINE void ew_load(zf_dtype t, const void *p, int64_t i, int64_t m, ZF_VEC *v) {
    _Pragma("GCC unroll 4") for (int j = 0; j < EW_U; j += 2) {
        int64_t c = m - j * ZF_VW;
        if (c >= 2 * ZF_VW) ZF_V(load_pair)(t, p, i + j * ZF_VW, &v[j], &v[j + 1]);
        else if (c > 0) ZF_V(load_pair_n)(t, p, i + j * ZF_VW, c, &v[j], &v[j + 1]);
        else v[j] = v[j + 1] = ZF_VZERO();
    }
}

/* nt: non-temporal stores (m = EW_G, p + i aligned as stream_head arranges) */
ZF_VINLINE void ew_store(zf_dtype t, void *p, int64_t i, int64_t m, const ZF_VEC *v, int nt) {
    _Pragma("GCC unroll 4") for (int j = 0; j < EW_U; j += 2) {
        int64_t c = m - j * ZF_VW;
        if (c >= 2 * ZF_VW) ZF_V(store_pair_arith)(t, p, i + j * ZF_VW, v[j], v[j + 1], nt);
        else if (c > 0) ZF_V(store_pair_n)(t, p, i + j * ZF_VW, c, v[j], v[j + 1]);
    }
}

/* Stage 1 of a tile: den = 1 + exp(-a) for m (<= EW_TILE) elements at i, in
 * ew_load's lane order. Kept apart from stage 2, this loop is short enough
 * for the core to overlap the long exp chains of successive groups, which
 * one loop doing everything per group does not get to. */
ZF_VINLINE void ew_den(zf_dtype t, const void *a, int64_t i, int64_t m, float *den) {
    for (int64_t g = 0; g < m; g += EW_G) {
        ZF_VEC x[EW_U], d[EW_U];
        ew_load(t, a, i + g, m - g < EW_G ? m - g : EW_G, x);
        ZF_V(silu_den_n)(x, d, EW_U);
        EW_EACH(j) ZF_VSTORE_F32A(den + g + j * ZF_VW, d[j]);
    }
}

/* Stage 2 (or the whole op, without silu): m elements at i. An output may be
 * one of the inputs (in place): a group is read before any of it is written,
 * and stage 1 reads only its own tile. */
ZF_VINLINE void ew_group(zf_dtype t, ew_kind k, const void *a, const void *b, const void *c, const float *den,
                         void *o0, void *o1, int64_t i, int64_t m, int nt) {
    ZF_VEC x[EW_U], y[EW_U], z[EW_U], d[EW_U], r0[EW_U], r1[EW_U];
    ew_load(t, a, i, m, x);
    if (ew_inputs(k) > 1) ew_load(t, b, i, m, y);
    if (ew_inputs(k) > 2) ew_load(t, c, i, m, z);
    if (ew_has_den(k)) EW_EACH(j) d[j] = ZF_VLOAD_F32A(den + j * ZF_VW);
    ew_math(t, k, x, y, z, d, r0, r1);
    ew_store(t, o0, i, m, r0, nt);
    if (ew_outputs(k) > 1) ew_store(t, o1, i, m, r1, nt);
}

/* Before a tile's exp stage: software prefetches of the next tile of a
 * (stage 1's input) and of this tile of b and c (stage 2's), so that the
 * DRAM streams keep flowing while the exp chains run; the hardware
 * prefetchers alone left bf16 swiglu at ~70% of the read-2-write-1
 * bandwidth (docs/PERF-CPU.md, session 15). Hints only: nothing is read. */
ZF_VINLINE void ew_prefetch(size_t es, const void *a, const void *b, const void *c, int64_t i, int64_t n) {
    const int64_t bytes = EW_TILE * (int64_t)es;
    const char *an = i + 2 * EW_TILE <= n ? (const char *)a + (i + EW_TILE) * (int64_t)es : NULL;
    const char *bt = b ? (const char *)b + i * (int64_t)es : NULL, *ct = c ? (const char *)c + i * (int64_t)es : NULL;
    for (int64_t q = 0; q < bytes; q += 64) {
        if (an) _mm_prefetch(an + q, _MM_HINT_T0);
        if (bt) _mm_prefetch(bt + q, _MM_HINT_T0);
        if (ct) _mm_prefetch(ct + q, _MM_HINT_T0);
    }
}

/* Elements [i, n) in tiles of EW_TILE; nt as for ew_store, from i on. */
ZF_VINLINE void ew_span(zf_dtype t, ew_kind k, const void *a, const void *b, const void *c, void *o0, void *o1,
                        int64_t i, int64_t n, int nt) {
    _Alignas(64) float den[EW_TILE];
    if (!ew_has_den(k)) {
        for (; i + EW_G <= n; i += EW_G) ew_group(t, k, a, b, c, NULL, o0, o1, i, EW_G, nt);
        if (i < n) ew_group(t, k, a, b, c, NULL, o0, o1, i, n - i, 0);
        return;
    }
    for (; i + EW_TILE <= n; i += EW_TILE) {
        ew_prefetch(t == ZF_DTYPE_F32 ? 4 : 2, a, ew_inputs(k) > 1 ? b : NULL, ew_inputs(k) > 2 ? c : NULL, i, n);
        ew_den(t, a, i, EW_TILE, den);
        for (int64_t g = 0; g < EW_TILE; g += EW_G) ew_group(t, k, a, b, c, den + g, o0, o1, i + g, EW_G, nt);
    }
    if (i == n) return;
    ew_den(t, a, i, n - i, den);
    for (int64_t g = 0; i + g < n; g += EW_G) {
        if (n - i - g >= EW_G) ew_group(t, k, a, b, c, den + g, o0, o1, i + g, EW_G, nt);
        else ew_group(t, k, a, b, c, den + g, o0, o1, i + g, n - i - g, 0);
    }
}

/* With stream set, outputs are stored non-temporally from the first element
 * where o0 (and o1 at the same offset) is aligned to 4 * ZF_VW bytes; *head
 * (< EW_G) elements before it go through the caches. 0, with *head left
 * alone, when that cannot be done: a span shorter than its head (the last
 * few elements of a row) must not run a head past its end. */
ZF_VINLINE int stream_head(zf_dtype t, const void *o0, const void *o1, int64_t n, int64_t *head) {
    uintptr_t es = t == ZF_DTYPE_F32 ? 4 : 2, align = 4 * ZF_VW, mis = (uintptr_t)o0 % align;
    if (mis % es || (o1 && (uintptr_t)o1 % align != mis)) return 0;
    const int64_t h = (int64_t)((align - mis) % align / es);
    if (h + EW_G > n) return 0;
    *head = h;
    return 1;
}

ZF_VINLINE void ew_loop(zf_dtype t, ew_kind k, const void *a, const void *b, const void *c, void *o0, void *o1,
                        int64_t n, int stream) {
    int64_t head = 0;
    int nt = stream && stream_head(t, o0, ew_outputs(k) > 1 ? o1 : NULL, n, &head);
    if (head) { /* fewer than EW_G elements, through the caches */
        _Alignas(64) float den[EW_G];
        if (ew_has_den(k)) ew_den(t, a, 0, head, den);
        ew_group(t, k, a, b, c, den, o0, o1, 0, head, 0);
    }
    ew_span(t, k, a, b, c, o0, o1, head, n, nt);
    if (nt) _mm_sfence(); /* order the streamed stores before the op returns */
}

/* One loop per dtype, each with t a constant. */
#define EW_DISPATCH(k, a, b, c, o0, o1, n)                                                    \
    switch (t) {                                                                               \
    case ZF_DTYPE_F16: ew_loop(ZF_DTYPE_F16, k, a, b, c, o0, o1, n, stream); break;             \
    case ZF_DTYPE_BF16: ew_loop(ZF_DTYPE_BF16, k, a, b, c, o0, o1, n, stream); break;           \
    default: ew_loop(ZF_DTYPE_F32, k, a, b, c, o0, o1, n, stream); break;                       \
    }

void ZF_V(add)(zf_dtype t, const void *a, const void *b, void *out, int64_t n, int stream) {
    EW_DISPATCH(EW_ADD, a, b, NULL, out, NULL, n)
}
void ZF_V(mul)(zf_dtype t, const void *a, const void *b, void *out, int64_t n, int stream) {
    EW_DISPATCH(EW_MUL, a, b, NULL, out, NULL, n)
}
void ZF_V(silu)(zf_dtype t, const void *x, void *out, int64_t n, int stream) {
    EW_DISPATCH(EW_SILU, x, NULL, NULL, out, NULL, n)
}
void ZF_V(silu_vjp)(zf_dtype t, const void *x, const void *d_out, void *d_x, int64_t n, int stream) {
    EW_DISPATCH(EW_SILU_VJP, x, d_out, NULL, d_x, NULL, n)
}
void ZF_V(swiglu_exact)(zf_dtype t, const void *g, const void *u, void *out, int64_t n, int stream) {
    EW_DISPATCH(EW_SWIGLU_EXACT, g, u, NULL, out, NULL, n)
}
void ZF_V(swiglu_fast)(zf_dtype t, const void *g, const void *u, void *out, int64_t n, int stream) {
    EW_DISPATCH(EW_SWIGLU_FAST, g, u, NULL, out, NULL, n)
}
void ZF_V(swiglu_vjp_exact)(zf_dtype t, const void *g, const void *u, const void *d_out, void *d_g, void *d_u,
                            int64_t n, int stream) {
    EW_DISPATCH(EW_VJP_EXACT, g, u, d_out, d_g, d_u, n)
}
void ZF_V(swiglu_vjp_fast)(zf_dtype t, const void *g, const void *u, const void *d_out, void *d_g, void *d_u,
                           int64_t n, int stream) {
    EW_DISPATCH(EW_VJP_FAST, g, u, d_out, d_g, d_u, n)
}

#undef EW_DISPATCH
#undef EW_EACH
#undef EW_TILE
#undef EW_G
#undef EW_U
