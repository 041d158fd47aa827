/* The norm row kernels for one SIMD width, written once and included by
 * norm_avx2.c and norm_avx512.c. Before including, a file defines what
 * elementwise_simd.h needs (ZF_VEC, ZF_VW, ZF_V(name), ZF_VINLINE, ZF_VSET1,
 * ZF_VADD, ZF_VSUB, ZF_VMUL) and:
 *   ZF_VFMA(a, b, c)           fma on every lane
 *   ZF_VFMA_FIRST(a, b, c, m)  fma on lanes < m; lanes >= m keep c
 *   ZF_VSTORE_F32(p, v)        store the f32 lanes to p
 *
 * The L256 lanes sit in 256 / ZF_VW vectors: element i goes to lane i % 256,
 * i.e. vector (i % 256) / ZF_VW, so each lane sees the scalar kernel's fma
 * sequence; the tree adds whole vectors down to ZF_VW lanes, then finishes in
 * scalar. Every other step is the scalar kernel's operation, lane by lane
 * (norm.c), so the bits are the same. */
#include <math.h>
#include <stdint.h>

#include "cpu/kernels.h"
#include "cpu/norm.h"

#define ZF_NV (256 / ZF_VW)

enum { ROW_PLAIN, ROW_ADD_EXACT, ROW_ADD_FAST };

ZF_VINLINE float l256_tree(ZF_VEC *acc) {
    for (int s = ZF_NV / 2; s >= 1; s >>= 1)
        for (int k = 0; k < s; k++) acc[k] = ZF_VADD(acc[k], acc[k + s]);
    float l[ZF_VW];
    ZF_VSTORE_F32(l, acc[0]);
    for (int s = ZF_VW / 2; s >= 1; s >>= 1)
        for (int k = 0; k < s; k++) l[k] = l[k] + l[k + s];
    return l[0];
}

/* ZF_VW elements at i, or the first m < ZF_VW of them */
ZF_VINLINE ZF_VEC ld(zf_dtype t, const void *p, int64_t i, int64_t m) {
    return m < ZF_VW ? ZF_V(load_n)(t, p, i, m) : ZF_V(load)(t, p, i);
}
ZF_VINLINE void st(zf_dtype t, void *p, int64_t i, int64_t m, ZF_VEC v) {
    if (m < ZF_VW) ZF_V(store_n)(t, p, i, m, v);
    else ZF_V(store)(t, p, i, v);
}

ZF_VINLINE float inv_rms(float ss, int64_t n, float eps) { return 1.0f / sqrtf(ss / (float)n + eps); }

/* ---- forward: pairs of vectors (simd_<isa>.h), ZF_PW elements a step ----
 * A bf16 pair holds the even elements in its first vector and the odd ones
 * in its second (no shuffles), so the L256 accumulators are kept in pair
 * order and pair_tree restores the canonical lanes before they meet. Results
 * round with simd_<isa>.h's arithmetic-result forms: every input is a T value
 * (w has x's dtype), so the bits are the scalar kernel's. */

#define ZF_PW (2 * ZF_VW)

/* The L256 tree over accumulators in pair order: acc[2q + e] holds, for pair
 * q of a 256-element block, the even (e = 0) and odd (e = 1) elements (bf16)
 * or the first and second halves (f32, f16). Lanes s >= ZF_PW apart sit in
 * the same position of vectors s / ZF_VW apart, so those steps are vector
 * adds; the last ZF_PW lanes go to canonical order for the scalar steps. */
ZF_VINLINE float pair_tree(zf_dtype t, ZF_VEC *acc) {
    for (int s = ZF_NV / 2; s >= 2; s >>= 1)
        for (int k = 0; k < s; k++) acc[k] = ZF_VADD(acc[k], acc[k + s]);
    float a[ZF_VW], b[ZF_VW], l[ZF_PW];
    ZF_VSTORE_F32(a, acc[0]);
    ZF_VSTORE_F32(b, acc[1]);
    for (int j = 0; j < ZF_VW; j++) {
        l[t == ZF_DTYPE_BF16 ? 2 * j : j] = a[j];
        l[t == ZF_DTYPE_BF16 ? 2 * j + 1 : ZF_VW + j] = b[j];
    }
    for (int s = ZF_VW; s >= 1; s >>= 1)
        for (int k = 0; k < s; k++) l[k] = l[k] + l[k + s];
    return l[0];
}

ZF_VINLINE void ld_pair(zf_dtype t, const void *p, int64_t i, int64_t m, ZF_VEC *v0, ZF_VEC *v1) {
    if (m < ZF_PW) ZF_V(load_pair_n)(t, p, i, m, v0, v1);
    else ZF_V(load_pair)(t, p, i, v0, v1);
}

/* T(v0), T(v1) in place, stored at p + i (m elements; nt: non-temporally) */
ZF_VINLINE void round_store_pair(zf_dtype t, void *p, int64_t i, int64_t m, ZF_VEC *v0, ZF_VEC *v1, int nt) {
    if (m < ZF_PW) {
        *v0 = ZF_V(round_arith)(t, *v0);
        *v1 = ZF_V(round_arith)(t, *v1);
        ZF_V(store_pair_n)(t, p, i, m, *v0, *v1);
    } else {
        ZF_V(round_store_pair)(t, p, i, v0, v1, nt);
    }
}

ZF_VINLINE void st_pair(zf_dtype t, void *p, int64_t i, int64_t m, ZF_VEC v0, ZF_VEC v1, int nt) {
    if (m < ZF_PW) ZF_V(store_pair_n)(t, p, i, m, v0, v1);
    else ZF_V(store_pair_arith)(t, p, i, v0, v1, nt);
}

/* The values the forward normalises at i (m < ZF_PW: a partial pair, zero
 * beyond). The exact mode stores them to h here (store_h), rounded, for
 * pass 2 to read back. */
ZF_VINLINE void fwd_value(int mode, zf_dtype t, const void *x, const void *r, void *h, int store_h, int64_t i,
                          int64_t m, ZF_VEC *v0, ZF_VEC *v1) {
    ld_pair(t, x, i, m, v0, v1);
    if (mode == ROW_PLAIN) return;
    ZF_VEC r0, r1;
    ld_pair(t, r, i, m, &r0, &r1);
    *v0 = ZF_VADD(*v0, r0);
    *v1 = ZF_VADD(*v1, r1);
    if (mode == ROW_ADD_FAST) return;
    if (store_h) {
        round_store_pair(t, h, i, m, v0, v1, 0);
    } else {
        *v0 = ZF_V(round_arith)(t, *v0);
        *v1 = ZF_V(round_arith)(t, *v1);
    }
}

/* Sum of squares: lanes past the end of a partial pair see fma(0, 0, acc),
 * which leaves acc as it is (acc is never -0: it is +0 plus squares). */
ZF_VINLINE float fwd_sum_squares(int mode, zf_dtype t, const void *x, const void *r, void *h, int store_h,
                                 int64_t n) {
    ZF_VEC acc[ZF_NV];
    for (int k = 0; k < ZF_NV; k++) acc[k] = ZF_VSET1(0.0f);
    int64_t i = 0;
    for (; i + 256 <= n; i += 256)
        for (int k = 0; k < ZF_NV; k += 2) {
            ZF_VEC v0, v1;
            fwd_value(mode, t, x, r, h, store_h, i + k * ZF_VW, ZF_PW, &v0, &v1);
            acc[k] = ZF_VFMA(v0, v0, acc[k]);
            acc[k + 1] = ZF_VFMA(v1, v1, acc[k + 1]);
        }
    for (int k = 0; i + k * ZF_VW < n; k += 2) {
        int64_t m = n - (i + k * ZF_VW);
        ZF_VEC v0, v1;
        fwd_value(mode, t, x, r, h, store_h, i + k * ZF_VW, m < ZF_PW ? m : ZF_PW, &v0, &v1);
        acc[k] = ZF_VFMA(v0, v0, acc[k]);
        acc[k + 1] = ZF_VFMA(v1, v1, acc[k + 1]);
    }
    return pair_tree(t, acc);
}

/* y for ZF_PW elements at i, or m < ZF_PW of them. Exact either reads h
 * back (hback: stored in pass 1) or, like fast, recomputes x + r and writes
 * h here: x and r are intact until then, so h may be either of them.
 * nt: the row's outputs are pair-aligned and y (and a recomputed h) are
 * written non-temporally. */
ZF_VINLINE void fwd_store(int mode, zf_dtype t, const void *x, const void *r, const void *w, ZF_VEC inv, void *y,
                          void *h, int64_t i, int64_t m, int nt, int hback) {
    ZF_VEC w0, w1, v0, v1;
    ld_pair(t, w, i, m, &w0, &w1);
    if (mode == ROW_PLAIN || hback) {
        ld_pair(t, mode == ROW_PLAIN ? x : h, i, m, &v0, &v1); /* T values */
    } else {
        ZF_VEC r0, r1;
        ld_pair(t, x, i, m, &v0, &v1);
        ld_pair(t, r, i, m, &r0, &r1);
        v0 = ZF_VADD(v0, r0);
        v1 = ZF_VADD(v1, r1);
        if (mode == ROW_ADD_EXACT) round_store_pair(t, h, i, m, &v0, &v1, nt);
        else st_pair(t, h, i, m, v0, v1, nt);
    }
    if (mode == ROW_ADD_FAST) {
        v0 = ZF_VMUL(ZF_VMUL(v0, inv), w0);
        v1 = ZF_VMUL(ZF_VMUL(v1, inv), w1);
    } else {
        v0 = ZF_VMUL(ZF_V(round_arith)(t, ZF_VMUL(v0, inv)), w0);
        v1 = ZF_VMUL(ZF_V(round_arith)(t, ZF_VMUL(v1, inv)), w1);
    }
    st_pair(t, y, i, m, v0, v1, nt);
}

ZF_VINLINE int pair_aligned(const void *p) { return (uintptr_t)p % (4 * ZF_VW) == 0; }

ZF_VINLINE void fwd_row(int mode, zf_dtype t, const void *x, const void *r, const void *w, float eps, void *y,
                        void *h, int64_t n, int stream) {
    int nt = stream && n % ZF_PW == 0 && pair_aligned(y) && (mode == ROW_PLAIN || pair_aligned(h));
    /* exact recomputes T(x + r) only where that is cheap (f32) and saves a
     * cached write of h (nt); for f16/bf16 the second rounding costs more */
    int hback = mode == ROW_ADD_EXACT && !(nt && t == ZF_DTYPE_F32);
    ZF_VEC inv = ZF_VSET1(inv_rms(fwd_sum_squares(mode, t, x, r, h, hback, n), n, eps));
    int64_t i = 0;
    if (nt) {
        for (; i < n; i += ZF_PW) fwd_store(mode, t, x, r, w, inv, y, h, i, ZF_PW, 1, hback);
        _mm_sfence(); /* order the streamed stores before the op returns */
        return;
    }
    for (; i + ZF_PW <= n; i += ZF_PW) fwd_store(mode, t, x, r, w, inv, y, h, i, ZF_PW, 0, hback);
    if (i < n) fwd_store(mode, t, x, r, w, inv, y, h, i, n - i, 0, hback);
}

/* one exported kernel per mode; the dtype becomes a constant in each loop */
#define ZF_NORM_FWD_DISPATCH(mode)                                                                             \
    switch (t) {                                                                                               \
    case ZF_DTYPE_F16: fwd_row(mode, ZF_DTYPE_F16, x, r, w, eps, y, h, n, stream); break;                      \
    case ZF_DTYPE_BF16: fwd_row(mode, ZF_DTYPE_BF16, x, r, w, eps, y, h, n, stream); break;                    \
    default: fwd_row(mode, ZF_DTYPE_F32, x, r, w, eps, y, h, n, stream); break;                                \
    }

void ZF_V(rms_norm)(zf_dtype t, const void *x, const void *w, float eps, void *y, int64_t n, int stream) {
    const void *r = NULL;
    void *h = NULL;
    ZF_NORM_FWD_DISPATCH(ROW_PLAIN)
}
void ZF_V(add_rms_norm_exact)(zf_dtype t, const void *x, const void *r, const void *w, float eps, void *y, void *h,
                              int64_t n, int stream) {
    ZF_NORM_FWD_DISPATCH(ROW_ADD_EXACT)
}
void ZF_V(add_rms_norm_fast)(zf_dtype t, const void *x, const void *r, const void *w, float eps, void *y, void *h,
                             int64_t n, int stream) {
    ZF_NORM_FWD_DISPATCH(ROW_ADD_FAST)
}

/* ---- VJP ------------------------------------------------------------------ */

/* ss = L256(x, x) and dot = L256(d_y * w, x) in one pass */
ZF_VINLINE void vjp_sums(zf_dtype t, const void *x, const void *w, const void *d_y, int64_t n, float *ss, float *dot) {
    ZF_VEC sa[ZF_NV], da[ZF_NV];
    for (int k = 0; k < ZF_NV; k++) sa[k] = da[k] = ZF_VSET1(0.0f);
    int64_t i = 0;
    for (; i + 256 <= n; i += 256)
        for (int k = 0; k < ZF_NV; k++) {
            int64_t j = i + k * ZF_VW;
            ZF_VEC xv = ZF_V(load)(t, x, j), g = ZF_VMUL(ZF_V(load)(t, d_y, j), ZF_V(load)(t, w, j));
            sa[k] = ZF_VFMA(xv, xv, sa[k]);
            da[k] = ZF_VFMA(g, xv, da[k]);
        }
    for (int k = 0; i + k * ZF_VW < n; k++) {
        int64_t j = i + k * ZF_VW, m = n - j;
        ZF_VEC xv = ld(t, x, j, m), g = ZF_VMUL(ld(t, d_y, j, m), ld(t, w, j, m));
        sa[k] = m < ZF_VW ? ZF_VFMA_FIRST(xv, xv, sa[k], m) : ZF_VFMA(xv, xv, sa[k]);
        da[k] = m < ZF_VW ? ZF_VFMA_FIRST(g, xv, da[k], m) : ZF_VFMA(g, xv, da[k]);
    }
    *ss = l256_tree(sa);
    *dot = l256_tree(da);
}

ZF_VINLINE void vjp_store(int fast, zf_dtype t, const void *x, const void *w, ZF_VEC inv, ZF_VEC c, const void *d_y,
                          const void *d_h, void *d_x, float *dw_acc, int64_t i, int64_t m) {
    ZF_VEC xv = ld(t, x, i, m), dy = ld(t, d_y, i, m);
    ZF_VEC g = ZF_VMUL(dy, ld(t, w, i, m));
    ZF_VEC d = ZF_VSUB(ZF_VMUL(inv, g), ZF_VMUL(c, xv));
    if (d_h) d = ZF_VADD(fast ? d : ZF_V(round_to)(t, d), ld(t, d_h, i, m));
    if (dw_acc) {
        ZF_VEC p = ZF_VFMA(dy, ZF_V(round_to)(t, ZF_VMUL(xv, inv)), ld(ZF_DTYPE_F32, dw_acc, i, m));
        st(ZF_DTYPE_F32, dw_acc, i, m, p);
    }
    st(t, d_x, i, m, d);
}

ZF_VINLINE void vjp_row(int fast, zf_dtype t, const void *x, const void *w, float eps, const void *d_y,
                        const void *d_h, void *d_x, float *dw_acc, int64_t n) {
    float ss, dot;
    vjp_sums(t, x, w, d_y, n, &ss, &dot);
    float inv = inv_rms(ss, n, eps);
    ZF_VEC vinv = ZF_VSET1(inv), c = ZF_VSET1((dot / (float)n) * ((inv * inv) * inv));
    int64_t i = 0;
    for (; i + ZF_VW <= n; i += ZF_VW) vjp_store(fast, t, x, w, vinv, c, d_y, d_h, d_x, dw_acc, i, ZF_VW);
    if (i < n) vjp_store(fast, t, x, w, vinv, c, d_y, d_h, d_x, dw_acc, i, n - i);
}

#define ZF_NORM_VJP_DISPATCH(fast)                                                                             \
    switch (t) {                                                                                               \
    case ZF_DTYPE_F16: vjp_row(fast, ZF_DTYPE_F16, x, w, eps, d_y, d_h, d_x, dw_acc, n); break;                \
    case ZF_DTYPE_BF16: vjp_row(fast, ZF_DTYPE_BF16, x, w, eps, d_y, d_h, d_x, dw_acc, n); break;              \
    default: vjp_row(fast, ZF_DTYPE_F32, x, w, eps, d_y, d_h, d_x, dw_acc, n); break;                          \
    }

void ZF_V(rms_norm_vjp)(zf_dtype t, const void *x, const void *w, float eps, const void *d_y, const void *d_h,
                        void *d_x, float *dw_acc, int64_t n) {
    ZF_NORM_VJP_DISPATCH(0)
}
void ZF_V(add_rms_norm_vjp_fast)(zf_dtype t, const void *x, const void *w, float eps, const void *d_y,
                                 const void *d_h, void *d_x, float *dw_acc, int64_t n) {
    ZF_NORM_VJP_DISPATCH(1)
}
