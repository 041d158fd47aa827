/* Edge-tier few-token kernels (fidelity approx, docs/NUMERICS.md §8.7) for
 * gather_qmm_swiglu and gather_qmm_combine on 4-bit weights. A CTA starts
 * the cp.async copies of all its weight blocks into shared memory (every
 * byte in flight at once, no registers held), stages the scales and biases,
 * and quantizes its x row(s) to int8 per 32-element block by the CPU's rule
 * (a = amax / 127, q = rint(x * (127 / amax)): the same codes, bit for bit)
 * while they fly. A lane owns whole blocks: 8 dp4a of the block's 32 codes
 * against its 32 int8 x values give the integer dot S (exact), then one f32
 * term (S a) s + b X; a warp sums its lanes' terms with shuffles. The block
 * loop costs about one instruction per weight where the canonical dot needs
 * ~3.5; the whole swiglu kernel issues 2.7-3.4 M warp instructions at the
 * Qwen3 shape against the exact kernel's 6.2 M, but waits on the loads of
 * its prologue (docs/CUDA.md). Other shapes take the fast path. */
#include "cuda/check.cuh"
#include "cuda/cp_async.cuh"
#include "cuda/kernels.cuh"
#include "cuda/qi8.cuh"
#include "cuda/qdot.cuh"
#include "cuda/zmath.cuh"

#define QI8_WARPS (QI8_THREADS / 32)
#define QI8_RPW 2 /* gate/up rows per warp (swiglu): 16-row CTAs, ~23 warps per SM (3 per warp measured slower) */
#define QI8_SW_ROWS (QI8_WARPS * QI8_RPW) /* rows per CTA (swiglu) */
#define QI8_MAX_SLOTS 8                    /* combine: 4 lanes per slot */
#define QI8_CRPW 1                         /* output rows per warp (combine) */
#define QI8_C_ROWS (QI8_WARPS * QI8_CRPW)  /* rows per CTA (combine) */
#define QI8_SMEM_MAX (100 * 1024) /* a CTA's staged codes, scales and x */

/* Staged x of R rows (cuda/qi8.cuh): the code words, then a[i nb + j] and
 * X[i nb + j]. */
static size_t qi8_smem(int64_t rows, int64_t k) { return (size_t)(rows * (k / 32)) * (32 + 8); }

/* The integer dot of one 4-bit block (16 bytes of codes) with its staged x words. */
__device__ __forceinline__ int qi8_dot4(uint4 c, uint4 x0, uint4 x1) {
    const uint32_t m = 0x0f0f0f0fu;
    int S = __dp4a((int)(c.x & m), (int)x0.x, 0);
    S = __dp4a((int)((c.x >> 4) & m), (int)x0.y, S);
    S = __dp4a((int)(c.y & m), (int)x0.z, S);
    S = __dp4a((int)((c.y >> 4) & m), (int)x0.w, S);
    S = __dp4a((int)(c.z & m), (int)x1.x, S);
    S = __dp4a((int)((c.z >> 4) & m), (int)x1.y, S);
    S = __dp4a((int)(c.w & m), (int)x1.z, S);
    return __dp4a((int)((c.w >> 4) & m), (int)x1.w, S);
}

/* One staged x block: its 8 code words, a and X. */
struct qi8_xb {
    uint4 q0, q1;
    float a, X;
};
__device__ __forceinline__ qi8_xb qi8_xblock(const uint32_t *q, const float *A, const float *X, int b) {
    return qi8_xb{((const uint4 *)(q + b * 8))[0], ((const uint4 *)(q + b * 8))[1], A[b], X[b]};
}

/* acc + (S a) s + b X: weight block c with its group's (s, b) against x block xb */
__device__ __forceinline__ float qi8_term(uint4 c, float2 sb, const qi8_xb &x, float acc) {
    const float t = __fmul_rn(__int2float_rn(qi8_dot4(c, x.q0, x.q1)), x.a);
    return __fmaf_rn(sb.y, x.X, __fmaf_rn(t, sb.x, acc));
}

__device__ __forceinline__ float qi8_warp_sum(float v, int from) {
    for (int o = from; o < 32; o *= 2) v = __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

struct qi8_src {
    const void *scales, *biases;
    int64_t row; /* e n + r */
};

/* The (scale, bias) pairs of a CTA's weight rows as f32, G groups per row,
 * into sb[l G + g]: thread t takes row l = t / TPR and its groups t % TPR,
 * + TPR, ... (row(l, &src) names the row's scales, biases and index
 * e n + r, or says false: none). A thread issues up to 8 pairs' loads at once, runs
 * `between` (the x staging, whose loads then fly beside them) and only then
 * stores, so no pair waits for another's round trip. */
template <int SDT, int TPR, class Row, class Between>
__device__ __forceinline__ void qi8_stage_sb(int G, float2 *sb, Row row, Between between) {
    constexpr int U = 8;
    const int l = threadIdx.x / TPR, g0 = threadIdx.x % TPR;
    qi8_src w = {nullptr, nullptr, 0};
    const bool have = row(l, &w);
    const int64_t base = w.row * G;
    for (int c = 0; c == 0 || c * U * TPR < G; c++) { /* the same trip count in every thread */
        float2 v[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int g = g0 + (c * U + u) * TPR;
            if (have && g < G) v[u] = make_float2(zf_cu_load<SDT>(w.scales, base + g), zf_cu_load<SDT>(w.biases, base + g));
        }
        if (c == 0) between();
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int g = g0 + (c * U + u) * TPR;
            if (have && g < G) sb[l * G + g] = v[u];
        }
    }
}

/* gather_qmm_swiglu: CTA = one pair x QI8_SW_ROWS rows; warp w takes rows
 * QI8_RPW w .., lane l blocks l, l + 32, ... of each gate and up row. Each
 * thread starts the copies of its own blocks into shared memory (cp.async,
 * so every byte of the CTA is in flight at once without registers), then
 * the CTA stages the scales and biases and quantizes x while they fly. */
template <int SDT> __global__ void __launch_bounds__(QI8_THREADS) qi8_swiglu_kernel(const zf_cu_qargs a) {
    extern __shared__ __align__(16) uint4 qi8_sm4[];
    const int k = (int)a.w[0].k, nb = k / 32, n = (int)a.w[0].n, G = k / a.w[0].group_size;
    const int bsh = a.w[0].group_size == 32 ? 0 : a.w[0].group_size == 64 ? 1 : 2; /* block -> group */
    const int lane = threadIdx.x % 32, wr = (threadIdx.x / 32) * QI8_RPW, rb = blockIdx.x * QI8_SW_ROWS;
    uint4 *wb = qi8_sm4;                                 /* [row][mat][nb] codes */
    float2 *sb = (float2 *)(wb + QI8_SW_ROWS * 2 * nb); /* [row][mat][G] (s, b) */
    uint32_t *q = (uint32_t *)(sb + QI8_SW_ROWS * 2 * G);
    float *A = (float *)(q + nb * 8), *X = A + nb;
    const size_t es = a.xt == ZF_DTYPE_F32 ? 4 : 2;
    zf_cu_release_next(); /* the next kernel's wait still covers all of this grid */
    zf_cu_wait_prior();
    for (int64_t p = blockIdx.y; p < a.m * a.slots; p += gridDim.y) {
        const int64_t e = a.ids ? a.ids[(p / a.slots) * a.ids_stride + p % a.slots] : 0;
        const bool ok = e >= 0 && e < a.w[0].experts; /* else NaN, and no weight read */
        if (ok) /* a row is nb 16-byte blocks; the CTA's rows are contiguous */
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const uint4 *src = (const uint4 *)a.w[h].packed + (e * n + rb) * nb;
#pragma unroll
                for (int r = 0; r < QI8_RPW; r++) {
                    if (rb + wr + r >= n) continue;
                    for (int j = lane; j < nb; j += 32) zf_cu_cp16(wb + ((wr + r) * 2 + h) * nb + j, src + (wr + r) * nb + j);
                }
            }
        const char *xr = (const char *)a.x + (size_t)((a.x_per_slot ? p : p / a.slots) * a.x_row_stride) * es;
        qi8_stage_sb<SDT, QI8_THREADS / (QI8_SW_ROWS * 2)>(
            G, sb,
            [&](int l, qi8_src *w) { /* row l = gate/up l % 2 of CTA row l / 2 */
                const int r = l >> 1, h = l & 1;
                *w = qi8_src{a.w[h].scales, a.w[h].biases, e * n + rb + r};
                return ok && r < QI8_SW_ROWS && rb + r < n;
            },
            [&] { qi8_stage<1>(a.xt, 1, k, [&](int) { return (const void *)xr; }, q, A, X); });
        zf_cu_cp_wait_all();
        __syncthreads();
        /* rows past n or of a bad id compute on whatever their shared memory
         * holds and are never stored: no guard in the loop */
        float acc[QI8_RPW][2] = {};
        const uint4 *wp[QI8_RPW][2];
        const float2 *sp[QI8_RPW][2];
#pragma unroll
        for (int r = 0; r < QI8_RPW; r++)
#pragma unroll
            for (int h = 0; h < 2; h++) wp[r][h] = wb + ((wr + r) * 2 + h) * nb, sp[r][h] = sb + ((wr + r) * 2 + h) * G;
        for (int j = lane; j < nb; j += 32) { /* one x block for the warp's 2 QI8_RPW rows */
            const qi8_xb xb = qi8_xblock(q, A, X, j);
            const int g = j >> bsh;
#pragma unroll
            for (int r = 0; r < QI8_RPW; r++)
#pragma unroll
                for (int h = 0; h < 2; h++) acc[r][h] = qi8_term(wp[r][h][j], sp[r][h][g], xb, acc[r][h]);
        }
        float g = 0.0f, u = 0.0f; /* lane r ends with row r's sums: one silu per warp */
#pragma unroll
        for (int r = 0; r < QI8_RPW; r++) {
            const float gr = qi8_warp_sum(acc[r][0], 1), ur = qi8_warp_sum(acc[r][1], 1);
            if (lane == r) g = gr, u = ur;
        }
        if (lane < QI8_RPW && rb + wr + lane < n) {
            const float v = ok ? __fmul_rn(zf_cu_silu(g), u) : zf_cu_nan();
            zf_cu_st(a.xt, (char *)a.out + (size_t)(p * a.out_row_stride) * es, rb + wr + lane, v);
        }
        __syncthreads(); /* the next pair restages */
    }
}

/* gather_qmm_combine: CTA = one token x QI8_C_ROWS output rows, QI8_CRPW
 * per warp; lane l takes slot l / 4 and its blocks l % 4, l % 4 + 4, ...
 * of each of its rows (copied to shared memory by that lane), each x block
 * loaded once for them; the 4 lanes of a slot sum its dot, which is
 * weighted, then the slots are summed. */
template <int SDT> __global__ void __launch_bounds__(QI8_THREADS) qi8_combine_kernel(const zf_cu_qargs a) {
    extern __shared__ __align__(16) uint4 qi8_sm4[];
    const int k = (int)a.w[0].k, nb = k / 32, n = (int)a.w[0].n, G = k / a.w[0].group_size;
    const int bsh = a.w[0].group_size == 32 ? 0 : a.w[0].group_size == 64 ? 1 : 2; /* block -> group */
    const int slots = (int)a.slots, lane = threadIdx.x % 32, sl = lane / 4, sub = lane % 4;
    const int rb = blockIdx.x * QI8_C_ROWS, wr = (threadIdx.x / 32) * QI8_CRPW;
    uint4 *wb = qi8_sm4;                                        /* [row][slot][nb] codes */
    float2 *sb = (float2 *)(wb + QI8_C_ROWS * QI8_MAX_SLOTS * nb); /* [row][slot][G] (s, b) */
    uint32_t *q = (uint32_t *)(sb + QI8_C_ROWS * QI8_MAX_SLOTS * G);
    float *A = (float *)(q + slots * nb * 8), *X = A + slots * nb;
    const size_t es = a.xt == ZF_DTYPE_F32 ? 4 : 2, wes = a.wt == ZF_DTYPE_F32 ? 4 : 2;
    zf_cu_release_next();
    zf_cu_wait_prior();
    for (int64_t t = blockIdx.y; t < a.m; t += gridDim.y) {
        const int64_t e = sl < slots ? a.ids[t * a.ids_stride + sl] : -1;
        const bool ok = e >= 0 && e < a.w[0].experts;
        if (ok) { /* a row is nb 16-byte blocks; the CTA's rows of one expert are contiguous */
            const uint4 *src = (const uint4 *)a.w[0].packed + (e * n + rb) * nb;
#pragma unroll
            for (int r = 0; r < QI8_CRPW; r++) {
                if (rb + wr + r >= n) continue;
                for (int j = sub; j < nb; j += 4)
                    zf_cu_cp16(wb + ((wr + r) * QI8_MAX_SLOTS + sl) * nb + j, src + (wr + r) * nb + j);
            }
        }
        const char *x0 = (const char *)a.x + (size_t)(t * a.slots * a.x_row_stride) * es;
        const size_t xrs = (size_t)a.x_row_stride * es;
        qi8_stage_sb<SDT, QI8_THREADS / (QI8_C_ROWS * QI8_MAX_SLOTS)>(
            G, sb,
            [&](int l, qi8_src *w) { /* row l = slot s of CTA row r */
                const int r = l / QI8_MAX_SLOTS, s = l % QI8_MAX_SLOTS;
                const int64_t es_ = s < slots ? a.ids[t * a.ids_stride + s] : -1;
                *w = qi8_src{a.w[0].scales, a.w[0].biases, es_ * n + rb + r};
                return r < QI8_C_ROWS && rb + r < n && es_ >= 0 && es_ < a.w[0].experts;
            },
            [&] { qi8_stage<4>(a.xt, slots, k, [&](int i) { return (const void *)(x0 + i * xrs); }, q, A, X); });
        zf_cu_cp_wait_all();
        __syncthreads();
        /* lanes of slots past `slots` read slot 0's x; rows past n or of a
         * bad id compute on whatever their shared memory holds: none of
         * them is stored, so no guard in the loop */
        float acc[QI8_CRPW] = {};
        const uint4 *wp[QI8_CRPW];
        const float2 *sp[QI8_CRPW];
#pragma unroll
        for (int r = 0; r < QI8_CRPW; r++)
            wp[r] = wb + ((wr + r) * QI8_MAX_SLOTS + sl) * nb, sp[r] = sb + ((wr + r) * QI8_MAX_SLOTS + sl) * G;
        const int xs = (sl < slots ? sl : 0) * nb;
        for (int j = sub; j < nb; j += 4) {
            const qi8_xb xb = qi8_xblock(q, A, X, xs + j);
            const int g = j >> bsh;
#pragma unroll
            for (int r = 0; r < QI8_CRPW; r++) acc[r] = qi8_term(wp[r][j], sp[r][g], xb, acc[r]);
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

/* ---- launchers ------------------------------------------------------------------ */

/* shared memory: codes, (s, b) pairs and the staged x of a CTA */
static size_t qi8_sw_smem(const zf_cu_qargs *a) {
    const int64_t nb = a->w[0].k / 32, G = a->w[0].k / a->w[0].group_size;
    return (size_t)(QI8_SW_ROWS * 2) * (size_t)(nb * 16 + G * 8) + qi8_smem(1, a->w[0].k);
}
static size_t qi8_comb_smem(const zf_cu_qargs *a) {
    const int64_t nb = a->w[0].k / 32, G = a->w[0].k / a->w[0].group_size;
    return (size_t)(QI8_C_ROWS * QI8_MAX_SLOTS) * (size_t)(nb * 16 + G * 8) + qi8_smem(a->slots, a->w[0].k);
}

static bool qi8_common(const zf_cu_qargs *a) {
    return a->w[0].bits == 4 && a->w[0].k % 32 == 0 && a->w[0].n <= INT32_MAX && !zf_cu_qgrouped(a) &&
           ((uintptr_t)a->w[0].packed % 16) == 0;
}

bool zf_cu_qi8_swiglu_fits(const zf_cu_qargs *a) {
    return qi8_common(a) && a->nw == 2 && a->w[1].bits == 4 && a->w[1].group_size == a->w[0].group_size &&
           ((uintptr_t)a->w[1].packed % 16) == 0 && a->w[1].sdt == a->w[0].sdt && qi8_sw_smem(a) <= QI8_SMEM_MAX;
}

bool zf_cu_qi8_combine_fits(const zf_cu_qargs *a) {
    return qi8_common(a) && a->ids && a->slots <= QI8_MAX_SLOTS && qi8_comb_smem(a) <= QI8_SMEM_MAX;
}

template <class K> static cudaError_t qi8_go(K kernel, dim3 grid, size_t smem, cudaStream_t s, const zf_cu_qargs *a) {
    if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return e;
    }
    return zf_cu_launch(kernel, grid, dim3(QI8_THREADS), smem, s, *a);
}

cudaError_t zf_cu_qi8_swiglu(const zf_cu_qargs *a, cudaStream_t s) {
    const int64_t np = a->m * a->slots;
    dim3 grid((unsigned)((a->w[0].n + QI8_SW_ROWS - 1) / QI8_SW_ROWS), (unsigned)(np < 65535 ? np : 65535));
    switch (a->w[0].sdt == a->w[1].sdt ? a->w[0].sdt : ZF_DTYPE_COUNT) {
    case ZF_DTYPE_F32: return qi8_go(qi8_swiglu_kernel<ZF_DTYPE_F32>, grid, qi8_sw_smem(a), s, a);
    case ZF_DTYPE_F16: return qi8_go(qi8_swiglu_kernel<ZF_DTYPE_F16>, grid, qi8_sw_smem(a), s, a);
    case ZF_DTYPE_BF16: return qi8_go(qi8_swiglu_kernel<ZF_DTYPE_BF16>, grid, qi8_sw_smem(a), s, a);
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
