/* The qwen3_moe feed-forward block: router logits (qmm, or matmul for the
 * float router most GGUF files keep) -> softmax top-k
 * (zf_moe_route, f32 weights, norm_topk_prob from the config) ->
 * zf_moe_experts (gather_qmm_swiglu, then gather_qmm_combine). Scratch is
 * the caller's. */
#include "core/error.h"
#include "model/model.h"

static int64_t align64(int64_t b) { return (b + 63) / 64 * 64; }

int64_t zf_moe_scratch_bytes(const zf_model_config *cfg, zf_dtype t, int64_t n) {
    int64_t es = (int64_t)zf_dtype_size(t), k = cfg->experts_used;
    return align64(n * cfg->experts * es) + align64(n * k * 4) + align64(n * k * 4) +
           align64(n * k * cfg->expert_ffn * es);
}

zf_status zf_moe_ffn(const zf_model_config *cfg, const zf_model_layer *l, const zf_tensor *x, void *scratch,
                     zf_tensor *out, const zf_opts *o) {
    zf_dtype t = x->dtype;
    int64_t n = x->shape[0], E = cfg->experts, k = cfg->experts_used, F = cfg->expert_ffn;
    char *p = scratch;
    zf_tensor logits = zf_tensor_2d(p, t, n, E);
    p += align64(n * E * (int64_t)zf_dtype_size(t));
    zf_tensor ids = zf_tensor_2d(p, ZF_DTYPE_I32, n, k);
    p += align64(n * k * 4);
    zf_tensor weights = zf_tensor_2d(p, ZF_DTYPE_F32, n, k);
    p += align64(n * k * 4);
    int64_t ashape[3] = {n, k, F};
    zf_tensor a = zf_tensor_nd(p, t, 3, ashape);
    logits.device = ids.device = weights.device = a.device = x->device; /* scratch lives beside x */
    ZF_TRY(zf_model_linear(x, &l->router, &logits, o));
    ZF_TRY(zf_moe_route(&logits, (int)k, cfg->norm_topk_prob, &ids, &weights, o));
    return zf_moe_experts(x, &l->ffn_gate.q, &l->ffn_up.q, &l->ffn_down.q, &ids, &weights, &a, out, o);
}
