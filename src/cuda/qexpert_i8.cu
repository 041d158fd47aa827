/* Edge-tier many-token kernels (fidelity approx, docs/NUMERICS.md §8.7) for
 * gather_qmm_swiglu and gather_qmm_combine on 4-bit weights: the integer
 * block dots S_j run on the tensor cores (mma.m16n8k32 s8), everything
 * else is the int8 decode kernels' arithmetic.
 *
 * Pairs are grouped by expert (qmm.cu's group_kernel); every x row is
 * quantized once into global scratch by the CPU's rule (cuda/qi8.cuh: the
 * same codes, a and X bit for bit). Then a CTA owns (expert e, 128 weight
 * rows: 64 of gate and 64 of up, or 128 of one matrix) and walks e's pairs
 * in chunks of up to 8 tokens (one mma n-tile: a chunk of 16 measured
 * slower, its registers spilled); for each chunk it streams its rows' 4-bit
 * codes, the chunk's x codes and (a, X) through a cp.async pipeline of 8
 * blocks (256 elements of k) per stage, 2 stages ahead (3 for the combine,
 * where shared memory allows: k = 768 is then requested at once). The rows'
 * scales and biases come by cp.async with the expert's first stage.
 *
 * Each of the 8 warps owns 16 rows of each matrix: with two matrices, warp
 * w takes rows 16 (w % 4) .. + 15 and half of every stage's blocks (w / 4);
 * with one, rows 16 w .. + 15 and all blocks. A block of 16 rows x 32 k
 * is one mma A operand: thread (g, t) = (lane / 4, lane % 4) holds packed
 * word t of rows g and g + 8 (ldmatrix), whose low nibbles are elements
 * 8t, 8t+2, 8t+4, 8t+6 and high nibbles 8t+1, ...; the staged x words 2t
 * and 2t+1 hold the codes of exactly those elements (qi8.cuh), so they are
 * the B operand as they lie. The mma's int32 S for (row, token) is exact;
 * then, per block, acc += (S a) s + b X in f32 as in the decode kernels
 * (with two matrices, the two halves of k are added at the end). Only the
 * f32 order differs from the CPU's int8 variant (the tests' approx rule,
 * core/approx_close.h). */
#include "cuda/check.cuh"
#include "cuda/cp_async.cuh"
#include "cuda/kernels.cuh"
#include "cuda/qdot.cuh"
#include "cuda/qi8.cuh"
#include "cuda/zmath.cuh"

#define QXI_THREADS 256
#define QXI_NT 8      /* tokens per chunk: one mma n-tile */
#define QXI_KB 8      /* blocks of 32 per pipeline stage */
#define QXI_WROW (QXI_KB * 16 + 16) /* bytes per staged weight row; the padding keeps ldmatrix conflict-free */
#define QXI_XROW (QXI_KB * 32 + 32) /* bytes per staged x row; the padding keeps the B loads conflict-free */
#define QXI_SMEM_MAX (112 * 1024)    /* two CTAs per SM */

/* The 8 warps of a CTA: 16 rows each of every matrix; with two matrices
 * (swiglu) they split each stage's blocks in two halves (KS = 2, 64 rows
 * per CTA), with one (combine) each warp takes all blocks (128 rows). */
template <int NW> struct qxi_cfg {
    static constexpr int KS = NW == 2 ? 2 : 1, ROWS = 16 * 8 / KS;
};
static int qxi_rows(int nw) { return nw == 2 ? qxi_cfg<2>::ROWS : qxi_cfg<1>::ROWS; }

/* The CTA's shared memory: ST pipeline stages (ST - 1 in flight) of NW x [row][QXI_WROW]
 * weight codes, [token][QXI_XROW] x code words and [block][token / 2] (a, X)
 * of tokens 2i, 2i + 1 (float4); then sb, [matrix][row][Gp] (scale, bias).
 * Offsets from one base, so the pointers cost no registers. */
template <int NW, int ST> struct qxi_smem_t {
    char *base;
    static constexpr int W_BYTES = qxi_cfg<NW>::ROWS * QXI_WROW, STAGE = NW * W_BYTES + QXI_NT * QXI_XROW + QXI_KB * QXI_NT * 8;
    __device__ char *W(int b, int m) const { return base + b * STAGE + m * W_BYTES; }
    __device__ char *X(int b) const { return base + b * STAGE + NW * W_BYTES; }
    __device__ float4 *AX(int b) const { return (float4 *)(X(b) + QXI_NT * QXI_XROW); }
    __device__ float2 *sb() const { return (float2 *)(base + ST * STAGE); }
};

/* Shared memory of the whole CTA (sb: f32 (scale, bias) of the CTA's rows,
 * G | 1 per row so 8 rows fall in 8 bank pairs). */
static size_t qxi_smem(const zf_cu_qargs *a, int st) {
    const int64_t G = a->w[0].k / a->w[0].group_size;
    const size_t stage = a->nw == 2 ? qxi_smem_t<2, 3>::STAGE : qxi_smem_t<1, 3>::STAGE;
    return st * stage + (size_t)(a->nw * qxi_rows(a->nw) * (G | 1)) * 8;
}

bool zf_cu_qxi8_fits(const zf_cu_qargs *a) {
    if (!a->ids || !zf_cu_qgrouped(a) || a->w[0].n > INT32_MAX || a->w[0].k % (32 * QXI_KB) != 0) return false;
    for (int m = 0; m < a->nw; m++)
        if (a->w[m].bits != 4 || a->w[m].group_size != a->w[0].group_size || a->w[m].sdt != a->w[0].sdt ||
            (uintptr_t)a->w[m].packed % 16 != 0)
            return false;
    return qxi_smem(a, 3) <= QXI_SMEM_MAX;
}

/* ---- quantization: every x row once, into scratch ------------------------------ */

/* R rows per CTA (as many as one round of 256 units covers, so the
 * rows spread over many SMs): q words [row][nb][8], ax [row][nb] = (a, X) */
__global__ void __launch_bounds__(QI8_THREADS) qxi_quant_kernel(const zf_cu_qargs a, int64_t rows, int R, uint32_t *q,
                                                                float2 *ax) {
    const int k = (int)a.w[0].k, nb = k / 32;
    const int64_t r0 = (int64_t)blockIdx.x * R;
    const int rh = rows - r0 < R ? (int)(rows - r0) : R;
    const size_t es = a.xt == ZF_DTYPE_F32 ? 4 : 2;
    zf_cu_wait_prior();
    zf_cu_release_next();
    float *A = (float *)(ax + r0 * nb);
    qi8_stage<4, 2>(
        a.xt, rh, k, [&](int i) { return (const void *)((const char *)a.x + (size_t)((r0 + i) * a.x_row_stride) * es); },
        q + r0 * nb * 8, A, A + 1);
}

/* ---- the tensor-core kernel ------------------------------------------------------ */

__device__ __forceinline__ void qxi_ldmatrix4(const void *p, uint32_t &d0, uint32_t &d1, uint32_t &d2, uint32_t &d3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(d0), "=r"(d1), "=r"(d2), "=r"(d3)
                 : "r"((unsigned)__cvta_generic_to_shared(p)));
}

/* S = A (16 x 32 s8) B (32 x 8 s8), int32 */
__device__ __forceinline__ void qxi_mma(const uint32_t a[4], uint2 b, int S[4]) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%10, %10, %10, %10};"
                 : "=r"(S[0]), "=r"(S[1]), "=r"(S[2]), "=r"(S[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b.x), "r"(b.y), "r"(0));
}


/* Where a thread's copies come from, fixed for a chunk: its weight rows'
 * first block (wsrc[i], NULL past n) and its x row pieces (xsrc: token
 * tid / 16, piece tid % 16; axs: token tid / 8, block tid % 8; NULL past
 * the chunk's tokens). A stage adds s * 8 blocks to each. */
template <int NW> struct qxi_src {
    static constexpr int W_ITEMS = NW * qxi_cfg<NW>::ROWS * QXI_KB / QXI_THREADS;
    const uint4 *wsrc[W_ITEMS];
    const uint4 *xsrc;
    const float2 *axs;
};

template <int NW>
__device__ __forceinline__ qxi_src<NW> qxi_src_of(const zf_cu_qargs &a, int64_t e, int rb, const int32_t *xrows, int nt,
                                                  const uint32_t *xq, const float2 *ax) {
    constexpr int ROWS = qxi_cfg<NW>::ROWS;
    const int n = (int)a.w[0].n, nb = (int)(a.w[0].k / 32), tid = threadIdx.x;
    qxi_src<NW> q;
#pragma unroll
    for (int i = 0; i < q.W_ITEMS; i++) {
        const int it = tid + i * QXI_THREADS, m = it / (ROWS * QXI_KB), r = (it / QXI_KB) % ROWS;
        q.wsrc[i] = rb + r < n ? (const uint4 *)a.w[m].packed + (e * n + rb + r) * nb + it % QXI_KB : nullptr;
    }
    q.xsrc = tid / 16 < nt ? (const uint4 *)(xq + (int64_t)xrows[tid / 16] * nb * 8) + tid % 16 : nullptr;
    q.axs = tid < QXI_NT * QXI_KB && tid / QXI_KB < nt ? ax + (int64_t)xrows[tid / QXI_KB] * nb + tid % QXI_KB : nullptr;
    return q;
}

/* Issues the copies of stage s (blocks 8s .. 8s + 7) into buffer b. */
template <int NW, int ST>
__device__ __forceinline__ void qxi_issue(const qxi_smem_t<NW, ST> &sm, const qxi_src<NW> &q, int b, int s) {
    constexpr int ROWS = qxi_cfg<NW>::ROWS;
    const int tid = threadIdx.x;
#pragma unroll
    for (int i = 0; i < q.W_ITEMS; i++) {
        const int it = tid + i * QXI_THREADS, m = it / (ROWS * QXI_KB), r = (it / QXI_KB) % ROWS;
        if (q.wsrc[i]) zf_cu_cp16(sm.W(b, m) + r * QXI_WROW + (it % QXI_KB) * 16, q.wsrc[i] + s * QXI_KB);
    }
    if (q.xsrc) zf_cu_cp16(sm.X(b) + (tid / 16) * QXI_XROW + (tid % 16) * 16, q.xsrc + s * (QXI_KB * 2));
    if (q.axs) zf_cu_cp8((float2 *)sm.AX(b) + (tid % QXI_KB) * QXI_NT + tid / QXI_KB, q.axs + s * QXI_KB);
    zf_cu_cp_commit();
}

/* The (scale, bias) rows of a CTA's rows, raw, by cp.async into the last
 * stage buffer (free until its stage is issued) in `unit`-byte copies: per
 * (matrix, row) its G scales, then its G biases. Issued before the first
 * chunk's stages, they arrive with stage 0 instead of holding every thread
 * on global loads before any weight copy starts (ncu, 64 tokens: a third
 * of the swiglu kernel's stall samples sat there). */
template <int NW, int ST>
__device__ __forceinline__ void qxi_sb_copy(const zf_cu_qargs &a, const qxi_smem_t<NW, ST> &sm, int64_t e, int rb,
                                            int unit) {
    constexpr int ROWS = qxi_cfg<NW>::ROWS;
    const int n = (int)a.w[0].n, G = (int)(a.w[0].k / a.w[0].group_size);
    const int rowb = G * (a.w[0].sdt == ZF_DTYPE_F32 ? 4 : 2), per = rowb / unit;
    char *raw = sm.W(ST - 1, 0);
    for (int it = threadIdx.x; it < NW * ROWS * 2 * per; it += QXI_THREADS) {
        const int c = it % per, half = (it / per) % 2, mr = it / (2 * per), m = mr / ROWS, r = mr % ROWS;
        if (rb + r >= n) continue;
        const char *src = (const char *)(half ? a.w[m].biases : a.w[m].scales) + (size_t)(e * n + rb + r) * rowb;
        zf_cu_cp(raw + (mr * 2 + half) * rowb + c * unit, src + c * unit, unit);
    }
    zf_cu_cp_commit();
}

/* The raw rows of qxi_sb_copy as f32 (scale, bias) pairs in sb (rows past
 * n: zeros). */
template <int NW, int ST, int SDT>
__device__ __forceinline__ void qxi_sb_convert(const zf_cu_qargs &a, const qxi_smem_t<NW, ST> &sm, int rb, int Gp) {
    constexpr int ROWS = qxi_cfg<NW>::ROWS;
    const int n = (int)a.w[0].n, G = (int)(a.w[0].k / a.w[0].group_size);
    const char *raw = sm.W(ST - 1, 0);
    const int rowb = G * (int)sizeof(typename zf_cu_elem<SDT>::type);
    for (int it = threadIdx.x; it < NW * ROWS * G; it += QXI_THREADS) {
        const int mr = it / G, gi = it % G;
        float2 v = make_float2(0.0f, 0.0f);
        if (rb + mr % ROWS < n)
            v = make_float2(zf_cu_load<SDT>(raw + mr * 2 * rowb, gi), zf_cu_load<SDT>(raw + (mr * 2 + 1) * rowb, gi));
        sm.sb()[mr * Gp + gi] = v;
    }
}

/* One chunk of nt <= 8 tokens (one mma n-tile): the pipeline over k, then
 * (KS = 2) the two halves of k added; acc ends in the warps of the first
 * half. acc[m][c]: matrix m, rows g (c < 2) and g + 8, tokens 2t + (c & 1). */
template <int NW, int ST, int SDT>
__device__ __forceinline__ void qxi_chunk(const zf_cu_qargs &a, const qxi_smem_t<NW, ST> &sm, int64_t e, int rb,
                                          const int32_t *xrows, int nt, const uint32_t *xq, const float2 *ax, int Gp,
                                          int bsh, bool sb_raw, float acc[NW][4]) {
    const int nb = (int)(a.w[0].k / 32), nst = nb / QXI_KB;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    constexpr int KS = qxi_cfg<NW>::KS, ROWS = qxi_cfg<NW>::ROWS, BPW = QXI_KB / KS; /* blocks per warp and stage */
    const int rg = warp % (8 / KS), kh = warp / (8 / KS);
    const uint32_t M = 0x0f0f0f0fu;
#pragma unroll
    for (int m = 0; m < NW; m++)
#pragma unroll
        for (int c = 0; c < 4; c++) acc[m][c] = 0.0f;
    const qxi_src<NW> q = qxi_src_of<NW>(a, e, rb, xrows, nt, xq, ax);
#pragma unroll
    for (int s = 0; s < ST - 1; s++) { /* one commit group per stage, empty past the last */
        if (s < nst) qxi_issue<NW>(sm, q, s, s);
        else zf_cu_cp_commit();
    }
    /* ldmatrix rows: lane l gives row (l & 7) + 8 ((l >> 3) & 1) of block (l >> 4) */
    const int lrow = rg * 16 + (lane & 7) + 8 * ((lane >> 3) & 1), lblk = lane >> 4;
    const float2 *sbr[NW][2];
#pragma unroll
    for (int m = 0; m < NW; m++)
#pragma unroll
        for (int h = 0; h < 2; h++) sbr[m][h] = sm.sb() + (m * ROWS + rg * 16 + g + 8 * h) * Gp;
    for (int s = 0; s < nst; s++) {
        zf_cu_cp_wait(ST - 2); /* stage s is in */
        __syncthreads();
        if (s == 0 && sb_raw) { /* the expert's raw scales and biases are in (qxi_sb_copy) */
            qxi_sb_convert<NW, ST, SDT>(a, sm, rb, Gp);
            __syncthreads(); /* sb is complete, and the last buffer free for its stage */
        }
        if (s + ST - 1 < nst) qxi_issue<NW>(sm, q, (s + ST - 1) % ST, s + ST - 1);
        else zf_cu_cp_commit();
        const int b = s % ST;
#pragma unroll
        for (int jj = 0; jj < BPW / 2; jj++) { /* blocks j, j + 1 of this warp's part */
            const int j0 = kh * BPW + 2 * jj;
            uint32_t d[NW][4];
#pragma unroll
            for (int m = 0; m < NW; m++)
                qxi_ldmatrix4(sm.W(b, m) + lrow * QXI_WROW + (j0 + lblk) * 16, d[m][0], d[m][1], d[m][2], d[m][3]);
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int j = j0 + h, gi = (s * QXI_KB + j) >> bsh;
                const uint2 xb = *(const uint2 *)(sm.X(b) + g * QXI_XROW + j * 32 + 8 * t);
                const float4 axv = sm.AX(b)[j * (QXI_NT / 2) + t]; /* (a, X) of tokens 2t, 2t + 1 */
#pragma unroll
                for (int m = 0; m < NW; m++) {
                    const uint32_t lo = d[m][2 * h], hi = d[m][2 * h + 1]; /* rows g, g + 8 */
                    const uint32_t A[4] = {lo & M, hi & M, (lo >> 4) & M, (hi >> 4) & M};
                    const float2 sb0 = sbr[m][0][gi], sb1 = sbr[m][1][gi];
                    int S[4];
                    qxi_mma(A, xb, S);
                    /* S[0]: row g, token 2t; S[1]: row g, 2t + 1; S[2], S[3]: row g + 8 */
                    acc[m][0] = __fmaf_rn(sb0.y, axv.y, __fmaf_rn(__fmul_rn(__int2float_rn(S[0]), axv.x), sb0.x, acc[m][0]));
                    acc[m][1] = __fmaf_rn(sb0.y, axv.w, __fmaf_rn(__fmul_rn(__int2float_rn(S[1]), axv.z), sb0.x, acc[m][1]));
                    acc[m][2] = __fmaf_rn(sb1.y, axv.y, __fmaf_rn(__fmul_rn(__int2float_rn(S[2]), axv.x), sb1.x, acc[m][2]));
                    acc[m][3] = __fmaf_rn(sb1.y, axv.w, __fmaf_rn(__fmul_rn(__int2float_rn(S[3]), axv.z), sb1.x, acc[m][3]));
                }
            }
        }
    }
    zf_cu_cp_wait(0);
    if (KS == 1) return;
    __syncthreads(); /* every stage consumed: the first buffer takes the second half's sums */
    float *red = (float *)sm.W(0, 0) + (rg * 32 + lane) * (NW * 4);
    if (kh == 1)
#pragma unroll
        for (int m = 0; m < NW; m++)
#pragma unroll
            for (int c = 0; c < 4; c++) red[m * 4 + c] = acc[m][c];
    __syncthreads();
    if (kh == 0)
#pragma unroll
        for (int m = 0; m < NW; m++)
#pragma unroll
            for (int c = 0; c < 4; c++) acc[m][c] = __fadd_rn(acc[m][c], red[m * 4 + c]);
}

template <int NW, int ST, int SDT>
__global__ void __launch_bounds__(QXI_THREADS, 2)
    qxi_kernel(const zf_cu_qargs a, zf_cu_qepi epi, const int32_t *sorted, const int32_t *ends, const uint32_t *xq,
               const float2 *ax, int sb_unit) {
    extern __shared__ __align__(16) char qxi_sm[];
    __shared__ int32_t pairs[QXI_NT], xrows[QXI_NT];
    const int n = (int)a.w[0].n, G = (int)(a.w[0].k / a.w[0].group_size), Gp = G | 1;
    const int bsh = a.w[0].group_size == 32 ? 0 : a.w[0].group_size == 64 ? 1 : 2; /* block -> group */
    constexpr int KS = qxi_cfg<NW>::KS, ROWS = qxi_cfg<NW>::ROWS;
    const int rb = blockIdx.x * ROWS, tid = threadIdx.x;
    const int warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4, rg = warp % (8 / KS);
    const int64_t E = a.w[0].experts;
    const qxi_smem_t<NW, ST> sm = {qxi_sm};
    zf_cu_wait_prior();
    for (int64_t e = blockIdx.y; e <= E; e += gridDim.y) {
        const int first = e ? ends[e - 1] : 0, last = ends[e];
        if (first == last) continue;
        if (e == E) { /* ids out of range: NaN, no weight read */
            for (int it = tid; it < (last - first) * ROWS; it += QXI_THREADS) {
                const int r = rb + it % ROWS;
                if (r < n) zf_cu_qstore<true>(a, epi, sorted[first + it / ROWS], r, zf_cu_nan(), zf_cu_nan());
            }
            continue;
        }
        __syncthreads(); /* the previous expert's scales are consumed */
        if (sb_unit) qxi_sb_copy<NW, ST>(a, sm, e, rb, sb_unit); /* converted in the first chunk */
        /* else the (scale, bias) pairs of the CTA's rows as f32, one per thread and pass (8 in flight per thread
         * measured slower: swiglu 138 -> 150 us at 64 tokens, H100) */
        for (int it = tid; !sb_unit && it < NW * ROWS * G; it += QXI_THREADS) {
            const int m = it / (ROWS * G), r = (it / G) % ROWS, gi = it % G;
            float2 v = make_float2(0.0f, 0.0f);
            if (rb + r < n) {
                const int64_t o = (e * n + rb + r) * G + gi;
                v = make_float2(zf_cu_load<SDT>(a.w[m].scales, o), zf_cu_load<SDT>(a.w[m].biases, o));
            }
            sm.sb()[(m * ROWS + r) * Gp + gi] = v;
        }
        for (int t0 = first; t0 < last; t0 += QXI_NT) {
            const int nt = last - t0 < QXI_NT ? last - t0 : QXI_NT;
            __syncthreads(); /* the previous chunk's pairs and buffers are consumed */
            if (tid < nt) {
                const int32_t pr = sorted[t0 + tid];
                pairs[tid] = pr;
                xrows[tid] = a.x_per_slot ? pr : (int32_t)(pr / a.slots);
            }
            __syncthreads();
            float acc[NW][4];
            qxi_chunk<NW, ST, SDT>(a, sm, e, rb, xrows, nt, xq, ax, Gp, bsh, sb_unit && t0 == first, acc);
            if (warp >= 8 / KS) continue; /* KS = 2: the second half's sums are in the first's */
#pragma unroll
            for (int c = 0; c < 4; c++) {
                const int i = 2 * t + (c & 1), r = rb + rg * 16 + g + 8 * (c >> 1);
                if (i < nt && r < n) zf_cu_qstore<true>(a, epi, pairs[i], r, acc[0][c], acc[NW - 1][c]);
            }
        }
    }
    zf_cu_release_next();
}

/* ---- launcher ---------------------------------------------------------------------- */

/* The copy size (16, 8 or 4 bytes) for qxi_sb_copy, or 0 where the raw
 * rows do not fit a stage buffer or the rows are not aligned to 4 bytes:
 * then the kernel loads the pairs itself. */
template <int NW> static int qxi_sb_unit(const zf_cu_qargs *a) {
    const int64_t rowb = a->w[0].k / a->w[0].group_size * (int64_t)zf_cu_dtype_size(a->w[0].sdt);
    if (NW * qxi_cfg<NW>::ROWS * 2 * rowb > qxi_smem_t<NW, 3>::STAGE) return 0;
    for (int u = 16; u >= 4; u /= 2) {
        bool ok = rowb % u == 0;
        for (int m = 0; m < NW; m++)
            ok = ok && (uintptr_t)a->w[m].scales % u == 0 && (uintptr_t)a->w[m].biases % u == 0;
        if (ok) return u;
    }
    return 0;
}

template <int NW, int ST, int SDT>
static cudaError_t qxi_go(const zf_cu_qargs *a, zf_cu_qepi epi, const int32_t *sorted, const int32_t *ends,
                          const uint32_t *xq, const float2 *ax, cudaStream_t s) {
    const size_t smem = qxi_smem(a, ST);
    cudaError_t e = cudaFuncSetAttribute(qxi_kernel<NW, ST, SDT>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return e;
    const int64_t E = a->w[0].experts;
    dim3 grid((unsigned)((a->w[0].n + qxi_cfg<NW>::ROWS - 1) / qxi_cfg<NW>::ROWS), (unsigned)(E + 1 < 65535 ? E + 1 : 65535));
    return zf_cu_launch(qxi_kernel<NW, ST, SDT>, grid, dim3(QXI_THREADS), smem, s, *a, epi, sorted, ends, xq, ax,
                        qxi_sb_unit<NW>(a));
}

template <int NW, int ST>
static cudaError_t qxi_sdt(const zf_cu_qargs *a, zf_cu_qepi epi, const int32_t *sorted, const int32_t *ends,
                           const uint32_t *xq, const float2 *ax, cudaStream_t s) {
    switch (a->w[0].sdt) {
    case ZF_DTYPE_F32: return qxi_go<NW, ST, ZF_DTYPE_F32>(a, epi, sorted, ends, xq, ax, s);
    case ZF_DTYPE_F16: return qxi_go<NW, ST, ZF_DTYPE_F16>(a, epi, sorted, ends, xq, ax, s);
    case ZF_DTYPE_BF16: return qxi_go<NW, ST, ZF_DTYPE_BF16>(a, epi, sorted, ends, xq, ax, s);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t zf_cu_qxi8(const zf_cu_qargs *a, zf_cu_qepi epi, cudaStream_t s) {
    const int64_t rows = a->x_per_slot ? a->m * a->slots : a->m, nb = a->w[0].k / 32;
    const size_t gbytes = (zf_cu_qgroup_bytes(a) + 255) / 256 * 256, qbytes = (size_t)(rows * nb) * 40;
    char *scr;
    cudaError_t err = cudaMallocAsync((void **)&scr, gbytes + qbytes, s);
    if (err != cudaSuccess) return err;
    uint32_t *xq = (uint32_t *)(scr + gbytes);
    float2 *ax = (float2 *)(xq + rows * nb * 8);
    zf_cu_qgroups gr;
    err = zf_cu_qgroup(a, scr, &gr, s);
    const int upr = (int)(a->w[0].k / 8), R = upr >= QI8_THREADS ? 1 : QI8_THREADS / upr; /* one round per CTA */
    if (err == cudaSuccess)
        err = zf_cu_launch(qxi_quant_kernel, dim3((unsigned)((rows + R - 1) / R)), dim3(QI8_THREADS), 0, s, *a, rows, R,
                           xq, ax);
    if (err == cudaSuccess)
        err = a->nw == 2                               ? qxi_sdt<2, 3>(a, epi, gr.sorted, gr.ends, xq, ax, s)
              : qxi_smem(a, 4) <= QXI_SMEM_MAX ? qxi_sdt<1, 4>(a, epi, gr.sorted, gr.ends, xq, ax, s)
                                               : qxi_sdt<1, 3>(a, epi, gr.sorted, gr.ends, xq, ax, s);
    cudaError_t f = cudaFreeAsync(scr, s);
    return err != cudaSuccess ? err : f;
}
