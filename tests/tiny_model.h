/* Tiny random models built in memory (a zf_weight_source by GGUF names) and
 * their float64 forward pass, for test_llama.c and test_qwen3_moe.c. Each
 * weight keeps its exact values (dequantized, or as stored) for the
 * reference. Header-only: each test includes it once. */
#ifndef ZF_TEST_TINY_MODEL_H
#define ZF_TEST_TINY_MODEL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/model.h"
#include "rope_ref.h"

enum { TINY_MAXW = 64 };
typedef struct tiny {
    zf_model_config cfg;
    char names[TINY_MAXW][48];
    zf_weight w[TINY_MAXW];
    float *dense[TINY_MAXW]; /* the exact values, as f32 */
    void *stored[TINY_MAXW]; /* float weights in their dtype (NULL: dense is it) */
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
static const float *tiny_dense(const tiny *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->names[i], name)) return t->dense[i];
    return NULL;
}

static void tiny_add_vector(tiny *t, const char *name, int64_t n, float center) {
    float *v = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) v[i] = center + (float)zt_uniform(-0.3, 0.3);
    snprintf(t->names[t->n], 48, "%s", name);
    t->w[t->n] = (zf_weight){.kind = ZF_WEIGHT_FLOAT, .t = zf_tensor_1d(v, ZF_DTYPE_F32, n)};
    t->dense[t->n++] = v;
}

/* A 4-bit affine [experts, n, k] weight (experts 1: a plain linear). */
static void tiny_add_linear(tiny *t, const char *name, int64_t experts, int64_t n, int64_t k, float scale) {
    int64_t rows = experts * n;
    float *w = malloc((size_t)(rows * k) * 4);
    zt_fill(ZF_DTYPE_F32, w, rows * k, scale);
    zf_qweight q = {.scale_dtype = ZF_DTYPE_F32, .bits = 4, .group_size = 32, .experts = experts, .n = n, .k = k};
    q.packed = malloc((size_t)(rows * k / 8) * 4);
    q.scales = malloc((size_t)(rows * k / 32) * 4);
    q.biases = malloc((size_t)(rows * k / 32) * 4);
    zf_tensor tw = zf_tensor_2d(w, ZF_DTYPE_F32, rows, k);
    ZT_OK(zf_quantize(&tw, &q));
    ZT_OK(zf_dequantize(&q, &tw)); /* the reference sees exactly the quantized values */
    snprintf(t->names[t->n], 48, "%s", name);
    t->w[t->n] = (zf_weight){.kind = ZF_WEIGHT_AFFINE, .q = q};
    t->dense[t->n++] = w;
}

/* A float [n, k] weight stored in dtype dt (run through zf_matmul). */
static void tiny_add_float(tiny *t, const char *name, int64_t n, int64_t k, float scale, zf_dtype dt) {
    float *w = malloc((size_t)(n * k) * 4);
    void *s = malloc((size_t)(n * k) * zf_dtype_size(dt));
    zt_fill(dt, s, n * k, scale);
    for (int64_t i = 0; i < n * k; i++) w[i] = zt_get(dt, s, i);
    snprintf(t->names[t->n], 48, "%s", name);
    t->w[t->n] = (zf_weight){.kind = ZF_WEIGHT_FLOAT, .t = zf_tensor_2d(s, dt, n, k)};
    t->stored[t->n] = s;
    t->dense[t->n++] = w;
}

static void tiny_free(tiny *t) {
    for (int i = 0; i < t->n; i++) {
        free(t->dense[i]);
        free(t->stored[i]);
        if (t->w[i].kind == ZF_WEIGHT_AFFINE) {
            free((void *)t->w[i].q.packed);
            free((void *)t->w[i].q.scales);
            free((void *)t->w[i].q.biases);
        }
    }
}

/* ---- float64 forward ---------------------------------------------------------- */

static void ref_rms(const double *x, const float *w, int64_t n, double eps, double *y) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / n + eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
}
static void ref_matvec(const float *w, const double *x, int64_t n, int64_t k, double *y) {
    for (int64_t r = 0; r < n; r++) {
        double s = 0;
        for (int64_t c = 0; c < k; c++) s += w[r * k + c] * x[c];
        y[r] = s;
    }
}
/* RoPE with the config's scaling and divisors (rope_freqs.weight, if any) */
static void ref_rope(const tiny *t, double *x, int64_t pos) {
    const zf_model_config *cf = &t->cfg;
    int64_t d = cf->head_dim;
    int neox = cf->rope_style == ZF_ROPE_NEOX;
    zf_rope_scaling sc = cf->rope_scaling;
    if (cf->rope_freqs) sc.freq_divisors = tiny_dense(t, "rope_freqs.weight");
    for (int64_t i = 0; i < d / 2; i++) {
        double a = pos * ref_rope_freq(cf->rope_theta, d, i, &sc), c = cos(a), s = sin(a);
        int64_t ia = neox ? i : 2 * i, ib = neox ? i + d / 2 : 2 * i + 1;
        double u = x[ia], v = x[ib];
        x[ia] = u * c - v * s;
        x[ib] = u * s + v * c;
    }
}

/* y = down(silu(gate x) * up x) for [F, H] / [H, F] matrices */
static void ref_swiglu_ffn(const float *g, const float *u, const float *d, const double *x, int64_t H, int64_t F,
                           double *tmp, double *y) {
    ref_matvec(g, x, F, H, tmp);
    ref_matvec(u, x, F, H, tmp + F);
    for (int64_t i = 0; i < F; i++) tmp[i] = tmp[i] / (1 + exp(-tmp[i])) * tmp[F + i];
    ref_matvec(d, tmp, H, F, y);
}

/* The MoE block; *margin gets min over calls of (k-th - (k+1)-th) router
 * logit, how far the expert choice is from a tie. */
static void ref_moe_ffn(const tiny *t, int l, const double *x, double *tmp, double *y, double *margin) {
    const zf_model_config *c = &t->cfg;
    int64_t H = c->hidden, E = c->experts, K = c->experts_used, F = c->expert_ffn;
    char n[48];
#define TW(s) (snprintf(n, sizeof n, "blk.%d." s, l), tiny_dense(t, n))
    double lg[64], p[64], sum = 0, mx = -INFINITY;
    int used[64] = {0}, pick[64];
    ref_matvec(TW("ffn_gate_inp.weight"), x, E, H, lg);
    for (int64_t e = 0; e < E; e++) mx = lg[e] > mx ? lg[e] : mx;
    for (int64_t e = 0; e < E; e++) sum += p[e] = exp(lg[e] - mx);
    double ksum = 0;
    for (int64_t s = 0; s < K; s++) { /* largest first, ties to the lower id */
        int b = -1;
        for (int64_t e = 0; e < E; e++)
            if (!used[e] && (b < 0 || lg[e] > lg[b])) b = (int)e;
        used[b] = 1, pick[s] = b, ksum += p[b] / sum;
    }
    double next = -INFINITY;
    for (int64_t e = 0; e < E; e++)
        if (!used[e] && lg[e] > next) next = lg[e];
    if (lg[pick[K - 1]] - next < *margin) *margin = lg[pick[K - 1]] - next;
    for (int64_t i = 0; i < H; i++) y[i] = 0;
    for (int64_t s = 0; s < K; s++) {
        int e = pick[s];
        double wgt = p[e] / sum / (c->norm_topk_prob ? ksum : 1.0);
        ref_swiglu_ffn(TW("ffn_gate_exps.weight") + e * F * H, TW("ffn_up_exps.weight") + e * F * H,
                       TW("ffn_down_exps.weight") + e * H * F, x, H, F, tmp, tmp + 2 * F);
        for (int64_t i = 0; i < H; i++) y[i] += wgt * tmp[2 * F + i];
    }
#undef TW
}

/* logits [T, vocab] for tokens[0..T); margin: see ref_moe_ffn (dense: +inf). */
static void tiny_reference(const tiny *t, const int32_t *tok, int64_t T, double *logits, double *margin) {
    const zf_model_config *c = &t->cfg;
    int64_t H = c->hidden, D = c->head_dim, Hq = c->heads, Hk = c->kv_heads;
    int64_t F = c->is_moe ? c->expert_ffn : c->ffn;
    double *x = calloc((size_t)(T * H), 8), *hn = malloc((size_t)H * 8), *tmp = malloc((size_t)(F * 3 + 2 * H) * 8);
    double *K = malloc((size_t)(c->layers * T * Hk * D) * 8), *V = malloc((size_t)(c->layers * T * Hk * D) * 8);
    double *q = malloc((size_t)(Hq * D) * 8), *att = malloc((size_t)(Hq * D) * 8), *s = malloc((size_t)T * 8);
    double *ffo = malloc((size_t)H * 8);
    char n[48];
    *margin = INFINITY;
    const float *embd = tiny_dense(t, "token_embd.weight");
    const float *out = tiny_has((void *)t, "output.weight") ? tiny_dense(t, "output.weight") : embd;
    for (int64_t p = 0; p < T; p++)
        for (int64_t i = 0; i < H; i++) x[p * H + i] = embd[tok[p] * H + i];
    for (int l = 0; l < c->layers; l++) {
#define W(s) (snprintf(n, sizeof n, "blk.%d." s, l), tiny_dense(t, n))
        for (int64_t p = 0; p < T; p++) {
            double *xp = x + p * H, *kp = K + ((l * T) + p) * Hk * D, *vp = V + ((l * T) + p) * Hk * D;
            ref_rms(xp, W("attn_norm.weight"), H, c->rms_eps, hn);
            ref_matvec(W("attn_q.weight"), hn, Hq * D, H, q);
            ref_matvec(W("attn_k.weight"), hn, Hk * D, H, kp);
            ref_matvec(W("attn_v.weight"), hn, Hk * D, H, vp);
            if (c->attn_bias) {
                for (int64_t i = 0; i < Hq * D; i++) q[i] += W("attn_q.bias")[i];
                for (int64_t i = 0; i < Hk * D; i++) { kp[i] += W("attn_k.bias")[i]; vp[i] += W("attn_v.bias")[i]; }
            }
            for (int64_t h = 0; h < Hq; h++) {
                if (c->qk_norm) ref_rms(q + h * D, W("attn_q_norm.weight"), D, c->rms_eps, q + h * D);
                ref_rope(t, q + h * D, p);
            }
            for (int64_t h = 0; h < Hk; h++) {
                if (c->qk_norm) ref_rms(kp + h * D, W("attn_k_norm.weight"), D, c->rms_eps, kp + h * D);
                ref_rope(t, kp + h * D, p);
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
            ref_matvec(W("attn_output.weight"), att, H, Hq * D, ffo);
            for (int64_t i = 0; i < H; i++) xp[i] += ffo[i];
            ref_rms(xp, W("ffn_norm.weight"), H, c->rms_eps, hn);
            if (c->is_moe) ref_moe_ffn(t, l, hn, tmp, ffo, margin);
            else ref_swiglu_ffn(W("ffn_gate.weight"), W("ffn_up.weight"), W("ffn_down.weight"), hn, H, F, tmp, ffo);
            for (int64_t i = 0; i < H; i++) xp[i] += ffo[i];
        }
#undef W
    }
    for (int64_t p = 0; p < T; p++) {
        ref_rms(x + p * H, tiny_dense(t, "output_norm.weight"), H, c->rms_eps, hn);
        ref_matvec(out, hn, c->vocab, H, logits + p * c->vocab);
    }
    free(x); free(hn); free(tmp); free(K); free(V); free(q); free(att); free(s); free(ffo);
}

#endif
