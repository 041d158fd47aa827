/* The attention of one (query, head) for a block of 256 threads, shared by
 * zf_attention (attention.cu) and zf_attention_decode (attention_decode.cu)
 * so that both follow one order (docs/NUMERICS.md §9.4, src/cpu/attention.c):
 *   s_j = L256(q, k_j) * scale   a warp per key: thread t holds lanes
 *                                8t .. 8t+7, the tree is shuffles 16..1 then
 *                                three steps in the thread (NUMERICS §4)
 *   mx  = max_j s_j (NaN skipped), e_j = exp(s_j - mx), S = L256(e, 1)
 *   o_c = T(acc_c / S), acc_c = fma(e_j, v_jc, acc_c) for j ascending,
 *                                a thread per column */
#ifndef ZF_CUDA_ATTEND_CUH
#define ZF_CUDA_ATTEND_CUH

#include "cuda/cp_async.cuh"
#include "cuda/divmod.cuh"
#include "cuda/model_ops.cuh"
#include "cuda/zmath.cuh"

enum { ZF_ATT_THREADS = 256, ZF_ATT_WARPS = ZF_ATT_THREADS / 32 };

/* L256(q, k) over d elements for one warp; q in shared memory as f32. */
template <int DKV> __device__ __forceinline__ float zf_cu_warp_dot(const float *q, const void *k, int64_t d) {
    const int t = threadIdx.x & 31;
    float a[8];
#pragma unroll
    for (int i = 0; i < 8; i++) a[i] = 0.0f;
    for (int64_t c0 = 0; c0 < d; c0 += 256)
#pragma unroll
        for (int i = 0; i < 8; i++) {
            int64_t c = c0 + 8 * t + i;
            if (c < d) a[i] = __fmaf_rn(q[c], zf_cu_load<DKV>(k, c), a[i]);
        }
#pragma unroll
    for (int off = 16; off >= 1; off >>= 1)
#pragma unroll
        for (int i = 0; i < 8; i++) a[i] = __fadd_rn(a[i], __shfl_xor_sync(0xffffffffu, a[i], off));
#pragma unroll
    for (int s = 4; s >= 1; s >>= 1)
#pragma unroll
        for (int i = 0; i < s; i++) a[i] = __fadd_rn(a[i], a[i + s]);
    return a[0];
}

/* The key or value rows of one kv head: row j at base + j * stride, except
 * that a non-NULL `last` stands for the final row (len - 1): a decode
 * step's own row, which its block holds in shared memory. */
template <typename E> struct zf_cu_rows {
    const E *base;
    int64_t stride;
    const E *last;
    __device__ __forceinline__ const E *operator()(int64_t j) const { return base + j * stride; }
};

/* The scores s[0 .. len-1] (published by a barrier before) into e_j =
 * exp(s_j - mx), in place; returns S = L256(e, 1). Every thread of the
 * block calls it; its last barrier publishes e. */
__device__ __forceinline__ float zf_cu_softmax_scores(float *s, float *red, int64_t len) {
    const int tid = threadIdx.x;
    float m = -INFINITY;
    for (int64_t j = tid; j < len; j += ZF_ATT_THREADS)
        if (s[j] > m) m = s[j];
    const float mx = zf_cu_max256(red, m);
    float lane = 0.0f;
    for (int64_t j = tid; j < len; j += ZF_ATT_THREADS) {
        s[j] = zf_cu_exp(__fsub_rn(s[j], mx));
        lane = __fadd_rn(lane, s[j]);
    }
    return zf_cu_l256_fold256(red, lane);
}

/* out row op (d elements of DQ) = attention of q (shared, f32, d) over keys
 * 0 .. len-1 of kr, values of vr; s holds len floats of shared memory and
 * red ZF_ATT_THREADS. q must be published (a barrier) before. */
template <int DQ, int DKV, typename E>
__device__ __forceinline__ void zf_cu_attend(const float *q, float *s, float *red, int64_t len, int64_t d,
                                             float scale, zf_cu_rows<E> kr, zf_cu_rows<E> vr, void *op) {
    const int tid = threadIdx.x, warp = tid / 32;
    for (int64_t j = warp; j < len; j += ZF_ATT_WARPS) {
        float dot = zf_cu_warp_dot<DKV>(q, kr.last && j == len - 1 ? kr.last : kr(j), d);
        if ((tid & 31) == 0) s[j] = __fmul_rn(dot, scale);
    }
    __syncthreads();
    const float sum = zf_cu_softmax_scores(s, red, len);
    const int64_t direct = vr.last ? len - 1 : len;
    for (int64_t c = tid; c < d; c += ZF_ATT_THREADS) {
        float acc = 0.0f;
        /* one fma chain in j order; unrolled so the v loads of 8 keys are in flight together */
#pragma unroll 8
        for (int64_t j = 0; j < direct; j++) acc = __fmaf_rn(s[j], zf_cu_load<DKV>(vr(j), c), acc);
        if (vr.last) acc = __fmaf_rn(s[len - 1], zf_cu_load<DKV>(vr.last, c), acc);
        zf_cu_store<DQ>(op, c, __fdiv_rn(acc, sum));
    }
}

/* ---- zf_cu_attend_tiles (head_dim <= 256) --------------------------------------
 * The same arithmetic as zf_cu_attend, but the key rows and then the value
 * rows stream through a ring of ZF_CU_TILE_STAGES shared-memory tiles of tk
 * rows (cp.async; ZF_CU_TILE_STAGES - 1 tiles in flight), and each key's
 * dot belongs to 8 threads instead of a warp: zf_cu_attend issued one
 * load's latency per key and warp. */
#define ZF_CU_TILE_STAGES 4

/* Bytes of one row in a tile: the row rounded up to 128 bytes plus 32, so
 * the 4 keys a warp reads at once start 8 banks apart. */
__host__ __device__ inline int64_t zf_cu_tile_row_bytes(int64_t d, int64_t es) {
    return (d * es + 127) / 128 * 128 + 32;
}
/* Keys per tile: 128, 64 or 32 (one to four per group of 8 threads), the
 * most whose ring fits `budget` bytes (32 at least). */
static inline int zf_cu_tile_keys(int64_t d, int64_t es, int64_t budget) {
    const int64_t rb = zf_cu_tile_row_bytes(d, es);
    return ZF_CU_TILE_STAGES * 128 * rb <= budget ? 128 : ZF_CU_TILE_STAGES * 64 * rb <= budget ? 64 : 32;
}

/* Whether the key and value rows (es-byte elements, head_dim d, kv-head and
 * row strides in elements) can be copied into the tiles 16 bytes at a time. */
static inline bool zf_cu_tile_vec(const void *k, const void *v, int64_t d, int64_t es, int64_t ks0, int64_t ks1,
                                  int64_t vs0, int64_t vs1) {
    return ((uintptr_t)k | (uintptr_t)v) % 16 == 0 && (d * es) % 16 == 0 && (ks0 * es) % 16 == 0 &&
           (ks1 * es) % 16 == 0 && (vs0 * es) % 16 == 0 && (vs1 * es) % 16 == 0;
}

/* Starts the copies of rows j0 .. min(j0 + tk, nmem) - 1 (row j at base +
 * j * rs) into a tile and commits them as one group. Without 16-byte
 * alignment (vec false) the rows are copied element by element, at once.
 * w: this thread's walk over the items of a row (its 16-byte chunks, or its
 * d elements without 16-byte alignment). */
template <typename EC>
__device__ __forceinline__ void zf_cu_tile_issue(char *tile, const EC *base, int64_t rs, int64_t j0, int64_t nmem,
                                                 int rb, int tk, bool vec, zf_cu_rowwalk w) {
    const int rows = (int)(nmem - j0 < tk ? nmem - j0 : tk);
    for (; w.r < rows; w.step()) { /* element w.r n + w.c < rows n */
        if (vec) zf_cu_cp16(tile + w.r * rb + 16 * w.c, (const char *)(base + (j0 + w.r) * rs) + 16 * w.c);
        else ((EC *)(tile + w.r * rb))[w.c] = base[(j0 + w.r) * rs + w.c];
    }
    zf_cu_cp_commit();
}

/* v[t] += v[t + OFF] for t < OFF, then OFF / 2, ... 1 (a template, so every
 * index is a constant and v stays in registers) */
template <int OFF> __device__ __forceinline__ void zf_cu_tile_fold(float *v) {
    if constexpr (OFF >= 1) {
#pragma unroll
        for (int t = 0; t < OFF; t++) v[t] = __fadd_rn(v[t], v[t + OFF]);
        zf_cu_tile_fold<OFF / 2>(v);
    }
}

/* L256(q, k) (d <= 256: lane l holds q_l k_l, or +0 past d) for the group of
 * 8 threads this one (u = threadIdx.x % 8) belongs to: thread u takes lanes
 * u + 8t (t < NT, NT = 8, 16 or 32 as d <= 64, 128, 256), so the tree's
 * strides 128 .. 8 are adds inside the thread and 4, 2, 1 xor shuffles.
 * The strides whose partner lanes are all +0 (>= 8 NT) leave x + 0. */
template <int NT, int DKV>
__device__ __forceinline__ float zf_cu_tile_dot(const float *q, const void *k, int d, int u) {
    float v[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) {
        const int x = u + 8 * t;
        v[t] = x < d ? __fmaf_rn(q[x], zf_cu_load<DKV>(k, x), 0.0f) : 0.0f;
    }
    if (NT < 32)
#pragma unroll
        for (int t = 0; t < NT; t++) v[t] = __fadd_rn(v[t], 0.0f);
    zf_cu_tile_fold<NT / 2>(v);
    float w = v[0];
#pragma unroll
    for (int off = 4; off >= 1; off >>= 1) w = __fadd_rn(w, __shfl_xor_sync(0xffffffffu, w, off));
    return w;
}

/* zf_cu_attend (NUMERICS §9.4: the same scores, softmax and one fma chain
 * per column in key order) over keys 0 .. len-1, d <= 256, for blocks of
 * 256 threads; ring: ZF_CU_TILE_STAGES tiles of tk rows of rb bytes
 * (zf_cu_tile_row_bytes), 16-byte aligned; the K tiles, then the V tiles.
 * Row len-1 comes from keys.last / vals.last when they are set. q (f32, d)
 * is published before. */
template <int DQ, int DKV>
__device__ __forceinline__ void zf_cu_attend_tiles(const float *q, float *s, float *red, int64_t len, int d,
                                                   float scale, zf_cu_rows<typename zf_cu_elem<DKV>::type> keys,
                                                   zf_cu_rows<typename zf_cu_elem<DKV>::type> vals, char *ring,
                                                   int64_t rb, int tk, bool vec, void *op) {
    const int tid = threadIdx.x, g = tid / 8, u = tid % 8, rbi = (int)rb; /* a row is at most ~1 KB */
    const int64_t nmem = keys.last ? len - 1 : len; /* rows read from memory */
    const int nt = (int)((len + tk - 1) / tk);     /* tiles: len < 2^31 */
    const zf_cu_rowwalk w =
        zf_cu_rowwalk_of(tid, ZF_ATT_THREADS, vec ? d * (int)sizeof(typename zf_cu_elem<DKV>::type) / 16 : d);
    auto issue = [&](int i) {
        char *tile = ring + (i % ZF_CU_TILE_STAGES) * tk * rbi;
        if (i < nt) zf_cu_tile_issue(tile, keys.base, keys.stride, (int64_t)i * tk, nmem, rbi, tk, vec, w);
        else if (i < 2 * nt)
            zf_cu_tile_issue(tile, vals.base, vals.stride, (int64_t)(i - nt) * tk, nmem, rbi, tk, vec, w);
        else zf_cu_cp_commit(); /* nothing left: an empty group keeps the count */
    };
    for (int i = 0; i < ZF_CU_TILE_STAGES - 1; i++) issue(i);
    float acc = 0.0f, sum = 0.0f;
    for (int i = 0; i < 2 * nt; i++) {
        zf_cu_cp_wait(ZF_CU_TILE_STAGES - 2); /* this thread's copies of tile i have landed */
        __syncthreads();                      /* everyone's, and tile i - 1 is consumed */
        issue(i + ZF_CU_TILE_STAGES - 1);
        const char *tile = ring + (i % ZF_CU_TILE_STAGES) * tk * rbi;
        if (i < nt) { /* scores of keys i tk + r, r = g, g + 32, ...; past len: discarded */
            for (int r = g; r < tk; r += 32) {
                const int64_t j = (int64_t)i * tk + r;
                const void *k = j < nmem || !keys.last ? (const void *)(tile + r * rbi) : (const void *)keys.last;
                const float dot = d <= 64    ? zf_cu_tile_dot<8, DKV>(q, k, d, u)
                                  : d <= 128 ? zf_cu_tile_dot<16, DKV>(q, k, d, u)
                                             : zf_cu_tile_dot<32, DKV>(q, k, d, u);
                if (u == 0 && j < len) s[j] = __fmul_rn(dot, scale);
            }
            if (i == nt - 1) {
                __syncthreads();
                sum = zf_cu_softmax_scores(s, red, len);
            }
        } else if (tid < d) { /* column tid: its chain over the keys of the tile */
            const int64_t j0 = (int64_t)(i - nt) * tk;
            const int rows = (int)(nmem - j0 < tk ? nmem - j0 : tk);
            const float *sj = s + j0;
#pragma unroll 8
            for (int r = 0; r < rows; r++) acc = __fmaf_rn(sj[r], zf_cu_load<DKV>(tile + r * rbi, tid), acc);
            if (vals.last && len - 1 < j0 + tk) acc = __fmaf_rn(s[len - 1], zf_cu_load<DKV>(vals.last, tid), acc);
        }
    }
    if (tid < d) zf_cu_store<DQ>(op, tid, __fdiv_rn(acc, sum));
}

#endif
