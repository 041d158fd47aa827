/* Edge-tier many-token kernels (fidelity approx, docs/NUMERICS.md §8.7) for
 * gather_qmm_swiglu and gather_qmm_combine on 4-bit weights: the integer
 * block dots S_j run on the tensor cores (mma.m16n8k32 s8), everything
 * else is the int8 decode kernels' arithmetic.
 *
 * Pairs are grouped by expert (qmm.cu's group_kernel); every x row is
 * quantized once into global scratch by the CPU's rule (cuda/qi8.cuh: the
 * same codes and a bit for bit; X, the block's sum, in another order).
 * Then a CTA owns 64 weight rows (32 of gate and 32 of up, or 64 of one
 * matrix) of the experts blockIdx.y, + gridDim.y, ... (one expert where
 * E < 65535). Its work is a stream of
 * units, one unit = (expert, a chunk of up to 8 of its tokens: one mma
 * n-tile; a chunk of 16 measured slower, its registers spilled), each unit
 * a run of stages of 8 blocks (256 elements of k): the rows' 4-bit codes,
 * their scales and biases for those blocks (raw, converted where used),
 * the chunk's x codes and (a, X). The stages go through one cp.async
 * pipeline ST - 1 deep that runs on from one unit into the next. (Until
 * session 13 the scales and biases of an expert came first, converted to
 * an f32 table between two barriers before any weight was multiplied;
 * per-stage pieces took the 64-token block from 190 to 170 us, H100.)
 *
 * Each of the 4 warps owns 16 rows of each matrix: with two matrices, warp
 * w takes rows 16 (w % 2) .. + 15 and half of every stage's blocks (w / 2);
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

#define QXI_NT 8      /* tokens per chunk: one mma n-tile */
#define QXI_KB 8      /* blocks of 32 per pipeline stage */
#define QXI_WROW (QXI_KB * 16 + 16) /* bytes per staged weight row; the padding keeps ldmatrix conflict-free */
#define QXI_XROW (QXI_KB * 32 + 32) /* bytes per staged x row; the padding keeps the B loads conflict-free */

/* A CTA of 4 warps: 16 rows each of every matrix; with two matrices
 * (swiglu) they split each stage's blocks in two halves (KS = 2: 32 rows
 * of gate and of up), with one (combine) each warp takes all blocks (64
 * rows). Resident: 16 warps per SM (the registers), so 4 CTAs share an
 * SM's 224 KiB of shared memory. (CTAs of 8 warps, two per SM, measured
 * 1-3% slower: H100, 64 tokens, block 171.5 against 167.9 us.) */
template <int NW_> struct qxi_cfg {
    static constexpr int NW = NW_, WARPS = 4, THREADS = 32 * WARPS, KS = NW == 2 ? 2 : 1,
                         ROWS = 16 * WARPS / KS, CTAS = 16 / WARPS, SMEM_MAX = 224 * 1024 / CTAS,
                         PER_M = ROWS * QXI_KB / THREADS; /* weight copies per thread, matrix and stage */
    static_assert(NW * 2 * ROWS == THREADS, "one thread per row of scales or biases");
};

/* Bytes of one row's scales (and of its biases) that one stage's 8 blocks
 * use: the one definition of the raw layout, host and device. */
__host__ __device__ static inline int qxi_sbb(const zf_cu_qw &w) {
    return QXI_KB * 32 / w.group_size * (w.sdt == ZF_DTYPE_F32 ? 4 : 2);
}

/* Set on the host per launch: the stage buffer's size and the copy size
 * (16, 8 or 4 bytes) of the scale and bias rows. */
struct qxi_lay {
    int stage, sb_unit;
};

/* The CTA's shared memory: ST stage buffers (ST - 1 in flight) of NW x
 * [row][QXI_WROW] weight codes, [token][QXI_XROW] x code words, [block]
 * [token / 2] (a, X) of tokens 2i, 2i + 1 (float4) and the raw scales and
 * biases [matrix][scale | bias][row][sbb bytes]; then (KS = 2) the second
 * half's sums. Offsets from one base, so the pointers cost no registers. */
template <class C> struct qxi_smem_t {
    char *base;
    int stage;
    static constexpr int NW = C::NW, W_BYTES = C::ROWS * QXI_WROW,
                         FIXED = NW * W_BYTES + QXI_NT * QXI_XROW + QXI_KB * QXI_NT * 8,
                         RED = C::KS == 2 ? C::WARPS / 2 * 32 * NW * 4 * 4 : 0;
    __device__ char *W(int b, int m) const { return base + b * stage + m * W_BYTES; }
    __device__ char *X(int b) const { return base + b * stage + NW * W_BYTES; }
    __device__ float4 *AX(int b) const { return (float4 *)(X(b) + QXI_NT * QXI_XROW); }
    __device__ char *SB(int b) const { return X(b) + QXI_NT * QXI_XROW + QXI_KB * QXI_NT * 8; }
    __device__ float *red(int st) const { return (float *)(base + st * stage); }
};

template <class C> static int qxi_stage_bytes(const zf_cu_qargs *a) {
    return qxi_smem_t<C>::FIXED + C::THREADS * qxi_sbb(a->w[0]);
}
template <class C> static size_t qxi_smem(const zf_cu_qargs *a, int st) {
    return (size_t)st * qxi_stage_bytes<C>(a) + qxi_smem_t<C>::RED;
}

/* The copy size of the raw scale and bias pieces: the largest of 16, 8, 4
 * that divides a piece and every row's start; 0 (not supported) otherwise. */
static int qxi_sb_unit(const zf_cu_qargs *a) {
    const int sbb = qxi_sbb(a->w[0]);
    for (int u = 16; u >= 4; u /= 2) {
        bool ok = sbb % u == 0;
        for (int m = 0; m < a->nw; m++)
            ok = ok && (uintptr_t)a->w[m].scales % u == 0 && (uintptr_t)a->w[m].biases % u == 0;
        if (ok) return u;
    }
    return 0;
}

bool zf_cu_qxi8_fits(const zf_cu_qargs *a) {
    const int gs = a->w[0].group_size;
    if (!a->ids || !zf_cu_qgrouped(a) || a->w[0].n > INT32_MAX || a->w[0].experts >= INT32_MAX / 2 ||
        a->w[0].k % (32 * QXI_KB) != 0 || (gs != 32 && gs != 64 && gs != 128))
        return false;
    for (int m = 0; m < a->nw; m++)
        if (a->w[m].bits != 4 || a->w[m].group_size != gs || a->w[m].sdt != a->w[0].sdt ||
            (uintptr_t)a->w[m].packed % 16 != 0)
            return false;
    return qxi_sb_unit(a) != 0;
}
/* the largest stage (group 32, f32 scales: 32 bytes per row's scales) leaves the resident CTAs 3 buffers */
template <class C> constexpr bool qxi_three_fit() {
    return 3 * (qxi_smem_t<C>::FIXED + C::THREADS * 32) + qxi_smem_t<C>::RED <= C::SMEM_MAX;
}
static_assert(qxi_three_fit<qxi_cfg<2>>() && qxi_three_fit<qxi_cfg<1>>(), "qxi: three stage buffers must fit");

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

/* The first non-empty expert of the CTA's stride from e on (E: none left);
 * t0 = its first pair. */
__device__ __forceinline__ int qxi_seek(const int32_t *ends, int E, int e, int &t0) {
    for (; e < E; e += gridDim.y) {
        const int first = e ? ends[e - 1] : 0;
        if (first < ends[e]) {
            t0 = first;
            return e;
        }
    }
    return E;
}

/* The unit after (e, t0): e's next chunk, or the next expert's first. */
__device__ __forceinline__ void qxi_next(const int32_t *ends, int E, int &e, int &t0) {
    t0 += QXI_NT;
    if (t0 >= ends[e]) e = qxi_seek(ends, E, e + gridDim.y, t0);
}

/* Where a thread's copies of a unit come from: its weight rows' first
 * block per matrix (w[m]; item i of the matrix is 32 i rows further on,
 * `valid` bit i: inside n), its x row piece (xsrc: token tid / 16, piece
 * tid % 16), its (a, X) (axs: token tid / 8, block tid % 8) (NULL past the
 * chunk's tokens), its row of raw scales or biases (sb, NULL past n).
 * Stage s adds s stages' bytes to each. */
template <class C> struct qxi_src {
    const char *w[C::NW];
    unsigned valid;
    const uint4 *xsrc;
    const float2 *axs;
    const char *sb;
};

template <class C>
__device__ __forceinline__ qxi_src<C> qxi_src_of(const zf_cu_qargs &a, int e, int rb, const int32_t *sorted, int t0,
                                                  int nt, const uint32_t *xq, const float2 *ax) {
    constexpr int NW = C::NW, ROWS = C::ROWS, RSTEP = C::THREADS / QXI_KB;
    const int n = (int)a.w[0].n, nb = (int)(a.w[0].k / 32), tid = threadIdx.x;
    const auto xrow = [&](int i) {
        const int32_t pr = sorted[t0 + i];
        return (int64_t)(a.x_per_slot ? pr : (int32_t)(pr / a.slots));
    };
    qxi_src<C> q;
    q.valid = 0;
#pragma unroll
    for (int m = 0; m < NW; m++) {
        q.w[m] = (const char *)a.w[m].packed + ((int64_t)e * n + rb + tid / QXI_KB) * nb * 16 + (tid % QXI_KB) * 16;
#pragma unroll
        for (int i = 0; i < C::PER_M; i++)
            if (rb + tid / QXI_KB + RSTEP * i < n) q.valid |= 1u << (m * C::PER_M + i);
    }
    q.xsrc = tid / 16 < nt ? (const uint4 *)(xq + xrow(tid / 16) * nb * 8) + tid % 16 : nullptr;
    q.axs = tid < QXI_NT * QXI_KB && tid / QXI_KB < nt ? ax + xrow(tid / QXI_KB) * nb + tid % QXI_KB : nullptr;
    /* raw scales and biases: thread tid copies row ((m * 2 + bias) * ROWS + r) = tid */
    const int r = tid % ROWS, m = tid / ROWS / 2;
    q.sb = rb + r < n ? (const char *)((tid / ROWS) % 2 ? a.w[m].biases : a.w[m].scales) +
                            ((int64_t)e * n + rb + r) * (nb / QXI_KB) * qxi_sbb(a.w[0])
                      : nullptr;
    return q;
}

/* Issues the copies of stage s of a unit into buffer b (one commit group);
 * rowb: bytes of one weight row. */
template <class C>
__device__ __forceinline__ void qxi_issue(const qxi_smem_t<C> &sm, const qxi_lay &L, int sbb, int64_t rowb,
                                          const qxi_src<C> &q, int b, int s) {
    constexpr int RSTEP = C::THREADS / QXI_KB;
    const int tid = threadIdx.x;
#pragma unroll
    for (int m = 0; m < C::NW; m++)
#pragma unroll
        for (int i = 0; i < C::PER_M; i++)
            if (q.valid >> (m * C::PER_M + i) & 1)
                zf_cu_cp16(sm.W(b, m) + (tid / QXI_KB + RSTEP * i) * QXI_WROW + (tid % QXI_KB) * 16,
                           q.w[m] + RSTEP * i * rowb + s * (QXI_KB * 16));
    if (q.xsrc) zf_cu_cp16(sm.X(b) + (tid / 16) * QXI_XROW + (tid % 16) * 16, q.xsrc + s * (QXI_KB * 2));
    if (q.axs) zf_cu_cp8((float2 *)sm.AX(b) + (tid % QXI_KB) * QXI_NT + tid / QXI_KB, q.axs + s * QXI_KB);
    if (q.sb)
        for (int c = 0; c < sbb; c += L.sb_unit) zf_cu_cp(sm.SB(b) + tid * sbb + c, q.sb + s * sbb + c, L.sb_unit);
    zf_cu_cp_commit();
}

/* The mma work of one stage in buffer b: acc[m][c] (matrix m, rows g (c <
 * 2) and g + 8, tokens 2t + (c & 1)) += the 8 blocks' terms (with KS = 2,
 * this warp's half of them). bsh: block -> group within the stage. */
template <class C, int SDT>
__device__ __forceinline__ void qxi_stage(const qxi_smem_t<C> &sm, int b, int bsh, int sbb, float acc[C::NW][4]) {
    constexpr int NW = C::NW, KS = C::KS, ROWS = C::ROWS, BPW = QXI_KB / KS; /* blocks per warp and stage */
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int rg = warp % (C::WARPS / KS), kh = warp / (C::WARPS / KS);
    const uint32_t M = 0x0f0f0f0fu;
    /* ldmatrix rows: lane l gives row (l & 7) + 8 ((l >> 3) & 1) of block (l >> 4) */
    const int lrow = rg * 16 + (lane & 7) + 8 * ((lane >> 3) & 1), lblk = lane >> 4;
    const char *sbr = sm.SB(b) + (rg * 16 + g) * sbb; /* scale of row g, matrix 0 */
#pragma unroll
    for (int jj = 0; jj < BPW / 2; jj++) { /* blocks j, j + 1 of this warp's part */
        const int j0 = kh * BPW + 2 * jj;
        uint32_t d[NW][4];
#pragma unroll
        for (int m = 0; m < NW; m++)
            qxi_ldmatrix4(sm.W(b, m) + lrow * QXI_WROW + (j0 + lblk) * 16, d[m][0], d[m][1], d[m][2], d[m][3]);
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int j = j0 + h, gi = j >> bsh;
            const uint2 xb = *(const uint2 *)(sm.X(b) + g * QXI_XROW + j * 32 + 8 * t);
            const float4 axv = sm.AX(b)[j * (QXI_NT / 2) + t]; /* (a, X) of tokens 2t, 2t + 1 */
#pragma unroll
            for (int m = 0; m < NW; m++) {
                const uint32_t lo = d[m][2 * h], hi = d[m][2 * h + 1]; /* rows g, g + 8 */
                const uint32_t A[4] = {lo & M, hi & M, (lo >> 4) & M, (hi >> 4) & M};
                const char *sc = sbr + m * 2 * ROWS * sbb; /* [m][scale | bias][row] */
                const float s0 = zf_cu_load<SDT>(sc, gi), b0 = zf_cu_load<SDT>(sc + ROWS * sbb, gi);
                const float s1 = zf_cu_load<SDT>(sc + 8 * sbb, gi), b1 = zf_cu_load<SDT>(sc + (ROWS + 8) * sbb, gi);
                int S[4];
                qxi_mma(A, xb, S);
                /* S[0]: row g, token 2t; S[1]: row g, 2t + 1; S[2], S[3]: row g + 8 */
                acc[m][0] = __fmaf_rn(b0, axv.y, __fmaf_rn(__fmul_rn(__int2float_rn(S[0]), axv.x), s0, acc[m][0]));
                acc[m][1] = __fmaf_rn(b0, axv.w, __fmaf_rn(__fmul_rn(__int2float_rn(S[1]), axv.z), s0, acc[m][1]));
                acc[m][2] = __fmaf_rn(b1, axv.y, __fmaf_rn(__fmul_rn(__int2float_rn(S[2]), axv.x), s1, acc[m][2]));
                acc[m][3] = __fmaf_rn(b1, axv.w, __fmaf_rn(__fmul_rn(__int2float_rn(S[3]), axv.z), s1, acc[m][3]));
            }
        }
    }
}

/* A unit's last stage is done: (KS = 2) the second half's sums added into
 * the first's, then its outputs stored; p[2]: the pairs of tokens 2t and
 * 2t + 1 (loaded when the unit began). acc is zeroed for the next unit. */
template <class C>
__device__ __forceinline__ void qxi_finish(const zf_cu_qargs &a, zf_cu_qepi epi, const qxi_smem_t<C> &sm, int st,
                                           int rb, int nt, const int32_t p[2], float acc[C::NW][4]) {
    constexpr int NW = C::NW, KS = C::KS;
    const int n = (int)a.w[0].n, warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int rg = warp % (C::WARPS / KS), kh = warp / (C::WARPS / KS);
    if (KS == 2) {
        /* the previous unit's reads of red are done: every warp has passed a stage's barrier since */
        float *red = sm.red(st) + (rg * 32 + lane) * (NW * 4);
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
    if (kh == 0)
#pragma unroll
        for (int c = 0; c < 4; c++) {
            const int i = 2 * t + (c & 1), r = rb + rg * 16 + g + 8 * (c >> 1);
            if (i < nt && r < n) zf_cu_qstore<true>(a, epi, p[c & 1], r, acc[0][c], acc[NW - 1][c]);
        }
#pragma unroll
    for (int m = 0; m < NW; m++)
#pragma unroll
        for (int c = 0; c < 4; c++) acc[m][c] = 0.0f;
}

template <class C, int ST, int SDT>
__global__ void __launch_bounds__(C::THREADS, C::CTAS)
    qxi_kernel(const zf_cu_qargs a, zf_cu_qepi epi, const int32_t *sorted, const int32_t *ends, const uint32_t *xq,
               const float2 *ax, qxi_lay L) {
    extern __shared__ __align__(16) char qxi_sm[];
    constexpr int NW = C::NW, ROWS = C::ROWS;
    const int n = (int)a.w[0].n, nst = (int)(a.w[0].k / (32 * QXI_KB)), sbb = qxi_sbb(a.w[0]);
    const int64_t rowb = a.w[0].k / 2;
    const int bsh = a.w[0].group_size == 32 ? 0 : a.w[0].group_size == 64 ? 1 : 2; /* block -> group */
    const int rb = blockIdx.x * ROWS, tid = threadIdx.x, E = (int)a.w[0].experts;
    const qxi_smem_t<C> sm = {qxi_sm, L.stage};
    zf_cu_wait_prior();
    if (E >= (int)blockIdx.y && (E - (int)blockIdx.y) % gridDim.y == 0) { /* ids out of range: NaN, no weight read */
        const int first = E ? ends[E - 1] : 0, last = ends[E];
        for (int it = tid; it < (last - first) * ROWS; it += C::THREADS) {
            const int r = rb + it % ROWS;
            if (r < n) zf_cu_qstore<true>(a, epi, sorted[first + it / ROWS], r, zf_cu_nan(), zf_cu_nan());
        }
    }
    /* two cursors over the CTA's units: the one whose stages are issued
     * (ie, it0, stage is) runs ST - 1 stages ahead of the one computed */
    int it0 = 0, ie = qxi_seek(ends, E, blockIdx.y, it0), is = 0;
    int ct0 = it0, ce = ie, cs = 0;
    const auto src = [&]() {
        const int nt = min(ends[ie] - it0, QXI_NT);
        return qxi_src_of<C>(a, ie, rb, sorted, it0, nt, xq, ax);
    };
    qxi_src<C> q = {};
    if (ie < E) q = src();
    const auto issue = [&](int b) {
        if (ie >= E) {
            zf_cu_cp_commit(); /* an empty group keeps the count */
            return;
        }
        qxi_issue<C>(sm, L, sbb, rowb, q, b, is);
        if (++is == nst) {
            is = 0;
            qxi_next(ends, E, ie, it0);
            if (ie < E) q = src();
        }
    };
#pragma unroll
    for (int s = 0; s < ST - 1; s++) issue(s);
    float acc[NW][4];
#pragma unroll
    for (int m = 0; m < NW; m++)
#pragma unroll
        for (int c = 0; c < 4; c++) acc[m][c] = 0.0f;
    int nt = 0, p[2] = {0, 0};
    for (int b = 0; ce < E; b = b == ST - 1 ? 0 : b + 1) {
        if (cs == 0) { /* a unit begins: its tokens' pairs, for its stores */
            nt = min(ends[ce] - ct0, QXI_NT);
            const int t = tid % 4;
            p[0] = 2 * t < nt ? sorted[ct0 + 2 * t] : 0;
            p[1] = 2 * t + 1 < nt ? sorted[ct0 + 2 * t + 1] : 0;
        }
        zf_cu_cp_wait(ST - 2); /* this stage is in */
        __syncthreads();       /* ... for every thread, and the previous buffer is consumed */
        issue(b == 0 ? ST - 1 : b - 1);
        qxi_stage<C, SDT>(sm, b, bsh, sbb, acc);
        if (++cs == nst) {
            qxi_finish<C>(a, epi, sm, ST, rb, nt, p, acc);
            cs = 0;
            qxi_next(ends, E, ce, ct0);
        }
    }
    zf_cu_cp_wait(0);
    zf_cu_release_next();
}

/* ---- launcher ---------------------------------------------------------------------- */

template <class C, int ST, int SDT>
static cudaError_t qxi_go(const zf_cu_qargs *a, zf_cu_qepi epi, const int32_t *sorted, const int32_t *ends,
                          const uint32_t *xq, const float2 *ax, cudaStream_t s) {
    const size_t smem = qxi_smem<C>(a, ST);
    cudaError_t e = zf_cu_allow_smem((const void *)qxi_kernel<C, ST, SDT>, smem);
    if (e != cudaSuccess) return e;
    const int64_t E = a->w[0].experts, gx = (a->w[0].n + C::ROWS - 1) / C::ROWS;
    /* one CTA per (row tile, expert) and the out-of-range bucket: a persistent grid of 1, 2 or 3 CTAs per SM
     * with a stride of experts each measured slower (H100, 64 tokens: block 193-266 against 170 us) */
    const int64_t gy = E + 1 < 65535 ? E + 1 : 65535;
    const qxi_lay L = {qxi_stage_bytes<C>(a), qxi_sb_unit(a)};
    return zf_cu_launch(qxi_kernel<C, ST, SDT>, dim3((unsigned)gx, (unsigned)gy), dim3(C::THREADS), smem, s, *a, epi,
                        sorted, ends, xq, ax, L);
}

/* 4 stage buffers (3 in flight) where the resident CTAs still fit, else 3 */
template <class C>
static cudaError_t qxi_launch(const zf_cu_qargs *a, zf_cu_qepi epi, const int32_t *sorted, const int32_t *ends,
                              const uint32_t *xq, const float2 *ax, cudaStream_t s) {
    const bool four = qxi_smem<C>(a, 4) <= (size_t)C::SMEM_MAX;
    switch (a->w[0].sdt) {
    case ZF_DTYPE_F32:
        return four ? qxi_go<C, 4, ZF_DTYPE_F32>(a, epi, sorted, ends, xq, ax, s)
                    : qxi_go<C, 3, ZF_DTYPE_F32>(a, epi, sorted, ends, xq, ax, s);
    case ZF_DTYPE_F16:
        return four ? qxi_go<C, 4, ZF_DTYPE_F16>(a, epi, sorted, ends, xq, ax, s)
                    : qxi_go<C, 3, ZF_DTYPE_F16>(a, epi, sorted, ends, xq, ax, s);
    case ZF_DTYPE_BF16:
        return four ? qxi_go<C, 4, ZF_DTYPE_BF16>(a, epi, sorted, ends, xq, ax, s)
                    : qxi_go<C, 3, ZF_DTYPE_BF16>(a, epi, sorted, ends, xq, ax, s);
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
        err = a->nw == 2 ? qxi_launch<qxi_cfg<2>>(a, epi, gr.sorted, gr.ends, xq, ax, s)
                         : qxi_launch<qxi_cfg<1>>(a, epi, gr.sorted, gr.ends, xq, ax, s);
    cudaError_t f = cudaFreeAsync(scr, s);
    return err != cudaSuccess ? err : f;
}
