/* Integer division for kernels' index arithmetic, which runs once per
 * thread or per copied item: a division by a value known only at run time
 * is ~20 instructions (64-bit: a call of ~70), a visible share of a decode
 * kernel's budget (docs/CUDA.md, session 18: the int8 swiglu lost 4% of its
 * time to them). */
#ifndef ZF_CUDA_DIVMOD_CUH
#define ZF_CUDA_DIVMOD_CUH

/* i / d (and i % d in *r) for i >= 0 and d > 0: shifts where d is a power
 * of two (the usual shapes; d is uniform, so is the branch), else the
 * division. */
__device__ __forceinline__ int zf_cu_divmod(int i, int d, int *r) {
    if ((d & (d - 1)) == 0) {
        *r = i & (d - 1);
        return i >> (__ffs(d) - 1);
    }
    const int q = i / d;
    *r = i - q * d;
    return q;
}

/* n / d for n >= 0 and d > 0, 64-bit n: a shift where d is a power of two. */
__device__ __forceinline__ int64_t zf_cu_div64(int64_t n, int d) {
    return (d & (d - 1)) == 0 ? n >> (__ffs(d) - 1) : n / d;
}

/* n / d and n % d (in *r) for 64-bit n >= 0 and d > 0, as zf_cu_div64. */
__device__ __forceinline__ int64_t zf_cu_divmod64(int64_t n, int d, int *r) {
    const int64_t q = zf_cu_div64(n, d);
    *r = (int)(n - q * d);
    return q;
}

/* A thread's items i = first, first + step, ... of a row-major walk with n
 * items a row, as (row r, column c): divided once, then stepped (dr rows
 * and dc columns a step, at most one carry as dc < n), so no item pays for
 * a division (a 128-key attention tile of 64 f32 is 2048 copies, 8 a
 * thread). */
struct zf_cu_rowwalk {
    int n, r, c, dr, dc;
    __device__ __forceinline__ void step() {
        r += dr, c += dc;
        if (c >= n) r++, c -= n;
    }
};
__device__ __forceinline__ zf_cu_rowwalk zf_cu_rowwalk_of(int first, int step, int n) {
    zf_cu_rowwalk w;
    w.n = n;
    w.r = zf_cu_divmod(first, n, &w.c);
    w.dr = zf_cu_divmod(step, n, &w.dc);
    return w;
}

#endif
