/* The llama graph: a tiny random model built in memory matches a float64
 * forward pass; decoding token t after a prefill of t - 1 tokens gives the
 * prefill's logits bit for bit (as do prefill steps of any size); with the
 * real SmolLM2 file present, the greedy chat answer names Paris. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "model/chat.h"
#include "model/model.h"
#include "model/sampler.h"
#include "model/tokenizer.h"

enum { MAXW = 64 };
typedef struct tiny {
    zf_model_config cfg;
    char names[MAXW][48];
    zf_weight w[MAXW];
    float *dense[MAXW]; /* dequantized (or float) values, for the reference */
    int n;
} tiny;

static zf_status tiny_weight(void *ctx, const char *name, zf_weight *out) {
    tiny *t = ctx;
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->names[i], name)) { *out = t->w[i]; return ZF_OK; }
    return ZF_ERR_FORMAT;
}
static int tiny_has(void *ctx, const char *name) {
    zf_weight w;
    return tiny_weight(ctx, name, &w) == ZF_OK;
}
static const float *dense(tiny *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->names[i], name)) return t->dense[i];
    return NULL;
}

static void add_vector(tiny *t, const char *name, int64_t n, float center) {
    float *v = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) v[i] = center + (float)zt_uniform(-0.3, 0.3);
    snprintf(t->names[t->n], 48, "%s", name);
    t->w[t->n] = (zf_weight){.kind = ZF_WEIGHT_FLOAT, .t = zf_tensor_1d(v, ZF_DTYPE_F32, n)};
    t->dense[t->n++] = v;
}

static void add_linear(tiny *t, const char *name, int64_t n, int64_t k, float scale) {
    float *w = malloc((size_t)(n * k) * 4);
    zt_fill(ZF_DTYPE_F32, w, n * k, scale);
    zf_qweight q = {.scale_dtype = ZF_DTYPE_F32, .bits = 4, .group_size = 32, .experts = 1, .n = n, .k = k};
    q.packed = malloc((size_t)(n * k / 8) * 4);
    q.scales = malloc((size_t)(n * k / 32) * 4);
    q.biases = malloc((size_t)(n * k / 32) * 4);
    zf_tensor tw = zf_tensor_2d(w, ZF_DTYPE_F32, n, k);
    ZT_OK(zf_quantize(&tw, &q));
    ZT_OK(zf_dequantize(&q, &tw)); /* the reference sees exactly the quantized values */
    snprintf(t->names[t->n], 48, "%s", name);
    t->w[t->n] = (zf_weight){.kind = ZF_WEIGHT_AFFINE, .q = q};
    t->dense[t->n++] = w;
}

static void tiny_build(tiny *t, int qk_norm, int bias, zf_rope_style style) {
    memset(t, 0, sizeof *t);
    zf_model_config *c = &t->cfg;
    snprintf(c->arch, sizeof c->arch, "llama");
    c->vocab = 67; c->hidden = 64; c->layers = 2; c->heads = 4; c->kv_heads = 2; c->head_dim = 16; c->ffn = 96;
    c->qk_norm = qk_norm; c->attn_bias = bias; c->tied_embeddings = 1;
    c->rms_eps = 1e-5f; c->rope_theta = 10000.0f; c->rope_style = style; c->context_length = 64;
    add_linear(t, "token_embd.weight", c->vocab, c->hidden, 1.0f);
    add_vector(t, "output_norm.weight", c->hidden, 1.0f);
    for (int l = 0; l < c->layers; l++) {
        char n[48];
#define N(s) (snprintf(n, sizeof n, "blk.%d." s, l), n)
        add_vector(t, N("attn_norm.weight"), c->hidden, 1.0f);
        add_vector(t, N("ffn_norm.weight"), c->hidden, 1.0f);
        add_linear(t, N("attn_q.weight"), c->heads * c->head_dim, c->hidden, 0.3f);
        add_linear(t, N("attn_k.weight"), c->kv_heads * c->head_dim, c->hidden, 0.3f);
        add_linear(t, N("attn_v.weight"), c->kv_heads * c->head_dim, c->hidden, 0.3f);
        add_linear(t, N("attn_output.weight"), c->hidden, c->heads * c->head_dim, 0.2f);
        add_linear(t, N("ffn_gate.weight"), c->ffn, c->hidden, 0.3f);
        add_linear(t, N("ffn_up.weight"), c->ffn, c->hidden, 0.3f);
        add_linear(t, N("ffn_down.weight"), c->hidden, c->ffn, 0.2f);
        if (qk_norm) {
            add_vector(t, N("attn_q_norm.weight"), c->head_dim, 1.0f);
            add_vector(t, N("attn_k_norm.weight"), c->head_dim, 1.0f);
        }
        if (bias) {
            add_vector(t, N("attn_q.bias"), c->heads * c->head_dim, 0.0f);
            add_vector(t, N("attn_k.bias"), c->kv_heads * c->head_dim, 0.0f);
            add_vector(t, N("attn_v.bias"), c->kv_heads * c->head_dim, 0.0f);
        }
#undef N
    }
}

static void tiny_free(tiny *t) {
    for (int i = 0; i < t->n; i++) {
        free(t->dense[i]);
        if (t->w[i].kind == ZF_WEIGHT_AFFINE) {
            free((void *)t->w[i].q.packed);
            free((void *)t->w[i].q.scales);
            free((void *)t->w[i].q.biases);
        }
    }
}

/* ---- float64 reference forward ------------------------------------------------ */

static void rms(const double *x, const float *w, int64_t n, double eps, double *y) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / n + eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
}
static void matvec(const float *w, const double *x, int64_t n, int64_t k, double *y) {
    for (int64_t r = 0; r < n; r++) {
        double s = 0;
        for (int64_t c = 0; c < k; c++) s += w[r * k + c] * x[c];
        y[r] = s;
    }
}
static void rope_ref(double *x, int64_t d, int64_t pos, double theta, int neox) {
    for (int64_t i = 0; i < d / 2; i++) {
        double a = pos * pow(theta, -2.0 * i / d), c = cos(a), s = sin(a);
        int64_t ia = neox ? i : 2 * i, ib = neox ? i + d / 2 : 2 * i + 1;
        double u = x[ia], v = x[ib];
        x[ia] = u * c - v * s;
        x[ib] = u * s + v * c;
    }
}

/* logits [T, vocab] for tokens[0..T) */
static void reference(tiny *t, const int32_t *tok, int64_t T, double *logits) {
    const zf_model_config *c = &t->cfg;
    int64_t H = c->hidden, D = c->head_dim, Hq = c->heads, Hk = c->kv_heads, F = c->ffn;
    double *x = calloc((size_t)(T * H), 8), *hn = malloc((size_t)H * 8), *tmp = malloc((size_t)(F * 2 + H) * 8);
    double *K = malloc((size_t)(c->layers * T * Hk * D) * 8), *V = malloc((size_t)(c->layers * T * Hk * D) * 8);
    double *q = malloc((size_t)(Hq * D) * 8), *att = malloc((size_t)(Hq * D) * 8), *s = malloc((size_t)T * 8);
    char n[48];
    for (int64_t p = 0; p < T; p++)
        for (int64_t i = 0; i < H; i++) x[p * H + i] = dense(t, "token_embd.weight")[tok[p] * H + i];
    for (int l = 0; l < c->layers; l++) {
#define W(s) (snprintf(n, sizeof n, "blk.%d." s, l), dense(t, n))
        for (int64_t p = 0; p < T; p++) {
            double *xp = x + p * H, *kp = K + ((l * T) + p) * Hk * D, *vp = V + ((l * T) + p) * Hk * D;
            rms(xp, W("attn_norm.weight"), H, c->rms_eps, hn);
            matvec(W("attn_q.weight"), hn, Hq * D, H, q);
            matvec(W("attn_k.weight"), hn, Hk * D, H, kp);
            matvec(W("attn_v.weight"), hn, Hk * D, H, vp);
            if (c->attn_bias) {
                for (int64_t i = 0; i < Hq * D; i++) q[i] += W("attn_q.bias")[i];
                for (int64_t i = 0; i < Hk * D; i++) { kp[i] += W("attn_k.bias")[i]; vp[i] += W("attn_v.bias")[i]; }
            }
            for (int64_t h = 0; h < Hq; h++) {
                if (c->qk_norm) rms(q + h * D, W("attn_q_norm.weight"), D, c->rms_eps, q + h * D);
                rope_ref(q + h * D, D, p, c->rope_theta, c->rope_style == ZF_ROPE_NEOX);
            }
            for (int64_t h = 0; h < Hk; h++) {
                if (c->qk_norm) rms(kp + h * D, W("attn_k_norm.weight"), D, c->rms_eps, kp + h * D);
                rope_ref(kp + h * D, D, p, c->rope_theta, c->rope_style == ZF_ROPE_NEOX);
            }
            for (int64_t h = 0; h < Hq; h++) {
                int64_t kh = h / (Hq / Hk);
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j <= p; j++) {
                    double d = 0;
                    for (int64_t e = 0; e < D; e++) d += q[h * D + e] * K[((l * T + j) * Hk + kh) * D + e];
                    s[j] = d / sqrt((double)D);
                    if (s[j] > mx) mx = s[j];
                }
                for (int64_t j = 0; j <= p; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
                for (int64_t e = 0; e < D; e++) {
                    double a = 0;
                    for (int64_t j = 0; j <= p; j++) a += s[j] * V[((l * T + j) * Hk + kh) * D + e];
                    att[h * D + e] = a / sum;
                }
            }
            matvec(W("attn_output.weight"), att, H, Hq * D, tmp);
            for (int64_t i = 0; i < H; i++) xp[i] += tmp[i];
            rms(xp, W("ffn_norm.weight"), H, c->rms_eps, hn);
            matvec(W("ffn_gate.weight"), hn, F, H, tmp);
            matvec(W("ffn_up.weight"), hn, F, H, tmp + F);
            for (int64_t i = 0; i < F; i++) tmp[i] = tmp[i] / (1 + exp(-tmp[i])) * tmp[F + i];
            matvec(W("ffn_down.weight"), tmp, H, F, tmp + 2 * F);
            for (int64_t i = 0; i < H; i++) xp[i] += tmp[2 * F + i];
        }
#undef W
    }
    for (int64_t p = 0; p < T; p++) {
        rms(x + p * H, dense(t, "output_norm.weight"), H, c->rms_eps, hn);
        matvec(dense(t, "token_embd.weight"), hn, c->vocab, H, logits + p * c->vocab);
    }
    free(x); free(hn); free(tmp); free(K); free(V); free(q); free(att); free(s);
}

static void test_tiny(int qk_norm, int bias, zf_rope_style style, zf_dtype act) {
    tiny t;
    tiny_build(&t, qk_norm, bias, style);
    zf_weight_source src = {&t, tiny_weight, tiny_has};
    zf_model_opts o = zf_model_opts_default();
    o.act_dtype = act;
    zf_model *m = NULL, *m3 = NULL;
    ZT_OK(zf_model_create(&t.cfg, &src, &o, &m));
    o.max_batch = 3;
    ZT_OK(zf_model_create(&t.cfg, &src, &o, &m3));
    if (!m || !m3) { tiny_free(&t); return; }
    enum { T = 13 };
    int64_t Vc = t.cfg.vocab;
    int32_t tok[T];
    for (int i = 0; i < T; i++) tok[i] = (int32_t)(zt_rand() % (uint64_t)Vc);
    float *all = malloc((size_t)(T * Vc) * 4), *step = malloc((size_t)(T * Vc) * 4), *last = malloc((size_t)Vc * 4);
    double *ref = malloc((size_t)(T * Vc) * 8);
    ZT_OK(zf_model_forward(m, tok, T, 1, all));
    ZT_CHECK(zf_model_pos(m) == T, "pos %lld after %d tokens", (long long)zf_model_pos(m), T);
    reference(&t, tok, T, ref);
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < T * Vc; i++) {
        double e = fabs(all[i] - ref[i]);
        if (e > worst) worst = e;
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    }
    double tol = act == ZF_DTYPE_F32 ? 1e-4 : 0.08;
    ZT_CHECK(worst <= tol * scale, "tiny llama (qk_norm %d, bias %d, style %d, %s): max |logit - float64| %g "
             "(largest logit %g)", qk_norm, bias, (int)style, zf_dtype_name(act), worst, scale);
    /* decode one by one after a prefill: the same bits as the batched prefill */
    zf_model_reset(m);
    ZT_OK(zf_model_forward(m, tok, T - 4, 0, last));
    ZT_CHECK(memcmp(last, all + (T - 5) * Vc, (size_t)Vc * 4) == 0, "prefill of %d: last row differs", T - 4);
    int same = 1;
    for (int i = T - 4; i < T; i++) {
        ZT_OK(zf_model_forward(m, tok + i, 1, 0, last));
        same &= memcmp(last, all + i * Vc, (size_t)Vc * 4) == 0;
    }
    ZT_CHECK(same, "decode after prefill differs from the batched prefill's logits");
    /* prefill in steps of 3 tokens */
    ZT_OK(zf_model_forward(m3, tok, T, 1, step));
    ZT_CHECK(memcmp(step, all, (size_t)(T * Vc) * 4) == 0, "prefill in steps of 3 differs");
    /* bad input: a token id outside the vocabulary, a full context */
    int32_t bad = (int32_t)Vc;
    ZT_CHECK(zf_model_forward(m, &bad, 1, 0, last) == ZF_ERR_INVALID_ARG, "bad token: %s", zf_last_error());
    ZT_CHECK(zf_model_pos(m) == T, "a failed call moved the position");
    free(all); free(step); free(last); free(ref);
    zf_model_destroy(m);
    zf_model_destroy(m3);
    tiny_free(&t);
}

/* The real model: greedy chat answer to a factual question. */
static void test_smollm2(void) {
    const char *path = getenv("ZF_TEST_MODEL") ? getenv("ZF_TEST_MODEL") : ZF_SOURCE_DIR "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    FILE *f = fopen(path, "rb");
    if (!f) { printf("test_llama: %s not present; SmolLM2 check skipped\n", path); return; }
    fclose(f);
    zf_model_file *mf = NULL;
    zf_model *m = NULL;
    zf_tokenizer *tk = NULL;
    zf_vocab_data vd;
    ZT_OK(zf_model_file_open(path, NULL, NULL, &mf));
    if (!mf) return;
    ZT_OK(zf_model_from_file(mf, NULL, &m));
    ZT_OK(zf_model_file_vocab(mf, &vd));
    ZT_OK(zf_tokenizer_create(&vd, &tk));
    if (!m || !tk) { zf_model_destroy(m); zf_model_file_close(mf); return; }
    char *sys = NULL, *prompt = NULL;
    int64_t plen = 0, n = 0;
    zf_chat_template_default_system(vd.chat_template, &sys);
    zf_chat_message msg = {"user", "What is the capital of France?"};
    ZT_OK(zf_chat_format(&msg, 1, sys, 1, &prompt, &plen));
    int32_t *ids = NULL;
    ZT_OK(zf_tokenizer_encode(tk, prompt, plen, ZF_TOK_PARSE_SPECIAL, &ids, &n));
    int64_t V = zf_model_cfg(m)->vocab;
    float *logits = malloc((size_t)V * 4);
    char text[512] = "";
    size_t used = 0;
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    zf_status st = zf_model_forward(m, ids, n, 0, logits);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ZT_OK(st);
    int decoded = 0;
    int32_t end = zf_tokenizer_find(tk, "<|im_end|>", 10);
    for (int i = 0; i < 24 && st == ZF_OK; i++) {
        int32_t next = (int32_t)zf_argmax(logits, V);
        if (next == end || next == zf_tokenizer_eos(tk)) break;
        size_t len = 0;
        if (zf_tokenizer_decode_token(tk, next, 0, text + used, sizeof text - used - 1, &len) == ZF_OK) used += len;
        text[used] = 0;
        st = zf_model_forward(m, &next, 1, 0, logits);
        decoded++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t2);
    double pf = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double dc = (double)(t2.tv_sec - t1.tv_sec) + 1e-9 * (double)(t2.tv_nsec - t1.tv_nsec);
    printf("test_llama: SmolLM2 answer: %s\n", text);
    printf("test_llama: prefill %lld tokens %.1f tok/s, decode %d tokens %.1f tok/s (%d threads; weights %.1f MB/token)\n",
           (long long)n, (double)n / pf, decoded, decoded / dc, zf_get_num_threads(),
           (double)zf_model_weight_bytes_per_token(m) / 1e6);
    ZT_CHECK(strstr(text, "Paris") != NULL, "SmolLM2's greedy answer does not name Paris: \"%s\"", text);
    free(logits); free(ids); free(prompt); free(sys);
    zf_tokenizer_free(tk);
    zf_model_destroy(m);
    zf_model_file_close(mf);
}

int main(void) {
    zt_init("test_llama");
    test_tiny(0, 0, ZF_ROPE_NORMAL, ZF_DTYPE_F32);
    test_tiny(1, 1, ZF_ROPE_NEOX, ZF_DTYPE_F32);
    test_tiny(1, 0, ZF_ROPE_NEOX, ZF_DTYPE_BF16);
    test_smollm2();
    return zt_finish();
}
