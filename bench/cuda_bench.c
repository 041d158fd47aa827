/* CUDA benchmark: the device copy bandwidth, the gate shapes (bf16 swiglu
 * [16384, 14336], add_rms_norm [16384, 4096]) per fidelity with CUDA events,
 * and decode sizes (1 row, widths 2048 .. 14336): per-call time of a
 * 100-call CUDA graph per op. Prints a table; --json FILE writes one JSON
 * object per line. --quick shrinks the large shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_common.h"

static FILE *J;

/* Pseudo-random values in [-4, 4), never zero, written on the host and copied. */
static void *device_random(zf_dtype t, int64_t n, uint64_t seed) {
    size_t es = zf_dtype_size(t);
    char *h = malloc((size_t)n * es);
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        float v = (float)((s >> 40) & 0xffffff) / 16777216.0f * 8.0f - 4.0f;
        if (v == 0.0f) v = 0.5f;
        if (t == ZF_DTYPE_F32) ((float *)h)[i] = v;
        else ((uint16_t *)h)[i] = t == ZF_DTYPE_F16 ? zf_f32_to_f16(v) : zf_f32_to_bf16(v);
    }
    void *d;
    CHECK(zf_device_alloc(ZF_DEVICE_CUDA, (size_t)n * es, &d));
    CHECK(zf_memcpy(d, ZF_DEVICE_CUDA, h, ZF_DEVICE_CPU, (size_t)n * es, S));
    CHECK(zf_stream_synchronize(S));
    free(h);
    return d;
}

/* ---- copy bandwidth ------------------------------------------------------ */

static double copy_bandwidth(size_t bytes) {
    float med, best;
    double gbps = bench_copy_gbps(bytes, &med, &best);
    printf("| device copy (cudaMemcpyAsync D2D, read + write) | %zu MiB | %.3f ms | %.0f GB/s |\n", bytes >> 20, med,
           gbps);
    if (J) fprintf(J, "{\"kind\":\"copy\",\"bytes\":%zu,\"median_ms\":%.5f,\"best_ms\":%.5f,\"gbps\":%.1f}\n", bytes, med,
                   best, gbps);
    return gbps;
}

/* ---- ops --------------------------------------------------------------------- */

typedef enum { OP_SWIGLU, OP_ADD_RMS_NORM, OP_RMS_NORM, OP_ADD, OP_MUL, OP_SILU } bench_op;
static const char *const k_names[] = {"swiglu", "add_rms_norm", "rms_norm", "add", "mul", "silu"};

typedef struct op_ctx {
    bench_op op;
    zf_tensor a, b, w, y, h;
    zf_opts o;
} op_ctx;

static zf_status do_op(void *c) {
    op_ctx *x = c;
    switch (x->op) {
    case OP_SWIGLU: return zf_swiglu(&x->a, &x->b, &x->y, &x->o);
    case OP_ADD_RMS_NORM: return zf_add_rms_norm(&x->a, &x->b, &x->w, 1e-6f, &x->y, &x->h, &x->o);
    case OP_RMS_NORM: return zf_rms_norm(&x->a, &x->w, 1e-6f, &x->y, &x->o);
    case OP_ADD: return zf_add(&x->a, &x->b, &x->y, &x->o);
    case OP_MUL: return zf_mul(&x->a, &x->b, &x->y, &x->o);
    default: return zf_silu(&x->a, &x->y, &x->o);
    }
}

/* Bytes each op must move: inputs read once, outputs written once. */
static double op_bytes(bench_op op, int64_t rows, int64_t n, size_t es) {
    double e = (double)(rows * n) * (double)es;
    switch (op) {
    case OP_ADD_RMS_NORM: return 4 * e + (double)n * (double)es;
    case OP_RMS_NORM: return 2 * e + (double)n * (double)es;
    case OP_SILU: return 2 * e;
    default: return 3 * e;
    }
}

static op_ctx make_ctx(bench_op op, zf_dtype t, int64_t rows, int64_t n, zf_fidelity f) {
    op_ctx c;
    memset(&c, 0, sizeof c);
    c.op = op;
    int64_t shape[2] = {rows, n};
    zf_tensor v = zf_tensor_nd(NULL, t, 2, shape), w = zf_tensor_1d(NULL, t, n);
    v.device = w.device = ZF_DEVICE_CUDA;
    c.a = c.b = c.y = c.h = v;
    c.w = w;
    c.a.data = device_random(t, rows * n, 1);
    c.b.data = device_random(t, rows * n, 2);
    c.w.data = device_random(t, n, 3);
    CHECK(zf_device_alloc(ZF_DEVICE_CUDA, (size_t)(rows * n) * zf_dtype_size(t), &c.y.data));
    CHECK(zf_device_alloc(ZF_DEVICE_CUDA, (size_t)(rows * n) * zf_dtype_size(t), &c.h.data));
    c.o.fidelity = f;
    c.o.stream = S;
    return c;
}

static void free_ctx(op_ctx *c) {
    void *p[] = {c->a.data, c->b.data, c->w.data, c->y.data, c->h.data};
    for (int i = 0; i < 5; i++) zf_device_free(ZF_DEVICE_CUDA, p[i]);
}

static void large(bench_op op, zf_dtype t, int64_t rows, int64_t n, double copy_gbps) {
    static const zf_fidelity fids[] = {ZF_FIDELITY_STOCK, ZF_FIDELITY_EXACT, ZF_FIDELITY_FAST};
    op_ctx c = make_ctx(op, t, rows, n, ZF_FIDELITY_STOCK);
    double bytes = op_bytes(op, rows, n, zf_dtype_size(t));
    for (int i = 0; i < 3; i++) {
        c.o.fidelity = fids[i];
        float med, best;
        bench_time(do_op, &c, 3, 15, 1, &med, &best);
        double tbps = bytes / (med * 1e-3) / 1e12;
        printf("| %s %s %s [%lld, %lld] | %.1f MB | %.4f ms (best %.4f) | %.3f TB/s effective, %.0f%% of copy |\n",
               k_names[op], zf_fidelity_name(fids[i]), zf_dtype_name(t), (long long)rows, (long long)n, bytes / 1e6,
               med, best, tbps, 100.0 * tbps * 1e3 / copy_gbps);
        if (J)
            fprintf(J,
                    "{\"kind\":\"large\",\"op\":\"%s\",\"fidelity\":\"%s\",\"dtype\":\"%s\",\"rows\":%lld,\"n\":%lld,"
                    "\"bytes\":%.0f,\"median_ms\":%.5f,\"best_ms\":%.5f,\"tbps\":%.4f}\n",
                    k_names[op], zf_fidelity_name(fids[i]), zf_dtype_name(t), (long long)rows, (long long)n, bytes, med,
                    best, tbps);
    }
    free_ctx(&c);
}

/* 100 calls captured in one graph; per-call time of its replays. */
static void decode(bench_op op, zf_dtype t, int64_t n) {
    op_ctx c = make_ctx(op, t, 1, n, ZF_FIDELITY_EXACT);
    CHECK(do_op(&c)); /* self-tests run outside the capture */
    CHECK(zf_stream_synchronize(S));
    void *g;
    CHECK(P->timing->capture_begin(S));
    for (int i = 0; i < 100; i++) CHECK(do_op(&c));
    CHECK(P->timing->capture_end(S, &g));
    float med, best;
    bench_time(bench_graph_launch, g, 3, 21, 1, &med, &best);
    double us = med * 1e3 / 100.0;
    printf("| decode %s %s [1, %lld] | 100-call graph | %.3f us/call (best %.3f) |\n", k_names[op], zf_dtype_name(t),
           (long long)n, us, best * 1e3 / 100.0);
    if (J)
        fprintf(J, "{\"kind\":\"decode\",\"op\":\"%s\",\"dtype\":\"%s\",\"n\":%lld,\"us_per_call\":%.4f,\"best_us\":%.4f}\n",
                k_names[op], zf_dtype_name(t), (long long)n, us, best * 1e3 / 100.0);
    P->timing->graph_destroy(g);
    free_ctx(&c);
}

int main(int argc, char **argv) {
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) J = fopen(argv[++i], "w");
        else {
            fprintf(stderr, "usage: zf_cuda_bench [--quick] [--json FILE]\n");
            return 2;
        }
    }
    bench_start("cuda_bench");
    char desc[2048] = "";
    P->describe_json(desc, sizeof desc);
    printf("device: %s\n\n| what | size | time | rate |\n|---|---|---|---|\n", desc);
    if (J) fprintf(J, "{\"kind\":\"device\",\"describe\":%s}\n", desc);
    double gbps = copy_bandwidth(quick ? (size_t)256 << 20 : (size_t)1 << 30);
    large(OP_SWIGLU, ZF_DTYPE_BF16, quick ? 2048 : 16384, 14336, gbps);
    large(OP_ADD_RMS_NORM, ZF_DTYPE_BF16, quick ? 2048 : 16384, 4096, gbps);
    static const int64_t widths[] = {2048, 4096, 8192, 14336};
    for (int op = OP_SWIGLU; op <= OP_SILU; op++)
        for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) decode((bench_op)op, ZF_DTYPE_BF16, widths[i]);
    if (J) fclose(J);
    zf_stream_destroy(S);
    return 0;
}
