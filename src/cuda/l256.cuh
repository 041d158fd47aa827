/* The tree of the canonical L256 reduction (docs/NUMERICS.md §4) on the
 * device: part[l] holds lane l (16-byte aligned); called by all of one
 * warp, the sum is valid in its thread 0. Thread t holds lanes 8t .. 8t+7:
 * shuffles down 16 .. 1 are the strides 128 .. 8, then 4, 2, 1 in thread. */
#ifndef ZF_CUDA_L256_CUH
#define ZF_CUDA_L256_CUH

__device__ __forceinline__ float zf_cu_l256_tree(const float *part) {
    const int t = threadIdx.x % 32;
    float4 lo = ((const float4 *)part)[2 * t], hi = ((const float4 *)part)[2 * t + 1];
    float a[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
    for (int off = 16; off >= 1; off >>= 1)
#pragma unroll
        for (int j = 0; j < 8; j++) a[j] = __fadd_rn(a[j], __shfl_down_sync(0xffffffffu, a[j], off));
#pragma unroll
    for (int s = 4; s >= 1; s >>= 1)
#pragma unroll
        for (int j = 0; j < s; j++) a[j] = __fadd_rn(a[j], a[j + s]);
    return a[0];
}

#endif
