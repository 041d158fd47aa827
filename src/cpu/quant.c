/* MLX affine quantization on the CPU: quantize (MLX's CPU rule, bit for bit)
 * and dequantize (MLX's rounding points: T(T(scale * q) + bias) in the
 * scales' dtype). */
#include "cpu/quant.h"

#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"

zf_status zf_check_qweight(const char *op, const char *arg, const zf_qweight *w) {
    ZF_TRY(zf_check_qlayout(op, arg, w));
    if (w->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[%s] %s is on a device with no backend loaded here", op, arg);
    return ZF_OK;
}

/* w viewed as experts * n rows of k, matching q. */
static zf_status check_dense(const char *op, const zf_tensor *w, const zf_qweight *q, zf_rows *r) {
    ZF_TRY(zf_check_float(op, "w", w));
    if (w->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[%s] w is on a device with no backend loaded here", op);
    ZF_TRY(zf_as_rows(op, "w", w, r));
    if (r->cols != q->k || r->rows != q->experts * q->n)
        return zf_error(ZF_ERR_SHAPE, "[%s] w has %lld rows of %lld; q describes %lld x %lld rows of %lld", op,
                        (long long)r->rows, (long long)r->cols, (long long)q->experts, (long long)q->n,
                        (long long)q->k);
    return ZF_OK;
}

/* rint (ties to even) without libm: adding and removing 2^23 rounds |x| <
 * 2^23 to an integer in the current (nearest-even) mode; larger |x| already
 * are integers. */
static float rint_even(float x) {
    float a = fabsf(x);
    if (!(a < 0x1p23f)) return x;
    float r = (a + 0x1p23f) - 0x1p23f;
    return x < 0.0f ? -r : r;
}

/* One group, MLX's CPU rule, all in f32 (docs/NUMERICS.md §8.1). */
static void quantize_group(const float *v, int gs, int bits, float *scale_out, float *bias_out, uint32_t *q) {
    float wmax = v[0], wmin = v[0];
    for (int i = 1; i < gs; i++) {
        wmax = v[i] > wmax ? v[i] : wmax;
        wmin = v[i] < wmin ? v[i] : wmin;
    }
    float nq = (float)((1 << bits) - 1);
    float scale = (wmax - wmin) / nq;
    scale = scale > 1e-7f ? scale : 1e-7f;
    int side = fabsf(wmin) > fabsf(wmax);
    if (!side) scale = -scale;
    float edge = side ? wmin : wmax;
    float q0 = rint_even(edge / scale);
    float bias = 0.0f;
    if (q0 != 0.0f) {
        scale = edge / q0; /* the larger-magnitude edge is then exact */
        bias = edge;
    }
    for (int i = 0; i < gs; i++) {
        float r = rint_even((v[i] - bias) / scale);
        r = r < 0.0f ? 0.0f : (r > nq ? nq : r);
        q[i] = (uint32_t)r;
    }
    *scale_out = scale;
    *bias_out = bias;
}

static void put_bits(uint32_t *row, int bits, int64_t i, uint32_t v) {
    int64_t bit = i * bits, wi = bit >> 5;
    int sh = (int)(bit & 31);
    row[wi] |= v << sh;
    if (sh + bits > 32) row[wi + 1] |= v >> (32 - sh);
}

zf_status zf_cpu_quantize(const zf_tensor *w, zf_qweight *q) {
    ZF_TRY(zf_check_qweight("quantize", "q", q));
    zf_rows r;
    ZF_TRY(check_dense("quantize", w, q, &r));
    int gs = q->group_size, bits = q->bits;
    int64_t words = zf_q_words(q), groups = zf_q_groups(q);
    uint32_t *packed = (uint32_t *)q->packed; /* the caller's output buffers */
    void *scales = (void *)q->scales, *biases = (void *)q->biases;
    float v[128];
    uint32_t qv[128];
    for (int64_t row = 0; row < r.rows; row++) {
        const char *src = (const char *)r.data + (size_t)(row * r.row_stride) * zf_dtype_size(w->dtype);
        uint32_t *dst = packed + row * words;
        memset(dst, 0, (size_t)words * 4);
        for (int64_t g = 0; g < groups; g++) {
            for (int i = 0; i < gs; i++) v[i] = zf_load(w->dtype, src, g * gs + i);
            float s, b;
            quantize_group(v, gs, bits, &s, &b, qv);
            for (int i = 0; i < gs; i++) put_bits(dst, bits, g * gs + i, qv[i]);
            zf_store(q->scale_dtype, scales, row * groups + g, s);
            zf_store(q->scale_dtype, biases, row * groups + g, b);
        }
    }
    return ZF_OK;
}

zf_status zf_cpu_dequantize(const zf_qweight *q, zf_tensor *w) {
    ZF_TRY(zf_check_qweight("dequantize", "q", q));
    zf_rows r;
    ZF_TRY(check_dense("dequantize", w, q, &r));
    zf_dtype st = q->scale_dtype;
    int64_t words = zf_q_words(q), groups = zf_q_groups(q);
    for (int64_t row = 0; row < r.rows; row++) {
        char *dst = (char *)r.data + (size_t)(row * r.row_stride) * zf_dtype_size(w->dtype);
        const uint32_t *src = q->packed + row * words;
        for (int64_t i = 0; i < q->k; i++) {
            int64_t g = row * groups + i / q->group_size;
            float s = zf_load(st, q->scales, g), b = zf_load(st, q->biases, g);
            float v = zf_round_to(st, zf_round_to(st, s * (float)zf_q_get(src, q->bits, i)) + b);
            zf_store(w->dtype, dst, i, v);
        }
    }
    return ZF_OK;
}
