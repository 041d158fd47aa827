/* CUDA MoE benchmark on Qwen3-30B-A3B layer shapes (hidden 2048, expert
 * width 768, 128 experts, top-8, 4-bit group 64, bf16): per-call time of
 * 100-call CUDA graphs for gather_qmm_swiglu, gather_qmm_combine and the
 * MoE block (router + both, as separate calls and as zf_moe_experts),
 * exact, approx (the edge tier's int8 kernels)
 * and stock, and the router alone (bytes:
 * its bf16 logits), at 1, 4, 16 and 64 tokens.
 * Weights rotate over L layers (L x 3 x 128 experts, far beyond the L2) and
 * each call of a graph uses the next layer, so every call reads from HBM.
 * Bytes = packed words + scales + biases of the distinct experts a call
 * touches; the roofline is a device-to-device copy measured in the same run.
 * Prints a table; --json FILE writes one JSON object per line; --tokens N
 * runs one of the token counts alone (e.g. under a profiler); --layers N
 * rotates over N layers instead (1: the weights stay in L2, which shows the
 * kernels' time without HBM). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_common.h"

#define H 2048
#define F 768
#define E 128
#define K 8
#define BITS 4
#define GS 64
#define LAYERS 8
#define CALLS 100

static FILE *J;

static uint64_t g_rng = 0x853c49e6748fea9bull;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static void *dev_bytes(size_t bytes, int bf16_values) {
    char *h = malloc(bytes);
    for (size_t i = 0; i < bytes / 2; i++)
        ((uint16_t *)h)[i] = bf16_values ? zf_f32_to_bf16((float)((rnd() >> 40) & 0xffffff) / 16777216.0f - 0.5f)
                                         : (uint16_t)rnd();
    void *d;
    CHECK(zf_device_alloc(ZF_DEVICE_CUDA, bytes, &d));
    CHECK(zf_memcpy(d, ZF_DEVICE_CUDA, h, ZF_DEVICE_CPU, bytes, S));
    CHECK(zf_stream_synchronize(S));
    free(h);
    return d;
}

/* Experts x [n, k] at 4 bits, bf16 scales (small) and biases. */
static zf_qweight qweight(int64_t n, int64_t k) {
    zf_qweight w = {0};
    w.packed = dev_bytes((size_t)(E * n * k / 2), 0);
    w.scales = dev_bytes((size_t)(E * n * (k / GS)) * 2, 1);
    w.biases = dev_bytes((size_t)(E * n * (k / GS)) * 2, 1);
    w.scale_dtype = ZF_DTYPE_BF16;
    w.bits = BITS;
    w.group_size = GS;
    w.experts = E;
    w.n = n;
    w.k = k;
    w.device = ZF_DEVICE_CUDA;
    return w;
}
static double expert_bytes(int64_t n, int64_t k) { return (double)n * (double)k / 2 + (double)n * (double)(k / GS) * 4; }

typedef struct layer {
    zf_qweight wg, wu, wd;
    zf_tensor logits, ids, weights;
    int distinct; /* experts the router picks for the bench's tokens */
} layer;

static layer g_layers[LAYERS];
static int g_nlayers = LAYERS; /* layers the calls rotate over (--layers: 1 keeps a layer in L2) */
static zf_tensor g_x, g_act, g_y;

/* B_BLOCK: the router and the two fused ops as separate calls; B_EXPERTS:
 * the router, then zf_moe_experts (the same two ops in one call) */
typedef enum { B_SWIGLU, B_COMBINE, B_BLOCK, B_EXPERTS, B_ROUTE } what;
static const char *const k_what[] = {"gather_qmm_swiglu", "gather_qmm_combine", "moe block (router + both)",
                                     "moe block (router + moe_experts)", "moe_route"};

static zf_status call(what w, int l, int64_t m, zf_fidelity f) {
    layer *L = &g_layers[l];
    zf_opts o = {f, S};
    zf_tensor x = g_x, ids = L->ids, wts = L->weights, act = g_act, y = g_y, lg = L->logits;
    x.shape[0] = ids.shape[0] = wts.shape[0] = act.shape[0] = y.shape[0] = lg.shape[0] = m;
    if (w == B_BLOCK || w == B_EXPERTS || w == B_ROUTE) CHECK(zf_moe_route(&lg, K, 1, &ids, &wts, &o));
    if (w == B_ROUTE) return ZF_OK;
    if (w == B_EXPERTS) {
        CHECK(zf_moe_experts(&x, &L->wg, &L->wu, &L->wd, &ids, &wts, &act, &y, &o));
        return ZF_OK;
    }
    if (w != B_COMBINE) CHECK(zf_gather_qmm_swiglu(&x, &L->wg, &L->wu, &ids, &act, &o));
    if (w != B_SWIGLU) CHECK(zf_gather_qmm_combine(&act, &L->wd, &ids, &wts, &y, &o));
    return ZF_OK;
}

/* Median us per call of a 100-call graph (call i on layer i % g_nlayers). */
static double graph_us(what w, int64_t m, zf_fidelity f) {
    for (int l = 0; l < g_nlayers; l++) call(w, l, m, f); /* self-tests and scratch pools outside the capture */
    CHECK(zf_stream_synchronize(S));
    void *g;
    CHECK(P->timing->capture_begin(S));
    for (int i = 0; i < CALLS; i++) call(w, i % g_nlayers, m, f);
    CHECK(P->timing->capture_end(S, &g));
    float med, best;
    bench_time(bench_graph_launch, g, 2, 15, 1, &med, &best);
    P->timing->graph_destroy(g);
    return med * 1e3 / CALLS;
}

/* Routes every layer once for m tokens and counts the distinct experts. */
static void count_experts(int64_t m) {
    int32_t *ids = malloc((size_t)(m * K) * 4);
    for (int l = 0; l < LAYERS; l++) {
        layer *L = &g_layers[l];
        zf_tensor lg = L->logits, id = L->ids, w = L->weights;
        lg.shape[0] = id.shape[0] = w.shape[0] = m;
        zf_opts o = {ZF_FIDELITY_AUTO, S};
        CHECK(zf_moe_route(&lg, K, 1, &id, &w, &o));
        CHECK(zf_memcpy(ids, ZF_DEVICE_CPU, id.data, ZF_DEVICE_CUDA, (size_t)(m * K) * 4, S));
        CHECK(zf_stream_synchronize(S));
        char seen[E] = {0};
        L->distinct = 0;
        for (int64_t i = 0; i < m * K; i++)
            if (!seen[ids[i]]) seen[ids[i]] = 1, L->distinct++;
    }
    free(ids);
}

int main(int argc, char **argv) {
    int64_t only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) J = fopen(argv[++i], "w");
        else if (strcmp(argv[i], "--layers") == 0 && i + 1 < argc && (g_nlayers = atoi(argv[++i])) >= 1 &&
                 g_nlayers <= LAYERS)
            continue;
        else if (strcmp(argv[i], "--tokens") == 0 && i + 1 < argc && ((only = atoll(argv[++i])) == 1 || only == 4 ||
                                                                       only == 16 || only == 64))
            continue;
        else {
            fprintf(stderr, "usage: zf_cuda_moe_bench [--json FILE] [--tokens 1|4|16|64] [--layers 1..%d]\n", LAYERS);
            return 2;
        }
    }
    bench_start("cuda_moe_bench");
    const int64_t MMAX = 64;
    for (int l = 0; l < LAYERS; l++) {
        layer *L = &g_layers[l];
        L->wg = qweight(F, H);
        L->wu = qweight(F, H);
        L->wd = qweight(H, F);
        L->logits = zf_tensor_2d(dev_bytes((size_t)(MMAX * E) * 2, 1), ZF_DTYPE_BF16, MMAX, E);
        L->ids = zf_tensor_2d(NULL, ZF_DTYPE_I32, MMAX, K);
        L->weights = zf_tensor_2d(NULL, ZF_DTYPE_BF16, MMAX, K);
        CHECK(zf_device_alloc(ZF_DEVICE_CUDA, (size_t)(MMAX * K) * 4, &L->ids.data));
        CHECK(zf_device_alloc(ZF_DEVICE_CUDA, (size_t)(MMAX * K) * 2, &L->weights.data));
        L->logits.device = L->ids.device = L->weights.device = ZF_DEVICE_CUDA;
    }
    int64_t a3[3] = {MMAX, K, F};
    g_x = zf_tensor_2d(dev_bytes((size_t)(MMAX * H) * 2, 1), ZF_DTYPE_BF16, MMAX, H);
    g_act = zf_tensor_nd(dev_bytes((size_t)(MMAX * K * F) * 2, 1), ZF_DTYPE_BF16, 3, a3);
    g_y = zf_tensor_2d(NULL, ZF_DTYPE_BF16, MMAX, H);
    CHECK(zf_device_alloc(ZF_DEVICE_CUDA, (size_t)(MMAX * H) * 2, &g_y.data));
    g_x.device = g_act.device = g_y.device = ZF_DEVICE_CUDA;

    char desc[2048] = "";
    P->describe_json(desc, sizeof desc);
    float copy_ms, copy_best;
    double gbps = bench_copy_gbps((size_t)1 << 30, &copy_ms, &copy_best);
    printf("device: %s\ncopy bandwidth (D2D, read + write): %.0f GB/s; weights rotate over %d layers (%.1f GB)\n\n",
           desc, gbps, g_nlayers, g_nlayers * 3 * E * expert_bytes(F, H) / 1e9);
    printf("| what | fidelity | tokens | experts | weight MB | us/call | GB/s | of copy bw | x read-once time |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    if (J) fprintf(J, "{\"kind\":\"device\",\"describe\":%s,\"copy_gbps\":%.1f}\n", desc, gbps);
    static const int64_t tokens[] = {1, 4, 16, 64};
    const zf_fidelity fids[3] = {ZF_FIDELITY_EXACT, ZF_FIDELITY_APPROX, ZF_FIDELITY_STOCK};
    for (size_t ti = 0; ti < sizeof tokens / sizeof *tokens; ti++) {
        int64_t m = tokens[ti];
        if (only && m != only) continue;
        count_experts(m);
        double distinct = 0;
        for (int l = 0; l < LAYERS; l++) distinct += g_layers[l].distinct;
        distinct /= LAYERS;
        for (int w = B_SWIGLU; w <= B_ROUTE; w++)
            for (int fi = 0; fi < (w == B_ROUTE ? 1 : 3); fi++) {
                double bytes = w == B_ROUTE ? (double)m * E * 2
                               : distinct * (w == B_COMBINE ? expert_bytes(H, F)
                                             : w == B_SWIGLU ? 2 * expert_bytes(F, H)
                                                             : 2 * expert_bytes(F, H) + expert_bytes(H, F));
                double us = graph_us((what)w, m, fids[fi]);
                double rate = bytes / (us * 1e-6) / 1e9;
                printf("| %s | %s | %lld | %.1f | %.2f | %.2f | %.0f | %.0f%% | %.2fx |\n", k_what[w],
                       zf_fidelity_name(fids[fi]), (long long)m, distinct, bytes / 1e6, us, rate, 100 * rate / gbps,
                       us / (bytes / (gbps * 1e3)));
                if (J)
                    fprintf(J,
                            "{\"kind\":\"moe\",\"what\":\"%s\",\"fidelity\":\"%s\",\"tokens\":%lld,\"experts\":%.2f,"
                            "\"bytes\":%.0f,\"us_per_call\":%.3f,\"gbps\":%.1f}\n",
                            k_what[w], zf_fidelity_name(fids[fi]), (long long)m, distinct, bytes, us, rate);
            }
    }
    if (J) fclose(J);
    return 0;
}
