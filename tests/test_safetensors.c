/* safetensors loader: directories written here (MLX-quantized qwen3_moe,
 * sharded, per-module overrides; HF bf16 with per-expert tensors stacked at
 * load; tokenizer.json), values compared with what was written; malformed
 * headers, truncations and bad configs fail cleanly with a reason. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "model/model_file.h"
#include "model/safetensors.h"

typedef struct st {
    const char *name, *dtype;
    int ndim;
    int64_t shape[4];
    size_t bytes;
    uint8_t *data;
} st;

static size_t dsize(const char *dt) { return !strcmp(dt, "F32") || !strcmp(dt, "U32") ? 4 : 2; }

static st mk(const char *name, const char *dtype, int ndim, int64_t a, int64_t b, int64_t c) {
    st t = {name, dtype, ndim, {a, b, c, 0}, 0, NULL};
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= t.shape[i];
    t.bytes = (size_t)n * dsize(dtype);
    t.data = malloc(t.bytes);
    for (size_t i = 0; i < t.bytes; i++) t.data[i] = (uint8_t)zt_rand();
    if (strcmp(dtype, "U32")) /* finite floats */
        for (int64_t i = 0; i < n; i++) zt_set(!strcmp(dtype, "BF16") ? ZF_DTYPE_BF16 : !strcmp(dtype, "F16") ? ZF_DTYPE_F16 : ZF_DTYPE_F32,
                                               t.data, i, (float)zt_uniform(-1, 1));
    return t;
}

/* A safetensors image; pad: header padded to 8 bytes (else data is odd). */
static uint8_t *st_image(const st *ts, int n, int pad, size_t *len) {
    char *h = malloc(65536);
    size_t hl = 0, off = 0;
    hl += (size_t)sprintf(h + hl, "{\"__metadata__\":{\"format\":\"mlx\"}");
    for (int i = 0; i < n; i++) {
        hl += (size_t)sprintf(h + hl, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", ts[i].name, ts[i].dtype);
        for (int d = 0; d < ts[i].ndim; d++) hl += (size_t)sprintf(h + hl, "%s%lld", d ? "," : "", (long long)ts[i].shape[d]);
        hl += (size_t)sprintf(h + hl, "],\"data_offsets\":[%zu,%zu]}", off, off + ts[i].bytes);
        off += ts[i].bytes;
    }
    h[hl++] = '}';
    while (pad ? hl % 8 : hl % 8 != 1) h[hl++] = ' ';
    *len = 8 + hl + off;
    uint8_t *img = malloc(*len);
    uint64_t hl64 = hl;
    memcpy(img, &hl64, 8);
    memcpy(img + 8, h, hl);
    off = 8 + hl;
    for (int i = 0; i < n; i++, off += ts[i - 1].bytes) memcpy(img + off, ts[i].data, ts[i].bytes);
    free(h);
    return img;
}

static void write_file(const char *dir, const char *name, const void *p, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    zt_write_file(path, p, n);
}
static void write_text(const char *dir, const char *name, const char *s) { write_file(dir, name, s, strlen(s)); }

static void rm_dir(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static const char *QWEN2_RE =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"
    "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";

static void write_tokenizer(const char *dir) {
    char tj[4096];
    snprintf(tj, sizeof tj,
             "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":5,\"content\":\"<|im_end|>\",\"special\":true},"
             "{\"id\":6,\"content\":\"<tool>\",\"special\":false}],"
             "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"%s\"},"
             "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false}]},"
             "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"\\u0120\":3,\"\\u0120ab\":4},"
             "\"merges\":[\"a b\",[\"\\u0120\",\"ab\"]]}}", QWEN2_RE);
    write_text(dir, "tokenizer.json", tj);
    write_text(dir, "tokenizer_config.json", "{\"eos_token\":\"<|im_end|>\",\"bos_token\":null,\"chat_template\":\"{{t}}\"}");
}

/* Fuzzer seeds (fuzz/fuzz_safetensors.c input: config \0 tokenizer \0 image)
 * when ZF_WRITE_CORPUS names a directory. */
static void write_seed(const char *name, const char *config, const char *tokenizer, const uint8_t *img, size_t len) {
    const char *corpus = getenv("ZF_WRITE_CORPUS");
    char path[4096];
    if (!corpus) return;
    snprintf(path, sizeof path, "%s/%s", corpus, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) return;
    if (config) fwrite(config, 1, strlen(config) + 1, fp);
    if (config && tokenizer) fwrite(tokenizer, 1, strlen(tokenizer) + 1, fp);
    fwrite(img, 1, len, fp);
    fclose(fp);
}

static int same_bytes(const void *a, const void *b, size_t n) { return !memcmp(a, b, n); }

/* MLX layout: qwen3_moe, 4-bit gs64 with an 8-bit router override and an
 * unquantized lm_head, split over two shards (one with odd data offsets). */
static void test_mlx(void) {
    char dir[] = "/tmp/zf_st_mlxXXXXXX";
    if (!mkdtemp(dir)) { ZT_CHECK(0, "mkdtemp"); return; }
    enum { H = 128, E = 4, V = 16, FF = 64 };
    st a[] = {
        mk("model.embed_tokens.weight", "U32", 2, V, H / 8, 0),
        mk("model.embed_tokens.scales", "BF16", 2, V, H / 64, 0),
        mk("model.embed_tokens.biases", "BF16", 2, V, H / 64, 0),
        mk("model.norm.weight", "BF16", 1, H, 0, 0),
        mk("lm_head.weight", "BF16", 2, V, H, 0),
        mk("model.layers.0.input_layernorm.weight", "BF16", 1, H, 0, 0),
        mk("model.layers.0.post_attention_layernorm.weight", "BF16", 1, H, 0, 0),
        mk("model.layers.0.self_attn.q_norm.weight", "BF16", 1, 32, 0, 0),
        mk("model.layers.0.self_attn.k_norm.weight", "BF16", 1, 32, 0, 0),
        mk("model.layers.0.self_attn.q_proj.weight", "U32", 2, 128, H / 8, 0),
        mk("model.layers.0.self_attn.q_proj.scales", "BF16", 2, 128, H / 64, 0),
        mk("model.layers.0.self_attn.q_proj.biases", "BF16", 2, 128, H / 64, 0),
    };
    st b[] = {
        mk("model.layers.0.mlp.gate.weight", "U32", 2, E, H / 4, 0),
        mk("model.layers.0.mlp.gate.scales", "F16", 2, E, H / 64, 0),
        mk("model.layers.0.mlp.gate.biases", "F16", 2, E, H / 64, 0),
        mk("model.layers.0.mlp.switch_mlp.down_proj.weight", "U32", 3, E, H, FF / 8),
        mk("model.layers.0.mlp.switch_mlp.down_proj.scales", "BF16", 3, E, H, FF / 64),
        mk("model.layers.0.mlp.switch_mlp.down_proj.biases", "BF16", 3, E, H, FF / 64),
        mk("model.layers.0.mlp.switch_mlp.gate_proj.weight", "U32", 3, E, FF, H / 8),
        mk("model.layers.0.mlp.switch_mlp.gate_proj.scales", "BF16", 3, E, FF, H / 64),
        mk("model.layers.0.mlp.switch_mlp.gate_proj.biases", "BF16", 3, E, FF, H / 64),
        mk("model.layers.0.unknown_extra.weight", "F32", 1, 3, 0, 0),
    };
    int na = sizeof a / sizeof a[0], nb = sizeof b / sizeof b[0];
    size_t la, lb;
    uint8_t *ia = st_image(a, na, 1, &la), *ib = st_image(b, nb, 0, &lb);
    write_file(dir, "model-00001-of-00002.safetensors", ia, la);
    write_file(dir, "model-00002-of-00002.safetensors", ib, lb);
    char idx[8192];
    size_t il = (size_t)sprintf(idx, "{\"metadata\":{},\"weight_map\":{");
    for (int i = 0; i < na + nb; i++)
        il += (size_t)sprintf(idx + il, "%s\"%s\":\"model-0000%d-of-00002.safetensors\"", i ? "," : "",
                              i < na ? a[i].name : b[i - na].name, i < na ? 1 : 2);
    sprintf(idx + il, "}}");
    write_text(dir, "model.safetensors.index.json", idx);
    write_text(dir, "config.json",
               "{\"model_type\":\"qwen3_moe\",\"hidden_size\":128,\"num_hidden_layers\":1,\"num_attention_heads\":4,"
               "\"num_key_value_heads\":2,\"head_dim\":32,\"intermediate_size\":256,\"rms_norm_eps\":1e-06,"
               "\"rope_theta\":1000000.0,\"max_position_embeddings\":40960,\"vocab_size\":16,\"num_experts\":4,"
               "\"num_experts_per_tok\":2,\"moe_intermediate_size\":64,\"norm_topk_prob\":true,"
               "\"tie_word_embeddings\":false,\"rope_scaling\":null,\"mlp_only_layers\":[],\"decoder_sparse_step\":1,"
               "\"quantization\":{\"group_size\":64,\"bits\":4,\"model.layers.0.mlp.gate\":{\"group_size\":64,\"bits\":8},"
               "\"lm_head\":false}}");
    write_tokenizer(dir);
    write_seed("mlx_shard1", NULL, NULL, ia, la);
    write_seed("mlx_shard2", NULL, NULL, ib, lb);
    int64_t calls = 0;
    zf_model_file *f = NULL;
    ZT_OK(zf_model_file_open(dir, NULL, &calls, &f));
    if (f) {
        const zf_model_config *c = zf_model_file_config(f);
        ZT_CHECK(!strcmp(c->arch, "qwen3moe") && c->is_moe && c->hidden == H && c->layers == 1 && c->heads == 4 &&
                 c->kv_heads == 2 && c->head_dim == 32 && c->experts == E && c->experts_used == 2 && c->expert_ffn == FF &&
                 c->norm_topk_prob && c->qk_norm && !c->attn_bias && !c->tied_embeddings && c->vocab == V &&
                 c->rope_style == ZF_ROPE_NEOX && c->rope_theta == 1e6f && c->rms_eps == 1e-6f && c->context_length == 40960,
                 "mlx config");
        zf_weight w;
        ZT_OK(zf_model_file_weight(f, "token_embd.weight", &w));
        ZT_CHECK(w.kind == ZF_WEIGHT_AFFINE && w.q.bits == 4 && w.q.group_size == 64 && w.q.n == V && w.q.k == H &&
                 w.q.experts == 1 && w.q.scale_dtype == ZF_DTYPE_BF16 && same_bytes(w.q.packed, a[0].data, a[0].bytes) &&
                 same_bytes(w.q.scales, a[1].data, a[1].bytes) && same_bytes(w.q.biases, a[2].data, a[2].bytes),
                 "token_embd affine");
        ZT_OK(zf_model_file_weight(f, "blk.0.ffn_gate_inp.weight", &w));
        ZT_CHECK(w.kind == ZF_WEIGHT_AFFINE && w.q.bits == 8 && w.q.n == E && w.q.k == H && w.q.scale_dtype == ZF_DTYPE_F16 &&
                 same_bytes(w.q.packed, b[0].data, b[0].bytes) && same_bytes(w.q.scales, b[1].data, b[1].bytes),
                 "router 8-bit override (misaligned shard copied)");
        ZT_OK(zf_model_file_weight(f, "blk.0.ffn_down_exps.weight", &w));
        ZT_CHECK(w.kind == ZF_WEIGHT_AFFINE && w.q.experts == E && w.q.n == H && w.q.k == FF && w.q.bits == 4 &&
                 same_bytes(w.q.biases, b[5].data, b[5].bytes), "switch_mlp down");
        ZT_OK(zf_model_file_weight(f, "blk.0.ffn_gate_exps.weight", &w));
        ZT_CHECK(w.kind == ZF_WEIGHT_AFFINE && w.q.experts == E && w.q.n == FF && w.q.k == H, "switch_mlp gate");
        ZT_OK(zf_model_file_weight(f, "output.weight", &w));
        ZT_CHECK(w.kind == ZF_WEIGHT_FLOAT && w.t.dtype == ZF_DTYPE_BF16 && w.t.shape[0] == V && w.t.shape[1] == H &&
                 same_bytes(w.t.data, a[4].data, a[4].bytes), "lm_head unquantized by override");
        ZT_OK(zf_model_file_weight(f, "blk.0.attn_q_norm.weight", &w));
        ZT_CHECK(w.kind == ZF_WEIGHT_FLOAT && w.t.shape[0] == 32 && same_bytes(w.t.data, a[7].data, a[7].bytes), "q_norm");
        /* the two layer norms hold different random bytes: each maps to its own name */
        ZT_OK(zf_model_file_weight(f, "blk.0.attn_norm.weight", &w));
        ZT_CHECK(w.kind == ZF_WEIGHT_FLOAT && same_bytes(w.t.data, a[5].data, a[5].bytes),
                 "attn_norm is input_layernorm");
        ZT_OK(zf_model_file_weight(f, "blk.0.ffn_norm.weight", &w));
        ZT_CHECK(w.kind == ZF_WEIGHT_FLOAT && same_bytes(w.t.data, a[6].data, a[6].bytes),
                 "ffn_norm is post_attention_layernorm");
        ZT_CHECK(zf_model_file_has(f, "blk.0.attn_norm.weight") && zf_model_file_has(f, "blk.0.ffn_norm.weight") &&
                 zf_model_file_has(f, "output_norm.weight") && zf_model_file_has(f, "blk.0.attn_q.weight") &&
                 zf_model_file_has(f, "model.layers.0.unknown_extra.weight") &&
                 !zf_model_file_has(f, "model.layers.0.mlp.gate.scales"), "names");
        zf_vocab_data v;
        ZT_OK(zf_model_file_vocab(f, &v));
        ZT_CHECK(v.n_tokens == 7 && !strcmp(v.tokens[3], "Ġ") && !strcmp(v.tokens[5], "<|im_end|>") &&
                 v.token_type[5] == 3 && v.token_type[6] == 4 && v.token_type[0] == 1 && v.n_merges == 2 &&
                 !strcmp(v.merges[1], "Ġ ab") && v.eos_id == 5 && v.bos_id == -1 && v.pre && !strcmp(v.pre, "qwen2") &&
                 !strcmp(v.model, "gpt2") && !strcmp(v.chat_template, "{{t}}"), "tokenizer.json");
        char hex[65];
        ZT_OK(zf_model_file_sha256(f, hex));
        ZT_CHECK(strlen(hex) == 64, "hash");
        zf_model_file_close(f);
    }
    /* bad configs: each a clean error with a reason */
    struct { const char *cfg, *expect; } bad[] = {
        {"{\"model_type\":\"gemma\"}", "not supported"},
        {"{\"model_type\":\"qwen3_moe\",\"hidden_size\":128,\"num_hidden_layers\":1,\"num_attention_heads\":4}",
         "'num_experts' is missing"},
        {"{\"model_type\":\"qwen3\",\"hidden_size\":128,\"num_hidden_layers\":1,\"num_attention_heads\":4,"
         "\"intermediate_size\":64}", "config.json gives no quantization"},
        {"{\"model_type\":\"qwen3\",\"hidden_size\":128,\"num_hidden_layers\":1,\"num_attention_heads\":4,"
         "\"intermediate_size\":64,\"quantization\":{\"group_size\":32,\"bits\":4}}", "needs"},
        {"{\"model_type\":\"llama\",\"hidden_size\":128,\"num_hidden_layers\":1,\"num_attention_heads\":4,"
         "\"intermediate_size\":64,\"rope_scaling\":{\"rope_type\":\"yarn\"},\"quantization\":{\"group_size\":64,\"bits\":4}}",
         "rope_scaling 'yarn'"},
        {"[1,2]", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(dir, "config.json", bad[i].cfg);
        f = (zf_model_file *)(uintptr_t)0x99;
        zf_status s = zf_model_file_open(dir, NULL, NULL, &f);
        ZT_CHECK(s != ZF_OK && f == (zf_model_file *)(uintptr_t)0x99 && strstr(zf_last_error(), bad[i].expect),
                 "bad config %zu: %s (want '%s')", i, zf_last_error(), bad[i].expect);
    }
    /* an index naming a file outside the directory, the directory itself or its parent */
    static const char *const shard[] = {"../evil.safetensors", "..", ".", ""};
    for (size_t i = 0; i < sizeof shard / sizeof *shard; i++) {
        char idx[128];
        snprintf(idx, sizeof idx, "{\"weight_map\":{\"x\":\"%s\"}}", shard[i]);
        write_text(dir, "model.safetensors.index.json", idx);
        ZT_CHECK(zf_model_file_open(dir, NULL, NULL, &f) == ZF_ERR_FORMAT && strstr(zf_last_error(), "not a file name"),
                 "index path '%s': %s", shard[i], zf_last_error());
    }
    rm_dir(dir);
    free(ia);
    free(ib);
    for (int i = 0; i < na; i++) free(a[i].data);
    for (int i = 0; i < nb; i++) free(b[i].data);
}

/* HF bf16 qwen3_moe: experts.E.* stacked into [E, n, k]; tied embeddings;
 * q/k/v biases. */
static void test_hf_experts(void) {
    char dir[] = "/tmp/zf_st_hfXXXXXX";
    if (!mkdtemp(dir)) { ZT_CHECK(0, "mkdtemp"); return; }
    enum { H = 64, E = 3, FF = 32 };
    st t[20];
    int n = 0;
    t[n++] = mk("model.embed_tokens.weight", "BF16", 2, 11, H, 0);
    t[n++] = mk("model.norm.weight", "BF16", 1, H, 0, 0);
    t[n++] = mk("model.layers.0.self_attn.q_proj.bias", "BF16", 1, H, 0, 0);
    t[n++] = mk("model.layers.0.mlp.gate.weight", "BF16", 2, E, H, 0);
    static char names[3][E][80];
    const char *proj[3] = {"gate_proj", "up_proj", "down_proj"};
    for (int p = 0; p < 3; p++)
        for (int e = 0; e < E; e++) {
            snprintf(names[p][e], sizeof names[p][e], "model.layers.0.mlp.experts.%d.%s.weight", e, proj[p]);
            t[n++] = p < 2 ? mk(names[p][e], "BF16", 2, FF, H, 0) : mk(names[p][e], "BF16", 2, H, FF, 0);
        }
    size_t len;
    uint8_t *img = st_image(t, n, 1, &len);
    write_file(dir, "model.safetensors", img, len);
    const char *cfg = "{\"model_type\":\"qwen3_moe\",\"hidden_size\":64,\"num_hidden_layers\":1,\"num_attention_heads\":2,"
                      "\"num_experts\":3,\"num_experts_per_tok\":2,\"moe_intermediate_size\":32,\"tie_word_embeddings\":true}";
    write_text(dir, "config.json", cfg);
    write_seed("hf_experts_tok", cfg, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}",
               img, len);
    zf_model_file *f = NULL;
    ZT_OK(zf_model_file_open(dir, NULL, NULL, &f));
    if (f) {
        const zf_model_config *c = zf_model_file_config(f);
        ZT_CHECK(c->tied_embeddings && c->attn_bias && c->vocab == 11 && c->kv_heads == 2 && c->head_dim == 32 &&
                 !c->norm_topk_prob && c->rope_theta == 10000.0f, "hf config");
        for (int p = 0; p < 3; p++) {
            char gname[64];
            snprintf(gname, sizeof gname, "blk.0.ffn_%s_exps.weight", p == 0 ? "gate" : p == 1 ? "up" : "down");
            zf_weight w;
            ZT_OK(zf_model_file_weight(f, gname, &w));
            int ok = w.kind == ZF_WEIGHT_FLOAT && w.t.ndim == 3 && w.t.shape[0] == E && w.t.dtype == ZF_DTYPE_BF16;
            for (int e = 0; ok && e < E; e++) {
                const st *src = &t[4 + p * E + e];
                ok = w.t.shape[1] == src->shape[0] && w.t.shape[2] == src->shape[1] &&
                     same_bytes((uint8_t *)w.t.data + (size_t)e * src->bytes, src->data, src->bytes);
            }
            ZT_CHECK(ok, "%s stacked from experts.E", gname);
        }
        ZT_CHECK(zf_model_file_vocab(f, &(zf_vocab_data){0}) == ZF_ERR_FORMAT, "no tokenizer.json -> no vocab");
        zf_model_file_close(f);
    }
    /* a missing expert is named */
    t[n - 1].name = "model.layers.0.mlp.experts.7.down_proj.weight";
    free(img);
    img = st_image(t, n, 1, &len);
    write_file(dir, "model.safetensors", img, len);
    ZT_CHECK(zf_model_file_open(dir, NULL, NULL, &f) == ZF_ERR_FORMAT &&
             strstr(zf_last_error(), "experts.2.down_proj.weight"), "missing expert: %s", zf_last_error());
    rm_dir(dir);
    free(img);
    for (int i = 0; i < n; i++) free(t[i].data);
}

/* Qwen3-style explicit head_dim (32) unlike hidden / heads (64 / 4 = 16). */
static void test_head_dim(void) {
    char dir[] = "/tmp/zf_st_hdXXXXXX";
    if (!mkdtemp(dir)) { ZT_CHECK(0, "mkdtemp"); return; }
    enum { H = 64, HD = 32 };
    st t[] = {
        mk("model.embed_tokens.weight", "BF16", 2, 11, H, 0),
        mk("model.norm.weight", "BF16", 1, H, 0, 0),
        mk("model.layers.0.self_attn.q_proj.weight", "BF16", 2, 4 * HD, H, 0),
        mk("model.layers.0.self_attn.q_norm.weight", "BF16", 1, HD, 0, 0),
    };
    int n = sizeof t / sizeof t[0];
    size_t len;
    uint8_t *img = st_image(t, n, 1, &len);
    write_file(dir, "model.safetensors", img, len);
    write_text(dir, "config.json",
               "{\"model_type\":\"qwen3\",\"hidden_size\":64,\"num_hidden_layers\":1,\"num_attention_heads\":4,"
               "\"num_key_value_heads\":2,\"head_dim\":32,\"intermediate_size\":128,\"tie_word_embeddings\":true}");
    zf_model_file *f = NULL;
    ZT_OK(zf_model_file_open(dir, NULL, NULL, &f));
    if (f) {
        const zf_model_config *c = zf_model_file_config(f);
        ZT_CHECK(c->head_dim == HD && c->heads == 4 && c->kv_heads == 2 && c->hidden == H && c->qk_norm,
                 "explicit head_dim: %lld (heads %lld, hidden %lld)", (long long)c->head_dim, (long long)c->heads,
                 (long long)c->hidden);
        zf_model_file_close(f);
    }
    rm_dir(dir);
    free(img);
    for (int i = 0; i < n; i++) free(t[i].data);
}

/* model.safetensors of ts[0..n) and config.json cfg written to dir, opened. */
static zf_status open_st_dir(const char *dir, const st *ts, int n, const char *cfg, zf_model_file **f) {
    size_t len;
    uint8_t *img = st_image(ts, n, 1, &len);
    write_file(dir, "model.safetensors", img, len);
    write_text(dir, "config.json", cfg);
    free(img);
    return zf_model_file_open(dir, NULL, NULL, f);
}

/* open_st_dir must fail with status want and a message holding expect,
 * leaving the caller's handle untouched. */
static void expect_open_error(const char *what, const char *dir, const st *ts, int n, const char *cfg, zf_status want,
                              const char *expect) {
    zf_model_file *f = (zf_model_file *)(uintptr_t)0x99;
    zf_status s = open_st_dir(dir, ts, n, cfg, &f);
    ZT_CHECK(s == want && f == (zf_model_file *)(uintptr_t)0x99 && strstr(zf_last_error(), expect),
             "%s: status %d, %s (want '%s')", what, (int)s, s ? zf_last_error() : "loaded", expect);
    if (s == ZF_OK) zf_model_file_close(f);
}

#define LLAMA_CFG(extra)                                                                                          \
    "{\"model_type\":\"llama\",\"hidden_size\":64,\"num_hidden_layers\":1,\"num_attention_heads\":4,"            \
    "\"intermediate_size\":96" extra "}"
#define MOE_CFG(experts, extra)                                                                                   \
    "{\"model_type\":\"qwen3_moe\",\"hidden_size\":64,\"num_hidden_layers\":1,\"num_attention_heads\":2,"        \
    "\"num_experts\":" #experts ",\"num_experts_per_tok\":1,\"moe_intermediate_size\":32" extra "}"

/* MLX quantized layouts that are one check away from loading: 7 bits, scales
 * whose leading dims differ from the weight's (2-D and 3-D), lm_head turned
 * off while its scales exist, a module override on a weight without scales.
 * Each fails with its reason; the matching well-formed layouts load. */
static void test_quant_layout(void) {
    char dir[] = "/tmp/zf_st_qlXXXXXX";
    if (!mkdtemp(dir)) { ZT_CHECK(0, "mkdtemp"); return; }
#define EMB {"model.embed_tokens.weight", "BF16", 2, 11, 64, 0}
    struct {
        const char *what, *cfg;
        zf_status want;
        const char *expect;
        struct { const char *name, *dtype; int ndim; int64_t a, b, c; } t[4];
    } c[] = {
        {"7 bits", LLAMA_CFG(",\"quantization\":{\"group_size\":32,\"bits\":7}"), ZF_ERR_FORMAT,
         "q_proj: bits 7 / group_size 32 not supported",
         {EMB, {"model.layers.0.self_attn.q_proj.weight", "U32", 2, 8, 7, 0},
          {"model.layers.0.self_attn.q_proj.scales", "BF16", 2, 8, 1, 0},
          {"model.layers.0.self_attn.q_proj.biases", "BF16", 2, 8, 1, 0}}},
        {"2-D scales rows", LLAMA_CFG(",\"quantization\":{\"group_size\":64,\"bits\":4}"), ZF_ERR_SHAPE,
         "model.embed_tokens: scales/biases shape does not match the weight",
         {{"model.embed_tokens.weight", "U32", 2, 11, 8, 0}, {"model.embed_tokens.scales", "BF16", 2, 5, 1, 0},
          {"model.embed_tokens.biases", "BF16", 2, 5, 1, 0}}},
        {"2-D scales rows match", LLAMA_CFG(",\"quantization\":{\"group_size\":64,\"bits\":4}"), ZF_OK, NULL,
         {{"model.embed_tokens.weight", "U32", 2, 11, 8, 0}, {"model.embed_tokens.scales", "BF16", 2, 11, 1, 0},
          {"model.embed_tokens.biases", "BF16", 2, 11, 1, 0}}},
        {"3-D scales n", MOE_CFG(2, ",\"quantization\":{\"group_size\":64,\"bits\":4}"), ZF_ERR_SHAPE,
         "switch_mlp.gate_proj: scales/biases shape does not match the weight",
         {EMB, {"model.layers.0.mlp.switch_mlp.gate_proj.weight", "U32", 3, 2, 16, 8},
          {"model.layers.0.mlp.switch_mlp.gate_proj.scales", "BF16", 3, 2, 15, 1},
          {"model.layers.0.mlp.switch_mlp.gate_proj.biases", "BF16", 3, 2, 15, 1}}},
        {"3-D scales n match", MOE_CFG(2, ",\"quantization\":{\"group_size\":64,\"bits\":4}"), ZF_OK, NULL,
         {EMB, {"model.layers.0.mlp.switch_mlp.gate_proj.weight", "U32", 3, 2, 16, 8},
          {"model.layers.0.mlp.switch_mlp.gate_proj.scales", "BF16", 3, 2, 16, 1},
          {"model.layers.0.mlp.switch_mlp.gate_proj.biases", "BF16", 3, 2, 16, 1}}},
        {"lm_head false with scales", LLAMA_CFG(",\"quantization\":{\"group_size\":64,\"bits\":4,\"lm_head\":false}"),
         ZF_ERR_FORMAT, "lm_head.scales exists but config.json gives no quantization for lm_head",
         {EMB, {"lm_head.weight", "U32", 2, 11, 8, 0}, {"lm_head.scales", "BF16", 2, 11, 1, 0},
          {"lm_head.biases", "BF16", 2, 11, 1, 0}}},
        {"override without scales",
         MOE_CFG(2, ",\"quantization\":{\"group_size\":64,\"bits\":4,\"model.layers.0.mlp.gate\":{\"group_size\":64,\"bits\":8}}"),
         ZF_ERR_FORMAT,
         "model.layers.0.mlp.gate.weight is quantized but model.layers.0.mlp.gate.scales or "
         "model.layers.0.mlp.gate.biases is missing",
         {EMB, {"model.layers.0.mlp.gate.weight", "U32", 2, 2, 16, 0}}},
    };
#undef EMB
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        st t[4];
        int n = 0;
        for (; n < 4 && c[i].t[n].name; n++)
            t[n] = mk(c[i].t[n].name, c[i].t[n].dtype, c[i].t[n].ndim, c[i].t[n].a, c[i].t[n].b, c[i].t[n].c);
        if (c[i].want == ZF_OK) {
            zf_model_file *f = NULL;
            zf_status s = open_st_dir(dir, t, n, c[i].cfg, &f);
            ZT_CHECK(s == ZF_OK, "%s: %s", c[i].what, zf_last_error());
            if (s == ZF_OK) zf_model_file_close(f);
        } else {
            expect_open_error(c[i].what, dir, t, n, c[i].cfg, c[i].want, c[i].expect);
        }
        for (int k = 0; k < n; k++) free(t[k].data);
    }
    rm_dir(dir);
}

/* No tie_word_embeddings key: lm_head.weight present means untied (output
 * is lm_head), absent means tied. */
static void test_tie_default(void) {
    char dir[] = "/tmp/zf_st_tieXXXXXX";
    if (!mkdtemp(dir)) { ZT_CHECK(0, "mkdtemp"); return; }
    st t[2] = {mk("model.embed_tokens.weight", "BF16", 2, 11, 64, 0), mk("lm_head.weight", "BF16", 2, 11, 64, 0)};
    zf_model_file *f = NULL;
    ZT_OK(open_st_dir(dir, t, 2, LLAMA_CFG(""), &f));
    if (f) {
        zf_weight w;
        ZT_CHECK(!zf_model_file_config(f)->tied_embeddings, "lm_head.weight present, no tie key: tied_embeddings %d",
                 (int)zf_model_file_config(f)->tied_embeddings);
        ZT_OK(zf_model_file_weight(f, "output.weight", &w));
        ZT_CHECK(w.kind == ZF_WEIGHT_FLOAT && same_bytes(w.t.data, t[1].data, t[1].bytes), "output.weight is lm_head.weight");
        zf_model_file_close(f);
    }
    f = NULL;
    ZT_OK(open_st_dir(dir, t, 1, LLAMA_CFG(""), &f));
    if (f) {
        ZT_CHECK(zf_model_file_config(f)->tied_embeddings, "no lm_head.weight, no tie key: untied");
        zf_model_file_close(f);
    }
    rm_dir(dir);
    free(t[0].data);
    free(t[1].data);
}

/* HF per-expert tensors: a single expert still stacks into [1, n, k]; an
 * expert whose k differs from expert 0's is named. */
static void test_expert_edges(void) {
    char dir[] = "/tmp/zf_st_expXXXXXX";
    if (!mkdtemp(dir)) { ZT_CHECK(0, "mkdtemp"); return; }
    st t[3] = {mk("model.embed_tokens.weight", "BF16", 2, 11, 64, 0),
               mk("model.layers.0.mlp.experts.0.gate_proj.weight", "BF16", 2, 32, 64, 0),
               mk("model.layers.0.mlp.experts.1.gate_proj.weight", "BF16", 2, 32, 80, 0)};
    zf_model_file *f = NULL;
    ZT_OK(open_st_dir(dir, t, 2, MOE_CFG(1, ""), &f));
    if (f) {
        zf_weight w;
        ZT_OK(zf_model_file_weight(f, "blk.0.ffn_gate_exps.weight", &w));
        ZT_CHECK(w.kind == ZF_WEIGHT_FLOAT && w.t.ndim == 3 && w.t.shape[0] == 1 && w.t.shape[1] == 32 &&
                 w.t.shape[2] == 64 && w.t.dtype == ZF_DTYPE_BF16 && same_bytes(w.t.data, t[1].data, t[1].bytes),
                 "one expert: blk.0.ffn_gate_exps.weight [1, 32, 64] from experts.0");
        zf_model_file_close(f);
    }
    expect_open_error("expert 1 [32, 80] after expert 0 [32, 64]", dir, t, 3, MOE_CFG(2, ""), ZF_ERR_SHAPE,
                      "experts.1.gate_proj.weight differs in dtype or shape from expert 0");
    rm_dir(dir);
    for (int i = 0; i < 3; i++) free(t[i].data);
}

/* Two tensors that map to one GGUF name (the only pair, sorting first) are
 * rejected. */
static void test_duplicate_names(void) {
    char dir[] = "/tmp/zf_st_dupXXXXXX";
    if (!mkdtemp(dir)) { ZT_CHECK(0, "mkdtemp"); return; }
    st t[3] = {mk("model.embed_tokens.weight", "BF16", 2, 11, 64, 0),
               mk("model.layers.0.input_layernorm.weight", "BF16", 1, 64, 0, 0),
               mk("blk.0.attn_norm.weight", "BF16", 1, 64, 0, 0)};
    expect_open_error("input_layernorm and a raw blk.0.attn_norm.weight", dir, t, 3, LLAMA_CFG(""), ZF_ERR_FORMAT,
                      "tensor blk.0.attn_norm.weight is given twice");
    rm_dir(dir);
    for (int i = 0; i < 3; i++) free(t[i].data);
}

/* tokenizer.json ids: an added token may take the last id of the table
 * (vocab + added_tokens) but not one past it; without tokenizer_config.json
 * an eos_token_id list gives its first id. */
static void test_vocab_ids(void) {
    char dir[] = "/tmp/zf_st_vidXXXXXX";
    if (!mkdtemp(dir)) { ZT_CHECK(0, "mkdtemp"); return; }
    st emb = mk("model.embed_tokens.weight", "BF16", 2, 11, 64, 0);
    const char *tok = "{\"added_tokens\":[{\"id\":%d,\"content\":\"<x>\",\"special\":true}],"
                      "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2},\"merges\":[]}}";
    char tj[512];
    snprintf(tj, sizeof tj, tok, 3);
    write_text(dir, "tokenizer.json", tj);
    zf_model_file *f = NULL;
    ZT_OK(open_st_dir(dir, &emb, 1, LLAMA_CFG(",\"eos_token_id\":[1,2]"), &f));
    if (f) {
        zf_vocab_data v;
        ZT_OK(zf_model_file_vocab(f, &v));
        ZT_CHECK(v.n_tokens == 4 && !strcmp(v.tokens[3], "<x>") && v.token_type[3] == 3, "added token at id 3 of 4");
        ZT_CHECK(v.eos_id == 1 && v.bos_id == -1, "eos_token_id [1,2]: eos %d (want 1), bos %d", v.eos_id, v.bos_id);
        zf_model_file_close(f);
    }
    snprintf(tj, sizeof tj, tok, 4);
    write_text(dir, "tokenizer.json", tj);
    expect_open_error("added token id 4 of 4", dir, &emb, 1, LLAMA_CFG(""), ZF_ERR_FORMAT,
                      "token '<x>' has id 4 outside [0, 4)");
    rm_dir(dir);
    free(emb.data);
}

/* Header parsing from memory: every truncation fails, every corruption is
 * either a clean error or a parse; specific malformed headers are named. */
/* config.json rope_scaling: llama3 and linear (HF's rope_type or the older
 * type key) fill the config; default and null scale nothing; other types and
 * missing or inconsistent parameters are errors that name them. */
static void test_rope_scaling(void) {
    char dir[] = "/tmp/zf_st_ropeXXXXXX";
    if (!mkdtemp(dir)) { ZT_CHECK(0, "mkdtemp"); return; }
    st emb = mk("model.embed_tokens.weight", "BF16", 2, 11, 64, 0);
    size_t len;
    uint8_t *img = st_image(&emb, 1, 1, &len);
    write_file(dir, "model.safetensors", img, len);
    const char *base = "{\"model_type\":\"llama\",\"hidden_size\":64,\"num_hidden_layers\":1,\"num_attention_heads\":4,"
                       "\"intermediate_size\":96,\"rope_theta\":500000.0,\"rope_scaling\":%s}";
    const char *l31 = "{\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                      "\"original_max_position_embeddings\":8192,\"rope_type\":\"llama3\"}";
    char cfg[1024];
    struct { const char *rs; zf_rope_scaling want; } ok[] = {
        {l31, {.type = ZF_ROPE_SCALING_LLAMA3, .factor = 8, .low_freq_factor = 1, .high_freq_factor = 4,
               .original_max_position = 8192}},
        {"{\"type\":\"linear\",\"factor\":2.5}", {.type = ZF_ROPE_SCALING_LINEAR, .factor = 2.5}},
        {"{\"rope_type\":\"default\"}", {.type = ZF_ROPE_SCALING_NONE}},
        {"null", {.type = ZF_ROPE_SCALING_NONE}},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        snprintf(cfg, sizeof cfg, base, ok[i].rs);
        write_text(dir, "config.json", cfg);
        zf_model_file *f = NULL;
        ZT_OK(zf_model_file_open(dir, NULL, NULL, &f));
        if (!f) continue;
        const zf_rope_scaling *g = &zf_model_file_config(f)->rope_scaling, *w = &ok[i].want;
        ZT_CHECK(g->type == w->type && g->factor == w->factor && g->low_freq_factor == w->low_freq_factor &&
                 g->high_freq_factor == w->high_freq_factor && g->original_max_position == w->original_max_position &&
                 !g->freq_divisors && !zf_model_file_config(f)->rope_freqs,
                 "rope_scaling %s: type %d factor %g low %g high %g context %lld", ok[i].rs, (int)g->type, g->factor,
                 g->low_freq_factor, g->high_freq_factor, (long long)g->original_max_position);
        zf_model_file_close(f);
    }
    struct { const char *rs, *expect; } bad[] = {
        {"{\"rope_type\":\"dynamic\",\"factor\":2.0}", "rope_scaling 'dynamic' is not supported"},
        {"{\"factor\":2.0}", "rope_scaling '?' is not supported"},
        {"{\"rope_type\":\"linear\"}", "rope_scaling 'factor' must be a number > 0"},
        {"{\"rope_type\":\"linear\",\"factor\":0}", "rope_scaling 'factor' must be a number > 0"},
        {"{\"rope_type\":\"llama3\",\"factor\":8.0,\"high_freq_factor\":4.0,"
         "\"original_max_position_embeddings\":8192}", "rope_scaling 'low_freq_factor' must be a number > 0"},
        {"{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":4.0,\"high_freq_factor\":4.0,"
         "\"original_max_position_embeddings\":8192}", "high_freq_factor 4 must exceed low_freq_factor 4"},
        {"{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0}",
         "'original_max_position_embeddings' is missing"},
        {"{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
         "\"original_max_position_embeddings\":8192.5}", "'original_max_position_embeddings' must be an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(cfg, sizeof cfg, base, bad[i].rs);
        write_text(dir, "config.json", cfg);
        zf_model_file *f = (zf_model_file *)(uintptr_t)0x99;
        zf_status s = zf_model_file_open(dir, NULL, NULL, &f);
        ZT_CHECK(s == ZF_ERR_FORMAT && f == (zf_model_file *)(uintptr_t)0x99 && strstr(zf_last_error(), bad[i].expect),
                 "rope_scaling %s: %s (want '%s')", bad[i].rs, zf_last_error(), bad[i].expect);
    }
    snprintf(cfg, sizeof cfg, base, l31);
    write_seed("llama3_rope_scaling", cfg, "{}", img, len);
    rm_dir(dir);
    free(img);
    free(emb.data);
}

static void test_headers(void) {
    st t[2] = {mk("a.weight", "F32", 2, 3, 5, 0), mk("b", "BF16", 1, 7, 0, 0)};
    size_t len;
    uint8_t *img = st_image(t, 2, 1, &len);
    int64_t bad = 0;
    for (size_t n = 0; n < len; n++) {
        zf_model_file *f = zf_mf_new(NULL, NULL);
        zf_st_list l = {0};
        if (zf_st_parse(f, "x", img, n, &l) != ZF_ERR_FORMAT || !strstr(zf_last_error(), "[safetensors] x:")) bad++;
        zf_st_list_free(&l);
        zf_model_file_close(f);
    }
    ZT_CHECK(bad == 0, "%lld truncations parsed", (long long)bad);
    bad = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t keep = img[i];
        img[i] = (uint8_t)zt_rand();
        zf_model_file *f = zf_mf_new(NULL, NULL);
        zf_st_list l = {0};
        zf_status s = zf_st_parse(f, "x", img, len, &l);
        if (s != ZF_OK && s != ZF_ERR_FORMAT) bad++;
        for (int64_t k = 0; s == ZF_OK && k < l.n; k++)
            if (l.t[k].data < img || l.t[k].data + l.t[k].bytes > img + len) bad++;
        zf_st_list_free(&l);
        zf_model_file_close(f);
        img[i] = keep;
    }
    ZT_CHECK(bad == 0, "%lld corruptions misbehaved", (long long)bad);
    struct { const char *json, *expect; } c[] = {
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "does not match"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,400]}}", "outside the data section"},
        {"{\"t\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,4]}}", "dtype missing or unknown"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", "at most 4"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "non-negative"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", "overflows"},
        {"{\"t\":", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint8_t b[512];
        uint64_t hl = strlen(c[i].json);
        memcpy(b, &hl, 8);
        memcpy(b + 8, c[i].json, hl);
        memset(b + 8 + hl, 0, 16);
        zf_model_file *f = zf_mf_new(NULL, NULL);
        zf_st_list l = {0};
        zf_status s = zf_st_parse(f, "m.safetensors", b, 8 + hl + 16, &l);
        ZT_CHECK(s == ZF_ERR_FORMAT && strstr(zf_last_error(), c[i].expect), "header %zu: %s (want '%s')", i,
                 zf_last_error(), c[i].expect);
        zf_st_list_free(&l);
        zf_model_file_close(f);
    }
    char dir[] = "/tmp/zf_st_emptyXXXXXX";
    if (mkdtemp(dir)) {
        zf_model_file *f = NULL;
        ZT_CHECK(zf_model_file_open(dir, NULL, NULL, &f) == ZF_ERR_IO && strstr(zf_last_error(), "config.json"),
                 "empty dir: %s", zf_last_error());
        rm_dir(dir);
    }
    free(img);
    free(t[0].data);
    free(t[1].data);
}

int main(void) {
    zt_init("test_safetensors");
    test_mlx();
    test_hf_experts();
    test_head_dim();
    test_rope_scaling();
    test_headers();
    test_quant_layout();
    test_tie_default();
    test_expert_edges();
    test_duplicate_names();
    test_vocab_ids();
    return zt_finish();
}
