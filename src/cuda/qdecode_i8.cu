/* Edge-tier few-token kernels (fidelity approx, docs/NUMERICS.md §8.7) for
 * gather_qmm_swiglu and gather_qmm_combine on 4-bit weights, and qmm on 4-
 * and 8-bit weights. A CTA starts
 * cp.async copies into shared memory in the order it needs them (every
 * byte in flight at once, no registers held): its x row(s), its rows'
 * scales and biases, then its weight blocks in two halves. It quantizes x
 * to int8 per 32-element block by the CPU's rule (a = amax / 127,
 * q = rint(x * (127 / amax)): the same codes, bit for bit) while the
 * weights fly, and computes on the first half while the second arrives. A
 * lane owns whole blocks: 8 dp4a of the block's 32 codes against its 32
 * int8 x values give the integer dot S (exact), then one f32 term
 * (S a) s + b X; a warp sums its lanes' terms with shuffles. The block loop
 * costs about one instruction per weight where the canonical dot needs
 * ~3.5. The scales once came through registers after the weight copies:
 * ptxas converted each right after its load, so a third of the swiglu
 * kernel's stall samples waited there, with the x quantization behind it
 * (docs/CUDA.md). Other shapes take the fast path. */
#include "cuda/check.cuh"
#include "cuda/cp_async.cuh"
#include "cuda/divmod.cuh"
#include "cuda/kernels.cuh"
#include "cuda/occupancy.h"
#include "cuda/qi8.cuh"
#include "cuda/qdot.cuh"
#include "cuda/zmath.cuh"

#define QI8_WARPS (QI8_THREADS / 32)
/* gate/up rows per warp (swiglu): 16-row CTAs. 6 (48-row CTAs, one per
 * SM) took one token's swiglu from 9.3 to 8.7 us on an H100 but the block
 * from 19.7 to 21.8, and 4 tokens from 22.5 to 31.9 (docs/CUDA.md). */
#define QI8_RPW 2
#define QI8_SW_ROWS (QI8_WARPS * QI8_RPW) /* rows per CTA (swiglu) */
#define QI8_Q_ROWS (QI8_WARPS * QI8_RPW)  /* rows per CTA (qmm) */
#define QI8_MAX_SLOTS 8                    /* combine: 4 lanes per slot */
#define QI8_CRPW 2                         /* output rows per warp (combine): 4 tokens 22.2 -> 18.4 us against 1 */
#define QI8_C_ROWS (QI8_WARPS * QI8_CRPW)  /* rows per CTA (combine) */
#define QI8_SMEM_MAX (100 * 1024) /* a CTA's staged codes, scales and x */
/* swiglu: 5 CTAs per SM (47 registers, ~44 KB at the Qwen3 shape): 4 tokens
 * 23.6 -> 22.5 us on an H100, one token the same (docs/CUDA.md) */
#define QI8_SW_CTAS 5

/* x of R rows as copied (k elements of es bytes each), then as staged
 * (cuda/qi8.cuh): the code words, a[i nb + j] and X[i nb + j]. */
static size_t qi8_smem(int64_t rows, int64_t k, size_t es) {
    return (size_t)(rows * k) * es + (size_t)(rows * (k / 32)) * (32 + 8);
}

/* The integer dot of one 4-bit block (16 bytes of codes) with its staged x
 * words: two chains of 4 dp4a (integer sums: any order gives the same S). */
__device__ __forceinline__ int qi8_dot4(uint4 c, uint4 x0, uint4 x1) {
    const uint32_t m = 0x0f0f0f0fu;
    int S = __dp4a((int)(c.x & m), (int)x0.x, 0), T = __dp4a((int)(c.z & m), (int)x1.x, 0);
    S = __dp4a((int)((c.x >> 4) & m), (int)x0.y, S);
    T = __dp4a((int)((c.z >> 4) & m), (int)x1.y, T);
    S = __dp4a((int)(c.y & m), (int)x0.z, S);
    T = __dp4a((int)(c.w & m), (int)x1.z, T);
    S = __dp4a((int)((c.y >> 4) & m), (int)x0.w, S);
    T = __dp4a((int)((c.w >> 4) & m), (int)x1.w, T);
    return S + T;
}

/* One staged x block: its 8 code words, a and X. */
struct qi8_xb {
    uint4 q0, q1;
    float a, X;
};
__device__ __forceinline__ qi8_xb qi8_xblock(const uint32_t *q, const float *A, const float *X, int b) {
    return qi8_xb{((const uint4 *)(q + b * 8))[0], ((const uint4 *)(q + b * 8))[1], A[b], X[b]};
}

/* The integer dot of one 8-bit block (32 bytes of codes, 0..255: element e
 * is byte e % 4 of word e / 4) with its staged x words, whose word 2u holds
 * elements 8u, 8u+2, 8u+4, 8u+6 and word 2u+1 the odd ones: two byte
 * permutes put the codes in that order, then unsigned x signed dp4a. S =
 * sum w q is the CPU's (w - 128) q + 128 q summed (exact integers either way). */
__device__ __forceinline__ int qi8_dp4a_us(uint32_t w, uint32_t x, int acc) {
    int d;
    asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(w), "r"(x), "r"(acc));
    return d;
}
__device__ __forceinline__ int qi8_dot8(uint4 c0, uint4 c1, uint4 x0, uint4 x1) {
    const uint32_t w[8] = {c0.x, c0.y, c0.z, c0.w, c1.x, c1.y, c1.z, c1.w};
    const uint32_t x[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
    int S = 0, T = 0;
#pragma unroll
    for (int u = 0; u < 4; u++) {
        S = qi8_dp4a_us(__byte_perm(w[2 * u], w[2 * u + 1], 0x6420), x[2 * u], S);
        T = qi8_dp4a_us(__byte_perm(w[2 * u], w[2 * u + 1], 0x7531), x[2 * u + 1], T);
    }
    return S + T;
}

/* acc + (S a) s + b X: a block's integer dot S with its group's (s, b) against x block xb */
__device__ __forceinline__ float qi8_term_s(int S, float2 sb, const qi8_xb &x, float acc) {
    const float t = __fmul_rn(__int2float_rn(S), x.a);
    return __fmaf_rn(sb.y, x.X, __fmaf_rn(t, sb.x, acc));
}
__device__ __forceinline__ float qi8_term(uint4 c, float2 sb, const qi8_xb &x, float acc) {
    return qi8_term_s(qi8_dot4(c, x.q0, x.q1), sb, x, acc);
}

__device__ __forceinline__ float qi8_warp_sum(float v, int from) {
    for (int o = from; o < 32; o *= 2) v = __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

struct qi8_src {
    const void *scales, *biases;
    int64_t row; /* e n + r */
};

/* Bytes of a row's G scales (or biases), and its slot in shared memory. */
struct qi8_sbrow {
    int bytes, pitch, chunk; /* chunk: 16, 8 or 4, what the rows' alignment allows */
};
__device__ __forceinline__ qi8_sbrow qi8_sbrow_of(int G, int ses, int chunk) {
    return qi8_sbrow{G * ses, (G * ses + 15) & ~15, chunk};
}

/* Starts the copies of the scale and bias rows of a CTA's L weight rows into
 * ss[l pitch ..] and bs[l pitch ..] (row(l, &src) names row l's scales,
 * biases and index e n + r, or says false: none, and its slot is left as it
 * is, computed on and never stored). */
template <class Row>
__device__ __forceinline__ void qi8_copy_sb(int L, qi8_sbrow sr, char *ss, char *bs, Row row) {
    const int cpr = sr.bytes >> (__ffs(sr.chunk) - 1), per = 2 * cpr;
    for (int i = threadIdx.x; i < L * per; i += QI8_THREADS) {
        int hc, c;
        const int l = zf_cu_divmod(i, per, &hc), h = zf_cu_divmod(hc, cpr, &c);
        qi8_src w;
        if (!row(l, &w)) continue;
        const char *src = (const char *)(h ? w.biases : w.scales) + w.row * sr.bytes + c * sr.chunk;
        char *dst = (h ? bs : ss) + l * sr.pitch + c * sr.chunk;
        zf_cu_cp(dst, src, sr.chunk);
    }
}

/* Starts the copies of R x rows (k elements of es bytes; row i at xrow(i))
 * into xs[i k es ..], in chunks of xc bytes (16, 8 or 4): chunk i of all R
 * cpr by thread i % QI8_THREADS (zf_cu_rowwalk: its row and column stepped). */
template <class XR>
__device__ __forceinline__ void qi8_copy_x(int R, int k, int es, int xc, char *xs, XR xrow) {
    const int cpr = (k * es) >> (__ffs(xc) - 1);
    zf_cu_rowwalk w = zf_cu_rowwalk_of(threadIdx.x, QI8_THREADS, cpr);
    for (int i = threadIdx.x; i < R * cpr; i += QI8_THREADS, w.step())
        zf_cu_cp(xs + i * xc, (const char *)xrow(w.r) + w.c * xc, xc);
}

/* The first block of a lane's second half: a lane takes blocks j0, j0 +
 * step, ... of nb and copies them as two commit groups, so it computes on
 * the first half while the second is on its way. */
__device__ __forceinline__ int qi8_half(int nb, int step) { return step * (((nb + step - 1) / step + 1) / 2); }

/* (s, b) of group g of a staged row */
template <int SDT> __device__ __forceinline__ float2 qi8_sb(const char *s, const char *b, int g) {
    return make_float2(zf_cu_load<SDT>(s, g), zf_cu_load<SDT>(b, g));
}

/* gather_qmm_swiglu: CTA = one pair x QI8_SW_ROWS rows; warp w takes rows
 * QI8_RPW w .., lane l blocks l, l + 32, ... of each gate and up row. The
 * CTA starts its copies in the order it needs them, each a commit group: x,
 * the rows' scales and biases, then each lane its own blocks in two halves;
 * it quantizes x while the weights fly and computes the first half while
 * the second arrives (a lane reads back only its own blocks, so no barrier
 * waits for the weights). */
template <int SDT, int XT>
__global__ void __launch_bounds__(QI8_THREADS, QI8_SW_CTAS) qi8_swiglu_kernel(const zf_cu_qargs a, int chunk, int xc) {
    const zf_dtype xt = zf_cu_spec(XT, a.xt);
    extern __shared__ __align__(16) uint4 qi8_sm4[];
    const int bsh = a.w[0].group_size == 32 ? 0 : a.w[0].group_size == 64 ? 1 : 2; /* block -> group */
    const int k = (int)a.w[0].k, nb = k / 32, n = (int)a.w[0].n, G = nb >> bsh;
    const int lane = threadIdx.x % 32, wr = (threadIdx.x / 32) * QI8_RPW, rb = blockIdx.x * QI8_SW_ROWS;
    const int es = xt == ZF_DTYPE_F32 ? 4 : 2, jh = qi8_half(nb, 32);
    const qi8_sbrow sr = qi8_sbrow_of(G, SDT == ZF_DTYPE_F32 ? 4 : 2, chunk);
    uint4 *wb = qi8_sm4;                            /* [row][mat][nb] codes */
    char *ss = (char *)(wb + QI8_SW_ROWS * 2 * nb); /* [row][mat] scale rows */
    char *bs = ss + QI8_SW_ROWS * 2 * sr.pitch;     /* [row][mat] bias rows */
    char *xs = bs + QI8_SW_ROWS * 2 * sr.pitch;     /* the x row as copied */
    uint32_t *q = (uint32_t *)(xs + k * es);
    float *A = (float *)(q + nb * 8), *X = A + nb;
    if (!a.chained) zf_cu_release_next(); /* the next kernel's wait still covers all of this grid */
    zf_cu_wait_prior();
    if (a.chained) zf_cu_release_next(); /* moe_experts: the next kernel starts after all earlier ones */
    for (int p = blockIdx.y; p < (int)(a.m * a.slots); p += gridDim.y) { /* m slots < 2^30 (fits) */
        int ps;
        const int pt = zf_cu_divmod(p, (int)a.slots, &ps); /* token pt, slot ps */
        const char *xr = (const char *)a.x + (size_t)((a.x_per_slot ? p : pt) * a.x_row_stride) * es;
        qi8_copy_x(1, k, es, xc, xs, [&](int) { return xr; });
        zf_cu_cp_commit();
        const int64_t e = a.ids ? a.ids[pt * a.ids_stride + ps] : 0;
        const bool ok = e >= 0 && e < a.w[0].experts; /* else NaN, and no weight read */
        qi8_copy_sb(QI8_SW_ROWS * 2, sr, ss, bs, [&](int l, qi8_src *w) { /* row l = gate/up l % 2 of CTA row l / 2 */
            const int r = l >> 1, h = l & 1;
            *w = qi8_src{a.w[h].scales, a.w[h].biases, e * n + rb + r};
            return ok && rb + r < n;
        });
        zf_cu_cp_commit();
#pragma unroll
        for (int half = 0; half < 2; half++) {
            if (ok) /* a row is nb 16-byte blocks; the CTA's rows are contiguous */
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const uint4 *src = (const uint4 *)a.w[h].packed + (e * n + rb) * nb;
#pragma unroll
                    for (int r = 0; r < QI8_RPW; r++) {
                        if (rb + wr + r >= n) continue;
                        for (int j = lane + (half ? jh : 0); j < (half ? nb : min(nb, jh)); j += 32)
                            zf_cu_cp16(wb + ((wr + r) * 2 + h) * nb + j, src + (wr + r) * nb + j);
                    }
                }
            zf_cu_cp_commit();
        }
        zf_cu_cp_wait(2); /* x, scales and biases */
        __syncthreads();
        qi8_stage<1>(xt, 1, k, [&](int) { return (const void *)xs; }, q, A, X);
        __syncthreads();
        /* rows past n or of a bad id compute on whatever their shared memory
         * holds and are never stored: no guard in the loop */
        float acc[QI8_RPW][2] = {};
        const uint4 *wp[QI8_RPW][2];
        const char *sp[QI8_RPW][2], *bp[QI8_RPW][2];
#pragma unroll
        for (int r = 0; r < QI8_RPW; r++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int l = (wr + r) * 2 + h;
                wp[r][h] = wb + l * nb, sp[r][h] = ss + l * sr.pitch, bp[r][h] = bs + l * sr.pitch;
            }
#pragma unroll
        for (int half = 0; half < 2; half++) {
            zf_cu_cp_wait(1 - half); /* this lane's blocks of the half */
            for (int j = lane + (half ? jh : 0); j < (half ? nb : min(nb, jh)); j += 32) {
                const qi8_xb xb = qi8_xblock(q, A, X, j); /* one x block for the warp's QI8_RPW rows */
                const int g = j >> bsh;
#pragma unroll
                for (int r = 0; r < QI8_RPW; r++)
#pragma unroll
                    for (int h = 0; h < 2; h++)
                        acc[r][h] = qi8_term(wp[r][h][j], qi8_sb<SDT>(sp[r][h], bp[r][h], g), xb, acc[r][h]);
            }
        }
        float g = 0.0f, u = 0.0f; /* lane r ends with row r's sums: one silu per warp */
#pragma unroll
        for (int r = 0; r < QI8_RPW; r++) {
            const float gr = qi8_warp_sum(acc[r][0], 1), ur = qi8_warp_sum(acc[r][1], 1);
            if (lane == r) g = gr, u = ur;
        }
        if (lane < QI8_RPW && rb + wr + lane < n) {
            const float v = ok ? __fmul_rn(zf_cu_silu(g), u) : zf_cu_nan();
            zf_cu_st(xt, (char *)a.out + (size_t)(p * a.out_row_stride) * es, rb + wr + lane, v);
        }
        __syncthreads(); /* the next pair restages */
    }
}

/* gather_qmm_combine: CTA = one token x QI8_C_ROWS output rows, QI8_CRPW
 * per warp; lane l takes slot l / 4 and its blocks l % 4, l % 4 + 4, ...
 * of each of its rows, each x block loaded once for them; the 4 lanes of a
 * slot sum its dot, which is weighted, then the slots are summed. Copies
 * and halves as in the swiglu kernel. */
template <int SDT> /* 2 CTAs per SM (launch bounds; ptxas: 120 registers) */
__global__ void __launch_bounds__(QI8_THREADS, 2) qi8_combine_kernel(const zf_cu_qargs a, int chunk, int xc) {
    extern __shared__ __align__(16) uint4 qi8_sm4[];
    const int bsh = a.w[0].group_size == 32 ? 0 : a.w[0].group_size == 64 ? 1 : 2; /* block -> group */
    const int k = (int)a.w[0].k, nb = k / 32, n = (int)a.w[0].n, G = nb >> bsh;
    const int slots = (int)a.slots, lane = threadIdx.x % 32, sl = lane / 4, sub = lane % 4;
    const int rb = blockIdx.x * QI8_C_ROWS, wr = (threadIdx.x / 32) * QI8_CRPW;
    const int es = a.xt == ZF_DTYPE_F32 ? 4 : 2, wes = a.wt == ZF_DTYPE_F32 ? 4 : 2, jh = qi8_half(nb, 4);
    const qi8_sbrow sr = qi8_sbrow_of(G, SDT == ZF_DTYPE_F32 ? 4 : 2, chunk);
    uint4 *wb = qi8_sm4;                                       /* [row][slot][nb] codes */
    char *ss = (char *)(wb + QI8_C_ROWS * QI8_MAX_SLOTS * nb); /* [row][slot] scale rows */
    char *bs = ss + QI8_C_ROWS * QI8_MAX_SLOTS * sr.pitch;     /* [row][slot] bias rows */
    char *xs = bs + QI8_C_ROWS * QI8_MAX_SLOTS * sr.pitch;     /* the slots' x rows as copied */
    uint32_t *q = (uint32_t *)(xs + slots * k * es);
    float *A = (float *)(q + slots * nb * 8), *X = A + slots * nb;
    zf_cu_release_next();
    zf_cu_wait_prior();
    for (int64_t t = blockIdx.y; t < a.m; t += gridDim.y) {
        const char *x0 = (const char *)a.x + (size_t)(t * a.slots * a.x_row_stride) * es;
        const size_t xrs = (size_t)a.x_row_stride * es;
        qi8_copy_x(slots, k, es, xc, xs, [&](int i) { return x0 + i * xrs; });
        zf_cu_cp_commit();
        qi8_copy_sb(QI8_C_ROWS * QI8_MAX_SLOTS, sr, ss, bs, [&](int l, qi8_src *w) { /* row l = slot s of CTA row r */
            const int r = l / QI8_MAX_SLOTS, s = l % QI8_MAX_SLOTS;
            const int64_t es_ = s < slots ? a.ids[t * a.ids_stride + s] : -1;
            *w = qi8_src{a.w[0].scales, a.w[0].biases, es_ * n + rb + r};
            return rb + r < n && es_ >= 0 && es_ < a.w[0].experts;
        });
        zf_cu_cp_commit();
        const int64_t e = sl < slots ? a.ids[t * a.ids_stride + sl] : -1;
        const bool ok = e >= 0 && e < a.w[0].experts;
#pragma unroll
        for (int half = 0; half < 2; half++) {
            if (ok) { /* a row is nb 16-byte blocks; the CTA's rows of one expert are contiguous */
                const uint4 *src = (const uint4 *)a.w[0].packed + (e * n + rb) * nb;
#pragma unroll
                for (int r = 0; r < QI8_CRPW; r++) {
                    if (rb + wr + r >= n) continue;
                    for (int j = sub + (half ? jh : 0); j < (half ? nb : min(nb, jh)); j += 4)
                        zf_cu_cp16(wb + ((wr + r) * QI8_MAX_SLOTS + sl) * nb + j, src + (wr + r) * nb + j);
                }
            }
            zf_cu_cp_commit();
        }
        zf_cu_cp_wait(2); /* x, scales and biases */
        __syncthreads();
        qi8_stage<4>(a.xt, slots, k, [&](int i) { return (const void *)(xs + i * k * es); }, q, A, X);
        __syncthreads();
        /* lanes of slots past `slots` read slot 0's x; rows past n or of a
         * bad id compute on whatever their shared memory holds: none of
         * them is stored, so no guard in the loop */
        float acc[QI8_CRPW] = {};
        const uint4 *wp[QI8_CRPW];
        const char *sp[QI8_CRPW], *bp[QI8_CRPW];
#pragma unroll
        for (int r = 0; r < QI8_CRPW; r++) {
            const int l = (wr + r) * QI8_MAX_SLOTS + sl;
            wp[r] = wb + l * nb, sp[r] = ss + l * sr.pitch, bp[r] = bs + l * sr.pitch;
        }
        const int xs0 = (sl < slots ? sl : 0) * nb;
#pragma unroll
        for (int half = 0; half < 2; half++) {
            zf_cu_cp_wait(1 - half); /* this lane's blocks of the half */
            for (int j = sub + (half ? jh : 0); j < (half ? nb : min(nb, jh)); j += 4) {
                const qi8_xb xb = qi8_xblock(q, A, X, xs0 + j);
                const int g = j >> bsh;
#pragma unroll
                for (int r = 0; r < QI8_CRPW; r++) acc[r] = qi8_term(wp[r][j], qi8_sb<SDT>(sp[r], bp[r], g), xb, acc[r]);
            }
        }
        const float wv = sl < slots ? zf_cu_ld(a.wt, (const char *)a.weights + (size_t)(t * a.weights_stride) * wes, sl)
                                    : 0.0f;
#pragma unroll
        for (int r = 0; r < QI8_CRPW; r++) {
            float d = __fadd_rn(acc[r], __shfl_xor_sync(0xffffffffu, acc[r], 1)); /* the 4 lanes of slot sl */
            d = __fadd_rn(d, __shfl_xor_sync(0xffffffffu, d, 2));
            float y = sl >= slots ? 0.0f : ok ? __fmul_rn(d, wv) : zf_cu_nan();
            y = qi8_warp_sum(y, 4);
            if (lane == 0 && rb + wr + r < n)
                zf_cu_st(a.xt, (char *)a.out + (size_t)(t * a.out_row_stride) * es, rb + wr + r, y);
        }
        __syncthreads(); /* the next token restages */
    }
}

/* qmm (no ids, at most ZF_CU_QDECODE_ROWS x rows, 4- or 8-bit weights): CTA
 * = QI8_Q_ROWS weight rows, QI8_RPW per warp, lane l blocks l, l + 32, ...
 * of each, for every x row in turn (the weights are copied once). The weights never depend on an
 * earlier kernel, so the CTA starts copying its rows' scales, biases and
 * codes before it waits for the grid before it (PDL): they fly while that
 * grid finishes. x comes after the wait, quantized straight from global
 * memory. Same block terms, warp sum and store as the swiglu kernel. */
template <int BITS, int SDT> /* ~42 KB of shared memory at 4 bits and k = 4096: 4 CTAs per SM */
__global__ void __launch_bounds__(QI8_THREADS, 4) qi8_qmm_kernel(const zf_cu_qargs a, int chunk) {
    constexpr int C = BITS / 4; /* 16-byte chunks per block */
    extern __shared__ __align__(16) uint4 qi8_sm4[];
    const int bsh = a.w[0].group_size == 32 ? 0 : a.w[0].group_size == 64 ? 1 : 2; /* block -> group */
    const int k = (int)a.w[0].k, nb = k / 32, n = (int)a.w[0].n, G = nb >> bsh;
    const int lane = threadIdx.x % 32, wr = (threadIdx.x / 32) * QI8_RPW, rb = blockIdx.x * QI8_Q_ROWS;
    const int es = a.xt == ZF_DTYPE_F32 ? 4 : 2, jh = qi8_half(nb, 32);
    const qi8_sbrow sr = qi8_sbrow_of(G, SDT == ZF_DTYPE_F32 ? 4 : 2, chunk);
    uint4 *wb = qi8_sm4;                           /* [row][nb C] codes */
    char *ss = (char *)(wb + QI8_Q_ROWS * nb * C); /* [row] scale rows */
    char *bs = ss + QI8_Q_ROWS * sr.pitch;     /* [row] bias rows */
    uint32_t *q = (uint32_t *)(bs + QI8_Q_ROWS * sr.pitch);
    float *A = (float *)(q + nb * 8), *X = A + nb;
    zf_cu_release_next(); /* the next kernel's wait still covers all of this grid */
    qi8_copy_sb(QI8_Q_ROWS, sr, ss, bs, [&](int l, qi8_src *w) {
        *w = qi8_src{a.w[0].scales, a.w[0].biases, (int64_t)rb + l};
        return rb + l < n;
    });
    zf_cu_cp_commit();
    const uint4 *src = (const uint4 *)a.w[0].packed + (int64_t)rb * nb * C; /* the CTA's rows are contiguous */
#pragma unroll
    for (int half = 0; half < 2; half++) {
#pragma unroll
        for (int r = 0; r < QI8_RPW; r++) {
            if (rb + wr + r >= n) continue;
            for (int j = lane + (half ? jh : 0); j < (half ? nb : min(nb, jh)); j += 32)
#pragma unroll
                for (int c = 0; c < C; c++) zf_cu_cp16(wb + ((wr + r) * nb + j) * C + c, src + ((wr + r) * nb + j) * C + c);
        }
        zf_cu_cp_commit();
    }
    zf_cu_wait_prior(); /* x is the earlier kernel's output */
    const uint4 *wp[QI8_RPW];
    const char *sp[QI8_RPW], *bp[QI8_RPW];
#pragma unroll
    for (int r = 0; r < QI8_RPW; r++) wp[r] = wb + (wr + r) * nb * C, sp[r] = ss + (wr + r) * sr.pitch, bp[r] = bs + (wr + r) * sr.pitch;
    for (int64_t p = 0; p < a.m; p++) {
        const char *xr = (const char *)a.x + (size_t)(p * a.x_row_stride) * es;
        qi8_stage<2>(a.xt, 1, k, [&](int) { return (const void *)xr; }, q, A, X);
        zf_cu_cp_wait(2); /* this thread's scale and bias copies */
        __syncthreads();
        /* rows past n compute on whatever their shared memory holds and are
         * never stored: no guard in the loop */
        float acc[QI8_RPW] = {};
#pragma unroll
        for (int half = 0; half < 2; half++) {
            zf_cu_cp_wait(1 - half); /* this lane's blocks of the half */
            for (int j = lane + (half ? jh : 0); j < (half ? nb : min(nb, jh)); j += 32) {
                const qi8_xb xb = qi8_xblock(q, A, X, j); /* one x block for the warp's QI8_RPW rows */
                const int g = j >> bsh;
#pragma unroll
                for (int r = 0; r < QI8_RPW; r++) {
                    const uint4 *c = wp[r] + j * C;
                    const int S = BITS == 4 ? qi8_dot4(c[0], xb.q0, xb.q1) : qi8_dot8(c[0], c[C - 1], xb.q0, xb.q1);
                    acc[r] = qi8_term_s(S, qi8_sb<SDT>(sp[r], bp[r], g), xb, acc[r]);
                }
            }
        }
        float d = 0.0f; /* lane r ends with row r's sum */
#pragma unroll
        for (int r = 0; r < QI8_RPW; r++) {
            const float dr = qi8_warp_sum(acc[r], 1);
            if (lane == r) d = dr;
        }
        if (lane < QI8_RPW && rb + wr + lane < n)
            zf_cu_st(a.xt, (char *)a.out + (size_t)(p * a.out_row_stride) * es, rb + wr + lane, d);
        __syncthreads(); /* the next x row restages */
    }
}

/* ---- launchers ------------------------------------------------------------------ */

/* Bytes of one weight row's scales (or biases), and the copy chunk their
 * rows and bases allow: 16, 8 or 4, or 0 (none: the fast path runs). */
static int64_t qi8_sb_bytes(const zf_cu_qargs *a) {
    return a->w[0].k / a->w[0].group_size * (a->w[0].sdt == ZF_DTYPE_F32 ? 4 : 2);
}
static int qi8_chunk(const zf_cu_qargs *a) {
    uintptr_t v = (uintptr_t)qi8_sb_bytes(a);
    for (int i = 0; i < a->nw; i++) v |= (uintptr_t)a->w[i].scales | (uintptr_t)a->w[i].biases;
    return v % 16 == 0 ? 16 : v % 8 == 0 ? 8 : v % 4 == 0 ? 4 : 0;
}

/* shared memory: codes, scale and bias rows (16-byte pitch) and the staged x of a CTA */
static size_t qi8_rows_smem(int64_t rows, const zf_cu_qargs *a) {
    return (size_t)rows * (size_t)(a->w[0].k / 32 * 4 * a->w[0].bits + 2 * ((qi8_sb_bytes(a) + 15) & ~(int64_t)15));
}
static size_t qi8_xes(const zf_cu_qargs *a) { return a->xt == ZF_DTYPE_F32 ? 4 : 2; }
static size_t qi8_sw_smem(const zf_cu_qargs *a) {
    return qi8_rows_smem(QI8_SW_ROWS * 2, a) + qi8_smem(1, a->w[0].k, qi8_xes(a));
}
static size_t qi8_comb_smem(const zf_cu_qargs *a) {
    return qi8_rows_smem(QI8_C_ROWS * QI8_MAX_SLOTS, a) + qi8_smem(a->slots, a->w[0].k, qi8_xes(a));
}

/* The copy chunk of x rows: 16, 8 or 4 bytes as their start and stride
 * allow (a row is k es bytes, a multiple of 64), or 0 (none: the fast path). */
static int qi8_xchunk(const zf_cu_qargs *a) {
    const uintptr_t v = (uintptr_t)a->x | (uintptr_t)(a->x_row_stride * (int64_t)qi8_xes(a));
    return v % 16 == 0 ? 16 : v % 8 == 0 ? 8 : v % 4 == 0 ? 4 : 0;
}

static bool qi8_common(const zf_cu_qargs *a) {
    return a->w[0].bits == 4 && a->w[0].k % 32 == 0 && a->w[0].n <= INT32_MAX && !zf_cu_qgrouped(a) &&
           ((uintptr_t)a->w[0].packed % 16) == 0 && qi8_chunk(a) != 0 && qi8_xchunk(a) != 0;
}

bool zf_cu_qi8_swiglu_fits(const zf_cu_qargs *a) {
    return a->nw == 2 && a->m * a->slots < (1 << 30) /* the pair index and its step in 32 bits */ &&
           a->w[1].bits == 4 && a->w[1].group_size == a->w[0].group_size &&
           ((uintptr_t)a->w[1].packed % 16) == 0 && a->w[1].sdt == a->w[0].sdt && qi8_common(a) &&
           qi8_sw_smem(a) <= QI8_SMEM_MAX;
}

/* codes, scale and bias rows of the CTA's weight rows, then x as staged (no copy of it) */
static size_t qi8_qmm_smem(const zf_cu_qargs *a) {
    return qi8_rows_smem(QI8_Q_ROWS, a) + (size_t)(a->w[0].k / 32) * (32 + 8);
}

bool zf_cu_qi8_qmm_fits(const zf_cu_qargs *a) {
    return a->nw == 1 && !a->ids && a->m <= ZF_CU_QDECODE_ROWS && (a->w[0].bits == 4 || a->w[0].bits == 8) &&
           a->w[0].k % 32 == 0 &&
           a->w[0].n <= INT32_MAX && ((uintptr_t)a->w[0].packed % 16) == 0 && qi8_chunk(a) != 0 &&
           qi8_qmm_smem(a) <= QI8_SMEM_MAX;
}

bool zf_cu_qi8_combine_fits(const zf_cu_qargs *a) {
    return qi8_common(a) && a->ids && a->slots <= QI8_MAX_SLOTS && qi8_comb_smem(a) <= QI8_SMEM_MAX;
}

template <class K> static cudaError_t qi8_go(K kernel, dim3 grid, size_t smem, cudaStream_t s, const zf_cu_qargs *a) {
    cudaError_t e = zf_cu_allow_smem((const void *)kernel, smem);
    return e != cudaSuccess ? e : zf_cu_launch(kernel, grid, dim3(QI8_THREADS), smem, s, *a, qi8_chunk(a), qi8_xchunk(a));
}

template <int BITS, int SDT> static cudaError_t qi8_qmm_go(const zf_cu_qargs *a, cudaStream_t s) {
    const size_t smem = qi8_qmm_smem(a);
    cudaError_t e = zf_cu_allow_smem((const void *)qi8_qmm_kernel<BITS, SDT>, smem);
    const dim3 grid((unsigned)((a->w[0].n + QI8_Q_ROWS - 1) / QI8_Q_ROWS));
    return e != cudaSuccess ? e
                            : zf_cu_launch(qi8_qmm_kernel<BITS, SDT>, grid, dim3(QI8_THREADS), smem, s, *a, qi8_chunk(a));
}

template <int BITS> static cudaError_t qi8_qmm_sdt(const zf_cu_qargs *a, cudaStream_t s) {
    switch (a->w[0].sdt) {
    case ZF_DTYPE_F32: return qi8_qmm_go<BITS, ZF_DTYPE_F32>(a, s);
    case ZF_DTYPE_F16: return qi8_qmm_go<BITS, ZF_DTYPE_F16>(a, s);
    case ZF_DTYPE_BF16: return qi8_qmm_go<BITS, ZF_DTYPE_BF16>(a, s);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t zf_cu_qi8_qmm(const zf_cu_qargs *a, cudaStream_t s) {
    return a->w[0].bits == 8 ? qi8_qmm_sdt<8>(a, s) : qi8_qmm_sdt<4>(a, s);
}

/* The swiglu's shared memory for a grid of one wave (one token at the
 * Qwen3 shape: 384 CTAs, 3 an SM, where QI8_SW_CTAS = 5 would fit): padded
 * so an SM holds at most r = ceil(CTAs / SMs) of them, r + 1 when chained
 * (moe_experts: room for a combine CTA beside them). With room for more, the
 * CTAs of a grid launched early under PDL landed unevenly (measured on an
 * H100, one token, weights from HBM: the swiglu alone 9.16 -> 7.63 us at 3
 * an SM, router + moe_experts 18.05 -> 17.53 at 4; a copy-only lab kernel
 * 5.50 us at 3 or 6 an SM, 6.62 at 5: docs/CUDA.md, session 19). */
static size_t qi8_sw_launch_smem(const zf_cu_qargs *a, dim3 grid) {
    return zf_cu_smem_cap(qi8_sw_smem(a), zf_cu_wave_cap((int64_t)grid.x * grid.y, zf_cu_sms, QI8_SW_CTAS, a->chained));
}

cudaError_t zf_cu_qi8_swiglu(const zf_cu_qargs *a, cudaStream_t s) {
    const int64_t np = a->m * a->slots;
    dim3 grid((unsigned)((a->w[0].n + QI8_SW_ROWS - 1) / QI8_SW_ROWS), (unsigned)(np < 65535 ? np : 65535));
    const size_t smem = qi8_sw_launch_smem(a, grid);
    switch (a->w[0].sdt == a->w[1].sdt ? a->w[0].sdt : ZF_DTYPE_COUNT) {
    case ZF_DTYPE_F32: return qi8_go(qi8_swiglu_kernel<ZF_DTYPE_F32, ZF_CU_ANY>, grid, smem, s, a);
    case ZF_DTYPE_F16: return qi8_go(qi8_swiglu_kernel<ZF_DTYPE_F16, ZF_CU_ANY>, grid, smem, s, a);
    case ZF_DTYPE_BF16: /* bf16 x: its own code too (zf_cu_spec_kernel) */
        return qi8_go(zf_cu_spec_kernel(a->xt, ZF_DTYPE_BF16, qi8_swiglu_kernel<ZF_DTYPE_BF16, ZF_CU_ANY>,
                                        qi8_swiglu_kernel<ZF_DTYPE_BF16, ZF_DTYPE_BF16>),
                      grid, smem, s, a);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t zf_cu_qi8_combine(const zf_cu_qargs *a, cudaStream_t s) {
    dim3 grid((unsigned)((a->w[0].n + QI8_C_ROWS - 1) / QI8_C_ROWS), (unsigned)(a->m < 65535 ? a->m : 65535));
    switch (a->w[0].sdt) {
    case ZF_DTYPE_F32: return qi8_go(qi8_combine_kernel<ZF_DTYPE_F32>, grid, qi8_comb_smem(a), s, a);
    case ZF_DTYPE_F16: return qi8_go(qi8_combine_kernel<ZF_DTYPE_F16>, grid, qi8_comb_smem(a), s, a);
    case ZF_DTYPE_BF16: return qi8_go(qi8_combine_kernel<ZF_DTYPE_BF16>, grid, qi8_comb_smem(a), s, a);
    default: return cudaErrorInvalidValue;
    }
}
