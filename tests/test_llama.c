/* The llama graph: a tiny random model built in memory (affine weights, or
 * some float ones through zf_matmul; biases) matches a float64 forward pass; decoding token t after a prefill of t - 1 tokens gives the
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
#include "tiny_model.h"

/* float_linears: some linear layers as float matrices (zf_matmul): attention
 * output in bf16, ffn down in f16, an untied f32 output projection. */
static void tiny_build(tiny *t, int qk_norm, int bias, zf_rope_style style, int float_linears) {
    memset(t, 0, sizeof *t);
    zf_model_config *c = &t->cfg;
    snprintf(c->arch, sizeof c->arch, "llama");
    c->vocab = 67; c->hidden = 64; c->layers = 2; c->heads = 4; c->kv_heads = 2; c->head_dim = 16; c->ffn = 96;
    c->qk_norm = qk_norm; c->attn_bias = bias; c->tied_embeddings = !float_linears;
    c->rms_eps = 1e-5f; c->rope_theta = 10000.0f; c->rope_style = style; c->context_length = 64;
    tiny_add_linear(t, "token_embd.weight", 1, c->vocab, c->hidden, 1.0f);
    if (float_linears) tiny_add_float(t, "output.weight", c->vocab, c->hidden, 0.5f, ZF_DTYPE_F32);
    tiny_add_vector(t, "output_norm.weight", c->hidden, 1.0f);
    for (int l = 0; l < c->layers; l++) {
        char n[48];
#define N(s) (snprintf(n, sizeof n, "blk.%d." s, l), n)
        tiny_add_vector(t, N("attn_norm.weight"), c->hidden, 1.0f);
        tiny_add_vector(t, N("ffn_norm.weight"), c->hidden, 1.0f);
        tiny_add_linear(t, N("attn_q.weight"), 1, c->heads * c->head_dim, c->hidden, 0.3f);
        tiny_add_linear(t, N("attn_k.weight"), 1, c->kv_heads * c->head_dim, c->hidden, 0.3f);
        tiny_add_linear(t, N("attn_v.weight"), 1, c->kv_heads * c->head_dim, c->hidden, 0.3f);
        if (float_linears) tiny_add_float(t, N("attn_output.weight"), c->hidden, c->heads * c->head_dim, 0.2f, ZF_DTYPE_BF16);
        else tiny_add_linear(t, N("attn_output.weight"), 1, c->hidden, c->heads * c->head_dim, 0.2f);
        tiny_add_linear(t, N("ffn_gate.weight"), 1, c->ffn, c->hidden, 0.3f);
        tiny_add_linear(t, N("ffn_up.weight"), 1, c->ffn, c->hidden, 0.3f);
        if (float_linears) tiny_add_float(t, N("ffn_down.weight"), c->hidden, c->ffn, 0.2f, ZF_DTYPE_F16);
        else tiny_add_linear(t, N("ffn_down.weight"), 1, c->hidden, c->ffn, 0.2f);
        if (qk_norm) {
            tiny_add_vector(t, N("attn_q_norm.weight"), c->head_dim, 1.0f);
            tiny_add_vector(t, N("attn_k_norm.weight"), c->head_dim, 1.0f);
        }
        if (bias) {
            tiny_add_vector(t, N("attn_q.bias"), c->heads * c->head_dim, 0.0f);
            tiny_add_vector(t, N("attn_k.bias"), c->kv_heads * c->head_dim, 0.0f);
            tiny_add_vector(t, N("attn_v.bias"), c->kv_heads * c->head_dim, 0.0f);
        }
#undef N
    }
}

static void test_tiny(int qk_norm, int bias, zf_rope_style style, zf_dtype act, int float_linears) {
    tiny t;
    tiny_build(&t, qk_norm, bias, style, float_linears);
    zf_weight_source src = {&t, tiny_weight, tiny_has};
    zf_model_opts o = zf_model_opts_default();
    o.act_dtype = act;
    zf_model *m = NULL, *m3 = NULL;
    ZT_OK(zf_model_create(&t.cfg, &src, &o, &m));
    o.max_batch = 3;
    ZT_OK(zf_model_create(&t.cfg, &src, &o, &m3));
    if (!m || !m3) { tiny_free(&t); return; }
    enum { T = 37 }; /* > ZF_BIAS_ROWS: the bias add runs in two pieces */
    int64_t Vc = t.cfg.vocab;
    int32_t tok[T];
    for (int i = 0; i < T; i++) tok[i] = (int32_t)(zt_rand() % (uint64_t)Vc);
    float *all = malloc((size_t)(T * Vc) * 4), *step = malloc((size_t)(T * Vc) * 4), *last = malloc((size_t)Vc * 4);
    double *ref = malloc((size_t)(T * Vc) * 8);
    ZT_OK(zf_model_forward(m, tok, T, 1, all));
    ZT_CHECK(zf_model_pos(m) == T, "pos %lld after %d tokens", (long long)zf_model_pos(m), T);
    ZT_CHECK(!zf_model_decode_graphed(m), "a CPU model claims to replay a CUDA graph");
    double margin;
    tiny_reference(&t, tok, T, ref, &margin);
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < T * Vc; i++) {
        double e = fabs(all[i] - ref[i]);
        if (e > worst) worst = e;
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    }
    double tol = act == ZF_DTYPE_F32 ? 1e-4 : 0.08;
    ZT_CHECK(worst <= tol * scale, "tiny llama (qk_norm %d, bias %d, style %d, %s, float linears %d): max |logit - "
             "float64| %g (largest logit %g)", qk_norm, bias, (int)style, zf_dtype_name(act), float_linears, worst, scale);
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
    /* ...and with only the last row asked for: the last chunk's, not the first's */
    zf_model_reset(m3);
    ZT_OK(zf_model_forward(m3, tok, T, 0, last));
    ZT_CHECK(memcmp(last, all + (T - 1) * Vc, (size_t)Vc * 4) == 0, "prefill in steps of 3: last row differs");
    /* bad input: a token id outside the vocabulary, a full context */
    int32_t bad = (int32_t)Vc;
    ZT_CHECK(zf_model_forward(m, &bad, 1, 0, last) == ZF_ERR_INVALID_ARG, "bad token: %s", zf_last_error());
    ZT_CHECK(zf_model_pos(m) == T, "a failed call moved the position");
    free(all); free(step); free(last); free(ref);
    zf_model_destroy(m);
    zf_model_destroy(m3);
    tiny_free(&t);
}

static double worst_error(const float *got, const double *ref, int64_t n, double *scale) {
    double worst = 0;
    *scale = 0;
    for (int64_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(got[i] - ref[i]));
        *scale = fmax(*scale, fabs(ref[i]));
    }
    return worst;
}

/* RoPE scaling from the config (linear, llama3 with all three bands at
 * head_dim 16) and rope_freqs.weight divisors (llama.cpp's Llama 3 files):
 * the float64 forward with the same frequencies matches; the unscaled one
 * does not, so the check can fail. */
static void test_tiny_rope_scaling(zf_rope_scaling_type type, int divisors, zf_rope_style style) {
    tiny t;
    tiny_build(&t, 0, 0, style, 0);
    zf_model_config *c = &t.cfg;
    c->rope_scaling = (zf_rope_scaling){.type = type, .factor = 8, .low_freq_factor = 1, .high_freq_factor = 4,
                                        .original_max_position = 64};
    if (divisors) {
        tiny_add_vector(&t, "rope_freqs.weight", c->head_dim / 2, 4.0f);
        c->rope_freqs = 1;
    }
    zf_weight_source src = {&t, tiny_weight, tiny_has};
    zf_model *m = NULL;
    ZT_OK(zf_model_create(&t.cfg, &src, NULL, &m));
    enum { T = 37 };
    int64_t Vc = c->vocab;
    int32_t tok[T];
    for (int i = 0; i < T; i++) tok[i] = (int32_t)(zt_rand() % (uint64_t)Vc);
    float *got = malloc((size_t)(T * Vc) * 4);
    double *ref = malloc((size_t)(T * Vc) * 8), margin, scale;
    if (m) ZT_OK(zf_model_forward(m, tok, T, 1, got));
    tiny_reference(&t, tok, T, ref, &margin);
    double worst = worst_error(got, ref, T * Vc, &scale);
    ZT_CHECK(m && worst <= 1e-4 * scale, "rope scaling %d (divisors %d, style %d): max |logit - float64| %g (largest "
             "logit %g)", (int)type, divisors, (int)style, worst, scale);
    tiny plain = t;
    plain.cfg.rope_scaling.type = ZF_ROPE_SCALING_NONE;
    plain.cfg.rope_freqs = 0;
    tiny_reference(&plain, tok, T, ref, &margin);
    double unscaled = worst_error(got, ref, T * Vc, &scale);
    ZT_CHECK(unscaled > 100 * worst && unscaled > 1e-2 * scale, "rope scaling %d (divisors %d): the unscaled "
             "reference is as close (%g vs %g): the check could not fail", (int)type, divisors, unscaled, worst);
    zf_model_destroy(m);
    if (divisors) { /* a rope_freqs.weight of the wrong length, or none at all */
        t.w[t.n - 1].t.shape[0] = c->head_dim / 2 - 1;
        ZT_CHECK(zf_model_create(&t.cfg, &src, NULL, &m) == ZF_ERR_FORMAT && strstr(zf_last_error(), "rope_freqs"),
                 "short rope_freqs.weight: %s", zf_last_error());
        snprintf(t.names[t.n - 1], 48, "unused");
        ZT_CHECK(zf_model_create(&t.cfg, &src, NULL, &m) != ZF_OK, "missing rope_freqs.weight accepted");
    }
    free(got);
    free(ref);
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
    test_tiny(0, 0, ZF_ROPE_NORMAL, ZF_DTYPE_F32, 0);
    test_tiny(1, 1, ZF_ROPE_NEOX, ZF_DTYPE_F32, 0);
    test_tiny(1, 0, ZF_ROPE_NEOX, ZF_DTYPE_BF16, 0);
    test_tiny(0, 1, ZF_ROPE_NEOX, ZF_DTYPE_F32, 1);
    test_tiny(1, 1, ZF_ROPE_NORMAL, ZF_DTYPE_BF16, 1);
    test_tiny_rope_scaling(ZF_ROPE_SCALING_LLAMA3, 0, ZF_ROPE_NEOX);
    test_tiny_rope_scaling(ZF_ROPE_SCALING_LINEAR, 0, ZF_ROPE_NORMAL);
    test_tiny_rope_scaling(ZF_ROPE_SCALING_NONE, 1, ZF_ROPE_NORMAL);
    test_smollm2();
    return zt_finish();
}
