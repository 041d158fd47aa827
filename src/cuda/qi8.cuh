/* int8 activations for the edge tier's approx kernels (docs/NUMERICS.md
 * §8.7): x rows quantized per 32-element block by the CPU's rule, shared by
 * the few-token kernels (qdecode_i8.cu, staged per CTA) and the many-token
 * tensor-core kernel (qexpert_i8.cu, one pass into global scratch).
 *
 * Staged layout of R rows of nb blocks: q[(i nb + j) 8 + w] int32 words,
 * word 2v the codes of elements 8v, 8v+2, 8v+4, 8v+6 of block j (what the
 * low nibbles of packed 4-bit word v pair with), word 2v+1 those of 8v+1,
 * ...; a (the block's step) and X (its sum of x, f32) beside them. */
#ifndef ZF_CUDA_QI8_CUH
#define ZF_CUDA_QI8_CUH

#include "cuda/divmod.cuh"
#include "cuda/qdot.cuh"
#include "cuda/zmath.cuh"

#define QI8_THREADS 256 /* threads of every CTA that calls qi8_stage */

__device__ __forceinline__ uint32_t qi8_pack(int a, int b, int c, int d) {
    return (uint32_t)(a & 0xff) | (uint32_t)(b & 0xff) << 8 | (uint32_t)(c & 0xff) << 16 | (uint32_t)(d & 0xff) << 24;
}

/* Elements 8v .. 8v+7 of an x row of t as f32 (zeros for a NULL row): one
 * 16-byte load where the row allows it. */
__device__ __forceinline__ void qi8_load8(zf_dtype t, const void *row, int v, float *x) {
    if (!row) {
#pragma unroll
        for (int e = 0; e < 8; e++) x[e] = 0.0f;
        return;
    }
    if (t != ZF_DTYPE_F32 && ((uintptr_t)row & 15) == 0) {
        const uint4 w = ((const uint4 *)row)[v];
        const uint32_t u[4] = {w.x, w.y, w.z, w.w};
        const int dt = t == ZF_DTYPE_BF16 ? 2 : 1;
#pragma unroll
        for (int h = 0; h < 4; h++) {
            x[2 * h] = zf_cu_from_bits((uint16_t)(u[h] & 0xffffu), dt);
            x[2 * h + 1] = zf_cu_from_bits((uint16_t)(u[h] >> 16), dt);
        }
        return;
    }
#pragma unroll
    for (int e = 0; e < 8; e++) x[e] = zf_cu_ld(t, row, (int64_t)v * 8 + e);
}

/* Quantizes rows 0..R-1 (row i at xrow(i), k elements of t). Unit u = 8
 * elements; a block's 4 units are 4 neighbouring lanes of one warp, so its
 * max and sum are two shuffles. Every thread runs the same rounds; the
 * loads of RR rounds are issued before any is used (one round trip, not RR). */
template <int RR, int AXS = 1, class XR>
__device__ void qi8_stage(zf_dtype t, int R, int k, XR xrow, uint32_t *q, float *A, float *X) {
    const int upr = k / 8, units = R * upr, nb = k / 32;
    zf_cu_rowwalk w = zf_cu_rowwalk_of(threadIdx.x, QI8_THREADS, upr); /* unit u = w.r upr + w.c */
    for (int u0 = 0; u0 < units; u0 += RR * QI8_THREADS) {
        float x[RR][8];
        int ri[RR], rv[RR];
#pragma unroll
        for (int rr = 0; rr < RR; rr++) {
            const bool on = u0 + rr * QI8_THREADS + (int)threadIdx.x < units;
            ri[rr] = on ? w.r : -1, rv[rr] = w.c;
            qi8_load8(t, on ? xrow(w.r) : nullptr, w.c, x[rr]);
            w.step();
        }
#pragma unroll
        for (int rr = 0; rr < RR; rr++) {
            if (u0 + rr * QI8_THREADS >= units) break; /* uniform: the shuffles need every lane */
            float m = 0.0f;
#pragma unroll
            for (int e = 0; e < 8; e++) m = fmaxf(m, fabsf(x[rr][e]));
            float s = __fadd_rn(__fadd_rn(__fadd_rn(x[rr][0], x[rr][1]), __fadd_rn(x[rr][2], x[rr][3])),
                                __fadd_rn(__fadd_rn(x[rr][4], x[rr][5]), __fadd_rn(x[rr][6], x[rr][7])));
            m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
            m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
            s = __fadd_rn(s, __shfl_xor_sync(0xffffffffu, s, 1));
            s = __fadd_rn(s, __shfl_xor_sync(0xffffffffu, s, 2));
            const float inv = m > 0.0f ? __fdiv_rn(127.0f, m) : 0.0f;
            int c[8];
#pragma unroll
            for (int e = 0; e < 8; e++) c[e] = max(-127, min(127, __float2int_rn(__fmul_rn(x[rr][e], inv))));
            if (ri[rr] >= 0) {
                const int b = ri[rr] * nb + (rv[rr] >> 2), w = 2 * (rv[rr] & 3);
                q[b * 8 + w] = qi8_pack(c[0], c[2], c[4], c[6]);
                q[b * 8 + w + 1] = qi8_pack(c[1], c[3], c[5], c[7]);
                if (w == 0) A[b * AXS] = __fdiv_rn(m, 127.0f), X[b * AXS] = s;
            }
        }
    }
}

#endif
