/* Few-token (decode) kernels for the gathered dots: the pair path of
 * gather_qmm / gather_qmm_swiglu and the one-launch gather_qmm_combine.
 *
 * Same canonical order as qdot.cuh (thread c of a group of 8 owns blocks
 * c, c+8, ...; per lane: x*q, three fmas, then s and b; lane tree; shfl_xor
 * 4, 2, 1), so the bits are those of the CPU. What differs is the cost
 * around it: the CTA stages its x row(s) once in shared memory as f32 with
 * the per-block lane sums X_l (swizzled so the 8 threads of a group hit
 * different banks), the inner loop uses 32-bit indices and no dtype branch
 * on x, all weight words of U blocks per row are loaded before the first
 * is used (the first U before x is staged), and CTAs are small and few
 * registers so the grid covers all SMs evenly in one wave. */
#include "cuda/check.cuh"
#include "cuda/kernels.cuh"
#include "cuda/qdot.cuh"
#include "cuda/zmath.cuh"

#define QD_THREADS 128
#define QD_ROWS (QD_THREADS / 8)
/* x (and X sums) staged per CTA must fit the default 48 KiB of shared memory */
#define QD_MAX_STAGED 8192

/* Blocks of one row whose loads are in flight together: a thread's whole
 * share of a 4-bit gate+up row of k = 2048 (8 blocks each), or of two
 * 4-bit rows of k <= 1024 (the combine), is loaded at once, so one wave of
 * CTAs has every weight byte of the call in flight after the first load. */
template <int BITS, int NW> struct qd_unroll {
    static constexpr int u = NW * BITS <= 8 ? 8 : NW * BITS <= 16 ? 4 : 2;
};

struct qd_row {
    const uint32_t *packed;
    const char *sc, *bi; /* the row's first group */
};

__device__ __forceinline__ float qd_scale(zf_dtype t, uint32_t raw) {
    if (t == ZF_DTYPE_F32) return __uint_as_float(raw);
    return zf_cu_from_bits((uint16_t)raw, t == ZF_DTYPE_BF16 ? 2 : 1);
}

/* Stages rows of k elements of x (row i at xrow(i)) as f32 into xs[i * k]
 * and their lane sums into Xs[i * k / 4]: float4 v of block j sits at slot
 * v ^ (j & 7), X half h at h ^ ((j >> 2) & 1). */
template <typename XR>
__device__ __forceinline__ void qd_stage(zf_dtype xt, bool xvec, int rows, int k, XR xrow, float *xs, float *Xs) {
    const int nb = k / 32;
    for (int t = threadIdx.x; t < rows * nb; t += blockDim.x) {
        const int i = t / nb, j = t % nb;
        float x[32];
        zf_cu_xblock(xt, xrow(i), j, xvec, x);
        float4 *d = (float4 *)(xs + (size_t)i * k + 32 * j);
#pragma unroll
        for (int v = 0; v < 8; v++) d[v ^ (j & 7)] = make_float4(x[4 * v], x[4 * v + 1], x[4 * v + 2], x[4 * v + 3]);
        float X[8];
#pragma unroll
        for (int l = 0; l < 8; l++) X[l] = __fadd_rn(__fadd_rn(__fadd_rn(x[l], x[8 + l]), x[16 + l]), x[24 + l]);
        float4 *D = (float4 *)(Xs + (size_t)i * (k / 4) + 8 * j);
        const int h = (j >> 2) & 1;
        D[h] = make_float4(X[0], X[1], X[2], X[3]);
        D[h ^ 1] = make_float4(X[4], X[5], X[6], X[7]);
    }
}

/* Weight words go straight to shared memory with cp.async (no registers
 * held while they are in flight): thread t's word w sits at 16-byte chunk
 * w / 4 of the thread-interleaved buffer, so each thread reads back its own
 * blocks with conflict-free 16-byte loads. Scales and biases come into
 * registers. */
template <int BITS, int NW, int U> struct qd_shape {
    static constexpr int words = U * NW * BITS;       /* per thread */
    static constexpr int chunks = (words + 3) / 4;
};

template <int BITS, int NW, int U>
__host__ __device__ constexpr size_t qd_wbuf_bytes(int threads) {
    return (size_t)qd_shape<BITS, NW, U>::chunks * 16 * threads;
}

__device__ __forceinline__ void qd_cp16(uint32_t *dst, const uint32_t *src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src)
                 : "memory");
}
__device__ __forceinline__ void qd_cp8(uint32_t *dst, const uint32_t *src) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src)
                 : "memory");
}
__device__ __forceinline__ void qd_cp4(uint32_t *dst, const uint32_t *src) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src)
                 : "memory");
}
__device__ __forceinline__ void qd_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
/* waits until at most n groups of this thread are pending (n folds to a
 * constant in the unrolled loops that call it) */
__device__ __forceinline__ void qd_wait(int n) {
    switch (n) {
    case 0: asm volatile("cp.async.wait_group 0;" ::: "memory"); break;
    case 1: asm volatile("cp.async.wait_group 1;" ::: "memory"); break;
    case 2: asm volatile("cp.async.wait_group 2;" ::: "memory"); break;
    case 3: asm volatile("cp.async.wait_group 3;" ::: "memory"); break;
    case 4: asm volatile("cp.async.wait_group 4;" ::: "memory"); break;
    case 5: asm volatile("cp.async.wait_group 5;" ::: "memory"); break;
    case 6: asm volatile("cp.async.wait_group 6;" ::: "memory"); break;
    default: asm volatile("cp.async.wait_group 7;" ::: "memory"); break;
    }
}

/* Word w of this thread in the buffer. */
__device__ __forceinline__ uint32_t *qd_word(uint32_t *wb, int w) {
    return wb + ((size_t)(w >> 2) * blockDim.x + threadIdx.x) * 4 + (w & 3);
}

/* Scales and biases of blocks j0, j0 + 8, ... (U of them) of NW rows. */
template <int NW, int U> struct qd_sb {
    uint32_t s[U][NW], b[U][NW];
};

/* Issues the copies of blocks j0, j0 + 8, ... (one commit group per block,
 * empty past nb) and the scale/bias loads. A block is BITS words: 16-byte
 * copies for 4 and 8 bits, 8-byte for 2 and 6, words otherwise (packed
 * rows are 16-byte aligned: qd_packed_ok). */
template <int BITS, int NW, int U>
__device__ __forceinline__ void qd_load(const qd_row *wr, int j0, int nb, int gshift, bool s32, uint32_t *wb,
                                        qd_sb<NW, U> &B) {
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
                    for (int v = 0; v < BITS / 4; v++) qd_cp16(qd_word(wb, w0 + 4 * v), p + 4 * v);
                } else if (BITS % 2 == 0 && w0 % 2 == 0) {
#pragma unroll
                    for (int v = 0; v < BITS / 2; v++) qd_cp8(qd_word(wb, w0 + 2 * v), p + 2 * v);
                } else {
#pragma unroll
                    for (int v = 0; v < BITS; v++) qd_cp4(qd_word(wb, w0 + v), p + v);
                }
                const int gi = j >> gshift;
                if (s32) {
                    B.s[u][m] = __ldg((const uint32_t *)wr[m].sc + gi);
                    B.b[u][m] = __ldg((const uint32_t *)wr[m].bi + gi);
                } else {
                    B.s[u][m] = __ldg((const unsigned short *)wr[m].sc + gi);
                    B.b[u][m] = __ldg((const unsigned short *)wr[m].bi + gi);
                }
            }
        }
        qd_commit();
    }
}

/* Dots of NW weight rows with one staged x row (xs, Xs), in the canonical
 * order; d[m] is the same in the 8 threads of the group. nb = 0 for an
 * inactive group (it loads nothing and returns zeros). `stage` runs once,
 * after the first copies are issued, and must end with a barrier. wb: the
 * CTA's weight buffer (qd_wbuf_bytes). */
template <int BITS, int NW, int U, typename ST>
__device__ __forceinline__ void qd_dot(const qd_row *wr, int nb, int gshift, zf_dtype sdt, int c,
                                       ST stage, const float *const *xsp, const float *const *Xsp, uint32_t *wb,
                                       float d[NW]) {
    const bool s32 = sdt == ZF_DTYPE_F32;
    float A[NW][8];
#pragma unroll
    for (int m = 0; m < NW; m++)
#pragma unroll
        for (int l = 0; l < 8; l++) A[m][l] = 0.0f;
    qd_sb<NW, U> sb;
    qd_load<BITS, NW, U>(wr, c, nb, gshift, s32, wb, sb);
    stage();
    const float *xs = *xsp, *Xs = *Xsp;
    for (int j0 = c; j0 < nb; j0 += 8 * U) {
        if (j0 != c) qd_load<BITS, NW, U>(wr, j0, nb, gshift, s32, wb, sb);
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = j0 + 8 * u;
            if (j >= nb) break;
            qd_wait(U - 1 - u); /* block u's copies have landed */
            float x[32], X[8];
            const float4 *xv = (const float4 *)(xs + 32 * j);
#pragma unroll
            for (int v = 0; v < 8; v++) {
                const float4 t = xv[v ^ c]; /* j & 7 == c */
                x[4 * v] = t.x; x[4 * v + 1] = t.y; x[4 * v + 2] = t.z; x[4 * v + 3] = t.w;
            }
            const float4 *Xv = (const float4 *)(Xs + 8 * j);
            const int h = (j >> 2) & 1;
            const float4 X0 = Xv[h], X1 = Xv[h ^ 1];
            X[0] = X0.x; X[1] = X0.y; X[2] = X0.z; X[3] = X0.w;
            X[4] = X1.x; X[5] = X1.y; X[6] = X1.z; X[7] = X1.w;
#pragma unroll
            for (int m = 0; m < NW; m++) {
                uint32_t q[BITS];
                const int w0 = (u * NW + m) * BITS;
                if (BITS % 4 == 0) {
#pragma unroll
                    for (int v = 0; v < BITS / 4; v++) {
                        const uint4 t = *(const uint4 *)qd_word(wb, w0 + 4 * v);
                        q[4 * v] = t.x; q[4 * v + 1] = t.y; q[4 * v + 2] = t.z; q[4 * v + 3] = t.w;
                    }
                } else {
#pragma unroll
                    for (int v = 0; v < BITS; v++) q[v] = *qd_word(wb, w0 + v);
                }
                const float s = qd_scale(sdt, sb.s[u][m]), b = qd_scale(sdt, sb.b[u][m]);
#pragma unroll
                for (int l = 0; l < 8; l++) {
                    float dl = __fmul_rn(x[l], zf_cu_qval<BITS>(q, l));
                    dl = __fmaf_rn(x[8 + l], zf_cu_qval<BITS>(q, 8 + l), dl);
                    dl = __fmaf_rn(x[16 + l], zf_cu_qval<BITS>(q, 16 + l), dl);
                    dl = __fmaf_rn(x[24 + l], zf_cu_qval<BITS>(q, 24 + l), dl);
                    A[m][l] = __fmaf_rn(s, dl, A[m][l]);
                    A[m][l] = __fmaf_rn(b, X[l], A[m][l]);
                }
            }
        }
    }
#pragma unroll
    for (int m = 0; m < NW; m++) {
        const float *a = A[m];
        float r = __fadd_rn(__fadd_rn(__fadd_rn(a[0], a[4]), __fadd_rn(a[2], a[6])),
                            __fadd_rn(__fadd_rn(a[1], a[5]), __fadd_rn(a[3], a[7])));
        r = __fadd_rn(r, __shfl_xor_sync(0xffffffffu, r, 4));
        r = __fadd_rn(r, __shfl_xor_sync(0xffffffffu, r, 2));
        r = __fadd_rn(r, __shfl_xor_sync(0xffffffffu, r, 1));
        d[m] = r;
    }
}

__device__ __forceinline__ qd_row qd_row_of(const zf_cu_qw &w, int64_t e, int64_t r) {
    const zf_cu_wrow o = zf_cu_wrow_of(w, e, r);
    return qd_row{o.packed, (const char *)o.scales, (const char *)o.biases};
}

__device__ __forceinline__ int qd_log2(int v) { return v == 1 ? 0 : v == 2 ? 1 : v == 4 ? 2 : 3; }

/* Launch with more than the default 48 KiB of shared memory when needed. */
template <typename... P, typename... A>
static cudaError_t qd_launch(void (*k)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t s, A... args) {
    if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return e;
    }
    return zf_cu_launch(k, grid, block, smem, s, args...);
}

/* ---- pairs: CTA = 16 weight rows of one (token, slot) pair -------------------- */

template <int BITS, int NW>
__global__ void __launch_bounds__(QD_THREADS, 3) qd_pair_kernel(const zf_cu_qargs a, zf_cu_qepi epi, bool xvec) {
    constexpr int U = qd_unroll<BITS, NW>::u;
    extern __shared__ float4 qd_sm[];
    uint32_t *wb = (uint32_t *)qd_sm;
    float *xs = (float *)((char *)qd_sm + qd_wbuf_bytes<BITS, NW, U>(QD_THREADS));
    const int k = (int)a.w[0].k, nb = k / 32, n = (int)a.w[0].n;
    float *Xs = xs + k;
    const int g = threadIdx.x / 8, c = threadIdx.x % 8, row = blockIdx.x * QD_ROWS + g;
    const int gshift = qd_log2(a.w[0].group_size / 32);
    const size_t xes = a.xt == ZF_DTYPE_F32 ? 4 : 2;
    const int64_t np = a.m * a.slots;
    zf_cu_wait_prior();
    for (int64_t p = blockIdx.y; p < np; p += gridDim.y) {
        int64_t e = a.ids ? a.ids[(p / a.slots) * a.ids_stride + p % a.slots] : 0; /* qmm: expert 0 */
        e = e >= 0 && e < a.w[0].experts ? e : -1;
        const bool active = row < n && e >= 0;
        qd_row wr[NW];
#pragma unroll
        for (int m = 0; m < NW; m++) wr[m] = qd_row_of(a.w[m], active ? e : 0, active ? row : 0);
        const char *xrow = (const char *)a.x + (size_t)((a.x_per_slot ? p : p / a.slots) * a.x_row_stride) * xes;
        auto stage = [&] {
            qd_stage(a.xt, xvec, 1, k, [&](int) { return (const void *)xrow; }, xs, Xs);
            __syncthreads();
        };
        const float *xsp = xs, *Xsp = Xs;
        float d[NW];
        qd_dot<BITS, NW, U>(wr, active ? nb : 0, gshift, a.w[0].sdt, c, stage, &xsp, &Xsp, wb, d);
        if (row < n && c == 0) {
            const float d0 = e >= 0 ? d[0] : zf_cu_nan();
            if (epi == ZF_QEPI_DOTS) {
                ((float *)a.out)[p * n + row] = d0;
            } else {
                char *o = (char *)a.out + (size_t)(p * a.out_row_stride) * xes;
                if (epi == ZF_QEPI_STORE) {
                    zf_cu_st(a.xt, o, row, d0);
                } else {
                    const float d1 = e >= 0 ? d[NW - 1] : zf_cu_nan();
                    float v;
                    if (a.exact) /* g, u materialised in T, then swiglu exact */
                        v = __fmul_rn(zf_cu_rnd(a.xt, zf_cu_silu(zf_cu_rnd(a.xt, d0))), zf_cu_rnd(a.xt, d1));
                    else
                        v = __fmul_rn(zf_cu_silu(d0), d1);
                    zf_cu_st(a.xt, o, row, v);
                }
            }
        }
        __syncthreads(); /* xs is restaged for the next pair */
    }
    zf_cu_release_next();
}

static bool qd_aligned(const void *p, size_t b) { return ((uintptr_t)p % b) == 0; }

/* the copies of qd_load read whole 16-byte chunks of a packed row */
static bool qd_packed_ok(const zf_cu_qargs *a) {
    return qd_aligned(a->w[0].packed, 16) && (a->nw < 2 || qd_aligned(a->w[1].packed, 16));
}

bool zf_cu_qdecode_fits(const zf_cu_qargs *a) {
    return a->w[0].k <= QD_MAX_STAGED && a->w[0].n <= INT32_MAX && qd_packed_ok(a);
}

/* x staged as f32 plus one X float per 4 elements, after the weight buffer */
template <int BITS, int NW>
static cudaError_t qd_pair_launch(const zf_cu_qargs *a, zf_cu_qepi epi, dim3 grid, bool xvec, cudaStream_t s) {
    const size_t smem = qd_wbuf_bytes<BITS, NW, qd_unroll<BITS, NW>::u>(QD_THREADS) + (size_t)a->w[0].k * 5;
    return qd_launch(qd_pair_kernel<BITS, NW>, grid, dim3(QD_THREADS), smem, s, *a, epi, xvec);
}

template <int NW>
static cudaError_t qd_pair_bits(const zf_cu_qargs *a, zf_cu_qepi epi, dim3 grid, bool xvec, cudaStream_t s) {
    switch (a->w[0].bits) {
    case 2: return qd_pair_launch<2, NW>(a, epi, grid, xvec, s);
    case 3: return qd_pair_launch<3, NW>(a, epi, grid, xvec, s);
    case 4: return qd_pair_launch<4, NW>(a, epi, grid, xvec, s);
    case 5: return qd_pair_launch<5, NW>(a, epi, grid, xvec, s);
    case 6: return qd_pair_launch<6, NW>(a, epi, grid, xvec, s);
    case 8: return qd_pair_launch<8, NW>(a, epi, grid, xvec, s);
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
template <int BITS> struct qc_unroll {
    static constexpr int u = qd_unroll<BITS, 2>::u / 2;
};

template <int BITS>
__global__ void __launch_bounds__(QC_THREADS, 2) qd_combine_kernel(const zf_cu_qargs a, bool xvec) {
    constexpr int U = qc_unroll<BITS>::u;
    extern __shared__ float4 qd_sm[];
    const int k = (int)a.w[0].k, nb = k / 32, n = (int)a.w[0].n, slots = (int)a.slots;
    uint32_t *wb = (uint32_t *)qd_sm;
    float *xs = (float *)((char *)qd_sm + qd_wbuf_bytes<BITS, 2, U>(QC_THREADS)), *Xs = xs + (size_t)slots * k, *dsm = Xs + (size_t)slots * (k / 4);
    float *wsm = dsm + (size_t)QC_ROWS * slots;
    const int g = threadIdx.x / 8, c = threadIdx.x % 8, rl = g / 8, sl = g % 8;
    const int r0 = blockIdx.x * QC_ROWS + rl, r1 = r0 + QC_ROWS / 2;
    const int gshift = qd_log2(a.w[0].group_size / 32);
    const size_t es = a.xt == ZF_DTYPE_F32 ? 4 : 2, wes = a.wt == ZF_DTYPE_F32 ? 4 : 2;
    zf_cu_wait_prior();
    for (int64_t t = blockIdx.y; t < a.m; t += gridDim.y) {
        const char *x0 = (const char *)a.x + (size_t)(t * a.slots * a.x_row_stride) * es;
        const size_t xrs = (size_t)a.x_row_stride * es;
        const char *wt = (const char *)a.weights + (size_t)(t * a.weights_stride) * wes;
        bool staged = false;
        for (int s0 = 0; s0 < slots; s0 += 8) {
            const int s = s0 + sl;
            int64_t e = -1;
            if (s < slots) {
                e = a.ids[t * a.ids_stride + s];
                e = e >= 0 && e < a.w[0].experts ? e : -1;
            }
            qd_row wr[2];
            wr[0] = qd_row_of(a.w[0], r0 < n && e >= 0 ? e : 0, r0 < n && e >= 0 ? r0 : 0);
            wr[1] = qd_row_of(a.w[0], r1 < n && e >= 0 ? e : 0, r1 < n && e >= 0 ? r1 : 0);
            /* rows past n load row 0 (valid memory) and are never stored */
            auto stage = [&] {
                if (staged) return;
                qd_stage(a.xt, xvec, slots, k, [&](int i) { return (const void *)(x0 + i * xrs); }, xs, Xs);
                for (int i = threadIdx.x; i < slots; i += blockDim.x) wsm[i] = zf_cu_ld(a.wt, wt, i);
                __syncthreads();
                staged = true;
            };
            const float *xsp = xs + (size_t)(s < slots ? s : 0) * k, *Xsp = Xs + (size_t)(s < slots ? s : 0) * (k / 4);
            float d[2];
            qd_dot<BITS, 2, U>(wr, r0 < n && e >= 0 ? nb : 0, gshift, a.w[0].sdt, c, stage, &xsp, &Xsp, wb, d);
            if (c == 0 && s < slots) { /* p_s = T(T(d_s) * w_s) (exact) or d_s * w_s (fast) */
                const float wv = wsm[s];
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const float dv = e >= 0 ? d[h] : zf_cu_nan();
                    dsm[(rl + h * QC_ROWS / 2) * slots + s] =
                        a.exact ? zf_cu_rnd(a.xt, __fmul_rn(zf_cu_rnd(a.xt, dv), wv)) : __fmul_rn(dv, wv);
                }
            }
        }
        __syncthreads();
        if (threadIdx.x < QC_ROWS && (int)(blockIdx.x * QC_ROWS + threadIdx.x) < n) {
            const int r = blockIdx.x * QC_ROWS + threadIdx.x;
            const float *p = dsm + threadIdx.x * slots;
            float acc = p[0];
            for (int s = 1; s < slots; s++) acc = a.exact ? zf_cu_rnd(a.xt, __fadd_rn(acc, p[s])) : __fadd_rn(acc, p[s]);
            zf_cu_st(a.xt, (char *)a.out + (size_t)(t * a.out_row_stride) * es, r, acc);
        }
        __syncthreads(); /* xs and dsm are reused by the next token */
    }
    zf_cu_release_next();
}

/* staged x rows and lane sums, then the products and routing weights */
static size_t qc_smem(const zf_cu_qargs *a) {
    return (size_t)a->slots * (size_t)a->w[0].k * 5 + (size_t)(QC_ROWS + 1) * (size_t)a->slots * 4;
}

bool zf_cu_combine_decode_fits(const zf_cu_qargs *a) {
    return a->slots * a->w[0].k <= QD_MAX_STAGED && qc_smem(a) <= 48 * 1024 && a->w[0].n <= INT32_MAX &&
           qd_packed_ok(a);
}

template <int BITS>
static cudaError_t qc_launch(const zf_cu_qargs *a, dim3 grid, bool xvec, cudaStream_t s) {
    const size_t smem = qd_wbuf_bytes<BITS, 2, qc_unroll<BITS>::u>(QC_THREADS) + qc_smem(a);
    return qd_launch(qd_combine_kernel<BITS>, grid, dim3(QC_THREADS), smem, s, *a, xvec);
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
