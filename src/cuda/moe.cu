/* MoE on CUDA (docs/NUMERICS.md §8.3-8.5): the router, and the fused
 * gather_qmm_swiglu / gather_qmm_combine next to their stock compositions
 * (gather_qmm into T, then the stock elementwise passes). Fused variants
 * run qmm.cu's gathered dots with an epilogue; they differ only in where
 * they round. Few tokens take one launch per fused op. */
#include "core/qweight.h"
#include "cuda/check.cuh"
#include "cuda/kernels.cuh"
#include "cuda/l256.cuh"
#include "cuda/qdot.cuh"
#include "cuda/zmath.cuh"

/* ---- router: one CTA per row, or one warp per row of up to 256 experts ------- */

/* 256 threads: thread v is lane v of the L256 sum, so every step is
 * parallel across experts; the top-k is a rank count (each expert counts
 * the experts ordered before it), with no serial k loop. */
#define RT_THREADS 256

/* Top-k order: larger p first, equal p to the lower id. Every p of a row is
 * NaN or none is (a NaN logit makes the sum NaN), and all-NaN rows rank
 * NaNs equal, so ties go to the lower id as in the CPU's scan. p >= +0, so
 * its bits order like its values; the key appends ~e so that one unsigned
 * comparison orders both. */
__device__ __forceinline__ uint64_t rt_key(float p, int e) {
    const uint32_t k = p != p ? 0x7fc00000u : __float_as_uint(p);
    return ((uint64_t)k << 32) | (uint32_t)~e;
}

/* f32 bits as an unsigned that orders like the values (NaNs at the ends) */
__device__ __forceinline__ uint32_t rt_ord(float f) {
    const uint32_t u = __float_as_uint(f);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}
__device__ __forceinline__ float rt_unord(uint32_t o) {
    return __uint_as_float(o & 0x80000000u ? o & 0x7fffffffu : ~o);
}

/* shared memory: p[E] f32, key[E rounded up to 32] u64 (8-byte aligned after
 * p rounded up; the pad keys are 0, below every real key), p_sel[k rounded
 * up to 4] (the compiler reads it in pairs) */
static size_t rt_smem(int64_t E, int k) {
    return (size_t)((E + 1) / 2 * 2) * 4 + (size_t)((E + 31) / 32 * 32) * 8 + (size_t)((k + 3) / 4 * 4) * 4;
}

__global__ void __launch_bounds__(RT_THREADS) route_kernel(const zf_cu_route_args a) {
    extern __shared__ __align__(16) float sm[];
    __shared__ __align__(16) float part[RT_THREADS];
    __shared__ uint32_t s_max[RT_THREADS / 32];
    __shared__ float s_sum;
    const int t = threadIdx.x, E = (int)a.E, k = a.k;
    float *p = sm;
    uint64_t *key = (uint64_t *)(sm + (E + 1) / 2 * 2);
    const int Ep = (E + 31) / 32 * 32;
    float *psel = (float *)(key + Ep);
    const size_t les = a.lt == ZF_DTYPE_F32 ? 4 : 2, wes = a.wt == ZF_DTYPE_F32 ? 4 : 2;
    zf_cu_release_next(); /* the next kernel's wait still covers all of this grid */
    zf_cu_wait_prior();
    for (int64_t row = blockIdx.x; row < a.m; row += gridDim.x) {
        const char *l = (const char *)a.logits + (size_t)(row * a.l_stride) * les;
        /* the max: its order is free (a NaN logit makes every p NaN anyway,
         * whichever value is taken; exp(+-0) is 1 either way) */
        uint32_t mo = 0;
        for (int e = t; e < E; e += RT_THREADS) {
            const float le = zf_cu_ld(a.lt, l, e);
            p[e] = le;
            mo = max(mo, rt_ord(le));
        }
        mo = __reduce_max_sync(0xffffffffu, mo);
        if (t % 32 == 0) s_max[t / 32] = mo;
        __syncthreads();
#pragma unroll
        for (int w = 0; w < RT_THREADS / 32; w++) mo = max(mo, s_max[w]);
        const float mx = rt_unord(mo);
        /* p_e = exp(l_e - mx); lane t sums e = t, t + 256, ... from +0 */
        float acc = 0.0f;
        for (int e = t; e < E; e += RT_THREADS) {
            const float pe = zf_cu_exp(__fsub_rn(p[e], mx));
            p[e] = pe;
            acc = __fadd_rn(acc, pe);
        }
        part[t] = acc;
        __syncthreads();
        if (t < 32) {
            const float sum = zf_cu_l256_tree(part);
            if (t == 0) s_sum = sum;
        }
        __syncthreads();
        const float sum = s_sum;
        for (int e = t; e < E; e += RT_THREADS) {
            const float pe = __fdiv_rn(p[e], sum);
            p[e] = pe;
            key[e] = rt_key(pe, e);
        }
        for (int e = E + t; e < Ep; e += RT_THREADS) key[e] = 0;
        __syncthreads();
        /* rank of e = the experts ordered before it; the k first take slots
         * 0 .. k-1 (ranks are distinct). A count that reaches k stops. */
        int32_t *ids = a.ids + row * a.ids_stride;
        for (int e = t; e < E; e += RT_THREADS) {
            const uint64_t ke = key[e];
            int rank = 0;
            for (int f0 = 0; f0 < E && rank < k; f0 += 32)
#pragma unroll 8
                for (int f = 0; f < 32; f++) rank += key[f0 + f] > ke;
            if (rank < k) {
                ids[rank] = e;
                psel[rank] = p[e];
            }
        }
        __syncthreads();
        /* den in slot order (each writer sums the same k values), then the weights */
        char *w = (char *)a.weights + (size_t)(row * a.w_stride) * wes;
        if (t < k) {
            float den = 0.0f;
            if (a.norm)
                for (int s = 0; s < k; s++) den = __fadd_rn(den, psel[s]);
            for (int s = t; s < k; s += RT_THREADS) zf_cu_st(a.wt, w, s, a.norm ? __fdiv_rn(psel[s], den) : psel[s]);
        }
        __syncthreads(); /* p, key and p_sel are reused by the next row */
    }
}

/* Rows of E <= 32 PL experts and k <= 32 (every MoE model zfast knows:
 * 8 to 256 experts, top-1 to top-8): one warp per row, no barrier and no
 * shared memory. Lane l holds experts e = l + 32 j (j < PL) in registers,
 * which is lane e of the L256 sum (E <= 256: every lane sums one p from +0,
 * i.e. holds it, lanes past E hold +0), so the tree is the canonical one.
 * The top-k is the definition itself, k rounds of "the largest p not yet
 * taken, equal p to the lower e": a warp max of the p bits (as kept keys,
 * +1 so that 0 means taken or past E), then a warp min of the e that hold
 * it; the winner's p reaches every lane by a shuffle, so den accumulates in
 * slot order in every lane and lane s keeps slot s. The 256-thread kernel
 * above spends most of its time in the rank count and its barriers
 * (docs/CUDA.md). */
#define RW_THREADS 128

template <int PL> __global__ void __launch_bounds__(RW_THREADS) route_warp_kernel(const zf_cu_route_args a) {
    const int lane = threadIdx.x % 32, E = (int)a.E, k = a.k;
    const size_t les = a.lt == ZF_DTYPE_F32 ? 4 : 2, wes = a.wt == ZF_DTYPE_F32 ? 4 : 2;
    const int64_t rows_per_grid = (int64_t)gridDim.x * (RW_THREADS / 32);
    zf_cu_release_next(); /* the next kernel's wait still covers all of this grid */
    zf_cu_wait_prior();
    for (int64_t row = (int64_t)blockIdx.x * (RW_THREADS / 32) + threadIdx.x / 32; row < a.m; row += rows_per_grid) {
        const char *l = (const char *)a.logits + (size_t)(row * a.l_stride) * les;
        float p[PL];
        uint32_t mo = 0; /* below every rt_ord */
#pragma unroll
        for (int j = 0; j < PL; j++) {
            const int e = lane + 32 * j;
            p[j] = e < E ? zf_cu_ld(a.lt, l, e) : 0.0f;
            if (e < E) mo = max(mo, rt_ord(p[j]));
        }
        const float mx = rt_unord(__reduce_max_sync(0xffffffffu, mo));
        float t[8];
#pragma unroll
        for (int j = 0; j < 8; j++) t[j] = 0.0f;
#pragma unroll
        for (int j = 0; j < PL; j++)
            if (lane + 32 * j < E) p[j] = t[j] = zf_cu_exp(__fsub_rn(p[j], mx));
        const float sum = zf_cu_l256_tree_regs(t);
        uint32_t key[PL]; /* p bits + 1 (a NaN as the canonical one), 0: taken or no expert */
#pragma unroll
        for (int j = 0; j < PL; j++) {
            p[j] = __fdiv_rn(p[j], sum);
            key[j] = lane + 32 * j < E ? (p[j] != p[j] ? 0x7fc00000u : __float_as_uint(p[j])) + 1u : 0u;
        }
        float den = 0.0f, mine = 0.0f;
        int myid = 0;
        for (int r = 0; r < k; r++) {
            uint32_t best = 0;
#pragma unroll
            for (int j = 0; j < PL; j++) best = max(best, key[j]);
            const uint32_t top = __reduce_max_sync(0xffffffffu, best);
            int cand = INT_MAX; /* this lane's lowest e holding top */
#pragma unroll
            for (int j = PL - 1; j >= 0; j--)
                if (key[j] == top) cand = lane + 32 * j;
            const int win = (int)__reduce_min_sync(0xffffffffu, (unsigned)cand);
            float pw = 0.0f;
#pragma unroll
            for (int j = 0; j < PL; j++)
                if (lane + 32 * j == win) pw = p[j], key[j] = 0;
            pw = __shfl_sync(0xffffffffu, pw, win % 32);
            den = __fadd_rn(den, pw);
            if (lane == r) mine = pw, myid = win;
        }
        if (lane < k) {
            a.ids[row * a.ids_stride + lane] = myid;
            char *w = (char *)a.weights + (size_t)(row * a.w_stride) * wes;
            zf_cu_st(a.wt, w, lane, a.norm ? __fdiv_rn(mine, den) : mine);
        }
    }
}

template <int PL> static cudaError_t route_warp(const zf_cu_route_args *a, cudaStream_t s) {
    const int64_t ctas = (a->m + RW_THREADS / 32 - 1) / (RW_THREADS / 32);
    return zf_cu_launch(route_warp_kernel<PL>, dim3((unsigned)(ctas < 65535 ? ctas : 65535)), dim3(RW_THREADS), 0, s,
                        *a);
}

cudaError_t zf_cu_moe_route(const zf_cu_route_args *a, cudaStream_t s) {
    if (a->k <= 32 && a->E <= 256)
        return a->E <= 32 ? route_warp<1>(a, s) : a->E <= 64 ? route_warp<2>(a, s)
               : a->E <= 128 ? route_warp<4>(a, s) : route_warp<8>(a, s);
    const size_t smem = rt_smem(a->E, a->k);
    cudaError_t e = zf_cu_allow_smem((const void *)route_kernel, smem);
    if (e != cudaSuccess) return e;
    return zf_cu_launch(route_kernel, dim3((unsigned)(a->m < 65535 ? a->m : 65535)), dim3(RT_THREADS), smem, s, *a);
}

/* ---- gather_qmm_combine: the slot-ordered sum ---------------------------------- */

/* y = sum over slots of w_s * d_s, ascending s. exact: y_s = T(d_s),
 * p_s = T(y_s * w_s), acc = p_0, acc = T(acc + p_s); fast: in f32. */
__device__ __forceinline__ float combine_step(bool exact, zf_dtype t, int64_t s, float acc, float d, float w) {
    if (exact) {
        float p = zf_cu_rnd(t, __fmul_rn(zf_cu_rnd(t, d), w));
        return s == 0 ? p : zf_cu_rnd(t, __fadd_rn(acc, p));
    }
    float p = __fmul_rn(d, w);
    return s == 0 ? p : __fadd_rn(acc, p);
}

/* dots [m * slots, n] in dots_t (f32, or T on the stock path) -> y. The
 * dots and weights of CF_SLOTS slots are loaded before the first is added:
 * one memory round trip per CF_SLOTS slots instead of one per slot (the
 * sum still runs in slot order). */
#define CF_SLOTS 8
__global__ void combine_finish_kernel(const zf_cu_qargs a, const void *dots, zf_dtype dots_t) {
    const int64_t n = a.w[0].n;
    const size_t es = a.xt == ZF_DTYPE_F32 ? 4 : 2, wes = a.wt == ZF_DTYPE_F32 ? 4 : 2;
    zf_cu_wait_prior();
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < a.m * n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = i / n, r = i % n;
        const char *w = (const char *)a.weights + (size_t)(t * a.weights_stride) * wes;
        float acc = 0.0f;
        for (int64_t s0 = 0; s0 < a.slots; s0 += CF_SLOTS) {
            float d[CF_SLOTS], ws[CF_SLOTS];
#pragma unroll
            for (int u = 0; u < CF_SLOTS; u++)
                if (s0 + u < a.slots) {
                    d[u] = zf_cu_ld(dots_t, dots, (t * a.slots + s0 + u) * n + r);
                    ws[u] = zf_cu_ld(a.wt, w, s0 + u);
                }
#pragma unroll
            for (int u = 0; u < CF_SLOTS; u++)
                if (s0 + u < a.slots) acc = combine_step(a.exact, a.xt, s0 + u, acc, d[u], ws[u]);
        }
        zf_cu_st(a.xt, (char *)a.out + (size_t)(t * a.out_row_stride) * es, r, acc);
    }
    zf_cu_release_next();
}

cudaError_t zf_cu_combine_finish(const zf_cu_qargs *a, const void *dots, zf_dtype dots_t, cudaStream_t s) {
    int64_t b = (a->m * a->w[0].n + 255) / 256;
    return zf_cu_launch(combine_finish_kernel, dim3((unsigned)(b < 65535 ? b : 65535)), dim3(256), 0, s, *a, dots,
                        dots_t);
}

/* One launch for few tokens: CTA = 4 rows x 8 slot lanes (32 thread groups);
 * group (r, l) computes the dots of slots l, l + 8, ... for row r into
 * shared memory, then one thread per row sums them in slot order. */
#define CD_ROWS 4

template <int BITS> __global__ void __launch_bounds__(256) combine_direct_kernel(const zf_cu_qargs a, bool xvec, bool wide) {
    extern __shared__ float dsm[]; /* [CD_ROWS][slots] */
    const int g = threadIdx.x / 8, lane = threadIdx.x % 8, rl = g / 8, sl = g % 8;
    const int64_t n = a.w[0].n, row = (int64_t)blockIdx.x * CD_ROWS + rl;
    const size_t es = a.xt == ZF_DTYPE_F32 ? 4 : 2, wes = a.wt == ZF_DTYPE_F32 ? 4 : 2;
    zf_cu_wait_prior();
    for (int64_t t = blockIdx.y; t < a.m; t += gridDim.y) {
        for (int64_t s0 = 0; s0 < a.slots; s0 += 8) {
            const int64_t s = s0 + sl, p = t * a.slots + s;
            int64_t e = -1;
            if (s < a.slots) {
                e = a.ids[t * a.ids_stride + s];
                e = e >= 0 && e < a.w[0].experts ? e : -1;
            }
            const bool active = row < n && e >= 0;
            zf_cu_wrow wr = zf_cu_wrow_of(a.w[0], active ? e : 0, active ? row : 0);
            const void *xrow = (const char *)a.x + (size_t)((s < a.slots ? p : 0) * a.x_row_stride) * es;
            float d[1][1];
            zf_cu_tg_dot<BITS, 1, 1>(a.w, &wr, &xrow, 1, a.xt, xvec, wide, lane, active, d);
            if (lane == 0 && s < a.slots && row < n) dsm[rl * a.slots + s] = e >= 0 ? d[0][0] : zf_cu_nan();
        }
        __syncthreads();
        if (threadIdx.x < CD_ROWS && (int64_t)blockIdx.x * CD_ROWS + threadIdx.x < n) {
            const int64_t r = (int64_t)blockIdx.x * CD_ROWS + threadIdx.x;
            const char *w = (const char *)a.weights + (size_t)(t * a.weights_stride) * wes;
            float acc = 0.0f;
            for (int64_t s = 0; s < a.slots; s++)
                acc = combine_step(a.exact, a.xt, s, acc, dsm[threadIdx.x * a.slots + s], zf_cu_ld(a.wt, w, s));
            zf_cu_st(a.xt, (char *)a.out + (size_t)(t * a.out_row_stride) * es, r, acc);
        }
        __syncthreads();
    }
    zf_cu_release_next();
}

cudaError_t zf_cu_combine_direct(const zf_cu_qargs *a, cudaStream_t s) {
    const size_t es = a->xt == ZF_DTYPE_F32 ? 4 : 2, smem = (size_t)CD_ROWS * (size_t)a->slots * 4;
    const bool xvec = ((uintptr_t)a->x % 16) == 0 && (a->x_row_stride * (int64_t)es) % 16 == 0;
    const bool wide = ((uintptr_t)a->w[0].packed % 16) == 0;
    dim3 grid((unsigned)((a->w[0].n + CD_ROWS - 1) / CD_ROWS), (unsigned)(a->m < 65535 ? a->m : 65535));
    void (*k)(const zf_cu_qargs, bool, bool);
    switch (a->w[0].bits) {
    case 2: k = combine_direct_kernel<2>; break;
    case 3: k = combine_direct_kernel<3>; break;
    case 4: k = combine_direct_kernel<4>; break;
    case 5: k = combine_direct_kernel<5>; break;
    case 6: k = combine_direct_kernel<6>; break;
    case 8: k = combine_direct_kernel<8>; break;
    default: return cudaErrorInvalidValue;
    }
    cudaError_t e = zf_cu_allow_smem((const void *)k, smem);
    if (e != cudaSuccess) return e;
    return zf_cu_launch(k, grid, dim3(256), smem, s, *a, xvec, wide);
}

/* ---- variants --------------------------------------------------------------------- */

cudaError_t zf_cu_gather_qmm_swiglu_fused(const zf_cu_qargs *a, cudaStream_t s) {
    return zf_cu_qgather(a, ZF_QEPI_SWIGLU, s);
}

/* stock: g = gather_qmm(x, Wg) -> T, u = gather_qmm(x, Wu) -> T, swiglu stock */
cudaError_t zf_cu_gather_qmm_swiglu_stock(const zf_cu_qargs *a, cudaStream_t s) {
    const size_t es = zf_cu_dtype_size(a->xt);
    const int64_t rows = a->m * a->slots, n = a->w[0].n;
    char *tmp;
    cudaError_t e = cudaMallocAsync((void **)&tmp, 2 * (size_t)(rows * n) * es, s);
    if (e != cudaSuccess) return e;
    zf_cu_qargs g = *a;
    g.nw = 1;
    g.out = tmp;
    g.out_row_stride = n;
    zf_cu_qargs u = g;
    u.w[0] = a->w[1];
    u.out = tmp + (size_t)(rows * n) * es;
    e = zf_cu_qgather(&g, ZF_QEPI_STORE, s);
    if (e == cudaSuccess) e = zf_cu_qgather(&u, ZF_QEPI_STORE, s);
    if (e == cudaSuccess) {
        zf_ew_view v = {};
        v.rows = rows;
        v.cols = n;
        v.in[0] = g.out; v.in_stride[0] = n;
        v.in[1] = u.out; v.in_stride[1] = n;
        v.out[0] = a->out; v.out_stride[0] = a->out_row_stride;
        e = zf_cu_swiglu_stock(a->xt, &v, s);
    }
    cudaError_t f = cudaFreeAsync(tmp, s);
    return e != cudaSuccess ? e : f;
}

/* Many tokens: the f32 dots of every pair (grouped by expert; the int8
 * tensor-core kernel for i8), then the weighted sum over slots. */
static cudaError_t combine_by_dots(const zf_cu_qargs *a, bool i8, cudaStream_t s) {
    float *dots;
    cudaError_t e = cudaMallocAsync((void **)&dots, (size_t)(a->m * a->slots * a->w[0].n) * 4, s);
    if (e != cudaSuccess) return e;
    zf_cu_qargs d = *a;
    d.out = dots;
    e = i8 ? zf_cu_qxi8(&d, ZF_QEPI_DOTS, s) : zf_cu_qgather(&d, ZF_QEPI_DOTS, s);
    if (e == cudaSuccess) e = zf_cu_combine_finish(a, dots, ZF_DTYPE_F32, s);
    cudaError_t f = cudaFreeAsync(dots, s);
    return e != cudaSuccess ? e : f;
}

/* fused: few tokens in one launch; many tokens as grouped f32 dots, then the sum */
cudaError_t zf_cu_gather_qmm_combine_fused(const zf_cu_qargs *a, cudaStream_t s) {
    if (!zf_cu_qgrouped(a)) return zf_cu_combine_decode_fits(a) ? zf_cu_combine_decode(a, s) : zf_cu_combine_direct(a, s);
    return combine_by_dots(a, false, s);
}

zf_cu_i8_path zf_cu_i8_path_of(bool combine, const zf_cu_qargs *a) {
    if (zf_cu_qxi8_fits(a)) return ZF_CU_I8_GROUPED;
    if (!combine) return zf_cu_qi8_swiglu_fits(a) ? ZF_CU_I8_DECODE : ZF_CU_I8_NONE;
    const bool wins = a->m >= ZF_CU_QI8_COMBINE_MIN_M; /* measured: docs/CUDA.md */
    return wins && zf_cu_qi8_combine_fits(a) ? ZF_CU_I8_DECODE : ZF_CU_I8_NONE;
}

/* approx (edge): the int8 kernels where they fit, else the fast path */
cudaError_t zf_cu_gather_qmm_swiglu_i8(const zf_cu_qargs *a, cudaStream_t s) {
    switch (zf_cu_i8_path_of(false, a)) {
    case ZF_CU_I8_GROUPED: return zf_cu_qxi8(a, ZF_QEPI_SWIGLU, s);
    case ZF_CU_I8_DECODE: return zf_cu_qi8_swiglu(a, s);
    default: return zf_cu_gather_qmm_swiglu_fused(a, s);
    }
}

cudaError_t zf_cu_gather_qmm_combine_i8(const zf_cu_qargs *a, cudaStream_t s) {
    switch (zf_cu_i8_path_of(true, a)) {
    case ZF_CU_I8_GROUPED: return combine_by_dots(a, true, s);
    case ZF_CU_I8_DECODE: return zf_cu_qi8_combine(a, s);
    default: return zf_cu_gather_qmm_combine_fused(a, s);
    }
}

/* stock: gather_qmm -> T, then mul and the ascending adds (read back from T) */
cudaError_t zf_cu_gather_qmm_combine_stock(const zf_cu_qargs *a, cudaStream_t s) {
    const size_t es = zf_cu_dtype_size(a->xt);
    const int64_t n = a->w[0].n;
    void *ys;
    cudaError_t e = cudaMallocAsync(&ys, (size_t)(a->m * a->slots * n) * es, s);
    if (e != cudaSuccess) return e;
    zf_cu_qargs g = *a;
    g.out = ys;
    g.out_row_stride = n;
    e = zf_cu_qgather(&g, ZF_QEPI_STORE, s);
    zf_cu_qargs c = *a;
    c.exact = 1; /* the stock passes round exactly where exact does */
    if (e == cudaSuccess) e = zf_cu_combine_finish(&c, ys, a->xt, s);
    cudaError_t f = cudaFreeAsync(ys, s);
    return e != cudaSuccess ? e : f;
}

/* ---- checked entry points ------------------------------------------------------------ */

/* the bytes [lo, hi) a tensor's elements span */
static void span_of(const zf_tensor *t, const char **lo, const char **hi) {
    int64_t last = 0;
    for (int d = 0; d < t->ndim; d++) last += (t->shape[d] - 1) * t->stride[d];
    *lo = (const char *)t->data;
    *hi = *lo + (size_t)(last + 1) * zf_cu_dtype_size(t->dtype);
}

static zf_status no_overlap(const char *op, const char *an, const zf_tensor *a, const char *bn, const zf_tensor *b) {
    const char *lo[2], *hi[2];
    span_of(a, &lo[0], &hi[0]);
    span_of(b, &lo[1], &hi[1]);
    if (lo[0] < hi[1] && lo[1] < hi[0])
        return ZF_ERR(ZF_ERR_ALIAS, "[%s] %s overlaps %s; it needs its own memory", op, an, bn);
    return ZF_OK;
}

/* t overlaps none of w's packed words, scales or biases */
static zf_status no_overlap_q(const char *op, const char *tn, const zf_tensor *t, const char *wn, const zf_qweight *w) {
    const char *lo, *hi;
    span_of(t, &lo, &hi);
    const size_t bytes[3] = {zf_qweight_packed_bytes(w), zf_qweight_group_bytes(w), zf_qweight_group_bytes(w)};
    const void *p[3] = {w->packed, w->scales, w->biases};
    for (int i = 0; i < 3; i++)
        if (lo < (const char *)p[i] + bytes[i] && (const char *)p[i] < hi)
            return ZF_ERR(ZF_ERR_ALIAS, "[%s] %s overlaps %s; it needs its own memory", op, tn, wn);
    return ZF_OK;
}

static zf_status run(const char *op, zf_op id, zf_cu_qargs *a, const zf_opts *o) {
    const zf_variant *v;
    ZF_TRY(zf_cu_host->pick(id, ZF_DEVICE_CUDA, o ? o->fidelity : ZF_FIDELITY_AUTO, &v));
    a->exact = zf_rounds_like_stock(v->fidelity);
    cudaError_t e = ((zf_cu_qfn)v->fn)(a, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail(op, v->name, e);
}

zf_status zf_cuda_moe_route(const zf_tensor *logits, int k, int norm_topk_prob, zf_tensor *ids, zf_tensor *weights,
                            const zf_opts *o) {
    const char *op = "moe_route";
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(H->check_float(op, "logits", logits));
    if (logits->ndim != 2) return ZF_ERR(ZF_ERR_SHAPE, "[%s] logits has %d dims; expected [m, E]", op, logits->ndim);
    const int64_t m = logits->shape[0], E = logits->shape[1];
    if (k < 1 || k > E) return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] k = %d; expected 1 <= k <= E = %lld", op, k, (long long)E);
    if (!ids) return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] ids is NULL", op);
    ZF_TRY(H->check_float(op, "weights", weights));
    if (ids->dtype != ZF_DTYPE_I32)
        return ZF_ERR(ZF_ERR_DTYPE, "[%s] ids has dtype %s; expected i32", op, zf_cu_dtype_name(ids->dtype));
    if (weights->dtype != logits->dtype && weights->dtype != ZF_DTYPE_F32)
        return ZF_ERR(ZF_ERR_DTYPE, "[%s] weights is %s; expected logits' dtype %s or f32", op,
                      zf_cu_dtype_name(weights->dtype), zf_cu_dtype_name(logits->dtype));
    if (ids->ndim != 2 || ids->shape[0] != m || ids->shape[1] != k || weights->ndim != 2 ||
        weights->shape[0] != m || weights->shape[1] != k)
        return ZF_ERR(ZF_ERR_SHAPE, "[%s] ids and weights must be [m, k] = [%lld, %d]", op, (long long)m, k);
    ZF_TRY(zf_cu_check_i32(op, "ids", ids));
    ZF_TRY(zf_cu_on_cuda(op, "logits", logits));
    ZF_TRY(zf_cu_on_cuda(op, "weights", weights));
    /* a CTA keeps its row's probabilities and keys in shared memory */
    if (E > 8192)
        return ZF_ERR(ZF_ERR_UNSUPPORTED, "[%s] logits has E = %lld experts; the CUDA router takes at most 8192", op,
                      (long long)E);
    ZF_TRY(no_overlap(op, "ids", ids, "logits", logits));
    ZF_TRY(no_overlap(op, "weights", weights, "logits", logits));
    ZF_TRY(no_overlap(op, "weights", weights, "ids", ids));
    zf_rows lr, wr;
    ZF_TRY(H->as_rows(op, "logits", logits, &lr));
    ZF_TRY(H->as_rows(op, "weights", weights, &wr));
    zf_cu_route_args a = {logits->data, logits->dtype, lr.row_stride, m, E, k, norm_topk_prob ? 1 : 0,
                          (int32_t *)ids->data, ids->stride[0], weights->data, weights->dtype, wr.row_stride};
    const zf_variant *v;
    ZF_TRY(H->pick(ZF_OP_MOE_ROUTE, ZF_DEVICE_CUDA, o ? o->fidelity : ZF_FIDELITY_AUTO, &v));
    cudaError_t e = ((zf_cu_route_fn)v->fn)(&a, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail(op, v->name, e);
}

/* gather_qmm_swiglu's checks and launch arguments; *mixed: wu's format is
 * not wg's (then the stock composition runs) */
static zf_status swiglu_args(const char *op, const char *outn, const zf_tensor *x, const zf_qweight *wg,
                             const zf_qweight *wu, const zf_tensor *ids, const zf_tensor *out, zf_cu_qargs *ap,
                             bool *mixed) {
    const zf_cuda_host *H = zf_cu_host;
    zf_cu_qargs &a = *ap;
    ZF_TRY(zf_cu_check_gather(op, x, "x", wg, "wg", ids, &a));
    ZF_TRY(zf_cu_check_qweight(op, "wu", wu));
    if (wg->experts != wu->experts || wg->n != wu->n || wg->k != wu->k)
        return ZF_ERR(ZF_ERR_SHAPE, "[%s] wg is [%lld, %lld, %lld] but wu is [%lld, %lld, %lld]; expected equal", op,
                      (long long)wg->experts, (long long)wg->n, (long long)wg->k, (long long)wu->experts,
                      (long long)wu->n, (long long)wu->k);
    ZF_TRY(H->check_float(op, outn, out));
    if (out->dtype != x->dtype)
        return ZF_ERR(ZF_ERR_DTYPE, "[%s] %s is %s but x is %s; expected one dtype", op, outn,
                      zf_cu_dtype_name(out->dtype), zf_cu_dtype_name(x->dtype));
    if (out->ndim != 3 || out->shape[0] != a.m || out->shape[1] != a.slots || out->shape[2] != wg->n)
        return ZF_ERR(ZF_ERR_SHAPE, "[%s] %s must be [m, slots, n] = [%lld, %lld, %lld]", op, outn, (long long)a.m,
                      (long long)a.slots, (long long)wg->n);
    ZF_TRY(zf_cu_on_cuda(op, outn, out));
    ZF_TRY(no_overlap(op, outn, out, "x", x));
    ZF_TRY(no_overlap(op, outn, out, "ids", ids));
    zf_rows orows;
    ZF_TRY(H->as_rows(op, outn, out, &orows));
    a.w[1] = zf_cu_qw_of(wu);
    a.nw = 2;
    a.out = orows.data;
    a.out_row_stride = orows.row_stride;
    *mixed = wu->bits != wg->bits || wu->group_size != wg->group_size || wu->scale_dtype != wg->scale_dtype;
    return ZF_OK;
}

static zf_status swiglu_go(const char *op, zf_cu_qargs *a, bool mixed, const zf_opts *o) {
    if (mixed) {
        /* the fused kernels read both matrices in wg's layout; the stock
         * composition reads each in its own, with the exact variant's bits
         * (every fidelity then gives those; docs/NUMERICS.md 8.3) */
        cudaError_t e = zf_cu_gather_qmm_swiglu_stock(a, zf_cu_stream(o));
        return e == cudaSuccess ? ZF_OK : zf_cu_fail(op, "cuda.gather_qmm_swiglu.stock (mixed weight formats)", e);
    }
    return run(op, ZF_OP_GATHER_QMM_SWIGLU, a, o);
}

zf_status zf_cuda_gather_qmm_swiglu(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu,
                                    const zf_tensor *ids, zf_tensor *out, const zf_opts *o) {
    const char *op = "gather_qmm_swiglu";
    zf_cu_qargs a;
    bool mixed = false;
    ZF_TRY(swiglu_args(op, "out", x, wg, wu, ids, out, &a, &mixed));
    return swiglu_go(op, &a, mixed, o);
}

/* gather_qmm_combine's checks and launch arguments; an: act's name in errors */
static zf_status combine_args(const char *op, const char *an, const zf_tensor *act, const zf_qweight *wd,
                              const zf_tensor *ids, const zf_tensor *weights, const zf_tensor *y, zf_cu_qargs *ap) {
    const zf_cuda_host *H = zf_cu_host;
    zf_cu_qargs &a = *ap;
    ZF_TRY(zf_cu_check_gather(op, act, an, wd, "wd", ids, &a));
    if (!a.x_per_slot)
        return ZF_ERR(ZF_ERR_SHAPE, "[%s] %s must be [m, slots, k] = [%lld, %lld, %lld] (one row per slot)", op, an,
                      (long long)a.m, (long long)a.slots, (long long)wd->k);
    ZF_TRY(H->check_float(op, "weights", weights));
    if (weights->dtype != act->dtype && weights->dtype != ZF_DTYPE_F32)
        return ZF_ERR(ZF_ERR_DTYPE, "[%s] weights is %s; expected %s's dtype %s or f32", op,
                      zf_cu_dtype_name(weights->dtype), an, zf_cu_dtype_name(act->dtype));
    if (weights->ndim != 2 || weights->shape[0] != a.m || weights->shape[1] != a.slots)
        return ZF_ERR(ZF_ERR_SHAPE, "[%s] weights must be [m, slots] = [%lld, %lld]", op, (long long)a.m,
                      (long long)a.slots);
    ZF_TRY(H->check_float(op, "y", y));
    if (y->dtype != act->dtype)
        return ZF_ERR(ZF_ERR_DTYPE, "[%s] y is %s but %s is %s; expected one dtype", op, zf_cu_dtype_name(y->dtype),
                      an, zf_cu_dtype_name(act->dtype));
    if (y->ndim != 2 || y->shape[0] != a.m || y->shape[1] != wd->n)
        return ZF_ERR(ZF_ERR_SHAPE, "[%s] y must be [m, n] = [%lld, %lld]", op, (long long)a.m, (long long)wd->n);
    ZF_TRY(zf_cu_on_cuda(op, "weights", weights));
    ZF_TRY(zf_cu_on_cuda(op, "y", y));
    ZF_TRY(no_overlap(op, "y", y, an, act));
    ZF_TRY(no_overlap(op, "y", y, "weights", weights));
    ZF_TRY(no_overlap(op, "y", y, "ids", ids));
    zf_rows yr, wr;
    ZF_TRY(H->as_rows(op, "y", y, &yr));
    ZF_TRY(H->as_rows(op, "weights", weights, &wr));
    a.out = yr.data;
    a.out_row_stride = yr.row_stride;
    a.weights = weights->data;
    a.wt = weights->dtype;
    a.weights_stride = wr.row_stride;
    return ZF_OK;
}

zf_status zf_cuda_gather_qmm_combine(const zf_tensor *act, const zf_qweight *wd, const zf_tensor *ids,
                                     const zf_tensor *weights, zf_tensor *y, const zf_opts *o) {
    const char *op = "gather_qmm_combine";
    zf_cu_qargs a;
    ZF_TRY(combine_args(op, "a", act, wd, ids, weights, y, &a));
    return run(op, ZF_OP_GATHER_QMM_COMBINE, &a, o);
}

/* Both steps' arguments are checked before either launches. The swiglu's
 * kernels release the combine's launch only after their own PDL wait, so
 * the combine starts after everything before the swiglu (the router that
 * wrote ids and weights) has finished; the swiglu writes only act, which
 * may overlap none of ids, weights or wd. The combine may then read ids and
 * start its weight copies before its own wait (qargs.chained). */
zf_status zf_cuda_moe_experts(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu, const zf_qweight *wd,
                              const zf_tensor *ids, const zf_tensor *weights, zf_tensor *act, zf_tensor *y,
                              const zf_opts *o) {
    const char *op = "moe_experts";
    zf_cu_qargs s, c;
    bool mixed = false;
    ZF_TRY(swiglu_args(op, "act", x, wg, wu, ids, act, &s, &mixed));
    ZF_TRY(combine_args(op, "act", act, wd, ids, weights, y, &c));
    ZF_TRY(no_overlap(op, "act", act, "weights", weights));
    ZF_TRY(no_overlap_q(op, "act", act, "wd", wd));
    /* one token only: at 4 the swiglu's grid takes several waves, and the
     * late release cost the exact block 65.8 -> 68.6 us (docs/CUDA.md,
     * session 10) */
    s.chained = c.chained = s.m == 1;
    ZF_TRY(swiglu_go(op, &s, mixed, o));
    return run(op, ZF_OP_GATHER_QMM_COMBINE, &c, o);
}
