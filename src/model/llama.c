/* The llama-family graph (SmolLM2, Llama 3, Qwen2/3 dense; qwen3_moe with
 * the feed-forward block of qwen3_moe.c), on zf_ ops only:
 *
 *   x = embedding(tokens)
 *   per layer: hn = rms_norm(x) (layer 0) or (hn, x) = add_rms_norm(delta, x)
 *              q, k, v = linear(hn) (+ bias); q/k rms_norm per head (Qwen3); rope
 *              k, v -> cache; att = attention(q, cache); delta = linear(att, Wo)
 *              (hn, x) = add_rms_norm(delta, x); delta = ffn(hn)
 *   (hn, x) = add_rms_norm(delta, x); logits = linear(hn, W_out) in f32
 *
 * linear is qmm for affine-quantized weights and matmul for float ones.
 *
 * add_rms_norm stands where the unfused graph adds then normalises; in the
 * stable tier it is bit-identical to that pair. Every op works row by row in
 * M-independent orders, so decoding token t after a prefill of t - 1 tokens
 * gives the same bits as a prefill of t tokens.
 *
 * On CUDA (zf_model_opts.device) the weights, KV cache and scratch live on
 * the GPU (model_device.c) and every op runs on the model's stream; a step
 * copies its tokens in and, when it returns logits, waits once for them. A
 * one-token step reads its position from device memory (zf_attention_decode)
 * so that its kernels, recorded once as a CUDA graph, replay at every
 * position (run_graphed). The CUDA kernels follow the CPU's orders, so the
 * logits are the CPU's bits. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/qweight.h"
#include "model/model.h"
#include "model/model_device.h"
#include "model/weight_fuse.h"

struct zf_model {
    zf_model_config cfg;
    zf_model_opts o;
    zf_weight embd, output;
    zf_tensor out_norm;
    zf_model_layer *layers;
    void *owned[1024]; /* float vectors converted to the activation dtype, fused weights */
    int n_owned;
    float *rope_cs;    /* [max_ctx, head_dim/2, 2] on the host */
    zf_model_mem mem;  /* below: on the model's device, with the uploaded weights */
    const float *rope; /* rope_cs where the ops run */
    char *kc, *vc;     /* [layers, kv_heads, max_ctx, head_dim] in kv_dtype */
    char *arena;       /* scratch below, sized for max_batch rows */
    char *x, *hn, *delta, *q, *k, *v, *att, *g, *u, *moe, *fused; /* fused: a fused projection's output */
    float *hn32;
    int32_t *ids;      /* CUDA: the step's tokens */
    int32_t *step;     /* CUDA: a one-token step's position and token */
    float *logits;     /* CUDA: the step's logits, copied to the caller's */
    zf_stream *stream; /* CUDA: the model's own stream (not the legacy default one, which waits for all others) */
    zf_opts run;       /* every op's options: the model's stream, the tier's fidelity */
    const zf_opts *op; /* &run on CUDA, NULL (defaults) on the CPU */
    int fused_decode;  /* CUDA: one-token attention by zf_attention_decode (0 once it is refused) */
    int graphs;        /* CUDA: one-token steps replay `decode` (ZF_CUDA_GRAPHS=0: off) */
    zf_graph *decode;  /* a one-token step's kernels, for the tier and fidelity below */
    int warm;          /* a one-token step ran op by op at that tier and fidelity */
    zf_tier decode_tier;
    zf_fidelity decode_fid;
    int64_t pos;
};

zf_model_opts zf_model_opts_default(void) {
    return (zf_model_opts){.act_dtype = ZF_DTYPE_F32, .kv_dtype = ZF_DTYPE_F32, .device = ZF_DEVICE_CPU};
}

const zf_model_config *zf_model_cfg(const zf_model *m) { return &m->cfg; }
int64_t zf_model_pos(const zf_model *m) { return m->pos; }
int64_t zf_model_max_ctx(const zf_model *m) { return m->o.max_ctx; }
int zf_model_decode_graphed(const zf_model *m) { return m->graphs && m->fused_decode; }
void zf_model_reset(zf_model *m) { m->pos = 0; }

void zf_model_destroy(zf_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->layers);
    free(m->rope_cs);
    zf_graph_destroy(m->decode);
    zf_model_mem_free(&m->mem);
    zf_stream_destroy(m->stream);
    free(m);
}

/* ---- loading ------------------------------------------------------------------ */

static zf_status get(const zf_weight_source *src, const char *name, zf_weight *w) {
    memset(w, 0, sizeof *w);
    return src->weight(src->ctx, name, w);
}

/* A buffer the model owns (freed with it), for what it derives from weights. */
static zf_status own(zf_model *m, size_t bytes, const char *name, void **out) {
    if (m->n_owned == (int)(sizeof m->owned / sizeof *m->owned))
        return zf_error(ZF_ERR_UNSUPPORTED, "[model] too many converted vectors (%s)", name);
    if (!(*out = malloc(bytes))) return zf_error(ZF_ERR_NO_MEMORY, "[model] no memory to convert %s", name);
    m->owned[m->n_owned++] = *out;
    return ZF_OK;
}

/* A 1-D float weight of n elements as an activation-dtype tensor (a view
 * when the dtype already matches, else a converted copy). */
static zf_status get_vector(zf_model *m, const zf_weight_source *src, const char *name, int64_t n, zf_tensor *out) {
    zf_weight w;
    ZF_TRY(get(src, name, &w));
    if (w.kind != ZF_WEIGHT_FLOAT || zf_tensor_numel(&w.t) != n || w.t.stride[w.t.ndim - 1] != 1)
        return zf_error(ZF_ERR_FORMAT, "[model] %s: expected a float vector of %lld elements", name, (long long)n);
    zf_dtype t = m->o.act_dtype;
    if (w.t.dtype == t) {
        *out = zf_tensor_1d(w.t.data, t, n);
        return ZF_OK;
    }
    void *p;
    ZF_TRY(own(m, (size_t)n * zf_dtype_size(t), name, &p));
    for (int64_t i = 0; i < n; i++) zf_store(t, p, i, zf_load(w.t.dtype, w.t.data, i));
    *out = zf_tensor_1d(p, t, n);
    return ZF_OK;
}

/* A bias vector of n as ZF_BIAS_ROWS copies [ZF_BIAS_ROWS, n], so one add
 * serves that many rows. */
static zf_status get_bias(zf_model *m, const zf_weight_source *src, const char *name, int64_t n, zf_tensor *out) {
    zf_tensor v;
    ZF_TRY(get_vector(m, src, name, n, &v));
    size_t row = (size_t)n * zf_dtype_size(v.dtype);
    void *p;
    ZF_TRY(own(m, row * ZF_BIAS_ROWS, name, &p));
    for (int r = 0; r < ZF_BIAS_ROWS; r++) memcpy((char *)p + r * row, v.data, row);
    *out = zf_tensor_2d(p, v.dtype, ZF_BIAS_ROWS, n);
    return ZF_OK;
}

/* A linear layer's [experts, n, k] weight (experts 1 for a plain linear):
 * affine-quantized, or float for a plain linear. */
static zf_status get_linear(const zf_weight_source *src, const char *name, int64_t experts, int64_t n, int64_t k,
                            zf_weight *w) {
    ZF_TRY(get(src, name, w));
    if (w->kind == ZF_WEIGHT_FLOAT) {
        const zf_tensor *t = &w->t;
        int64_t e = t->ndim == 3 ? t->shape[0] : 1;
        if (t->ndim < 2 || t->ndim > 3 || e != experts || t->shape[t->ndim - 2] != n || t->shape[t->ndim - 1] != k)
            return zf_error(ZF_ERR_FORMAT, "[model] %s: a float tensor of %lld elements; expected [%lld, %lld, %lld]",
                            name, (long long)zf_tensor_numel(t), (long long)experts, (long long)n, (long long)k);
        if (experts > 1)
            return zf_error(ZF_ERR_UNSUPPORTED, "[model] %s: float expert weights are not supported; the MoE "
                            "kernels need affine-quantized experts (use a quantized file)", name);
        w->t = zf_tensor_2d(t->data, t->dtype, n, k);
        return ZF_OK;
    }
    if (w->q.experts != experts || w->q.n != n || w->q.k != k)
        return zf_error(ZF_ERR_FORMAT, "[model] %s is [%lld, %lld, %lld]; expected [%lld, %lld, %lld]", name,
                        (long long)w->q.experts, (long long)w->q.n, (long long)w->q.k, (long long)experts,
                        (long long)n, (long long)k);
    return ZF_OK;
}

static zf_status check_config(const zf_model_config *c) {
    if (c->vocab < 1 || c->hidden < 1 || c->layers < 1 || c->heads < 1 || c->kv_heads < 1 || c->head_dim < 2 ||
        c->head_dim % 2 || c->heads % c->kv_heads || (!c->is_moe && c->ffn < 1))
        return zf_error(ZF_ERR_FORMAT, "[model] config: vocab %lld, hidden %lld, layers %lld, heads %lld/%lld, "
                        "head_dim %lld, ffn %lld do not describe a model", (long long)c->vocab,
                        (long long)c->hidden, (long long)c->layers, (long long)c->heads, (long long)c->kv_heads,
                        (long long)c->head_dim, (long long)c->ffn);
    if (c->is_moe && (c->experts < 1 || c->experts_used < 1 || c->experts_used > c->experts || c->expert_ffn < 1))
        return zf_error(ZF_ERR_FORMAT, "[model] config: %lld experts, %lld used, expert ffn %lld", (long long)c->experts,
                        (long long)c->experts_used, (long long)c->expert_ffn);
    if (!(c->rms_eps > 0.0f) || !(c->rope_theta > 1.0f))
        return zf_error(ZF_ERR_FORMAT, "[model] config: rms eps %g, rope theta %g", (double)c->rms_eps,
                        (double)c->rope_theta);
    return ZF_OK;
}

static zf_status load_layer(zf_model *m, const zf_weight_source *src, int64_t i, zf_model_layer *l) {
    const zf_model_config *c = &m->cfg;
    int64_t H = c->hidden, D = c->head_dim, qd = c->heads * D, kd = c->kv_heads * D;
    char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%lld." s, (long long)i), n)
    ZF_TRY(get_vector(m, src, NAME("attn_norm.weight"), H, &l->attn_norm));
    ZF_TRY(get_vector(m, src, NAME("ffn_norm.weight"), H, &l->ffn_norm));
    ZF_TRY(get_linear(src, NAME("attn_q.weight"), 1, qd, H, &l->wq));
    ZF_TRY(get_linear(src, NAME("attn_k.weight"), 1, kd, H, &l->wk));
    ZF_TRY(get_linear(src, NAME("attn_v.weight"), 1, kd, H, &l->wv));
    ZF_TRY(get_linear(src, NAME("attn_output.weight"), 1, H, qd, &l->wo));
    if (c->qk_norm) {
        ZF_TRY(get_vector(m, src, NAME("attn_q_norm.weight"), D, &l->q_norm));
        ZF_TRY(get_vector(m, src, NAME("attn_k_norm.weight"), D, &l->k_norm));
    }
    if (c->attn_bias) {
        ZF_TRY(get_bias(m, src, NAME("attn_q.bias"), qd, &l->bq));
        ZF_TRY(get_bias(m, src, NAME("attn_k.bias"), kd, &l->bk));
        ZF_TRY(get_bias(m, src, NAME("attn_v.bias"), kd, &l->bv));
    }
    if (c->is_moe) {
        int64_t E = c->experts, F = c->expert_ffn;
        ZF_TRY(get_linear(src, NAME("ffn_gate_inp.weight"), 1, E, H, &l->router));
        ZF_TRY(get_linear(src, NAME("ffn_gate_exps.weight"), E, F, H, &l->ffn_gate));
        ZF_TRY(get_linear(src, NAME("ffn_up_exps.weight"), E, F, H, &l->ffn_up));
        ZF_TRY(get_linear(src, NAME("ffn_down_exps.weight"), E, H, F, &l->ffn_down));
    } else {
        ZF_TRY(get_linear(src, NAME("ffn_gate.weight"), 1, c->ffn, H, &l->ffn_gate));
        ZF_TRY(get_linear(src, NAME("ffn_up.weight"), 1, c->ffn, H, &l->ffn_up));
        ZF_TRY(get_linear(src, NAME("ffn_down.weight"), 1, H, c->ffn, &l->ffn_down));
    }
#undef NAME
    return ZF_OK;
}

/* q/k/v and gate/up as one weight each, when their layouts allow (built on
 * the host, before a CUDA model uploads it in place of its parts; size
 * limit: weight_fuse.h). */
static zf_status fuse_layer(zf_model *m, zf_model_layer *l) {
    const zf_weight *qkv[3] = {&l->wq, &l->wk, &l->wv}, *gu[2] = {&l->ffn_gate, &l->ffn_up};
    struct { const zf_weight *const *parts; int n; zf_weight *out; } sets[2] = {{qkv, 3, &l->wqkv},
                                                                               {gu, 2, &l->ffn_gate_up}};
    size_t max_bytes = m->o.device == ZF_DEVICE_CUDA ? SIZE_MAX : ZF_FUSE_MAX_BYTES;
    for (int i = 0; i < (m->cfg.is_moe ? 1 : 2); i++) {
        size_t bytes = zf_fuse_bytes(sets[i].parts, sets[i].n, max_bytes);
        void *mem;
        if (!bytes) continue;
        ZF_TRY(own(m, bytes, "a fused weight", &mem));
        zf_fuse(sets[i].parts, sets[i].n, mem, sets[i].out);
    }
    return ZF_OK;
}

/* The cos/sin table of every cache position: the file's RoPE scaling and,
 * when the file has one, rope_freqs.weight's per-frequency divisors. */
static zf_status build_rope_table(zf_model *m, const zf_weight_source *src) {
    const zf_model_config *c = &m->cfg;
    int64_t half = c->head_dim / 2, shape[3] = {m->o.max_ctx, half, 2};
    zf_rope_scaling s = c->rope_scaling;
    float div[512];
    if (c->rope_freqs) {
        zf_weight w;
        ZF_TRY(get(src, "rope_freqs.weight", &w));
        if (w.kind != ZF_WEIGHT_FLOAT || zf_tensor_numel(&w.t) != half || half > 512 || w.t.stride[w.t.ndim - 1] != 1)
            return zf_error(ZF_ERR_FORMAT, "[model] rope_freqs.weight: expected a float vector of head_dim/2 = %lld "
                            "(at most 512)", (long long)half);
        for (int64_t i = 0; i < half; i++) div[i] = zf_load(w.t.dtype, w.t.data, i);
        s.freq_divisors = div;
    }
    zf_tensor cs = zf_tensor_nd(m->rope_cs, ZF_DTYPE_F32, 3, shape);
    return zf_rope_table_scaled(c->rope_theta, c->head_dim, &s, 0, &cs);
}

/* Scratch for max_batch rows, one allocation on the model's device (after
 * the layers: the fused projections' width decides one buffer). */
static zf_status alloc_scratch(zf_model *m) {
    const zf_model_config *c = &m->cfg;
    int64_t B = m->o.max_batch, es = (int64_t)zf_dtype_size(m->o.act_dtype);
    int64_t H = c->hidden, qd = c->heads * c->head_dim, kd = c->kv_heads * c->head_dim;
    int64_t f = c->is_moe ? 0 : c->ffn, dev = m->o.device == ZF_DEVICE_CUDA, fused = 0;
    for (int64_t i = 0; i < c->layers; i++) { /* the widest fused projection */
        const zf_model_layer *l = &m->layers[i];
        if (l->wqkv.kind == ZF_WEIGHT_AFFINE && l->wqkv.q.n > fused) fused = l->wqkv.q.n;
        if (l->ffn_gate_up.kind == ZF_WEIGHT_AFFINE && l->ffn_gate_up.q.n > fused) fused = l->ffn_gate_up.q.n;
    }
    int64_t sizes[15] = {B * H * es, B * H * es, B * H * es, B * qd * es, B * kd * es, B * kd * es, B * qd * es,
                         B * f * es, B * f * es, c->is_moe ? zf_moe_scratch_bytes(c, m->o.act_dtype, B) : 0,
                         B * H * 4, dev * B * 4, dev * B * c->vocab * 4, B * fused * es, dev * 2 * 4};
    int64_t total = 0;
    for (int i = 0; i < 15; i++) total += (sizes[i] + 63) / 64 * 64;
    ZF_TRY(zf_model_mem_alloc(&m->mem, (size_t)total, "the scratch", (void **)&m->arena));
    char **slots[15] = {&m->x, &m->hn, &m->delta, &m->q, &m->k, &m->v, &m->att, &m->g, &m->u, &m->moe,
                        (char **)&m->hn32, (char **)&m->ids, (char **)&m->logits, &m->fused, (char **)&m->step};
    char *p = m->arena;
    for (int i = 0; i < 15; i++) {
        *slots[i] = p;
        p += (sizes[i] + 63) / 64 * 64;
    }
    return ZF_OK;
}

/* CUDA: every weight and the RoPE table to the device, once. */
static zf_status upload_weights(zf_model *m) {
    const zf_model_config *c = &m->cfg;
    zf_model_mem *mm = &m->mem;
    void (*progress)(int64_t, int64_t, void *) = m->o.progress;
    if (mm->dev == ZF_DEVICE_CPU) return ZF_OK;
    int64_t half = c->head_dim / 2, rope_shape[3] = {m->o.max_ctx, half, 2};
    zf_tensor cs = zf_tensor_nd(m->rope_cs, ZF_DTYPE_F32, 3, rope_shape);
    ZF_TRY(zf_model_mem_upload_tensor(mm, &cs, "the RoPE table"));
    m->rope = cs.data;
    ZF_TRY(zf_model_mem_upload_tensor(mm, &m->out_norm, "output_norm.weight"));
    ZF_TRY(zf_model_mem_upload_weight(mm, &m->embd, "token_embd.weight"));
    ZF_TRY(zf_model_mem_upload_weight(mm, &m->output, "output.weight"));
    for (int64_t i = 0; i < c->layers; i++) {
        if (progress) progress(i, c->layers, m->o.progress_ctx);
        ZF_TRY(zf_model_mem_upload_layer(mm, c, &m->layers[i]));
    }
    if (progress) progress(c->layers, c->layers, m->o.progress_ctx);
    /* the uploads ran on the default stream, which the model's stream does not wait for */
    return zf_stream_synchronize(NULL);
}

zf_status zf_model_create(const zf_model_config *cfg, const zf_weight_source *src, const zf_model_opts *o,
                          zf_model **out) {
    if (!cfg || !src || !src->weight || !src->has || !out)
        return zf_error(ZF_ERR_INVALID_ARG, "[model] NULL argument");
    ZF_TRY(check_config(cfg));
    zf_model_opts opts = o ? *o : zf_model_opts_default();
    if (!zf_is_float_dtype(opts.act_dtype) || !zf_is_float_dtype(opts.kv_dtype))
        return zf_error(ZF_ERR_DTYPE, "[model] activation and KV cache dtypes must be f32, f16 or bf16");
    if (opts.max_ctx <= 0) opts.max_ctx = cfg->context_length > 0 && cfg->context_length < 4096 ? cfg->context_length : 4096;
    if (opts.max_batch <= 0) opts.max_batch = 128;
    if (opts.max_batch > opts.max_ctx) opts.max_batch = opts.max_ctx;
    if (opts.device != ZF_DEVICE_CPU && opts.device != ZF_DEVICE_CUDA)
        return zf_error(ZF_ERR_INVALID_ARG, "[model] device %d; expected ZF_DEVICE_CPU or ZF_DEVICE_CUDA",
                        (int)opts.device);
    if (opts.device == ZF_DEVICE_CUDA && zf_cuda_available() != ZF_OK) {
        char why[256]; /* zf_error writes where zf_last_error() points */
        snprintf(why, sizeof why, "%s", zf_last_error());
        return zf_error(ZF_ERR_UNSUPPORTED, "[model] cannot run on CUDA: %s", why);
    }
    zf_model *m = calloc(1, sizeof *m);
    if (!m) return zf_error(ZF_ERR_NO_MEMORY, "[model] no memory");
    m->cfg = *cfg;
    m->o = opts;
    m->mem.dev = opts.device;
    const zf_model_config *c = &m->cfg;
    int64_t D = c->head_dim;
    size_t kv_bytes = (size_t)(c->layers * c->kv_heads * opts.max_ctx * D) * zf_dtype_size(opts.kv_dtype);
    zf_status st = ZF_OK;
    m->layers = calloc((size_t)c->layers, sizeof *m->layers);
    m->rope = m->rope_cs = malloc((size_t)(opts.max_ctx * D) * sizeof(float));
    if (!m->layers || !m->rope_cs) st = zf_error(ZF_ERR_NO_MEMORY, "[model] no memory");
    if (st == ZF_OK && opts.device == ZF_DEVICE_CUDA) {
        st = zf_stream_create(&m->stream);
        m->run = (zf_opts){.fidelity = ZF_FIDELITY_AUTO, .stream = m->stream};
        m->op = &m->run;
        m->fused_decode = 1;
        const char *g = getenv("ZF_CUDA_GRAPHS");
        m->graphs = !g || !*g || strcmp(g, "1") == 0;
        if (st == ZF_OK && g && *g && strcmp(g, "0") != 0 && strcmp(g, "1") != 0)
            st = zf_error(ZF_ERR_INVALID_ARG, "[model] ZF_CUDA_GRAPHS='%s'; expected 0 (launch every kernel) or 1", g);
    }
    if (st == ZF_OK) st = zf_model_mem_alloc(&m->mem, kv_bytes, "the K cache", (void **)&m->kc);
    if (st == ZF_OK) st = zf_model_mem_alloc(&m->mem, kv_bytes, "the V cache", (void **)&m->vc);
    if (st == ZF_OK) st = build_rope_table(m, src);
    if (st == ZF_OK) st = get_vector(m, src, "output_norm.weight", c->hidden, &m->out_norm);
    if (st == ZF_OK) st = get(src, "token_embd.weight", &m->embd);
    if (st == ZF_OK) {
        const char *on = src->has(src->ctx, "output.weight") ? "output.weight" : "token_embd.weight";
        st = get_linear(src, on, 1, c->vocab, c->hidden, &m->output);
    }
    for (int64_t i = 0; st == ZF_OK && i < c->layers; i++) st = load_layer(m, src, i, &m->layers[i]);
    for (int64_t i = 0; st == ZF_OK && i < c->layers; i++) st = fuse_layer(m, &m->layers[i]);
    if (st == ZF_OK) st = alloc_scratch(m);
    if (st == ZF_OK) st = upload_weights(m);
    if (st != ZF_OK) {
        zf_model_destroy(m);
        return st;
    }
    *out = m;
    return ZF_OK;
}

static zf_status file_weight(void *ctx, const char *name, zf_weight *out) {
    return zf_model_file_weight(ctx, name, out);
}
static int file_has(void *ctx, const char *name) { return zf_model_file_has(ctx, name); }

zf_weight_source zf_model_file_source(const zf_model_file *f) {
    zf_weight_source src = {(void *)f, file_weight, file_has};
    return src;
}

zf_status zf_model_from_file(const zf_model_file *f, const zf_model_opts *o, zf_model **out) {
    if (!f) return zf_error(ZF_ERR_INVALID_ARG, "[model] NULL model file");
    zf_weight_source src = zf_model_file_source(f);
    return zf_model_create(zf_model_file_config(f), &src, o, out);
}

/* ---- bytes per token ---------------------------------------------------------- */

static int64_t qbytes(const zf_weight *w, double share) {
    if (w->kind != ZF_WEIGHT_AFFINE) return zf_tensor_numel(&w->t) * (int64_t)zf_dtype_size(w->t.dtype);
    const zf_qweight *q = &w->q; /* all experts' bytes, exact in a double; share: the part a token reads */
    return (int64_t)((double)(zf_qweight_packed_bytes(q) + 2 * zf_qweight_group_bytes(q)) * share);
}

int64_t zf_model_weight_bytes_per_token(const zf_model *m) {
    const zf_model_config *c = &m->cfg;
    int64_t es = (int64_t)zf_dtype_size(m->o.act_dtype), b = 0;
    double share = c->is_moe ? (double)c->experts_used / (double)c->experts : 1.0;
    for (int64_t i = 0; i < c->layers; i++) {
        const zf_model_layer *l = &m->layers[i];
        b += qbytes(&l->wq, 1) + qbytes(&l->wk, 1) + qbytes(&l->wv, 1) + qbytes(&l->wo, 1);
        b += qbytes(&l->ffn_gate, share) + qbytes(&l->ffn_up, share) + qbytes(&l->ffn_down, share);
        if (c->is_moe) b += qbytes(&l->router, 1);
        b += 2 * c->hidden * es;
        if (c->qk_norm) b += 2 * c->head_dim * es;
    }
    b += qbytes(&m->output, 1) + c->hidden * es;
    /* the embedding: one row */
    if (m->embd.kind == ZF_WEIGHT_AFFINE) b += qbytes(&m->embd, 1) / (m->embd.q.n > 0 ? m->embd.q.n : 1);
    else b += c->hidden * (int64_t)zf_dtype_size(m->embd.t.dtype);
    return b;
}

int64_t zf_model_kv_bytes_per_key(const zf_model *m) {
    const zf_model_config *c = &m->cfg;
    return 2 * c->layers * c->kv_heads * c->head_dim * (int64_t)zf_dtype_size(m->o.kv_dtype);
}

/* ---- the forward pass ----------------------------------------------------------- */

/* Views of the model's buffers, on its device. */
static zf_tensor t2(const zf_model *m, void *p, zf_dtype t, int64_t r, int64_t c) {
    zf_tensor x = zf_tensor_2d(p, t, r, c);
    x.device = m->mem.dev;
    return x;
}
static zf_tensor t3(const zf_model *m, void *p, zf_dtype t, int64_t a, int64_t b, int64_t c) {
    int64_t s[3] = {a, b, c};
    zf_tensor x = zf_tensor_nd((void *)p, t, 3, s);
    x.device = m->mem.dev;
    return x;
}

zf_status zf_model_linear(const zf_tensor *x, const zf_weight *w, zf_tensor *y, const zf_opts *o) {
    return w->kind == ZF_WEIGHT_AFFINE ? zf_qmm(x, &w->q, y, o) : zf_matmul(x, &w->t, y, o);
}

/* y[n, :] += bias ([ZF_BIAS_ROWS, cols] copies of the row): one add per
 * ZF_BIAS_ROWS rows, the same bits as adding row by row */
static zf_status add_bias(zf_tensor *y, const zf_tensor *bias, const zf_opts *o) {
    int64_t cols = y->shape[1];
    size_t es = zf_dtype_size(y->dtype);
    for (int64_t r = 0; r < y->shape[0]; r += ZF_BIAS_ROWS) {
        int64_t rows = y->shape[0] - r < ZF_BIAS_ROWS ? y->shape[0] - r : ZF_BIAS_ROWS;
        zf_tensor ys = zf_tensor_2d((char *)y->data + (size_t)(r * cols) * es, y->dtype, rows, cols);
        zf_tensor bs = zf_tensor_2d(bias->data, bias->dtype, rows, cols);
        ys.device = bs.device = y->device;
        ZF_TRY(zf_add(&ys, &bs, &ys, o));
    }
    return ZF_OK;
}

/* Copies rows [n, kv_heads, D] into the cache [kv_heads, max_ctx, D] at
 * positions pos.. (converted to the cache's dtype). */
static zf_status cache_write(const zf_model *m, char *cache, char *src, int64_t n) {
    const zf_model_config *c = &m->cfg;
    int64_t D = c->head_dim;
    zf_tensor s = t3(m, src, m->o.act_dtype, n, c->kv_heads, D);
    zf_tensor d = t3(m, cache + (size_t)(m->pos * D) * zf_dtype_size(m->o.kv_dtype), m->o.kv_dtype, n, c->kv_heads, D);
    d.stride[0] = D;
    d.stride[1] = m->o.max_ctx * D;
    return zf_copy(&s, &d, m->op);
}

/* Qwen3's per-head RMSNorm of the n rows of q and k (at qp, kp), in place, before RoPE */
static zf_status qk_norm(const zf_model *m, const zf_model_layer *l, char *qp, char *kp, int64_t n) {
    const zf_model_config *c = &m->cfg;
    zf_tensor qh = t2(m, qp, m->o.act_dtype, n * c->heads, c->head_dim);
    zf_tensor kh = t2(m, kp, m->o.act_dtype, n * c->kv_heads, c->head_dim);
    ZF_TRY(zf_rms_norm(&qh, &l->q_norm, c->rms_eps, &qh, m->op));
    return zf_rms_norm(&kh, &l->k_norm, c->rms_eps, &kh, m->op);
}

static zf_status attention_block(zf_model *m, int64_t li, int64_t n, const zf_tensor *hn, zf_tensor *delta) {
    const zf_model_config *c = &m->cfg;
    const zf_model_layer *l = &m->layers[li];
    zf_dtype t = m->o.act_dtype;
    int64_t D = c->head_dim, Hq = c->heads, Hk = c->kv_heads, L = m->o.max_ctx;
    zf_tensor q = t2(m, m->q, t, n, Hq * D), k = t2(m, m->k, t, n, Hk * D), v = t2(m, m->v, t, n, Hk * D);
    if (l->wqkv.kind == ZF_WEIGHT_AFFINE && n == 1) { /* one token: q, k, v stand back to back in the fused row */
        zf_tensor y = t2(m, m->fused, t, 1, l->wqkv.q.n);
        ZF_TRY(zf_model_linear(hn, &l->wqkv, &y, m->op));
        q.data = m->fused;
        k.data = m->fused + (size_t)(Hq * D) * zf_dtype_size(t);
        v.data = (char *)k.data + (size_t)(Hk * D) * zf_dtype_size(t);
    } else if (l->wqkv.kind == ZF_WEIGHT_AFFINE) {
        zf_tensor *qkv[3] = {&q, &k, &v};
        ZF_TRY(zf_fused_linear(hn, &l->wqkv, m->fused, qkv, 3, m->op));
    } else {
        ZF_TRY(zf_model_linear(hn, &l->wq, &q, m->op));
        ZF_TRY(zf_model_linear(hn, &l->wk, &k, m->op));
        ZF_TRY(zf_model_linear(hn, &l->wv, &v, m->op));
    }
    char *qp = q.data, *kp = k.data, *vp = v.data;
    if (c->attn_bias) {
        ZF_TRY(add_bias(&q, &l->bq, m->op));
        ZF_TRY(add_bias(&k, &l->bk, m->op));
        ZF_TRY(add_bias(&v, &l->bv, m->op));
    }
    const int fused = n == 1 && m->fused_decode; /* zf_attention_decode normalizes q and k itself */
    if (c->qk_norm && !fused) ZF_TRY(qk_norm(m, l, qp, kp, n));
    zf_tensor q3 = t3(m, qp, t, n, Hq, D), k3 = t3(m, kp, t, n, Hk, D);
    zf_tensor att3 = t3(m, m->att, t, n, Hq, D), att = t2(m, m->att, t, n, Hq * D);
    int neox = c->rope_style == ZF_ROPE_NEOX;
    float scale = 1.0f / sqrtf((float)D);
    size_t layer_off = (size_t)(li * Hk * L * D) * zf_dtype_size(m->o.kv_dtype);
    if (fused) { /* CUDA, one token: one kernel, the position read from m->step */
        zf_tensor v3 = t3(m, vp, t, 1, Hk, D), table = t3(m, (void *)m->rope, ZF_DTYPE_F32, L, D / 2, 2);
        zf_tensor pos = t2(m, m->step, ZF_DTYPE_I32, 1, 1), kc = t3(m, m->kc + layer_off, m->o.kv_dtype, Hk, L, D),
                  vc = t3(m, m->vc + layer_off, m->o.kv_dtype, Hk, L, D);
        pos.ndim = 1;
        const zf_qk_norm norm = {&l->q_norm, &l->k_norm, c->rms_eps};
        zf_status st = zf_attention_decode(&q3, &k3, &v3, c->qk_norm ? &norm : NULL, &table, neox, &pos, &kc, &vc,
                                           scale, &att3, m->op);
        if (st == ZF_OK) return zf_model_linear(&att, &l->wo, delta, m->op);
        if (st != ZF_ERR_UNSUPPORTED) return st;
        m->fused_decode = 0; /* e.g. more positions than this device's shared memory holds: the separate ops */
        if (c->qk_norm) ZF_TRY(qk_norm(m, l, qp, kp, n));
    }
    zf_tensor cs = t3(m, (float *)m->rope + m->pos * D, ZF_DTYPE_F32, n, D / 2, 2);
    if (n == 1 && kp == qp + (size_t)(Hq * D) * zf_dtype_size(t)) { /* k right after q (the fused row): one call */
        zf_tensor qk = t3(m, qp, t, 1, Hq + Hk, D);
        ZF_TRY(zf_rope(&qk, &cs, neox, &qk, m->op));
    } else {
        ZF_TRY(zf_rope(&q3, &cs, neox, &q3, m->op));
        ZF_TRY(zf_rope(&k3, &cs, neox, &k3, m->op));
    }
    ZF_TRY(cache_write(m, m->kc + layer_off, kp, n));
    ZF_TRY(cache_write(m, m->vc + layer_off, vp, n));
    zf_tensor kv[2];
    for (int i = 0; i < 2; i++) {
        kv[i] = t3(m, (i ? m->vc : m->kc) + layer_off, m->o.kv_dtype, Hk, m->pos + n, D);
        kv[i].stride[0] = L * D; /* a view of the first pos + n positions */
    }
    ZF_TRY(zf_attention(&q3, &kv[0], &kv[1], scale, &att3, m->op));
    return zf_model_linear(&att, &l->wo, delta, m->op);
}

static zf_status ffn_block(zf_model *m, int64_t li, int64_t n, const zf_tensor *hn, zf_tensor *delta) {
    const zf_model_config *c = &m->cfg;
    const zf_model_layer *l = &m->layers[li];
    if (c->is_moe) return zf_moe_ffn(c, l, hn, m->moe, delta, m->op);
    zf_tensor g = t2(m, m->g, m->o.act_dtype, n, c->ffn), u = t2(m, m->u, m->o.act_dtype, n, c->ffn);
    if (l->ffn_gate_up.kind == ZF_WEIGHT_AFFINE && n == 1) { /* one token: g and u back to back in the fused row */
        zf_tensor y = t2(m, m->fused, m->o.act_dtype, 1, l->ffn_gate_up.q.n);
        ZF_TRY(zf_model_linear(hn, &l->ffn_gate_up, &y, m->op));
        g.data = m->fused;
        u.data = m->fused + (size_t)c->ffn * zf_dtype_size(m->o.act_dtype);
    } else if (l->ffn_gate_up.kind == ZF_WEIGHT_AFFINE) {
        zf_tensor *gu[2] = {&g, &u};
        ZF_TRY(zf_fused_linear(hn, &l->ffn_gate_up, m->fused, gu, 2, m->op));
    } else {
        ZF_TRY(zf_model_linear(hn, &l->ffn_gate, &g, m->op));
        ZF_TRY(zf_model_linear(hn, &l->ffn_up, &u, m->op));
    }
    ZF_TRY(zf_swiglu(&g, &u, &g, m->op));
    return zf_model_linear(&g, &l->ffn_down, delta, m->op);
}

/* Runs (CPU) or enqueues (CUDA) the layers for n tokens whose ids are in
 * ids (on the model's device) at positions pos .. pos + n - 1, then, unless
 * y is NULL, the logits of the last `rows` rows into y; advances pos. */
static zf_status run_layers(zf_model *m, const zf_tensor *ids, int64_t n, int64_t rows, zf_tensor *y) {
    const zf_model_config *c = &m->cfg;
    zf_dtype t = m->o.act_dtype;
    int64_t H = c->hidden;
    float eps = c->rms_eps;
    zf_tensor x = t2(m, m->x, t, n, H), hn = t2(m, m->hn, t, n, H), delta = t2(m, m->delta, t, n, H);
    if (m->embd.kind == ZF_WEIGHT_AFFINE) ZF_TRY(zf_embedding_q(&m->embd.q, ids, &x, m->op));
    else ZF_TRY(zf_embedding(&m->embd.t, ids, &x, m->op));
    for (int64_t i = 0; i < c->layers; i++) {
        const zf_model_layer *l = &m->layers[i];
        if (i == 0) ZF_TRY(zf_rms_norm(&x, &l->attn_norm, eps, &hn, m->op));
        else ZF_TRY(zf_add_rms_norm(&delta, &x, &l->attn_norm, eps, &hn, &x, m->op));
        ZF_TRY(attention_block(m, i, n, &hn, &delta));
        ZF_TRY(zf_add_rms_norm(&delta, &x, &l->ffn_norm, eps, &hn, &x, m->op));
        ZF_TRY(ffn_block(m, i, n, &hn, &delta));
    }
    ZF_TRY(zf_add_rms_norm(&delta, &x, &m->out_norm, eps, &hn, &x, m->op));
    m->pos += n;
    if (!y) return ZF_OK; /* an early prefill step: only the cache matters */
    zf_tensor xo = t2(m, m->hn + (size_t)((n - rows) * H) * zf_dtype_size(t), t, rows, H);
    if (t != ZF_DTYPE_F32) { /* logits in f32: widen the rows (exact) */
        zf_tensor wide = t2(m, m->hn32, ZF_DTYPE_F32, rows, H);
        ZF_TRY(zf_copy(&xo, &wide, m->op));
        xo = wide;
    }
    return zf_model_linear(&xo, &m->output, y, m->op);
}

/* run_layers for one token with logits, on the GPU as one graph launch:
 * the step's kernels are recorded once (again when the tier or the default
 * fidelity changed, as between zf validate's two sides) and replayed at
 * every later position, which they read from m->step. Launched one by one,
 * the ~10-15 small kernels of a layer leave the GPU waiting on the host
 * (docs/CUDA.md, "CUDA graphs"). The first step at a tier runs op by op, so
 * every variant the recording picks has had its first call (and self-test)
 * outside it. A step that cannot be recorded runs op by op and turns graphs
 * off for this model; so does a recording with the position as an argument
 * (fused_decode refused), after its one launch. */
static zf_status run_graphed(zf_model *m, const zf_tensor *ids, zf_tensor *y) {
    const zf_tier tier = zf_get_tier();
    const zf_fidelity fid = zf_get_default_fidelity();
    if (m->decode_tier != tier || m->decode_fid != fid) {
        zf_graph_destroy(m->decode);
        m->decode = NULL;
        m->warm = 0;
        m->decode_tier = tier;
        m->decode_fid = fid;
    }
    if (m->decode) {
        m->pos++;
        return zf_graph_launch(m->decode, m->stream);
    }
    if (!m->warm) {
        m->warm = 1;
        return run_layers(m, ids, 1, 1, y);
    }
    const int64_t pos = m->pos;
    zf_status st = zf_graph_begin(m->stream);
    if (st == ZF_OK) {
        st = run_layers(m, ids, 1, 1, y);
        if (st != ZF_OK) zf_graph_cancel(m->stream);
        else st = zf_graph_end(m->stream, &m->decode);
    }
    if (st != ZF_OK) { /* nothing ran */
        m->graphs = 0;
        m->pos = pos;
        return run_layers(m, ids, 1, 1, y);
    }
    st = zf_graph_launch(m->decode, m->stream);
    if (!m->fused_decode) {
        zf_graph_destroy(m->decode);
        m->decode = NULL;
        m->graphs = 0;
    }
    return st;
}

/* n <= max_batch tokens at positions pos .. pos + n - 1; logits NULL: none. */
static zf_status forward_step(zf_model *m, const int32_t *tokens, int64_t n, int all_logits, float *logits) {
    const zf_model_config *c = &m->cfg;
    int64_t rows = all_logits ? n : 1;
    int dev = m->mem.dev == ZF_DEVICE_CUDA;
    zf_tensor ids = zf_tensor_1d((void *)tokens, ZF_DTYPE_I32, n);
    zf_tensor y = t2(m, dev ? m->logits : logits, ZF_DTYPE_F32, rows, c->vocab), *yp = logits ? &y : NULL;
    if (!dev) return run_layers(m, &ids, n, rows, yp);
    /* the one host-to-device copy of a step: its tokens (one token: its position too) */
    ids.device = ZF_DEVICE_CUDA;
    if (n == 1) {
        const int32_t step[2] = {(int32_t)m->pos, tokens[0]};
        ZF_TRY(zf_memcpy(m->step, ZF_DEVICE_CUDA, step, ZF_DEVICE_CPU, sizeof step, m->stream));
        ids.data = m->step + 1;
    } else {
        ZF_TRY(zf_memcpy(m->ids, ZF_DEVICE_CUDA, tokens, ZF_DEVICE_CPU, (size_t)n * sizeof *tokens, m->stream));
        ids.data = m->ids;
    }
    ZF_TRY(n == 1 && yp && m->graphs ? run_graphed(m, &ids, yp) : run_layers(m, &ids, n, rows, yp));
    if (!yp) return ZF_OK;
    /* the step's one wait for the device: the logits to the caller */
    ZF_TRY(zf_memcpy(logits, ZF_DEVICE_CPU, m->logits, ZF_DEVICE_CUDA, (size_t)(rows * c->vocab) * 4, m->stream));
    return zf_stream_synchronize(m->stream);
}

zf_status zf_model_forward(zf_model *m, const int32_t *tokens, int64_t n, int all_logits, float *logits) {
    if (!m || !tokens || !logits) return zf_error(ZF_ERR_INVALID_ARG, "[model] NULL argument");
    if (n < 1) return zf_error(ZF_ERR_INVALID_ARG, "[model] %lld tokens; expected at least 1", (long long)n);
    if (m->pos + n > m->o.max_ctx)
        return zf_error(ZF_ERR_INVALID_ARG, "[model] %lld + %lld tokens exceed the %lld-position context",
                        (long long)m->pos, (long long)n, (long long)m->o.max_ctx);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab)
            return zf_error(ZF_ERR_INVALID_ARG, "[model] token %lld is id %d; the vocabulary has %lld", (long long)i,
                            (int)tokens[i], (long long)m->cfg.vocab);
    int64_t start = m->pos;
    for (int64_t done = 0; done < n;) {
        int64_t step = n - done < m->o.max_batch ? n - done : m->o.max_batch;
        float *out = all_logits ? logits + done * m->cfg.vocab : done + step == n ? logits : NULL;
        zf_status st = forward_step(m, tokens + done, step, all_logits, out);
        if (st != ZF_OK) {
            m->pos = start; /* the cache past start is now undefined: drop it */
            return st;
        }
        done += step;
    }
    return ZF_OK;
}
