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

/* 8 bf16 bit patterns in the low halves of 32-bit lanes, as zf_cvt_f32_bf16:
 * add 0x7fff + lsb and keep the top half; NaN keeps its top half, quieted. */
ZF_AVX2_INLINE __m256i zf_avx2_cvt_bf16_lanes(__m256 v) {
    __m256i u = _mm256_castps_si256(v);
    __m256i hi = _mm256_srli_epi32(u, 16);
    __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    __m256i qnan = _mm256_or_si256(hi, _mm256_set1_epi32(0x40));
    __m256 isnan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    return _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(qnan), isnan));
}

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
    return _mm256_castsi256_ps(_mm256_slli_epi32(zf_avx2_cvt_bf16_lanes(v), 16));
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

/* ---- exp / sigmoid / silu: zmath.h, lane by lane ---------------------------- */

ZF_AVX2_INLINE __m256 zf_avx2_pow2i(__m256i e) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
}

ZF_AVX2_INLINE __m256 zf_avx2_exp(__m256 x) {
    /* clamp as the scalar ternaries do: max/min return their second operand
     * for NaN, so NaN -> LO (max) -> LO (min), like the scalar path */
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(ZF_EXP_LO)), _mm256_set1_ps(ZF_EXP_HI));
    __m256 t = _mm256_mul_ps(xc, _mm256_set1_ps(ZF_EXP_LOG2E));
    __m256 sh = _mm256_set1_ps(ZF_EXP_SHIFTER);
    __m256 n = _mm256_sub_ps(_mm256_add_ps(t, sh), sh);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-ZF_EXP_LN2_HI), xc);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-ZF_EXP_LN2_LO), r);
    __m256 p = _mm256_set1_ps(ZF_EXP_C5);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(ZF_EXP_C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(ZF_EXP_C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(ZF_EXP_C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(ZF_EXP_C1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(ZF_EXP_C0));
    __m256 r2 = _mm256_mul_ps(r, r);
    __m256 y = _mm256_fmadd_ps(p, r2, r);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    /* n is integral, so truncation is exact; n * 0.5 truncates toward zero */
    __m256i ni = _mm256_cvttps_epi32(n);
    __m256i e1 = _mm256_cvttps_epi32(_mm256_mul_ps(n, _mm256_set1_ps(0.5f)));
    __m256i e2 = _mm256_sub_epi32(ni, e1);
    y = _mm256_mul_ps(_mm256_mul_ps(y, zf_avx2_pow2i(e1)), zf_avx2_pow2i(e2));
    return _mm256_blendv_ps(y, _mm256_add_ps(x, x), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

ZF_AVX2_INLINE __m256 zf_avx2_neg(__m256 x) { return _mm256_xor_ps(x, _mm256_set1_ps(-0.0f)); }

/* 1 / (1 + exp(-x)) */
ZF_AVX2_INLINE __m256 zf_avx2_sigmoid(__m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, zf_avx2_exp(zf_avx2_neg(x))));
}

/* x / (1 + exp(-x)) */
ZF_AVX2_INLINE __m256 zf_avx2_silu(__m256 x) {
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), zf_avx2_exp(zf_avx2_neg(x))));
}

/* s * (1 + x * (1 - s)), s = sigmoid(x) */
ZF_AVX2_INLINE __m256 zf_avx2_silu_grad(__m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 s = zf_avx2_sigmoid(x);
    return _mm256_mul_ps(s, _mm256_add_ps(one, _mm256_mul_ps(x, _mm256_sub_ps(one, s))));
}

#endif
