/* The CUDA benchmarks' shared plumbing (cuda_common.h). */
#include "cuda_common.h"

#include <stdio.h>
#include <stdlib.h>

const zf_cuda_plugin *P;
zf_stream *S;
static const char *g_prog = "bench";

void bench_fail(const char *expr) {
    fprintf(stderr, "%s: %s failed: %s\n", g_prog, expr, zf_last_error());
    exit(1);
}

void bench_start(const char *prog) {
    g_prog = prog;
    if (zf_cuda_available() != ZF_OK) {
        fprintf(stderr, "%s: %s\n", prog, zf_last_error());
        exit(77);
    }
    P = zf_cuda_plugin_loaded(NULL);
    CHECK(zf_stream_create(&S));
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void bench_time(bench_call_fn f, void *ctx, int warm, int reps, int calls, float *median, float *best) {
    void *a, *b;
    float ms[64];
    if (reps > 64) reps = 64;
    CHECK(P->timing->event_create(&a));
    CHECK(P->timing->event_create(&b));
    for (int i = 0; i < warm; i++) CHECK(f(ctx));
    for (int r = 0; r < reps; r++) {
        CHECK(P->timing->event_record(a, S));
        for (int i = 0; i < calls; i++) CHECK(f(ctx));
        CHECK(P->timing->event_record(b, S));
        CHECK(P->timing->event_elapsed_ms(a, b, &ms[r]));
        ms[r] /= (float)calls;
    }
    qsort(ms, (size_t)reps, sizeof *ms, cmp_float);
    *median = ms[reps / 2];
    *best = ms[0];
    P->timing->event_destroy(a);
    P->timing->event_destroy(b);
}

zf_status bench_graph_launch(void *graph) { return P->timing->graph_launch(graph, S); }

typedef struct copy_ctx {
    void *dst, *src;
    size_t bytes;
} copy_ctx;

static zf_status do_copy(void *c) {
    copy_ctx *x = c;
    return zf_memcpy(x->dst, ZF_DEVICE_CUDA, x->src, ZF_DEVICE_CUDA, x->bytes, S);
}

double bench_copy_gbps(size_t bytes, float *median_ms, float *best_ms) {
    copy_ctx c = {NULL, NULL, bytes};
    CHECK(zf_device_alloc(ZF_DEVICE_CUDA, bytes, &c.dst));
    CHECK(zf_device_alloc(ZF_DEVICE_CUDA, bytes, &c.src));
    CHECK(P->mem->fill(c.src, 0x3c, bytes, S));
    bench_time(do_copy, &c, 3, 15, 1, median_ms, best_ms);
    zf_device_free(ZF_DEVICE_CUDA, c.dst);
    zf_device_free(ZF_DEVICE_CUDA, c.src);
    return 2.0 * (double)bytes / (*median_ms * 1e-3) / 1e9;
}
