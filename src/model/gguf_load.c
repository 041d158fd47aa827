/* GGUF -> zf_model_file: config from <arch>.* keys, tokenizer from
 * tokenizer.ggml.*, weights as views (float types) or converted at load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/gguf.h"
#include "model/gguf_convert.h"

static zf_status missing(const char *key) {
    return zf_error(ZF_ERR_FORMAT, "[gguf] metadata '%s': missing", key);
}

static zf_status wrong_type(const zf_gguf_kv *kv, const char *key, const char *expected) {
    return zf_error(ZF_ERR_FORMAT, "[gguf] metadata '%s' at offset %zu: value type %u, expected %s", key, kv->off,
                    kv->type, expected);
}

/* Integer key of any integer type; *found 0 when absent and not required. */
static zf_status kv_int(const zf_gguf *g, const char *key, int required, int64_t *out, int *found) {
    const zf_gguf_kv *kv = zf_gguf_find(g, key);
    if (found) *found = kv != NULL;
    if (!kv) return required ? missing(key) : ZF_OK;
    const uint8_t *p = g->base + kv->off;
    uint64_t u = 0;
    switch (kv->type) {
    case ZF_GGUF_U8: *out = p[0]; return ZF_OK;
    case ZF_GGUF_I8: *out = (int8_t)p[0]; return ZF_OK;
    case ZF_GGUF_U16: { uint16_t v; memcpy(&v, p, 2); *out = v; return ZF_OK; }
    case ZF_GGUF_I16: { int16_t v; memcpy(&v, p, 2); *out = v; return ZF_OK; }
    case ZF_GGUF_U32: { uint32_t v; memcpy(&v, p, 4); *out = v; return ZF_OK; }
    case ZF_GGUF_I32: { int32_t v; memcpy(&v, p, 4); *out = v; return ZF_OK; }
    case ZF_GGUF_I64: memcpy(out, p, 8); return ZF_OK;
    case ZF_GGUF_U64:
        memcpy(&u, p, 8);
        if (u > INT64_MAX) return zf_error(ZF_ERR_FORMAT, "[gguf] metadata '%s' at offset %zu: %llu is too large", key,
                                           kv->off, (unsigned long long)u);
        *out = (int64_t)u;
        return ZF_OK;
    default: return wrong_type(kv, key, "an integer");
    }
}

static zf_status kv_float(const zf_gguf *g, const char *key, int required, double *out) {
    const zf_gguf_kv *kv = zf_gguf_find(g, key);
    if (!kv) return required ? missing(key) : ZF_OK;
    if (kv->type == ZF_GGUF_F32) {
        float v;
        memcpy(&v, g->base + kv->off, 4);
        *out = v;
    } else if (kv->type == ZF_GGUF_F64) {
        memcpy(out, g->base + kv->off, 8);
    } else {
        int64_t v;
        ZF_TRY(kv_int(g, key, 1, &v, NULL));
        *out = (double)v;
    }
    return ZF_OK;
}

/* A string value (not NUL-terminated); NULL when absent. */
static zf_status kv_str(const zf_gguf *g, const char *key, zf_gguf_str *out) {
    const zf_gguf_kv *kv = zf_gguf_find(g, key);
    out->s = NULL;
    out->len = 0;
    if (!kv) return ZF_OK;
    if (kv->type != ZF_GGUF_STRING) return wrong_type(kv, key, "a string");
    uint64_t len;
    memcpy(&len, g->base + kv->off, 8); /* checked by the parse */
    out->s = (const char *)g->base + kv->off + 8;
    out->len = len;
    return ZF_OK;
}

static const zf_gguf_tinfo *find_tensor(const zf_gguf *g, const char *name) {
    size_t n = strlen(name);
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].name.len == n && !memcmp(g->tensors[i].name.s, name, n)) return &g->tensors[i];
    return NULL;
}

/* Positive integer config value within [1, max]. */
static zf_status pos(const char *key, int64_t v, int64_t max) {
    if (v < 1 || v > max)
        return zf_error(ZF_ERR_FORMAT, "[gguf] metadata '%s': %lld is out of range [1, %lld]", key, (long long)v,
                        (long long)max);
    return ZF_OK;
}

#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, c->arch), key)

/* RoPE scaling as llama.cpp reads it: rope.scaling.type (absent: linear)
 * with the factor from rope.scaling.factor or the older rope.scale_linear
 * (absent, 0 or 1: no scaling); type "none" never scales. Llama 3's scaling
 * is not a type here: llama.cpp's converter stores it as the rope_freqs.weight
 * tensor of per-frequency divisors. */
static zf_status load_rope_scaling(zf_model_config *c, const zf_gguf *g) {
    char key[96];
    zf_gguf_str type;
    ZF_TRY(kv_str(g, KEY("rope.scaling.type"), &type));
    int none = type.s && type.len == 4 && !memcmp(type.s, "none", 4);
    int linear = !type.s || (type.len == 6 && !memcmp(type.s, "linear", 6));
    if (!none && !linear)
        return zf_error(ZF_ERR_FORMAT, "[gguf] metadata '%s': RoPE scaling type '%.*s' is not supported (none, linear)",
                        key, (int)(type.len < 32 ? type.len : 32), type.s);
    double factor = 0;
    if (!zf_gguf_find(g, KEY("rope.scaling.factor"))) KEY("rope.scale_linear");
    ZF_TRY(kv_float(g, key, 0, &factor));
    if (!(factor >= 0 && factor < 1e30))
        return zf_error(ZF_ERR_FORMAT, "[gguf] metadata '%s': %g is not a scaling factor (finite, >= 0)", key, factor);
    if (linear && factor != 0 && factor != 1) {
        c->rope_scaling.type = ZF_ROPE_SCALING_LINEAR;
        c->rope_scaling.factor = factor;
    }
    return ZF_OK;
}

static zf_status load_config(zf_model_file *f, const zf_gguf *g) {
    zf_model_config *c = &f->cfg;
    char key[96];
    zf_gguf_str arch;
    ZF_TRY(kv_str(g, "general.architecture", &arch));
    if (!arch.s) return missing("general.architecture");
    if (arch.len >= sizeof c->arch) arch.len = sizeof c->arch - 1;
    memcpy(c->arch, arch.s, arch.len);
    c->arch[arch.len] = '\0';
    int llama = !strcmp(c->arch, "llama"), moe = !strcmp(c->arch, "qwen3moe");
    if (!llama && !moe && strcmp(c->arch, "qwen2") && strcmp(c->arch, "qwen3"))
        return zf_error(ZF_ERR_FORMAT, "[gguf] general.architecture '%s' is not supported (llama, qwen2, qwen3, qwen3moe)",
                        c->arch);
    c->is_moe = moe;
    c->rope_style = llama ? ZF_ROPE_NORMAL : ZF_ROPE_NEOX;
    const int64_t big = INT64_C(1) << 31;
    int found;
    ZF_TRY(kv_int(g, KEY("embedding_length"), 1, &c->hidden, NULL));
    ZF_TRY(pos(key, c->hidden, big));
    ZF_TRY(kv_int(g, KEY("block_count"), 1, &c->layers, NULL));
    ZF_TRY(pos(key, c->layers, 1 << 16));
    const zf_gguf_kv *hkv = zf_gguf_find(g, KEY("attention.head_count_kv"));
    if (hkv && hkv->type == ZF_GGUF_ARRAY)
        return zf_error(ZF_ERR_FORMAT, "[gguf] metadata '%s' at offset %zu: per-layer head counts are not supported", key,
                        hkv->off);
    ZF_TRY(kv_int(g, KEY("attention.head_count"), 1, &c->heads, NULL));
    ZF_TRY(pos(key, c->heads, 1 << 16));
    c->kv_heads = c->heads;
    ZF_TRY(kv_int(g, KEY("attention.head_count_kv"), 0, &c->kv_heads, NULL));
    ZF_TRY(pos(key, c->kv_heads, c->heads));
    if (c->heads % c->kv_heads)
        return zf_error(ZF_ERR_FORMAT, "[gguf] %lld heads are not a multiple of %lld kv heads", (long long)c->heads,
                        (long long)c->kv_heads);
    c->head_dim = c->hidden / c->heads;
    ZF_TRY(kv_int(g, KEY("attention.key_length"), 0, &c->head_dim, &found));
    if (!found && c->hidden % c->heads)
        return zf_error(ZF_ERR_FORMAT, "[gguf] hidden size %lld is not a multiple of %lld heads and %s is missing",
                        (long long)c->hidden, (long long)c->heads, KEY("attention.key_length"));
    ZF_TRY(pos(KEY("attention.key_length"), c->head_dim, 1 << 16));
    int64_t vlen = c->head_dim;
    ZF_TRY(kv_int(g, KEY("attention.value_length"), 0, &vlen, NULL));
    if (vlen != c->head_dim)
        return zf_error(ZF_ERR_FORMAT, "[gguf] %s %lld differs from key_length %lld: not supported", key,
                        (long long)vlen, (long long)c->head_dim);
    ZF_TRY(kv_int(g, KEY("feed_forward_length"), !moe, &c->ffn, &found));
    if (found) ZF_TRY(pos(key, c->ffn, big));
    double eps = 0, theta = 10000.0;
    ZF_TRY(kv_float(g, KEY("attention.layer_norm_rms_epsilon"), 1, &eps));
    if (!(eps > 0 && eps < 1)) return zf_error(ZF_ERR_FORMAT, "[gguf] metadata '%s': %g is not in (0, 1)", key, eps);
    ZF_TRY(kv_float(g, KEY("rope.freq_base"), 0, &theta));
    if (!(theta > 0 && theta < 1e30)) return zf_error(ZF_ERR_FORMAT, "[gguf] metadata '%s': %g is not positive", key, theta);
    c->rms_eps = (float)eps;
    c->rope_theta = (float)theta;
    ZF_TRY(load_rope_scaling(c, g));
    ZF_TRY(kv_int(g, KEY("context_length"), 0, &c->context_length, NULL));
    if (moe) {
        ZF_TRY(kv_int(g, KEY("expert_count"), 1, &c->experts, NULL));
        ZF_TRY(pos(key, c->experts, 1 << 16));
        ZF_TRY(kv_int(g, KEY("expert_used_count"), 1, &c->experts_used, NULL));
        ZF_TRY(pos(key, c->experts_used, c->experts));
        ZF_TRY(kv_int(g, KEY("expert_feed_forward_length"), 1, &c->expert_ffn, NULL));
        ZF_TRY(pos(key, c->expert_ffn, big));
        const zf_gguf_kv *nw = zf_gguf_find(g, KEY("expert_weights_norm"));
        c->norm_topk_prob = 1; /* llama.cpp's qwen3moe graph always renormalises */
        if (nw) {
            if (nw->type != ZF_GGUF_BOOL) return wrong_type(nw, key, "bool");
            c->norm_topk_prob = g->base[nw->off] != 0;
        }
    }
    const zf_gguf_tinfo *emb = find_tensor(g, "token_embd.weight");
    if (!emb) return zf_error(ZF_ERR_FORMAT, "[gguf] missing tensor token_embd.weight");
    if (emb->ndim != 2 || emb->ne[0] != c->hidden)
        return zf_error(ZF_ERR_FORMAT, "[gguf] tensor token_embd.weight at offset %zu: shape [%lld, %lld], expected "
                        "[vocab, %lld]", emb->info_off, (long long)emb->ne[1], (long long)emb->ne[0], (long long)c->hidden);
    c->vocab = emb->ne[1];
    c->tied_embeddings = find_tensor(g, "output.weight") == NULL;
    c->qk_norm = find_tensor(g, "blk.0.attn_q_norm.weight") != NULL;
    c->attn_bias = find_tensor(g, "blk.0.attn_q.bias") != NULL;
    c->rope_freqs = find_tensor(g, "rope_freqs.weight") != NULL;
    return ZF_OK;
}

/* A string array value as NUL-terminated copies owned by f. */
static zf_status str_array(zf_model_file *f, const zf_gguf *g, const char *key, const char *const **out, int64_t *n) {
    const zf_gguf_kv *kv = zf_gguf_find(g, key);
    *out = NULL;
    *n = 0;
    if (!kv) return ZF_OK;
    if (kv->type != ZF_GGUF_ARRAY || kv->arr_type != ZF_GGUF_STRING) return wrong_type(kv, key, "an array of strings");
    /* lengths were checked by the parse: walk once for the total, once to copy */
    size_t total = 0, at = kv->arr_off;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        uint64_t len;
        memcpy(&len, g->base + at, 8);
        total += (size_t)len + 1;
        at += 8 + (size_t)len;
    }
    const char **ptrs = zf_mf_alloc(f, (size_t)kv->arr_n * sizeof *ptrs);
    char *arena = zf_mf_alloc(f, total);
    if (!ptrs || !arena) return zf_error(ZF_ERR_NO_MEMORY, "[gguf] out of memory for '%s'", key);
    at = kv->arr_off;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        uint64_t len;
        memcpy(&len, g->base + at, 8);
        memcpy(arena, g->base + at + 8, (size_t)len);
        arena[len] = '\0';
        ptrs[i] = arena;
        arena += len + 1;
        at += 8 + (size_t)len;
    }
    *out = ptrs;
    *n = (int64_t)kv->arr_n;
    return ZF_OK;
}

static zf_status opt_str(zf_model_file *f, const zf_gguf *g, const char *key, const char **out) {
    zf_gguf_str s;
    ZF_TRY(kv_str(g, key, &s));
    *out = NULL;
    if (s.s && !(*out = zf_mf_strndup(f, s.s, (size_t)s.len)))
        return zf_error(ZF_ERR_NO_MEMORY, "[gguf] out of memory for '%s'", key);
    return ZF_OK;
}

static zf_status load_vocab(zf_model_file *f, const zf_gguf *g) {
    zf_vocab_data *v = &f->vocab;
    ZF_TRY(str_array(f, g, "tokenizer.ggml.tokens", &v->tokens, &v->n_tokens));
    if (!v->tokens) return ZF_OK;
    if (v->n_tokens > f->cfg.vocab)
        return zf_error(ZF_ERR_FORMAT, "[gguf] tokenizer.ggml.tokens has %lld tokens but token_embd.weight only %lld rows",
                        (long long)v->n_tokens, (long long)f->cfg.vocab);
    ZF_TRY(str_array(f, g, "tokenizer.ggml.merges", &v->merges, &v->n_merges));
    ZF_TRY(opt_str(f, g, "tokenizer.ggml.model", &v->model));
    ZF_TRY(opt_str(f, g, "tokenizer.ggml.pre", &v->pre));
    ZF_TRY(opt_str(f, g, "tokenizer.chat_template", &v->chat_template));
    const zf_gguf_kv *tt = zf_gguf_find(g, "tokenizer.ggml.token_type");
    if (tt) {
        if (tt->type != ZF_GGUF_ARRAY || (tt->arr_type != ZF_GGUF_I32 && tt->arr_type != ZF_GGUF_U32))
            return wrong_type(tt, "tokenizer.ggml.token_type", "an array of i32");
        if ((int64_t)tt->arr_n != v->n_tokens)
            return zf_error(ZF_ERR_FORMAT, "[gguf] metadata 'tokenizer.ggml.token_type' at offset %zu: %llu entries for "
                            "%lld tokens", tt->off, (unsigned long long)tt->arr_n, (long long)v->n_tokens);
        int32_t *types = zf_mf_alloc(f, (size_t)v->n_tokens * 4);
        if (!types) return zf_error(ZF_ERR_NO_MEMORY, "[gguf] out of memory for token types");
        memcpy(types, g->base + tt->arr_off, (size_t)v->n_tokens * 4);
        v->token_type = types;
    }
    const char *ids[2] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"};
    int32_t *dst[2] = {&v->bos_id, &v->eos_id};
    for (int i = 0; i < 2; i++) {
        int64_t id = -1;
        ZF_TRY(kv_int(g, ids[i], 0, &id, NULL));
        if (id < -1 || id >= v->n_tokens)
            return zf_error(ZF_ERR_FORMAT, "[gguf] metadata '%s': token id %lld is outside the vocabulary (%lld)", ids[i],
                            (long long)id, (long long)v->n_tokens);
        *dst[i] = (int32_t)id;
    }
    f->has_vocab = 1;
    return ZF_OK;
}

static zf_status add_weight(zf_model_file *f, const zf_gguf *g, const zf_gguf_tinfo *t) {
    zf_weight w;
    memset(&w, 0, sizeof w);
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(t->name.len < 255 ? t->name.len : 255), t->name.s);
    int64_t numel = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3], shape[4];
    for (uint32_t d = 0; d < t->ndim; d++) shape[d] = t->ne[t->ndim - 1 - d];
    const void *src = g->base + t->data_off;
    const char *tname = zf_gguf_type_name(t->type);
    int bits = zf_gguf_affine_bits(t->type);
    if (!tname) {
        char why[160];
        snprintf(why, sizeof why, "GGUF tensor type %u is not supported (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, "
                 "Q4_K, Q5_K, Q6_K)", t->type);
        const char *owned = zf_mf_strndup(f, why, strlen(why));
        if (!owned) return zf_error(ZF_ERR_NO_MEMORY, "[gguf] out of memory");
        return zf_mf_add(f, name, &w, owned);
    }
    if (t->type == ZF_GGML_F32 || t->type == ZF_GGML_F16 || t->type == ZF_GGML_BF16 || t->type == ZF_GGML_Q6_K) {
        zf_dtype dt = t->type == ZF_GGML_F16 ? ZF_DTYPE_F16 : t->type == ZF_GGML_BF16 ? ZF_DTYPE_BF16 : ZF_DTYPE_F32;
        void *data = (void *)src;
        if (t->type == ZF_GGML_Q6_K || (uintptr_t)src % zf_dtype_size(dt)) { /* misaligned views get a copy */
            if (!(data = zf_mf_alloc(f, (size_t)numel * zf_dtype_size(dt))))
                return zf_error(ZF_ERR_NO_MEMORY, "[gguf] out of memory converting %s", name);
            if (t->type == ZF_GGML_Q6_K) zf_gguf_q6k_to_f32(src, numel, data);
            else memcpy(data, src, t->bytes);
        }
        w.kind = ZF_WEIGHT_FLOAT;
        w.t = zf_tensor_nd(data, dt, (int32_t)t->ndim, shape);
        return zf_mf_add(f, name, &w, NULL);
    }
    zf_qweight *q = &w.q;
    q->bits = bits;
    q->group_size = 32;
    q->k = t->ne[0];
    q->n = t->ne[1];
    q->experts = t->ne[2] * t->ne[3];
    q->device = ZF_DEVICE_CPU;
    q->scale_dtype = zf_gguf_affine_scale_dtype(t->type, src, numel);
    size_t groups = (size_t)(numel / 32), ssz = zf_dtype_size(q->scale_dtype);
    uint32_t *packed = zf_mf_calloc(f, groups * (size_t)bits * 4);
    void *scales = zf_mf_alloc(f, groups * ssz), *biases = zf_mf_alloc(f, groups * ssz);
    if (!packed || !scales || !biases) return zf_error(ZF_ERR_NO_MEMORY, "[gguf] out of memory converting %s", name);
    zf_gguf_to_affine(t->type, src, numel, q->scale_dtype, packed, scales, biases);
    q->packed = packed;
    q->scales = scales;
    q->biases = biases;
    w.kind = ZF_WEIGHT_AFFINE;
    return zf_mf_add(f, name, &w, NULL);
}

zf_status zf_gguf_load(zf_model_file *f, const void *data, size_t size) {
    zf_gguf g;
    zf_status s = zf_gguf_parse(data, size, &g);
    if (s == ZF_OK) s = load_config(f, &g);
    if (s == ZF_OK) s = load_vocab(f, &g);
    int64_t total = 0, done = 0;
    for (int64_t i = 0; s == ZF_OK && i < g.n_tensors; i++) total += (int64_t)g.tensors[i].bytes;
    for (int64_t i = 0; s == ZF_OK && i < g.n_tensors; i++) {
        s = add_weight(f, &g, &g.tensors[i]);
        done += (int64_t)g.tensors[i].bytes;
        zf_mf_progress(f, done, total);
    }
    zf_gguf_free(&g);
    return s;
}
