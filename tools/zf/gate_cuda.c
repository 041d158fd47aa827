/* The CUDA backend of zf gate: device buffers from the plugin, CUDA-event
 * timing on one stream, the L2 flushed by a memset before each timed batch,
 * and a device-to-device copy as the bandwidth roofline, in the same run.
 * Only the plugin's tables are used, so this file builds without CUDA. */
#include <stdlib.h>
#include <string.h>

#include "core/cuda_loader.h"
#include "gate.h"

static const zf_cuda_plugin *P;
static zf_stream *g_stream;
static void *g_flush_buf;
static size_t g_flush_bytes;

static int cuda_open(char *msg, size_t msg_size) {
    const char *why = "";
    P = zf_cuda_plugin_loaded(&why);
    if (!P || !P->ready) {
        snprintf(msg, msg_size, "%s", why);
        return -1;
    }
    if (!g_stream && zf_stream_create(&g_stream) != ZF_OK) {
        snprintf(msg, msg_size, "%s", zf_last_error());
        return -1;
    }
    g_flush_bytes = 2 * P->timing->l2_bytes();
    if (!g_flush_buf && g_flush_bytes && P->mem->alloc(g_flush_bytes, &g_flush_buf) != ZF_OK) {
        snprintf(msg, msg_size, "%s", zf_last_error());
        return -1;
    }
    return 0;
}

static size_t cuda_cache_bytes(void) { return P->timing->l2_bytes(); }

static void *cuda_alloc(size_t bytes) {
    void *p = NULL;
    return P->mem->alloc(bytes, &p) == ZF_OK ? p : NULL;
}

static void cuda_release(void *p) {
    if (p) P->mem->free(p);
}

/* The CPU gate's values (same generator), made on the host and copied over. */
static int cuda_fill(void *p, zf_dtype t, int64_t n, uint64_t seed) {
    size_t es = zf_dtype_size(t);
    char *h = malloc((size_t)n * es);
    if (!h || zf_gate_cpu.fill(h, t, n, seed) != 0) {
        free(h);
        return -1;
    }
    int rc = zf_memcpy(p, ZF_DEVICE_CUDA, h, ZF_DEVICE_CPU, (size_t)n * es, g_stream) == ZF_OK &&
                     zf_stream_synchronize(g_stream) == ZF_OK
                 ? 0
                 : -1;
    free(h);
    return rc;
}

/* Device-to-device copies of a buffer 4x the L2: bytes read + written per second. */
static int cuda_bandwidth(int reads, int writes, int quick, zf_gate_bw *out, char *msg, size_t msg_size) {
    (void)reads;
    (void)writes;
    size_t bytes = 4 * P->timing->l2_bytes();
    if (bytes < ((size_t)256 << 20)) bytes = (size_t)256 << 20;
    void *a = cuda_alloc(bytes), *b = cuda_alloc(bytes), *e0 = NULL, *e1 = NULL;
    int reps = quick ? 5 : 15, rc = -1;
    double gbps[16];
    if (!a || !b || P->timing->event_create(&e0) != ZF_OK || P->timing->event_create(&e1) != ZF_OK) {
        snprintf(msg, msg_size, "bandwidth probe: %s", zf_last_error());
        goto done;
    }
    P->mem->fill(a, 0x3c, bytes, g_stream);
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        float ms = 0;
        if (P->timing->event_record(e0, g_stream) != ZF_OK ||
            P->mem->copy(b, a, bytes, g_stream) != ZF_OK || P->timing->event_record(e1, g_stream) != ZF_OK ||
            P->timing->event_elapsed_ms(e0, e1, &ms) != ZF_OK) {
            snprintf(msg, msg_size, "bandwidth probe: %s", zf_last_error());
            goto done;
        }
        if (r >= 0) gbps[r] = 2.0 * (double)bytes / (ms * 1e-3) / 1e9;
    }
    for (int i = 1; i < reps; i++) /* insertion sort, few values */
        for (int j = i; j > 0 && gbps[j] < gbps[j - 1]; j--) { double t = gbps[j]; gbps[j] = gbps[j - 1]; gbps[j - 1] = t; }
    out->gbps = gbps[reps - 1];
    out->median_gbps = gbps[reps / 2];
    out->reps = reps;
    out->buffer_bytes = bytes;
    out->threads = 0;
    snprintf(out->pattern, sizeof out->pattern, "device-to-device cudaMemcpyAsync, read + write bytes");
    rc = 0;
done:
    if (e0) P->timing->event_destroy(e0);
    if (e1) P->timing->event_destroy(e1);
    cuda_release(a);
    cuda_release(b);
    return rc;
}

static zf_status cuda_time_calls(zf_gate_call_fn call, void *ctx, int n, int sets, double *seconds) {
    void *e0, *e1;
    zf_status st = P->timing->event_create(&e0);
    if (st != ZF_OK) return st;
    if ((st = P->timing->event_create(&e1)) != ZF_OK) { P->timing->event_destroy(e0); return st; }
    float ms = 0;
    st = P->timing->event_record(e0, g_stream);
    for (int i = 0; i < n && st == ZF_OK; i++) st = call(ctx, i % sets);
    if (st == ZF_OK) st = P->timing->event_record(e1, g_stream);
    if (st == ZF_OK) st = P->timing->event_elapsed_ms(e0, e1, &ms);
    *seconds = (double)ms * 1e-3;
    P->timing->event_destroy(e0);
    P->timing->event_destroy(e1);
    return st;
}

static zf_stream *cuda_stream(void) { return g_stream; }

/* A memset of twice the L2 before each batch: the batch starts from HBM. */
static void cuda_flush(void) {
    if (g_flush_buf) P->mem->fill(g_flush_buf, 0, g_flush_bytes, g_stream);
}

const zf_gate_backend zf_gate_cuda = {
    .name = "cuda",
    .device = ZF_DEVICE_CUDA,
    .open = cuda_open,
    .cache_bytes = cuda_cache_bytes,
    .alloc = cuda_alloc,
    .release = cuda_release,
    .fill = cuda_fill,
    .bandwidth = cuda_bandwidth,
    .time_calls = cuda_time_calls,
    .stream = cuda_stream,
    .flush = cuda_flush,
};
