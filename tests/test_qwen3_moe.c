/* The qwen3_moe graph: a tiny random MoE model built in memory (4-bit
 * stacked experts, a float router run by zf_matmul, q/k norms) matches a
 * float64 forward pass; decode after prefill, prefill in steps and the stock
 * composition of the fused MoE ops all give the same logits bit for bit;
 * weight bytes per token follow the routed share; bad configs are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/model.h"
#include "tiny_model.h"

static void moe_build(tiny *t, int norm_topk, zf_dtype router_dt, int float_experts) {
    memset(t, 0, sizeof *t);
    zf_model_config *c = &t->cfg;
    snprintf(c->arch, sizeof c->arch, "qwen3moe");
    c->is_moe = 1;
    c->vocab = 67; c->hidden = 64; c->layers = 2; c->heads = 4; c->kv_heads = 2; c->head_dim = 16;
    c->experts = 8; c->experts_used = 3; c->expert_ffn = 32; c->norm_topk_prob = norm_topk;
    c->qk_norm = 1; c->tied_embeddings = 1;
    c->rms_eps = 1e-6f; c->rope_theta = 1e6f; c->rope_style = ZF_ROPE_NEOX; c->context_length = 64;
    int64_t H = c->hidden, D = c->head_dim, E = c->experts, F = c->expert_ffn;
    tiny_add_linear(t, "token_embd.weight", 1, c->vocab, H, 1.0f);
    tiny_add_vector(t, "output_norm.weight", H, 1.0f);
    for (int l = 0; l < c->layers; l++) {
        char n[48];
#define N(s) (snprintf(n, sizeof n, "blk.%d." s, l), n)
        tiny_add_vector(t, N("attn_norm.weight"), H, 1.0f);
        tiny_add_vector(t, N("ffn_norm.weight"), H, 1.0f);
        tiny_add_vector(t, N("attn_q_norm.weight"), D, 1.0f);
        tiny_add_vector(t, N("attn_k_norm.weight"), D, 1.0f);
        tiny_add_linear(t, N("attn_q.weight"), 1, c->heads * D, H, 0.3f);
        tiny_add_linear(t, N("attn_k.weight"), 1, c->kv_heads * D, H, 0.3f);
        tiny_add_linear(t, N("attn_v.weight"), 1, c->kv_heads * D, H, 0.3f);
        tiny_add_linear(t, N("attn_output.weight"), 1, H, c->heads * D, 0.2f);
        tiny_add_float(t, N("ffn_gate_inp.weight"), E, H, 0.5f, router_dt);
        if (float_experts) {
            tiny_add_float(t, N("ffn_gate_exps.weight"), E * F, H, 0.3f, ZF_DTYPE_BF16);
            t->w[t->n - 1].t = zf_tensor_nd(t->w[t->n - 1].t.data, ZF_DTYPE_BF16, 3, (int64_t[3]){E, F, H});
        } else {
            tiny_add_linear(t, N("ffn_gate_exps.weight"), E, F, H, 0.3f);
        }
        tiny_add_linear(t, N("ffn_up_exps.weight"), E, F, H, 0.3f);
        tiny_add_linear(t, N("ffn_down_exps.weight"), E, H, F, 0.3f);
#undef N
    }
}

enum { T = 19 };

/* Fresh tokens whose float64 routing is at least 0.05 in logit away from a
 * tie everywhere, so f32 rounding cannot flip an expert choice; 0 if 50
 * draws found none (some random models route too close to a tie). */
static int draw_tokens(const tiny *t, int32_t *tok, double *ref) {
    for (int tries = 0; tries < 50; tries++) {
        for (int i = 0; i < T; i++) tok[i] = (int32_t)(zt_rand() % (uint64_t)t->cfg.vocab);
        double margin;
        tiny_reference(t, tok, T, ref, &margin);
        if (margin > 0.05) return 1;
    }
    return 0;
}

static void test_forward(int norm_topk, zf_dtype router_dt, zf_dtype act) {
    tiny t;
    moe_build(&t, norm_topk, router_dt, 0);
    int32_t tok[T];
    double *ref = malloc((size_t)(T * t.cfg.vocab) * 8);
    int found = draw_tokens(&t, tok, ref);
    for (int model = 1; model < 5 && !found; model++) { /* another random model */
        tiny_free(&t);
        moe_build(&t, norm_topk, router_dt, 0);
        found = draw_tokens(&t, tok, ref);
    }
    ZT_CHECK(found, "no token sequence with a clear routing in 50 draws on each of 5 random models");
    if (!found) { free(ref); tiny_free(&t); return; }
    zf_weight_source src = {&t, tiny_weight, tiny_has};
    zf_model_opts o = zf_model_opts_default();
    o.act_dtype = act;
    zf_model *m = NULL, *m3 = NULL;
    ZT_OK(zf_model_create(&t.cfg, &src, &o, &m));
    o.max_batch = 3;
    ZT_OK(zf_model_create(&t.cfg, &src, &o, &m3));
    if (!m || !m3) { zf_model_destroy(m); free(ref); tiny_free(&t); return; }
    int64_t Vc = t.cfg.vocab;
    float *all = malloc((size_t)(T * Vc) * 4), *other = malloc((size_t)(T * Vc) * 4), *last = malloc((size_t)Vc * 4);
    ZT_OK(zf_model_forward(m, tok, T, 1, all));
    char what[96];
    snprintf(what, sizeof what, "tiny qwen3_moe (norm_topk %d, router %s, act %s)", norm_topk, zf_dtype_name(router_dt),
             zf_dtype_name(act));
    if (act == ZF_DTYPE_F32) {
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < T * Vc; i++) {
            worst = fmax(worst, fabs(all[i] - ref[i]));
            scale = fmax(scale, fabs(ref[i]));
        }
        ZT_CHECK(worst <= 1e-4 * scale, "%s: max |logit - float64| %g (largest logit %g)", what, worst, scale);
    }
    /* decode one by one after a prefill */
    zf_model_reset(m);
    ZT_OK(zf_model_forward(m, tok, T - 5, 0, last));
    ZT_CHECK(memcmp(last, all + (T - 6) * Vc, (size_t)Vc * 4) == 0, "%s: prefill's last row differs", what);
    int same = 1;
    for (int i = T - 5; i < T; i++) {
        ZT_OK(zf_model_forward(m, tok + i, 1, 0, last));
        same &= memcmp(last, all + i * Vc, (size_t)Vc * 4) == 0;
    }
    ZT_CHECK(same, "%s: decode after prefill differs from the batched prefill", what);
    /* prefill in steps of 3 */
    ZT_OK(zf_model_forward(m3, tok, T, 1, other));
    ZT_CHECK(memcmp(other, all, (size_t)(T * Vc) * 4) == 0, "%s: prefill in steps of 3 differs", what);
    /* the stock composition of the fused MoE ops: the same bits (stable tier promise) */
    zf_model_reset(m);
    ZT_OK(zf_set_default_fidelity(ZF_FIDELITY_STOCK));
    ZT_OK(zf_model_forward(m, tok, T, 1, other));
    ZT_OK(zf_set_default_fidelity(ZF_FIDELITY_AUTO));
    ZT_CHECK(memcmp(other, all, (size_t)(T * Vc) * 4) == 0, "%s: stock path differs from the stable tier", what);
    free(all); free(other); free(last); free(ref);
    zf_model_destroy(m);
    zf_model_destroy(m3);
    tiny_free(&t);
}

/* Per layer: 4 attention matrices, the router, 2 norms and the q/k norms in
 * full, the experts' routed share; then the output projection (tied: the
 * embedding matrix), the final norm and one embedding row. */
static void test_bytes_per_token(void) {
    tiny t;
    moe_build(&t, 1, ZF_DTYPE_F32, 0);
    zf_weight_source src = {&t, tiny_weight, tiny_has};
    zf_model *m = NULL;
    ZT_OK(zf_model_create(&t.cfg, &src, NULL, &m));
    if (!m) { tiny_free(&t); return; }
    const zf_model_config *c = &t.cfg;
    int64_t H = c->hidden, D = c->head_dim, E = c->experts, F = c->expert_ffn;
#define Q4(n, k) ((double)(n) * ((double)(k) / 2 + 2.0 * ((k) / 32) * 4)) /* 4-bit, f32 scales and biases */
    double attn = Q4(c->heads * D, H) + 2 * Q4(c->kv_heads * D, H) + Q4(H, c->heads * D);
    double experts = (2 * Q4(E * F, H) + Q4(E * H, F)) * (double)c->experts_used / (double)E;
    double layer = attn + experts + (double)E * H * 4 + 2.0 * H * 4 + 2.0 * D * 4;
    double want = c->layers * layer + Q4(c->vocab, H) + H * 4 + Q4(1, H);
#undef Q4
    double got = (double)zf_model_weight_bytes_per_token(m);
    ZT_CHECK(fabs(got - want) <= 2.0 * c->layers + 2, "weight bytes per token %.0f, expected %.0f", got, want);
    zf_model_destroy(m);
    tiny_free(&t);
}

static void test_bad_configs(void) {
    tiny t;
    moe_build(&t, 1, ZF_DTYPE_F32, 1);
    zf_weight_source src = {&t, tiny_weight, tiny_has};
    zf_model *m = NULL;
    zf_status st = zf_model_create(&t.cfg, &src, NULL, &m);
    ZT_CHECK(st == ZF_ERR_UNSUPPORTED && strstr(zf_last_error(), "ffn_gate_exps") &&
             strstr(zf_last_error(), "float expert"), "float experts: %d '%s'", (int)st, zf_last_error());
    ZT_CHECK(m == NULL, "a refused model was returned");
    zf_model_config c = t.cfg;
    c.experts_used = c.experts + 1;
    st = zf_model_create(&c, &src, NULL, &m);
    ZT_CHECK(st == ZF_ERR_FORMAT && strstr(zf_last_error(), "experts"), "9 of 8 experts: %d '%s'", (int)st,
             zf_last_error());
    tiny_free(&t);
    moe_build(&t, 1, ZF_DTYPE_F32, 0);
    c = t.cfg;
    c.expert_ffn = 64; /* the file's experts are 32 wide */
    st = zf_model_create(&c, &src, NULL, &m);
    ZT_CHECK(st == ZF_ERR_FORMAT && strstr(zf_last_error(), "ffn_gate_exps"), "wrong expert width: %d '%s'", (int)st,
             zf_last_error());
    tiny_free(&t);
}

int main(void) {
    zt_init("test_qwen3_moe");
    test_forward(1, ZF_DTYPE_F32, ZF_DTYPE_F32);
    test_forward(0, ZF_DTYPE_BF16, ZF_DTYPE_F32);
    test_forward(1, ZF_DTYPE_F32, ZF_DTYPE_BF16);
    test_bytes_per_token();
    test_bad_configs();
    return zt_finish();
}
