/* rms_norm and add_rms_norm on CUDA (forward and VJP). One block of 256
 * threads per row: the row is staged in shared memory as f32, thread l then
 * owns lane l of the canonical L256 reduction (docs/NUMERICS.md 4) and warp 0
 * runs the tree (cuda/l256.cuh). Few rows (decode) of n >= 2048 take
 * fwd_cluster_kernel: a cluster of 4, 8 or 16 CTAs per row that exchange
 * their lane sums with st.async; other few-row shapes take fwd_decode_kernel
 * (up to 1024 threads per row, every load issued up front). The weight
 * gradient is reduced in fixed chunks of 32 rows. */
#include <atomic>
#include <cooperative_groups.h>
#include <math.h>

#include "cuda/check.cuh"
#include "cuda/cluster.cuh"
#include "cuda/dtype.cuh"
#include "cuda/kernels.cuh"
#include "cuda/l256.cuh"
#include "cuda/rms.cuh"

int64_t zf_cu_norm_max_n, zf_cu_norm_vjp_max_n;

enum { NORM_PLAIN = 0, NORM_ADD_EXACT = 1, NORM_ADD_FAST = 2 };

/* ---- device helpers --------------------------------------------------------- */

template <int DT> __device__ const char *row_ptr(const void *p, int64_t row, int64_t stride) {
    return (const char *)p + (size_t)(row * stride) * sizeof(typename zf_cu_elem<DT>::type);
}

/* ---- forward ------------------------------------------------------------------ */

/* Work items per row: nvec 16-byte vectors, then single elements. */
template <int DT, int MODE>
__global__ void __launch_bounds__(ZF_CU_THREADS) fwd_kernel(const zf_norm_args a, int64_t nvec) {
    constexpr int V = zf_cu_vec<DT>::n;
    extern __shared__ __align__(16) float row[];
    __shared__ __align__(16) float part[ZF_CU_THREADS];
    __shared__ float s_inv;
    const int tid = threadIdx.x;
    const int64_t n = a.n, items = nvec + (n - nvec * V);
    zf_cu_wait_prior();
    zf_cu_release_next(); /* the next kernel's wait still covers all of this grid */
    for (int64_t i = blockIdx.x; i < a.rows; i += gridDim.x) {
        const char *x = row_ptr<DT>(a.x, i, a.x_stride);
        const char *r = MODE != NORM_PLAIN ? row_ptr<DT>(a.r, i, a.r_stride) : nullptr;
        char *h = MODE != NORM_PLAIN ? (char *)row_ptr<DT>(a.h, i, a.h_stride) : nullptr;
        char *y = (char *)row_ptr<DT>(a.y, i, a.y_stride);
        /* stage the row (x, or h = x + r) */
        for (int64_t it = tid; it < items; it += ZF_CU_THREADS) {
            if (it < nvec) {
                float v[V];
                zf_cu_load_vec<DT>(x, it, v);
                if constexpr (MODE != NORM_PLAIN) {
                    float rv[V];
                    zf_cu_load_vec<DT>(r, it, rv);
#pragma unroll
                    for (int e = 0; e < V; e++) v[e] = __fadd_rn(v[e], rv[e]);
                    zf_cu_store_vec<DT, ZF_CU_COMPUTED>(h, it, v);
                    if constexpr (MODE == NORM_ADD_EXACT)
#pragma unroll
                        for (int e = 0; e < V; e++) v[e] = zf_cu_round<DT, ZF_CU_COMPUTED>(v[e]);
                }
#pragma unroll
                for (int e = 0; e < V; e += 4) ((float4 *)row)[(it * V + e) / 4] = make_float4(v[e], v[e + 1], v[e + 2], v[e + 3]);
            } else {
                int64_t j = nvec * V + (it - nvec);
                float v = zf_cu_load<DT>(x, j);
                if constexpr (MODE != NORM_PLAIN) {
                    v = __fadd_rn(v, zf_cu_load<DT>(r, j));
                    zf_cu_store<DT, ZF_CU_COMPUTED>(h, j, v);
                    if constexpr (MODE == NORM_ADD_EXACT) v = zf_cu_round<DT, ZF_CU_COMPUTED>(v);
                }
                row[j] = v;
            }
        }
        __syncthreads();
        float acc = 0.0f;
        for (int64_t j = tid; j < n; j += ZF_CU_THREADS) acc = __fmaf_rn(row[j], row[j], acc);
        part[tid] = acc;
        __syncthreads();
        if (tid < 32) {
            float ss = zf_cu_l256_tree(part);
            if (tid == 0) s_inv = zf_cu_rms_inv(ss, n, a.eps);
        }
        __syncthreads();
        const float inv = s_inv;
        for (int64_t it = tid; it < items; it += ZF_CU_THREADS) {
            if (it < nvec) {
                float w[V], o[V];
                zf_cu_load_vec<DT>(a.w, it, w);
#pragma unroll
                for (int e = 0; e < V; e++) {
                    float p = __fmul_rn(row[it * V + e], inv);
                    o[e] = __fmul_rn(MODE == NORM_ADD_FAST ? p : zf_cu_round<DT, ZF_CU_COMPUTED>(p), w[e]);
                }
                zf_cu_store_vec<DT, ZF_CU_COMPUTED>(y, it, o);
            } else {
                int64_t j = nvec * V + (it - nvec);
                float p = __fmul_rn(row[j], inv);
                zf_cu_store<DT, ZF_CU_COMPUTED>(y, j, __fmul_rn(MODE == NORM_ADD_FAST ? p : zf_cu_round<DT, ZF_CU_COMPUTED>(p), zf_cu_load<DT>(a.w, j)));
            }
        }
        __syncthreads(); /* the next row reuses row[] */
    }
}

/* Few rows (decode): one block per row of up to 1024 threads, thread t owns
 * items t, t + nt, ... (P of them). All loads of x, r and w are issued before
 * any is used and kept as raw 16-byte words (few registers at 1024
 * threads); the f32 row in shared memory feeds the 256 lane sums in
 * fwd_kernel's L256 order and the y pass. */
template <int DT>
__device__ __forceinline__ uint4 load_item(const char *p, int64_t it, int64_t nvec, int64_t j) {
    if (it < nvec) return ((const uint4 *)p)[it];
    return make_uint4(__float_as_uint(zf_cu_load<DT>(p, j)), 0u, 0u, 0u);
}

template <int DT> __device__ __forceinline__ void unpack_item(uint4 q, bool vec, float *f) {
    if (vec) zf_cu_load_vec<DT>(&q, 0, f);
    else f[0] = __uint_as_float(q.x);
}

template <int DT, int MODE, int P>
__global__ void __launch_bounds__(1024) fwd_decode_kernel(const zf_norm_args a, int64_t nvec) {
    constexpr int V = zf_cu_vec<DT>::n;
    extern __shared__ __align__(16) float row[];
    __shared__ __align__(16) float part[ZF_CU_THREADS];
    __shared__ float s_inv;
    const int tid = threadIdx.x, nt = blockDim.x;
    const int64_t n = a.n, items = nvec + (n - nvec * V), i = blockIdx.x;
    const char *x = row_ptr<DT>(a.x, i, a.x_stride);
    const char *r = MODE != NORM_PLAIN ? row_ptr<DT>(a.r, i, a.r_stride) : nullptr;
    char *h = MODE != NORM_PLAIN ? (char *)row_ptr<DT>(a.h, i, a.h_stride) : nullptr;
    char *y = (char *)row_ptr<DT>(a.y, i, a.y_stride);
    uint4 xq[P], rq[P], wq[P];
    zf_cu_wait_prior();
    zf_cu_release_next();
#pragma unroll
    for (int p = 0; p < P; p++) {
        const int64_t it = tid + (int64_t)p * nt, j = nvec * V + (it - nvec);
        if (it >= items) continue;
        xq[p] = load_item<DT>(x, it, nvec, j);
        if constexpr (MODE != NORM_PLAIN) rq[p] = load_item<DT>(r, it, nvec, j);
        wq[p] = load_item<DT>((const char *)a.w, it, nvec, j);
    }
#pragma unroll
    for (int p = 0; p < P; p++) {
        const int64_t it = tid + (int64_t)p * nt, j0 = it < nvec ? it * V : nvec * V + (it - nvec);
        const bool vec = it < nvec;
        if (it >= items) continue;
        float v[V];
        unpack_item<DT>(xq[p], vec, v);
        if constexpr (MODE != NORM_PLAIN) {
            float rv[V];
            unpack_item<DT>(rq[p], vec, rv);
#pragma unroll
            for (int e = 0; e < V; e++) v[e] = __fadd_rn(v[e], rv[e]);
            if (vec) zf_cu_store_vec<DT, ZF_CU_COMPUTED>(h, it, v);
            else zf_cu_store<DT, ZF_CU_COMPUTED>(h, j0, v[0]);
            if constexpr (MODE == NORM_ADD_EXACT)
#pragma unroll
                for (int e = 0; e < V; e++) v[e] = zf_cu_round<DT, ZF_CU_COMPUTED>(v[e]);
        }
        if (vec)
#pragma unroll
            for (int e = 0; e < V; e += 4) ((float4 *)row)[(j0 + e) / 4] = make_float4(v[e], v[e + 1], v[e + 2], v[e + 3]);
        else row[j0] = v[0];
    }
    __syncthreads();
    if (tid < ZF_CU_THREADS) {
        float acc = 0.0f;
#pragma unroll 8
        for (int j = tid; j < (int)n; j += ZF_CU_THREADS) acc = __fmaf_rn(row[j], row[j], acc);
        part[tid] = acc;
    }
    __syncthreads();
    if (tid < 32) {
        float ss = zf_cu_l256_tree(part);
        if (tid == 0) s_inv = zf_cu_rms_inv(ss, n, a.eps);
    }
    __syncthreads();
    const float inv = s_inv;
#pragma unroll
    for (int p = 0; p < P; p++) {
        const int64_t it = tid + (int64_t)p * nt, j0 = it < nvec ? it * V : nvec * V + (it - nvec);
        const bool vec = it < nvec;
        if (it >= items) continue;
        float w[V], xr[V], o[V];
        unpack_item<DT>(wq[p], vec, w);
        if (vec)
#pragma unroll
            for (int e = 0; e < V; e += 4) {
                float4 f = ((const float4 *)row)[(j0 + e) / 4];
                xr[e] = f.x; xr[e + 1] = f.y; xr[e + 2] = f.z; xr[e + 3] = f.w;
            }
        else xr[0] = row[j0];
#pragma unroll
        for (int e = 0; e < V; e++) {
            if (!vec && e > 0) break;
            float q = __fmul_rn(xr[e], inv);
            o[e] = __fmul_rn(MODE == NORM_ADD_FAST ? q : zf_cu_round<DT, ZF_CU_COMPUTED>(q), w[e]);
        }
        if (vec) zf_cu_store_vec<DT, ZF_CU_COMPUTED>(y, it, o);
        else zf_cu_store<DT, ZF_CU_COMPUTED>(y, j0, o[0]);
    }
}

/* Few rows of a longer n (decode): a cluster of CL CTAs per row, on as many
 * SMs, so the loads, adds, roundings and stores of one row are spread over
 * CL SMs instead of one (per-SM traffic, not the reduction, set the decode
 * time: docs/CUDA.md). CTA q owns the L256 lanes [qL, qL + L), L = 256 / CL:
 * it loads, adds, rounds, stages and later normalises every element of
 * those lanes (the 16-byte vectors whose elements fall in them), so lane
 * l's chain runs in one thread over data of its own CTA, in the canonical
 * order. Each lane sum is sent into every CTA's shared memory with st.async
 * on that CTA's mbarrier; every warp of every CTA then folds the same tree
 * and gets the same inv, bit for bit. w does not depend on the previous
 * kernel, so it is loaded before the programmatic-launch wait. */
#define NORM_CL_THREADS 256

template <int DT, int MODE, int P, int CL>
__global__ void __launch_bounds__(NORM_CL_THREADS) fwd_cluster_kernel(const zf_norm_args a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    constexpr int V = zf_cu_vec<DT>::n, L = 256 / CL, VPL = L / V; /* vectors per round and CTA */
    extern __shared__ __align__(16) float row[];                   /* [round][L] */
    __shared__ __align__(16) float part[256];
    __shared__ uint64_t got; /* counts the 256 lane sums arriving here */
    cooperative_groups::cluster_group cl = cooperative_groups::this_cluster();
    const int q = (int)cl.block_rank(), tid = threadIdx.x;
    const int n = (int)a.n, rounds = (n + 255) / 256, nvec = n / V;
    const int64_t i = blockIdx.y;
    const char *x = row_ptr<DT>(a.x, i, a.x_stride);
    const char *r = MODE != NORM_PLAIN ? row_ptr<DT>(a.r, i, a.r_stride) : nullptr;
    char *h = MODE != NORM_PLAIN ? (char *)row_ptr<DT>(a.h, i, a.h_stride) : nullptr;
    char *y = (char *)row_ptr<DT>(a.y, i, a.y_stride);
    if (tid == 0) zf_cu_mbar_init_expect(&got, 256 * sizeof(float));
    /* every CTA's barrier is initialised before anyone sends into it: arrive
     * now, wait just before the sends */
    asm volatile("barrier.cluster.arrive.relaxed.aligned;" ::: "memory");
    uint4 xq[P], rq[P], wq[P];
    int vi[P];
#pragma unroll
    for (int p = 0; p < P; p++) { /* item it = round m, vector u of this CTA's lanes */
        const int it = tid + p * NORM_CL_THREADS, m = it / VPL, v = m * (256 / V) + q * VPL + it % VPL;
        vi[p] = m < rounds && v < nvec ? v : -1;
        if (vi[p] >= 0) wq[p] = ((const uint4 *)a.w)[v];
    }
    zf_cu_wait_prior();
    zf_cu_release_next();
#pragma unroll
    for (int p = 0; p < P; p++) {
        if (vi[p] < 0) continue;
        xq[p] = ((const uint4 *)x)[vi[p]];
        if constexpr (MODE != NORM_PLAIN) rq[p] = ((const uint4 *)r)[vi[p]];
    }
#pragma unroll
    for (int p = 0; p < P; p++) {
        if (vi[p] < 0) continue;
        const int it = tid + p * NORM_CL_THREADS;
        float v[V];
        zf_cu_load_vec<DT>(&xq[p], 0, v);
        if constexpr (MODE != NORM_PLAIN) {
            float rv[V];
            zf_cu_load_vec<DT>(&rq[p], 0, rv);
#pragma unroll
            for (int e = 0; e < V; e++) v[e] = __fadd_rn(v[e], rv[e]);
            zf_cu_store_vec<DT, ZF_CU_COMPUTED>(h, vi[p], v);
            if constexpr (MODE == NORM_ADD_EXACT)
#pragma unroll
                for (int e = 0; e < V; e++) v[e] = zf_cu_round<DT, ZF_CU_COMPUTED>(v[e]);
        }
        float4 *d = (float4 *)(row + (it / VPL) * L + (it % VPL) * V);
#pragma unroll
        for (int e = 0; e < V; e += 4) d[e / 4] = make_float4(v[e], v[e + 1], v[e + 2], v[e + 3]);
    }
    __syncthreads();
    float acc = 0.0f;
    if (tid < L) { /* lane q L + tid: elements q L + tid + 256 m, ascending */
        const int mc = (n - q * L - tid + 255) / 256; /* its rounds (n >= 256) */
        int m = 0;
        for (; m + 8 <= mc; m += 8) { /* eight loads in flight, then the chain */
            float v[8];
#pragma unroll
            for (int u = 0; u < 8; u++) v[u] = row[(m + u) * L + tid];
#pragma unroll
            for (int u = 0; u < 8; u++) acc = __fmaf_rn(v[u], v[u], acc);
        }
        for (; m < mc; m++) acc = __fmaf_rn(row[m * L + tid], row[m * L + tid], acc);
    }
    /* .aligned: the whole warp waits, outside the lane branch (L may be 16) */
    asm volatile("barrier.cluster.wait.aligned;" ::: "memory");
    if (tid < L)
#pragma unroll
        for (int c = 0; c < CL; c++) zf_cu_st_async(&part[q * L + tid], &got, c, acc);
    /* all 256 lane sums are here once the barrier's bytes are complete; a
     * CTA exits only after that, so no send targets an exited CTA */
    zf_cu_mbar_wait0(&got);
    const float inv = zf_cu_rms_inv(zf_cu_l256_tree(part), n, a.eps);
#pragma unroll
    for (int p = 0; p < P; p++) {
        if (vi[p] < 0) continue;
        const int it = tid + p * NORM_CL_THREADS;
        const float *xr = row + (it / VPL) * L + (it % VPL) * V;
        float w[V], o[V];
        zf_cu_load_vec<DT>(&wq[p], 0, w);
#pragma unroll
        for (int e = 0; e < V; e++) {
            const float t = __fmul_rn(xr[e], inv);
            o[e] = __fmul_rn(MODE == NORM_ADD_FAST ? t : zf_cu_round<DT, ZF_CU_COMPUTED>(t), w[e]);
        }
        zf_cu_store_vec<DT, ZF_CU_COMPUTED>(y, vi[p], o);
    }
#endif
}

/* ---- VJP ---------------------------------------------------------------------- */

/* Stages x and g = dy * w, reduces ss = L256(x, x) and dot = L256(g, x), then
 * writes d_x. Without DX it only writes inv per row (for the d_w pass). */
template <int DT, int MODE, bool DX>
__global__ void __launch_bounds__(ZF_CU_THREADS) vjp_kernel(const zf_norm_args a, float *inv_out, int64_t nvec,
                                                            int64_t npad) {
    constexpr int V = zf_cu_vec<DT>::n;
    extern __shared__ __align__(16) float sm[];
    float *xs = sm, *gs = sm + npad;
    __shared__ __align__(16) float part_ss[ZF_CU_THREADS];
    __shared__ __align__(16) float part_dot[ZF_CU_THREADS];
    __shared__ float s_inv, s_c;
    const int tid = threadIdx.x;
    const int64_t n = a.n, items = nvec + (n - nvec * V);
    zf_cu_wait_prior();
    for (int64_t i = blockIdx.x; i < a.rows; i += gridDim.x) {
        const char *x = row_ptr<DT>(a.x, i, a.x_stride);
        const char *dy = row_ptr<DT>(a.dy, i, a.dy_stride);
        for (int64_t it = tid; it < items; it += ZF_CU_THREADS) {
            if (it < nvec) {
                float v[V];
                zf_cu_load_vec<DT>(x, it, v);
#pragma unroll
                for (int e = 0; e < V; e++) xs[it * V + e] = v[e];
                if constexpr (DX) {
                    float d[V], w[V];
                    zf_cu_load_vec<DT>(dy, it, d);
                    zf_cu_load_vec<DT>(a.w, it, w);
#pragma unroll
                    for (int e = 0; e < V; e++) gs[it * V + e] = __fmul_rn(d[e], w[e]);
                }
            } else {
                int64_t j = nvec * V + (it - nvec);
                xs[j] = zf_cu_load<DT>(x, j);
                if constexpr (DX) gs[j] = __fmul_rn(zf_cu_load<DT>(dy, j), zf_cu_load<DT>(a.w, j));
            }
        }
        __syncthreads();
        float ss = 0.0f, dot = 0.0f;
        for (int64_t j = tid; j < n; j += ZF_CU_THREADS) {
            ss = __fmaf_rn(xs[j], xs[j], ss);
            if constexpr (DX) dot = __fmaf_rn(gs[j], xs[j], dot);
        }
        part_ss[tid] = ss;
        part_dot[tid] = dot;
        __syncthreads();
        if (tid < 32) {
            float tss = zf_cu_l256_tree(part_ss);
            float tdot = DX ? zf_cu_l256_tree(part_dot) : 0.0f;
            if (tid == 0) {
                float inv = zf_cu_rms_inv(tss, n, a.eps);
                s_inv = inv;
                s_c = __fmul_rn(__fdiv_rn(tdot, (float)n), __fmul_rn(__fmul_rn(inv, inv), inv));
                if (inv_out) inv_out[i] = inv;
            }
        }
        __syncthreads();
        if constexpr (DX) {
            const float inv = s_inv, c = s_c;
            char *dx = (char *)row_ptr<DT>(a.dx, i, a.dx_stride);
            const char *dh = a.dh ? row_ptr<DT>(a.dh, i, a.dh_stride) : nullptr;
            for (int64_t it = tid; it < items; it += ZF_CU_THREADS) {
                const int64_t j0 = it < nvec ? it * V : nvec * V + (it - nvec);
                const int cnt = it < nvec ? V : 1;
                float o[V], hv[V];
                if (dh && it < nvec) zf_cu_load_vec<DT>(dh, it, hv);
                else if (dh) hv[0] = zf_cu_load<DT>(dh, j0);
#pragma unroll
                for (int e = 0; e < V; e++) {
                    if (e >= cnt) break;
                    float b = __fsub_rn(__fmul_rn(inv, gs[j0 + e]), __fmul_rn(c, xs[j0 + e]));
                    if (MODE == NORM_ADD_EXACT && dh) b = __fadd_rn(zf_cu_round<DT, ZF_CU_COMPUTED>(b), hv[e]);
                    if (MODE == NORM_ADD_FAST && dh) b = __fadd_rn(b, hv[e]);
                    o[e] = b;
                }
                if (it < nvec) zf_cu_store_vec<DT, ZF_CU_COMPUTED>(dx, it, o);
                else zf_cu_store<DT, ZF_CU_COMPUTED>(dx, j0, o[0]);
            }
        }
        __syncthreads(); /* the next row reuses xs[], gs[] */
    }
    zf_cu_release_next();
}

/* p_k[j] = fma(dy[r][j], T(x[r][j] * inv[r]), p_k[j]) over the rows of chunk k */
template <int DT>
__global__ void dw_partial_kernel(const zf_norm_args a, const float *inv, float *partial, int64_t nchunks) {
    int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (j >= a.n) return;
    for (int64_t k = blockIdx.y; k < nchunks; k += gridDim.y) {
        int64_t r1 = (k + 1) * 32 < a.rows ? (k + 1) * 32 : a.rows;
        float p = 0.0f;
        for (int64_t r = k * 32; r < r1; r++) {
            float nt = zf_cu_round<DT, ZF_CU_COMPUTED>(__fmul_rn(zf_cu_load<DT>(a.x, r * a.x_stride + j), inv[r]));
            p = __fmaf_rn(zf_cu_load<DT>(a.dy, r * a.dy_stride + j), nt, p);
        }
        partial[k * a.n + j] = p;
    }
}

/* d_w[j] = sum of the chunk partials in chunk order, from +0 */
template <int DT>
__global__ void dw_final_kernel(const float *partial, int64_t nchunks, int64_t n, void *dw, int dw_f32) {
    int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (j >= n) return;
    float s = 0.0f;
    for (int64_t k = 0; k < nchunks; k++) s = __fadd_rn(s, partial[k * n + j]);
    if (dw_f32) ((float *)dw)[j] = s;
    else zf_cu_store<DT, ZF_CU_COMPUTED>(dw, j, s);
}

/* ---- launchers ------------------------------------------------------------------- */

static bool rows_aligned(const void *p, int64_t stride, int64_t rows, size_t es) {
    return !p || (((uintptr_t)p & 15u) == 0 && (rows == 1 || (stride * (int64_t)es) % 16 == 0));
}

/* 16-byte vectors when every operand's rows are 16-byte aligned */
template <int DT> static int64_t vectors_per_row(const zf_norm_args *a) {
    size_t es = sizeof(typename zf_cu_elem<DT>::type);
    bool ok = rows_aligned(a->x, a->x_stride, a->rows, es) && rows_aligned(a->r, a->r_stride, a->rows, es) &&
              rows_aligned(a->w, 0, 1, es) && rows_aligned(a->y, a->y_stride, a->rows, es) &&
              rows_aligned(a->h, a->h_stride, a->rows, es) && rows_aligned(a->dy, a->dy_stride, a->rows, es) &&
              rows_aligned(a->dh, a->dh_stride, a->rows, es) && rows_aligned(a->dx, a->dx_stride, a->rows, es);
    return ok ? a->n / zf_cu_vec<DT>::n : 0;
}

static unsigned row_blocks(int64_t rows) { return (unsigned)(rows < 0x7fffffff ? rows : 0x7fffffff); }

/* Rows that fill fewer than two waves of SMs leave most of the GPU idle with
 * one 256-thread block each: give each row up to 1024 threads instead. */
static bool few_rows(int64_t rows) { return rows < 2 * (int64_t)zf_cu_sms; }

template <int DT, int MODE, int P>
static cudaError_t fwd_decode_go(const zf_norm_args *a, int64_t nvec, int64_t items, size_t smem, cudaStream_t s) {
    int64_t per = (items + P - 1) / P;
    unsigned nt = (unsigned)((per + 31) / 32 * 32);
    if (nt < ZF_CU_THREADS) nt = ZF_CU_THREADS;
    cudaError_t e = zf_cu_allow_smem((const void *)fwd_decode_kernel<DT, MODE, P>, smem);
    if (e != cudaSuccess) return e;
    return zf_cu_launch(fwd_decode_kernel<DT, MODE, P>, dim3((unsigned)a->rows), dim3(nt), smem, s, *a, nvec);
}

/* A cluster of CL CTAs per row (Hopper and later), with programmatic
 * dependent launch like every other kernel. */
template <int DT, int MODE, int P, int CL>
static cudaError_t fwd_cluster_go(const zf_norm_args *a, cudaStream_t s) {
    static std::atomic<bool> allowed{false}; /* per instance; once is enough */
    if (CL > 8 && !allowed.load(std::memory_order_relaxed)) { /* a non-portable cluster size */
        cudaError_t e = cudaFuncSetAttribute(fwd_cluster_kernel<DT, MODE, P, CL>,
                                             cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
        if (e != cudaSuccess) return e;
        allowed.store(true, std::memory_order_relaxed);
    }
    cudaLaunchConfig_t c = {};
    cudaLaunchAttribute at[2];
    c.gridDim = dim3(CL, (unsigned)a->rows);
    c.blockDim = dim3(NORM_CL_THREADS);
    c.dynamicSmemBytes = (size_t)((a->n + 255) / 256) * (256 / CL) * sizeof(float);
    c.stream = s;
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = CL;
    at[0].val.clusterDim.y = 1;
    at[0].val.clusterDim.z = 1;
    at[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[1].val.programmaticStreamSerializationAllowed = 1;
    c.attrs = at;
    c.numAttrs = zf_cu_pdl ? 2 : 1;
    return cudaLaunchKernelEx(&c, fwd_cluster_kernel<DT, MODE, P, CL>, *a);
}

/* The cluster path: at most 16 rows of whole 16-byte vectors and n >= 2048.
 * The cluster size grows with n (measured on an H100, docs/CUDA.md): 4 CTAs
 * below 6144 elements, 8 below 12288, 16 above; items per thread P is the
 * CTA's vectors over 256 threads (at most 4, else the other kernels run). */
#define NORM_CL_MIN_N 2048
template <int DT> static int cluster_size(const zf_norm_args *a) {
    constexpr int V = zf_cu_vec<DT>::n;
    if (!zf_cu_clusters || a->rows > 16 || a->n < NORM_CL_MIN_N || a->n % V != 0 || vectors_per_row<DT>(a) * V != a->n)
        return 0;
    return a->n < 6144 ? 4 : a->n < 12288 ? 8 : 16;
}

template <int DT, int MODE, int CL> static cudaError_t fwd_cluster_pick(const zf_norm_args *a, cudaStream_t s) {
    constexpr int V = zf_cu_vec<DT>::n;
    const int64_t items = (a->n + 255) / 256 * (256 / CL / V);
    if (items <= NORM_CL_THREADS) return fwd_cluster_go<DT, MODE, 1, CL>(a, s);
    if (items <= 2 * NORM_CL_THREADS) return fwd_cluster_go<DT, MODE, 2, CL>(a, s);
    if (items <= 4 * NORM_CL_THREADS) return fwd_cluster_go<DT, MODE, 4, CL>(a, s);
    return cudaErrorNotSupported; /* the caller's other kernels take it */
}

template <int DT, int MODE> static cudaError_t fwd_go(const zf_norm_args *a, cudaStream_t s) {
    size_t smem = (size_t)((a->n + 3) / 4 * 4) * sizeof(float);
    const int cs = cluster_size<DT>(a);
    cudaError_t ce = cs == 4    ? fwd_cluster_pick<DT, MODE, 4>(a, s)
                     : cs == 8  ? fwd_cluster_pick<DT, MODE, 8>(a, s)
                     : cs == 16 ? fwd_cluster_pick<DT, MODE, 16>(a, s)
                                : cudaErrorNotSupported;
    if (cs == 16 && ce != cudaSuccess && ce != cudaErrorNotSupported) { /* 16 refused: take 8 */
        (void)cudaGetLastError();
        ce = fwd_cluster_pick<DT, MODE, 8>(a, s);
    }
    if (ce != cudaErrorNotSupported) return ce;
    if (few_rows(a->rows)) {
        /* P <= 2 items per thread: 1024 threads leave 64 registers each */
        int64_t nvec = vectors_per_row<DT>(a), items = nvec + (a->n - nvec * zf_cu_vec<DT>::n);
        if (items <= 1024) return fwd_decode_go<DT, MODE, 1>(a, nvec, items, smem, s);
        if (items <= 2048) return fwd_decode_go<DT, MODE, 2>(a, nvec, items, smem, s);
    }
    cudaError_t e = zf_cu_allow_smem((const void *)fwd_kernel<DT, MODE>, smem);
    if (e != cudaSuccess) return e;
    return zf_cu_launch(fwd_kernel<DT, MODE>, dim3(row_blocks(a->rows)), dim3(ZF_CU_THREADS), smem, s, *a,
                        vectors_per_row<DT>(a));
}

template <int DT, int MODE> static cudaError_t vjp_go(const zf_norm_args *a, cudaStream_t s) {
    int64_t npad = (a->n + 3) / 4 * 4, nvec = vectors_per_row<DT>(a);
    size_t smem = (size_t)(2 * npad) * sizeof(float);
    cudaError_t e = zf_cu_allow_smem((const void *)vjp_kernel<DT, MODE, true>, smem);
    if (e == cudaSuccess) e = zf_cu_allow_smem((const void *)vjp_kernel<DT, MODE, false>, smem);
    if (e != cudaSuccess) return e;
    if (!a->dw) {
        vjp_kernel<DT, MODE, true><<<row_blocks(a->rows), ZF_CU_THREADS, smem, s>>>(*a, nullptr, nvec, npad);
        return cudaGetLastError();
    }
    /* d_w first (from inv per row), then d_x: d_x may overwrite x or d_y in place */
    int64_t nchunks = (a->rows + 31) / 32;
    float *scratch;
    e = cudaMallocAsync((void **)&scratch, (size_t)(a->rows + nchunks * a->n) * sizeof(float), s);
    if (e != cudaSuccess) return e;
    float *inv = scratch, *partial = scratch + a->rows;
    unsigned cb = (unsigned)((a->n + ZF_CU_THREADS - 1) / ZF_CU_THREADS);
    vjp_kernel<DT, MODE, false><<<row_blocks(a->rows), ZF_CU_THREADS, smem, s>>>(*a, inv, nvec, npad);
    dw_partial_kernel<DT><<<dim3(cb, (unsigned)(nchunks < 65535 ? nchunks : 65535)), ZF_CU_THREADS, 0, s>>>(
        *a, inv, partial, nchunks);
    dw_final_kernel<DT><<<cb, ZF_CU_THREADS, 0, s>>>(partial, nchunks, a->n, a->dw, a->dw_dtype == ZF_DTYPE_F32);
    vjp_kernel<DT, MODE, true><<<row_blocks(a->rows), ZF_CU_THREADS, smem, s>>>(*a, nullptr, nvec, npad);
    e = cudaGetLastError();
    cudaError_t f = cudaFreeAsync(scratch, s);
    return e != cudaSuccess ? e : f;
}

#define ZF_NORM_DISPATCH(go, MODE)                                  \
    switch (t) {                                                    \
    case ZF_DTYPE_F32: return go<0, MODE>(a, s);                    \
    case ZF_DTYPE_F16: return go<1, MODE>(a, s);                    \
    case ZF_DTYPE_BF16: return go<2, MODE>(a, s);                   \
    default: return cudaErrorInvalidValue;                          \
    }

cudaError_t zf_cu_rms_norm(zf_dtype t, const zf_norm_args *a, cudaStream_t s) { ZF_NORM_DISPATCH(fwd_go, NORM_PLAIN) }
cudaError_t zf_cu_add_rms_norm_exact(zf_dtype t, const zf_norm_args *a, cudaStream_t s) {
    ZF_NORM_DISPATCH(fwd_go, NORM_ADD_EXACT)
}
cudaError_t zf_cu_add_rms_norm_fast(zf_dtype t, const zf_norm_args *a, cudaStream_t s) {
    ZF_NORM_DISPATCH(fwd_go, NORM_ADD_FAST)
}
cudaError_t zf_cu_rms_norm_vjp(zf_dtype t, const zf_norm_args *a, cudaStream_t s) {
    ZF_NORM_DISPATCH(vjp_go, NORM_PLAIN)
}
cudaError_t zf_cu_add_rms_norm_vjp_exact(zf_dtype t, const zf_norm_args *a, cudaStream_t s) {
    ZF_NORM_DISPATCH(vjp_go, NORM_ADD_EXACT)
}
cudaError_t zf_cu_add_rms_norm_vjp_fast(zf_dtype t, const zf_norm_args *a, cudaStream_t s) {
    ZF_NORM_DISPATCH(vjp_go, NORM_ADD_FAST)
}

/* stock: h = add(x, r); y = rms_norm(h) */
cudaError_t zf_cu_add_rms_norm_stock(zf_dtype t, const zf_norm_args *a, cudaStream_t s) {
    zf_ew_view v = {};
    v.rows = a->rows;
    v.cols = a->n;
    v.in[0] = a->x; v.in_stride[0] = a->x_stride;
    v.in[1] = a->r; v.in_stride[1] = a->r_stride;
    v.out[0] = a->h; v.out_stride[0] = a->h_stride;
    cudaError_t e = zf_cu_add(t, &v, s);
    if (e != cudaSuccess) return e;
    zf_norm_args b = *a;
    b.x = a->h;
    b.x_stride = a->h_stride;
    b.r = nullptr;
    b.h = nullptr;
    return zf_cu_rms_norm(t, &b, s);
}

/* stock: d_hn = rms_norm_vjp(h, w, d_y) in T, then d_x = add(d_hn, d_h) */
cudaError_t zf_cu_add_rms_norm_vjp_stock(zf_dtype t, const zf_norm_args *a, cudaStream_t s) {
    if (!a->dh) return zf_cu_rms_norm_vjp(t, a, s);
    void *tmp;
    cudaError_t e = cudaMallocAsync(&tmp, (size_t)(a->rows * a->n) * zf_cu_dtype_size(t), s);
    if (e != cudaSuccess) return e;
    zf_norm_args b = *a;
    b.dx = tmp;
    b.dx_stride = a->n;
    b.dh = nullptr;
    e = zf_cu_rms_norm_vjp(t, &b, s);
    zf_ew_view v = {};
    v.rows = a->rows;
    v.cols = a->n;
    v.in[0] = tmp; v.in_stride[0] = a->n;
    v.in[1] = a->dh; v.in_stride[1] = a->dh_stride;
    v.out[0] = a->dx; v.out_stride[0] = a->dx_stride;
    if (e == cudaSuccess) e = zf_cu_add(t, &v, s);
    cudaError_t f = cudaFreeAsync(tmp, s);
    return e != cudaSuccess ? e : f;
}

/* ---- checked entry points ------------------------------------------------------- */

static zf_fidelity fidelity_of(const zf_opts *o) { return o ? o->fidelity : ZF_FIDELITY_AUTO; }

/* Any overlap at all is an error (outputs that must not share memory). */
static zf_status disjoint(const char *op, const char *an, const zf_tensor *a, const char *bn, const zf_tensor *b) {
    int64_t la = 0, lb = 0;
    for (int i = 0; i < a->ndim; i++) la += (a->shape[i] - 1) * a->stride[i];
    for (int i = 0; i < b->ndim; i++) lb += (b->shape[i] - 1) * b->stride[i];
    const char *a0 = (const char *)a->data, *a1 = a0 + (size_t)(la + 1) * zf_cu_dtype_size(a->dtype);
    const char *b0 = (const char *)b->data, *b1 = b0 + (size_t)(lb + 1) * zf_cu_dtype_size(b->dtype);
    if (a0 < b1 && b0 < a1)
        return ZF_ERR(ZF_ERR_ALIAS, "[%s] %s and %s overlap; they need separate memory", op, an, bn);
    return ZF_OK;
}

/* x: the row tensor; w: [n] of x's dtype on the same device; eps finite >= 0;
 * n within the shared-memory limit. Fills rows, n, eps and x's view. */
static zf_status check_rows(const char *op, const char *xn, const zf_tensor *x, const zf_tensor *w, float eps,
                            int64_t max_n, zf_norm_args *a) {
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(H->check_float(op, xn, x));
    ZF_TRY(H->check_float(op, "w", w));
    if (x->device != ZF_DEVICE_CUDA) return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] %s is not on the CUDA device", op, xn);
    if (w->dtype != x->dtype)
        return ZF_ERR(ZF_ERR_DTYPE, "[%s] w is %s but %s is %s; all operands must share a dtype", op,
                      zf_cu_dtype_name(w->dtype), xn, zf_cu_dtype_name(x->dtype));
    if (w->device != x->device) return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] w and %s are on different devices", op, xn);
    int64_t n = x->shape[x->ndim - 1];
    if (w->ndim != 1 || w->shape[0] != n)
        return ZF_ERR(ZF_ERR_SHAPE, "[%s] w must have shape [%lld] (the row length of %s)", op, (long long)n, xn);
    if (!(eps >= 0.0f) || isinf(eps))
        return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] eps is %g; expected a finite value >= 0", op, (double)eps);
    if (n > max_n)
        return ZF_ERR(ZF_ERR_UNSUPPORTED, "[%s] rows of %lld elements; the CUDA kernels take at most %lld", op,
                      (long long)n, (long long)max_n);
    zf_rows r;
    ZF_TRY(H->as_rows(op, xn, x, &r));
    *a = zf_norm_args{};
    a->rows = r.rows;
    a->n = n;
    a->eps = eps;
    a->x = r.data;
    a->x_stride = r.row_stride;
    a->w = w->data;
    a->dw_dtype = ZF_DTYPE_F32;
    return ZF_OK;
}

/* t: same dtype, device and shape as x; returns its data and row stride */
static zf_status operand(const char *op, const char *xn, const zf_tensor *x, const char *tn, const zf_tensor *t,
                         const void **data, int64_t *stride) {
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(H->check_float(op, tn, t));
    ZF_TRY(H->check_same(op, xn, x, tn, t));
    zf_rows r;
    ZF_TRY(H->as_rows(op, tn, t, &r));
    *data = r.data;
    *stride = r.row_stride;
    return ZF_OK;
}

/* An output may be an input exactly (in place) or disjoint from it. */
static zf_status out_vs_inputs(const char *op, const char *on, const zf_tensor *out, const char *const *names,
                               const zf_tensor *const *ins, int n) {
    for (int k = 0; k < n; k++)
        if (ins[k]) ZF_TRY(zf_cu_host->check_alias(op, on, out, names[k], ins[k]));
    return ZF_OK;
}

static zf_status check_dw(const char *op, const zf_tensor *x, const zf_tensor *w, const zf_tensor *d_w,
                          zf_norm_args *a) {
    if (!d_w) return ZF_OK;
    ZF_TRY(zf_cu_host->check_float(op, "d_w", d_w));
    if (d_w->dtype != ZF_DTYPE_F32 && d_w->dtype != x->dtype)
        return ZF_ERR(ZF_ERR_DTYPE, "[%s] d_w is %s; expected f32 or %s (the dtype of w)", op,
                      zf_cu_dtype_name(d_w->dtype), zf_cu_dtype_name(x->dtype));
    if (d_w->device != ZF_DEVICE_CUDA) return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] d_w is not on the CUDA device", op);
    if (d_w->ndim != 1 || d_w->shape[0] != w->shape[0])
        return ZF_ERR(ZF_ERR_SHAPE, "[%s] d_w must have shape [%lld] (the shape of w)", op, (long long)w->shape[0]);
    a->dw = d_w->data;
    a->dw_dtype = d_w->dtype;
    return ZF_OK;
}

static zf_status launch(const char *op, zf_op id, zf_dtype t, const zf_norm_args *a, const zf_opts *o) {
    const zf_variant *v;
    ZF_TRY(zf_cu_host->pick(id, ZF_DEVICE_CUDA, fidelity_of(o), &v));
    cudaError_t e = ((zf_cu_norm_fn)v->fn)(t, a, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail(op, v->name, e);
}

zf_status zf_cuda_rms_norm(const zf_tensor *x, const zf_tensor *w, float eps, zf_tensor *y, const zf_opts *o) {
    const char *op = "rms_norm";
    zf_norm_args a;
    ZF_TRY(check_rows(op, "x", x, w, eps, zf_cu_norm_max_n, &a));
    const void *yp;
    ZF_TRY(operand(op, "x", x, "y", y, &yp, &a.y_stride));
    a.y = (void *)yp;
    const char *names[2] = {"x", "w"};
    const zf_tensor *ins[2] = {x, w};
    ZF_TRY(out_vs_inputs(op, "y", y, names, ins, 2));
    return launch(op, ZF_OP_RMS_NORM, x->dtype, &a, o);
}

zf_status zf_cuda_add_rms_norm(const zf_tensor *x, const zf_tensor *residual, const zf_tensor *w, float eps,
                               zf_tensor *y, zf_tensor *h, const zf_opts *o) {
    const char *op = "add_rms_norm";
    zf_norm_args a;
    ZF_TRY(check_rows(op, "x", x, w, eps, zf_cu_norm_max_n, &a));
    const void *yp, *hp;
    ZF_TRY(operand(op, "x", x, "residual", residual, &a.r, &a.r_stride));
    ZF_TRY(operand(op, "x", x, "y", y, &yp, &a.y_stride));
    ZF_TRY(operand(op, "x", x, "h", h, &hp, &a.h_stride));
    a.y = (void *)yp;
    a.h = (void *)hp;
    const char *names[3] = {"x", "residual", "w"};
    const zf_tensor *ins[3] = {x, residual, w};
    ZF_TRY(out_vs_inputs(op, "y", y, names, ins, 3));
    ZF_TRY(out_vs_inputs(op, "h", h, names, ins, 3));
    ZF_TRY(disjoint(op, "y", y, "h", h));
    return launch(op, ZF_OP_ADD_RMS_NORM, x->dtype, &a, o);
}

/* Shared by both VJPs: x is rms_norm's x or add_rms_norm's h. */
static zf_status vjp_entry(const char *op, zf_op id, const char *xn, const zf_tensor *x, const zf_tensor *w, float eps,
                           const zf_tensor *d_y, const zf_tensor *d_h, zf_tensor *d_x, zf_tensor *d_w,
                           const zf_opts *o) {
    zf_norm_args a;
    ZF_TRY(check_rows(op, xn, x, w, eps, zf_cu_norm_vjp_max_n, &a));
    const void *dxp;
    ZF_TRY(operand(op, xn, x, "d_y", d_y, &a.dy, &a.dy_stride));
    if (d_h) ZF_TRY(operand(op, xn, x, "d_h", d_h, &a.dh, &a.dh_stride));
    ZF_TRY(operand(op, xn, x, "d_x", d_x, &dxp, &a.dx_stride));
    a.dx = (void *)dxp;
    const char *names[4] = {xn, "w", "d_y", "d_h"};
    const zf_tensor *ins[4] = {x, w, d_y, d_h};
    ZF_TRY(out_vs_inputs(op, "d_x", d_x, names, ins, 4));
    ZF_TRY(check_dw(op, x, w, d_w, &a));
    if (d_w) {
        for (int k = 0; k < 4; k++)
            if (ins[k]) ZF_TRY(disjoint(op, "d_w", d_w, names[k], ins[k]));
        ZF_TRY(disjoint(op, "d_w", d_w, "d_x", d_x));
    }
    return launch(op, id, x->dtype, &a, o);
}

zf_status zf_cuda_rms_norm_vjp(const zf_tensor *x, const zf_tensor *w, float eps, const zf_tensor *d_y,
                               zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o) {
    return vjp_entry("rms_norm_vjp", ZF_OP_RMS_NORM_VJP, "x", x, w, eps, d_y, NULL, d_x, d_w, o);
}

zf_status zf_cuda_add_rms_norm_vjp(const zf_tensor *h, const zf_tensor *w, float eps, const zf_tensor *d_y,
                                   const zf_tensor *d_h, zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o) {
    return vjp_entry("add_rms_norm_vjp", ZF_OP_ADD_RMS_NORM_VJP, "h", h, w, eps, d_y, d_h, d_x, d_w, o);
}
