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

/* As zf_cvt_f32_bf16: add 0x7fff + lsb and keep the top half; NaN keeps its
 * top half, quieted. Result in the low halves of 32-bit lanes. */
ZF_AVX512_INLINE __m512i zf_avx512_cvt_bf16_lanes(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i hi = _mm512_srli_epi32(u, 16);
    __m512i lsb = _mm512_and_si512(hi, _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    __m512i qnan = _mm512_or_si512(hi, _mm512_set1_epi32(0x40));
    return _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), r, qnan);
}
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
    return _mm512_castsi512_ps(_mm512_slli_epi32(zf_avx512_cvt_bf16_lanes(v), 16));
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

/* Partial vectors: only the first n (< 16) elements are read or written;
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

/* ---- exp / sigmoid / silu: zmath.h, lane by lane ---------------------------- */

ZF_AVX512_INLINE __m512 zf_avx512_pow2i(__m512i e) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(e, _mm512_set1_epi32(127)), 23));
}

ZF_AVX512_INLINE __m512 zf_avx512_exp(__m512 x) {
    /* clamp as the scalar ternaries do: max/min return their second operand
     * for NaN, so NaN -> LO (max) -> LO (min), like the scalar path */
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(ZF_EXP_LO)), _mm512_set1_ps(ZF_EXP_HI));
    __m512 t = _mm512_mul_ps(xc, _mm512_set1_ps(ZF_EXP_LOG2E));
    __m512 sh = _mm512_set1_ps(ZF_EXP_SHIFTER);
    __m512 n = _mm512_sub_ps(_mm512_add_ps(t, sh), sh);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-ZF_EXP_LN2_HI), xc);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-ZF_EXP_LN2_LO), r);
    __m512 p = _mm512_set1_ps(ZF_EXP_C5);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(ZF_EXP_C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(ZF_EXP_C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(ZF_EXP_C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(ZF_EXP_C1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(ZF_EXP_C0));
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 y = _mm512_fmadd_ps(p, r2, r);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    /* n is integral, so truncation is exact; n * 0.5 truncates toward zero */
    __m512i ni = _mm512_cvttps_epi32(n);
    __m512i e1 = _mm512_cvttps_epi32(_mm512_mul_ps(n, _mm512_set1_ps(0.5f)));
    __m512i e2 = _mm512_sub_epi32(ni, e1);
    y = _mm512_mul_ps(_mm512_mul_ps(y, zf_avx512_pow2i(e1)), zf_avx512_pow2i(e2));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, _mm512_add_ps(x, x));
}

/* sign flip by integer xor (xor_ps would need AVX512DQ) */
ZF_AVX512_INLINE __m512 zf_avx512_neg(__m512 x) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)));
}

/* 1 / (1 + exp(-x)) */
ZF_AVX512_INLINE __m512 zf_avx512_sigmoid(__m512 x) {
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, zf_avx512_exp(zf_avx512_neg(x))));
}

/* x / (1 + exp(-x)) */
ZF_AVX512_INLINE __m512 zf_avx512_silu(__m512 x) {
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), zf_avx512_exp(zf_avx512_neg(x))));
}

/* s * (1 + x * (1 - s)), s = sigmoid(x) */
ZF_AVX512_INLINE __m512 zf_avx512_silu_grad(__m512 x) {
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 s = zf_avx512_sigmoid(x);
    return _mm512_mul_ps(s, _mm512_add_ps(one, _mm512_mul_ps(x, _mm512_sub_ps(one, s))));
}

#endif
