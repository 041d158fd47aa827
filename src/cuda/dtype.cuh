/* Storage dtypes on the device: the same bits as src/core/dtype.h. f32 -> T
 * uses the hardware's round-to-nearest-even conversion (IEEE, subnormals
 * kept) and then restores dtype.h's NaN (top payload bits, quiet bit set);
 * the hardware would return one canonical NaN. T -> f32 is exact.
 *
 * COMPUTED (a template argument of the conversions below): the value is the
 * result of GPU arithmetic. Such a NaN is always the canonical 0x7fffffff,
 * whose dtype.h bits (0x7fff in bf16, 0x7fff in f16) are exactly what the
 * hardware conversion returns, so the NaN test is skipped: the same bits
 * for ~3 instructions an element less, which the instruction-bound bulk
 * kernels feel (docs/CUDA.md, session 26). Values that may be NaNs loaded
 * from memory (copies, casts, gathers, NaN fills) keep the full rule.
 * tests/cuda/test_cuda.c `test_nan_bits` checks the premise. */
#ifndef ZF_CUDA_DTYPE_CUH
#define ZF_CUDA_DTYPE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#define ZF_CU_COMPUTED true

/* DT: 0 f32, 1 f16, 2 bf16 (the zf_dtype values) */
template <int DT> struct zf_cu_elem { typedef uint16_t type; };
template <> struct zf_cu_elem<0> { typedef float type; };
/* elements per 16-byte vector */
template <int DT> struct zf_cu_vec { static constexpr int n = 16 / sizeof(typename zf_cu_elem<DT>::type); };

__device__ __forceinline__ bool zf_cu_isnan_bits(uint32_t u) { return (u & 0x7fffffffu) > 0x7f800000u; }

template <bool COMPUTED = false> __device__ __forceinline__ uint16_t zf_cu_to_bf16(float x) {
    uint32_t u = __float_as_uint(x);
    uint16_t h = __bfloat16_as_ushort(__float2bfloat16_rn(x));
    if constexpr (COMPUTED) return h;
    else return zf_cu_isnan_bits(u) ? (uint16_t)((u >> 16) | 0x0040u) : h;
}

template <bool COMPUTED = false> __device__ __forceinline__ uint16_t zf_cu_to_f16(float x) {
    uint32_t u = __float_as_uint(x);
    uint16_t h = __half_as_ushort(__float2half_rn(x));
    if constexpr (COMPUTED) return h;
    else return zf_cu_isnan_bits(u) ? (uint16_t)(((u >> 16) & 0x8000u) | 0x7e00u | ((u >> 13) & 0x3ffu)) : h;
}

__device__ __forceinline__ float zf_cu_from_bits(uint16_t h, int dt) {
    return dt == 2 ? __uint_as_float((uint32_t)h << 16) : __half2float(__ushort_as_half(h));
}

template <int DT> __device__ __forceinline__ float zf_cu_load(const void *p, int64_t i) {
    if constexpr (DT == 0) return ((const float *)p)[i];
    else return zf_cu_from_bits(((const uint16_t *)p)[i], DT);
}

template <int DT, bool COMPUTED = false> __device__ __forceinline__ void zf_cu_store(void *p, int64_t i, float v) {
    if constexpr (DT == 0) ((float *)p)[i] = v;
    else if constexpr (DT == 1) ((uint16_t *)p)[i] = zf_cu_to_f16<COMPUTED>(v);
    else ((uint16_t *)p)[i] = zf_cu_to_bf16<COMPUTED>(v);
}

/* T(v) read back as f32: the "materialise in T" rounding point. */
template <int DT, bool COMPUTED = false> __device__ __forceinline__ float zf_cu_round(float v) {
    if constexpr (DT == 0) return v;
    else if constexpr (DT == 1) return __half2float(__ushort_as_half(zf_cu_to_f16<COMPUTED>(v)));
    else return __uint_as_float((uint32_t)zf_cu_to_bf16<COMPUTED>(v) << 16);
}

/* One 16-byte vector: element vi*N .. vi*N+N-1 of p (p 16-byte aligned). */
template <int DT> __device__ __forceinline__ void zf_cu_load_vec(const void *p, int64_t vi, float *f) {
    uint4 q = ((const uint4 *)p)[vi];
    if constexpr (DT == 0) {
        f[0] = __uint_as_float(q.x); f[1] = __uint_as_float(q.y);
        f[2] = __uint_as_float(q.z); f[3] = __uint_as_float(q.w);
    } else {
        const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            f[2 * k] = zf_cu_from_bits((uint16_t)(w[k] & 0xffffu), DT);
            f[2 * k + 1] = zf_cu_from_bits((uint16_t)(w[k] >> 16), DT);
        }
    }
}

/* Two values into one word, low half first; bf16 pairs share one hardware
 * conversion, then each NaN gets dtype.h's bits. */
template <int DT, bool COMPUTED = false> __device__ __forceinline__ uint32_t zf_cu_pack2(float a, float b) {
    if constexpr (DT == 2) {
        __nv_bfloat162 p = __floats2bfloat162_rn(a, b);
        uint32_t r = (uint32_t)__bfloat16_as_ushort(p.x) | ((uint32_t)__bfloat16_as_ushort(p.y) << 16);
        if constexpr (COMPUTED) return r;
        uint32_t ua = __float_as_uint(a), ub = __float_as_uint(b);
        if (zf_cu_isnan_bits(ua)) r = (r & 0xffff0000u) | (ua >> 16) | 0x0040u;
        if (zf_cu_isnan_bits(ub)) r = (r & 0x0000ffffu) | (((ub >> 16) | 0x0040u) << 16);
        return r;
    } else {
        return (uint32_t)zf_cu_to_f16<COMPUTED>(a) | ((uint32_t)zf_cu_to_f16<COMPUTED>(b) << 16);
    }
}

/* Programmatic dependent launch (sm_90): wait for the previous kernel in the
 * stream before touching memory; let the next one launch once this block is
 * done. No-ops when launched without the attribute or built for older GPUs. */
__device__ __forceinline__ void zf_cu_wait_prior() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void zf_cu_release_next() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

template <int DT, bool COMPUTED = false> __device__ __forceinline__ void zf_cu_store_vec(void *p, int64_t vi, const float *f) {
    uint4 q;
    if constexpr (DT == 0) {
        q = make_uint4(__float_as_uint(f[0]), __float_as_uint(f[1]), __float_as_uint(f[2]), __float_as_uint(f[3]));
    } else {
        q = make_uint4(zf_cu_pack2<DT, COMPUTED>(f[0], f[1]), zf_cu_pack2<DT, COMPUTED>(f[2], f[3]),
                       zf_cu_pack2<DT, COMPUTED>(f[4], f[5]), zf_cu_pack2<DT, COMPUTED>(f[6], f[7]));
    }
    ((uint4 *)p)[vi] = q;
}

#endif
