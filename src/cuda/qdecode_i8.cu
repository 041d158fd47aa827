/* Edge-tier few-token kernels (fidelity approx, docs/NUMERICS.md §8.7) for
 * gather_qmm_swiglu and gather_qmm_combine on 4-bit weights. A CTA issues
 * its first weight loads, then quantizes its x row(s) to int8 per
 * 32-element block by the CPU's rule (a = amax / 127, q = rint(x * (127 /
 * amax)): the same codes, bit for bit) while they fly. A lane owns whole
 * blocks: 8 dp4a of the block's 32 codes against its 32 int8 x values give
 * the integer dot S (exact), then one f32 term (S a) s + b X; a warp sums
 * its lanes' terms with shuffles. About one instruction per weight where the
 * canonical dot needs ~3.5 (docs/CUDA.md). Other shapes take the fast path. */
#include "cuda/check.cuh"
#include "cuda/kernels.cuh"
#include "cuda/qdot.cuh"
#include "cuda/zmath.cuh"

#define QI8_THREADS 256
#define QI8_WARPS (QI8_THREADS / 32)
#define QI8_RPW 2                          /* gate/up rows per warp (swiglu) */
#define QI8_SW_ROWS (QI8_WARPS * QI8_RPW) /* rows per CTA (swiglu) */
#define QI8_MAX_SLOTS 8                    /* combine: 4 lanes per slot */
#define QI8_SMEM_MAX (48 * 1024)

/* Staged x, R rows of nb blocks: q[(i nb + j) 8 + w] int32 words, word 2v
 * the codes of elements 8v, 8v+2, 8v+4, 8v+6 of block j (what the low
 * nibbles of packed word v pair with), word 2v+1 those of 8v+1, ...; then
 * a[i nb + j] and X[i nb + j] (the block's sum of x, f32, any order). */
static size_t qi8_smem(int64_t rows, int64_t k) { return (size_t)(rows * (k / 32)) * (32 + 8); }

__device__ __forceinline__ uint32_t qi8_pack(int a, int b, int c, int d) {
    return (uint32_t)(a & 0xff) | (uint32_t)(b & 0xff) << 8 | (uint32_t)(c & 0xff) << 16 | (uint32_t)(d & 0xff) << 24;
}

/* Quantizes rows 0..R-1 (row i at xrow(i), k elements of t). Unit u = 8
 * elements; a block's 4 units are 4 neighbouring lanes of one warp, so its
 * max and sum are two shuffles. Every thread runs the same rounds. */
template <class XR>
__device__ void qi8_stage(zf_dtype t, int R, int k, XR xrow, uint32_t *q, float *A, float *X) {
    const int upr = k / 8, units = R * upr, nb = k / 32;
    for (int u0 = 0; u0 < units; u0 += QI8_THREADS) {
        const int u = u0 + threadIdx.x, i = u / upr, v = u % upr;
        const bool on = u < units;
        float x[8];
#pragma unroll
        for (int e = 0; e < 8; e++) x[e] = on ? zf_cu_ld(t, xrow(i), (int64_t)v * 8 + e) : 0.0f;
        float m = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; e++) m = fmaxf(m, fabsf(x[e]));
        float s = __fadd_rn(__fadd_rn(__fadd_rn(x[0], x[1]), __fadd_rn(x[2], x[3])),
                            __fadd_rn(__fadd_rn(x[4], x[5]), __fadd_rn(x[6], x[7])));
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
        s = __fadd_rn(s, __shfl_xor_sync(0xffffffffu, s, 1));
        s = __fadd_rn(s, __shfl_xor_sync(0xffffffffu, s, 2));
        const float inv = m > 0.0f ? __fdiv_rn(127.0f, m) : 0.0f;
        int c[8];
#pragma unroll
        for (int e = 0; e < 8; e++) c[e] = max(-127, min(127, __float2int_rn(__fmul_rn(x[e], inv))));
        if (!on) continue;
        const int j = v / 4, b = i * nb + j;
        q[b * 8 + 2 * (v % 4)] = qi8_pack(c[0], c[2], c[4], c[6]);
        q[b * 8 + 2 * (v % 4) + 1] = qi8_pack(c[1], c[3], c[5], c[7]);
        if (v % 4 == 0) A[b] = __fdiv_rn(m, 127.0f), X[b] = s;
    }
}

/* The integer dot of one 4-bit block (16 bytes of codes) with its staged x. */
__device__ __forceinline__ int qi8_dot4(uint4 c, const uint32_t *xq) {
    const uint4 x0 = ((const uint4 *)xq)[0], x1 = ((const uint4 *)xq)[1];
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

/* One weight block's codes, scale and bias (block j of a row). */
struct qi8_blk {
    uint4 c;
    float s, b;
};

__device__ __forceinline__ qi8_blk qi8_load(const zf_cu_wrow &w, int j, int bpg, zf_dtype sdt) {
    qi8_blk o;
    o.c = __ldg((const uint4 *)w.packed + j);
    o.s = zf_cu_ld(sdt, w.scales, j / bpg);
    o.b = zf_cu_ld(sdt, w.biases, j / bpg);
    return o;
}

/* acc + (S a) s + b X for block j of staged row i */
__device__ __forceinline__ float qi8_term(const qi8_blk &w, const uint32_t *q, const float *A, const float *X, int b,
                                          float acc) {
    const float t = __fmul_rn(__int2float_rn(qi8_dot4(w.c, q + b * 8)), A[b]);
    return __fmaf_rn(w.b, X[b], __fmaf_rn(t, w.s, acc));
}

__device__ __forceinline__ float qi8_warp_sum(float v, int from) {
    for (int o = from; o < 32; o *= 2) v = __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* gather_qmm_swiglu: CTA = one pair x QI8_SW_ROWS rows; warp w takes rows
 * QI8_RPW w .., lane l blocks l, l + 32, ... of each gate and up row. */
__global__ void __launch_bounds__(QI8_THREADS) qi8_swiglu_kernel(const zf_cu_qargs a) {
    extern __shared__ __align__(16) uint32_t qi8_sm[];
    const int k = (int)a.w[0].k, nb = k / 32, n = (int)a.w[0].n, bpg = a.w[0].group_size / 32;
    const int lane = threadIdx.x % 32, r0 = blockIdx.x * QI8_SW_ROWS + (threadIdx.x / 32) * QI8_RPW;
    uint32_t *q = qi8_sm;
    float *A = (float *)(q + nb * 8), *X = A + nb;
    const size_t es = a.xt == ZF_DTYPE_F32 ? 4 : 2;
    zf_cu_release_next(); /* the next kernel's wait still covers all of this grid */
    zf_cu_wait_prior();
    for (int64_t p = blockIdx.y; p < a.m * a.slots; p += gridDim.y) {
        const int64_t e = a.ids ? a.ids[(p / a.slots) * a.ids_stride + p % a.slots] : 0;
        const bool ok = e >= 0 && e < a.w[0].experts; /* else NaN, and no weight read */
        zf_cu_wrow w[QI8_RPW][2];
        bool live[QI8_RPW];
#pragma unroll
        for (int r = 0; r < QI8_RPW; r++) {
            live[r] = ok && r0 + r < n;
#pragma unroll
            for (int h = 0; h < 2; h++)
                if (live[r]) w[r][h] = zf_cu_wrow_of(a.w[h], e, r0 + r);
        }
        qi8_blk nx[QI8_RPW][2]; /* the lane's next blocks, loaded a step ahead */
        auto load = [&](int j) {
#pragma unroll
            for (int r = 0; r < QI8_RPW; r++)
#pragma unroll
                for (int h = 0; h < 2; h++)
                    if (live[r] && j < nb) nx[r][h] = qi8_load(w[r][h], j, bpg, a.w[h].sdt);
        };
        load(lane);
        const char *xr = (const char *)a.x + (size_t)((a.x_per_slot ? p : p / a.slots) * a.x_row_stride) * es;
        qi8_stage(a.xt, 1, k, [&](int) { return (const void *)xr; }, q, A, X);
        __syncthreads();
        float acc[QI8_RPW][2] = {};
        for (int j = lane; j < nb; j += 32) {
            qi8_blk cur[QI8_RPW][2];
#pragma unroll
            for (int r = 0; r < QI8_RPW; r++)
#pragma unroll
                for (int h = 0; h < 2; h++) cur[r][h] = nx[r][h];
            load(j + 32);
#pragma unroll
            for (int r = 0; r < QI8_RPW; r++)
#pragma unroll
                for (int h = 0; h < 2; h++)
                    if (live[r]) acc[r][h] = qi8_term(cur[r][h], q, A, X, j, acc[r][h]);
        }
#pragma unroll
        for (int r = 0; r < QI8_RPW; r++) {
            const float g = qi8_warp_sum(acc[r][0], 1), u = qi8_warp_sum(acc[r][1], 1);
            if (lane == 0 && r0 + r < n) {
                const float v = ok ? __fmul_rn(zf_cu_silu(g), u) : zf_cu_nan();
                zf_cu_st(a.xt, (char *)a.out + (size_t)(p * a.out_row_stride) * es, r0 + r, v);
            }
        }
        __syncthreads(); /* the next pair restages x */
    }
}

/* gather_qmm_combine: CTA = one token x QI8_WARPS output rows, a warp per
 * row; lane l takes slot l / 4 and its blocks l % 4, l % 4 + 4, ...; the 4
 * lanes of a slot sum its dot, which is weighted, then the slots are summed. */
__global__ void __launch_bounds__(QI8_THREADS) qi8_combine_kernel(const zf_cu_qargs a) {
    extern __shared__ __align__(16) uint32_t qi8_sm[];
    const int k = (int)a.w[0].k, nb = k / 32, n = (int)a.w[0].n, bpg = a.w[0].group_size / 32;
    const int slots = (int)a.slots, lane = threadIdx.x % 32, sl = lane / 4, sub = lane % 4;
    const int row = blockIdx.x * QI8_WARPS + threadIdx.x / 32;
    uint32_t *q = qi8_sm;
    float *A = (float *)(q + slots * nb * 8), *X = A + slots * nb;
    const size_t es = a.xt == ZF_DTYPE_F32 ? 4 : 2, wes = a.wt == ZF_DTYPE_F32 ? 4 : 2;
    zf_cu_release_next();
    zf_cu_wait_prior();
    for (int64_t t = blockIdx.y; t < a.m; t += gridDim.y) {
        const int64_t e = sl < slots ? a.ids[t * a.ids_stride + sl] : -1;
        const bool ok = e >= 0 && e < a.w[0].experts, live = ok && row < n;
        zf_cu_wrow w;
        if (live) w = zf_cu_wrow_of(a.w[0], e, row);
        qi8_blk nx[2];
        auto load = [&](int j) {
#pragma unroll
            for (int h = 0; h < 2; h++)
                if (live && j + 4 * h < nb) nx[h] = qi8_load(w, j + 4 * h, bpg, a.w[0].sdt);
        };
        load(sub);
        const char *x0 = (const char *)a.x + (size_t)(t * a.slots * a.x_row_stride) * es;
        const size_t xrs = (size_t)a.x_row_stride * es;
        qi8_stage(a.xt, slots, k, [&](int i) { return (const void *)(x0 + i * xrs); }, q, A, X);
        __syncthreads();
        float acc = 0.0f;
        const int base = (sl < slots ? sl : 0) * nb;
        for (int j = sub; j < nb; j += 8) {
            const qi8_blk c0 = nx[0], c1 = nx[1];
            load(j + 8);
            if (!live) continue;
            acc = qi8_term(c0, q, A, X, base + j, acc);
            if (j + 4 < nb) acc = qi8_term(c1, q, A, X, base + j + 4, acc);
        }
        float d = __fadd_rn(acc, __shfl_xor_sync(0xffffffffu, acc, 1)); /* the 4 lanes of slot sl */
        d = __fadd_rn(d, __shfl_xor_sync(0xffffffffu, d, 2));
        const float wv = sl < slots ? zf_cu_ld(a.wt, (const char *)a.weights + (size_t)(t * a.weights_stride) * wes, sl)
                                    : 0.0f;
        float y = sl >= slots ? 0.0f : ok ? __fmul_rn(d, wv) : zf_cu_nan();
        y = qi8_warp_sum(y, 4);
        if (lane == 0 && row < n) zf_cu_st(a.xt, (char *)a.out + (size_t)(t * a.out_row_stride) * es, row, y);
        __syncthreads(); /* the next token restages */
    }
}

/* ---- launchers ------------------------------------------------------------------ */

static bool qi8_common(const zf_cu_qargs *a) {
    return a->w[0].bits == 4 && a->w[0].k % 32 == 0 && a->w[0].n <= INT32_MAX && !zf_cu_qgrouped(a) &&
           ((uintptr_t)a->w[0].packed % 16) == 0;
}

bool zf_cu_qi8_swiglu_fits(const zf_cu_qargs *a) {
    return qi8_common(a) && a->nw == 2 && a->w[1].bits == 4 && a->w[1].group_size == a->w[0].group_size &&
           ((uintptr_t)a->w[1].packed % 16) == 0 && qi8_smem(1, a->w[0].k) <= QI8_SMEM_MAX;
}

bool zf_cu_qi8_combine_fits(const zf_cu_qargs *a) {
    return qi8_common(a) && a->ids && a->slots <= QI8_MAX_SLOTS && qi8_smem(a->slots, a->w[0].k) <= QI8_SMEM_MAX;
}

cudaError_t zf_cu_qi8_swiglu(const zf_cu_qargs *a, cudaStream_t s) {
    const int64_t np = a->m * a->slots;
    dim3 grid((unsigned)((a->w[0].n + QI8_SW_ROWS - 1) / QI8_SW_ROWS), (unsigned)(np < 65535 ? np : 65535));
    return zf_cu_launch(qi8_swiglu_kernel, grid, dim3(QI8_THREADS), qi8_smem(1, a->w[0].k), s, *a);
}

cudaError_t zf_cu_qi8_combine(const zf_cu_qargs *a, cudaStream_t s) {
    dim3 grid((unsigned)((a->w[0].n + QI8_WARPS - 1) / QI8_WARPS), (unsigned)(a->m < 65535 ? a->m : 65535));
    return zf_cu_launch(qi8_combine_kernel, grid, dim3(QI8_THREADS), qi8_smem(a->slots, a->w[0].k), s, *a);
}
