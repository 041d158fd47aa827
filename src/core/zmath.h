/* The library's own exp / sigmoid / silu (docs/NUMERICS.md, "Transcendentals").
 *
 * One fixed sequence of IEEE-754 binary32 operations with explicit fma. The
 * SIMD paths (src/cpu/simd_*.h) and CUDA (src/cuda/zmath.cuh) perform the
 * very same operations, so every path returns the same bits. Built with
 * -ffp-contract=off: no fma appears except where written. */
#ifndef ZF_CORE_ZMATH_H
#define ZF_CORE_ZMATH_H

#include <math.h>
#include <stdint.h>

#include "core/dtype.h"

/* Constants, as exact binary32 values. */
#define ZF_EXP_LO (-104.0f)                /* exp(x) rounds to +0 below this */
#define ZF_EXP_HI (89.0f)                  /* exp(x) overflows to +inf above 88.72 */
#define ZF_EXP_LOG2E 0x1.715476p+0f        /* log2(e) */
#define ZF_EXP_SHIFTER 0x1.8p23f           /* round-to-nearest-even by add/sub */
#define ZF_EXP_LN2_HI 0x1.62e4p-1f         /* ln2 high part (exact products) */
#define ZF_EXP_LN2_LO 0x1.7f7d1cp-20f      /* ln2 - LN2_HI */
/* Minimax polynomial for (e^r - 1 - r) / r^2 on |r| <= ln2/2 (+ slack). */
#define ZF_EXP_C5 0x1.a26762p-13f
#define ZF_EXP_C4 0x1.6d2bd0p-10f
#define ZF_EXP_C3 0x1.1115a4p-7f
#define ZF_EXP_C2 0x1.555564p-5f
#define ZF_EXP_C1 0x1.555556p-3f
#define ZF_EXP_C0 0x1.000000p-1f

/* 2^e for integer e in [-126, 127], built from bits. */
static inline float zf_pow2i(int32_t e) { return zf_bits_f32((uint32_t)(e + 127) << 23); }

static inline float zf_exp_scalar(float x) {
    /* clamp (NaN goes to the low end here and is restored at the end) */
    float xc = (x > ZF_EXP_LO) ? ((x < ZF_EXP_HI) ? x : ZF_EXP_HI) : ZF_EXP_LO;
    /* n = nearest integer to x*log2(e), ties to even */
    float t = xc * ZF_EXP_LOG2E;
    float n = (t + ZF_EXP_SHIFTER) - ZF_EXP_SHIFTER;
    /* r = x - n*ln2, in two exact-ish steps */
    float r = fmaf(n, -ZF_EXP_LN2_HI, xc);
    r = fmaf(n, -ZF_EXP_LN2_LO, r);
    /* e^r = 1 + r + r^2 * p(r) */
    float p = ZF_EXP_C5;
    p = fmaf(p, r, ZF_EXP_C4);
    p = fmaf(p, r, ZF_EXP_C3);
    p = fmaf(p, r, ZF_EXP_C2);
    p = fmaf(p, r, ZF_EXP_C1);
    p = fmaf(p, r, ZF_EXP_C0);
    float r2 = r * r;
    float y = fmaf(p, r2, r);
    y = y + 1.0f;
    /* scale by 2^n in two exact steps (n in [-150, 129]): the first product
     * is exact, the second rounds once (subnormal results) or overflows. */
    int32_t ni = (int32_t)n;
    int32_t e1 = (int32_t)(n * 0.5f); /* truncation toward zero */
    int32_t e2 = ni - e1;
    y = (y * zf_pow2i(e1)) * zf_pow2i(e2);
    return (x != x) ? x + x : y;
}

/* sigmoid(x) = 1 / (1 + exp(-x)) */
static inline float zf_sigmoid_scalar(float x) { return 1.0f / (1.0f + zf_exp_scalar(-x)); }

/* silu(x) = x / (1 + exp(-x)): one division, no separate sigmoid rounding. */
static inline float zf_silu_scalar(float x) { return x / (1.0f + zf_exp_scalar(-x)); }

/* d silu / dx = s * (1 + x * (1 - s)), s = sigmoid(x) */
static inline float zf_silu_grad_scalar(float x) {
    float s = zf_sigmoid_scalar(x);
    return s * (1.0f + x * (1.0f - s));
}

#endif
