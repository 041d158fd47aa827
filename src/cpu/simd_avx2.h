/* AVX2/FMA/F16C helpers shared by the CPU kernels compiled for AVX2
 * (files named *_avx2.c): loads and stores of f32/f16/bf16 rows as 8 f32
 * lanes, and the library's exp/sigmoid/silu on 8 lanes.
 *
 * Every helper performs the same IEEE operations as its scalar twin in
 * src/core/dtype.h and src/core/zmath.h, in the same order, so a vector
 * lane and the scalar code give the same bits. Include only from files
 * built with -mavx2 -mfma -mf16c. */
#ifndef ZF_CPU_SIMD_AVX2_H
#define ZF_CPU_SIMD_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "core/zmath.h"

#define ZF_AVX2_INLINE static inline __attribute__((always_inline))

/* ---- loads: 8 elements at p ------------------------------------------------ */

ZF_AVX2_INLINE __m256 zf_avx2_load_f32(const float *p) { return _mm256_loadu_ps(p); }

/* vcvtph2ps is exact for every f16, subnormals included. */
ZF_AVX2_INLINE __m256 zf_avx2_load_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/* bf16 is the top half of an f32. */
ZF_AVX2_INLINE __m256 zf_avx2_load_bf16(const uint16_t *p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

/* ---- f32 -> T bits, round to nearest even --------------------------------- */

/* 8 f16 bit patterns. The F16C conversion with an explicit RNE immediate
 * gives the scalar zf_cvt_f32_f16 bits: overflow to inf, RNE subnormals,
 * NaN -> sign | 0x7e00 | top payload bits (inputs here are quiet NaNs). */
ZF_AVX2_INLINE __m128i zf_avx2_cvt_f16(__m256 v) { return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT); }

/* As zf_cvt_f32_bf16, the bf16 in the top half of each 32-bit lane (low
 * half: leftover bits): add 0x7fff + lsb; NaN keeps its top half, quieted. */
ZF_AVX2_INLINE __m256i zf_avx2_bf16_top(__m256 v) {
    __m256i u = _mm256_castps_si256(v);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    __m256i qnan = _mm256_or_si256(u, _mm256_set1_epi32(0x400000));
    return _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(qnan), _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
}

/* zf_avx2_bf16_top without the NaN select, for a value computed by IEEE
 * arithmetic from bf16 inputs (a bf16 elementwise or norm result). Such a
 * NaN is quiet and its low half is zero: x86 arithmetic returns an operand's
 * NaN quieted (bf16 widens with a zero low half) or 0xffc00000, so adding
 * 0x7fff + lsb leaves its top half, which the scalar rule keeps. Not for raw
 * loaded values or f32/f16 data, whose NaN payloads reach the low half. */
ZF_AVX2_INLINE __m256i zf_avx2_bf16_top_arith(__m256 v) {
    __m256i u = _mm256_castps_si256(v);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    return _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb);
}

/* 8 bf16 bit patterns in the low halves of 32-bit lanes. */
ZF_AVX2_INLINE __m256i zf_avx2_cvt_bf16_lanes(__m256 v) { return _mm256_srli_epi32(zf_avx2_bf16_top(v), 16); }

ZF_AVX2_INLINE __m128i zf_avx2_cvt_bf16(__m256 v) {
    __m256i r = zf_avx2_cvt_bf16_lanes(v);
    return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

/* ---- stores: 8 elements at p ----------------------------------------------- */

ZF_AVX2_INLINE void zf_avx2_store_f32(float *p, __m256 v) { _mm256_storeu_ps(p, v); }
ZF_AVX2_INLINE void zf_avx2_store_f16(uint16_t *p, __m256 v) { _mm_storeu_si128((__m128i *)p, zf_avx2_cvt_f16(v)); }
ZF_AVX2_INLINE void zf_avx2_store_bf16(uint16_t *p, __m256 v) {
    _mm_storeu_si128((__m128i *)p, zf_avx2_cvt_bf16(v));
}

/* Round through T and back: the "materialise in T" point of a stock op. */
ZF_AVX2_INLINE __m256 zf_avx2_round_f16(__m256 v) { return _mm256_cvtph_ps(zf_avx2_cvt_f16(v)); }
ZF_AVX2_INLINE __m256 zf_avx2_round_bf16(__m256 v) {
    return _mm256_castsi256_ps(_mm256_and_si256(zf_avx2_bf16_top(v), _mm256_set1_epi32((int)0xffff0000u)));
}

/* zf_avx2_round_to for an arithmetic result (see zf_avx2_bf16_top_arith) */
ZF_AVX2_INLINE __m256 zf_avx2_round_arith(zf_dtype t, __m256 v) {
    switch (t) {
    case ZF_DTYPE_F16: return zf_avx2_round_f16(v);
    case ZF_DTYPE_BF16:
        return _mm256_castsi256_ps(_mm256_and_si256(zf_avx2_bf16_top_arith(v), _mm256_set1_epi32((int)0xffff0000u)));
    default: return v;
    }
}

/* ---- dtype-generic forms (t is a constant at every call after inlining) ---- */

ZF_AVX2_INLINE __m256 zf_avx2_load(zf_dtype t, const void *p, int64_t i) {
    switch (t) {
    case ZF_DTYPE_F16: return zf_avx2_load_f16((const uint16_t *)p + i);
    case ZF_DTYPE_BF16: return zf_avx2_load_bf16((const uint16_t *)p + i);
    default: return zf_avx2_load_f32((const float *)p + i);
    }
}

ZF_AVX2_INLINE void zf_avx2_store(zf_dtype t, void *p, int64_t i, __m256 v) {
    switch (t) {
    case ZF_DTYPE_F16: zf_avx2_store_f16((uint16_t *)p + i, v); break;
    case ZF_DTYPE_BF16: zf_avx2_store_bf16((uint16_t *)p + i, v); break;
    default: zf_avx2_store_f32((float *)p + i, v); break;
    }
}

ZF_AVX2_INLINE __m256 zf_avx2_round_to(zf_dtype t, __m256 v) {
    switch (t) {
    case ZF_DTYPE_F16: return zf_avx2_round_f16(v);
    case ZF_DTYPE_BF16: return zf_avx2_round_bf16(v);
    default: return v;
    }
}

/* Partial vectors (n < 8 elements): through a zeroed 32-byte buffer, so no
 * byte outside [p, p + n) is read or written. */
ZF_AVX2_INLINE __m256 zf_avx2_load_n(zf_dtype t, const void *p, int64_t i, int64_t n) {
    size_t es = t == ZF_DTYPE_F32 ? 4 : 2;
    _Alignas(32) unsigned char buf[32] = {0};
    memcpy(buf, (const char *)p + (size_t)i * es, (size_t)n * es);
    return zf_avx2_load(t, buf, 0);
}

ZF_AVX2_INLINE void zf_avx2_store_n(zf_dtype t, void *p, int64_t i, int64_t n, __m256 v) {
    size_t es = t == ZF_DTYPE_F32 ? 4 : 2;
    _Alignas(32) unsigned char buf[32];
    zf_avx2_store(t, buf, 0, v);
    memcpy((char *)p + (size_t)i * es, buf, (size_t)n * es);
}

/* ---- pairs: 16 elements in an order only the pair store restores ---------- */

/* For elementwise work, where a lane need not hold a given element: f32 and
 * f16 come in order; bf16 is split into even elements (v0) and odd ones
 * (v1), one 32-byte load and two bit operations, with no shuffles. */
ZF_AVX2_INLINE void zf_avx2_load_pair(zf_dtype t, const void *p, int64_t i, __m256 *v0, __m256 *v1) {
    if (t == ZF_DTYPE_BF16) {
        __m256i w = _mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i));
        *v0 = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
        *v1 = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32((int)0xffff0000u)));
        return;
    }
    *v0 = zf_avx2_load(t, p, i);
    *v1 = zf_avx2_load(t, p, i + 8);
}

ZF_AVX2_INLINE void zf_avx2_store_pair(zf_dtype t, void *p, int64_t i, __m256 v0, __m256 v1) {
    if (t == ZF_DTYPE_BF16) {
        /* even 16-bit words from v0's tops, odd ones from v1's */
        __m256i w = _mm256_blend_epi16(_mm256_srli_epi32(zf_avx2_bf16_top(v0), 16), zf_avx2_bf16_top(v1), 0xaa);
        _mm256_storeu_si256((__m256i *)((uint16_t *)p + i), w);
        return;
    }
    zf_avx2_store(t, p, i, v0);
    zf_avx2_store(t, p, i + 8, v1);
}

/* zf_avx2_store_pair for arithmetic results (zf_avx2_bf16_top_arith); nt:
 * non-temporal stores, p + i aligned to 32 bytes. */
ZF_AVX2_INLINE void zf_avx2_store_pair_arith(zf_dtype t, void *p, int64_t i, __m256 v0, __m256 v1, int nt) {
    if (t == ZF_DTYPE_BF16) {
        __m256i w = _mm256_blend_epi16(_mm256_srli_epi32(zf_avx2_bf16_top_arith(v0), 16), zf_avx2_bf16_top_arith(v1),
                                       0xaa);
        if (nt) _mm256_stream_si256((__m256i *)((uint16_t *)p + i), w);
        else _mm256_storeu_si256((__m256i *)((uint16_t *)p + i), w);
    } else if (t == ZF_DTYPE_F16 && nt) {
        _mm_stream_si128((__m128i *)((uint16_t *)p + i), zf_avx2_cvt_f16(v0));
        _mm_stream_si128((__m128i *)((uint16_t *)p + i + 8), zf_avx2_cvt_f16(v1));
    } else if (t == ZF_DTYPE_F32 && nt) {
        _mm256_stream_ps((float *)p + i, v0);
        _mm256_stream_ps((float *)p + i + 8, v1);
    } else {
        zf_avx2_store_pair(t, p, i, v0, v1);
    }
}

/* T(v0), T(v1) in place for arithmetic results, stored as a pair at p + i
 * (nt as for zf_avx2_store_pair_arith): one conversion serves both. */
ZF_AVX2_INLINE void zf_avx2_round_store_pair(zf_dtype t, void *p, int64_t i, __m256 *v0, __m256 *v1, int nt) {
    if (t == ZF_DTYPE_BF16) {
        __m256i t0 = zf_avx2_bf16_top_arith(*v0), t1 = zf_avx2_bf16_top_arith(*v1);
        __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
        __m256i w = _mm256_blend_epi16(_mm256_srli_epi32(t0, 16), t1, 0xaa);
        if (nt) _mm256_stream_si256((__m256i *)((uint16_t *)p + i), w);
        else _mm256_storeu_si256((__m256i *)((uint16_t *)p + i), w);
        *v0 = _mm256_castsi256_ps(_mm256_and_si256(t0, hi));
        *v1 = _mm256_castsi256_ps(_mm256_and_si256(t1, hi));
    } else if (t == ZF_DTYPE_F16) {
        __m128i h0 = zf_avx2_cvt_f16(*v0), h1 = zf_avx2_cvt_f16(*v1);
        if (nt) {
            _mm_stream_si128((__m128i *)((uint16_t *)p + i), h0);
            _mm_stream_si128((__m128i *)((uint16_t *)p + i + 8), h1);
        } else {
            _mm_storeu_si128((__m128i *)((uint16_t *)p + i), h0);
            _mm_storeu_si128((__m128i *)((uint16_t *)p + i + 8), h1);
        }
        *v0 = _mm256_cvtph_ps(h0);
        *v1 = _mm256_cvtph_ps(h1);
    } else {
        zf_avx2_store_pair_arith(t, p, i, *v0, *v1, nt);
    }
}

/* The first n (< 16) elements of a pair, through a zeroed 64-byte buffer. */
ZF_AVX2_INLINE void zf_avx2_load_pair_n(zf_dtype t, const void *p, int64_t i, int64_t n, __m256 *v0, __m256 *v1) {
    size_t es = t == ZF_DTYPE_F32 ? 4 : 2;
    _Alignas(32) unsigned char buf[64] = {0};
    memcpy(buf, (const char *)p + (size_t)i * es, (size_t)n * es);
    zf_avx2_load_pair(t, buf, 0, v0, v1);
}

ZF_AVX2_INLINE void zf_avx2_store_pair_n(zf_dtype t, void *p, int64_t i, int64_t n, __m256 v0, __m256 v1) {
    size_t es = t == ZF_DTYPE_F32 ? 4 : 2;
    _Alignas(32) unsigned char buf[64];
    zf_avx2_store_pair(t, buf, 0, v0, v1);
    memcpy((char *)p + (size_t)i * es, buf, (size_t)n * es);
}

/* ---- exp / sigmoid / silu: zmath.h, lane by lane ---------------------------- */

/* The _n forms work on u (1..ZF_AVX2_MAX_U) vectors in lockstep, u a
 * constant after inlining: each step is issued for all u chains before the
 * next, so the core overlaps their latencies instead of waiting on one. */
#define ZF_AVX2_MAX_U 4
#define ZF_AVX2_EACH(j, u) _Pragma("GCC unroll 4") for (int j = 0; j < (u); j++)

ZF_AVX2_INLINE __m256 zf_avx2_pow2i(__m256i e) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
}

ZF_AVX2_INLINE __m256 zf_avx2_neg(__m256 x) { return _mm256_xor_ps(x, _mm256_set1_ps(-0.0f)); }

/* exp(x) lane by lane, every step of zmath.h as written (clamp, two-step
 * scaling, NaN restored): the path for any input. */
ZF_AVX2_INLINE void zf_avx2_exp_general_n(const __m256 *x, __m256 *y, int u) {
    __m256 xc[ZF_AVX2_MAX_U], n[ZF_AVX2_MAX_U], r[ZF_AVX2_MAX_U], p[ZF_AVX2_MAX_U];
    __m256 sh = _mm256_set1_ps(ZF_EXP_SHIFTER);
    /* clamp as the scalar ternaries do: max/min return their second operand
     * for NaN, so NaN -> LO (max) -> LO (min), like the scalar path */
    ZF_AVX2_EACH(j, u) xc[j] = _mm256_min_ps(_mm256_max_ps(x[j], _mm256_set1_ps(ZF_EXP_LO)), _mm256_set1_ps(ZF_EXP_HI));
    ZF_AVX2_EACH(j, u) n[j] = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(xc[j], _mm256_set1_ps(ZF_EXP_LOG2E)), sh), sh);
    ZF_AVX2_EACH(j, u) r[j] = _mm256_fmadd_ps(n[j], _mm256_set1_ps(-ZF_EXP_LN2_HI), xc[j]);
    ZF_AVX2_EACH(j, u) r[j] = _mm256_fmadd_ps(n[j], _mm256_set1_ps(-ZF_EXP_LN2_LO), r[j]);
    ZF_AVX2_EACH(j, u) p[j] = _mm256_fmadd_ps(_mm256_set1_ps(ZF_EXP_C5), r[j], _mm256_set1_ps(ZF_EXP_C4));
    ZF_AVX2_EACH(j, u) p[j] = _mm256_fmadd_ps(p[j], r[j], _mm256_set1_ps(ZF_EXP_C3));
    ZF_AVX2_EACH(j, u) p[j] = _mm256_fmadd_ps(p[j], r[j], _mm256_set1_ps(ZF_EXP_C2));
    ZF_AVX2_EACH(j, u) p[j] = _mm256_fmadd_ps(p[j], r[j], _mm256_set1_ps(ZF_EXP_C1));
    ZF_AVX2_EACH(j, u) p[j] = _mm256_fmadd_ps(p[j], r[j], _mm256_set1_ps(ZF_EXP_C0));
    ZF_AVX2_EACH(j, u) p[j] = _mm256_fmadd_ps(p[j], _mm256_mul_ps(r[j], r[j]), r[j]);
    ZF_AVX2_EACH(j, u) p[j] = _mm256_add_ps(p[j], _mm256_set1_ps(1.0f));
    /* n is integral, so truncation is exact; n * 0.5 truncates toward zero */
    ZF_AVX2_EACH(j, u) {
        __m256i ni = _mm256_cvttps_epi32(n[j]);
        __m256i e1 = _mm256_cvttps_epi32(_mm256_mul_ps(n[j], _mm256_set1_ps(0.5f)));
        __m256i e2 = _mm256_sub_epi32(ni, e1);
        p[j] = _mm256_mul_ps(_mm256_mul_ps(p[j], zf_avx2_pow2i(e1)), zf_avx2_pow2i(e2));
        y[j] = _mm256_blendv_ps(p[j], _mm256_add_ps(x[j], x[j]), _mm256_cmp_ps(x[j], x[j], _CMP_UNORD_Q));
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
ZF_AVX2_INLINE void zf_avx2_exp_sign_n(const __m256 *x, __m256 *y, int u, int neg) {
    __m256i big = _mm256_setzero_si256();
    ZF_AVX2_EACH(j, u) big = _mm256_max_epu32(big, _mm256_castps_si256(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x[j])));
    if (__builtin_expect(_mm256_movemask_epi8(_mm256_cmpgt_epi32(big, _mm256_set1_epi32(0x42ac0000))) != 0, 0)) {
        __m256 xs[ZF_AVX2_MAX_U]; /* some |x| > 86 (0x42ac0000) or NaN */
        ZF_AVX2_EACH(j, u) xs[j] = neg ? zf_avx2_neg(x[j]) : x[j];
        zf_avx2_exp_general_n(xs, y, u);
        return;
    }
    __m256 ts[ZF_AVX2_MAX_U], n[ZF_AVX2_MAX_U], r[ZF_AVX2_MAX_U], p[ZF_AVX2_MAX_U];
    __m256 sh = _mm256_set1_ps(ZF_EXP_SHIFTER);
    ZF_AVX2_EACH(j, u) ts[j] = _mm256_add_ps(_mm256_mul_ps(x[j], _mm256_set1_ps(ZF_EXP_LOG2E)), sh);
    ZF_AVX2_EACH(j, u) n[j] = _mm256_sub_ps(ts[j], sh);
    ZF_AVX2_EACH(j, u) r[j] = _mm256_fmadd_ps(n[j], _mm256_set1_ps(-ZF_EXP_LN2_HI), x[j]);
    ZF_AVX2_EACH(j, u) r[j] = _mm256_fmadd_ps(n[j], _mm256_set1_ps(-ZF_EXP_LN2_LO), r[j]);
#define ZF_AVX2_PSTEP(a, c) (neg ? _mm256_fnmadd_ps(a, r[j], _mm256_set1_ps(c)) : _mm256_fmadd_ps(a, r[j], _mm256_set1_ps(c)))
    ZF_AVX2_EACH(j, u) p[j] = ZF_AVX2_PSTEP(_mm256_set1_ps(ZF_EXP_C5), ZF_EXP_C4);
    ZF_AVX2_EACH(j, u) p[j] = ZF_AVX2_PSTEP(p[j], ZF_EXP_C3);
    ZF_AVX2_EACH(j, u) p[j] = ZF_AVX2_PSTEP(p[j], ZF_EXP_C2);
    ZF_AVX2_EACH(j, u) p[j] = ZF_AVX2_PSTEP(p[j], ZF_EXP_C1);
    ZF_AVX2_EACH(j, u) p[j] = ZF_AVX2_PSTEP(p[j], ZF_EXP_C0);
#undef ZF_AVX2_PSTEP
    ZF_AVX2_EACH(j, u) {
        __m256 r2 = _mm256_mul_ps(r[j], r[j]);
        p[j] = neg ? _mm256_fmsub_ps(p[j], r2, r[j]) : _mm256_fmadd_ps(p[j], r2, r[j]);
    }
    ZF_AVX2_EACH(j, u) p[j] = _mm256_add_ps(p[j], _mm256_set1_ps(1.0f));
    ZF_AVX2_EACH(j, u) {
        __m256i pi = _mm256_castps_si256(p[j]), e = _mm256_slli_epi32(_mm256_castps_si256(ts[j]), 23);
        y[j] = _mm256_castsi256_ps(neg ? _mm256_sub_epi32(pi, e) : _mm256_add_epi32(pi, e));
    }
}

/* den = 1 + exp(-x): sigmoid = 1 / den, silu = x / den (zmath.h) */
ZF_AVX2_INLINE void zf_avx2_silu_den_n(const __m256 *x, __m256 *den, int u) {
    zf_avx2_exp_sign_n(x, den, u, 1);
    ZF_AVX2_EACH(j, u) den[j] = _mm256_add_ps(_mm256_set1_ps(1.0f), den[j]);
}

/* silu'(x) = s * (1 + x * (1 - s)), s = 1 / den */
ZF_AVX2_INLINE __m256 zf_avx2_silu_grad_from_den(__m256 x, __m256 den) {
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 s = _mm256_div_ps(one, den);
    return _mm256_mul_ps(s, _mm256_add_ps(one, _mm256_mul_ps(x, _mm256_sub_ps(one, s))));
}

#endif
