/* The CUDA model ops (embedding, rope, softmax, attention, attention_decode,
 * float matmul, copy): raw-pointer launchers (the registry's `fn`, argument structs in,
 * cudaError_t out) and the checked entry points of the plugin's op table.
 * Every kernel follows the CPU stock path's operations and order
 * (docs/NUMERICS.md §9), so the bits are the CPU's. */
#ifndef ZF_CUDA_MODEL_OPS_CUH
#define ZF_CUDA_MODEL_OPS_CUH

#include <stdio.h>

#include "cuda/check.cuh"
#include "cuda/dtype.cuh"
#include "cuda/kernels.cuh"

/* copy: rows of `cols` contiguous elements under up to 3 leading axes
 * (padded with 1s), each with its own strides (elements) in x and out. */
typedef struct zf_cu_copy_args {
    zf_dtype tx, to;
    const void *x;
    void *out;
    int64_t shape[3], xs[3], os[3], cols;
} zf_cu_copy_args;

/* embedding: out row i = table row ids[i] in out's dtype. Float table when
 * packed is NULL; else affine rows w = T(scale * q + bias). An id outside
 * [0, vocab) (not checked on the host: that would need a sync) gives a row
 * of NaN. */
typedef struct zf_cu_embed_args {
    const void *table;
    zf_dtype tt;
    int64_t table_stride;
    const uint32_t *packed;
    const void *scales, *biases;
    zf_dtype st;
    int bits, group_size;
    const int32_t *ids;
    int64_t m, vocab, dim;
    void *out;
    zf_dtype to;
    int64_t out_stride;
} zf_cu_embed_args;

/* rope: x, out [m, heads, dims] with strides (s0, s1, 1); cs rows of dims/2
 * (cos, sin) pairs, cs_stride floats apart. */
typedef struct zf_cu_rope_args {
    zf_dtype t;
    const void *x;
    void *out;
    const float *cs;
    int64_t m, heads, dims, xs0, xs1, os0, os1, cs_stride;
    int neox;
} zf_cu_rope_args;

/* softmax: rows of n, row strides xs and os. */
typedef struct zf_cu_softmax_args {
    zf_dtype t;
    const void *x;
    void *out;
    int64_t rows, n, xs, os;
} zf_cu_softmax_args;

/* attention: q, out [m, hq, d]; k, v [hkv, t, d]; strides of the two
 * leading axes (the last is 1). */
typedef struct zf_cu_attn_args {
    zf_dtype tq, tkv;
    const void *q, *k, *v;
    void *out;
    int64_t m, hq, hkv, t, d;
    int64_t qs0, qs1, ks0, ks1, vs0, vs1, os0, os1;
    float scale;
    bool vec; /* k's and v's rows can be copied 16 bytes at a time */
    int tk;   /* keys per shared-memory tile (32), 0: none (head_dim > 256, or no room beside the scores) */
} zf_cu_attn_args;

/* attention_decode: one token; q, out [1, hq, d], k, v [1, hkv, d] in ta
 * with head strides qs1.. os1; the caches [hkv, positions, d] in tc; the
 * position at *pos, valid in [0, rows). */
typedef struct zf_cu_attn_dec_args {
    zf_dtype ta, tc;
    const void *q, *k, *v;
    int64_t qs1, ks1, vs1;
    const float *cs;
    int64_t cs_stride;
    const int32_t *pos;
    void *kc, *vc;
    int64_t kcs0, kcs1, vcs0, vcs1;
    void *out;
    int64_t os1, hq, hkv, d, rows;
    float scale;
    int neox;
    const void *wq, *wk; /* the q and k norms' weights [d] in ta, or NULL: no norm */
    float eps;
    bool vec; /* the caches' rows can be copied 16 bytes at a time */
    int tk;   /* keys per shared-memory tile (32, 64 or 128), 0: none (head_dim > 256, or no room beside the scores) */
} zf_cu_attn_dec_args;

/* matmul: y [m, n] = x [m, k] @ W [n, k]^T, row strides xs, ws, ys. */
typedef struct zf_cu_matmul_args {
    zf_dtype tx, tw;
    const void *x, *w;
    void *y;
    int64_t m, n, k, xs, ws, ys;
} zf_cu_matmul_args;

cudaError_t zf_cu_copy(const zf_cu_copy_args *a, cudaStream_t s);
cudaError_t zf_cu_embedding(const zf_cu_embed_args *a, cudaStream_t s);
cudaError_t zf_cu_rope(const zf_cu_rope_args *a, cudaStream_t s);
cudaError_t zf_cu_softmax(const zf_cu_softmax_args *a, cudaStream_t s);
cudaError_t zf_cu_attention(const zf_cu_attn_args *a, cudaStream_t s);
cudaError_t zf_cu_attention_decode(const zf_cu_attn_dec_args *a, cudaStream_t s);
cudaError_t zf_cu_matmul(const zf_cu_matmul_args *a, cudaStream_t s);

/* Floats of shared memory one attention block may use (set at init from
 * the device's limit): the key/value tiles, q and the scores live there. */
extern int64_t zf_cu_attn_max_floats;

zf_status zf_cuda_copy(const zf_tensor *x, zf_tensor *out, const zf_opts *o);
zf_status zf_cuda_embedding(const zf_tensor *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o);
zf_status zf_cuda_embedding_q(const zf_qweight *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o);
zf_status zf_cuda_rope(const zf_tensor *x, const zf_tensor *cs, int neox, zf_tensor *out, const zf_opts *o);
zf_status zf_cuda_softmax(const zf_tensor *x, zf_tensor *out, const zf_opts *o);
zf_status zf_cuda_attention(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, float scale, zf_tensor *out,
                            const zf_opts *o);
zf_status zf_cuda_matmul(const zf_tensor *x, const zf_tensor *w, zf_tensor *y, const zf_opts *o);
zf_status zf_cuda_attention_decode(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v,
                                   const zf_qk_norm *norm, const zf_tensor *cs, int neox, const zf_tensor *pos,
                                   zf_tensor *kc, zf_tensor *vc, float scale, zf_tensor *out, const zf_opts *o);

/* Self-test of a model-op variant against the CPU stock op on small fresh
 * inputs, bit for bit (any NaN equals any NaN): the dispatcher
 * (src/cuda/model_selftest.cu) and each op's own test, in its file. */
int zf_cu_selftest_model(const struct zf_variant *v, char *msg, size_t msg_size);
int zf_cu_selftest_copy(const struct zf_variant *v, char *msg, size_t msg_size);
int zf_cu_selftest_embedding(const struct zf_variant *v, char *msg, size_t msg_size);
int zf_cu_selftest_rope(const struct zf_variant *v, char *msg, size_t msg_size);
int zf_cu_selftest_softmax(const struct zf_variant *v, char *msg, size_t msg_size);
int zf_cu_selftest_attention(const struct zf_variant *v, char *msg, size_t msg_size);
int zf_cu_selftest_attention_decode(const struct zf_variant *v, char *msg, size_t msg_size);
int zf_cu_selftest_matmul(const struct zf_variant *v, char *msg, size_t msg_size);

/* Self-test operands: a host tensor with fresh values and its device copy. */
typedef struct zf_cu_st_buf {
    zf_tensor host, dev;
    size_t bytes;
} zf_cu_st_buf;
/* Allocates [shape] of dtype t (contiguous) on both sides; the host copy
 * holds values in [-scale, scale) (some tiny, some large), the device copy
 * the same bits, or 0x7f bytes when scale is 0 (a poisoned output). */
int zf_cu_st_make(zf_cu_st_buf *b, zf_dtype t, int ndim, const int64_t *shape, float scale, uint64_t *rng,
                  char *msg, size_t size);
/* Copies the device result back and compares it with the host one, bit for
 * bit; 0 when equal, else a message naming the first difference. */
int zf_cu_st_compare(const zf_cu_st_buf *b, const char *what, char *msg, size_t size);
void zf_cu_st_free(zf_cu_st_buf *b);

/* ---- shared by the model-op files ------------------------------------------ */

/* An element of a float dtype known only at run time, as f32 (exact). */
__device__ __forceinline__ float zf_cu_load_any(zf_dtype t, const void *p, int64_t i) {
    return t == ZF_DTYPE_F32 ? ((const float *)p)[i] : zf_cu_from_bits(((const uint16_t *)p)[i], (int)t);
}

/* For blocks of 256 threads. The canonical L256 fold (NUMERICS §4): thread l
 * holds lane l; s = 128 .. 1: lane l += lane l + s. Every thread gets S. */
__device__ __forceinline__ float zf_cu_l256_fold256(float *sh, float lane) {
    const int l = threadIdx.x;
    sh[l] = lane;
    __syncthreads();
    for (int s = 128; s >= 1; s >>= 1) {
        if (l < s) sh[l] = __fadd_rn(sh[l], sh[l + s]);
        __syncthreads();
    }
    float r = sh[0];
    __syncthreads(); /* sh may be reused */
    return r;
}

/* The largest of the threads' values (none NaN: each thread scans with
 * `if (v > m) m = v` from -inf, as the CPU does), for blocks of 256. */
__device__ __forceinline__ float zf_cu_max256(float *sh, float v) {
    const int l = threadIdx.x;
    sh[l] = v;
    __syncthreads();
    for (int s = 128; s >= 1; s >>= 1) {
        if (l < s && sh[l + s] > sh[l]) sh[l] = sh[l + s];
        __syncthreads();
    }
    float r = sh[0];
    __syncthreads();
    return r;
}

static inline zf_fidelity zf_cu_fidelity(const zf_opts *o) { return o ? o->fidelity : ZF_FIDELITY_AUTO; }
/* "[op] arg is not on the CUDA device" unless it is. */
zf_status zf_cu_on_device(const char *op, const char *arg, const zf_tensor *t);
/* The variant of `id` for these options, or an error. */
zf_status zf_cu_pick(zf_op id, const zf_opts *o, const struct zf_variant **v);

#endif
