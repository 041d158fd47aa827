/* exp / silu / silu' on the device: src/core/zmath.h transcribed operation
 * by operation with explicit IEEE intrinsics (no contraction, no __expf).
 * Integer steps use the bits of (t + shifter), which hold n exactly. */
#ifndef ZF_CUDA_ZMATH_CUH
#define ZF_CUDA_ZMATH_CUH

extern "C" {
#include "core/zmath.h"
}

__device__ __forceinline__ float zf_cu_pow2i(int e) { return __uint_as_float((uint32_t)(e + 127) << 23); }

__device__ __forceinline__ float zf_cu_exp(float x) {
    float xc = (x > ZF_EXP_LO) ? ((x < ZF_EXP_HI) ? x : ZF_EXP_HI) : ZF_EXP_LO;
    float t = __fmul_rn(xc, ZF_EXP_LOG2E);
    float sh = __fadd_rn(t, ZF_EXP_SHIFTER);
    float n = __fsub_rn(sh, ZF_EXP_SHIFTER);
    float r = __fmaf_rn(n, -ZF_EXP_LN2_HI, xc);
    r = __fmaf_rn(n, -ZF_EXP_LN2_LO, r);
    float p = ZF_EXP_C5;
    p = __fmaf_rn(p, r, ZF_EXP_C4);
    p = __fmaf_rn(p, r, ZF_EXP_C3);
    p = __fmaf_rn(p, r, ZF_EXP_C2);
    p = __fmaf_rn(p, r, ZF_EXP_C1);
    p = __fmaf_rn(p, r, ZF_EXP_C0);
    float r2 = __fmul_rn(r, r);
    float y = __fmaf_rn(p, r2, r);
    y = __fadd_rn(y, 1.0f);
    /* sh = 1.5*2^23 + n exactly (|n| <= 150), so n = bits(sh) - bits(1.5*2^23).
     * zmath.h splits n as trunc(n/2) + rest; floor(n/2) gives the same bits:
     * either way y * 2^e1 is exact and normal (e1 >= -75), so the result is
     * the single rounding of y * 2^n. */
    int ni = (int)__float_as_uint(sh) - 0x4b400000;
    int e1 = ni >> 1;
    int e2 = ni - e1;
    y = __fmul_rn(__fmul_rn(y, zf_cu_pow2i(e1)), zf_cu_pow2i(e2));
    return (x != x) ? __fadd_rn(x, x) : y;
}

__device__ __forceinline__ float zf_cu_silu(float x) { return __fdiv_rn(x, __fadd_rn(1.0f, zf_cu_exp(-x))); }

__device__ __forceinline__ float zf_cu_silu_grad(float x) {
    float s = __fdiv_rn(1.0f, __fadd_rn(1.0f, zf_cu_exp(-x)));
    return __fmul_rn(s, __fadd_rn(1.0f, __fmul_rn(x, __fsub_rn(1.0f, s))));
}

#endif
