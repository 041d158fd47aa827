/* Token embedding on the CPU: rows of a float or affine-quantized table.
 * A quantized row dequantizes as w = scale * q + bias in f32 (a product,
 * then a sum; no fma), rounded once to the output dtype. */
#include <stdint.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "cpu/model_ops.h"
#include "cpu/quant.h"

/* ids: i32, every value in [0, vocab); returns the row count m. */
static zf_status check_ids(const zf_tensor *ids, int64_t vocab, int64_t *m) {
    ZF_TRY(zf_check_tensor("embedding", "ids", ids));
    if (ids->dtype != ZF_DTYPE_I32)
        return zf_error(ZF_ERR_DTYPE, "[embedding] ids has dtype %s; expected i32", zf_dtype_name(ids->dtype));
    if (ids->ndim != 1)
        return zf_error(ZF_ERR_SHAPE, "[embedding] ids has %d axes; expected 1 ([tokens])", ids->ndim);
    if (ids->device != ZF_DEVICE_CPU) /* checked before its values are read here */
        return zf_error(ZF_ERR_INVALID_ARG, "[embedding] ids is not on the CPU, where the table is");
    const int32_t *p = ids->data;
    for (int64_t i = 0; i < ids->shape[0]; i++)
        if (p[i] < 0 || p[i] >= vocab)
            return zf_error(ZF_ERR_INVALID_ARG, "[embedding] ids[%lld] = %d is outside the table's %lld rows",
                            (long long)i, (int)p[i], (long long)vocab);
    *m = ids->shape[0];
    return ZF_OK;
}

static zf_status check_out(const zf_tensor *out, int64_t m, int64_t dim, zf_rows *rows) {
    ZF_TRY(zf_check_float("embedding", "out", out));
    ZF_TRY(zf_as_rows("embedding", "out", out, rows));
    if (out->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[embedding] out is on a device with no backend loaded here");
    if (rows->rows != m || rows->cols != dim)
        return zf_error(ZF_ERR_SHAPE, "[embedding] out is %lld x %lld; expected %lld x %lld (tokens x dim)",
                        (long long)rows->rows, (long long)rows->cols, (long long)m, (long long)dim);
    return ZF_OK;
}

zf_status zf_cpu_embedding(const zf_tensor *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o) {
    ZF_TRY(zf_check_float("embedding", "table", table));
    if (table->ndim != 2)
        return zf_error(ZF_ERR_SHAPE, "[embedding] table has %d axes; expected 2 ([vocab, dim])", table->ndim);
    int64_t m;
    zf_rows r;
    ZF_TRY(check_ids(ids, table->shape[0], &m));
    ZF_TRY(check_out(out, m, table->shape[1], &r));
    ZF_TRY(zf_check_alias("embedding", "out", out, "table", table));
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_EMBEDDING, ZF_DEVICE_CPU, o ? o->fidelity : ZF_FIDELITY_AUTO, &v));
    const int32_t *id = ids->data;
    size_t ts = zf_dtype_size(table->dtype), os = zf_dtype_size(out->dtype);
    for (int64_t i = 0; i < m; i++) {
        const char *src = (const char *)table->data + (size_t)(id[i] * table->stride[0]) * ts;
        char *dst = (char *)r.data + (size_t)(i * r.row_stride) * os;
        if (table->dtype == out->dtype) {
            memcpy(dst, src, (size_t)r.cols * ts);
        } else {
            for (int64_t c = 0; c < r.cols; c++) zf_store(out->dtype, dst, c, zf_load(table->dtype, src, c));
        }
    }
    return ZF_OK;
}

static zf_status check_qtable(const zf_qweight *w) {
    ZF_TRY(zf_check_qweight("embedding", "table", w));
    if (w->experts != 1)
        return zf_error(ZF_ERR_SHAPE, "[embedding] table has %lld experts; expected 1", (long long)w->experts);
    return ZF_OK;
}

zf_status zf_cpu_embedding_q(const zf_qweight *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o) {
    ZF_TRY(check_qtable(table));
    int64_t m;
    zf_rows r;
    ZF_TRY(check_ids(ids, table->n, &m));
    ZF_TRY(check_out(out, m, table->k, &r));
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_EMBEDDING, ZF_DEVICE_CPU, o ? o->fidelity : ZF_FIDELITY_AUTO, &v));
    const int32_t *id = ids->data;
    int64_t words = table->k * table->bits / 32, groups = table->k / table->group_size;
    size_t os = zf_dtype_size(out->dtype);
    for (int64_t i = 0; i < m; i++) {
        const uint32_t *row = table->packed + id[i] * words;
        char *dst = (char *)r.data + (size_t)(i * r.row_stride) * os;
        for (int64_t c = 0; c < table->k; c++) {
            int64_t g = id[i] * groups + c / table->group_size;
            float s = zf_load(table->scale_dtype, table->scales, g), b = zf_load(table->scale_dtype, table->biases, g);
            zf_store(out->dtype, dst, c, s * (float)zf_q_get(row, table->bits, c) + b);
        }
    }
    return ZF_OK;
}
