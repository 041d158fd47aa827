/* AVX-512 (F/BW/VL) helpers shared by the CPU kernels compiled for AVX-512
 * (files named *_avx512.c): loads and stores of f32/f16/bf16 rows as 16 f32
 * lanes (masked for partial vectors), and the library's exp/sigmoid/silu on
 * 16 lanes.
 *
 * Every helper performs the same IEEE operations as its scalar twin in
 * src/core/dtype.h and src/core/zmath.h, in the same order, so a vector
 * lane and the scalar code give the same bits. Only F/BW/VL instructions are
 * used (what zf_cpu_isa_detected() checks), none from DQ. */
#ifndef ZF_CPU_SIMD_AVX512_H
#define ZF_CPU_SIMD_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#include "core/zmath.h"

#define ZF_AVX512_INLINE static inline __attribute__((always_inline))

/* Mask of the first n (0..16) lanes. */
ZF_AVX512_INLINE __mmask16 zf_avx512_first(int64_t n) { return (__mmask16)((1u << n) - 1u); }

/* ---- loads: 16 elements at p (masked: lanes past n are 0) ------------------- */

ZF_AVX512_INLINE __m512 zf_avx512_load_f32(const float *p) { return _mm512_loadu_ps(p); }
ZF_AVX512_INLINE __m512 zf_avx512_load_f16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
/* bf16 is the top half of an f32. */
ZF_AVX512_INLINE __m512 zf_avx512_bf16_from_bits(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
ZF_AVX512_INLINE __m512 zf_avx512_load_bf16(const uint16_t *p) {
    return zf_avx512_bf16_from_bits(_mm256_loadu_si256((const __m256i *)p));
}

/* ---- f32 -> T bits, round to nearest even --------------------------------- */

/* As zf_cvt_f32_f16: overflow to inf, RNE subnormals, NaN -> sign | 0x7e00 |
 * top payload bits (inputs here are quiet NaNs). */
ZF_AVX512_INLINE __m256i zf_avx512_cvt_f16(__m512 v) { return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT); }

/* As zf_cvt_f32_bf16, the bf16 in the top half of each 32-bit lane (low
 * half: leftover bits): add 0x7fff + lsb; NaN keeps its top half, quieted. */
ZF_AVX512_INLINE __m512i zf_avx512_bf16_top(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    __m512i qnan = _mm512_or_si512(u, _mm512_set1_epi32(0x400000));
    return _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), r, qnan);
}

/* zf_avx512_bf16_top without the NaN select, for a value computed by IEEE
 * arithmetic from bf16 inputs (a bf16 elementwise or norm result). Such a
 * NaN is quiet and its low half is zero: x86 arithmetic returns an operand's
 * NaN quieted (bf16 widens with a zero low half) or 0xffc00000, so adding
 * 0x7fff + lsb leaves its top half, which the scalar rule keeps. Not for raw
 * loaded values or f32/f16 data, whose NaN payloads reach the low half. */
ZF_AVX512_INLINE __m512i zf_avx512_bf16_top_arith(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    return _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb);
}

/* 16 bf16 bit patterns in the low halves of 32-bit lanes. */
ZF_AVX512_INLINE __m512i zf_avx512_cvt_bf16_lanes(__m512 v) { return _mm512_srli_epi32(zf_avx512_bf16_top(v), 16); }
ZF_AVX512_INLINE __m256i zf_avx512_cvt_bf16(__m512 v) { return _mm512_cvtepi32_epi16(zf_avx512_cvt_bf16_lanes(v)); }

/* ---- stores: 16 elements at p ---------------------------------------------- */

ZF_AVX512_INLINE void zf_avx512_store_f32(float *p, __m512 v) { _mm512_storeu_ps(p, v); }
ZF_AVX512_INLINE void zf_avx512_store_f16(uint16_t *p, __m512 v) {
    _mm256_storeu_si256((__m256i *)p, zf_avx512_cvt_f16(v));
}
ZF_AVX512_INLINE void zf_avx512_store_bf16(uint16_t *p, __m512 v) {
    _mm256_storeu_si256((__m256i *)p, zf_avx512_cvt_bf16(v));
}

/* Round through T and back: the "materialise in T" point of a stock op. */
ZF_AVX512_INLINE __m512 zf_avx512_round_f16(__m512 v) { return _mm512_cvtph_ps(zf_avx512_cvt_f16(v)); }
ZF_AVX512_INLINE __m512 zf_avx512_round_bf16(__m512 v) {
    return _mm512_castsi512_ps(_mm512_and_si512(zf_avx512_bf16_top(v), _mm512_set1_epi32((int)0xffff0000u)));
}

/* ---- dtype-generic forms (t is a constant at every call after inlining) ---- */

ZF_AVX512_INLINE __m512 zf_avx512_load(zf_dtype t, const void *p, int64_t i) {
    switch (t) {
    case ZF_DTYPE_F16: return zf_avx512_load_f16((const uint16_t *)p + i);
    case ZF_DTYPE_BF16: return zf_avx512_load_bf16((const uint16_t *)p + i);
    default: return zf_avx512_load_f32((const float *)p + i);
    }
}

ZF_AVX512_INLINE void zf_avx512_store(zf_dtype t, void *p, int64_t i, __m512 v) {
    switch (t) {
    case ZF_DTYPE_F16: zf_avx512_store_f16((uint16_t *)p + i, v); break;
    case ZF_DTYPE_BF16: zf_avx512_store_bf16((uint16_t *)p + i, v); break;
    default: zf_avx512_store_f32((float *)p + i, v); break;
    }
}

/* Partial vectors: only the first n (<= 16) elements are read or written;
 * masked-off lanes never fault. */
ZF_AVX512_INLINE __m512 zf_avx512_load_n(zf_dtype t, const void *p, int64_t i, int64_t n) {
    __mmask16 m = zf_avx512_first(n);
    switch (t) {
    case ZF_DTYPE_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i));
    case ZF_DTYPE_BF16: return zf_avx512_bf16_from_bits(_mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i));
    default: return _mm512_maskz_loadu_ps(m, (const float *)p + i);
    }
}

ZF_AVX512_INLINE void zf_avx512_store_n(zf_dtype t, void *p, int64_t i, int64_t n, __m512 v) {
    __mmask16 m = zf_avx512_first(n);
    switch (t) {
    case ZF_DTYPE_F16: _mm256_mask_storeu_epi16((uint16_t *)p + i, m, zf_avx512_cvt_f16(v)); break;
    case ZF_DTYPE_BF16: _mm256_mask_storeu_epi16((uint16_t *)p + i, m, zf_avx512_cvt_bf16(v)); break;
    default: _mm512_mask_storeu_ps((float *)p + i, m, v); break;
    }
}

ZF_AVX512_INLINE __m512 zf_avx512_round_to(zf_dtype t, __m512 v) {
    switch (t) {
    case ZF_DTYPE_F16: return zf_avx512_round_f16(v);
    case ZF_DTYPE_BF16: return zf_avx512_round_bf16(v);
    default: return v;
    }
}

/* zf_avx512_round_to for an arithmetic result (see zf_avx512_bf16_top_arith) */
ZF_AVX512_INLINE __m512 zf_avx512_round_arith(zf_dtype t, __m512 v) {
    switch (t) {
    case ZF_DTYPE_F16: return zf_avx512_round_f16(v);
    case ZF_DTYPE_BF16:
        return _mm512_castsi512_ps(_mm512_and_si512(zf_avx512_bf16_top_arith(v), _mm512_set1_epi32((int)0xffff0000u)));
    default: return v;
    }
}

/* ---- pairs: 32 elements in an order only the pair store restores ---------- */

/* For elementwise work, where a lane need not hold a given element: f32 and
 * f16 come in order; bf16 is split into even elements (v0) and odd ones
 * (v1), one 64-byte load and two bit operations, with no shuffles. */
ZF_AVX512_INLINE void zf_avx512_bf16_split(__m512i w, __m512 *v0, __m512 *v1) {
    *v0 = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    *v1 = _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32((int)0xffff0000u)));
}

ZF_AVX512_INLINE __m512i zf_avx512_bf16_join(__m512 v0, __m512 v1) {
    /* even 16-bit words from v0's tops, odd ones from v1's */
    return _mm512_mask_blend_epi16(0xaaaaaaaau, _mm512_srli_epi32(zf_avx512_bf16_top(v0), 16), zf_avx512_bf16_top(v1));
}

ZF_AVX512_INLINE void zf_avx512_load_pair(zf_dtype t, const void *p, int64_t i, __m512 *v0, __m512 *v1) {
    if (t == ZF_DTYPE_BF16) {
        zf_avx512_bf16_split(_mm512_loadu_si512((const uint16_t *)p + i), v0, v1);
        return;
    }
    *v0 = zf_avx512_load(t, p, i);
    *v1 = zf_avx512_load(t, p, i + 16);
}

ZF_AVX512_INLINE void zf_avx512_store_pair(zf_dtype t, void *p, int64_t i, __m512 v0, __m512 v1) {
    if (t == ZF_DTYPE_BF16) {
        _mm512_storeu_si512((uint16_t *)p + i, zf_avx512_bf16_join(v0, v1));
        return;
    }
    zf_avx512_store(t, p, i, v0);
    zf_avx512_store(t, p, i + 16, v1);
}

/* zf_avx512_store_pair for arithmetic results (zf_avx512_bf16_top_arith);
 * nt: non-temporal stores, p + i aligned to 64 bytes. */
ZF_AVX512_INLINE void zf_avx512_store_pair_arith(zf_dtype t, void *p, int64_t i, __m512 v0, __m512 v1, int nt) {
    if (t == ZF_DTYPE_BF16) {
        __m512i w = _mm512_mask_blend_epi16(0xaaaaaaaau, _mm512_srli_epi32(zf_avx512_bf16_top_arith(v0), 16),
                                            zf_avx512_bf16_top_arith(v1));
        if (nt) _mm512_stream_si512((__m512i *)((uint16_t *)p + i), w);
        else _mm512_storeu_si512((uint16_t *)p + i, w);
    } else if (t == ZF_DTYPE_F16 && nt) {
        _mm256_stream_si256((__m256i *)((uint16_t *)p + i), zf_avx512_cvt_f16(v0));
        _mm256_stream_si256((__m256i *)((uint16_t *)p + i + 16), zf_avx512_cvt_f16(v1));
    } else if (t == ZF_DTYPE_F32 && nt) {
        _mm512_stream_ps((float *)p + i, v0);
        _mm512_stream_ps((float *)p + i + 16, v1);
    } else {
        zf_avx512_store_pair(t, p, i, v0, v1);
    }
}

/* T(v0), T(v1) in place for arithmetic results, stored as a pair at p + i
 * (nt as for zf_avx512_store_pair_arith): one conversion serves both. */
ZF_AVX512_INLINE void zf_avx512_round_store_pair(zf_dtype t, void *p, int64_t i, __m512 *v0, __m512 *v1, int nt) {
    if (t == ZF_DTYPE_BF16) {
        __m512i t0 = zf_avx512_bf16_top_arith(*v0), t1 = zf_avx512_bf16_top_arith(*v1);
        __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
        __m512i w = _mm512_mask_blend_epi16(0xaaaaaaaau, _mm512_srli_epi32(t0, 16), t1);
        if (nt) _mm512_stream_si512((__m512i *)((uint16_t *)p + i), w);
        else _mm512_storeu_si512((uint16_t *)p + i, w);
        *v0 = _mm512_castsi512_ps(_mm512_and_si512(t0, hi));
        *v1 = _mm512_castsi512_ps(_mm512_and_si512(t1, hi));
    } else if (t == ZF_DTYPE_F16) {
        __m256i h0 = zf_avx512_cvt_f16(*v0), h1 = zf_avx512_cvt_f16(*v1);
        if (nt) {
            _mm256_stream_si256((__m256i *)((uint16_t *)p + i), h0);
            _mm256_stream_si256((__m256i *)((uint16_t *)p + i + 16), h1);
        } else {
            _mm256_storeu_si256((__m256i *)((uint16_t *)p + i), h0);
            _mm256_storeu_si256((__m256i *)((uint16_t *)p + i + 16), h1);
        }
        *v0 = _mm512_cvtph_ps(h0);
        *v1 = _mm512_cvtph_ps(h1);
    } else {
        zf_avx512_store_pair_arith(t, p, i, *v0, *v1, nt);
    }
}

/* The first n (< 32) elements of a pair, masked. */
ZF_AVX512_INLINE void zf_avx512_load_pair_n(zf_dtype t, const void *p, int64_t i, int64_t n, __m512 *v0,
                                            __m512 *v1) {
    if (t == ZF_DTYPE_BF16) {
        __mmask32 m = (__mmask32)((1u << n) - 1u);
        zf_avx512_bf16_split(_mm512_maskz_loadu_epi16(m, (const uint16_t *)p + i), v0, v1);
        return;
    }
    *v0 = zf_avx512_load_n(t, p, i, n < 16 ? n : 16);
    *v1 = zf_avx512_load_n(t, p, i + 16, n > 16 ? n - 16 : 0);
}

ZF_AVX512_INLINE void zf_avx512_store_pair_n(zf_dtype t, void *p, int64_t i, int64_t n, __m512 v0, __m512 v1) {
    if (t == ZF_DTYPE_BF16) {
        __mmask32 m = (__mmask32)((1u << n) - 1u);
        _mm512_mask_storeu_epi16((uint16_t *)p + i, m, zf_avx512_bf16_join(v0, v1));
        return;
    }
    zf_avx512_store_n(t, p, i, n < 16 ? n : 16, v0);
    zf_avx512_store_n(t, p, i + 16, n > 16 ? n - 16 : 0, v1);
}

/* ---- exp / sigmoid / silu: zmath.h, lane by lane ---------------------------- */

/* The _n forms work on u (1..ZF_AVX512_MAX_U) vectors in lockstep, u a
 * constant after inlining: each step is issued for all u chains before the
 * next, so the core overlaps their latencies instead of waiting on one. */
#define ZF_AVX512_MAX_U 4
#define ZF_AVX512_EACH(j, u) _Pragma("GCC unroll 4") for (int j = 0; j < (u); j++)

ZF_AVX512_INLINE __m512 zf_avx512_pow2i(__m512i e) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(e, _mm512_set1_epi32(127)), 23));
}

/* sign flip by integer xor (xor_ps would need AVX512DQ) */
ZF_AVX512_INLINE __m512 zf_avx512_neg(__m512 x) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)));
}

/* exp(x) lane by lane, every step of zmath.h as written (clamp, two-step
 * scaling, NaN restored): the path for any input. */
ZF_AVX512_INLINE void zf_avx512_exp_general_n(const __m512 *x, __m512 *y, int u) {
    __m512 xc[ZF_AVX512_MAX_U], n[ZF_AVX512_MAX_U], r[ZF_AVX512_MAX_U], p[ZF_AVX512_MAX_U];
    __m512 sh = _mm512_set1_ps(ZF_EXP_SHIFTER);
    /* clamp as the scalar ternaries do: max/min return their second operand
     * for NaN, so NaN -> LO (max) -> LO (min), like the scalar path */
    ZF_AVX512_EACH(j, u) xc[j] = _mm512_min_ps(_mm512_max_ps(x[j], _mm512_set1_ps(ZF_EXP_LO)), _mm512_set1_ps(ZF_EXP_HI));
    ZF_AVX512_EACH(j, u) n[j] = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(xc[j], _mm512_set1_ps(ZF_EXP_LOG2E)), sh), sh);
    ZF_AVX512_EACH(j, u) r[j] = _mm512_fmadd_ps(n[j], _mm512_set1_ps(-ZF_EXP_LN2_HI), xc[j]);
    ZF_AVX512_EACH(j, u) r[j] = _mm512_fmadd_ps(n[j], _mm512_set1_ps(-ZF_EXP_LN2_LO), r[j]);
    ZF_AVX512_EACH(j, u) p[j] = _mm512_fmadd_ps(_mm512_set1_ps(ZF_EXP_C5), r[j], _mm512_set1_ps(ZF_EXP_C4));
    ZF_AVX512_EACH(j, u) p[j] = _mm512_fmadd_ps(p[j], r[j], _mm512_set1_ps(ZF_EXP_C3));
    ZF_AVX512_EACH(j, u) p[j] = _mm512_fmadd_ps(p[j], r[j], _mm512_set1_ps(ZF_EXP_C2));
    ZF_AVX512_EACH(j, u) p[j] = _mm512_fmadd_ps(p[j], r[j], _mm512_set1_ps(ZF_EXP_C1));
    ZF_AVX512_EACH(j, u) p[j] = _mm512_fmadd_ps(p[j], r[j], _mm512_set1_ps(ZF_EXP_C0));
    ZF_AVX512_EACH(j, u) p[j] = _mm512_fmadd_ps(p[j], _mm512_mul_ps(r[j], r[j]), r[j]);
    ZF_AVX512_EACH(j, u) p[j] = _mm512_add_ps(p[j], _mm512_set1_ps(1.0f));
    /* n is integral, so truncation is exact; n * 0.5 truncates toward zero */
    ZF_AVX512_EACH(j, u) {
        __m512i ni = _mm512_cvttps_epi32(n[j]);
        __m512i e1 = _mm512_cvttps_epi32(_mm512_mul_ps(n[j], _mm512_set1_ps(0.5f)));
        __m512i e2 = _mm512_sub_epi32(ni, e1);
        p[j] = _mm512_mul_ps(_mm512_mul_ps(p[j], zf_avx512_pow2i(e1)), zf_avx512_pow2i(e2));
        y[j] = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x[j], x[j], _CMP_UNORD_Q), p[j], _mm512_add_ps(x[j], x[j]));
    }
}

/* exp(s * x), s = -1 when neg (a constant), lane by lane with the bits of
 * zmath.h. When every |x| <= 86 (checked first; NaN fails it), the same
 * operations reduce to fewer instructions with no change to any result:
 * - the clamp does nothing;
 * - n lies in [-124, 124], so p * 2^n is normal, both scalar products are
 *   exact, and adding n to p's exponent field gives the same bits (n sits
 *   in the low bits of t + shifter);
 * - for neg, every step is odd in x (RNE is symmetric): t, n and r come out
 *   negated, and the polynomial takes -r by fnmadd/fmsub, so -x is never
 *   formed. */
ZF_AVX512_INLINE void zf_avx512_exp_sign_n(const __m512 *x, __m512 *y, int u, int neg) {
    __m512i big = _mm512_setzero_si512();
    ZF_AVX512_EACH(j, u) big = _mm512_max_epu32(big, _mm512_and_si512(_mm512_castps_si512(x[j]), _mm512_set1_epi32(0x7fffffff)));
    if (__builtin_expect(_mm512_cmpgt_epu32_mask(big, _mm512_set1_epi32(0x42ac0000)) != 0, 0)) {
        __m512 xs[ZF_AVX512_MAX_U]; /* some |x| > 86 (0x42ac0000) or NaN */
        ZF_AVX512_EACH(j, u) xs[j] = neg ? zf_avx512_neg(x[j]) : x[j];
        zf_avx512_exp_general_n(xs, y, u);
        return;
    }
    __m512 ts[ZF_AVX512_MAX_U], n[ZF_AVX512_MAX_U], r[ZF_AVX512_MAX_U], p[ZF_AVX512_MAX_U];
    __m512 sh = _mm512_set1_ps(ZF_EXP_SHIFTER);
    ZF_AVX512_EACH(j, u) ts[j] = _mm512_add_ps(_mm512_mul_ps(x[j], _mm512_set1_ps(ZF_EXP_LOG2E)), sh);
    ZF_AVX512_EACH(j, u) n[j] = _mm512_sub_ps(ts[j], sh);
    ZF_AVX512_EACH(j, u) r[j] = _mm512_fmadd_ps(n[j], _mm512_set1_ps(-ZF_EXP_LN2_HI), x[j]);
    ZF_AVX512_EACH(j, u) r[j] = _mm512_fmadd_ps(n[j], _mm512_set1_ps(-ZF_EXP_LN2_LO), r[j]);
#define ZF_AVX512_PSTEP(a, c) (neg ? _mm512_fnmadd_ps(a, r[j], _mm512_set1_ps(c)) : _mm512_fmadd_ps(a, r[j], _mm512_set1_ps(c)))
    ZF_AVX512_EACH(j, u) p[j] = ZF_AVX512_PSTEP(_mm512_set1_ps(ZF_EXP_C5), ZF_EXP_C4);
    ZF_AVX512_EACH(j, u) p[j] = ZF_AVX512_PSTEP(p[j], ZF_EXP_C3);
    ZF_AVX512_EACH(j, u) p[j] = ZF_AVX512_PSTEP(p[j], ZF_EXP_C2);
    ZF_AVX512_EACH(j, u) p[j] = ZF_AVX512_PSTEP(p[j], ZF_EXP_C1);
    ZF_AVX512_EACH(j, u) p[j] = ZF_AVX512_PSTEP(p[j], ZF_EXP_C0);
#undef ZF_AVX512_PSTEP
    ZF_AVX512_EACH(j, u) {
        __m512 r2 = _mm512_mul_ps(r[j], r[j]);
        p[j] = neg ? _mm512_fmsub_ps(p[j], r2, r[j]) : _mm512_fmadd_ps(p[j], r2, r[j]);
    }
    ZF_AVX512_EACH(j, u) p[j] = _mm512_add_ps(p[j], _mm512_set1_ps(1.0f));
    ZF_AVX512_EACH(j, u) {
        __m512i pi = _mm512_castps_si512(p[j]), e = _mm512_slli_epi32(_mm512_castps_si512(ts[j]), 23);
        y[j] = _mm512_castsi512_ps(neg ? _mm512_sub_epi32(pi, e) : _mm512_add_epi32(pi, e));
    }
}

/* den = 1 + exp(-x): sigmoid = 1 / den, silu = x / den (zmath.h) */
ZF_AVX512_INLINE void zf_avx512_silu_den_n(const __m512 *x, __m512 *den, int u) {
    zf_avx512_exp_sign_n(x, den, u, 1);
    ZF_AVX512_EACH(j, u) den[j] = _mm512_add_ps(_mm512_set1_ps(1.0f), den[j]);
}

/* silu'(x) = s * (1 + x * (1 - s)), s = 1 / den */
ZF_AVX512_INLINE __m512 zf_avx512_silu_grad_from_den(__m512 x, __m512 den) {
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 s = _mm512_div_ps(one, den);
    return _mm512_mul_ps(s, _mm512_add_ps(one, _mm512_mul_ps(x, _mm512_sub_ps(one, s))));
}

#endif
