/* The CPU backend of zf gate: host buffers, wall-clock timing, and the
 * bandwidth probe of bandwidth.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bandwidth.h"
#include "gate.h"

static int cpu_open(char *msg, size_t msg_size) {
    (void)msg;
    (void)msg_size;
    return 0;
}

static size_t cpu_cache_bytes(void) { return zf_cpu_llc_bytes(); }

/* Buffers are staggered by a few cache lines (as independent allocations
 * usually are), so page-aligned operands do not all hit the same cache sets.
 * The allocation's start is kept just before the returned pointer. */
static void *cpu_alloc(size_t bytes) {
    static unsigned counter;
    size_t shift = 64 + (size_t)(__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED) % 16) * 1088;
    char *base = aligned_alloc(64, (bytes + shift + 63) / 64 * 64);
    if (!base) return NULL;
    char *p = base + shift;
    memcpy(p - sizeof base, &base, sizeof base);
    return p;
}

static void cpu_release(void *p) {
    if (!p) return;
    char *base;
    memcpy(&base, (char *)p - sizeof base, sizeof base);
    free(base);
}

static int cpu_fill(void *p, zf_dtype t, int64_t n, uint64_t seed) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        float v = (float)((s >> 40) & 0xffffff) / 16777216.0f * 8.0f - 4.0f; /* [-4, 4) */
        if (v == 0.0f) v = 0.5f;
        switch (t) {
        case ZF_DTYPE_F16: ((uint16_t *)p)[i] = zf_f32_to_f16(v); break;
        case ZF_DTYPE_BF16: ((uint16_t *)p)[i] = zf_f32_to_bf16(v); break;
        case ZF_DTYPE_F32: ((float *)p)[i] = v; break;
        default: return -1;
        }
    }
    return 0;
}

static int cpu_bandwidth(int reads, int writes, int quick, zf_gate_bw *out, char *msg, size_t msg_size) {
    return zf_cpu_bandwidth(reads, writes, 4 * zf_cpu_llc_bytes(), quick ? 3 : 7, out, msg, msg_size);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static zf_status cpu_time_calls(zf_gate_call_fn call, void *ctx, int n, int sets, double *seconds) {
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        zf_status s = call(ctx, i % sets);
        if (s != ZF_OK) return s;
    }
    *seconds = now_s() - t0;
    return ZF_OK;
}

static zf_stream *cpu_stream(void) { return NULL; }

const zf_gate_backend zf_gate_cpu = {
    .name = "cpu",
    .device = ZF_DEVICE_CPU,
    .open = cpu_open,
    .cache_bytes = cpu_cache_bytes,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .fill = cpu_fill,
    .bandwidth = cpu_bandwidth,
    .time_calls = cpu_time_calls,
    .stream = cpu_stream,
    .flush = NULL,
};
