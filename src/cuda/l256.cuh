/* The tree of the canonical L256 reduction (docs/NUMERICS.md §4) on the
 * device: part[l] holds lane l; called by all of one warp, every thread
 * returns the sum. Thread t takes lanes t + 32k (k = 0..7; a[k] of the
 * register form, which zf_cu_l256_tree loads from part): the strides
 * 128, 64, 32 pair lanes of the same thread (in-register adds), the strides
 * 16 .. 1 are xor shuffles of one value (IEEE addition commutes, so both
 * threads of a pair get the tree's partial sum and all end with lane 0's). */
#ifndef ZF_CUDA_L256_CUH
#define ZF_CUDA_L256_CUH

__device__ __forceinline__ float zf_cu_l256_tree_regs(float a[8]) {
#pragma unroll
    for (int s = 4; s >= 1; s >>= 1)
#pragma unroll
        for (int k = 0; k < s; k++) a[k] = __fadd_rn(a[k], a[k + s]);
    float v = a[0];
#pragma unroll
    for (int off = 16; off >= 1; off >>= 1) v = __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

__device__ __forceinline__ float zf_cu_l256_tree(const float *part) {
    const int t = threadIdx.x % 32;
    float a[8];
#pragma unroll
    for (int k = 0; k < 8; k++) a[k] = part[t + 32 * k];
    return zf_cu_l256_tree_regs(a);
}

#endif
