/* Few-token (decode) kernels for the gathered dots: the pair path of
 * gather_qmm / gather_qmm_swiglu and the one-launch gather_qmm_combine.
 *
 * Same canonical order as qdot.cuh (thread c of a group of 8 owns blocks
 * c, c+8, ...; per lane: x*q, three fmas, then s and b; lane tree; shfl_xor
 * 4, 2, 1), so the bits are those of the CPU. What differs is the cost
 * around it:
 * - the CTA stages its x row(s) once in shared memory as f32, lane-major
 *   (lane l's elements {l, 8+l, 16+l, 24+l} of a block as one float4,
 *   swizzled so the 8 threads of a group hit different banks), with the
 *   per-block lane sums X_l;
 * - each thread copies its own weight blocks to shared memory with cp.async
 *   (no registers held while they fly; one commit group per block, so the
 *   compute waits for block u alone), from one row pointer plus constant
 *   offsets;
 * - the scales and biases of a k tile are loaded before the weight copies
 *   (the 8 threads of a group share their rows' groups), converted to f32
 *   once and kept in shared memory, so the inner loop has no dtype branch
 *   and a thread holds no registers for them;
 * - gate and up of a row are dotted by two groups of 8 threads (16 per row),
 *   which doubles the warps per SM at the registers of one matrix;
 * - kernels let the next kernel launch at their start (PDL): its CTAs wait
 *   in griddepcontrol.wait for this grid, so launch and prologue overlap. */
#include "cuda/check.cuh"
#include "cuda/cp_async.cuh"
#include "cuda/kernels.cuh"
#include "cuda/qdot.cuh"
#include "cuda/zmath.cuh"

#define QD_ROWS 16
/* x (and X sums) staged per CTA */
#define QD_MAX_STAGED 8192

/* Blocks per thread and matrix whose copies are in flight together (a k
 * tile is 8U blocks): a thread's whole share of a 4-bit row of k = 2048,
 * or of two 4-bit rows of k <= 1024 (the combine), is copied at once. */
template <int BITS, int NW> struct qd_unroll {
    static constexpr int u = NW * BITS <= 8 ? 8 : NW * BITS <= 16 ? 4 : 2;
};

struct qd_row {
    const uint32_t *packed; /* NULL: no row (past n, or expert id out of range) */
    const char *sc, *bi;    /* the row's first group */
};

/* Stages rows of k elements of x (row i at xrow(i)) as f32 into xs[i * k]
 * and their lane sums into Xs[i * k / 4]: block j's float4 at slot l ^ (j &
 * 7) holds lane l's elements {l, 8+l, 16+l, 24+l}; X half h (lanes 4h ..
 * 4h+3) sits at half h ^ ((j >> 2) & 1). */
template <typename XR>
__device__ __forceinline__ void qd_stage(zf_dtype xt, bool xvec, int rows, int k, XR xrow, float *xs, float *Xs) {
    const int nb = k / 32;
    for (int t = threadIdx.x; t < rows * nb; t += blockDim.x) {
        int j = t;
        const int i = rows == 1 ? 0 : zf_cu_divmod(t, nb, &j); /* one row (qmm, swiglu): no division */
        float x[32];
        zf_cu_xblock(xt, xrow(i), j, xvec, x);
        float4 *d = (float4 *)(xs + (size_t)i * k + 32 * j);
        float X[8];
#pragma unroll
        for (int l = 0; l < 8; l++) {
            d[l ^ (j & 7)] = make_float4(x[l], x[8 + l], x[16 + l], x[24 + l]);
            X[l] = zf_cu_lane_sum(x, l);
        }
        float4 *D = (float4 *)(Xs + (size_t)i * (k / 4) + 8 * j);
        const int h = (j >> 2) & 1;
        D[h] = make_float4(X[0], X[1], X[2], X[3]);
        D[h ^ 1] = make_float4(X[4], X[5], X[6], X[7]);
    }
}

/* Weight words in shared memory: word w of thread t sits in 16-byte chunk
 * w / 4 of the thread-interleaved buffer, so each thread reads back its own
 * blocks with conflict-free 16-byte loads at constant offsets. */
template <int BITS, int NW, int U> struct qd_shape {
    static constexpr int words = U * NW * BITS; /* per thread */
    static constexpr int chunks = (words + 3) / 4;
};

template <int BITS, int NW, int U, int THREADS> __host__ __device__ constexpr size_t qd_wbuf_bytes() {
    return (size_t)qd_shape<BITS, NW, U>::chunks * 16 * THREADS;
}

/* Word w of this thread (my = wb + 4 * threadIdx.x). */
template <int THREADS> __device__ __forceinline__ uint32_t *qd_word(uint32_t *my, int w) {
    return my + (w >> 2) * (THREADS * 4) + (w & 3);
}

/* Issues the copies of blocks j0, j0 + 8, ... (U of them, one commit group
 * per block, empty past nb) of this thread's NW rows. A block is BITS
 * words: 16-byte copies for 4 and 8 bits, 8-byte for 2 and 6, words
 * otherwise (packed rows are 16-byte aligned: qd_packed_ok). */
template <int BITS, int NW, int U, int THREADS>
__device__ __forceinline__ void qd_issue(const qd_row *wr, int j0, int nb, uint32_t *my) {
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int j = j0 + 8 * u;
        if (j < nb) {
#pragma unroll
            for (int m = 0; m < NW; m++) {
                const uint32_t *p = wr[m].packed + BITS * j;
                const int w0 = (u * NW + m) * BITS;
                if (BITS % 4 == 0) {
#pragma unroll
                    for (int v = 0; v < BITS / 4; v++) zf_cu_cp16(qd_word<THREADS>(my, w0 + 4 * v), p + 4 * v);
                } else if (BITS % 2 == 0) {
#pragma unroll
                    for (int v = 0; v < BITS / 2; v++) zf_cu_cp8(qd_word<THREADS>(my, w0 + 2 * v), p + 2 * v);
                } else {
#pragma unroll
                    for (int v = 0; v < BITS; v++) zf_cu_cp4(qd_word<THREADS>(my, w0 + v), p + v);
                }
            }
        }
        zf_cu_cp_commit();
    }
}

/* Shapes of one call's k tiles: nb blocks per row, tiles of 8U blocks, Gt
 * groups of scales per tile and row slot (a tile starts on a group). */
struct qd_tiles {
    int nb, gshift, groups, Gt;
};

__host__ __device__ inline int qd_log2(int v) { return v == 1 ? 0 : v == 2 ? 1 : v == 4 ? 2 : 3; }

template <int U> __host__ __device__ inline qd_tiles qd_tiles_of(int k, int group_size) {
    qd_tiles t;
    t.nb = k / 32;
    t.gshift = qd_log2(group_size / 32);
    t.groups = t.nb >> t.gshift;
    t.Gt = (t.nb < 8 * U ? t.nb : 8 * U) >> t.gshift;
    return t;
}

/* Scales and biases of groups g0 + c, g0 + c + 8, ... (< groups, < g0 + Gt:
 * at most U per row, as a tile is 8U blocks) of this thread's NW rows:
 * qd_sb_load issues every load (before the weight copies, so they come
 * back first), qd_sb_store puts them as f32 pairs into sbs[rs * Gt +
 * group - g0]. */
template <int NW, int U> struct qd_sbraw {
    uint32_t s[NW][U], b[NW][U];
};

template <int NW, int U>
__device__ __forceinline__ void qd_sb_load(const qd_row *wr, int g0, int gn, bool s32, int c, qd_sbraw<NW, U> &R) {
    if (s32) {
#pragma unroll
        for (int m = 0; m < NW; m++)
#pragma unroll
            for (int i = 0; i < U; i++)
                if (c + 8 * i < gn) {
                    R.s[m][i] = __ldg((const uint32_t *)wr[m].sc + g0 + c + 8 * i);
                    R.b[m][i] = __ldg((const uint32_t *)wr[m].bi + g0 + c + 8 * i);
                }
    } else {
#pragma unroll
        for (int m = 0; m < NW; m++)
#pragma unroll
            for (int i = 0; i < U; i++)
                if (c + 8 * i < gn) {
                    R.s[m][i] = __ldg((const unsigned short *)wr[m].sc + g0 + c + 8 * i);
                    R.b[m][i] = __ldg((const unsigned short *)wr[m].bi + g0 + c + 8 * i);
                }
    }
}

template <int NW, int U, int DT>
__device__ __forceinline__ void qd_sb_put(const qd_sbraw<NW, U> &R, const int *rs, int gn, int Gt, int c, float2 *sbs) {
#pragma unroll
    for (int m = 0; m < NW; m++)
#pragma unroll
        for (int i = 0; i < U; i++)
            if (c + 8 * i < gn)
                sbs[rs[m] * Gt + c + 8 * i] =
                    DT == 0 ? make_float2(__uint_as_float(R.s[m][i]), __uint_as_float(R.b[m][i]))
                            : make_float2(zf_cu_from_bits((uint16_t)R.s[m][i], DT), zf_cu_from_bits((uint16_t)R.b[m][i], DT));
}

template <int NW, int U>
__device__ __forceinline__ void qd_sb_store(const qd_sbraw<NW, U> &R, const int *rs, int gn, int Gt, zf_dtype sdt,
                                            int c, float2 *sbs) {
    if (sdt == ZF_DTYPE_F32) qd_sb_put<NW, U, 0>(R, rs, gn, Gt, c, sbs);
    else if (sdt == ZF_DTYPE_BF16) qd_sb_put<NW, U, 2>(R, rs, gn, Gt, c, sbs);
    else qd_sb_put<NW, U, 1>(R, rs, gn, Gt, c, sbs);
}

/* One block's operands for a thread: x lanes, lane sums, scale and bias
 * and the words of each of its NW rows. */
template <int BITS, int NW> struct qd_blk {
    float4 x[8];
    float X[8];
    float s[NW], b[NW];
    uint32_t q[NW][BITS];
};

/* Block j (= tile start + c + 8u) of this thread from shared memory; gi:
 * its group in the tile. */
template <int BITS, int NW, int THREADS>
__device__ __forceinline__ void qd_blk_load(qd_blk<BITS, NW> &B, int j, int gi, int u, int c, int Gt, const int *rs,
                                            const float *xs, const float *Xs, const uint32_t *my, const float2 *sbs) {
    const float4 *xv = (const float4 *)(xs + 32 * j);
#pragma unroll
    for (int l = 0; l < 8; l++) B.x[l] = xv[l ^ c]; /* j & 7 == c */
    const float4 *Xv = (const float4 *)(Xs + 8 * j);
    const int h = (j >> 2) & 1;
    const float4 X0 = Xv[h], X1 = Xv[h ^ 1];
    B.X[0] = X0.x; B.X[1] = X0.y; B.X[2] = X0.z; B.X[3] = X0.w;
    B.X[4] = X1.x; B.X[5] = X1.y; B.X[6] = X1.z; B.X[7] = X1.w;
#pragma unroll
    for (int m = 0; m < NW; m++) {
        const float2 sb = sbs[rs[m] * Gt + gi];
        B.s[m] = sb.x;
        B.b[m] = sb.y;
        const int w0 = (u * NW + m) * BITS;
        if (BITS % 4 == 0) {
#pragma unroll
            for (int v = 0; v < BITS / 4; v++) {
                const uint4 t = *(const uint4 *)qd_word<THREADS>((uint32_t *)my, w0 + 4 * v);
                B.q[m][4 * v] = t.x; B.q[m][4 * v + 1] = t.y; B.q[m][4 * v + 2] = t.z; B.q[m][4 * v + 3] = t.w;
            }
        } else {
#pragma unroll
            for (int v = 0; v < BITS; v++) B.q[m][v] = *qd_word<THREADS>((uint32_t *)my, w0 + v);
        }
    }
}

/* The canonical per-block update: per lane, x*q and three fmas, then s, b. */
template <int BITS, int NW> __device__ __forceinline__ void qd_blk_dot(const qd_blk<BITS, NW> &B, float A[NW][8]) {
#pragma unroll
    for (int l = 0; l < 8; l++) {
        const float4 x = B.x[l];
#pragma unroll
        for (int m = 0; m < NW; m++) {
            float dl = __fmul_rn(x.x, zf_cu_qval<BITS>(B.q[m], l));
            dl = __fmaf_rn(x.y, zf_cu_qval<BITS>(B.q[m], 8 + l), dl);
            dl = __fmaf_rn(x.z, zf_cu_qval<BITS>(B.q[m], 16 + l), dl);
            dl = __fmaf_rn(x.w, zf_cu_qval<BITS>(B.q[m], 24 + l), dl);
            A[m][l] = __fmaf_rn(B.s[m], dl, A[m][l]);
            A[m][l] = __fmaf_rn(B.b[m], B.X[l], A[m][l]);
        }
    }
}

/* Dots of this thread's NW weight rows wr (row slots rs of the scale tile
 * sbs) with one staged x row (xs, Xs), in the canonical order; d[m] is the
 * same in the 8 threads of the group. All THREADS threads of the CTA call
 * it (it has barriers); `active` = false: this thread loads and computes
 * nothing (d = 0). Per k tile: a barrier (the previous tile's buffers are
 * consumed), the loads of this thread's scales and biases, its weight
 * copies, `stage()` on the first tile (x), the scales into sbs, a barrier,
 * then the blocks; block u waits for its own copies only. */
template <int BITS, int NW, int U, int THREADS, typename StageFn>
__device__ __forceinline__ void qd_dot(const qd_row *wr, const int *rs, bool active, const qd_tiles &T, zf_dtype sdt,
                                       int c, StageFn stage, const float *xs, const float *Xs, uint32_t *wb,
                                       float2 *sbs, float d[NW], const qd_sbraw<NW, U> *R0 = nullptr) {
    float A[NW][8];
#pragma unroll
    for (int m = 0; m < NW; m++)
#pragma unroll
        for (int l = 0; l < 8; l++) A[m][l] = 0.0f;
    uint32_t *my = wb + 4 * threadIdx.x;
    const int nb = T.nb, gshift = T.gshift, Gt = T.Gt;
    for (int jt = 0; jt < nb; jt += 8 * U) {
        __syncthreads();
        const int g0 = jt >> gshift, gn = T.groups - g0 < Gt ? T.groups - g0 : Gt;
        qd_sbraw<NW, U> R;
        if (jt == 0 && R0) R = *R0; /* the caller loaded them and issued the copies */
        else {
            if (active) qd_sb_load<NW, U>(wr, g0, gn, sdt == ZF_DTYPE_F32, c, R);
            qd_issue<BITS, NW, U, THREADS>(wr, jt + c, active ? nb : 0, my);
        }
        if (jt == 0) stage();
        if (active) qd_sb_store<NW, U>(R, rs, gn, Gt, sdt, c, sbs);
        __syncthreads();
        if (!active) continue;
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = jt + c + 8 * u;
            if (j >= nb) break;
            zf_cu_cp_wait(U - 1 - u); /* block u's copies have landed */
            qd_blk<BITS, NW> B;
            qd_blk_load<BITS, NW, THREADS>(B, j, (c + 8 * u) >> gshift, u, c, Gt, rs, xs, Xs, my, sbs);
            qd_blk_dot<BITS, NW>(B, A);
        }
    }
#pragma unroll
    for (int m = 0; m < NW; m++) d[m] = zf_cu_qdot_fold(A[m]);
}

__device__ __forceinline__ qd_row qd_row_of(const zf_cu_qw &w, int64_t e, int64_t r) {
    const zf_cu_wrow o = zf_cu_wrow_of(w, e, r);
    return qd_row{o.packed, (const char *)o.scales, (const char *)o.biases};
}
__device__ __forceinline__ qd_row qd_no_row() { return qd_row{nullptr, nullptr, nullptr}; }

/* Launch with more than the default 48 KiB of shared memory when needed. */
template <typename... P, typename... A>
static cudaError_t qd_launch(void (*k)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t s, A... args) {
    cudaError_t e = zf_cu_allow_smem((const void *)k, smem);
    if (e != cudaSuccess) return e;
    return zf_cu_launch(k, grid, block, smem, s, args...);
}

/* ---- pairs: CTA = 16 weight rows of one (token, slot) pair ---------------------- */

/* NM matrices (gate and up: 2), each dotted by its own group of 8 threads:
 * thread 16 g + 8 m + c is column c of matrix m of row g (for NM = 2), so
 * a thread holds the registers of one matrix and an SM runs twice the warps
 * of one group per row doing both. */
template <int BITS, int NM> struct qd_pair_cfg {
    static constexpr int threads = QD_ROWS * 8 * NM;
    static constexpr int u = qd_unroll<BITS, 1>::u;
};

template <int BITS, int NM, int XT, int SDT>
__global__ void __launch_bounds__(qd_pair_cfg<BITS, NM>::threads, 3)
    qd_pair_kernel(const zf_cu_qargs a, zf_cu_qepi epi, bool xvec) {
    using C = qd_pair_cfg<BITS, NM>;
    const zf_dtype xt = zf_cu_spec(XT, a.xt), sdt = zf_cu_spec(SDT, a.w[0].sdt);
    constexpr int U = C::u, TH = C::threads;
    if (!a.chained) zf_cu_release_next(); /* the next kernel's wait still covers all of this grid */
    extern __shared__ float4 qd_sm[];
    const int k = (int)a.w[0].k, n = (int)a.w[0].n;
    const qd_tiles T = qd_tiles_of<U>(k, a.w[0].group_size);
    uint32_t *wb = (uint32_t *)qd_sm;
    float *xs = (float *)((char *)qd_sm + qd_wbuf_bytes<BITS, 1, U, TH>()), *Xs = xs + k;
    float2 *sbs = (float2 *)(Xs + k / 4);
    const int g = threadIdx.x / (8 * NM), m = (threadIdx.x / 8) % NM, c = threadIdx.x % 8;
    const int row = blockIdx.x * QD_ROWS + g;
    const size_t xes = xt == ZF_DTYPE_F32 ? 4 : 2;
    const int64_t np = a.m * a.slots;
    const int rs[1] = {g * NM + m};
    zf_cu_wait_prior();
    if (a.chained) zf_cu_release_next(); /* moe_experts: the next kernel starts after all earlier ones */
    for (int p = blockIdx.y; p < (int)np; p += gridDim.y) { /* np < 2^30 (qd_fits) */
        int ps;
        const int pt = zf_cu_divmod(p, (int)a.slots, &ps); /* token pt, slot ps */
        int64_t e = a.ids ? a.ids[pt * a.ids_stride + ps] : 0; /* qmm: expert 0 */
        e = e >= 0 && e < a.w[0].experts ? e : -1;
        const bool active = row < n && e >= 0;
        const qd_row wr[1] = {active ? qd_row_of(a.w[m], e, row) : qd_no_row()};
        const char *xrow = (const char *)a.x + (size_t)((a.x_per_slot ? p : pt) * a.x_row_stride) * xes;
        auto stage = [&] { qd_stage(xt, xvec, 1, k, [&](int) { return (const void *)xrow; }, xs, Xs); };
        float d[1];
        qd_dot<BITS, 1, U, TH>(wr, rs, active, T, sdt, c, stage, xs, Xs, wb, sbs, d);
        /* up, from the group of matrix 1 of the row */
        const float d1 = NM == 2 ? __shfl_down_sync(0xffffffffu, d[0], 8) : d[0];
        if (row < n && c == 0 && m == 0)
            zf_cu_qstore(a, epi, p, row, e >= 0 ? d[0] : zf_cu_nan(), e >= 0 ? d1 : zf_cu_nan(), xt);
    }
}

static bool qd_aligned(const void *p, size_t b) { return ((uintptr_t)p % b) == 0; }

/* the copies of qd_issue read whole 16-byte chunks of a packed row */
static bool qd_packed_ok(const zf_cu_qargs *a) {
    return qd_aligned(a->w[0].packed, 16) && (a->nw < 2 || qd_aligned(a->w[1].packed, 16));
}

bool zf_cu_qdecode_fits(const zf_cu_qargs *a) {
    return a->w[0].k <= QD_MAX_STAGED && a->w[0].n <= INT32_MAX && qd_packed_ok(a) &&
           a->m * a->slots < (1 << 30); /* the pair index and its step in 32 bits */
}

/* weight buffer, x staged as f32 plus one X float per 4 elements, then the
 * f32 scale/bias pairs of one k tile */
template <int BITS, int NM>
static cudaError_t qd_pair_launch(const zf_cu_qargs *a, zf_cu_qepi epi, dim3 grid, bool xvec, cudaStream_t s) {
    using C = qd_pair_cfg<BITS, NM>;
    const qd_tiles T = qd_tiles_of<C::u>((int)a->w[0].k, a->w[0].group_size);
    const size_t smem = qd_wbuf_bytes<BITS, 1, C::u, C::threads>() + (size_t)a->w[0].k * 5 +
                        (size_t)QD_ROWS * NM * (size_t)T.Gt * 8;
    auto k = qd_pair_kernel<BITS, NM, ZF_CU_ANY, ZF_CU_ANY>;
    /* not the one-matrix kernel (qmm, gather_qmm): specialised, it takes
     * 129 registers instead of 122, one CTA fewer an SM */
    if constexpr (BITS == 4 && NM == 2)
        k = zf_cu_spec_kernel(a->xt, a->w[0].sdt, k, qd_pair_kernel<BITS, NM, ZF_DTYPE_BF16, ZF_DTYPE_BF16>);
    return qd_launch(k, grid, dim3(C::threads), smem, s, *a, epi, xvec);
}

template <int NM>
static cudaError_t qd_pair_bits(const zf_cu_qargs *a, zf_cu_qepi epi, dim3 grid, bool xvec, cudaStream_t s) {
    switch (a->w[0].bits) {
    case 2: return qd_pair_launch<2, NM>(a, epi, grid, xvec, s);
    case 3: return qd_pair_launch<3, NM>(a, epi, grid, xvec, s);
    case 4: return qd_pair_launch<4, NM>(a, epi, grid, xvec, s);
    case 5: return qd_pair_launch<5, NM>(a, epi, grid, xvec, s);
    case 6: return qd_pair_launch<6, NM>(a, epi, grid, xvec, s);
    case 8: return qd_pair_launch<8, NM>(a, epi, grid, xvec, s);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t zf_cu_qdecode_pairs(const zf_cu_qargs *a, zf_cu_qepi epi, cudaStream_t s) {
    const size_t xes = a->xt == ZF_DTYPE_F32 ? 4 : 2;
    const bool xvec = qd_aligned(a->x, 16) && (a->x_row_stride * (int64_t)xes) % 16 == 0;
    const int64_t np = a->m * a->slots;
    dim3 grid((unsigned)((a->w[0].n + QD_ROWS - 1) / QD_ROWS), (unsigned)(np < 65535 ? np : 65535));
    return a->nw == 2 ? qd_pair_bits<2>(a, epi, grid, xvec, s) : qd_pair_bits<1>(a, epi, grid, xvec, s);
}

/* ---- combine: CTA = 8 output rows x 8 slot lanes -------------------------------- */

/* Group (r, l) of the 32 computes rows r and r + 4 of the CTA for slots l,
 * l + 8, ... (two weight rows against one staged x row: the NW = 2 dot) and
 * the slot's product with its routing weight (staged with x), into shared
 * memory; then one thread per row sums them in slot order. */
#define QC_ROWS 8
#define QC_THREADS 256
/* row slots of the scale tile: 32 groups x 2 rows */
#define QC_RS 64
template <int BITS> struct qc_unroll {
    static constexpr int u = qd_unroll<BITS, 2>::u / 2;
};

/* At most 112 registers: with 3 CTAs of the one-token int8 swiglu on an SM
 * (48 each), one combine CTA still fits beside them, so in moe_experts it
 * starts its copies while the swiglu runs (measured: docs/CUDA.md, session
 * 10; 2 CTAs per SM as before otherwise). */
template <int BITS, int XT, int SDT>
__global__ void __maxnreg__(112) qd_combine_kernel(const zf_cu_qargs a, bool xvec) {
    constexpr int U = qc_unroll<BITS>::u;
    const zf_dtype xt = zf_cu_spec(XT, a.xt), sdt = zf_cu_spec(SDT, a.w[0].sdt);
    zf_cu_release_next(); /* the next kernel's wait still covers all of this grid */
    extern __shared__ float4 qd_sm[];
    const int k = (int)a.w[0].k, n = (int)a.w[0].n, slots = (int)a.slots;
    const qd_tiles T = qd_tiles_of<U>(k, a.w[0].group_size);
    uint32_t *wb = (uint32_t *)qd_sm;
    float *xs = (float *)((char *)qd_sm + qd_wbuf_bytes<BITS, 2, U, QC_THREADS>()), *Xs = xs + (size_t)slots * k;
    float2 *sbs = (float2 *)(Xs + (size_t)slots * (k / 4));
    float *dsm = (float *)(sbs + QC_RS * T.Gt), *wsm = dsm + (size_t)QC_ROWS * slots;
    const int g = threadIdx.x / 8, c = threadIdx.x % 8, rl = g / 8, sl = g % 8;
    const int rb = blockIdx.x * QC_ROWS, r0 = rb + rl, r1 = r0 + QC_ROWS / 2;
    const size_t es = xt == ZF_DTYPE_F32 ? 4 : 2, wes = a.wt == ZF_DTYPE_F32 ? 4 : 2;
    const int rs[2] = {2 * g, 2 * g + 1};
    /* moe_experts (a.chained): ids and the weights are final, so the first
     * token's first 8 slots load their scales and start their weight copies
     * before the wait; x (the swiglu's output) is staged after it. */
    qd_sbraw<2, U> R0;
    const bool pre = a.chained && blockIdx.y < a.m;
    if (pre) {
        const int64_t t = blockIdx.y;
        int64_t e = sl < slots ? a.ids[t * a.ids_stride + sl] : -1;
        e = e >= 0 && e < a.w[0].experts ? e : -1;
        const bool act = r0 < n && e >= 0;
        qd_row wr[2];
        wr[0] = act ? qd_row_of(a.w[0], e, r0) : qd_no_row();
        wr[1] = act ? qd_row_of(a.w[0], e, r1 < n ? r1 : r0) : qd_no_row();
        if (act) qd_sb_load<2, U>(wr, 0, T.groups < T.Gt ? T.groups : T.Gt, sdt == ZF_DTYPE_F32, c, R0);
        qd_issue<BITS, 2, U, QC_THREADS>(wr, c, act ? T.nb : 0, wb + 4 * threadIdx.x);
    }
    zf_cu_wait_prior();
    for (int64_t t = blockIdx.y; t < a.m; t += gridDim.y) {
        const char *x0 = (const char *)a.x + (size_t)(t * a.slots * a.x_row_stride) * es;
        const size_t xrs = (size_t)a.x_row_stride * es;
        const char *wt = (const char *)a.weights + (size_t)(t * a.weights_stride) * wes;
        auto expert = [&](int s) -> int64_t {
            if (s >= slots) return -1;
            const int64_t e = a.ids[t * a.ids_stride + s];
            return e >= 0 && e < a.w[0].experts ? e : -1;
        };
        bool staged = false;
        for (int s0 = 0; s0 < slots; s0 += 8) {
            const int s = s0 + sl;
            const int64_t e = expert(s);
            const bool act = r0 < n && e >= 0;
            qd_row wr[2]; /* a row past n reads row r0 again and is never stored */
            wr[0] = act ? qd_row_of(a.w[0], e, r0) : qd_no_row();
            wr[1] = act ? qd_row_of(a.w[0], e, r1 < n ? r1 : r0) : qd_no_row();
            auto stage = [&] {
                if (staged) return;
                qd_stage(xt, xvec, slots, k, [&](int i) { return (const void *)(x0 + i * xrs); }, xs, Xs);
                for (int i = threadIdx.x; i < slots; i += blockDim.x) wsm[i] = zf_cu_ld(a.wt, wt, i);
                staged = true;
            };
            const int sx = s < slots ? s : 0;
            float d[2];
            qd_dot<BITS, 2, U, QC_THREADS>(wr, rs, act, T, sdt, c, stage, xs + (size_t)sx * k,
                                           Xs + (size_t)sx * (k / 4), wb, sbs, d,
                                           pre && t == blockIdx.y && s0 == 0 ? &R0 : nullptr);
            if (c == 0 && s < slots) { /* p_s = T(T(d_s) * w_s) (exact) or d_s * w_s (fast) */
                const float wv = wsm[s];
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const float dv = e >= 0 ? d[h] : zf_cu_nan();
                    dsm[(rl + h * QC_ROWS / 2) * slots + s] =
                        a.exact ? zf_cu_rnd(xt, __fmul_rn(zf_cu_rnd(xt, dv), wv)) : __fmul_rn(dv, wv);
                }
            }
        }
        __syncthreads();
        if (threadIdx.x < QC_ROWS && rb + (int)threadIdx.x < n) {
            const int r = rb + threadIdx.x;
            const float *p = dsm + threadIdx.x * slots;
            float acc = p[0];
            for (int s = 1; s < slots; s++) acc = a.exact ? zf_cu_rnd(xt, __fadd_rn(acc, p[s])) : __fadd_rn(acc, p[s]);
            zf_cu_st(xt, (char *)a.out + (size_t)(t * a.out_row_stride) * es, r, acc);
        }
        __syncthreads(); /* xs and dsm are reused by the next token */
    }
}

/* staged x rows and lane sums, then the products and routing weights */
static size_t qc_smem(const zf_cu_qargs *a) {
    return (size_t)a->slots * (size_t)a->w[0].k * 5 + (size_t)(QC_ROWS + 1) * (size_t)a->slots * 4;
}

bool zf_cu_combine_decode_fits(const zf_cu_qargs *a) {
    return a->slots * a->w[0].k <= QD_MAX_STAGED && qc_smem(a) <= 48 * 1024 && a->w[0].n <= INT32_MAX &&
           qd_packed_ok(a);
}

/* weight buffer, x, the scale tile, products and routing weights */
template <int BITS>
static cudaError_t qc_launch(const zf_cu_qargs *a, dim3 grid, bool xvec, cudaStream_t s) {
    constexpr int U = qc_unroll<BITS>::u;
    const qd_tiles T = qd_tiles_of<U>((int)a->w[0].k, a->w[0].group_size);
    const size_t smem = qd_wbuf_bytes<BITS, 2, U, QC_THREADS>() + qc_smem(a) + (size_t)QC_RS * (size_t)T.Gt * 8;
    auto k = qd_combine_kernel<BITS, ZF_CU_ANY, ZF_CU_ANY>;
    if constexpr (BITS == 4) k = zf_cu_spec_kernel(a->xt, a->w[0].sdt, k, qd_combine_kernel<BITS, ZF_DTYPE_BF16, ZF_DTYPE_BF16>);
    return qd_launch(k, grid, dim3(QC_THREADS), smem, s, *a, xvec);
}

cudaError_t zf_cu_combine_decode(const zf_cu_qargs *a, cudaStream_t s) {
    const size_t es = a->xt == ZF_DTYPE_F32 ? 4 : 2;
    const bool xvec = qd_aligned(a->x, 16) && (a->x_row_stride * (int64_t)es) % 16 == 0;
    dim3 grid((unsigned)((a->w[0].n + QC_ROWS - 1) / QC_ROWS), (unsigned)(a->m < 65535 ? a->m : 65535));
    switch (a->w[0].bits) {
    case 2: return qc_launch<2>(a, grid, xvec, s);
    case 3: return qc_launch<3>(a, grid, xvec, s);
    case 4: return qc_launch<4>(a, grid, xvec, s);
    case 5: return qc_launch<5>(a, grid, xvec, s);
    case 6: return qc_launch<6>(a, grid, xvec, s);
    case 8: return qc_launch<8>(a, grid, xvec, s);
    default: return cudaErrorInvalidValue;
    }
}
