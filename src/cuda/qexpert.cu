/* The many-token gathered dots: a CTA owns (expert, 32 weight rows) and
 * computes every (token, slot) pair routed to that expert, so each weight
 * block comes from DRAM once per call and serves all of the expert's
 * tokens from registers.
 *
 * Pairs arrive grouped by expert (qmm.cu's group_kernel: sorted pair
 * indices, and the end of each expert's bucket; bucket E holds the pairs
 * whose id is out of range). The CTA walks its expert's pairs in chunks of
 * QX_CHUNK(NW) tokens (4 for gate+up, 8 for one matrix): the chunk's x rows
 * are staged in shared memory as f32 with their lane sums X_l, then each
 * thread group of 8 walks its weight row block by block (thread c: blocks
 * c, c+8, ..., the next block's words loaded while the current one is
 * used) and updates the accumulators of every token of the chunk. An
 * expert with more tokens than a chunk re-reads its rows, from L2.
 *
 * Each output is still the canonical dot of docs/NUMERICS.md §8.2 (per
 * lane: x*q and three fmas over the block's 4 vectors, then s and b; the
 * lane tree; shfl_xor 4, 2, 1): only the loop over tokens is new, so the
 * bits are those of the CPU stock path. */
#include "cuda/check.cuh"
#include "cuda/kernels.cuh"
#include "cuda/qdot.cuh"
#include "cuda/zmath.cuh"

#define QX_THREADS 256
#define QX_ROWS (QX_THREADS / 8)
/* tokens per chunk: NW * QX_CHUNK * 8 accumulators per thread = 64 */
#define QX_CHUNK(nw) (8 / (nw))
/* staged x: QX_CHUNK rows of k f32 plus k / 4 lane sums */
#define QX_MAX_SMEM (96 * 1024)

static size_t qx_smem(const zf_cu_qargs *a) { return (size_t)QX_CHUNK(a->nw) * (size_t)a->w[0].k * 5; }

bool zf_cu_qexpert_fits(const zf_cu_qargs *a) {
    return a->ids && a->w[0].n <= INT32_MAX && qx_smem(a) <= QX_MAX_SMEM;
}

/* Stages x rows pairs[0 .. nt) of the chunk: for block j, vector v = l ^ (j
 * & 7) holds lane l's elements {l, 8+l, 16+l, 24+l} and X float l ^ (j & 7)
 * its lane sum. The 8 threads of a group read blocks with 8 different j & 7
 * at once, so both reads hit 8 different bank groups (the 4 groups of a
 * warp read the same words: a broadcast). */
__device__ __forceinline__ void qx_stage(const zf_cu_qargs &a, bool xvec, const int32_t *pairs, int nt, int k,
                                         float *xs, float *Xs) {
    const int nb = k / 32;
    const size_t xes = a.xt == ZF_DTYPE_F32 ? 4 : 2;
    for (int t = threadIdx.x; t < nt * nb; t += blockDim.x) {
        const int i = t / nb, j = t % nb;
        const int64_t p = pairs[i], xr = a.x_per_slot ? p : p / a.slots;
        float x[32];
        zf_cu_xblock(a.xt, (const char *)a.x + (size_t)(xr * a.x_row_stride) * xes, j, xvec, x);
        float4 *d = (float4 *)(xs + (size_t)i * k + 32 * j);
        float *D = Xs + (size_t)i * (k / 4) + 8 * j;
#pragma unroll
        for (int l = 0; l < 8; l++) {
            d[l ^ (j & 7)] = make_float4(x[l], x[8 + l], x[16 + l], x[24 + l]);
            D[l ^ (j & 7)] = zf_cu_lane_sum(x, l);
        }
    }
}

/* Block j of NW weight rows: the packed words, scale and bias. */
template <int BITS, int NW> struct qx_blk {
    uint32_t q[NW][BITS];
    float s[NW], b[NW];
};

template <int BITS, int NW>
__device__ __forceinline__ void qx_load(const zf_cu_qw *w, const zf_cu_wrow *wr, int j, bool wide,
                                        qx_blk<BITS, NW> &B) {
    const int gi = j / (w[0].group_size / 32);
#pragma unroll
    for (int m = 0; m < NW; m++) {
        zf_cu_qwords<BITS>(wr[m].packed, j, wide, B.q[m]);
        B.s[m] = zf_cu_ld(w[0].sdt, wr[m].scales, gi);
        B.b[m] = zf_cu_ld(w[0].sdt, wr[m].biases, gi);
    }
}

/* Dots of NW weight rows with the nt <= CH staged x rows, canonical order;
 * d[m][i] is the same in the 8 threads of the group. All lanes of the warp
 * call it (shuffles); nb = 0 for a group without a row. */
template <int BITS, int NW, int CH>
__device__ __forceinline__ void qx_dot(const zf_cu_qw *w, const zf_cu_wrow *wr, int nb, int nt, int k, bool wide,
                                       int c, const float *xs, const float *Xs, float d[NW][CH]) {
    float A[NW][CH][8];
#pragma unroll
    for (int m = 0; m < NW; m++)
#pragma unroll
        for (int i = 0; i < CH; i++)
#pragma unroll
            for (int l = 0; l < 8; l++) A[m][i][l] = 0.0f;
    qx_blk<BITS, NW> cur;
    if (c < nb) qx_load<BITS, NW>(w, wr, c, wide, cur);
    for (int j = c; j < nb; j += 8) {
        qx_blk<BITS, NW> next;
        if (j + 8 < nb) qx_load<BITS, NW>(w, wr, j + 8, wide, next);
        const float4 *xv = (const float4 *)(xs + 32 * j);
        const float *Xv = Xs + 8 * j;
#pragma unroll
        for (int l = 0; l < 8; l++) {
            float qf[NW][4];
#pragma unroll
            for (int m = 0; m < NW; m++)
#pragma unroll
                for (int v = 0; v < 4; v++) qf[m][v] = zf_cu_qval<BITS>(cur.q[m], 8 * v + l);
            const int sl = l ^ c; /* j & 7 == c */
#pragma unroll
            for (int i = 0; i < CH; i++) {
                if (i >= nt) break;
                const float4 x = xv[(size_t)i * (k / 4) + sl];
                const float X = Xv[(size_t)i * (k / 4) + sl];
#pragma unroll
                for (int m = 0; m < NW; m++) {
                    float dl = __fmul_rn(x.x, qf[m][0]);
                    dl = __fmaf_rn(x.y, qf[m][1], dl);
                    dl = __fmaf_rn(x.z, qf[m][2], dl);
                    dl = __fmaf_rn(x.w, qf[m][3], dl);
                    A[m][i][l] = __fmaf_rn(cur.s[m], dl, A[m][i][l]);
                    A[m][i][l] = __fmaf_rn(cur.b[m], X, A[m][i][l]);
                }
            }
        }
        cur = next;
    }
#pragma unroll
    for (int m = 0; m < NW; m++)
#pragma unroll
        for (int i = 0; i < CH; i++) d[m][i] = zf_cu_qdot_fold(A[m][i]);
}

template <int BITS, int NW>
__global__ void __launch_bounds__(QX_THREADS, 2)
    qx_kernel(const zf_cu_qargs a, zf_cu_qepi epi, const int32_t *sorted, const int32_t *ends, bool xvec, bool wide) {
    constexpr int CH = QX_CHUNK(NW);
    extern __shared__ float4 qx_sm[];
    __shared__ int32_t pairs[CH];
    const int k = (int)a.w[0].k, nb = k / 32, n = (int)a.w[0].n;
    float *xs = (float *)qx_sm, *Xs = xs + (size_t)CH * k;
    const int g = threadIdx.x / 8, c = threadIdx.x % 8, row = blockIdx.x * QX_ROWS + g;
    const int64_t E = a.w[0].experts;
    zf_cu_wait_prior();
    for (int64_t e = blockIdx.y; e <= E; e += gridDim.y) {
        const int first = e ? ends[e - 1] : 0, last = ends[e];
        const bool valid = e < E, active = valid && row < n;
        zf_cu_wrow wr[NW];
#pragma unroll
        for (int m = 0; m < NW; m++) wr[m] = zf_cu_wrow_of(a.w[m], active ? e : 0, active ? row : 0);
        for (int t0 = first; t0 < last; t0 += CH) {
            const int nt = last - t0 < CH ? last - t0 : CH;
            __syncthreads(); /* the previous chunk's x and pairs are consumed */
            if (threadIdx.x < nt) pairs[threadIdx.x] = sorted[t0 + threadIdx.x];
            __syncthreads();
            float d[NW][CH];
            if (valid) { /* uniform over the CTA */
                qx_stage(a, xvec, pairs, nt, k, xs, Xs);
                __syncthreads();
                qx_dot<BITS, NW, CH>(a.w, wr, active ? nb : 0, nt, k, wide, c, xs, Xs, d);
            } else { /* ids out of range: NaN, no weight read */
#pragma unroll
                for (int m = 0; m < NW; m++)
#pragma unroll
                    for (int i = 0; i < CH; i++) d[m][i] = zf_cu_nan();
            }
            if (row >= n) continue;
#pragma unroll
            for (int i = 0; i < CH; i++) /* thread i % 8 of the group writes token i */
                if (i < nt && i % 8 == c) zf_cu_qstore(a, epi, pairs[i], row, d[0][i], d[NW - 1][i]);
        }
    }
    zf_cu_release_next();
}

template <int BITS, int NW>
static cudaError_t qx_launch(const zf_cu_qargs *a, zf_cu_qepi epi, const int32_t *sorted, const int32_t *ends,
                             bool xvec, bool wide, cudaStream_t s) {
    const size_t smem = qx_smem(a);
    cudaError_t e = zf_cu_allow_smem((const void *)qx_kernel<BITS, NW>, smem);
    if (e != cudaSuccess) return e;
    const int64_t E = a->w[0].experts;
    dim3 grid((unsigned)((a->w[0].n + QX_ROWS - 1) / QX_ROWS), (unsigned)(E + 1 < 65535 ? E + 1 : 65535));
    return zf_cu_launch(qx_kernel<BITS, NW>, grid, dim3(QX_THREADS), smem, s, *a, epi, sorted, ends, xvec, wide);
}

template <int NW>
static cudaError_t qx_bits(const zf_cu_qargs *a, zf_cu_qepi epi, const int32_t *sorted, const int32_t *ends, bool xvec,
                           bool wide, cudaStream_t s) {
    switch (a->w[0].bits) {
    case 2: return qx_launch<2, NW>(a, epi, sorted, ends, xvec, wide, s);
    case 3: return qx_launch<3, NW>(a, epi, sorted, ends, xvec, wide, s);
    case 4: return qx_launch<4, NW>(a, epi, sorted, ends, xvec, wide, s);
    case 5: return qx_launch<5, NW>(a, epi, sorted, ends, xvec, wide, s);
    case 6: return qx_launch<6, NW>(a, epi, sorted, ends, xvec, wide, s);
    case 8: return qx_launch<8, NW>(a, epi, sorted, ends, xvec, wide, s);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t zf_cu_qexpert(const zf_cu_qargs *a, zf_cu_qepi epi, const int32_t *sorted, const int32_t *ends,
                          bool xvec, bool wide, cudaStream_t s) {
    return a->nw == 2 ? qx_bits<2>(a, epi, sorted, ends, xvec, wide, s) : qx_bits<1>(a, epi, sorted, ends, xvec, wide, s);
}
