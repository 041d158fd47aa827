/* The canonical quantized dot on the device (docs/NUMERICS.md §8.2),
 * for a thread group (TG) of 8 consecutive lanes per weight row: thread c
 * owns column c, i.e. blocks c, c+8, ...; it keeps its 8 lane
 * accumulators in registers, folds them with the lane tree, and
 * __shfl_xor 4, 2, 1 gives the column tree (IEEE addition commutes, so every
 * thread of the TG ends with the same bits). x is read straight from global
 * memory (L1 serves the other rows of the CTA) and converted to f32; the
 * per-block lane sums X_l are formed with the same three additions. */
#ifndef ZF_CUDA_QDOT_CUH
#define ZF_CUDA_QDOT_CUH

#include "cuda/divmod.cuh"
#include "cuda/dtype.cuh"
#include "cuda/qmm.cuh"
#include "cuda/zmath.cuh"

/* T -> f32 with T known only at run time (uniform branch). */
__device__ __forceinline__ float zf_cu_ld(zf_dtype t, const void *p, int64_t i) {
    if (t == ZF_DTYPE_F32) return ((const float *)p)[i];
    return zf_cu_from_bits(((const uint16_t *)p)[i], t == ZF_DTYPE_BF16 ? 2 : 1);
}
__device__ __forceinline__ void zf_cu_st(zf_dtype t, void *p, int64_t i, float v) {
    if (t == ZF_DTYPE_F32) ((float *)p)[i] = v;
    else if (t == ZF_DTYPE_BF16) ((uint16_t *)p)[i] = zf_cu_to_bf16(v);
    else ((uint16_t *)p)[i] = zf_cu_to_f16(v);
}
__device__ __forceinline__ float zf_cu_rnd(zf_dtype t, float v) {
    if (t == ZF_DTYPE_F32) return v;
    if (t == ZF_DTYPE_BF16) return zf_cu_round<2>(v);
    return zf_cu_round<1>(v);
}
__device__ __forceinline__ float zf_cu_nan() { return __uint_as_float(0x7fc00000u); }

/* Output `row` of pair p of a gathered projection from its dots (d1: the
 * up dot of swiglu), as epi says: the f32 dot (the combine's), T(dot), or
 * swiglu in the exact variant's rounding points (g, u materialised in T)
 * or in f32. Every gathered kernel ends here; APPROX_ONLY (the int8
 * kernels: a.exact is 0 and epi never STORE) drops the other branches:
 * with them the 64-token int8 block measured ~1% slower on an H100. */
template <bool APPROX_ONLY = false>
__device__ __forceinline__ void zf_cu_qstore(const zf_cu_qargs &a, zf_cu_qepi epi, int64_t p, int64_t row, float d0,
                                             float d1, zf_dtype xt) {
    if (epi == ZF_QEPI_DOTS) {
        ((float *)a.out)[p * a.w[0].n + row] = d0;
        return;
    }
    char *o = (char *)a.out + (size_t)(p * a.out_row_stride) * (xt == ZF_DTYPE_F32 ? 4 : 2);
    if (!APPROX_ONLY && epi == ZF_QEPI_STORE) zf_cu_st(xt, o, row, d0);
    else if (!APPROX_ONLY && a.exact)
        zf_cu_st(xt, o, row, __fmul_rn(zf_cu_rnd(xt, zf_cu_silu(zf_cu_rnd(xt, d0))), zf_cu_rnd(xt, d1)));
    else zf_cu_st(xt, o, row, __fmul_rn(zf_cu_silu(d0), d1));
}
template <bool APPROX_ONLY = false>
__device__ __forceinline__ void zf_cu_qstore(const zf_cu_qargs &a, zf_cu_qepi epi, int64_t p, int64_t row, float d0,
                                             float d1) {
    zf_cu_qstore<APPROX_ONLY>(a, epi, p, row, d0, d1, a.xt);
}

/* A dtype a decode kernel takes as a template argument, or (ZF_CU_ANY)
 * reads from its arguments at run time. Of the cases the kernels serve,
 * bf16 activations with bf16 scales (MLX's 4-bit weights, the gates'
 * shapes) have their own code, whose dtype branches fold away: measured on
 * an H100, the one-token MoE block 17.40 -> 16.9 us (edge), 22.0 -> 20.6
 * (exact). The same for f32 activations made the f32 models' decode slower
 * (spills), so they, like f16, read the dtypes at run time (docs/CUDA.md,
 * "Session 23"). */
#define ZF_CU_ANY (-1)
__host__ __device__ constexpr zf_dtype zf_cu_spec(int c, zf_dtype run) { return c >= 0 ? (zf_dtype)c : run; }

/* Of a kernel's two variants (dtypes at run time; bf16 x and bf16
 * scales), the one for xt and sdt. */
template <typename K> static K zf_cu_spec_kernel(zf_dtype xt, zf_dtype sdt, K any, K bf16_bf16) {
    return xt == ZF_DTYPE_BF16 && sdt == ZF_DTYPE_BF16 ? bf16_bf16 : any;
}

/* 32 elements of x starting at p (element offset 32j), as f32. `vec`: the
 * row is 16-byte aligned, so 16-byte loads. */
__device__ __forceinline__ void zf_cu_xblock(zf_dtype t, const void *row, int64_t j, bool vec, float *x) {
    if (t == ZF_DTYPE_F32) {
        const float *p = (const float *)row + 32 * j;
        if (vec) {
#pragma unroll
            for (int v = 0; v < 8; v++) {
                float4 q = ((const float4 *)p)[v];
                x[4 * v] = q.x; x[4 * v + 1] = q.y; x[4 * v + 2] = q.z; x[4 * v + 3] = q.w;
            }
        } else {
#pragma unroll
            for (int e = 0; e < 32; e++) x[e] = p[e];
        }
        return;
    }
    const uint16_t *p = (const uint16_t *)row + 32 * j;
    const int dt = t == ZF_DTYPE_BF16 ? 2 : 1;
    if (vec) {
#pragma unroll
        for (int v = 0; v < 4; v++) {
            uint4 q = ((const uint4 *)p)[v];
            const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
            for (int h = 0; h < 4; h++) {
                x[8 * v + 2 * h] = zf_cu_from_bits((uint16_t)(w[h] & 0xffffu), dt);
                x[8 * v + 2 * h + 1] = zf_cu_from_bits((uint16_t)(w[h] >> 16), dt);
            }
        }
    } else {
#pragma unroll
        for (int e = 0; e < 32; e++) x[e] = zf_cu_from_bits(p[e], dt);
    }
}

/* The BITS words of block j of a packed row (16- or 8-byte loads where the
 * width allows and `wide` says the rows are aligned for it). */
template <int BITS>
__device__ __forceinline__ void zf_cu_qwords(const uint32_t *row, int64_t j, bool wide, uint32_t *w) {
    const uint32_t *p = row + (int64_t)BITS * j;
    if (wide && BITS % 4 == 0) {
#pragma unroll
        for (int v = 0; v < BITS / 4; v++) {
            uint4 q = __ldg((const uint4 *)p + v);
            w[4 * v] = q.x; w[4 * v + 1] = q.y; w[4 * v + 2] = q.z; w[4 * v + 3] = q.w;
        }
    } else if (wide && BITS % 2 == 0) {
#pragma unroll
        for (int v = 0; v < BITS / 2; v++) {
            uint2 q = __ldg((const uint2 *)p + v);
            w[2 * v] = q.x; w[2 * v + 1] = q.y;
        }
    } else {
#pragma unroll
        for (int v = 0; v < BITS; v++) w[v] = __ldg(p + v);
    }
}

/* q of element e (0..31) of a block as an exact f32. A field at bit p of a
 * word (p + BITS <= 23) is masked in place and OR-ed under the exponent of
 * 2^(23-p): that float is 2^(23-p) + q exactly, so one LOP3 and one
 * subtraction give q, with no shift. Fields above bit 23 - BITS take one
 * shift by 12 first (shared by the word's upper fields); fields that
 * straddle two words (3, 5, 6 bits) are assembled, then use 2^23. */
template <int BITS> __device__ __forceinline__ float zf_cu_qval(const uint32_t *w, int e) {
    const int bit = e * BITS, wi = bit >> 5, sh = bit & 31;
    if (sh + BITS > 32) {
        const uint32_t v = ((w[wi] >> sh) | (w[wi + 1] << (32 - sh))) & ((1u << BITS) - 1u);
        return __fsub_rn(__uint_as_float(v | 0x4b000000u), 8388608.0f);
    }
    const bool hi = sh + BITS > 23;
    const int p = hi ? sh - 12 : sh;
    const uint32_t v = hi ? w[wi] >> 12 : w[wi];
    const uint32_t mag = (uint32_t)(150 - p) << 23; /* 2^(23-p) */
    /* (v & mask) | mag as one LOP3: written as C, the two constants would
     * become two instructions (a LOP3 takes one immediate) */
    uint32_t f;
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(f) : "r"(v), "r"(((1u << BITS) - 1u) << p), "r"(mag));
    return __fsub_rn(__uint_as_float(f), __uint_as_float(mag));
}

/* X_l of NUMERICS §8.2: the lane sum of block elements l, 8+l, 16+l, 24+l. */
__device__ __forceinline__ float zf_cu_lane_sum(const float *x, int l) {
    return __fadd_rn(__fadd_rn(__fadd_rn(x[l], x[8 + l]), x[16 + l]), x[24 + l]);
}

/* The tree of NUMERICS §8.2 for a thread group of 8 lanes that each hold one
 * column's 8 lane accumulators: the lane tree in registers (R_c), then
 * __shfl_xor 4, 2, 1 is the column tree (IEEE addition commutes, so all 8
 * threads end with y). All 32 threads of the warp must call it. */
__device__ __forceinline__ float zf_cu_qdot_fold(const float *a) {
    float r = __fadd_rn(__fadd_rn(__fadd_rn(a[0], a[4]), __fadd_rn(a[2], a[6])),
                        __fadd_rn(__fadd_rn(a[1], a[5]), __fadd_rn(a[3], a[7])));
    r = __fadd_rn(r, __shfl_xor_sync(0xffffffffu, r, 4));
    r = __fadd_rn(r, __shfl_xor_sync(0xffffffffu, r, 2));
    return __fadd_rn(r, __shfl_xor_sync(0xffffffffu, r, 1));
}

/* Where one TG's weight row lives: expert e, row r (e < 0: no valid expert). */
struct zf_cu_wrow {
    const uint32_t *packed;
    const void *scales, *biases; /* the row's first group */
};

__device__ __forceinline__ zf_cu_wrow zf_cu_wrow_of(const zf_cu_qw &w, int64_t e, int64_t r) {
    const int64_t row = e * w.n + r, words = w.k * w.bits / 32, groups = zf_cu_div64(w.k, w.group_size);
    const size_t ss = w.sdt == ZF_DTYPE_F32 ? 4 : 2;
    zf_cu_wrow o;
    o.packed = w.packed + row * words;
    o.scales = (const char *)w.scales + (size_t)(row * groups) * ss;
    o.biases = (const char *)w.biases + (size_t)(row * groups) * ss;
    return o;
}

/* Dots of one weight row (NW matrices: gate, up) with nx <= NX x rows, in
 * the canonical order. Thread c of the TG; d[w][i] is the same in all 8
 * threads on return. All 32 lanes of the warp must call it (shuffles);
 * `active` = 0 makes a thread skip the loads and return zeros. */
template <int BITS, int NX, int NW>
__device__ __forceinline__ void zf_cu_tg_dot(const zf_cu_qw *w, const zf_cu_wrow *wr, const void *const *xrow,
                                             int nx, zf_dtype xt, bool xvec, bool wide, int c, bool active,
                                             float d[NW][NX]) {
    float A[NW][NX][8];
#pragma unroll
    for (int m = 0; m < NW; m++)
#pragma unroll
        for (int i = 0; i < NX; i++)
#pragma unroll
            for (int l = 0; l < 8; l++) A[m][i][l] = 0.0f;
    const int64_t nb = active ? w[0].k / 32 : 0;
    const int bpg = w[0].group_size / 32;
    const zf_dtype sdt = w[0].sdt;
    constexpr int U = BITS <= 4 ? 4 : 2; /* blocks whose loads are in flight together */
    for (int64_t j0 = c; j0 < nb; j0 += 8 * U) {
        uint32_t q[U][NW][BITS];
        float s[U][NW], b[U][NW];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int64_t j = j0 + 8 * u;
            if (j < nb) {
#pragma unroll
                for (int m = 0; m < NW; m++) {
                    zf_cu_qwords<BITS>(wr[m].packed, j, wide, q[u][m]);
                    s[u][m] = zf_cu_ld(sdt, wr[m].scales, j / bpg);
                    b[u][m] = zf_cu_ld(sdt, wr[m].biases, j / bpg);
                }
            }
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int64_t j = j0 + 8 * u;
            if (j >= nb) break;
            float qf[NW][32];
#pragma unroll
            for (int m = 0; m < NW; m++)
#pragma unroll
                for (int e = 0; e < 32; e++) qf[m][e] = zf_cu_qval<BITS>(q[u][m], e);
#pragma unroll
            for (int i = 0; i < NX; i++) {
                if (i >= nx) break;
                float x[32];
                zf_cu_xblock(xt, xrow[i], j, xvec, x);
#pragma unroll
                for (int l = 0; l < 8; l++) {
                    const float X = zf_cu_lane_sum(x, l);
#pragma unroll
                    for (int m = 0; m < NW; m++) {
                        float dl = __fmul_rn(x[l], qf[m][l]);
                        dl = __fmaf_rn(x[8 + l], qf[m][8 + l], dl);
                        dl = __fmaf_rn(x[16 + l], qf[m][16 + l], dl);
                        dl = __fmaf_rn(x[24 + l], qf[m][24 + l], dl);
                        A[m][i][l] = __fmaf_rn(s[u][m], dl, A[m][i][l]);
                        A[m][i][l] = __fmaf_rn(b[u][m], X, A[m][i][l]);
                    }
                }
            }
        }
    }
#pragma unroll
    for (int m = 0; m < NW; m++)
#pragma unroll
        for (int i = 0; i < NX; i++) d[m][i] = zf_cu_qdot_fold(A[m][i]);
}

#endif
