/* Synthetic model writer (see synth.h). Every byte is a pure function of
 * (seed, tensor name, position), so a model of any size is streamed to disk
 * in chunks and the same options always give the same file. */
#include "model/synth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/dtype.h"
#include "core/error.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "model/safetensors_writer.h"

typedef struct preset {
    const char *arch, *name;
    int64_t vocab, hidden, layers, heads, kv_heads, head_dim, ffn, experts, experts_used, expert_ffn;
    int tied, qk_norm;
    double rope_theta, eps;
} preset;

static const preset k_presets[] = {
    {"llama", "tiny", 512, 64, 2, 4, 2, 16, 192, 0, 0, 0, 1, 0, 10000.0, 1e-5},
    {"llama", "smollm2-135m", 49152, 576, 30, 9, 3, 64, 1536, 0, 0, 0, 1, 0, 100000.0, 1e-5},
    {"llama", "llama-340m", 32768, 1024, 24, 16, 16, 64, 2816, 0, 0, 0, 1, 0, 10000.0, 1e-5},
    {"qwen3_moe", "tiny", 512, 64, 2, 4, 2, 16, 0, 8, 2, 64, 0, 1, 1000000.0, 1e-6},
    {"qwen3_moe", "qwen3-30b-a3b", 151936, 2048, 48, 32, 4, 128, 0, 128, 8, 768, 0, 1, 1000000.0, 1e-6},
};

void zf_synth_presets(const char *arch, char *buf, size_t size) {
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof k_presets / sizeof *k_presets; i++)
        if (!arch || strcmp(arch, k_presets[i].arch) == 0)
            k += (size_t)snprintf(buf + k, k < size ? size - k : 0, "%s%s", k ? ", " : "", k_presets[i].name);
}

/* ---- counter-based random numbers ------------------------------------------ */

static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* uniform in [-1, 1) from a 64-bit value */
static float unit(uint64_t r) { return (float)((double)(r >> 40) / 8388608.0 - 1.0); }

/* ---- tensor contents -------------------------------------------------------- */

typedef enum role { ROLE_LINEAR, ROLE_EMBED, ROLE_NORM } role;

/* One tensor to write: logical shape [outer..., n, k] and how to fill it. */
typedef struct tensor_plan {
    char name[128];
    int ndim;
    int64_t shape[3]; /* outer first; last = k (input axis) */
    role role;
    float amp;        /* values uniform in about [-amp, amp] (norms: 1 +- amp) */
    uint64_t key;     /* seed ^ hash(name) */
    /* the encoding chosen by the writer */
    enum { ENC_F32, ENC_F16, ENC_BF16, ENC_Q4_0, ENC_Q4_1, ENC_Q8_0, ENC_MLX_Q, ENC_MLX_S, ENC_MLX_B } enc;
    int bits, group_size;
    struct progress *progress;
} tensor_plan;

/* Bytes written so far, reported every 64 MiB. */
typedef struct progress {
    int64_t done, total, last;
    void (*fn)(int64_t done, int64_t total, void *ctx);
    void *ctx;
} progress;

static float value_at(const tensor_plan *t, int64_t i) {
    float u = unit(mix(t->key ^ mix((uint64_t)i)));
    return t->role == ROLE_NORM ? 1.0f + t->amp * u : t->amp * u;
}

/* Bytes [offset, offset+bytes) of a tensor made of fixed-size blocks: each
 * block is generated whole, then the needed part copied. */
static void fill_blocks(const tensor_plan *t, unsigned char *buf, size_t offset, size_t bytes, size_t block_bytes,
                        void (*block)(const tensor_plan *, int64_t, unsigned char *)) {
    unsigned char tmp[64];
    size_t end = offset + bytes;
    for (size_t b = offset / block_bytes; b * block_bytes < end; b++) {
        block(t, (int64_t)b, tmp);
        size_t lo = b * block_bytes, hi = lo + block_bytes;
        size_t from = lo > offset ? lo : offset, to = hi < end ? hi : end;
        memcpy(buf + (from - offset), tmp + (from - lo), to - from);
    }
}

static void block_f32(const tensor_plan *t, int64_t b, unsigned char *o) {
    float v = value_at(t, b);
    memcpy(o, &v, 4);
}
static void block_f16(const tensor_plan *t, int64_t b, unsigned char *o) {
    uint16_t h = zf_cvt_f32_f16(value_at(t, b));
    memcpy(o, &h, 2);
}
static void block_bf16(const tensor_plan *t, int64_t b, unsigned char *o) {
    uint16_t h = zf_cvt_f32_bf16(value_at(t, b));
    memcpy(o, &h, 2);
}

/* random bytes of a block, 8 at a time from the counter */
static void random_bytes(uint64_t key, int64_t b, unsigned char *o, int n) {
    for (int j = 0; j < n; j += 8) {
        uint64_t r = mix(key ^ mix((uint64_t)b * 64 + (uint64_t)j));
        memcpy(o + j, &r, n - j < 8 ? (size_t)(n - j) : 8);
    }
}

/* scale jitter per block keeps groups distinguishable */
static float jitter(const tensor_plan *t, int64_t b) { return 0.75f + 0.25f * unit(mix(~t->key ^ (uint64_t)b)); }

static void block_q4_0(const tensor_plan *t, int64_t b, unsigned char *o) {
    uint16_t d = zf_cvt_f32_f16(t->amp / 8.0f * jitter(t, b));
    memcpy(o, &d, 2);
    random_bytes(t->key, b, o + 2, 16);
}
static void block_q4_1(const tensor_plan *t, int64_t b, unsigned char *o) {
    float d = 2.0f * t->amp / 15.0f * jitter(t, b);
    uint16_t dh = zf_cvt_f32_f16(d), mh = zf_cvt_f32_f16(-7.5f * d);
    memcpy(o, &dh, 2);
    memcpy(o + 2, &mh, 2);
    random_bytes(t->key, b, o + 4, 16);
}
static void block_q8_0(const tensor_plan *t, int64_t b, unsigned char *o) {
    uint16_t d = zf_cvt_f32_f16(t->amp / 127.0f * jitter(t, b));
    memcpy(o, &d, 2);
    random_bytes(t->key, b, o + 2, 32);
}
/* MLX affine: packed words are random; per group scale and bias (bf16) put
 * the codes symmetrically around zero. */
static void block_mlx_q(const tensor_plan *t, int64_t b, unsigned char *o) { random_bytes(t->key, b, o, 4); }
static float mlx_scale(const tensor_plan *t, int64_t g) {
    return 2.0f * t->amp / (float)((1 << t->bits) - 1) * jitter(t, g);
}
static void block_mlx_s(const tensor_plan *t, int64_t g, unsigned char *o) {
    uint16_t h = zf_cvt_f32_bf16(mlx_scale(t, g));
    memcpy(o, &h, 2);
}
static void block_mlx_b(const tensor_plan *t, int64_t g, unsigned char *o) {
    float s = zf_cvt_bf16_f32(zf_cvt_f32_bf16(mlx_scale(t, g)));
    uint16_t h = zf_cvt_f32_bf16(-0.5f * (float)((1 << t->bits) - 1) * s);
    memcpy(o, &h, 2);
}

static void fill(void *ctx, void *buf, size_t offset, size_t bytes) {
    const tensor_plan *t = ctx;
    progress *pr = t->progress;
    if (pr && pr->fn) {
        pr->done += (int64_t)bytes;
        if (pr->done - pr->last >= (64 << 20) || pr->done >= pr->total) {
            pr->last = pr->done;
            pr->fn(pr->done, pr->total, pr->ctx);
        }
    }
    switch (t->enc) {
    case ENC_F32: fill_blocks(t, buf, offset, bytes, 4, block_f32); break;
    case ENC_F16: fill_blocks(t, buf, offset, bytes, 2, block_f16); break;
    case ENC_BF16: fill_blocks(t, buf, offset, bytes, 2, block_bf16); break;
    case ENC_Q4_0: fill_blocks(t, buf, offset, bytes, 18, block_q4_0); break;
    case ENC_Q4_1: fill_blocks(t, buf, offset, bytes, 20, block_q4_1); break;
    case ENC_Q8_0: fill_blocks(t, buf, offset, bytes, 34, block_q8_0); break;
    case ENC_MLX_Q: fill_blocks(t, buf, offset, bytes, 4, block_mlx_q); break;
    case ENC_MLX_S: fill_blocks(t, buf, offset, bytes, 2, block_mlx_s); break;
    case ENC_MLX_B: fill_blocks(t, buf, offset, bytes, 2, block_mlx_b); break;
    }
}

/* ---- the architecture's tensors, with GGUF names ---------------------------- */

typedef struct plan {
    tensor_plan *t;
    int n, cap;
} plan;

static zf_status add(plan *p, uint64_t seed, const char *name_in, role r, int ndim, int64_t a, int64_t b, int64_t c) {
    char name[sizeof p->t->name]; /* name_in may point into p->t, which the realloc below can move */
    snprintf(name, sizeof name, "%s", name_in);
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 256;
        tensor_plan *t = realloc(p->t, (size_t)cap * sizeof *t);
        if (!t) return zf_error(ZF_ERR_NO_MEMORY, "[synth] out of memory");
        p->t = t;
        p->cap = cap;
    }
    tensor_plan *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->shape[0] = a;
    t->shape[1] = b;
    t->shape[2] = c;
    t->role = r;
    int64_t k = t->shape[ndim - 1];
    t->amp = r == ROLE_NORM ? 0.1f : r == ROLE_EMBED ? 1.0f : sqrtf(3.0f / (float)k);
    t->key = mix(seed ^ hash_str(name));
    return ZF_OK;
}

static zf_status build_plan(const preset *ps, uint64_t seed, plan *p) {
    int64_t H = ps->hidden, hd = ps->head_dim, q = ps->heads * hd, kv = ps->kv_heads * hd;
    char n[128];
#define ADD(r, nd, a, b, c) ZF_TRY(add(p, seed, n, r, nd, a, b, c))
    snprintf(n, sizeof n, "token_embd.weight");
    ADD(ROLE_EMBED, 2, ps->vocab, H, 0);
    snprintf(n, sizeof n, "output_norm.weight");
    ADD(ROLE_NORM, 1, H, 0, 0);
    if (!ps->tied) {
        snprintf(n, sizeof n, "output.weight");
        ADD(ROLE_LINEAR, 2, ps->vocab, H, 0);
    }
    for (int64_t l = 0; l < ps->layers; l++) {
#define NAME(s) snprintf(n, sizeof n, "blk.%lld." s, (long long)l)
        NAME("attn_norm.weight"); ADD(ROLE_NORM, 1, H, 0, 0);
        NAME("attn_q.weight"); ADD(ROLE_LINEAR, 2, q, H, 0);
        NAME("attn_k.weight"); ADD(ROLE_LINEAR, 2, kv, H, 0);
        NAME("attn_v.weight"); ADD(ROLE_LINEAR, 2, kv, H, 0);
        NAME("attn_output.weight"); ADD(ROLE_LINEAR, 2, H, q, 0);
        if (ps->qk_norm) {
            NAME("attn_q_norm.weight"); ADD(ROLE_NORM, 1, hd, 0, 0);
            NAME("attn_k_norm.weight"); ADD(ROLE_NORM, 1, hd, 0, 0);
        }
        NAME("ffn_norm.weight"); ADD(ROLE_NORM, 1, H, 0, 0);
        if (ps->experts) {
            NAME("ffn_gate_inp.weight"); ADD(ROLE_LINEAR, 2, ps->experts, H, 0);
            NAME("ffn_gate_exps.weight"); ADD(ROLE_LINEAR, 3, ps->experts, ps->expert_ffn, H);
            NAME("ffn_up_exps.weight"); ADD(ROLE_LINEAR, 3, ps->experts, ps->expert_ffn, H);
            NAME("ffn_down_exps.weight"); ADD(ROLE_LINEAR, 3, ps->experts, H, ps->expert_ffn);
        } else {
            NAME("ffn_gate.weight"); ADD(ROLE_LINEAR, 2, ps->ffn, H, 0);
            NAME("ffn_up.weight"); ADD(ROLE_LINEAR, 2, ps->ffn, H, 0);
            NAME("ffn_down.weight"); ADD(ROLE_LINEAR, 2, H, ps->ffn, 0);
        }
#undef NAME
    }
#undef ADD
    return ZF_OK;
}

static int64_t numel(const tensor_plan *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* ---- the vocabulary: 256 byte tokens, 3 specials, then merged pairs --------- */

typedef struct vocab {
    char **tokens;
    int32_t *types;
    char **merges;
    int64_t n_tokens, n_merges;
} vocab;

static void vocab_free(vocab *v) {
    for (int64_t i = 0; i < v->n_tokens; i++) free(v->tokens[i]);
    for (int64_t i = 0; i < v->n_merges; i++) free(v->merges[i]);
    free(v->tokens);
    free(v->types);
    free(v->merges);
}

/* GPT-2's byte-to-unicode map, as UTF-8 (at most 2 bytes + NUL). */
static void byte_char(int b, char out[3]) {
    int cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
        int k = 0;
        for (int x = 0; x < b; x++)
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) k++;
        cp = 256 + k;
    }
    if (cp < 0x80) { out[0] = (char)cp; out[1] = 0; }
    else { out[0] = (char)(0xc0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3f)); out[2] = 0; }
}

static zf_status build_vocab(int64_t n, vocab *v) {
    static const char *const specials[3] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    if (n < 259) return zf_error(ZF_ERR_INVALID_ARG, "[synth] vocabulary of %lld is too small (>= 259)", (long long)n);
    memset(v, 0, sizeof *v);
    v->tokens = calloc((size_t)n, sizeof *v->tokens);
    v->types = calloc((size_t)n, sizeof *v->types);
    v->merges = calloc((size_t)n, sizeof *v->merges);
    if (!v->tokens || !v->types || !v->merges) { vocab_free(v); return zf_error(ZF_ERR_NO_MEMORY, "[synth] out of memory"); }
    char buf[64], a[3], b[3];
    for (int64_t i = 0; i < n; i++) {
        int type = 1;
        if (i < 256) {
            byte_char((int)i, buf);
        } else if (i < 259) {
            snprintf(buf, sizeof buf, "%s", specials[i - 256]);
            type = 3;
        } else if (i - 259 < 95 * 95) { /* printable ASCII pairs, merged */
            int64_t k = i - 259;
            byte_char(32 + (int)(k / 95), a);
            byte_char(32 + (int)(k % 95), b);
            snprintf(buf, sizeof buf, "%s%s", a, b);
            char m[16];
            snprintf(m, sizeof m, "%s %s", a, b);
            if (!(v->merges[v->n_merges] = strdup(m))) goto oom;
            v->n_merges++;
        } else {
            snprintf(buf, sizeof buf, "<|unused_%lld|>", (long long)i);
            type = 3;
        }
        if (!(v->tokens[i] = strdup(buf))) goto oom;
        v->types[i] = type;
        v->n_tokens = i + 1;
    }
    return ZF_OK;
oom:
    vocab_free(v);
    return zf_error(ZF_ERR_NO_MEMORY, "[synth] out of memory");
}

/* ---- GGUF ------------------------------------------------------------------- */

static zf_status write_gguf(const zf_synth_opts *o, const preset *ps, plan *p, const vocab *v) {
    const char *qn = o->quant ? o->quant : "q4_0";
    uint32_t qtype;
    int enc;
    if (!strcmp(qn, "q4_0")) { qtype = ZF_GGML_Q4_0; enc = ENC_Q4_0; }
    else if (!strcmp(qn, "q4_1")) { qtype = ZF_GGML_Q4_1; enc = ENC_Q4_1; }
    else if (!strcmp(qn, "q8_0")) { qtype = ZF_GGML_Q8_0; enc = ENC_Q8_0; }
    else if (!strcmp(qn, "f16")) { qtype = ZF_GGML_F16; enc = ENC_F16; }
    else if (!strcmp(qn, "f32")) { qtype = ZF_GGML_F32; enc = ENC_F32; }
    else return zf_error(ZF_ERR_INVALID_ARG, "[synth] unknown --quant '%s' (expected q4_0, q4_1, q8_0, f16, f32)", qn);
    const char *arch = ps->experts ? "qwen3moe" : "llama";
    zf_gguf_writer *w = zf_gguf_writer_new();
    if (!w) return zf_error(ZF_ERR_NO_MEMORY, "[synth] out of memory");
    char k[96];
#define KEY(s) (snprintf(k, sizeof k, "%s." s, arch), k)
    zf_gguf_kv_str(w, "general.architecture", arch);
    zf_gguf_kv_str(w, "general.name", "zfast synthetic");
    zf_gguf_kv_u32(w, "general.alignment", 32);
    zf_gguf_kv_u32(w, KEY("context_length"), 4096);
    zf_gguf_kv_u32(w, KEY("embedding_length"), (uint32_t)ps->hidden);
    zf_gguf_kv_u32(w, KEY("block_count"), (uint32_t)ps->layers);
    zf_gguf_kv_u32(w, KEY("attention.head_count"), (uint32_t)ps->heads);
    zf_gguf_kv_u32(w, KEY("attention.head_count_kv"), (uint32_t)ps->kv_heads);
    zf_gguf_kv_u32(w, KEY("attention.key_length"), (uint32_t)ps->head_dim);
    zf_gguf_kv_u32(w, KEY("attention.value_length"), (uint32_t)ps->head_dim);
    zf_gguf_kv_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)ps->eps);
    zf_gguf_kv_f32(w, KEY("rope.freq_base"), (float)ps->rope_theta);
    zf_gguf_kv_u32(w, KEY("vocab_size"), (uint32_t)ps->vocab);
    if (ps->experts) {
        zf_gguf_kv_u32(w, KEY("expert_count"), (uint32_t)ps->experts);
        zf_gguf_kv_u32(w, KEY("expert_used_count"), (uint32_t)ps->experts_used);
        zf_gguf_kv_u32(w, KEY("expert_feed_forward_length"), (uint32_t)ps->expert_ffn);
    } else {
        zf_gguf_kv_u32(w, KEY("feed_forward_length"), (uint32_t)ps->ffn);
    }
#undef KEY
    zf_gguf_kv_str(w, "tokenizer.ggml.model", "gpt2");
    zf_gguf_kv_str(w, "tokenizer.ggml.pre", "gpt2");
    zf_gguf_kv_str_array(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, (uint64_t)v->n_tokens);
    zf_gguf_kv_i32_array(w, "tokenizer.ggml.token_type", v->types, (uint64_t)v->n_tokens);
    zf_gguf_kv_str_array(w, "tokenizer.ggml.merges", (const char *const *)v->merges, (uint64_t)v->n_merges);
    zf_gguf_kv_u32(w, "tokenizer.ggml.bos_token_id", 256);
    zf_gguf_kv_u32(w, "tokenizer.ggml.eos_token_id", 258);
    for (int i = 0; i < p->n; i++) {
        tensor_plan *t = &p->t[i];
        int quantized = t->role != ROLE_NORM && strstr(t->name, "ffn_gate_inp") == NULL;
        t->enc = quantized ? enc : ENC_F32;
        int64_t ne[3];
        for (int d = 0; d < t->ndim; d++) ne[d] = t->shape[t->ndim - 1 - d];
        if (quantized && qtype != ZF_GGML_F16 && qtype != ZF_GGML_F32 && ne[0] % 32) {
            zf_gguf_writer_free(w);
            return zf_error(ZF_ERR_INVALID_ARG, "[synth] %s: row length %lld is not a multiple of 32 for %s", t->name,
                            (long long)ne[0], qn);
        }
        zf_gguf_tensor(w, t->name, t->ndim, ne, quantized ? qtype : ZF_GGML_F32, fill, t);
        if (t->progress) t->progress->total += (int64_t)zf_gguf_type_bytes(quantized ? qtype : ZF_GGML_F32, numel(t));
    }
    zf_status s = zf_gguf_writer_write(w, o->out);
    zf_gguf_writer_free(w);
    return s;
}

/* ---- MLX safetensors directory --------------------------------------------- */

/* GGUF name -> mlx-lm module path (without .weight) */
static void mlx_path(const char *gguf, char *out, size_t size) {
    static const char *const map[][2] = {
        {"attn_norm", "input_layernorm"}, {"attn_q", "self_attn.q_proj"}, {"attn_k", "self_attn.k_proj"},
        {"attn_v", "self_attn.v_proj"}, {"attn_output", "self_attn.o_proj"}, {"attn_q_norm", "self_attn.q_norm"},
        {"attn_k_norm", "self_attn.k_norm"}, {"ffn_norm", "post_attention_layernorm"},
        {"ffn_gate_inp", "mlp.gate"}, {"ffn_gate_exps", "mlp.switch_mlp.gate_proj"},
        {"ffn_up_exps", "mlp.switch_mlp.up_proj"}, {"ffn_down_exps", "mlp.switch_mlp.down_proj"},
        {"ffn_gate", "mlp.gate_proj"}, {"ffn_up", "mlp.up_proj"}, {"ffn_down", "mlp.down_proj"},
    };
    long long l;
    char part[64];
    if (sscanf(gguf, "blk.%lld.%63[^.]", &l, part) == 2) {
        for (size_t i = 0; i < sizeof map / sizeof *map; i++)
            if (!strcmp(part, map[i][0])) { snprintf(out, size, "model.layers.%lld.%s", l, map[i][1]); return; }
    }
    if (!strncmp(gguf, "token_embd", 10)) snprintf(out, size, "model.embed_tokens");
    else if (!strncmp(gguf, "output_norm", 11)) snprintf(out, size, "model.norm");
    else snprintf(out, size, "lm_head");
}

/* Writes dir/name from a cJSON tree (deleted here). */
static zf_status write_json(cJSON *root, int pretty, const char *dir, const char *name) {
    char *s = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    int ok = f && s && fputs(s, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    cJSON_free(s);
    return ok ? ZF_OK : zf_error(ZF_ERR_IO, "[synth] cannot write %s", path);
}

static zf_status write_config(const preset *ps, int bits, int gs, const char *dir) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "model_type", ps->experts ? "qwen3_moe" : "llama");
    cJSON_AddNumberToObject(c, "vocab_size", (double)ps->vocab);
    cJSON_AddNumberToObject(c, "hidden_size", (double)ps->hidden);
    cJSON_AddNumberToObject(c, "num_hidden_layers", (double)ps->layers);
    cJSON_AddNumberToObject(c, "num_attention_heads", (double)ps->heads);
    cJSON_AddNumberToObject(c, "num_key_value_heads", (double)ps->kv_heads);
    cJSON_AddNumberToObject(c, "head_dim", (double)ps->head_dim);
    cJSON_AddNumberToObject(c, "rms_norm_eps", ps->eps);
    cJSON_AddNumberToObject(c, "rope_theta", ps->rope_theta);
    cJSON_AddNumberToObject(c, "max_position_embeddings", 4096);
    cJSON_AddBoolToObject(c, "tie_word_embeddings", ps->tied);
    if (ps->experts) {
        cJSON_AddNumberToObject(c, "num_experts", (double)ps->experts);
        cJSON_AddNumberToObject(c, "num_experts_per_tok", (double)ps->experts_used);
        cJSON_AddNumberToObject(c, "moe_intermediate_size", (double)ps->expert_ffn);
        cJSON_AddNumberToObject(c, "decoder_sparse_step", 1);
        cJSON_AddItemToObject(c, "mlp_only_layers", cJSON_CreateArray());
        cJSON_AddBoolToObject(c, "norm_topk_prob", 1);
    } else {
        cJSON_AddNumberToObject(c, "intermediate_size", (double)ps->ffn);
    }
    cJSON *q = cJSON_CreateObject();
    cJSON_AddNumberToObject(q, "group_size", gs);
    cJSON_AddNumberToObject(q, "bits", bits);
    cJSON_AddStringToObject(q, "mode", "affine");
    for (int64_t l = 0; ps->experts && l < ps->layers; l++) { /* routers in 8 bits, as mlx-community ships them */
        char path[96];
        snprintf(path, sizeof path, "model.layers.%lld.mlp.gate", (long long)l);
        cJSON *ov = cJSON_AddObjectToObject(q, path);
        cJSON_AddNumberToObject(ov, "group_size", 64);
        cJSON_AddNumberToObject(ov, "bits", 8);
    }
    cJSON_AddItemToObject(c, "quantization", q);
    cJSON_AddItemToObject(c, "quantization_config", cJSON_Duplicate(q, 1));
    return write_json(c, 1, dir, "config.json");
}

static zf_status write_tokenizer_json(const vocab *v, const char *dir) {
    cJSON *root = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON *vv = cJSON_AddObjectToObject(model, "vocab");
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int64_t i = 0; i < v->n_tokens; i++) {
        if (v->types[i] == 3) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", (double)i);
            cJSON_AddStringToObject(a, "content", v->tokens[i]);
            cJSON_AddBoolToObject(a, "special", 1);
            cJSON_AddItemToArray(added, a);
        }
        cJSON_AddNumberToObject(vv, v->tokens[i], (double)i);
    }
    for (int64_t i = 0; i < v->n_merges; i++) cJSON_AddItemToArray(merges, cJSON_CreateString(v->merges[i]));
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddBoolToObject(pre, "add_prefix_space", 0);
    cJSON_AddBoolToObject(pre, "use_regex", 1);
    return write_json(root, 0, dir, "tokenizer.json");
}

static zf_status write_mlx(const zf_synth_opts *o, const preset *ps, plan *p, const vocab *v) {
    int bits = o->bits ? o->bits : 4, gs = o->group_size ? o->group_size : 64;
    if (bits < 2 || bits > 8 || bits == 7) return zf_error(ZF_ERR_INVALID_ARG, "[synth] --bits %d: expected 2, 3, 4, 5, 6 or 8", bits);
    if (gs != 32 && gs != 64 && gs != 128) return zf_error(ZF_ERR_INVALID_ARG, "[synth] --group-size %d: expected 32, 64 or 128", gs);
    /* check every width first: a bad option writes nothing */
    for (int i = 0; i < p->n; i++) {
        tensor_plan *t = &p->t[i];
        if (t->role == ROLE_NORM) continue;
        int router = strstr(t->name, "ffn_gate_inp") != NULL;
        t->bits = router ? 8 : bits;
        t->group_size = router ? 64 : gs;
        int64_t k = t->shape[t->ndim - 1];
        if (k % t->group_size || (k * t->bits) % 32)
            return zf_error(ZF_ERR_INVALID_ARG, "[synth] %s: input width %lld is not a multiple of group size %d",
                            t->name, (long long)k, t->group_size);
    }
    if (mkdir(o->out, 0755) != 0 && errno != EEXIST)
        return zf_error(ZF_ERR_IO, "[synth] cannot create directory %s: %s%s", o->out, strerror(errno),
                        errno == ENOENT ? " (its parent must exist)" : "");
    ZF_TRY(write_config(ps, bits, gs, o->out));
    ZF_TRY(write_tokenizer_json(v, o->out));
    /* a quantized tensor is written as three (weight, scales, biases) sharing one key */
    int n0 = p->n;
    for (int i = 0; i < n0; i++) {
        if (p->t[i].role == ROLE_NORM) { p->t[i].enc = ENC_BF16; continue; }
        p->t[i].enc = ENC_MLX_Q;
        for (int e = ENC_MLX_S; e <= ENC_MLX_B; e++) {
            ZF_TRY(add(p, o->seed, p->t[i].name, ROLE_LINEAR, p->t[i].ndim, p->t[i].shape[0], p->t[i].shape[1],
                       p->t[i].shape[2]));
            tensor_plan *c = &p->t[p->n - 1];
            *c = p->t[i];
            c->enc = e;
        }
    }
    zf_st_writer *w = zf_st_writer_new();
    if (!w) return zf_error(ZF_ERR_NO_MEMORY, "[synth] out of memory");
    for (int i = 0; i < p->n; i++) {
        tensor_plan *t = &p->t[i];
        char path[160], name[192];
        mlx_path(t->name, path, sizeof path);
        int64_t shape[3];
        memcpy(shape, t->shape, sizeof shape);
        int64_t k = shape[t->ndim - 1];
        if (t->enc == ENC_BF16) {
            snprintf(name, sizeof name, "%s.weight", path);
            zf_st_tensor(w, name, "BF16", 2, t->ndim, shape, fill, t);
        } else if (t->enc == ENC_MLX_Q) {
            shape[t->ndim - 1] = k * t->bits / 32;
            snprintf(name, sizeof name, "%s.weight", path);
            zf_st_tensor(w, name, "U32", 4, t->ndim, shape, fill, t);
        } else {
            shape[t->ndim - 1] = k / t->group_size;
            snprintf(name, sizeof name, "%s.%s", path, t->enc == ENC_MLX_S ? "scales" : "biases");
            zf_st_tensor(w, name, "BF16", 2, t->ndim, shape, fill, t);
        }
        int64_t n = 1;
        for (int d = 0; d < t->ndim; d++) n *= shape[d];
        if (t->progress) t->progress->total += n * (t->enc == ENC_MLX_Q ? 4 : 2);
    }
    char file[4096];
    snprintf(file, sizeof file, "%s/model.safetensors", o->out);
    zf_status s = zf_st_writer_write(w, file, "mlx");
    zf_st_writer_free(w);
    return s;
}

zf_status zf_synth_write(const zf_synth_opts *o) {
    if (!o || !o->arch || !o->preset || !o->format || !o->out)
        return zf_error(ZF_ERR_INVALID_ARG, "[synth] arch, preset, format and output path are required");
    const preset *ps = NULL;
    for (size_t i = 0; i < sizeof k_presets / sizeof *k_presets; i++)
        if (!strcmp(k_presets[i].arch, o->arch) && !strcmp(k_presets[i].name, o->preset)) ps = &k_presets[i];
    if (!ps) {
        char names[256];
        zf_synth_presets(o->arch, names, sizeof names);
        if (!names[0]) return zf_error(ZF_ERR_INVALID_ARG, "[synth] unknown arch '%s' (expected llama or qwen3_moe)", o->arch);
        return zf_error(ZF_ERR_INVALID_ARG, "[synth] unknown preset '%s' for %s (expected %s)", o->preset, o->arch, names);
    }
    preset cfg = *ps;
    if (o->layers < 0 || o->vocab < 0) return zf_error(ZF_ERR_INVALID_ARG, "[synth] layers and vocab must be positive");
    if (o->layers) cfg.layers = o->layers;
    if (o->vocab) cfg.vocab = o->vocab;
    if (strcmp(o->format, "gguf") && strcmp(o->format, "mlx"))
        return zf_error(ZF_ERR_INVALID_ARG, "[synth] unknown format '%s' (expected gguf or mlx)", o->format);
    vocab v;
    ZF_TRY(build_vocab(cfg.vocab, &v));
    plan p = {0};
    progress pr = {0, 0, 0, o->progress, o->ctx};
    zf_status s = build_plan(&cfg, o->seed, &p);
    for (int i = 0; s == ZF_OK && i < p.n; i++) p.t[i].progress = &pr;
    if (s == ZF_OK) s = !strcmp(o->format, "gguf") ? write_gguf(o, &cfg, &p, &v) : write_mlx(o, &cfg, &p, &v);
    free(p.t);
    vocab_free(&v);
    return s;
}
