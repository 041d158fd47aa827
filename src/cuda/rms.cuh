/* The RMSNorm scale of docs/NUMERICS.md §6 on the device, shared by the norm
 * kernels (norm.cu) and the q/k norms of zf_attention_decode: inv =
 * 1 / sqrt(ss / n + eps), IEEE division and square root (ss = L256(x, x)). */
#ifndef ZF_CUDA_RMS_CUH
#define ZF_CUDA_RMS_CUH

#include <stdint.h>

__device__ __forceinline__ float zf_cu_rms_inv(float ss, int64_t n, float eps) {
    const float mean = __fdiv_rn(ss, (float)n);
    return __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(mean, eps)));
}

#endif
