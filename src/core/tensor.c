#include "core/tensor.h"

#include <stdio.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"

zf_tensor zf_tensor_nd(void *data, zf_dtype t, int32_t ndim, const int64_t *shape) {
    zf_tensor x;
    memset(&x, 0, sizeof x);
    x.data = data;
    x.dtype = t;
    x.device = ZF_DEVICE_CPU;
    x.ndim = ndim;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0 && i < ZF_MAX_DIMS; i--) {
        x.shape[i] = shape[i];
        x.stride[i] = s;
        s *= shape[i];
    }
    return x;
}

zf_tensor zf_tensor_1d(void *data, zf_dtype t, int64_t n) { return zf_tensor_nd(data, t, 1, &n); }

zf_tensor zf_tensor_2d(void *data, zf_dtype t, int64_t rows, int64_t cols) {
    int64_t s[2] = {rows, cols};
    return zf_tensor_nd(data, t, 2, s);
}

int64_t zf_tensor_numel(const zf_tensor *t) {
    if (!t || t->ndim < 1 || t->ndim > ZF_MAX_DIMS) return 0;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

zf_status zf_check_tensor(const char *op, const char *arg, const zf_tensor *t) {
    if (!t) return zf_error(ZF_ERR_INVALID_ARG, "[%s] %s is NULL", op, arg);
    if (t->ndim < 1 || t->ndim > ZF_MAX_DIMS)
        return zf_error(ZF_ERR_SHAPE, "[%s] %s has ndim %d; expected 1..%d", op, arg, t->ndim, ZF_MAX_DIMS);
    if (t->dtype < 0 || t->dtype >= ZF_DTYPE_COUNT)
        return zf_error(ZF_ERR_DTYPE, "[%s] %s has an invalid dtype value %d", op, arg, (int)t->dtype);
    if (t->device < 0 || t->device >= ZF_DEVICE_COUNT)
        return zf_error(ZF_ERR_INVALID_ARG, "[%s] %s has an invalid device value %d", op, arg, (int)t->device);
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] <= 0)
            return zf_error(ZF_ERR_SHAPE, "[%s] %s has shape[%d] = %lld; every axis must be >= 1", op, arg, i,
                            (long long)t->shape[i]);
        if (t->stride[i] < 0)
            return zf_error(ZF_ERR_SHAPE, "[%s] %s has negative stride[%d] = %lld", op, arg, i,
                            (long long)t->stride[i]);
    }
    if (t->stride[t->ndim - 1] != 1)
        return zf_error(ZF_ERR_SHAPE, "[%s] %s has last-axis stride %lld; the last axis must be contiguous (1)", op,
                        arg, (long long)t->stride[t->ndim - 1]);
    if (!t->data) return zf_error(ZF_ERR_INVALID_ARG, "[%s] %s has a NULL data pointer", op, arg);
    return ZF_OK;
}

zf_status zf_check_float(const char *op, const char *arg, const zf_tensor *t) {
    ZF_TRY(zf_check_tensor(op, arg, t));
    if (!zf_is_float_dtype(t->dtype))
        return zf_error(ZF_ERR_DTYPE, "[%s] %s has dtype %s; expected f32, f16 or bf16", op, arg,
                        zf_dtype_name(t->dtype));
    return ZF_OK;
}

static void shape_str(const zf_tensor *t, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

zf_status zf_check_same(const char *op, const char *an, const zf_tensor *a, const char *bn, const zf_tensor *b) {
    if (a->dtype != b->dtype)
        return zf_error(ZF_ERR_DTYPE, "[%s] %s is %s but %s is %s; all operands must share a dtype", op, an,
                        zf_dtype_name(a->dtype), bn, zf_dtype_name(b->dtype));
    if (a->device != b->device)
        return zf_error(ZF_ERR_INVALID_ARG, "[%s] %s and %s are on different devices", op, an, bn);
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++) same = a->shape[i] == b->shape[i];
    if (!same) {
        char sa[96], sb[96];
        shape_str(a, sa, sizeof sa);
        shape_str(b, sb, sizeof sb);
        return zf_error(ZF_ERR_SHAPE, "[%s] %s has shape %s but %s has shape %s; expected equal shapes", op, an, sa,
                        bn, sb);
    }
    return ZF_OK;
}

zf_status zf_as_rows(const char *op, const char *arg, const zf_tensor *t, zf_rows *out) {
    int d = t->ndim;
    out->data = t->data;
    out->cols = t->shape[d - 1];
    out->rows = 1;
    for (int i = 0; i < d - 1; i++) out->rows *= t->shape[i];
    out->row_stride = d >= 2 ? t->stride[d - 2] : out->cols;
    for (int i = 0; i + 2 < d; i++)
        if (t->shape[i] > 1 && t->stride[i] != t->stride[i + 1] * t->shape[i + 1])
            return zf_error(ZF_ERR_SHAPE,
                            "[%s] %s: leading axes %d and %d cannot be flattened into rows (strides %lld, %lld)", op,
                            arg, i, i + 1, (long long)t->stride[i], (long long)t->stride[i + 1]);
    if (out->rows > 1 && out->row_stride < out->cols)
        return zf_error(ZF_ERR_SHAPE, "[%s] %s: row stride %lld is smaller than the row length %lld (rows overlap)",
                        op, arg, (long long)out->row_stride, (long long)out->cols);
    if (out->rows == 1) out->row_stride = out->cols;
    return ZF_OK;
}

void zf_tensor_span(const zf_tensor *t, const char **lo, const char **hi) {
    int64_t last = 0;
    for (int i = 0; i < t->ndim; i++) last += (t->shape[i] - 1) * t->stride[i];
    size_t es = zf_dtype_size(t->dtype);
    *lo = (const char *)t->data;
    *hi = (const char *)t->data + (size_t)(last + 1) * es;
}

static int same_view(const zf_tensor *a, const zf_tensor *b) {
    if (a->data != b->data || a->ndim != b->ndim || a->dtype != b->dtype) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i] || (a->shape[i] > 1 && a->stride[i] != b->stride[i])) return 0;
    return 1;
}

int zf_tensors_overlap(const zf_tensor *a, const zf_tensor *b) {
    const char *a0, *a1, *b0, *b1;
    zf_tensor_span(a, &a0, &a1);
    zf_tensor_span(b, &b0, &b1);
    return a0 < b1 && b0 < a1;
}

zf_status zf_check_alias(const char *op, const char *outn, const zf_tensor *out, const char *inn, const zf_tensor *in) {
    if (same_view(out, in)) return ZF_OK;
    if (zf_tensors_overlap(out, in))
        return zf_error(ZF_ERR_ALIAS, "[%s] %s partially overlaps %s; use the same view (in place) or separate memory",
                        op, outn, inn);
    return ZF_OK;
}

zf_status zf_check_qlayout(const char *op, const char *arg, const zf_qweight *w) {
    if (!w) return zf_error(ZF_ERR_INVALID_ARG, "[%s] %s is NULL", op, arg);
    if (w->bits != 2 && w->bits != 3 && w->bits != 4 && w->bits != 5 && w->bits != 6 && w->bits != 8)
        return zf_error(ZF_ERR_INVALID_ARG, "[%s] %s has bits = %d; expected 2, 3, 4, 5, 6 or 8", op, arg,
                        (int)w->bits);
    if (w->group_size != 32 && w->group_size != 64 && w->group_size != 128)
        return zf_error(ZF_ERR_INVALID_ARG, "[%s] %s has group_size = %d; expected 32, 64 or 128", op, arg,
                        (int)w->group_size);
    if (!zf_is_float_dtype(w->scale_dtype))
        return zf_error(ZF_ERR_DTYPE, "[%s] %s has scale_dtype %s; expected f32, f16 or bf16", op, arg,
                        zf_dtype_name(w->scale_dtype));
    if (w->experts < 1 || w->n < 1 || w->k < 1)
        return zf_error(ZF_ERR_SHAPE, "[%s] %s has experts = %lld, n = %lld, k = %lld; each must be >= 1", op, arg,
                        (long long)w->experts, (long long)w->n, (long long)w->k);
    if (w->k % w->group_size != 0)
        return zf_error(ZF_ERR_SHAPE, "[%s] %s has k = %lld, not a multiple of group_size %d", op, arg,
                        (long long)w->k, (int)w->group_size);
    if (w->experts > INT32_MAX || w->experts * w->n > INT64_MAX / w->k)
        return zf_error(ZF_ERR_SHAPE, "[%s] %s is too large (experts = %lld, n = %lld, k = %lld)", op, arg,
                        (long long)w->experts, (long long)w->n, (long long)w->k);
    if (!w->packed || !w->scales || !w->biases)
        return zf_error(ZF_ERR_INVALID_ARG, "[%s] %s has a NULL packed, scales or biases pointer", op, arg);
    return ZF_OK;
}
