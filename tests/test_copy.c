/* zf_copy on the CPU: every dtype pair, contiguous and strided (the KV-cache
 * write's transposed view), 1 to 4 axes; each element equals the public RNE
 * conversion of its source; guards and untouched elements intact; bad
 * arguments fail with a message and write nothing. */
#include <stdint.h>
#include <string.h>

#include "harness.h"

static const zf_dtype k_dtypes[3] = {ZF_DTYPE_F32, ZF_DTYPE_F16, ZF_DTYPE_BF16};

/* x's element as out's dtype would store it, read back as f32 */
static float converted(zf_dtype to, float v) {
    switch (to) {
    case ZF_DTYPE_F16: return zf_f16_to_f32(zf_f32_to_f16(v));
    case ZF_DTYPE_BF16: return zf_bf16_to_f32(zf_f32_to_bf16(v));
    default: return v;
    }
}

static int same_bits(float a, float b) { return memcmp(&a, &b, 4) == 0 || (a != a && b != b); }

/* x [n, heads, d] into a view of a [heads, ctx, d] cache at position pos. */
static void test_cache_view(zf_dtype tx, zf_dtype to, int64_t n, int64_t heads, int64_t d, int64_t ctx, int64_t pos) {
    zt_buf x = zt_alloc(tx, n * heads * d), c = zt_alloc(to, heads * ctx * d), before = zt_alloc(to, heads * ctx * d);
    zt_fill(tx, x.p, n * heads * d, 30.0f);
    zt_poison(&c);
    memcpy(before.p, c.p, c.bytes);
    int64_t xs[3] = {n, heads, d};
    zf_tensor tx3 = zf_tensor_nd(x.p, tx, 3, xs), view = tx3;
    size_t eo = zf_dtype_size(to);
    view.data = (char *)c.p + (size_t)(pos * d) * eo;
    view.dtype = to;
    view.stride[0] = d;
    view.stride[1] = ctx * d;
    ZT_OK(zf_copy(&tx3, &view, NULL));
    int bad = 0;
    for (int64_t h = 0; h < heads; h++)
        for (int64_t p = 0; p < ctx; p++)
            for (int64_t e = 0; e < d; e++) {
                int64_t at = (h * ctx + p) * d + e;
                float got = zt_get(to, c.p, at);
                float want = p >= pos && p < pos + n ? converted(to, zt_get(tx, x.p, ((p - pos) * heads + h) * d + e))
                                                     : zt_get(to, before.p, at);
                bad += !same_bits(got, want);
            }
    ZT_CHECK(bad == 0, "copy %s -> %s, %lld rows x %lld heads x %lld into ctx %lld at %lld: %d elements differ",
             zf_dtype_name(tx), zf_dtype_name(to), (long long)n, (long long)heads, (long long)d, (long long)ctx,
             (long long)pos, bad);
    ZT_CHECK(zt_guards_ok(&c), "copy guards");
    zt_free(&x);
    zt_free(&c);
    zt_free(&before);
}

static void test_shapes(void) {
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            test_cache_view(k_dtypes[a], k_dtypes[b], 1, 3, 64, 9, 4);
            test_cache_view(k_dtypes[a], k_dtypes[b], 5, 2, 37, 11, 6);
            /* 1 and 4 axes: a row, and a 4-D block */
            int64_t n = 1 + (int64_t)(zt_rand() % 300), s4[4] = {2, 3, 2, 5};
            zt_buf x = zt_alloc(k_dtypes[a], 60 + n), y = zt_alloc(k_dtypes[b], 60 + n);
            zt_fill(k_dtypes[a], x.p, 60 + n, 1e3f);
            zf_tensor x1 = zf_tensor_1d(x.p, k_dtypes[a], n), y1 = zf_tensor_1d(y.p, k_dtypes[b], n);
            zf_tensor x4 = zf_tensor_nd(x.p, k_dtypes[a], 4, s4), y4 = zf_tensor_nd(y.p, k_dtypes[b], 4, s4);
            for (int k = 0; k < 2; k++) {
                zt_poison(&y);
                ZT_OK(zf_copy(k ? &x4 : &x1, k ? &y4 : &y1, NULL));
                int bad = 0;
                for (int64_t i = 0; i < (k ? 60 : n); i++)
                    bad += !same_bits(zt_get(k_dtypes[b], y.p, i), converted(k_dtypes[b], zt_get(k_dtypes[a], x.p, i)));
                ZT_CHECK(bad == 0, "copy %s -> %s, %d axes: %d differ", zf_dtype_name(k_dtypes[a]),
                         zf_dtype_name(k_dtypes[b]), k ? 4 : 1, bad);
            }
            ZT_CHECK(zt_guards_ok(&y), "copy guards");
            zt_free(&x);
            zt_free(&y);
        }
}

static void test_errors(void) {
    zt_buf x = zt_alloc(ZF_DTYPE_F32, 64), y = zt_alloc(ZF_DTYPE_F16, 64);
    zt_fill(ZF_DTYPE_F32, x.p, 64, 1.0f);
    zt_poison(&y);
    unsigned char before[128];
    memcpy(before, y.p, 128);
    zf_tensor tx = zf_tensor_2d(x.p, ZF_DTYPE_F32, 4, 16), ty = zf_tensor_2d(y.p, ZF_DTYPE_F16, 4, 16);
    zf_tensor bad = ty;
    bad.shape[1] = 15;
    ZT_CHECK(zf_copy(&tx, &bad, NULL) == ZF_ERR_SHAPE, "shape mismatch: %s", zf_last_error());
    bad = zf_tensor_1d(y.p, ZF_DTYPE_F16, 64);
    ZT_CHECK(zf_copy(&tx, &bad, NULL) == ZF_ERR_SHAPE, "axes mismatch: %s", zf_last_error());
    bad = ty;
    bad.dtype = ZF_DTYPE_I32;
    ZT_CHECK(zf_copy(&tx, &bad, NULL) == ZF_ERR_DTYPE, "i32 out: %s", zf_last_error());
    bad = tx;
    bad.data = (float *)x.p + 8;
    ZT_CHECK(zf_copy(&tx, &bad, NULL) == ZF_ERR_ALIAS, "overlap: %s", zf_last_error());
    /* an overlap of one element (the input's last is the output's first), and none (the next one) */
    zf_tensor head = zf_tensor_1d(x.p, ZF_DTYPE_F32, 4), tail = zf_tensor_1d((float *)x.p + 3, ZF_DTYPE_F32, 4);
    ZT_CHECK(zf_copy(&head, &tail, NULL) == ZF_ERR_ALIAS, "one element of overlap: %s", zf_last_error());
    ZT_CHECK(zf_copy(&tail, &head, NULL) == ZF_ERR_ALIAS, "one element of overlap (other way): %s", zf_last_error());
    tail.data = (float *)x.p + 4;
    ZT_OK(zf_copy(&head, &tail, NULL));
    bad = ty;
    bad.device = ZF_DEVICE_CUDA;
    ZT_CHECK(zf_copy(&tx, &bad, NULL) == ZF_ERR_INVALID_ARG, "devices differ: %s", zf_last_error());
    ZT_CHECK(strstr(zf_last_error(), "[copy]") != NULL, "message names the op: %s", zf_last_error());
    ZT_CHECK(memcmp(before, y.p, 128) == 0, "a failed copy wrote to out");
    zt_free(&x);
    zt_free(&y);
}

/* Host memory through the device API: aligned, and bad arguments refused
 * with the pointer untouched. */
static void test_device_alloc(void) {
    void *p = (void *)&p;
    ZT_CHECK(zf_device_alloc(ZF_DEVICE_CPU, 0, &p) == ZF_ERR_INVALID_ARG && p == (void *)&p, "0 bytes: %s",
             zf_last_error());
    ZT_CHECK(zf_device_alloc(ZF_DEVICE_CPU, 16, NULL) == ZF_ERR_INVALID_ARG, "NULL ptr accepted");
    ZT_CHECK(zf_device_alloc((zf_device)7, 16, &p) == ZF_ERR_INVALID_ARG && p == (void *)&p, "device 7: %s",
             zf_last_error());
    ZT_CHECK(zf_device_alloc(ZF_DEVICE_CPU, SIZE_MAX, &p) == ZF_ERR_NO_MEMORY && p == (void *)&p, "SIZE_MAX bytes");
    for (size_t bytes = 1; bytes <= 200; bytes += 67) {
        void *q = NULL;
        ZT_OK(zf_device_alloc(ZF_DEVICE_CPU, bytes, &q));
        ZT_CHECK(q && (uintptr_t)q % 64 == 0, "%zu bytes at %p: not 64-byte aligned", bytes, q);
        if (q) memset(q, 0xa5, bytes); /* the whole size is usable (ASan checks) */
        ZT_OK(zf_device_free(ZF_DEVICE_CPU, q));
    }
}

/* The graph API's argument checks come before any device is needed. */
static void test_graph_args(void) {
    zf_graph *g = NULL;
    ZT_CHECK(zf_graph_begin(NULL) == ZF_ERR_INVALID_ARG, "graph_begin on the default stream: %s", zf_last_error());
    ZT_CHECK(strstr(zf_last_error(), "default stream") != NULL, "message: %s", zf_last_error());
    ZT_CHECK(zf_graph_end(NULL, &g) == ZF_ERR_INVALID_ARG, "graph_end without a stream: %s", zf_last_error());
    ZT_CHECK(zf_graph_end((zf_stream *)&g, NULL) == ZF_ERR_INVALID_ARG, "graph_end without g: %s", zf_last_error());
    ZT_CHECK(zf_graph_cancel(NULL) == ZF_ERR_INVALID_ARG, "graph_cancel without a stream: %s", zf_last_error());
    ZT_CHECK(zf_graph_launch(NULL, NULL) == ZF_ERR_INVALID_ARG, "graph_launch of NULL: %s", zf_last_error());
    ZT_CHECK(zf_graph_destroy(NULL) == ZF_OK, "graph_destroy(NULL) is a no-op");
    ZT_CHECK(g == NULL, "a refused graph_end wrote *g");
}

int main(void) {
    zt_init("test_copy");
    test_shapes();
    test_errors();
    test_device_alloc();
    test_graph_args();
    return zt_finish();
}
