/* config.json + parsed safetensors -> zf_model_file: HF configs of llama,
 * qwen2, qwen3, qwen3_moe; MLX quantization (per-module overrides); HF/MLX
 * names mapped to GGUF names; HF per-expert tensors stacked at load. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "model/safetensors.h"

#define CFG_ERR(...) zf_error(ZF_ERR_FORMAT, "[safetensors] config.json: " __VA_ARGS__)

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const zf_st_tensor *)a)->name, ((const zf_st_tensor *)b)->name);
}

static const zf_st_tensor *find(const zf_st_list *l, const char *name) {
    zf_st_tensor key = {.name = name};
    if (!l->n) return NULL;
    return bsearch(&key, l->t, (size_t)l->n, sizeof key, cmp_tensor);
}

/* Integer field in [lo, hi]; *out untouched when absent (or null) and !required. */
static zf_status cfg_int(const cJSON *c, const char *key, int required, int64_t lo, int64_t hi, int64_t *out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!j || cJSON_IsNull(j)) return required ? CFG_ERR("'%s' is missing", key) : ZF_OK;
    double d = cJSON_IsNumber(j) ? j->valuedouble : -1e300;
    if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d)
        return CFG_ERR("'%s' must be an integer in [%lld, %lld]", key, (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return ZF_OK;
}

static zf_status cfg_float(const cJSON *c, const char *key, double lo, double hi, double *out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!j || cJSON_IsNull(j)) return ZF_OK;
    if (!cJSON_IsNumber(j) || !(j->valuedouble > lo && j->valuedouble < hi))
        return CFG_ERR("'%s' must be a number in (%g, %g)", key, lo, hi);
    *out = j->valuedouble;
    return ZF_OK;
}

static int cfg_bool(const cJSON *c, const char *key, int dflt) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(c, key);
    return cJSON_IsBool(j) ? cJSON_IsTrue(j) : dflt;
}

/* A required rope_scaling number, finite and > 0. */
static zf_status scaling_number(const cJSON *rs, const char *key, double *out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(rs, key);
    if (!cJSON_IsNumber(j) || !(j->valuedouble > 0 && j->valuedouble < 1e30))
        return CFG_ERR("rope_scaling '%s' must be a number > 0", key);
    *out = j->valuedouble;
    return ZF_OK;
}

/* rope_scaling: null, or an object whose rope_type (HF's older key: type) is
 * "default", "linear" (factor) or "llama3" (factor, low_freq_factor,
 * high_freq_factor, original_max_position_embeddings). */
static zf_status load_rope_scaling(zf_model_config *m, const cJSON *c) {
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
    if (!rs || cJSON_IsNull(rs)) return ZF_OK;
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!rt) rt = cJSON_GetObjectItemCaseSensitive(rs, "type");
    const char *type = cJSON_IsString(rt) ? rt->valuestring : "?";
    zf_rope_scaling *s = &m->rope_scaling;
    if (!strcmp(type, "default")) return ZF_OK;
    if (!strcmp(type, "linear")) s->type = ZF_ROPE_SCALING_LINEAR;
    else if (!strcmp(type, "llama3")) s->type = ZF_ROPE_SCALING_LLAMA3;
    else return CFG_ERR("rope_scaling '%.40s' is not supported (default, linear, llama3)", type);
    ZF_TRY(scaling_number(rs, "factor", &s->factor));
    if (s->type != ZF_ROPE_SCALING_LLAMA3) return ZF_OK;
    ZF_TRY(scaling_number(rs, "low_freq_factor", &s->low_freq_factor));
    ZF_TRY(scaling_number(rs, "high_freq_factor", &s->high_freq_factor));
    if (!(s->high_freq_factor > s->low_freq_factor))
        return CFG_ERR("rope_scaling high_freq_factor %g must exceed low_freq_factor %g", s->high_freq_factor,
                       s->low_freq_factor);
    return cfg_int(rs, "original_max_position_embeddings", 1, 1, INT64_C(1) << 40, &s->original_max_position);
}

static zf_status load_config(zf_model_file *f, const cJSON *c) {
    zf_model_config *m = &f->cfg;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c, "model_type");
    if (!cJSON_IsString(mt)) return CFG_ERR("'model_type' is missing");
    const char *type = mt->valuestring;
    int moe = !strcmp(type, "qwen3_moe");
    if (!moe && strcmp(type, "llama") && strcmp(type, "qwen2") && strcmp(type, "qwen3"))
        return CFG_ERR("model_type '%.40s' is not supported (llama, qwen2, qwen3, qwen3_moe)", type);
    snprintf(m->arch, sizeof m->arch, "%s", moe ? "qwen3moe" : type); /* GGUF's names */
    m->is_moe = moe;
    m->rope_style = ZF_ROPE_NEOX; /* HF checkpoints keep q/k rows unpermuted */
    const int64_t big = INT64_C(1) << 31;
    ZF_TRY(cfg_int(c, "hidden_size", 1, 1, big, &m->hidden));
    ZF_TRY(cfg_int(c, "num_hidden_layers", 1, 1, 1 << 16, &m->layers));
    ZF_TRY(cfg_int(c, "num_attention_heads", 1, 1, 1 << 16, &m->heads));
    m->kv_heads = m->heads;
    ZF_TRY(cfg_int(c, "num_key_value_heads", 0, 1, m->heads, &m->kv_heads));
    if (m->heads % m->kv_heads)
        return CFG_ERR("num_attention_heads %lld is not a multiple of num_key_value_heads %lld", (long long)m->heads,
                       (long long)m->kv_heads);
    m->head_dim = 0;
    ZF_TRY(cfg_int(c, "head_dim", 0, 1, 1 << 16, &m->head_dim));
    if (!m->head_dim) {
        if (m->hidden % m->heads) return CFG_ERR("hidden_size is not a multiple of num_attention_heads and head_dim is missing");
        m->head_dim = m->hidden / m->heads;
    }
    ZF_TRY(cfg_int(c, "intermediate_size", !moe, 1, big, &m->ffn));
    double eps = 1e-6, theta = 10000.0;
    ZF_TRY(cfg_float(c, "rms_norm_eps", 0, 1, &eps));
    ZF_TRY(cfg_float(c, "rope_theta", 0, 1e30, &theta));
    m->rms_eps = (float)eps;
    m->rope_theta = (float)theta;
    ZF_TRY(cfg_int(c, "max_position_embeddings", 0, 0, INT64_MAX / 2, &m->context_length));
    ZF_TRY(load_rope_scaling(m, c));
    if (moe) {
        ZF_TRY(cfg_int(c, "num_experts", 1, 1, 1 << 16, &m->experts));
        ZF_TRY(cfg_int(c, "num_experts_per_tok", 1, 1, m->experts, &m->experts_used));
        ZF_TRY(cfg_int(c, "moe_intermediate_size", 1, 1, big, &m->expert_ffn));
        m->norm_topk_prob = cfg_bool(c, "norm_topk_prob", 0); /* HF's default */
        int64_t step = 1;
        ZF_TRY(cfg_int(c, "decoder_sparse_step", 0, 1, 1 << 16, &step));
        const cJSON *dense = cJSON_GetObjectItemCaseSensitive(c, "mlp_only_layers");
        if (step != 1 || cJSON_GetArraySize(dense) > 0)
            return CFG_ERR("dense layers inside a MoE model (decoder_sparse_step, mlp_only_layers) are not supported");
    }
    return ZF_OK;
}

/* What the config takes from the tensors: vocab rows, tying, q/k norms and
 * attention biases. */
static zf_status config_from_tensors(zf_model_file *f, const cJSON *c) {
    zf_model_config *m = &f->cfg;
    const zf_mf_entry *emb = zf_mf_find(f, "token_embd.weight");
    if (!emb) return zf_error(ZF_ERR_FORMAT, "[safetensors] missing tensor model.embed_tokens.weight");
    m->vocab = emb->w.kind == ZF_WEIGHT_AFFINE ? emb->w.q.n : emb->w.t.shape[0];
    int has_out = zf_mf_find(f, "output.weight") != NULL;
    m->tied_embeddings = cfg_bool(c, "tie_word_embeddings", !has_out);
    if (!m->tied_embeddings && !has_out)
        return CFG_ERR("tie_word_embeddings is false but lm_head.weight is missing");
    m->qk_norm = zf_mf_find(f, "blk.0.attn_q_norm.weight") != NULL;
    m->attn_bias = zf_mf_find(f, "blk.0.attn_q.bias") != NULL;
    return ZF_OK;
}

/* HF/MLX module path -> GGUF name stem ("model.layers.3.mlp.gate_proj" ->
 * "blk.3.ffn_gate"); 0 when there is no GGUF name. */
static int map_module(const char *mod, char *out, size_t n) {
    static const char *const top[][2] = {
        {"model.embed_tokens", "token_embd"}, {"model.norm", "output_norm"}, {"lm_head", "output"}};
    static const char *const layer[][2] = {
        {"self_attn.q_proj", "attn_q"},        {"self_attn.k_proj", "attn_k"},
        {"self_attn.v_proj", "attn_v"},        {"self_attn.o_proj", "attn_output"},
        {"self_attn.q_norm", "attn_q_norm"},   {"self_attn.k_norm", "attn_k_norm"},
        {"input_layernorm", "attn_norm"},      {"post_attention_layernorm", "ffn_norm"},
        {"mlp.gate_proj", "ffn_gate"},         {"mlp.up_proj", "ffn_up"},
        {"mlp.down_proj", "ffn_down"},         {"mlp.gate", "ffn_gate_inp"},
        {"mlp.switch_mlp.gate_proj", "ffn_gate_exps"}, {"mlp.switch_mlp.up_proj", "ffn_up_exps"},
        {"mlp.switch_mlp.down_proj", "ffn_down_exps"},
        {"mlp.experts.gate_proj", "ffn_gate_exps"},    {"mlp.experts.up_proj", "ffn_up_exps"},
        {"mlp.experts.down_proj", "ffn_down_exps"},
    };
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!strcmp(mod, top[i][0])) return snprintf(out, n, "%s", top[i][1]) < (int)n;
    unsigned layer_no;
    int used = 0;
    if (sscanf(mod, "model.layers.%u.%n", &layer_no, &used) != 1 || !used || mod[used - 1] != '.') return 0;
    for (size_t i = 0; i < sizeof layer / sizeof layer[0]; i++)
        if (!strcmp(mod + used, layer[i][0])) return snprintf(out, n, "blk.%u.%s", layer_no, layer[i][1]) < (int)n;
    return 0;
}

/* Splits "a.b.weight" into module "a.b" and the parameter "weight". */
static void split_name(const char *name, char *mod, size_t n, const char **param) {
    const char *dot = strrchr(name, '.');
    size_t ml = dot ? (size_t)(dot - name) : strlen(name);
    if (ml >= n) ml = n - 1;
    memcpy(mod, name, ml);
    mod[ml] = '\0';
    *param = dot ? dot + 1 : "";
}

static zf_dtype float_dtype(const char *dt, int *ok) {
    *ok = 1;
    if (!strcmp(dt, "F32")) return ZF_DTYPE_F32;
    if (!strcmp(dt, "F16")) return ZF_DTYPE_F16;
    if (!strcmp(dt, "BF16")) return ZF_DTYPE_BF16;
    if (!strcmp(dt, "U32")) return ZF_DTYPE_U32;
    if (!strcmp(dt, "I32")) return ZF_DTYPE_I32;
    *ok = 0;
    return ZF_DTYPE_F32;
}

/* data, or an aligned copy when the file places it off its element size */
static const void *aligned(zf_model_file *f, const zf_st_tensor *t, size_t es) {
    if ((uintptr_t)t->data % es == 0) return t->data;
    void *p = zf_mf_alloc(f, t->bytes);
    if (p) memcpy(p, t->data, t->bytes);
    return p;
}

static zf_status add_float(zf_model_file *f, const char *name, const zf_st_tensor *t) {
    int ok;
    zf_dtype dt = float_dtype(t->dtype, &ok);
    zf_weight w;
    memset(&w, 0, sizeof w);
    if (!ok) return zf_mf_add(f, name, &w, "safetensors dtype not supported (F32, F16, BF16, U32, I32)");
    const void *data = aligned(f, t, zf_dtype_size(dt));
    if (!data) return zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
    w.kind = ZF_WEIGHT_FLOAT;
    w.t = zf_tensor_nd((void *)data, dt, t->ndim, t->shape);
    return zf_mf_add(f, name, &w, NULL);
}

/* The quantization object for module mod: its override, false (NULL, *off
 * = 1) or the defaults. */
static const cJSON *quant_for(const cJSON *qcfg, const char *mod, int *off) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(qcfg, mod);
    *off = cJSON_IsFalse(o);
    return cJSON_IsObject(o) ? o : qcfg;
}

static zf_status add_quantized(zf_model_file *f, const char *name, const char *mod, const zf_st_tensor *w,
                               const zf_st_list *l, const cJSON *qcfg) {
    char sn[600], bn[600];
    snprintf(sn, sizeof sn, "%s.scales", mod);
    snprintf(bn, sizeof bn, "%s.biases", mod);
    const zf_st_tensor *s = find(l, sn), *b = find(l, bn);
    if (!s || !b) return zf_error(ZF_ERR_FORMAT, "[safetensors] %s is quantized but %s or %s is missing", w->name, sn, bn);
    int off;
    const cJSON *q = quant_for(qcfg, mod, &off);
    int64_t bits = 0, gs = 0;
    if (!qcfg || off)
        return zf_error(ZF_ERR_FORMAT, "[safetensors] %s exists but config.json gives no quantization for %s", sn, mod);
    if (cfg_int(q, "bits", 1, 2, 8, &bits) != ZF_OK || cfg_int(q, "group_size", 1, 32, 128, &gs) != ZF_OK ||
        bits == 7 || (gs != 32 && gs != 64 && gs != 128))
        return CFG_ERR("quantization of %s: bits %lld / group_size %lld not supported (bits 2,3,4,5,6,8; groups 32,64,128)",
                       mod, (long long)bits, (long long)gs);
    int ok;
    zf_dtype sd = float_dtype(s->dtype, &ok);
    int nd = w->ndim;
    if (strcmp(w->dtype, "U32") || !ok || !zf_is_float_dtype(sd) || strcmp(s->dtype, b->dtype) || nd < 2 || nd > 3 ||
        s->ndim != nd || b->ndim != nd)
        return zf_error(ZF_ERR_FORMAT, "[safetensors] %s: quantized weight must be U32 [(E,) n, k*bits/32] with scales and "
                        "biases of one float dtype and the same rank (got %s, %s, %s)", mod, w->dtype, s->dtype, b->dtype);
    int64_t words = w->shape[nd - 1], k = words * 32 / bits;
    for (int d = 0; d < nd; d++)
        if (s->shape[d] != b->shape[d] || (d < nd - 1 && s->shape[d] != w->shape[d]))
            return zf_error(ZF_ERR_SHAPE, "[safetensors] %s: scales/biases shape does not match the weight", mod);
    if ((words * 32) % bits || k % gs || s->shape[nd - 1] != k / gs)
        return zf_error(ZF_ERR_FORMAT, "[safetensors] %s: %lld packed words of %lld bits make k=%lld, which needs %lld groups "
                        "of %lld, but scales have %lld", mod, (long long)words, (long long)bits, (long long)k,
                        (long long)(k / gs), (long long)gs, (long long)s->shape[nd - 1]);
    zf_weight wt;
    memset(&wt, 0, sizeof wt);
    wt.kind = ZF_WEIGHT_AFFINE;
    wt.q.packed = aligned(f, w, 4);
    wt.q.scales = aligned(f, s, zf_dtype_size(sd));
    wt.q.biases = aligned(f, b, zf_dtype_size(sd));
    if (!wt.q.packed || !wt.q.scales || !wt.q.biases) return zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
    wt.q.scale_dtype = sd;
    wt.q.bits = (int32_t)bits;
    wt.q.group_size = (int32_t)gs;
    wt.q.experts = nd == 3 ? w->shape[0] : 1;
    wt.q.n = w->shape[nd - 2];
    wt.q.k = k;
    wt.q.device = ZF_DEVICE_CPU;
    return zf_mf_add(f, name, &wt, NULL);
}

/* "model.layers.N.mlp.experts.E.P" -> E, with mod rewritten to
 * "model.layers.N.mlp.experts.P"; -1 when name is not a per-expert tensor. */
static long expert_index(const char *mod, char *stacked, size_t n) {
    const char *p = strstr(mod, ".mlp.experts.");
    if (!p || strncmp(mod, "model.layers.", 13)) return -1;
    const char *e = p + 13;
    char *end;
    long idx = strtol(e, &end, 10);
    if (end == e || *end != '.' || idx < 0) return -1;
    snprintf(stacked, n, "%.*s%s", (int)(e - mod), mod, end + 1);
    return idx;
}

/* Stacks experts 0..E-1 of one projection ([n, k] each, one float dtype)
 * into an owned [E, n, k] tensor. */
static zf_status stack_experts(zf_model_file *f, const char *name, const char *stacked_mod, const zf_st_list *l,
                               int64_t E, const char *param) {
    const char *pre_end = strstr(stacked_mod, ".mlp.experts.") + 13;
    const zf_st_tensor *first = NULL;
    uint8_t *buf = NULL;
    for (int64_t e = 0; e < E; e++) {
        char nm[512];
        snprintf(nm, sizeof nm, "%.*s%lld.%s.%s", (int)(pre_end - stacked_mod), stacked_mod, (long long)e, pre_end, param);
        const zf_st_tensor *t = find(l, nm);
        if (!t) return zf_error(ZF_ERR_FORMAT, "[safetensors] missing tensor %s (num_experts is %lld)", nm, (long long)E);
        int ok;
        zf_dtype dt = float_dtype(t->dtype, &ok);
        if (!first) {
            first = t;
            if (!ok || !zf_is_float_dtype(dt) || t->ndim != 2)
                return zf_error(ZF_ERR_FORMAT, "[safetensors] %s: per-expert tensors must be float [n, k] to stack "
                                "(got %s, rank %d)", nm, t->dtype, t->ndim);
            if (!(buf = zf_mf_alloc(f, (size_t)E * t->bytes))) return zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
        } else if (strcmp(t->dtype, first->dtype) || t->ndim != 2 || t->shape[0] != first->shape[0] ||
                   t->shape[1] != first->shape[1]) {
            return zf_error(ZF_ERR_SHAPE, "[safetensors] %s differs in dtype or shape from expert 0", nm);
        }
        memcpy(buf + (size_t)e * first->bytes, t->data, first->bytes);
    }
    int ok;
    int64_t shape[3] = {E, first->shape[0], first->shape[1]};
    zf_weight w;
    memset(&w, 0, sizeof w);
    w.kind = ZF_WEIGHT_FLOAT;
    w.t = zf_tensor_nd(buf, float_dtype(first->dtype, &ok), 3, shape);
    return zf_mf_add(f, name, &w, NULL);
}

static zf_status add_tensors(zf_model_file *f, const zf_st_list *l, const cJSON *qcfg, int64_t experts) {
    int64_t total = 0, done = 0;
    for (int64_t i = 0; i < l->n; i++) total += (int64_t)l->t[i].bytes;
    for (int64_t i = 0; i < l->n; i++) {
        const zf_st_tensor *t = &l->t[i];
        char mod[512], stacked[512], gname[600], sname[600];
        const char *param;
        split_name(t->name, mod, sizeof mod, &param);
        done += (int64_t)t->bytes;
        zf_mf_progress(f, done, total);
        long e = expert_index(mod, stacked, sizeof stacked);
        if (e >= 0) {
            if (e != 0) continue; /* stacked when expert 0 is seen */
            snprintf(sname, sizeof sname, "%s.scales", mod);
            if (find(l, sname))
                return zf_error(ZF_ERR_FORMAT, "[safetensors] %s: quantized per-expert tensors are not supported (MLX "
                                "checkpoints stack them as switch_mlp)", t->name);
            if (!experts) return CFG_ERR("per-expert tensor %s but num_experts is not set", t->name);
            if (!map_module(stacked, gname, sizeof gname)) continue; /* an expert tensor zfast does not use */
            snprintf(gname + strlen(gname), sizeof gname - strlen(gname), ".%s", param);
            ZF_TRY(stack_experts(f, gname, stacked, l, experts, param));
            continue;
        }
        char qmod_scales[600];
        snprintf(qmod_scales, sizeof qmod_scales, "%s.scales", mod);
        int quant_weight = !strcmp(param, "weight") && (find(l, qmod_scales) ||
                           (qcfg && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(qcfg, mod))));
        if ((!strcmp(param, "scales") || !strcmp(param, "biases"))) {
            char wn[600];
            snprintf(wn, sizeof wn, "%s.weight", mod);
            if (find(l, wn)) continue; /* part of the quantized weight */
        }
        if (map_module(mod, gname, sizeof gname)) snprintf(gname + strlen(gname), sizeof gname - strlen(gname), ".%s", param);
        else snprintf(gname, sizeof gname, "%s", t->name); /* kept under its own name */
        ZF_TRY(quant_weight ? add_quantized(f, gname, mod, t, l, qcfg) : add_float(f, gname, t));
    }
    return ZF_OK;
}

zf_status zf_st_build(zf_model_file *f, const char *config_json, size_t config_len, zf_st_list *list) {
    cJSON *c = cJSON_ParseWithLength(config_json, config_len);
    if (!cJSON_IsObject(c)) {
        cJSON_Delete(c);
        return zf_error(ZF_ERR_FORMAT, "[safetensors] config.json is not a JSON object");
    }
    if (list->n > 1) qsort(list->t, (size_t)list->n, sizeof *list->t, cmp_tensor);
    zf_status s = ZF_OK;
    for (int64_t i = 1; s == ZF_OK && i < list->n; i++)
        if (!strcmp(list->t[i - 1].name, list->t[i].name))
            s = zf_error(ZF_ERR_FORMAT, "[safetensors] tensor %s is in both %s and %s", list->t[i].name,
                         list->t[i - 1].file, list->t[i].file);
    const cJSON *qcfg = cJSON_GetObjectItemCaseSensitive(c, "quantization");
    if (!qcfg) qcfg = cJSON_GetObjectItemCaseSensitive(c, "quantization_config");
    if (qcfg && !cJSON_IsObject(qcfg)) qcfg = NULL;
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(qcfg, "mode");
    if (s == ZF_OK && mode && (!cJSON_IsString(mode) || strcmp(mode->valuestring, "affine")))
        s = CFG_ERR("quantization mode '%.40s' is not supported (affine)", cJSON_IsString(mode) ? mode->valuestring : "?");
    if (s == ZF_OK) s = load_config(f, c);
    if (s == ZF_OK) s = add_tensors(f, list, qcfg, f->cfg.experts);
    if (s == ZF_OK) s = config_from_tensors(f, c);
    cJSON_Delete(c);
    return s;
}
