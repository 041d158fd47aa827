/* The attention of one (query, head) for a block of 256 threads, shared by
 * zf_attention (attention.cu) and zf_attention_decode (attention_decode.cu)
 * so that both follow one order (docs/NUMERICS.md §9.4, src/cpu/attention.c):
 *   s_j = L256(q, k_j) * scale   a warp per key: thread t holds lanes
 *                                8t .. 8t+7, the tree is shuffles 16..1 then
 *                                three steps in the thread (NUMERICS §4)
 *   mx  = max_j s_j (NaN skipped), e_j = exp(s_j - mx), S = L256(e, 1)
 *   o_c = T(acc_c / S), acc_c = fma(e_j, v_jc, acc_c) for j ascending,
 *                                a thread per column */
#ifndef ZF_CUDA_ATTEND_CUH
#define ZF_CUDA_ATTEND_CUH

#include "cuda/model_ops.cuh"
#include "cuda/zmath.cuh"

enum { ZF_ATT_THREADS = 256, ZF_ATT_WARPS = ZF_ATT_THREADS / 32 };

/* L256(q, k) over d elements for one warp; q in shared memory as f32. */
template <int DKV> __device__ __forceinline__ float zf_cu_warp_dot(const float *q, const void *k, int64_t d) {
    const int t = threadIdx.x & 31;
    float a[8];
#pragma unroll
    for (int i = 0; i < 8; i++) a[i] = 0.0f;
    for (int64_t c0 = 0; c0 < d; c0 += 256)
#pragma unroll
        for (int i = 0; i < 8; i++) {
            int64_t c = c0 + 8 * t + i;
            if (c < d) a[i] = __fmaf_rn(q[c], zf_cu_load<DKV>(k, c), a[i]);
        }
#pragma unroll
    for (int off = 16; off >= 1; off >>= 1)
#pragma unroll
        for (int i = 0; i < 8; i++) a[i] = __fadd_rn(a[i], __shfl_xor_sync(0xffffffffu, a[i], off));
#pragma unroll
    for (int s = 4; s >= 1; s >>= 1)
#pragma unroll
        for (int i = 0; i < s; i++) a[i] = __fadd_rn(a[i], a[i + s]);
    return a[0];
}

/* The key or value rows of one kv head: row j at base + j * stride, except
 * that a non-NULL `last` stands for the final row (len - 1): a decode
 * step's own row, which its block holds in shared memory. */
template <typename E> struct zf_cu_rows {
    const E *base;
    int64_t stride;
    const E *last;
    __device__ __forceinline__ const E *operator()(int64_t j) const { return base + j * stride; }
};

/* The scores s[0 .. len-1] (published by a barrier before) into e_j =
 * exp(s_j - mx), in place; returns S = L256(e, 1). Every thread of the
 * block calls it; its last barrier publishes e. */
__device__ __forceinline__ float zf_cu_softmax_scores(float *s, float *red, int64_t len) {
    const int tid = threadIdx.x;
    float m = -INFINITY;
    for (int64_t j = tid; j < len; j += ZF_ATT_THREADS)
        if (s[j] > m) m = s[j];
    const float mx = zf_cu_max256(red, m);
    float lane = 0.0f;
    for (int64_t j = tid; j < len; j += ZF_ATT_THREADS) {
        s[j] = zf_cu_exp(__fsub_rn(s[j], mx));
        lane = __fadd_rn(lane, s[j]);
    }
    return zf_cu_l256_fold256(red, lane);
}

/* out row op (d elements of DQ) = attention of q (shared, f32, d) over keys
 * 0 .. len-1 of kr, values of vr; s holds len floats of shared memory and
 * red ZF_ATT_THREADS. q must be published (a barrier) before. */
template <int DQ, int DKV, typename E>
__device__ __forceinline__ void zf_cu_attend(const float *q, float *s, float *red, int64_t len, int64_t d,
                                             float scale, zf_cu_rows<E> kr, zf_cu_rows<E> vr, void *op) {
    const int tid = threadIdx.x, warp = tid / 32;
    for (int64_t j = warp; j < len; j += ZF_ATT_WARPS) {
        float dot = zf_cu_warp_dot<DKV>(q, kr.last && j == len - 1 ? kr.last : kr(j), d);
        if ((tid & 31) == 0) s[j] = __fmul_rn(dot, scale);
    }
    __syncthreads();
    const float sum = zf_cu_softmax_scores(s, red, len);
    const int64_t direct = vr.last ? len - 1 : len;
    for (int64_t c = tid; c < d; c += ZF_ATT_THREADS) {
        float acc = 0.0f;
        /* one fma chain in j order; unrolled so the v loads of 8 keys are in flight together */
#pragma unroll 8
        for (int64_t j = 0; j < direct; j++) acc = __fmaf_rn(s[j], zf_cu_load<DKV>(vr(j), c), acc);
        if (vr.last) acc = __fmaf_rn(s[len - 1], zf_cu_load<DKV>(vr.last, c), acc);
        zf_cu_store<DQ>(op, c, __fdiv_rn(acc, sum));
    }
}

#endif
