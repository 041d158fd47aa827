/* Causal grouped-query attention on CUDA (docs/NUMERICS.md §9.4,
 * src/cpu/attention.c), a block of 256 threads per (query, head); the order
 * is zf_cu_attend's (cuda/attend.cuh), through shared-memory tiles of 32
 * keys for head_dim <= 256 where they leave room for the scores
 * (zf_cu_attend_tiles: a ring of ~37-70 KB at head_dim 64-128, so several
 * blocks share an SM). q and the scores live in shared memory
 * (zf_cu_attn_max_floats). */
#include "cuda/attend.cuh"

int64_t zf_cu_attn_max_floats;

template <int DQ, int DKV> __global__ void __launch_bounds__(ZF_ATT_THREADS) attn_kernel(const zf_cu_attn_args a) {
    extern __shared__ __align__(16) float sm_all[]; /* the tiles (d <= 256), q [d], then scores [t] */
    __shared__ float red[ZF_ATT_THREADS];
    zf_cu_wait_prior();
    typedef typename zf_cu_elem<DQ>::type EQ;
    typedef typename zf_cu_elem<DKV>::type EKV;
    const int hq = (int)a.hq, unit = blockIdx.x; /* 32-bit divisions: a grid row and head counts */
    const int64_t i = unit / hq, h = unit % hq, kh = (int)h / (hq / (int)a.hkv);
    const int64_t len = a.t - a.m + i + 1, d = a.d, rb = zf_cu_tile_row_bytes(d, sizeof(EKV));
    float *q = sm_all + ZF_CU_TILE_STAGES * a.tk * rb / 4, *s = q + d;
    const EQ *qp = (const EQ *)a.q + i * a.qs0 + h * a.qs1;
    for (int64_t c = threadIdx.x; c < d; c += ZF_ATT_THREADS) q[c] = zf_cu_load<DQ>(qp, c);
    __syncthreads();
    const zf_cu_rows<EKV> keys = {(const EKV *)a.k + kh * a.ks0, a.ks1, nullptr},
                          vals = {(const EKV *)a.v + kh * a.vs0, a.vs1, nullptr};
    EQ *op = (EQ *)a.out + i * a.os0 + h * a.os1;
    if (a.tk) zf_cu_attend_tiles<DQ, DKV>(q, s, red, len, (int)d, a.scale, keys, vals, (char *)sm_all, rb, a.tk, a.vec, op);
    else zf_cu_attend<DQ, DKV>(q, s, red, len, d, a.scale, keys, vals, op);
}

/* floats of shared memory for t keys of head_dim d in elements of es bytes
 * with tiles of tk keys (0: none): the tiles, q, the scores */
static int64_t attn_floats(int64_t t, int64_t d, int64_t es, int tk) {
    return ZF_CU_TILE_STAGES * tk * zf_cu_tile_row_bytes(d, es) / 4 + d + t;
}

/* keys per shared-memory tile: 32, or 0 (the warp path, rows straight from
 * global memory) above head_dim 256 and where the tiles (20-135 KB) would
 * leave no room for the scores of a long context, which the warp path
 * still takes (up to ~57,000 keys on an H100) */
static int attn_tile_keys(int64_t t, int64_t d, int64_t es) {
    return d <= 256 && attn_floats(t, d, es, 32) <= zf_cu_attn_max_floats ? 32 : 0;
}

template <int DQ, int DKV> static cudaError_t attn_go(const zf_cu_attn_args *a, cudaStream_t s) {
    size_t smem = (size_t)attn_floats(a->t, a->d, (int64_t)zf_cu_dtype_size(a->tkv), a->tk) * sizeof(float);
    cudaError_t e = zf_cu_allow_smem((const void *)attn_kernel<DQ, DKV>, smem);
    if (e != cudaSuccess) return e;
    return zf_cu_launch(attn_kernel<DQ, DKV>, dim3((unsigned)(a->m * a->hq)), dim3(ZF_ATT_THREADS), smem, s, *a);
}

template <int DQ> static cudaError_t attn_kv(const zf_cu_attn_args *a, cudaStream_t s) {
    switch (a->tkv) {
    case ZF_DTYPE_F32: return attn_go<DQ, 0>(a, s);
    case ZF_DTYPE_F16: return attn_go<DQ, 1>(a, s);
    case ZF_DTYPE_BF16: return attn_go<DQ, 2>(a, s);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t zf_cu_attention(const zf_cu_attn_args *a, cudaStream_t s) {
    switch (a->tq) {
    case ZF_DTYPE_F32: return attn_kv<0>(a, s);
    case ZF_DTYPE_F16: return attn_kv<1>(a, s);
    case ZF_DTYPE_BF16: return attn_kv<2>(a, s);
    default: return cudaErrorInvalidValue;
    }
}

typedef cudaError_t (*attn_fn)(const zf_cu_attn_args *, cudaStream_t);

static zf_status attn_args(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, float scale, zf_tensor *out,
                           zf_cu_attn_args *a) {
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(H->check_float("attention", "q", q));
    ZF_TRY(H->check_float("attention", "k", k));
    ZF_TRY(H->check_float("attention", "v", v));
    ZF_TRY(H->check_float("attention", "out", out));
    if (q->ndim != 3 || k->ndim != 3 || v->ndim != 3)
        return ZF_ERR(ZF_ERR_SHAPE, "[attention] q, k and v need 3 axes: q [tokens, heads, head_dim], "
                      "k and v [kv_heads, keys, head_dim]");
    ZF_TRY(H->check_same("attention", "q", q, "out", out));
    ZF_TRY(H->check_same("attention", "k", k, "v", v));
    if (q->device != k->device) return ZF_ERR(ZF_ERR_INVALID_ARG, "[attention] q and k are on different devices");
    if (k->shape[2] != q->shape[2])
        return ZF_ERR(ZF_ERR_SHAPE, "[attention] k has head_dim %lld but q has %lld", (long long)k->shape[2],
                      (long long)q->shape[2]);
    if (q->shape[1] % k->shape[0])
        return ZF_ERR(ZF_ERR_SHAPE, "[attention] q has %lld heads, not a multiple of k's %lld kv heads",
                      (long long)q->shape[1], (long long)k->shape[0]);
    if (k->shape[1] < q->shape[0])
        return ZF_ERR(ZF_ERR_SHAPE, "[attention] %lld keys for %lld queries; the queries are the last keys' "
                      "positions, so keys >= queries", (long long)k->shape[1], (long long)q->shape[0]);
    if (!(fabsf(scale) <= 3.0e38f))
        return ZF_ERR(ZF_ERR_INVALID_ARG, "[attention] scale = %g; expected a finite value", (double)scale);
    const int64_t es = (int64_t)zf_cu_dtype_size(k->dtype);
    const int tk = attn_tile_keys(k->shape[1], q->shape[2], es);
    const int64_t need = attn_floats(k->shape[1], q->shape[2], es, tk);
    if (need > zf_cu_attn_max_floats)
        return ZF_ERR(ZF_ERR_UNSUPPORTED, "[attention] %lld keys of head_dim %lld: q and the scores need %lld floats "
                      "of shared memory; this device has room for %lld", (long long)k->shape[1],
                      (long long)q->shape[2], (long long)need, (long long)zf_cu_attn_max_floats);
    ZF_TRY(H->check_alias("attention", "out", out, "q", q));
    ZF_TRY(H->check_alias("attention", "out", out, "k", k));
    ZF_TRY(H->check_alias("attention", "out", out, "v", v));
    if (out->data == q->data)
        return ZF_ERR(ZF_ERR_ALIAS, "[attention] out may not be q: every head reads q while others write");
    ZF_TRY(zf_cu_on_device("attention", "q", q));
    if (q->shape[0] * q->shape[1] > 0x7fffffff)
        return ZF_ERR(ZF_ERR_SHAPE, "[attention] %lld (query, head) pairs; at most 2^31 - 1 per call",
                      (long long)(q->shape[0] * q->shape[1]));
    *a = zf_cu_attn_args{};
    a->tq = q->dtype;
    a->tkv = k->dtype;
    a->q = q->data;
    a->k = k->data;
    a->v = v->data;
    a->out = out->data;
    a->m = q->shape[0];
    a->hq = q->shape[1];
    a->hkv = k->shape[0];
    a->t = k->shape[1];
    a->d = q->shape[2];
    a->qs0 = q->stride[0];
    a->qs1 = q->stride[1];
    a->ks0 = k->stride[0];
    a->ks1 = k->stride[1];
    a->vs0 = v->stride[0];
    a->vs1 = v->stride[1];
    a->os0 = out->stride[0];
    a->os1 = out->stride[1];
    a->scale = scale;
    a->vec = zf_cu_tile_vec(k->data, v->data, a->d, es, a->ks0, a->ks1, a->vs0, a->vs1);
    a->tk = tk;
    return ZF_OK;
}

zf_status zf_cuda_attention(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, float scale, zf_tensor *out,
                            const zf_opts *o) {
    zf_cu_attn_args a;
    ZF_TRY(attn_args(q, k, v, scale, out, &a));
    const zf_variant *var;
    ZF_TRY(zf_cu_pick(ZF_OP_ATTENTION, o, &var));
    cudaError_t e = ((attn_fn)var->fn)(&a, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail("attention", var->name, e);
}

/* Every q / kv dtype pair: 3 queries, 4 heads over 2 kv heads, 300 keys
 * (more than the 256 lanes), head_dim 40; then head_dim 300 in f32. */
int zf_cu_selftest_attention(const zf_variant *v, char *msg, size_t size) {
    uint64_t rng = 0x452821e638d01377ull;
    zf_opts stock = {ZF_FIDELITY_STOCK, NULL};
    int fail = 0;
    for (int c = 0; c < 10 && !fail; c++) {
        int64_t d = c < 9 ? 40 : 300;
        const int64_t qs[3] = {3, 4, d}, ks[3] = {2, 300, d};
        zf_dtype tq = (zf_dtype)(c < 9 ? c / 3 : 0), tkv = (zf_dtype)(c < 9 ? c % 3 : 0);
        zf_cu_st_buf q = {}, k = {}, vv = {}, out = {};
        fail = zf_cu_st_make(&q, tq, 3, qs, 2.0f, &rng, msg, size) || zf_cu_st_make(&k, tkv, 3, ks, 2.0f, &rng, msg, size) ||
               zf_cu_st_make(&vv, tkv, 3, ks, 3.0f, &rng, msg, size) || zf_cu_st_make(&out, tq, 3, qs, 0.0f, &rng, msg, size);
        zf_cu_attn_args a;
        if (!fail && (zf_cu_host->cpu->attention(&q.host, &k.host, &vv.host, 0.158f, &out.host, &stock) != ZF_OK ||
                      attn_args(&q.dev, &k.dev, &vv.dev, 0.158f, &out.dev, &a) != ZF_OK)) {
            snprintf(msg, size, "the CPU attention or the argument check failed");
            fail = 1;
        }
        cudaError_t e = fail ? cudaSuccess : ((attn_fn)v->fn)(&a, 0);
        if (e != cudaSuccess) { snprintf(msg, size, "launch: %s", cudaGetErrorName(e)); fail = 1; }
        if (!fail) fail = zf_cu_st_compare(&out, "out", msg, size);
        for (zf_cu_st_buf *b : {&q, &k, &vv, &out}) zf_cu_st_free(b);
    }
    return fail;
}
