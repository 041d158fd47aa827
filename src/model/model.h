/* A model ready to run: the llama-family graph (SmolLM2, Llama 3, Qwen2/3
 * dense) and qwen3_moe, its KV cache and scratch, all allocated at load so
 * a forward pass allocates nothing. Every layer calls the library's zf_ ops,
 * so the tier decides which kernels run. */
#ifndef ZF_MODEL_MODEL_H
#define ZF_MODEL_MODEL_H

#include <stdint.h>

#include "model/model_file.h"
#include "zfast.h"

typedef struct zf_model_opts {
    zf_dtype act_dtype;   /* activations: f32 (default) or bf16 / f16 */
    zf_dtype kv_dtype;    /* KV cache: f32 (default) or the activation dtype */
    int64_t max_ctx;      /* positions the cache holds (0: the file's context, at most 4096) */
    int64_t max_batch;    /* tokens per prefill step (0: 128); longer prompts run in steps */
    zf_device device;     /* where the model runs: ZF_DEVICE_CPU (default) or ZF_DEVICE_CUDA, which
                             uploads every weight once at load and keeps the KV cache and scratch
                             on the GPU; a forward pass then syncs once, to return the logits */
    /* called as weights are uploaded to the device (done of total), may be NULL */
    void (*progress)(int64_t done, int64_t total, void *ctx);
    void *progress_ctx;
} zf_model_opts;

/* Defaults: f32 activations and cache, on the CPU. */
zf_model_opts zf_model_opts_default(void);

/* Where the weights come from, by GGUF name ("blk.3.attn_q.weight"): a model
 * file, or anything else (tests build one in memory). */
typedef struct zf_weight_source {
    void *ctx;
    zf_status (*weight)(void *ctx, const char *name, zf_weight *out);
    int (*has)(void *ctx, const char *name);
} zf_weight_source;

typedef struct zf_model zf_model;

/* The weights stay owned by the source, which must outlive the model. */
zf_status zf_model_create(const zf_model_config *cfg, const zf_weight_source *src, const zf_model_opts *o,
                          zf_model **out);
zf_status zf_model_from_file(const zf_model_file *f, const zf_model_opts *o, zf_model **out);
/* A model file as a weight source: what zf_model_from_file builds from, and
 * how a file's weights run under another config. */
zf_weight_source zf_model_file_source(const zf_model_file *f);
void zf_model_destroy(zf_model *m);

const zf_model_config *zf_model_cfg(const zf_model *m);
/* Tokens already in the KV cache (the position of the next token). */
int64_t zf_model_pos(const zf_model *m);
int64_t zf_model_max_ctx(const zf_model *m);
/* 1 while one-token steps replay a recorded CUDA graph (a CUDA model,
 * ZF_CUDA_GRAPHS not 0, and no step has turned graphs off), else 0. */
int zf_model_decode_graphed(const zf_model *m);
/* Empties the KV cache. */
void zf_model_reset(zf_model *m);

/* Runs n tokens at the next positions, appending them to the KV cache.
 * logits (f32): [n, vocab] when all_logits, else [vocab] for the last token. */
zf_status zf_model_forward(zf_model *m, const int32_t *tokens, int64_t n, int all_logits, float *logits);

/* Bytes of weights one decoded token reads (quantized data, scales, biases,
 * norms; the embedding row; for MoE the routed experts' share). */
int64_t zf_model_weight_bytes_per_token(const zf_model *m);
/* Bytes of the KV cache one decoded token reads per key it attends over (k
 * and v of every layer and kv head, in the cache's dtype). */
int64_t zf_model_kv_bytes_per_key(const zf_model *m);

/* ---- internal: shared by llama.c and qwen3_moe.c ---------------------------- */

#define ZF_BIAS_ROWS 32 /* copies of a bias row kept, so one add covers that many rows */

typedef struct zf_model_layer {
    zf_tensor attn_norm, ffn_norm, q_norm, k_norm; /* act dtype; q/k norms only with qk_norm */
    zf_weight wq, wk, wv, wo;
    zf_tensor bq, bk, bv;                          /* act dtype [ZF_BIAS_ROWS, dim]; only with attn_bias */
    zf_weight ffn_gate, ffn_up, ffn_down;          /* dense; MoE: stacked experts */
    zf_weight router;                              /* MoE only */
    /* CPU: wq|wk|wv and gate|up as one weight each where they share a layout
     * (model/weight_fuse.h); .kind is ZF_WEIGHT_AFFINE only then */
    zf_weight wqkv, ffn_gate_up;
} zf_model_layer;

/* y = x @ W^T: zf_qmm for affine-quantized weights, zf_matmul for float ones. */
zf_status zf_model_linear(const zf_tensor *x, const zf_weight *w, zf_tensor *y, const zf_opts *o);

/* The MoE feed-forward block for n rows of x [n, hidden] into out [n, hidden]
 * (router -> zf_moe_route -> zf_moe_experts). */
zf_status zf_moe_ffn(const zf_model_config *cfg, const zf_model_layer *l, const zf_tensor *x, void *scratch,
                     zf_tensor *out, const zf_opts *o);
/* Scratch bytes zf_moe_ffn needs for n rows. */
int64_t zf_moe_scratch_bytes(const zf_model_config *cfg, zf_dtype t, int64_t n);

#endif
