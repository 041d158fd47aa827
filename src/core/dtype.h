/* Storage dtypes: exact conversions (round to nearest even, NaN stays NaN),
 * inline so every kernel uses the same bits. */
#ifndef ZF_CORE_DTYPE_H
#define ZF_CORE_DTYPE_H

#include <stdint.h>
#include <string.h>

#include "zfast.h"

static inline uint32_t zf_f32_bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float zf_bits_f32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

static inline uint16_t zf_cvt_f32_bf16(float x) {
    uint32_t u = zf_f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float zf_cvt_bf16_f32(uint16_t h) { return zf_bits_f32((uint32_t)h << 16); }

static inline uint16_t zf_cvt_f32_f16(float x) {
    uint32_t u = zf_f32_bits(x);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {
        /* f16 subnormal or zero: value = m * 2^-24, m rounded to nearest even */
        if (a < 0x33000000u) return (uint16_t)sign; /* < 2^-25: rounds to 0 */
        uint32_t e = a >> 23, mant = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e; /* 14..24 */
        uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    /* normal: rebias exponent, round 13 dropped bits to nearest even */
    uint32_t r = a - 0x38000000u; /* exponent 127 -> 15 */
    r += 0xfffu + ((r >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
}

static inline float zf_cvt_f16_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1fu) return zf_bits_f32(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        if (m == 0) return zf_bits_f32(sign);
        /* subnormal: m * 2^-24 is exact in f32 */
        float v = (float)m * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return zf_bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

/* Load element i of a T-typed buffer as f32, store f32 to T with RNE. */
static inline float zf_load(zf_dtype t, const void *p, int64_t i) {
    switch (t) {
    case ZF_DTYPE_F16: return zf_cvt_f16_f32(((const uint16_t *)p)[i]);
    case ZF_DTYPE_BF16: return zf_cvt_bf16_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

static inline void zf_store(zf_dtype t, void *p, int64_t i, float v) {
    switch (t) {
    case ZF_DTYPE_F16: ((uint16_t *)p)[i] = zf_cvt_f32_f16(v); break;
    case ZF_DTYPE_BF16: ((uint16_t *)p)[i] = zf_cvt_f32_bf16(v); break;
    default: ((float *)p)[i] = v; break;
    }
}

/* A row of n elements as f32: the row itself when T is f32, else a copy in buf. */
static inline const float *zf_row_f32(zf_dtype t, const void *p, int64_t n, float *buf) {
    if (t == ZF_DTYPE_F32) return (const float *)p;
    for (int64_t i = 0; i < n; i++) buf[i] = zf_load(t, p, i);
    return buf;
}

/* Round an f32 value through T and back (the "materialise in T" point). */
static inline float zf_round_to(zf_dtype t, float v) {
    switch (t) {
    case ZF_DTYPE_F16: return zf_cvt_f16_f32(zf_cvt_f32_f16(v));
    case ZF_DTYPE_BF16: return zf_cvt_bf16_f32(zf_cvt_f32_bf16(v));
    default: return v;
    }
}

static inline int zf_is_float_dtype(zf_dtype t) {
    return t == ZF_DTYPE_F32 || t == ZF_DTYPE_F16 || t == ZF_DTYPE_BF16;
}

#endif
