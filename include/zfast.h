/* zfast: fused LLM-inference primitives that change no token.
 *
 * The whole public C API. Every function returns a zf_status; on failure
 * zf_last_error() names what was wrong and no output has been written.
 * The library never aborts, exits or prints.
 *
 * Data is described by zf_tensor: a pointer, a dtype and int64 shape and
 * strides (in elements, row-major, last axis contiguous). Where an op works
 * on rows, the last axis is the row and all leading axes are flattened.
 */
#ifndef ZFAST_H
#define ZFAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZF_VERSION_MAJOR 0
#define ZF_VERSION_MINOR 1
#define ZF_VERSION_PATCH 0
#define ZF_VERSION_STRING "0.1.0"

#if defined(_WIN32)
#define ZF_API __declspec(dllexport)
#else
#define ZF_API __attribute__((visibility("default")))
#endif

/* ---- status ------------------------------------------------------------ */

typedef enum zf_status {
    ZF_OK = 0,
    ZF_ERR_INVALID_ARG,   /* NULL pointer, bad size, bad value */
    ZF_ERR_SHAPE,         /* shapes or strides that do not fit together */
    ZF_ERR_DTYPE,         /* dtype not supported by this op */
    ZF_ERR_ALIAS,         /* outputs overlap inputs in a way the op cannot allow */
    ZF_ERR_UNSUPPORTED,   /* valid request this build or machine cannot serve */
    ZF_ERR_NO_MEMORY,
    ZF_ERR_BACKEND,       /* the backend (CUDA driver/runtime) reported an error */
    ZF_ERR_IO,            /* file could not be read or written */
    ZF_ERR_FORMAT,        /* malformed file contents */
    ZF_ERR_SELFTEST,      /* no trusted kernel variant for this request */
    ZF_STATUS_COUNT
} zf_status;

/* Message for the last failed call on this thread ("" when none). */
ZF_API const char *zf_last_error(void);
ZF_API const char *zf_status_name(zf_status s);

ZF_API const char *zf_version(void);     /* "0.1.0" */
ZF_API const char *zf_build_info(void);  /* commit, compiler, flags */

/* ---- dtypes ------------------------------------------------------------ */

typedef enum zf_dtype {
    ZF_DTYPE_F32 = 0,
    ZF_DTYPE_F16,
    ZF_DTYPE_BF16,
    ZF_DTYPE_U32,   /* packed quantized weights */
    ZF_DTYPE_I32,   /* indices */
    ZF_DTYPE_COUNT
} zf_dtype;

ZF_API const char *zf_dtype_name(zf_dtype t);
ZF_API size_t zf_dtype_size(zf_dtype t);
/* Parse "f32" / "f16" / "bf16"; error on anything else. */
ZF_API zf_status zf_dtype_parse(const char *s, zf_dtype *out);

/* Round-to-nearest-even conversions; NaN stays NaN (quiet). */
ZF_API uint16_t zf_f32_to_f16(float x);
ZF_API float zf_f16_to_f32(uint16_t h);
ZF_API uint16_t zf_f32_to_bf16(float x);
ZF_API float zf_bf16_to_f32(uint16_t h);

/* ---- the library's own transcendentals (docs/NUMERICS.md) ---------------- */

ZF_API float zf_expf(float x);
ZF_API float zf_sigmoidf(float x);
ZF_API float zf_siluf(float x);

/* ---- tensors ------------------------------------------------------------ */

#define ZF_MAX_DIMS 4

typedef enum zf_device {
    ZF_DEVICE_CPU = 0,
    ZF_DEVICE_CUDA,
    ZF_DEVICE_COUNT
} zf_device;

typedef struct zf_tensor {
    void *data;
    zf_dtype dtype;
    zf_device device;
    int32_t ndim;                  /* 1..ZF_MAX_DIMS */
    int64_t shape[ZF_MAX_DIMS];
    int64_t stride[ZF_MAX_DIMS];   /* in elements; stride[ndim-1] must be 1 */
} zf_tensor;

/* A contiguous CPU tensor view (strides filled row-major). */
ZF_API zf_tensor zf_tensor_1d(void *data, zf_dtype t, int64_t n);
ZF_API zf_tensor zf_tensor_2d(void *data, zf_dtype t, int64_t rows, int64_t cols);
ZF_API zf_tensor zf_tensor_nd(void *data, zf_dtype t, int32_t ndim, const int64_t *shape);
ZF_API int64_t zf_tensor_numel(const zf_tensor *t);

/* ---- tiers, fidelity, options ------------------------------------------ */

typedef enum zf_tier {
    ZF_TIER_STABLE = 0,  /* stock ops + fused-exact kernels (default) */
    ZF_TIER_FAST,        /* + validated fused-fast kernels */
    ZF_TIER_EDGE,        /* + unvalidated experiments */
    ZF_TIER_COUNT
} zf_tier;

ZF_API zf_status zf_set_tier(zf_tier t);
ZF_API zf_tier zf_get_tier(void);
ZF_API const char *zf_tier_name(zf_tier t);
/* Checks ZF_TIER and ZF_CPU_ISA; a value that names nothing is an error.
 * Ops run this check too and fail the same way. */
ZF_API zf_status zf_env_check(void);
ZF_API zf_status zf_tier_parse(const char *s, zf_tier *out);

typedef enum zf_fidelity {
    ZF_FIDELITY_AUTO = 0, /* the tier decides */
    ZF_FIDELITY_STOCK,    /* the unfused composition of stock ops */
    ZF_FIDELITY_EXACT,    /* fused, bit-identical to STOCK */
    ZF_FIDELITY_FAST,     /* fused, f32 intermediates; within a stated bound */
    ZF_FIDELITY_APPROX,   /* lower-precision arithmetic (e.g. int8 activations); a looser stated bound */
    ZF_FIDELITY_COUNT
} zf_fidelity;

ZF_API const char *zf_fidelity_name(zf_fidelity f);
/* The fidelity used where a call passes AUTO (no zf_opts, or AUTO in it).
 * AUTO (the default) lets the tier decide; STOCK runs every fused op as its
 * unfused composition, which is how `zf validate` gets the reference path. */
ZF_API zf_status zf_set_default_fidelity(zf_fidelity f);
ZF_API zf_fidelity zf_get_default_fidelity(void);

/* On a CUDA stream an op may start while the op before it still runs
 * (programmatic dependent launch, sm_90 and later); it reads that op's
 * outputs only once the op has finished. Weight operands are the exception:
 * a few-row rms_norm / add_rms_norm reads its w, and the edge tier's
 * few-row qmm its quantized weights, scales and biases, as it starts. So a
 * weight must not be written by a zf op still in flight on the same stream:
 * upload weights with zf_memcpy, or put zf_stream_synchronize (or a
 * zf_memcpy on that stream) between the op that writes one and its use.
 * ZF_CUDA_PDL=0 in the environment turns programmatic launch off: every
 * kernel then waits for the whole one before it (`zf caps` says which). */
typedef struct zf_stream zf_stream; /* opaque; a CUDA stream (NULL: default) */

/* Per-call options; pass NULL for defaults. */
typedef struct zf_opts {
    zf_fidelity fidelity; /* AUTO: tier decides */
    zf_stream *stream;    /* CUDA ops: the stream to enqueue on */
} zf_opts;

/* ---- devices and memory -------------------------------------------------- */

/* ZF_OK when a CUDA device is usable; otherwise an error saying why not
 * (no plugin built, no driver, no device). */
ZF_API zf_status zf_cuda_available(void);
ZF_API zf_status zf_stream_create(zf_stream **s);
ZF_API zf_status zf_stream_destroy(zf_stream *s);
ZF_API zf_status zf_stream_synchronize(zf_stream *s);
/* CUDA graphs: the zf_ calls enqueued on a stream (not the default stream,
 * which cannot be recorded) between zf_graph_begin and zf_graph_end are
 * recorded instead of run; zf_graph_launch replays them with one launch.
 * zf_graph_end with *g NULL makes a new graph; with an existing *g it
 * updates that graph in place when the recording has the same kernels in
 * the same order (only arguments such as pointers or lengths changed),
 * which is much cheaper than a new one, and rebuilds it otherwise.
 * After an error *g is unchanged or NULL (its old graph destroyed), so
 * zf_graph_destroy(*g) is right either way. zf_graph_cancel ends a
 * recording and drops it (after a failed call). */
typedef struct zf_graph zf_graph; /* opaque; an instantiated CUDA graph */
ZF_API zf_status zf_graph_begin(zf_stream *s);
ZF_API zf_status zf_graph_end(zf_stream *s, zf_graph **g);
ZF_API zf_status zf_graph_cancel(zf_stream *s);
ZF_API zf_status zf_graph_launch(zf_graph *g, zf_stream *s);
ZF_API zf_status zf_graph_destroy(zf_graph *g);
/* Memory on a device (ZF_DEVICE_CPU: aligned host memory). */
ZF_API zf_status zf_device_alloc(zf_device dev, size_t bytes, void **ptr);
ZF_API zf_status zf_device_free(zf_device dev, void *ptr);
/* Copy between any two devices; asynchronous on `s` when a GPU is involved. */
ZF_API zf_status zf_memcpy(void *dst, zf_device dst_dev, const void *src, zf_device src_dev, size_t bytes,
                           zf_stream *s);

/* ---- runtime configuration --------------------------------------------- */

/* Threads for CPU ops (0: one per core). Takes effect for the next call. */
ZF_API zf_status zf_set_num_threads(int n);
ZF_API int zf_get_num_threads(void);

typedef enum zf_cpu_isa {
    ZF_CPU_ISA_SCALAR = 0,
    ZF_CPU_ISA_AVX2,      /* AVX2 + FMA + F16C */
    ZF_CPU_ISA_AVX512,    /* AVX-512 F/BW/VL (+ BF16 where present) */
    ZF_CPU_ISA_COUNT
} zf_cpu_isa;

/* Cap the SIMD level used by CPU kernels (for tests and comparisons).
 * Asking for more than the machine has is an error. Env: ZF_CPU_ISA. */
ZF_API zf_status zf_set_cpu_isa(zf_cpu_isa isa);
ZF_API zf_cpu_isa zf_get_cpu_isa(void);        /* current cap */
ZF_API zf_cpu_isa zf_cpu_isa_detected(void);   /* best the machine has */
ZF_API const char *zf_cpu_isa_name(zf_cpu_isa isa);
ZF_API zf_status zf_cpu_isa_parse(const char *s, zf_cpu_isa *out);

/* ---- ops ---------------------------------------------------------------- */
/* Shapes: elementwise ops take same-shaped tensors; row ops take [..., n]
 * with w of shape [n]. All f32/f16/bf16 unless said otherwise; all operands
 * of one call share a dtype and a device. */

/* stock */
ZF_API zf_status zf_add(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o);
ZF_API zf_status zf_mul(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o);
ZF_API zf_status zf_silu(const zf_tensor *x, zf_tensor *out, const zf_opts *o);
/* d_x = d_out * silu'(x) */
ZF_API zf_status zf_silu_vjp(const zf_tensor *x, const zf_tensor *d_out, zf_tensor *d_x,
                             const zf_opts *o);

/* y = T(T(x * inv) * w), inv = 1/sqrt(mean(x^2) + eps), per row. */
ZF_API zf_status zf_rms_norm(const zf_tensor *x, const zf_tensor *w, float eps, zf_tensor *y,
                             const zf_opts *o);
/* Given d_y: d_x (shape of x) and d_w (shape of w, f32 or T; may be NULL). */
ZF_API zf_status zf_rms_norm_vjp(const zf_tensor *x, const zf_tensor *w, float eps,
                                 const zf_tensor *d_y, zf_tensor *d_x, zf_tensor *d_w,
                                 const zf_opts *o);

/* fused: out = silu(gate) * up */
ZF_API zf_status zf_swiglu(const zf_tensor *gate, const zf_tensor *up, zf_tensor *out,
                           const zf_opts *o);
ZF_API zf_status zf_swiglu_vjp(const zf_tensor *gate, const zf_tensor *up,
                               const zf_tensor *d_out, zf_tensor *d_gate, zf_tensor *d_up,
                               const zf_opts *o);

/* fused: h = x + residual; y = rms_norm(h, w, eps). */
ZF_API zf_status zf_add_rms_norm(const zf_tensor *x, const zf_tensor *residual,
                                 const zf_tensor *w, float eps, zf_tensor *y, zf_tensor *h,
                                 const zf_opts *o);
/* Given d_y and (optionally, may be NULL) d_h flowing into h from elsewhere:
 * d_x (== d_residual) and d_w (may be NULL). h is the forward's h output. */
ZF_API zf_status zf_add_rms_norm_vjp(const zf_tensor *h, const zf_tensor *w, float eps,
                                     const zf_tensor *d_y, const zf_tensor *d_h,
                                     zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o);

/* ---- affine-quantized weights (MLX layout) -------------------------------- */
/* w[e, n, k] = scale[e, n, k/gs] * q + bias[e, n, k/gs]; q packed LSB-first
 * along k into little-endian uint32 words (docs/FORMATS.md, "The affine layout"). */
typedef struct zf_qweight {
    const uint32_t *packed;   /* [experts, n, k*bits/32] */
    const void *scales;       /* [experts, n, k/group_size] */
    const void *biases;       /* [experts, n, k/group_size] */
    zf_dtype scale_dtype;     /* f32, f16 or bf16 */
    int32_t bits;             /* 2, 3, 4, 5, 6, 8 */
    int32_t group_size;       /* 32, 64, 128 */
    int64_t experts;          /* 1 for a plain matrix */
    int64_t n, k;             /* output rows, input columns */
    zf_device device;
} zf_qweight;

/* Shapes: k % group_size == 0 (any number of groups, odd included); a packed
 * row is k*bits/32 words (always whole: group sizes are multiples of 32).
 * The dot products follow one canonical order (docs/NUMERICS.md §8). */

/* MLX's affine quantization (its CPU rule: rint, ties to even) of w [.., n, k]
 * (float, rows = experts * n) into the caller's buffers that q points to
 * (q->packed, q->scales, q->biases are written through; all other fields
 * are set by the caller). Re-quantizing MLX output reproduces it bit for bit. */
ZF_API zf_status zf_quantize(const zf_tensor *w, zf_qweight *q);
/* w [.., n, k] (float, rows = experts * n) = T(scale * q + bias). */
ZF_API zf_status zf_dequantize(const zf_qweight *q, zf_tensor *w);
/* y[m, n] = x[m, k] @ dequant(W[0])^T; x and y share a float dtype T (the
 * scales' dtype is independent); y rounded to T once. */
ZF_API zf_status zf_qmm(const zf_tensor *x, const zf_qweight *w, zf_tensor *y, const zf_opts *o);
/* y[m, s, n] = x[m, (s,) k] @ dequant(W[ids[m, s]])^T; x is [m, k] (shared by
 * the slots) or [m, slots, k]; ids i32 [m, slots]. */
ZF_API zf_status zf_gather_qmm(const zf_tensor *x, const zf_qweight *w, const zf_tensor *ids, zf_tensor *y,
                               const zf_opts *o);
/* Router: softmax(logits [m, E]) in f32, top-k in descending probability
 * (ties: lower expert id first), optional renormalisation by the sum of the
 * k probabilities; ids i32 [m, k], weights [m, k] in logits' dtype or f32. */
ZF_API zf_status zf_moe_route(const zf_tensor *logits, int k, int norm_topk_prob, zf_tensor *ids,
                              zf_tensor *weights, const zf_opts *o);
/* fused: out[m, s, :] = swiglu(x[m]·Wg[e]^T, x[m]·Wu[e]^T), e = ids[m, s];
 * x as in gather_qmm. Stock composition: g = gather_qmm(x, Wg) -> T,
 * u = gather_qmm(x, Wu) -> T, out = swiglu exact = T(T(silu(g)) * u). */
ZF_API zf_status zf_gather_qmm_swiglu(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu,
                                      const zf_tensor *ids, zf_tensor *out, const zf_opts *o);
/* fused: y[m, :] = sum_s weights[m, s] * (a[m, s]·Wd[ids[m, s]]^T); a is
 * [m, slots, k], weights [m, slots] in a's dtype or f32. Stock composition:
 * y_s = T(dot), p_s = T(y_s * w_s), y = p_0, y = T(y + p_s) for s = 1.. */
ZF_API zf_status zf_gather_qmm_combine(const zf_tensor *a, const zf_qweight *wd, const zf_tensor *ids,
                                       const zf_tensor *weights, zf_tensor *y, const zf_opts *o);
/* The experts of an MoE block as one call: act = gather_qmm_swiglu(x, wg,
 * wu, ids), then y = gather_qmm_combine(act, wd, ids, weights), with the
 * same bits as those two calls at the same fidelity. act [m, slots, n] (n =
 * wg's rows = wd's k) is the caller's scratch and holds the swiglu output
 * afterwards; every argument of both steps is checked before either runs.
 * On CUDA the combine knows the ids and weights are final when it launches,
 * so it starts reading its experts' weights before the swiglu ends. */
ZF_API zf_status zf_moe_experts(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu,
                                const zf_qweight *wd, const zf_tensor *ids, const zf_tensor *weights,
                                zf_tensor *act, zf_tensor *y, const zf_opts *o);

/* ---- float weights -------------------------------------------------------- */

/* y[m, n] = x[m, k] @ W[n, k]^T; W f32, f16 or bf16 (independent of x); x
 * and y share a float dtype T; y rounded to T once. Each output element is
 * one L256 dot (docs/NUMERICS.md §4), whatever m, the threads or the ISA.
 * y may not overlap x or W. */
ZF_API zf_status zf_matmul(const zf_tensor *x, const zf_tensor *w, zf_tensor *y, const zf_opts *o);

/* ---- model ops (docs/NUMERICS.md §9) ------------------------------------ */

/* out[m, :] = table[ids[m], :]; table float [vocab, dim], ids i32 [m],
 * out [m, dim] in table's dtype. */
ZF_API zf_status zf_embedding(const zf_tensor *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o);
/* out[m, :] = T(dequant(table)[ids[m], :]) for an affine-quantized table
 * (experts == 1, n = vocab, k = dim); out float [m, dim]. */
ZF_API zf_status zf_embedding_q(const zf_qweight *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o);

/* RoPE cos/sin table, computed with the library's own float64 functions and
 * rounded once to f32: cs[p, i] = (cos a, sin a), a = (p0 + p) * theta^(-2i/dims),
 * i < dims/2. cs is f32 [n, dims/2, 2] on the CPU. */
ZF_API zf_status zf_rope_table(float theta, int64_t dims, int64_t p0, zf_tensor *cs);

/* How a model rescales the RoPE frequencies f_i = theta^(-2i/dims)
 * (docs/NUMERICS.md §9.2). */
typedef enum zf_rope_scaling_type {
    ZF_ROPE_SCALING_NONE = 0,
    ZF_ROPE_SCALING_LINEAR,     /* f_i / factor */
    ZF_ROPE_SCALING_LLAMA3,     /* Llama 3.1: low frequencies / factor, high kept, smooth between */
    ZF_ROPE_SCALING_TYPE_COUNT
} zf_rope_scaling_type;

typedef struct zf_rope_scaling {
    zf_rope_scaling_type type;
    double factor;                  /* LINEAR, LLAMA3: finite, > 0 */
    double low_freq_factor;         /* LLAMA3: 0 < low_freq_factor < high_freq_factor */
    double high_freq_factor;
    int64_t original_max_position;  /* LLAMA3: the pretraining context, >= 1 */
    const float *freq_divisors;     /* NULL, or dims/2 finite values > 0 dividing each
                                       frequency after the type's scaling (GGUF rope_freqs) */
} zf_rope_scaling;

/* zf_rope_table with scaled frequencies; scaling NULL or type NONE without
 * divisors gives zf_rope_table's values. */
ZF_API zf_status zf_rope_table_scaled(float theta, int64_t dims, const zf_rope_scaling *scaling, int64_t p0,
                                      zf_tensor *cs);

/* Rotates each head of x [m, heads, dims] by the angles of row m of cs
 * [m, dims/2, 2]: neox = 1 pairs (i, i + dims/2), neox = 0 pairs (2i, 2i+1).
 * out may be x (in place). */
ZF_API zf_status zf_rope(const zf_tensor *x, const zf_tensor *cs, int neox, zf_tensor *out, const zf_opts *o);

/* Row softmax: f32 inside, max-subtracted, canonical sum order. */
ZF_API zf_status zf_softmax(const zf_tensor *x, zf_tensor *out, const zf_opts *o);

/* Causal grouped-query attention. q [m, hq, d]; k, v [hkv, t, d] (t >= m
 * keys, e.g. a view of a KV cache; hq a multiple of hkv); out [m, hq, d].
 * Query i sits at position t - m + i and sees keys 0 .. t - m + i:
 * out = softmax((q·k) * scale) · v. q and out share a dtype; k and v share
 * one (may differ from q's). */
ZF_API zf_status zf_attention(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, float scale,
                              zf_tensor *out, const zf_opts *o);

/* Per-head RMSNorm of q and k before RoPE (Qwen3's q_norm and k_norm):
 * w_q and w_k are [head_dim] of q's dtype on q's device. */
typedef struct zf_qk_norm {
    const zf_tensor *w_q, *w_k;
    float eps; /* finite, >= 0 */
} zf_qk_norm;

/* One token's attention step over a KV cache, fused for decode. With
 * p = pos[0] (an int32 tensor of one element on the op's device, so that a
 * recorded CUDA graph can run again at the next position unchanged):
 *   q, k = rms_norm(q, w_q, eps), rms_norm(k, w_k, eps)      (zf_rms_norm per head; only with norm)
 *   q' = rope(q, row p of cs), k' = rope(k, row p of cs)     (zf_rope)
 *   kc[:, p] = k', vc[:, p] = v                                (zf_copy)
 *   out = attention(q', kc[:, 0..p], vc[:, 0..p], scale)       (zf_attention)
 * q, out [1, hq, d]; k, v [1, hkv, d], all four of one float dtype; norm
 * NULL or the norms' weights; cs the whole f32 table [rows, d/2, 2]
 * (zf_rope_table); kc, vc the caches [hkv, max_ctx, d] of one float dtype
 * (may differ from q's); hq a multiple of hkv, d even. The same bits as the
 * stock ops in that order; q, k and v are left as they were (the stock
 * composition normalizes and rotates them in place). p must lie in
 * [0, min(rows, max_ctx)): the CPU checks it (ZF_ERR_INVALID_ARG, nothing
 * written); CUDA cannot without waiting for the device, so there a p
 * outside writes NaN to out and nothing to the caches. out and the caches
 * may not overlap any other argument. */
ZF_API zf_status zf_attention_decode(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v,
                                     const zf_qk_norm *norm, const zf_tensor *cs, int neox, const zf_tensor *pos,
                                     zf_tensor *kc, zf_tensor *vc, float scale, zf_tensor *out, const zf_opts *o);

/* out = x element by element, converted to out's float dtype (RNE, NaN
 * stays NaN; a plain copy when the dtypes match). Same shape, any strides
 * (e.g. rows into a view of a KV cache); same device; out may not overlap x. */
ZF_API zf_status zf_copy(const zf_tensor *x, zf_tensor *out, const zf_opts *o);

/* ---- capability report --------------------------------------------------- */

/* Writes a human-readable (json=0) or JSON (json=1) report of the machine,
 * the backends and which variant runs per op and tier, into a malloc'd
 * string the caller frees with zf_free(). */
ZF_API zf_status zf_caps_report(int json, char **out);
ZF_API void zf_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* ZFAST_H */
