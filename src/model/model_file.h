/* A model file opened for reading: a GGUF file or an mlx-community /
 * Hugging Face safetensors directory, seen through one interface.
 *
 * Weights are named with GGUF's names whatever the format
 * ("token_embd.weight", "blk.3.attn_q.weight", "blk.3.ffn_gate_exps.weight",
 * ...); the safetensors reader maps HF/MLX names onto them. Data is mmap'ed;
 * a weight is either a float tensor (f32/f16/bf16, possibly a view into the
 * mapping) or an affine-quantized zf_qweight (converted at load where GGUF's
 * block type maps exactly onto the affine layout). */
#ifndef ZF_MODEL_MODEL_FILE_H
#define ZF_MODEL_MODEL_FILE_H

#include <stdint.h>

#include "zfast.h"

typedef enum zf_rope_style {
    ZF_ROPE_NORMAL = 0, /* adjacent pairs (llama GGUF, Q/K rows permuted) */
    ZF_ROPE_NEOX,       /* halves (HF, Qwen2/3) */
} zf_rope_style;

typedef struct zf_model_config {
    char arch[32];          /* "llama", "qwen2", "qwen3", "qwen3moe" ... as in the file */
    int is_moe;             /* qwen3_moe */
    int64_t vocab, hidden, layers, heads, kv_heads, head_dim, ffn;
    int64_t experts, experts_used, expert_ffn;
    int norm_topk_prob;
    int qk_norm;            /* per-head RMSNorm of q and k (Qwen3) */
    int tied_embeddings;    /* output projection reuses token_embd */
    int attn_bias;          /* q/k/v projections carry a bias (Qwen2) */
    float rms_eps, rope_theta;
    zf_rope_style rope_style;
    zf_rope_scaling rope_scaling; /* from the file's metadata; freq_divisors stays NULL here */
    int rope_freqs;         /* a rope_freqs.weight [head_dim/2] divides the frequencies (llama.cpp's Llama 3 files) */
    int64_t context_length;
} zf_model_config;

typedef enum zf_weight_kind {
    ZF_WEIGHT_FLOAT = 0,    /* w.t: f32/f16/bf16 tensor [.., n, k] */
    ZF_WEIGHT_AFFINE,       /* w.q: zf_qweight */
} zf_weight_kind;

typedef struct zf_weight {
    zf_weight_kind kind;
    zf_tensor t;
    zf_qweight q;
} zf_weight;

typedef struct zf_model_file zf_model_file;

/* Opens a .gguf file or a safetensors directory (config.json + *.safetensors
 * [+ model.safetensors.index.json]). Malformed input: ZF_ERR_FORMAT with the
 * field and byte offset in the message; never a crash. progress may be NULL;
 * it is called with (done, total) bytes while weights are converted. */
zf_status zf_model_file_open(const char *path, void (*progress)(int64_t done, int64_t total, void *ctx),
                             void *ctx, zf_model_file **out);
void zf_model_file_close(zf_model_file *f);

const zf_model_config *zf_model_file_config(const zf_model_file *f);
/* ZF_OK and *out, or ZF_ERR_FORMAT "missing tensor NAME" (optional weights:
 * check with zf_model_file_has first). */
zf_status zf_model_file_weight(const zf_model_file *f, const char *name, zf_weight *out);
int zf_model_file_has(const zf_model_file *f, const char *name);

/* Tokenizer data as stored in the file (GGUF tokenizer.ggml.* keys, or
 * tokenizer.json beside safetensors). Arrays stay owned by the file. */
typedef struct zf_vocab_data {
    const char *model;         /* "gpt2" (byte-level BPE) */
    const char *pre;           /* pre-tokenizer name: "smollm", "qwen2", "llama-bpe", ... */
    int64_t n_tokens;
    const char *const *tokens; /* n_tokens strings (byte-level BPE alphabet) */
    const int32_t *token_type; /* may be NULL; 1 normal, 3 control, 4 user-defined ... */
    int64_t n_merges;
    const char *const *merges; /* "a b" */
    int32_t bos_id, eos_id;    /* -1 when absent */
    const char *chat_template; /* may be NULL */
} zf_vocab_data;

zf_status zf_model_file_vocab(const zf_model_file *f, zf_vocab_data *out);
/* sha256 of the file (GGUF) or of the weight files in order (directory), hex. */
zf_status zf_model_file_sha256(const zf_model_file *f, char hex[65]);

#endif
