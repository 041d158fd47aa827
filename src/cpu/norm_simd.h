/* The norm row kernels for one SIMD width, written once and included by
 * norm_avx2.c and norm_avx512.c. Before including, a file defines what
 * elementwise_simd.h needs (ZF_VEC, ZF_VW, ZF_V(name), ZF_VINLINE, ZF_VSET1,
 * ZF_VADD, ZF_VSUB, ZF_VMUL) and:
 *   ZF_VFMA(a, b, c)           fma on every lane
 *   ZF_VFMA_FIRST(a, b, c, m)  fma on lanes < m; lanes >= m keep c
 *   ZF_VSTORE_F32(p, v)        store the f32 lanes to p
 *   ZF_VSTREAM(t, p, i, v)     store ZF_VW elements at i, non-temporally (p + i
 *                              aligned to ZF_VW elements)
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

/* The value the forward normalises at i (m < ZF_VW: a partial vector). The
 * exact mode stores it to h here (store_h), rounded, for pass 2 to read back. */
ZF_VINLINE ZF_VEC fwd_value(int mode, zf_dtype t, const void *x, const void *r, void *h, int store_h, int64_t i,
                            int64_t m) {
    ZF_VEC v = ld(t, x, i, m);
    if (mode == ROW_PLAIN) return v;
    v = ZF_VADD(v, ld(t, r, i, m));
    if (mode == ROW_ADD_FAST) return v;
    if (store_h) st(t, h, i, m, v);
    return ZF_V(round_to)(t, v);
}

ZF_VINLINE float fwd_sum_squares(int mode, zf_dtype t, const void *x, const void *r, void *h, int store_h,
                                 int64_t n) {
    ZF_VEC acc[ZF_NV];
    for (int k = 0; k < ZF_NV; k++) acc[k] = ZF_VSET1(0.0f);
    int64_t i = 0;
    for (; i + 256 <= n; i += 256)
        for (int k = 0; k < ZF_NV; k++) {
            ZF_VEC v = fwd_value(mode, t, x, r, h, store_h, i + k * ZF_VW, ZF_VW);
            acc[k] = ZF_VFMA(v, v, acc[k]);
        }
    for (int k = 0; i + k * ZF_VW < n; k++) {
        int64_t m = n - (i + k * ZF_VW);
        ZF_VEC v = fwd_value(mode, t, x, r, h, store_h, i + k * ZF_VW, m);
        acc[k] = m < ZF_VW ? ZF_VFMA_FIRST(v, v, acc[k], m) : ZF_VFMA(v, v, acc[k]);
    }
    return l256_tree(acc);
}

/* y for ZF_VW elements at i, or m < ZF_VW of them. Exact either reads h
 * back (hback: stored in pass 1) or, like fast, recomputes x + r and writes
 * h here: x and r are intact until then, so h may be either of them.
 * nt: the row's outputs are vector-aligned and y (and a recomputed h) are
 * written non-temporally. */
ZF_VINLINE void fwd_store(int mode, zf_dtype t, const void *x, const void *r, const void *w, ZF_VEC inv, void *y,
                          void *h, int64_t i, int64_t m, int nt, int hback) {
    ZF_VEC wi = ld(t, w, i, m), out, v;
    if (mode == ROW_PLAIN || hback) {
        v = ld(t, mode == ROW_PLAIN ? x : h, i, m); /* a T value */
    } else {
        v = ZF_VADD(ld(t, x, i, m), ld(t, r, i, m));
        if (nt) ZF_VSTREAM(t, h, i, v);
        else st(t, h, i, m, v);
        if (mode == ROW_ADD_EXACT) v = ZF_V(round_to)(t, v);
    }
    if (mode == ROW_ADD_FAST) out = ZF_VMUL(ZF_VMUL(v, inv), wi);
    else out = ZF_VMUL(ZF_V(round_to)(t, ZF_VMUL(v, inv)), wi);
    if (nt) ZF_VSTREAM(t, y, i, out);
    else st(t, y, i, m, out);
}

ZF_VINLINE int vec_aligned(zf_dtype t, const void *p) {
    return (uintptr_t)p % (ZF_VW * (t == ZF_DTYPE_F32 ? 4u : 2u)) == 0;
}

ZF_VINLINE void fwd_row(int mode, zf_dtype t, const void *x, const void *r, const void *w, float eps, void *y,
                        void *h, int64_t n, int stream) {
    int nt = stream && n % ZF_VW == 0 && vec_aligned(t, y) && (mode == ROW_PLAIN || vec_aligned(t, h));
    /* exact recomputes T(x + r) only where that is cheap (f32) and saves a
     * cached write of h (nt); for f16/bf16 the second rounding costs more */
    int hback = mode == ROW_ADD_EXACT && !(nt && t == ZF_DTYPE_F32);
    ZF_VEC inv = ZF_VSET1(inv_rms(fwd_sum_squares(mode, t, x, r, h, hback, n), n, eps));
    int64_t i = 0;
    if (nt) {
        for (; i < n; i += ZF_VW) fwd_store(mode, t, x, r, w, inv, y, h, i, ZF_VW, 1, hback);
        _mm_sfence(); /* order the streamed stores before the op returns */
        return;
    }
    for (; i + ZF_VW <= n; i += ZF_VW) fwd_store(mode, t, x, r, w, inv, y, h, i, ZF_VW, 0, hback);
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
