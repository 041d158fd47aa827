/* Self-tests of the CUDA model ops: the dispatcher and the operand helpers
 * each op's test uses (the tests live beside their kernels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/model_ops.cuh"

extern "C" {
#include "core/dtype.h"
}

static uint64_t st_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The plugin links nothing of libzfast: its own contiguous tensor view. */
static zf_tensor st_tensor(zf_dtype t, int ndim, const int64_t *shape) {
    zf_tensor x = {};
    x.dtype = t;
    x.device = ZF_DEVICE_CPU;
    x.ndim = ndim;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        x.shape[i] = shape[i];
        x.stride[i] = s;
        s *= shape[i];
    }
    return x;
}

static int64_t st_numel(const zf_tensor *x) {
    int64_t n = 1;
    for (int i = 0; i < x->ndim; i++) n *= x->shape[i];
    return n;
}

int zf_cu_st_make(zf_cu_st_buf *b, zf_dtype t, int ndim, const int64_t *shape, float scale, uint64_t *rng,
                  char *msg, size_t size) {
    memset(b, 0, sizeof *b);
    b->host = st_tensor(t, ndim, shape);
    int64_t n = st_numel(&b->host);
    b->bytes = (size_t)n * zf_cu_dtype_size(t);
    b->host.data = malloc(b->bytes);
    cudaError_t e = cudaMalloc(&b->dev.data, b->bytes);
    if (!b->host.data || e != cudaSuccess) {
        snprintf(msg, size, "no memory for a %zu-byte operand", b->bytes);
        return 1;
    }
    void *dev = b->dev.data;
    b->dev = b->host;
    b->dev.data = dev;
    b->dev.device = ZF_DEVICE_CUDA;
    if (scale == 0.0f) {
        memset(b->host.data, 0x7f, b->bytes);
    } else if (t == ZF_DTYPE_I32) {
        for (int64_t i = 0; i < n; i++) ((int32_t *)b->host.data)[i] = (int32_t)(st_next(rng) % (uint64_t)scale);
    } else {
        for (int64_t i = 0; i < n; i++) {
            uint64_t r = st_next(rng);
            float u = (float)((r >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
            float v = (r & 31) == 0 ? u * 1e-6f : u * scale;
            zf_store(t, b->host.data, i, v);
        }
    }
    e = cudaMemcpy(dev, b->host.data, b->bytes, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) {
        snprintf(msg, size, "upload: %s", cudaGetErrorName(e));
        return 1;
    }
    return 0;
}

int zf_cu_st_compare(const zf_cu_st_buf *b, const char *what, char *msg, size_t size) {
    void *got = malloc(b->bytes);
    if (!got) {
        snprintf(msg, size, "no memory");
        return 1;
    }
    /* the variant ran on the legacy stream: wait for that one only, since a
     * self-test may run while the caller's stream is being recorded (a
     * device-wide wait is refused then, and the recording invalidated) */
    cudaError_t e = cudaStreamSynchronize(0);
    if (e == cudaSuccess) e = cudaMemcpy(got, b->dev.data, b->bytes, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) {
        snprintf(msg, size, "%s: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
        free(got);
        return 1;
    }
    int64_t n = st_numel(&b->host);
    zf_dtype t = b->host.dtype;
    int fail = 0;
    for (int64_t i = 0; i < n && !fail; i++) {
        float x = zf_load(t, got, i), y = zf_load(t, b->host.data, i);
        if (zf_f32_bits(x) != zf_f32_bits(y) && !(x != x && y != y)) {
            snprintf(msg, size, "%s %s [%lld]: cuda %.9g, cpu %.9g (bits differ)", what, zf_cu_dtype_name(t),
                     (long long)i, x, y);
            fail = 1;
        }
    }
    free(got);
    return fail;
}

void zf_cu_st_free(zf_cu_st_buf *b) {
    free(b->host.data);
    cudaFree(b->dev.data);
    memset(b, 0, sizeof *b);
}

int zf_cu_selftest_model(const zf_variant *v, char *msg, size_t msg_size) {
    switch (v->op) {
    case ZF_OP_COPY: return zf_cu_selftest_copy(v, msg, msg_size);
    case ZF_OP_EMBEDDING: return zf_cu_selftest_embedding(v, msg, msg_size);
    case ZF_OP_ROPE: return zf_cu_selftest_rope(v, msg, msg_size);
    case ZF_OP_SOFTMAX: return zf_cu_selftest_softmax(v, msg, msg_size);
    case ZF_OP_ATTENTION: return zf_cu_selftest_attention(v, msg, msg_size);
    case ZF_OP_ATTENTION_DECODE: return zf_cu_selftest_attention_decode(v, msg, msg_size);
    case ZF_OP_MATMUL: return zf_cu_selftest_matmul(v, msg, msg_size);
    default: snprintf(msg, msg_size, "no self-test for this op"); return 1;
    }
}
