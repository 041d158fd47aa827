/* zf gate gather_qmm_swiglu | gather_qmm_combine | moe: the fused MoE ops
 * against their stock compositions on Qwen3-30B-A3B's layer shapes (hidden
 * 2048, expert width 768, 128 experts, top-8, 4-bit, group 64), timed with
 * the method every gate shares (gate.c).
 *
 * The weights must come from DRAM (HBM), as they do in a real decode where
 * each layer's experts were last read a whole model ago. Routing is
 * balanced: a fixed random permutation of the experts, repeated, is dealt
 * 8 at a time to the tokens of consecutive calls, so an expert is read again
 * only after every other expert of its layer has been; when one layer's
 * weights are less than 4x the cache, calls alternate over several layers. */
#include "gate_moe.h"

#include <stdlib.h>
#include <string.h>

#include "capsule.h"
#include "core/registry.h"

#define HIDDEN 2048
#define WIDTH 768
#define EXPERTS 128
#define QUICK_EXPERTS 32 /* --quick: a smaller pool (still > 4x the cache over its layers) */
#define TOPK 8
#define BITS 4
#define GROUP 64
#define MAX_LAYERS 64 /* enough for > 4x a large server LLC even with the --quick pool */
#define MAX_SETS 1024 /* realignment period x layers, up to 64 layers on large LLCs */

enum { W_GATE, W_UP, W_DOWN, N_W };

typedef struct moe_op {
    const char *name;
    int uses[N_W];
} moe_op;

static const moe_op k_ops[] = {
    {"gather_qmm_swiglu", {1, 1, 0}},
    {"gather_qmm_combine", {0, 0, 1}},
    {"moe", {1, 1, 1}},
};

static const int k_tokens[] = {1, 4, 16, 64};
static const int k_quick_tokens[] = {1, 4};

int zf_gate_moe_op(const char *op) {
    for (size_t i = 0; i < sizeof k_ops / sizeof *k_ops; i++)
        if (strcmp(op, k_ops[i].name) == 0) return 1;
    return 0;
}

/* ---- the weight pool: `layers` copies of the op's expert tensors ------------ */

typedef struct pool {
    const zf_gate_backend *be;
    zf_dtype t; /* activations and scales */
    int64_t experts;
    int layers;
    zf_qweight w[MAX_LAYERS][N_W];
} pool;

static int64_t w_rows(int i) { return i == W_DOWN ? HIDDEN : WIDTH; }
static int64_t w_cols(int i) { return i == W_DOWN ? WIDTH : HIDDEN; }

/* Bytes of one expert of one tensor: packed words, scales and biases. */
static double expert_bytes(zf_dtype t) {
    return (double)WIDTH * HIDDEN * BITS / 8 + 2.0 * WIDTH * (HIDDEN / GROUP) * (double)zf_dtype_size(t);
}

static void free_pool(pool *p) {
    for (int l = 0; l < p->layers; l++)
        for (int i = 0; i < N_W; i++) {
            p->be->release((void *)p->w[l][i].packed);
            p->be->release((void *)p->w[l][i].scales);
            p->be->release((void *)p->w[l][i].biases);
        }
}

/* Packed words get arbitrary bit patterns (the fill's f32 values): the
 * kernels' time does not depend on the values. */
static int alloc_pool(pool *p, const moe_op *op, char *msg, size_t msg_size) {
    int used = op->uses[W_GATE] + op->uses[W_UP] + op->uses[W_DOWN];
    double layer_bytes = (double)used * (double)p->experts * expert_bytes(p->t);
    p->layers = (int)(4.0 * (double)p->be->cache_bytes() / layer_bytes) + 1;
    if (p->layers > MAX_LAYERS) p->layers = MAX_LAYERS;
    uint64_t seed = 1000;
    for (int l = 0; l < p->layers; l++)
        for (int i = 0; i < N_W; i++) {
            if (!op->uses[i]) continue;
            int64_t n = w_rows(i), k = w_cols(i), words = p->experts * n * k * BITS / 32;
            int64_t groups = p->experts * n * (k / GROUP);
            size_t ss = zf_dtype_size(p->t);
            void *pk = p->be->alloc((size_t)words * 4), *sc = p->be->alloc((size_t)groups * ss),
                 *bi = p->be->alloc((size_t)groups * ss);
            p->w[l][i] = (zf_qweight){pk, sc, bi, p->t, BITS, GROUP, p->experts, n, k, p->be->device};
            if (!pk || !sc || !bi || p->be->fill(pk, ZF_DTYPE_F32, words, seed++) != 0 ||
                p->be->fill(sc, p->t, groups, seed++) != 0 || p->be->fill(bi, p->t, groups, seed++) != 0) {
                snprintf(msg, msg_size, "no memory for %d layers of %lld experts' weights", p->layers,
                         (long long)p->experts);
                return -1;
            }
        }
    return 0;
}

/* ---- one token count: per-call inputs (a set per call in the rotation) ------ */

typedef struct set_in {
    int layer;
    void *x;      /* x [T, HIDDEN] (swiglu, moe) or a [T, TOPK, WIDTH] (combine) */
    void *ids;    /* i32 [T, TOPK] (swiglu, combine) */
    void *rw;     /* routing weights [T, TOPK] (combine) */
    void *logits; /* [T, experts] (moe) */
    int distinct; /* experts this call touches */
} set_in;

typedef struct shape {
    const moe_op *op;
    const pool *p;
    int64_t tokens;
    int sets;
    set_in in[MAX_SETS];
    /* outputs and the moe block's intermediates, shared by the sets */
    void *h, *y, *ids, *rw;
} shape;

typedef struct call_ctx {
    const shape *s;
    zf_opts o;
} call_ctx;

static zf_tensor dev(void *p, zf_dtype t, int nd, int64_t a, int64_t b, int64_t c, zf_device d) {
    int64_t sh[3] = {a, b, c};
    zf_tensor x = zf_tensor_nd(p, t, nd, sh);
    x.device = d;
    return x;
}

static zf_status call_op(void *ctx, int set) {
    const call_ctx *c = ctx;
    const shape *s = c->s;
    const set_in *in = &s->in[set];
    const zf_qweight *w = s->p->w[in->layer];
    zf_dtype t = s->p->t;
    zf_device d = s->p->be->device;
    int64_t T = s->tokens;
    zf_tensor h = dev(s->h, t, 3, T, TOPK, WIDTH, d), y = dev(s->y, t, 2, T, HIDDEN, 0, d);
    if (s->op->uses[W_DOWN] && !s->op->uses[W_GATE]) { /* combine */
        zf_tensor a = dev(in->x, t, 3, T, TOPK, WIDTH, d), ids = dev(in->ids, ZF_DTYPE_I32, 2, T, TOPK, 0, d);
        zf_tensor rw = dev(in->rw, t, 2, T, TOPK, 0, d);
        return zf_gather_qmm_combine(&a, &w[W_DOWN], &ids, &rw, &y, &c->o);
    }
    zf_tensor x = dev(in->x, t, 2, T, HIDDEN, 0, d);
    zf_tensor ids = dev(s->op->uses[W_DOWN] ? s->ids : in->ids, ZF_DTYPE_I32, 2, T, TOPK, 0, d);
    zf_tensor rw = dev(s->rw, t, 2, T, TOPK, 0, d);
    if (s->op->uses[W_DOWN]) { /* moe: router, then the experts (moe_experts) */
        zf_tensor lg = dev(in->logits, t, 2, T, s->p->experts, 0, d);
        zf_status st = zf_moe_route(&lg, TOPK, 1, &ids, &rw, &c->o);
        if (st != ZF_OK) return st;
    }
    if (s->op->uses[W_DOWN]) return zf_moe_experts(&x, &w[W_GATE], &w[W_UP], &w[W_DOWN], &ids, &rw, &h, &y, &c->o);
    return zf_gather_qmm_swiglu(&x, &w[W_GATE], &w[W_UP], &ids, &h, &c->o);
}

static void free_shape(shape *s) {
    const zf_gate_backend *be = s->p->be;
    for (int i = 0; i < s->sets; i++) {
        be->release(s->in[i].x), be->release(s->in[i].ids), be->release(s->in[i].rw);
        be->release(s->in[i].logits);
    }
    be->release(s->h), be->release(s->y), be->release(s->ids), be->release(s->rw);
}

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int gcd(int a, int b) { return b ? gcd(b, a % b) : a; }

/* Host values copied to the backend's memory. */
static int upload(const zf_gate_backend *be, void **dst, const void *src, size_t bytes) {
    *dst = be->alloc(bytes);
    if (!*dst || zf_memcpy(*dst, be->device, src, ZF_DEVICE_CPU, bytes, be->stream()) != ZF_OK) return -1;
    return be->device == ZF_DEVICE_CPU || zf_stream_synchronize(be->stream()) == ZF_OK ? 0 : -1;
}

/* Routing of set `set`: token t's slots take the next TOPK experts of the
 * repeated permutation (distinct within a token: E is a multiple of TOPK). */
static void route_set(const int32_t *perm, int64_t E, int64_t T, int64_t offset, int32_t *ids, int *distinct) {
    unsigned char seen[EXPERTS] = {0};
    *distinct = 0;
    for (int64_t i = 0; i < T * TOPK; i++) {
        ids[i] = perm[(offset + i) % E];
        *distinct += !seen[ids[i]];
        seen[ids[i]] = 1;
    }
}

static void put(zf_dtype t, void *out, int64_t i, float v) {
    if (t == ZF_DTYPE_F32) ((float *)out)[i] = v;
    else ((uint16_t *)out)[i] = t == ZF_DTYPE_F16 ? zf_f32_to_f16(v) : zf_f32_to_bf16(v);
}

/* Logits whose top-TOPK are the set's experts, in slot order (slot j gets
 * 8 - j/4, every other expert less than 4): the router picks them again. */
static void logits_for(const int32_t *ids, int64_t E, int64_t T, zf_dtype t, uint64_t *rng, void *out) {
    for (int64_t m = 0; m < T; m++) {
        for (int64_t e = 0; e < E; e++) put(t, out, m * E + e, (float)(next_rand(rng) >> 40) / 16777216.0f * 8.0f - 4.0f);
        for (int j = 0; j < TOPK; j++) put(t, out, m * E + ids[m * TOPK + j], 8.0f - 0.25f * (float)j);
    }
}

static int alloc_shape(shape *s, const int32_t *perm, char *msg, size_t msg_size) {
    const pool *p = s->p;
    const zf_gate_backend *be = p->be;
    zf_dtype t = p->t;
    size_t es = zf_dtype_size(t);
    int64_t T = s->tokens, E = p->experts;
    int base = (int)(E / gcd((int)E, (int)(TOPK * T))); /* calls until the permutation realigns */
    s->sets = base * p->layers;
    if (s->sets > MAX_SETS) {
        snprintf(msg, msg_size, "%d buffer sets needed; at most %d", s->sets, MAX_SETS);
        s->sets = 0;
        return -1;
    }
    int combine = s->op->uses[W_DOWN] && !s->op->uses[W_GATE], moe = s->op->uses[W_DOWN] && !combine;
    int32_t *ids = malloc((size_t)(T * TOPK) * sizeof *ids);
    void *lg = malloc((size_t)(T * E) * es);
    uint64_t rng = 0x243f6a8885a308d3ull, seed = 1;
    int rc = ids && lg ? 0 : -1;
    for (int i = 0; rc == 0 && i < s->sets; i++) {
        set_in *in = &s->in[i];
        in->layer = i % p->layers;
        route_set(perm, E, T, (int64_t)(i / p->layers) * T * TOPK, ids, &in->distinct);
        int64_t xn = combine ? T * TOPK * WIDTH : T * HIDDEN;
        in->x = be->alloc((size_t)xn * es);
        rc = in->x && be->fill(in->x, t, xn, seed++) == 0 ? 0 : -1;
        if (rc == 0 && moe) {
            logits_for(ids, E, T, t, &rng, lg);
            rc = upload(be, &in->logits, lg, (size_t)(T * E) * es);
        } else if (rc == 0) {
            rc = upload(be, &in->ids, ids, (size_t)(T * TOPK) * sizeof *ids);
        }
        if (rc == 0 && combine) {
            in->rw = be->alloc((size_t)(T * TOPK) * es);
            rc = in->rw && be->fill(in->rw, t, T * TOPK, seed++) == 0 ? 0 : -1;
        }
    }
    free(ids), free(lg);
    /* outputs filled too, so their pages exist before timing starts */
    s->h = be->alloc((size_t)(T * TOPK * WIDTH) * es);
    s->y = be->alloc((size_t)(T * HIDDEN) * es);
    s->ids = be->alloc((size_t)(T * TOPK) * 4);
    s->rw = be->alloc((size_t)(T * TOPK) * es);
    if (rc != 0 || !s->h || !s->y || !s->ids || !s->rw || be->fill(s->h, t, T * TOPK * WIDTH, seed++) != 0 ||
        be->fill(s->y, t, T * HIDDEN, seed++) != 0 || be->fill(s->rw, t, T * TOPK, seed++) != 0) {
        snprintf(msg, msg_size, "no memory for the inputs of %lld tokens", (long long)T);
        return -1;
    }
    return 0;
}

/* Bytes one call must move: the touched experts' weights once, plus the
 * block's inputs and outputs (intermediates of the moe block not counted). */
static double weight_bytes(const shape *s, double *distinct) {
    double d = 0;
    for (int i = 0; i < s->sets; i++) d += s->in[i].distinct;
    *distinct = d / s->sets;
    int used = s->op->uses[W_GATE] + s->op->uses[W_UP] + s->op->uses[W_DOWN];
    return *distinct * used * expert_bytes(s->p->t);
}

static double act_bytes(const shape *s) {
    double es = (double)zf_dtype_size(s->p->t), T = (double)s->tokens, slots = T * TOPK;
    if (s->op->uses[W_DOWN] && !s->op->uses[W_GATE]) return slots * WIDTH * es + slots * (4 + es) + T * HIDDEN * es;
    if (!s->op->uses[W_DOWN]) return T * HIDDEN * es + slots * 4 + slots * WIDTH * es;
    return T * (double)s->p->experts * es + 2 * T * HIDDEN * es;
}

static int run_tokens(const pool *p, const moe_op *op, int64_t T, const int32_t *perm, const zf_gate_plan *plan,
                      double bw_gbps, cJSON *rows, char *msg, size_t msg_size) {
    shape *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(msg, msg_size, "out of memory");
        return -1;
    }
    s->op = op, s->p = p, s->tokens = T;
    int rc = alloc_shape(s, perm, msg, msg_size);
    if (rc == 0) {
        zf_stream *st = p->be->stream();
        call_ctx fused = {s, {ZF_FIDELITY_AUTO, st}}, stock = {s, {ZF_FIDELITY_STOCK, st}};
        zf_gate_pair pair = {call_op, call_op, &fused, &stock, s->sets, 2, 0}; /* the read stream, as at the start */
        double distinct, wb = weight_bytes(s, &distinct);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "rows", (double)T);
        cJSON_AddNumberToObject(o, "cols", HIDDEN);
        cJSON_AddStringToObject(o, "kind", T == 1 ? "decode" : "batch");
        cJSON_AddNumberToObject(o, "tokens", (double)T);
        cJSON_AddNumberToObject(o, "experts_touched", distinct);
        cJSON_AddNumberToObject(o, "weight_bytes", wb);
        cJSON_AddNumberToObject(o, "layers", p->layers);
        rc = zf_gate_time_pair(p->be, &pair, plan, wb + act_bytes(s), bw_gbps, o, msg, msg_size);
        if (rc == 0) cJSON_AddItemToArray(rows, o);
        else cJSON_Delete(o);
    }
    free_shape(s);
    free(s);
    return rc;
}

/* ---- variants, the capsule, the sweep ---------------------------------------- */

static const char *variant_name(zf_op op, zf_device dev, zf_fidelity f) {
    const zf_variant *v;
    return zf_pick(op, dev, f, &v) == ZF_OK ? v->name : NULL;
}

/* The fused and stock paths in words ("a + b + c" for the moe block). */
static int path_names(const moe_op *op, zf_device dev, zf_fidelity f, char *out, size_t size) {
    const char *r = variant_name(ZF_OP_MOE_ROUTE, dev, f), *g = variant_name(ZF_OP_GATHER_QMM_SWIGLU, dev, f);
    const char *c = variant_name(ZF_OP_GATHER_QMM_COMBINE, dev, f);
    if (!r || !g || !c) return -1;
    if (op->uses[W_GATE] && op->uses[W_DOWN]) snprintf(out, size, "%s + %s + %s", r, g, c);
    else snprintf(out, size, "%s", op->uses[W_GATE] ? g : c);
    return 0;
}

void zf_gate_moe_kernels(cJSON *cap, const char *name, zf_device dev) {
    const moe_op *op = NULL;
    for (size_t i = 0; i < sizeof k_ops / sizeof *k_ops; i++)
        if (strcmp(name, k_ops[i].name) == 0) op = &k_ops[i];
    if (!op) return;
    if (op->uses[W_GATE] && op->uses[W_DOWN]) zf_capsule_add_kernel(cap, ZF_OP_MOE_ROUTE, dev, ZF_FIDELITY_AUTO);
    if (op->uses[W_GATE]) {
        zf_capsule_add_kernel(cap, ZF_OP_GATHER_QMM_SWIGLU, dev, ZF_FIDELITY_AUTO);
        zf_capsule_add_kernel(cap, ZF_OP_GATHER_QMM_SWIGLU, dev, ZF_FIDELITY_STOCK);
        zf_capsule_add_kernel(cap, ZF_OP_SWIGLU, dev, ZF_FIDELITY_STOCK);
    }
    if (op->uses[W_DOWN]) {
        zf_capsule_add_kernel(cap, ZF_OP_GATHER_QMM_COMBINE, dev, ZF_FIDELITY_AUTO);
        zf_capsule_add_kernel(cap, ZF_OP_GATHER_QMM_COMBINE, dev, ZF_FIDELITY_STOCK);
    }
    zf_capsule_add_kernel(cap, ZF_OP_GATHER_QMM, dev, ZF_FIDELITY_AUTO);
}

static void add_shapes(cJSON *cap, const pool *p) {
    cJSON *m = cJSON_AddObjectToObject(cap, "moe");
    cJSON_AddStringToObject(m, "model", "Qwen3-30B-A3B layer shapes");
    cJSON_AddNumberToObject(m, "hidden", HIDDEN);
    cJSON_AddNumberToObject(m, "expert_width", WIDTH);
    cJSON_AddNumberToObject(m, "experts", (double)p->experts);
    cJSON_AddNumberToObject(m, "top_k", TOPK);
    cJSON_AddNumberToObject(m, "bits", BITS);
    cJSON_AddNumberToObject(m, "group_size", GROUP);
    cJSON_AddStringToObject(m, "scale_dtype", zf_dtype_name(p->t));
    cJSON_AddNumberToObject(m, "expert_bytes", expert_bytes(p->t));
    cJSON_AddNumberToObject(m, "layers", p->layers);
    cJSON_AddStringToObject(m, "routing",
                            "balanced: a fixed random permutation of the experts, repeated, dealt top_k at a time to "
                            "the tokens of consecutive calls (norm_topk_prob on for the router)");
    cJSON_AddStringToObject(m, "bytes",
                            "weights (packed + scales + biases) of the experts a call touches, once, plus the "
                            "block's inputs and outputs; bandwidth fraction against the read-only stream");
}

int zf_gate_moe_run(const zf_gate_backend *be, const zf_gate_request *req, cJSON *cap, char *msg, size_t msg_size) {
    const moe_op *op = NULL;
    for (size_t i = 0; i < sizeof k_ops / sizeof *k_ops; i++)
        if (strcmp(req->op, k_ops[i].name) == 0) op = &k_ops[i];
    if (!op) {
        snprintf(msg, msg_size, "unknown fusion '%s' (expected gather_qmm_swiglu, gather_qmm_combine or moe)", req->op);
        return 2;
    }
    if (req->dtype != ZF_DTYPE_F32 && req->dtype != ZF_DTYPE_F16 && req->dtype != ZF_DTYPE_BF16) {
        snprintf(msg, msg_size, "dtype %s is not a float dtype (expected f32, f16 or bf16)", zf_dtype_name(req->dtype));
        return 2;
    }
    char fused_v[256], stock_v[256];
    if (path_names(op, be->device, ZF_FIDELITY_AUTO, fused_v, sizeof fused_v) ||
        path_names(op, be->device, ZF_FIDELITY_STOCK, stock_v, sizeof stock_v)) {
        snprintf(msg, msg_size, "%s", zf_last_error());
        return 1;
    }
    zf_gate_bw rd = {0};
    if (be->bandwidth(2, 0, req->quick, &rd, msg, msg_size) != 0) return 1;

    pool p = {.be = be, .t = req->dtype, .experts = req->quick ? QUICK_EXPERTS : EXPERTS};
    int32_t perm[EXPERTS];
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int e = 0; e < p.experts; e++) perm[e] = e;
    for (int e = (int)p.experts - 1; e > 0; e--) { /* Fisher-Yates */
        int j = (int)(next_rand(&rng) % (uint64_t)(e + 1)), tmp = perm[e];
        perm[e] = perm[j], perm[j] = tmp;
    }
    if (alloc_pool(&p, op, msg, msg_size) != 0) {
        free_pool(&p);
        return 1;
    }

    zf_gate_describe(cap, op->name, be, req, fused_v, stock_v, &rd, &rd); /* weights are only read */
    add_shapes(cap, &p);
    zf_gate_plan plan = zf_gate_plan_for(req->quick);
    zf_gate_add_method(cap, &plan,
                       "each call reads experts no call has read since every other expert of its layer (and of "
                       "the other layers, when one layer is under 4x the cache) was read");

    cJSON *rows = cJSON_AddArrayToObject(cap, "rows");
    const int *tokens = req->quick ? k_quick_tokens : k_tokens;
    int nt = req->quick ? 2 : 4, rc = 0;
    for (int i = 0; rc == 0 && i < nt; i++)
        rc = run_tokens(&p, op, tokens[i], perm, &plan, rd.gbps, rows, msg, msg_size) ? 1 : 0;
    free_pool(&p);
    if (rc == 0) zf_gate_verdict(cap, fused_v, stock_v);
    return rc;
}
