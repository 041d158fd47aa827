/* zf_attention_decode on CUDA: one kernel does what (two rms_norms,) rope,
 * two copies and attention do for one decode token, with the position read
 * from device memory so that a recorded graph replays at the next position
 * unchanged. A block of 256 threads per q head:
 *   - with a norm, normalizes its q head and its kv head's k as norm.cu
 *     does a row (L256 sum of squares, the scale, both rounding points);
 *   - rotates them (rope.cu's products and sum, each result rounded to
 *     the activation dtype as rope's store does), converts k' and v to the
 *     cache dtype as copy.cu does, in shared memory;
 *   - the first q head of each kv group stores those two rows at p;
 *   - attends over keys 0..p, row p from its own shared copy: a block
 *     never reads what another block writes.
 * So out and the caches get the bits of the stock ops in that order.
 *
 * The attention is zf_cu_attend_tiles (head_dim <= 256) with large tiles:
 * one SmolLM2 layer's decode took ~158 us at 1024 positions on an H100
 * with zf_cu_attend's warp per key (docs/CUDA.md, session 16). */
#include "cuda/attend.cuh"
#include "cuda/l256.cuh"
#include "cuda/rms.cuh"

/* The decode kernel's tiles: the most keys (32, 64 or 128) whose ring fits
 * DEC_RING_MAX, so that ~100 KB are in flight per block (one block per q
 * head, on its own SM, moves the head's whole K and V: the bytes in flight
 * set its speed). */
#define DEC_RING_MAX (144 * 1024)
static int64_t dec_ring_floats(const zf_cu_attn_dec_args *a) {
    return ZF_CU_TILE_STAGES * a->tk * zf_cu_tile_row_bytes(a->d, (int64_t)zf_cu_dtype_size(a->tc)) / 4;
}

static_assert(ZF_ATT_THREADS == 256, "the norms' sums take one L256 lane per thread");

/* With a norm: q's and k's rows normalized (as f32 values of DA) into q and
 * kn; every thread of the block calls it. */
template <int DA>
__device__ __forceinline__ void dec_norms(const zf_cu_attn_dec_args &a, const void *qp, const void *kp, float *q,
                                          float *kn, float *red) {
    __shared__ float redk[ZF_ATT_THREADS], inv[2];
    const int tid = threadIdx.x;
    float sq = 0.0f, sk = 0.0f;
    for (int64_t j = tid; j < a.d; j += ZF_ATT_THREADS) { /* lane tid of L256, in order */
        const float xq = zf_cu_load<DA>(qp, j), xk = zf_cu_load<DA>(kp, j);
        q[j] = xq;
        kn[j] = xk;
        sq = __fmaf_rn(xq, xq, sq);
        sk = __fmaf_rn(xk, xk, sk);
    }
    red[tid] = sq;
    redk[tid] = sk;
    __syncthreads();
    if (tid < 64) { /* warp 0 sums q's lanes, warp 1 k's */
        const float ss = zf_cu_l256_tree(tid < 32 ? red : redk);
        if (tid % 32 == 0) inv[tid / 32] = zf_cu_rms_inv(ss, a.d, a.eps);
    }
    __syncthreads();
    for (int64_t j = tid; j < a.d; j += ZF_ATT_THREADS) {
        q[j] = zf_cu_round<DA>(__fmul_rn(zf_cu_round<DA>(__fmul_rn(q[j], inv[0])), zf_cu_load<DA>(a.wq, j)));
        kn[j] = zf_cu_round<DA>(__fmul_rn(zf_cu_round<DA>(__fmul_rn(kn[j], inv[1])), zf_cu_load<DA>(a.wk, j)));
    }
    __syncthreads(); /* red is the attention's next */
}

template <int DA, int DC> __global__ void __launch_bounds__(ZF_ATT_THREADS) dec_kernel(const zf_cu_attn_dec_args a) {
    /* q [d] f32; k', v [d] each in the cache dtype (2d floats' room); with a
     * norm, k normalized [d] f32; scores */
    extern __shared__ __align__(16) float sm_all[];
    __shared__ float red[ZF_ATT_THREADS];
    zf_cu_wait_prior();
    /* The next kernel (the o projection) launches now and starts its weight
     * copies while this grid (one block per q head: most SMs idle) attends;
     * its own wait still covers all of this grid. Released at the exit
     * instead, the SmolLM2-shaped decode ran 7% slower on edge, 2% on stable
     * (docs/CUDA.md, session 25). */
    zf_cu_release_next();
    typedef typename zf_cu_elem<DA>::type EA;
    typedef typename zf_cu_elem<DC>::type EC;
    const int group = (int)a.hq / (int)a.hkv; /* head counts are small: 32-bit divisions */
    const int64_t h = blockIdx.x, kh = (int)blockIdx.x / group, d = a.d, half = d / 2;
    const int tid = threadIdx.x;
    EA *op = (EA *)a.out + h * a.os1;
    const int64_t p = *a.pos;
    if (p < 0 || p >= a.rows) { /* the host cannot check p without a wait: NaN out, caches untouched */
        for (int64_t c = tid; c < d; c += ZF_ATT_THREADS) zf_cu_store<DA>(op, c, __int_as_float(0x7fc00000));
        return;
    }
    const bool norm = a.wq != nullptr;
    char *ring = (char *)sm_all; /* the tiles first (a.tk keys each; none: the warp path) */
    const int64_t rb = zf_cu_tile_row_bytes(d, sizeof(EC));
    float *sm = sm_all + ZF_CU_TILE_STAGES * a.tk * rb / 4;
    float *q = sm, *kn = sm + 3 * d, *s = sm + (norm ? 4 : 3) * d;
    EC *kown = (EC *)(sm + d), *vown = kown + d;
    const float *cs = a.cs + p * a.cs_stride;
    const EA *qp = (const EA *)a.q + h * a.qs1, *kp = (const EA *)a.k + kh * a.ks1, *vp = (const EA *)a.v + kh * a.vs1;
    if (norm) dec_norms<DA>(a, qp, kp, q, kn, red);
    for (int64_t u = tid; u < half; u += ZF_ATT_THREADS) { /* with a norm, q rotates in place */
        const int64_t ia = a.neox ? u : 2 * u, ib = a.neox ? u + half : 2 * u + 1;
        const float c = cs[2 * u], sn = cs[2 * u + 1];
        float x0 = norm ? q[ia] : zf_cu_load<DA>(qp, ia), x1 = norm ? q[ib] : zf_cu_load<DA>(qp, ib);
        q[ia] = zf_cu_round<DA>(__fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, sn)));
        q[ib] = zf_cu_round<DA>(__fadd_rn(__fmul_rn(x0, sn), __fmul_rn(x1, c)));
        x0 = norm ? kn[ia] : zf_cu_load<DA>(kp, ia);
        x1 = norm ? kn[ib] : zf_cu_load<DA>(kp, ib);
        zf_cu_store<DC>(kown, ia, zf_cu_round<DA>(__fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, sn))));
        zf_cu_store<DC>(kown, ib, zf_cu_round<DA>(__fadd_rn(__fmul_rn(x0, sn), __fmul_rn(x1, c))));
    }
    for (int64_t c = tid; c < d; c += ZF_ATT_THREADS) {
        if constexpr (DA == DC) vown[c] = vp[c]; /* copy.cu: the bits themselves */
        else zf_cu_store<DC>(vown, c, zf_cu_load<DA>(vp, c));
    }
    __syncthreads();
    EC *kc = (EC *)a.kc + kh * a.kcs0, *vc = (EC *)a.vc + kh * a.vcs0;
    if (h == kh * group)
        for (int64_t c = tid; c < d; c += ZF_ATT_THREADS) {
            kc[p * a.kcs1 + c] = kown[c];
            vc[p * a.vcs1 + c] = vown[c];
        }
    const zf_cu_rows<EC> keys = {kc, a.kcs1, kown}, vals = {vc, a.vcs1, vown};
    if (a.tk) zf_cu_attend_tiles<DA, DC>(q, s, red, p + 1, (int)d, a.scale, keys, vals, ring, rb, a.tk, a.vec, op);
    else zf_cu_attend<DA, DC>(q, s, red, p + 1, d, a.scale, keys, vals, op);
}

/* floats of shared memory: the tiles, q, k' and v, k normalized
 * (with a norm), the scores */
static int64_t dec_floats(const zf_cu_attn_dec_args *a) {
    return dec_ring_floats(a) + (a->wq ? 4 : 3) * a->d + a->rows;
}
static size_t dec_smem(const zf_cu_attn_dec_args *a) { return (size_t)dec_floats(a) * sizeof(float); }

template <int DA, int DC> static cudaError_t dec_go(const zf_cu_attn_dec_args *a, cudaStream_t s) {
    const size_t smem = dec_smem(a);
    cudaError_t e = zf_cu_allow_smem((const void *)dec_kernel<DA, DC>, smem);
    if (e != cudaSuccess) return e;
    return zf_cu_launch(dec_kernel<DA, DC>, dim3((unsigned)a->hq), dim3(ZF_ATT_THREADS), smem, s, *a);
}

template <int DA> static cudaError_t dec_cache(const zf_cu_attn_dec_args *a, cudaStream_t s) {
    switch (a->tc) {
    case ZF_DTYPE_F32: return dec_go<DA, 0>(a, s);
    case ZF_DTYPE_F16: return dec_go<DA, 1>(a, s);
    case ZF_DTYPE_BF16: return dec_go<DA, 2>(a, s);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t zf_cu_attention_decode(const zf_cu_attn_dec_args *a, cudaStream_t s) {
    switch (a->ta) {
    case ZF_DTYPE_F32: return dec_cache<0>(a, s);
    case ZF_DTYPE_F16: return dec_cache<1>(a, s);
    case ZF_DTYPE_BF16: return dec_cache<2>(a, s);
    default: return cudaErrorInvalidValue;
    }
}

typedef cudaError_t (*dec_fn)(const zf_cu_attn_dec_args *, cudaStream_t);

/* The arguments were checked by zf_check_attention_decode (libzfast); here
 * only what this device adds: where they live and the shared memory. */
static zf_status dec_args(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, const zf_qk_norm *norm,
                          const zf_tensor *cs, int neox, const zf_tensor *pos, zf_tensor *kc, zf_tensor *vc,
                          float scale, zf_tensor *out, zf_cu_attn_dec_args *a) {
    ZF_TRY(zf_cu_on_device("attention_decode", "q", q));
    *a = zf_cu_attn_dec_args{};
    a->ta = q->dtype;
    a->tc = kc->dtype;
    a->q = q->data;
    a->k = k->data;
    a->v = v->data;
    a->qs1 = q->stride[1];
    a->ks1 = k->stride[1];
    a->vs1 = v->stride[1];
    a->cs = (const float *)cs->data;
    a->cs_stride = cs->stride[0];
    a->pos = (const int32_t *)pos->data;
    a->kc = kc->data;
    a->vc = vc->data;
    a->kcs0 = kc->stride[0];
    a->kcs1 = kc->stride[1];
    a->vcs0 = vc->stride[0];
    a->vcs1 = vc->stride[1];
    a->out = out->data;
    a->os1 = out->stride[1];
    a->hq = q->shape[1];
    a->hkv = k->shape[1];
    a->d = q->shape[2];
    a->rows = cs->shape[0] < kc->shape[1] ? cs->shape[0] : kc->shape[1];
    a->scale = scale;
    a->neox = neox;
    const int64_t ces = (int64_t)zf_cu_dtype_size(kc->dtype);
    a->vec = zf_cu_tile_vec(kc->data, vc->data, a->d, ces, a->kcs0, a->kcs1, a->vcs0, a->vcs1);
    if (norm) {
        a->wq = norm->w_q->data;
        a->wk = norm->w_k->data;
        a->eps = norm->eps;
    }
    a->tk = a->d > 256 ? 0 : zf_cu_tile_keys(a->d, ces, DEC_RING_MAX);
    while (a->tk > 32 && dec_floats(a) > zf_cu_attn_max_floats) a->tk /= 2; /* a long cache: smaller tiles, */
    if (dec_floats(a) > zf_cu_attn_max_floats) a->tk = 0;                      /* or none (the warp path) */
    if (dec_floats(a) > zf_cu_attn_max_floats)
        return ZF_ERR(ZF_ERR_UNSUPPORTED, "[attention_decode] %lld positions of head_dim %lld need %lld floats of "
                      "shared memory; this device has room for %lld", (long long)a->rows, (long long)a->d,
                      (long long)dec_floats(a), (long long)zf_cu_attn_max_floats);
    if (a->hq > 0x7fffffff)
        return ZF_ERR(ZF_ERR_SHAPE, "[attention_decode] %lld heads; at most 2^31 - 1", (long long)a->hq);
    return ZF_OK;
}

zf_status zf_cuda_attention_decode(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v,
                                   const zf_qk_norm *norm, const zf_tensor *cs, int neox, const zf_tensor *pos,
                                   zf_tensor *kc, zf_tensor *vc, float scale, zf_tensor *out, const zf_opts *o) {
    zf_cu_attn_dec_args a;
    ZF_TRY(dec_args(q, k, v, norm, cs, neox, pos, kc, vc, scale, out, &a));
    const zf_variant *var;
    ZF_TRY(zf_cu_pick(ZF_OP_ATTENTION_DECODE, o, &var));
    cudaError_t e = ((dec_fn)var->fn)(&a, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail("attention_decode", var->name, e);
}

/* Against the CPU composition ((rms_norm,) rope, copy, attention), bit for
 * bit in out and both caches: every activation / cache dtype pair, both
 * pair styles each with and without the q/k norms, 6 q heads over 2 kv
 * heads, head_dim 40, 70 positions, p random in [0, 70) (the CPU's own
 * draw: I32 operands are in [0, scale)). */
int zf_cu_selftest_attention_decode(const zf_variant *v, char *msg, size_t size) {
    uint64_t rng = 0x9216d5d98979fb1bull;
    zf_opts stock = {ZF_FIDELITY_STOCK, NULL};
    int fail = 0;
    for (int c = 0; c < 9 && !fail; c++) { /* neox = c % 2; the norms where c / 3 + c is odd (all four pairs) */
        const int64_t d = 40, L = 70, qs[3] = {1, 6, d}, ks[3] = {1, 2, d}, cache[3] = {2, L, d},
                      tab[3] = {L, d / 2, 2}, one[1] = {1}, wd[1] = {d};
        zf_dtype ta = (zf_dtype)(c / 3), tc = (zf_dtype)(c % 3);
        zf_cu_st_buf q = {}, k = {}, vv = {}, cs = {}, pos = {}, kc = {}, vc = {}, out = {}, wq = {}, wk = {};
        fail = zf_cu_st_make(&q, ta, 3, qs, 2.0f, &rng, msg, size) || zf_cu_st_make(&k, ta, 3, ks, 2.0f, &rng, msg, size) ||
               zf_cu_st_make(&vv, ta, 3, ks, 3.0f, &rng, msg, size) ||
               zf_cu_st_make(&cs, ZF_DTYPE_F32, 3, tab, 1.0f, &rng, msg, size) ||
               zf_cu_st_make(&pos, ZF_DTYPE_I32, 1, one, (float)L, &rng, msg, size) ||
               zf_cu_st_make(&kc, tc, 3, cache, 2.0f, &rng, msg, size) ||
               zf_cu_st_make(&vc, tc, 3, cache, 3.0f, &rng, msg, size) ||
               zf_cu_st_make(&out, ta, 3, qs, 0.0f, &rng, msg, size) ||
               zf_cu_st_make(&wq, ta, 1, wd, 1.5f, &rng, msg, size) || zf_cu_st_make(&wk, ta, 1, wd, 1.5f, &rng, msg, size);
        const zf_qk_norm hn = {&wq.host, &wk.host, 1e-5f}, dn = {&wq.dev, &wk.dev, 1e-5f};
        const bool nm = (c / 3 + c) % 2;
        zf_cu_attn_dec_args a;
        if (!fail && (zf_cu_host->cpu->attention_decode(&q.host, &k.host, &vv.host, nm ? &hn : NULL, &cs.host, c % 2,
                                                        &pos.host, &kc.host, &vc.host, 0.158f, &out.host, &stock) != ZF_OK ||
                      dec_args(&q.dev, &k.dev, &vv.dev, nm ? &dn : NULL, &cs.dev, c % 2, &pos.dev, &kc.dev, &vc.dev,
                               0.158f, &out.dev, &a) != ZF_OK)) {
            snprintf(msg, size, "the CPU attention_decode or the argument check failed");
            fail = 1;
        }
        cudaError_t e = fail ? cudaSuccess : ((dec_fn)v->fn)(&a, 0);
        if (e != cudaSuccess) { snprintf(msg, size, "launch: %s", cudaGetErrorName(e)); fail = 1; }
        if (!fail) fail = zf_cu_st_compare(&out, "out", msg, size) || zf_cu_st_compare(&kc, "kc", msg, size) ||
                          zf_cu_st_compare(&vc, "vc", msg, size);
        for (zf_cu_st_buf *b : {&q, &k, &vv, &cs, &pos, &kc, &vc, &out, &wq, &wk}) zf_cu_st_free(b);
    }
    return fail;
}
