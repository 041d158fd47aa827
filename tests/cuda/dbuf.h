/* Guarded device buffers for the CUDA tests: GUARD bytes of 0x7f on both
 * sides of every buffer (and the buffer itself poisoned with 0x7f), so a
 * kernel that writes out of bounds or leaves an output untouched is caught.
 * All copies run on zt_cuda_stream (NULL: the default stream); a test that
 * makes its own stream assigns it there. */
#ifndef ZT_CUDA_DBUF_H
#define ZT_CUDA_DBUF_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_loader.h"
#include "core/dtype.h"
#include "harness.h"
#include "zfast.h"

#define GUARD 64

static zf_stream *zt_cuda_stream;

/* A CUDA test's start: 77 (CTest's skip, with the reason) when there is no
 * usable device, else 0 with *quick set when ZF_TEST_QUICK is set and not
 * "0" (the shorter sweeps gpu-check's sanitizer runs use). */
static inline int zt_cuda_start(const char *name, int *quick) {
    zt_init(name);
    if (zf_cuda_available() != ZF_OK) {
        printf("%s: skipped: %s\n", name, zf_last_error());
        return 77;
    }
    const char *q = getenv("ZF_TEST_QUICK");
    *quick = q && *q && strcmp(q, "0") != 0;
    return 0;
}

typedef struct dbuf {
    char *base;
    void *p;
    size_t bytes;
} dbuf;

static inline dbuf dalloc(size_t bytes) {
    dbuf b = {NULL, NULL, bytes};
    if (zf_device_alloc(ZF_DEVICE_CUDA, bytes + 2 * GUARD, (void **)&b.base) != ZF_OK) {
        fprintf(stderr, "device alloc of %zu bytes failed: %s\n", bytes, zf_last_error());
        exit(1);
    }
    b.p = b.base + GUARD;
    zf_cuda_plugin_loaded(NULL)->mem->fill(b.base, 0x7f, bytes + 2 * GUARD, zt_cuda_stream);
    return b;
}
static inline void dfree(dbuf *b) { zf_device_free(ZF_DEVICE_CUDA, b->base); }
/* A new buffer holding a copy of h. */
static inline dbuf dbuf_of(const void *h, size_t bytes) {
    dbuf b = dalloc(bytes);
    ZT_OK(zf_memcpy(b.p, ZF_DEVICE_CUDA, h, ZF_DEVICE_CPU, bytes, zt_cuda_stream));
    return b;
}
static inline void down(void *h, const dbuf *b) {
    ZT_OK(zf_memcpy(h, ZF_DEVICE_CPU, b->p, ZF_DEVICE_CUDA, b->bytes, zt_cuda_stream));
    ZT_OK(zf_stream_synchronize(zt_cuda_stream));
}
static inline int guards_ok(const dbuf *b) {
    unsigned char g[2 * GUARD];
    zf_memcpy(g, ZF_DEVICE_CPU, b->base, ZF_DEVICE_CUDA, GUARD, zt_cuda_stream);
    zf_memcpy(g + GUARD, ZF_DEVICE_CPU, (char *)b->p + b->bytes, ZF_DEVICE_CUDA, GUARD, zt_cuda_stream);
    zf_stream_synchronize(zt_cuda_stream);
    for (int i = 0; i < 2 * GUARD; i++)
        if (g[i] != 0x7f) return 0;
    return 1;
}

/* index of the first element whose bits differ (NaN == NaN), or -1 */
static inline int64_t first_diff_nan(zf_dtype t, const void *a, const void *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float x = zt_get(t, a, i), y = zt_get(t, b, i);
        if (zf_f32_bits(x) != zf_f32_bits(y) && !(isnan(x) && isnan(y))) return i;
    }
    return -1;
}

#endif
