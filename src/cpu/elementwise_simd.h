/* The elementwise kernels for one SIMD width, written once and included by
 * elementwise_avx2.c and elementwise_avx512.c. Before including, a file
 * defines:
 *   ZF_VEC            the vector type (__m256, __m512); ZF_VW its f32 lanes
 *   ZF_V(name)        its helper prefix (zf_avx2_##name) for simd_<isa>.h:
 *                     load_pair(_n), store_pair(_n), round_to, silu_n,
 *                     silu_den_n, silu_grad_n, silu_grad_from_den
 *   ZF_VZERO, ZF_VADD, ZF_VMUL, ZF_VDIV   lane-wise f32 operations
 *   ZF_VINLINE        "static inline, always inlined"
 * It defines the ZF_EW_KERNELS set named ZF_V(add), ZF_V(mul), ...
 *
 * Each lane performs exactly the scalar kernel's operations (elementwise.c),
 * so results are bit-identical to it. The dtype and the op are constants in
 * every inlined loop, so each (op, dtype) pair compiles to its own loop, and
 * EW_U vectors go through each step together (see simd_<isa>.h, "_n forms"). */

#define EW_U 4
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

/* The op on EW_U vectors, in the scalar kernel's order. The VJPs share one
 * den = 1 + exp(-g) between silu (g / den) and silu' (from 1 / den), as the
 * scalar code computes the same den twice. */
ZF_VINLINE void ew_math(zf_dtype t, ew_kind k, const ZF_VEC *a, const ZF_VEC *b, const ZF_VEC *c, ZF_VEC *o0,
                        ZF_VEC *o1) {
    ZF_VEC v[EW_U];
    switch (k) {
    case EW_ADD: EW_EACH(j) o0[j] = ZF_VADD(a[j], b[j]); break;
    case EW_MUL: EW_EACH(j) o0[j] = ZF_VMUL(a[j], b[j]); break;
    case EW_SILU: ZF_V(silu_n)(a, o0, EW_U); break;
    case EW_SILU_VJP:
        ZF_V(silu_grad_n)(a, v, EW_U);
        EW_EACH(j) o0[j] = ZF_VMUL(b[j], v[j]);
        break;
    case EW_SWIGLU_EXACT:
        ZF_V(silu_n)(a, v, EW_U);
        EW_EACH(j) o0[j] = ZF_VMUL(ZF_V(round_to)(t, v[j]), b[j]); /* T(T(silu(g)) * u) */
        break;
    case EW_SWIGLU_FAST:
        ZF_V(silu_n)(a, v, EW_U);
        EW_EACH(j) o0[j] = ZF_VMUL(v[j], b[j]);
        break;
    case EW_VJP_EXACT:
        ZF_V(silu_den_n)(a, v, EW_U);
        EW_EACH(j) {
            ZF_VEC s = ZF_V(round_to)(t, ZF_VDIV(a[j], v[j]));   /* s = T(silu(g)) */
            ZF_VEC ds = ZF_V(round_to)(t, ZF_VMUL(c[j], b[j]));  /* d_s = T(d * u) */
            o1[j] = ZF_VMUL(c[j], s);                            /* d_up = d * s */
            o0[j] = ZF_VMUL(ds, ZF_V(silu_grad_from_den)(a[j], v[j])); /* d_gate = d_s * silu'(g) */
        }
        break;
    case EW_VJP_FAST:
        ZF_V(silu_den_n)(a, v, EW_U);
        EW_EACH(j) {
            o1[j] = ZF_VMUL(c[j], ZF_VDIV(a[j], v[j]));
            o0[j] = ZF_VMUL(ZF_VMUL(c[j], b[j]), ZF_V(silu_grad_from_den)(a[j], v[j]));
        }
        break;
    }
}

/* m elements from i into EW_U vectors, as EW_U / 2 pairs (simd_<isa>.h):
 * a full group (m = EW_U * ZF_VW, a constant in the main loop) or the tail,
 * where only the first m elements are read and the other lanes are 0. */
ZF_VINLINE void ew_load(zf_dtype t, const void *p, int64_t i, int64_t m, ZF_VEC *v) {
    _Pragma("GCC unroll 4") for (int j = 0; j < EW_U; j += 2) {
        int64_t c = m - j * ZF_VW;
        if (c >= 2 * ZF_VW) ZF_V(load_pair)(t, p, i + j * ZF_VW, &v[j], &v[j + 1]);
        else if (c > 0) ZF_V(load_pair_n)(t, p, i + j * ZF_VW, c, &v[j], &v[j + 1]);
        else v[j] = v[j + 1] = ZF_VZERO();
    }
}

ZF_VINLINE void ew_store(zf_dtype t, void *p, int64_t i, int64_t m, const ZF_VEC *v) {
    _Pragma("GCC unroll 4") for (int j = 0; j < EW_U; j += 2) {
        int64_t c = m - j * ZF_VW;
        if (c >= 2 * ZF_VW) ZF_V(store_pair)(t, p, i + j * ZF_VW, v[j], v[j + 1]);
        else if (c > 0) ZF_V(store_pair_n)(t, p, i + j * ZF_VW, c, v[j], v[j + 1]);
    }
}

/* m elements at i. An output may be one of the inputs (in place): the whole
 * group is read before any of it is written. */
ZF_VINLINE void ew_group(zf_dtype t, ew_kind k, const void *a, const void *b, const void *c, void *o0, void *o1,
                         int64_t i, int64_t m) {
    ZF_VEC x[EW_U], y[EW_U], z[EW_U], r0[EW_U], r1[EW_U];
    ew_load(t, a, i, m, x);
    if (ew_inputs(k) > 1) ew_load(t, b, i, m, y);
    if (ew_inputs(k) > 2) ew_load(t, c, i, m, z);
    ew_math(t, k, x, y, z, r0, r1);
    ew_store(t, o0, i, m, r0);
    if (ew_outputs(k) > 1) ew_store(t, o1, i, m, r1);
}

ZF_VINLINE void ew_loop(zf_dtype t, ew_kind k, const void *a, const void *b, const void *c, void *o0, void *o1,
                        int64_t n) {
    const int64_t g = EW_U * ZF_VW;
    int64_t i = 0;
    for (; i + g <= n; i += g) ew_group(t, k, a, b, c, o0, o1, i, g);
    if (i < n) ew_group(t, k, a, b, c, o0, o1, i, n - i);
}

/* One loop per dtype, each with t a constant. */
#define EW_DISPATCH(k, a, b, c, o0, o1, n)                                                    \
    switch (t) {                                                                               \
    case ZF_DTYPE_F16: ew_loop(ZF_DTYPE_F16, k, a, b, c, o0, o1, n); break;                     \
    case ZF_DTYPE_BF16: ew_loop(ZF_DTYPE_BF16, k, a, b, c, o0, o1, n); break;                   \
    default: ew_loop(ZF_DTYPE_F32, k, a, b, c, o0, o1, n); break;                               \
    }

void ZF_V(add)(zf_dtype t, const void *a, const void *b, void *out, int64_t n) {
    EW_DISPATCH(EW_ADD, a, b, NULL, out, NULL, n)
}
void ZF_V(mul)(zf_dtype t, const void *a, const void *b, void *out, int64_t n) {
    EW_DISPATCH(EW_MUL, a, b, NULL, out, NULL, n)
}
void ZF_V(silu)(zf_dtype t, const void *x, void *out, int64_t n) { EW_DISPATCH(EW_SILU, x, NULL, NULL, out, NULL, n) }
void ZF_V(silu_vjp)(zf_dtype t, const void *x, const void *d_out, void *d_x, int64_t n) {
    EW_DISPATCH(EW_SILU_VJP, x, d_out, NULL, d_x, NULL, n)
}
void ZF_V(swiglu_exact)(zf_dtype t, const void *g, const void *u, void *out, int64_t n) {
    EW_DISPATCH(EW_SWIGLU_EXACT, g, u, NULL, out, NULL, n)
}
void ZF_V(swiglu_fast)(zf_dtype t, const void *g, const void *u, void *out, int64_t n) {
    EW_DISPATCH(EW_SWIGLU_FAST, g, u, NULL, out, NULL, n)
}
void ZF_V(swiglu_vjp_exact)(zf_dtype t, const void *g, const void *u, const void *d_out, void *d_g, void *d_u,
                            int64_t n) {
    EW_DISPATCH(EW_VJP_EXACT, g, u, d_out, d_g, d_u, n)
}
void ZF_V(swiglu_vjp_fast)(zf_dtype t, const void *g, const void *u, const void *d_out, void *d_g, void *d_u,
                           int64_t n) {
    EW_DISPATCH(EW_VJP_FAST, g, u, d_out, d_g, d_u, n)
}

#undef EW_DISPATCH
#undef EW_EACH
#undef EW_U
