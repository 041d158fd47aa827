/* One tiny llama model, the same f32 weights written twice: as a GGUF file
 * laid out the way llama.cpp's convert_hf_to_gguf.py writes llama (Q/K rows
 * permuted per head for its adjacent-pair RoPE) and as a plain Hugging Face
 * safetensors directory (rows as trained, halves RoPE). Both go through
 * zf_model_file_open and zf_model_from_file and give the same logits for a
 * prefill and one-token decode steps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "model/model.h"
#include "model/safetensors_writer.h"

enum { V = 64, H = 64, LAYERS = 2, HEADS = 4, KV_HEADS = 2, HD = H / HEADS, FF = 96, MAXW = 3 + 9 * LAYERS };
enum { PREFILL = 5, DECODE = 2, ROWS = PREFILL + DECODE };

typedef struct weight {
    char hf[64], gguf[48];
    int64_t n, k;  /* rows, row length; k 0: a vector of n */
    float *w;      /* HF layout */
    float *gguf_w; /* what the GGUF file holds: w, or its Q/K rows permuted */
} weight;

typedef struct model_weights {
    weight w[MAXW];
    int n;
} model_weights;

/* convert_hf_to_gguf.py's permute for llama q/k: within each head, row
 * 2i + j takes HF row j * HD/2 + i, so the pair GGUF's RoPE rotates,
 * (2i, 2i+1), is the pair HF's rotates, (i, i + HD/2). */
static float *permute_qk(const float *w, int64_t heads, int64_t k) {
    float *p = malloc((size_t)(heads * HD * k) * 4);
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < HD / 2; i++)
            for (int64_t j = 0; j < 2; j++)
                memcpy(p + (h * HD + 2 * i + j) * k, w + (h * HD + j * HD / 2 + i) * k, (size_t)k * 4);
    return p;
}

/* center +- scale: norms sit around 1, matrices around 0 */
static void add(model_weights *m, const char *hf, const char *gguf, int64_t n, int64_t k, float center, float scale) {
    weight *w = &m->w[m->n++];
    snprintf(w->hf, sizeof w->hf, "%s", hf);
    snprintf(w->gguf, sizeof w->gguf, "%s", gguf);
    w->n = n;
    w->k = k;
    int64_t count = n * (k ? k : 1);
    w->w = malloc((size_t)count * 4);
    for (int64_t i = 0; i < count; i++) w->w[i] = center + (float)zt_uniform(-scale, scale);
    w->gguf_w = w->w;
    if (strstr(gguf, "attn_q.") || strstr(gguf, "attn_k.")) w->gguf_w = permute_qk(w->w, n / HD, k);
}

static void build(model_weights *m) {
    memset(m, 0, sizeof *m);
    add(m, "model.embed_tokens.weight", "token_embd.weight", V, H, 0, 1.0f);
    add(m, "model.norm.weight", "output_norm.weight", H, 0, 1, 0.3f);
    add(m, "lm_head.weight", "output.weight", V, H, 0, 0.5f);
    for (int l = 0; l < LAYERS; l++) {
        static const struct { const char *hf, *gguf; int64_t n, k; float center, scale; } layer[] = {
            {"input_layernorm", "attn_norm", H, 0, 1, 0.3f},
            {"post_attention_layernorm", "ffn_norm", H, 0, 1, 0.3f},
            {"self_attn.q_proj", "attn_q", HEADS * HD, H, 0, 0.3f},
            {"self_attn.k_proj", "attn_k", KV_HEADS * HD, H, 0, 0.3f},
            {"self_attn.v_proj", "attn_v", KV_HEADS * HD, H, 0, 0.3f},
            {"self_attn.o_proj", "attn_output", H, HEADS * HD, 0, 0.2f},
            {"mlp.gate_proj", "ffn_gate", FF, H, 0, 0.3f},
            {"mlp.up_proj", "ffn_up", FF, H, 0, 0.3f},
            {"mlp.down_proj", "ffn_down", H, FF, 0, 0.2f},
        };
        for (size_t i = 0; i < sizeof layer / sizeof *layer; i++) {
            char hf[64], gguf[48];
            snprintf(hf, sizeof hf, "model.layers.%d.%s.weight", l, layer[i].hf);
            snprintf(gguf, sizeof gguf, "blk.%d.%s.weight", l, layer[i].gguf);
            add(m, hf, gguf, layer[i].n, layer[i].k, layer[i].center, layer[i].scale);
        }
    }
}

static void free_weights(model_weights *m) {
    for (int i = 0; i < m->n; i++) {
        if (m->w[i].gguf_w != m->w[i].w) free(m->w[i].gguf_w);
        free(m->w[i].w);
    }
}

static void fill(void *ctx, void *buf, size_t offset, size_t bytes) { memcpy(buf, (const char *)ctx + offset, bytes); }

/* No tokenizer keys: the model runs on token ids. */
static zf_status write_gguf(const model_weights *m, const char *path) {
    zf_gguf_writer *w = zf_gguf_writer_new();
    if (!w) return ZF_ERR_NO_MEMORY;
    zf_gguf_kv_str(w, "general.architecture", "llama");
    zf_gguf_kv_u32(w, "llama.context_length", 64);
    zf_gguf_kv_u32(w, "llama.embedding_length", H);
    zf_gguf_kv_u32(w, "llama.block_count", LAYERS);
    zf_gguf_kv_u32(w, "llama.feed_forward_length", FF);
    zf_gguf_kv_u32(w, "llama.attention.head_count", HEADS);
    zf_gguf_kv_u32(w, "llama.attention.head_count_kv", KV_HEADS);
    zf_gguf_kv_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    zf_gguf_kv_f32(w, "llama.rope.freq_base", 10000.0f);
    for (int i = 0; i < m->n; i++) {
        const weight *t = &m->w[i];
        int64_t ne[2] = {t->k ? t->k : t->n, t->n}; /* fastest-varying first */
        zf_gguf_tensor(w, t->gguf, t->k ? 2 : 1, ne, ZF_GGML_F32, fill, t->gguf_w);
    }
    zf_status s = zf_gguf_writer_write(w, path);
    zf_gguf_writer_free(w);
    return s;
}

static zf_status write_hf(const model_weights *m, const char *dir) {
    char path[512], config[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    int len = snprintf(config, sizeof config,
                       "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":%d,"
                       "\"num_hidden_layers\":%d,\"num_attention_heads\":%d,\"num_key_value_heads\":%d,"
                       "\"intermediate_size\":%d,\"rms_norm_eps\":1e-05,\"rope_theta\":10000.0,\"vocab_size\":%d,"
                       "\"max_position_embeddings\":64,\"tie_word_embeddings\":false,\"torch_dtype\":\"float32\"}",
                       H, LAYERS, HEADS, KV_HEADS, FF, V);
    if (!zt_write_file(path, config, (size_t)len)) return ZF_ERR_IO;
    zf_st_writer *w = zf_st_writer_new();
    if (!w) return ZF_ERR_NO_MEMORY;
    for (int i = 0; i < m->n; i++) {
        const weight *t = &m->w[i];
        int64_t shape[2] = {t->n, t->k};
        zf_st_tensor(w, t->hf, "F32", 4, t->k ? 2 : 1, shape, fill, t->w);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    zf_status s = zf_st_writer_write(w, path, "pt");
    zf_st_writer_free(w);
    return s;
}

/* logits [ROWS, V]: every prefill row, then each decode step's */
static zf_status run(zf_model *m, const int32_t *tok, float *logits) {
    zf_status s = zf_model_forward(m, tok, PREFILL, 1, logits);
    for (int i = PREFILL; s == ZF_OK && i < ROWS; i++) s = zf_model_forward(m, tok + i, 1, 0, logits + i * V);
    return s;
}

static double max_abs(const float *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}
static double max_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void test_cross_format(void) {
    char dir[] = "/tmp/zf_xfmtXXXXXX", gguf[64], hf[64], cfg[96], st[96];
    if (!mkdtemp(dir)) { ZT_CHECK(0, "mkdtemp"); return; }
    snprintf(gguf, sizeof gguf, "%s/model.gguf", dir);
    snprintf(hf, sizeof hf, "%s/hf", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", hf);
    snprintf(st, sizeof st, "%s/model.safetensors", hf);
    model_weights w;
    build(&w);
    ZT_OK(write_gguf(&w, gguf));
    ZT_CHECK(mkdir(hf, 0700) == 0, "mkdir %s", hf);
    ZT_OK(write_hf(&w, hf));
    zf_model_file *fg = NULL, *fh = NULL;
    zf_model *mg = NULL, *mh = NULL, *mx = NULL;
    ZT_OK(zf_model_file_open(gguf, NULL, NULL, &fg));
    ZT_OK(zf_model_file_open(hf, NULL, NULL, &fh));
    zf_model_opts o = zf_model_opts_default();
    o.max_ctx = ROWS;
    if (fg && fh) {
        const zf_model_config *cg = zf_model_file_config(fg), *ch = zf_model_file_config(fh);
        ZT_CHECK(cg->rope_style == ZF_ROPE_NORMAL && ch->rope_style == ZF_ROPE_NEOX, "rope styles %d (gguf), %d (hf)",
                 (int)cg->rope_style, (int)ch->rope_style);
        ZT_CHECK(!strcmp(cg->arch, ch->arch) && cg->vocab == V && ch->vocab == V && cg->heads == ch->heads &&
                 cg->kv_heads == KV_HEADS && ch->kv_heads == KV_HEADS && cg->head_dim == HD && ch->head_dim == HD &&
                 cg->ffn == ch->ffn && cg->rms_eps == ch->rms_eps && cg->rope_theta == ch->rope_theta &&
                 !cg->tied_embeddings && !ch->tied_embeddings, "the two configs differ");
        ZT_OK(zf_model_from_file(fg, &o, &mg));
        ZT_OK(zf_model_from_file(fh, &o, &mh));
        zf_model_config neox = *cg;
        neox.rope_style = ZF_ROPE_NEOX;
        zf_weight_source src = zf_model_file_source(fg);
        ZT_OK(zf_model_create(&neox, &src, &o, &mx));
    }
    if (mg && mh && mx) {
        int32_t tok[ROWS];
        for (int i = 0; i < ROWS; i++) tok[i] = (int32_t)(zt_rand() % V);
        float lg[ROWS * V], lh[ROWS * V], lx[ROWS * V];
        ZT_OK(run(mg, tok, lg));
        ZT_OK(run(mh, tok, lh));
        ZT_OK(run(mx, tok, lx));
        /* Only the order of the q.k sums differs (the permutation moves the
         * same products to other lanes): a few f32 ulps per score, under
         * 1e-6 of the largest logit after two layers over 300 seeds. 1e-4
         * keeps that margin; a wrong pairing or layout moves the logits by
         * a third of their size or more. */
        double scale = max_abs(lh, ROWS * V), tol = 1e-4 * scale;
        double diff = max_diff(lg, lh, ROWS * V), wrong = max_diff(lx, lh, ROWS * V);
        printf("test_cross_format: max |gguf - hf| %.3g, gguf with halves rope %.3g (largest logit %.3g)\n", diff, wrong,
               scale);
        ZT_CHECK(diff <= tol, "gguf and hf logits differ by %g (tolerance %g)", diff, tol);
        /* positions > 0 make the rope pairing matter: else the check could not fail */
        ZT_CHECK(wrong > 100 * tol, "the GGUF file with the halves RoPE is as close (%g): the check could not fail", wrong);
    }
    zf_model_destroy(mx);
    zf_model_destroy(mg);
    zf_model_destroy(mh);
    zf_model_file_close(fg);
    zf_model_file_close(fh);
    free_weights(&w);
    unlink(st);
    unlink(cfg);
    rmdir(hf);
    unlink(gguf);
    rmdir(dir);
}

int main(void) {
    zt_init("test_cross_format");
    test_cross_format();
    return zt_finish();
}
