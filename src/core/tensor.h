/* Argument checks shared by every op entry point. Each returns ZF_OK or an
 * error whose message names the op and the argument. */
#ifndef ZF_CORE_TENSOR_H
#define ZF_CORE_TENSOR_H

#include "zfast.h"

/* A tensor seen as rows: `rows` rows of `cols` contiguous elements, row i at
 * data + i * row_stride (elements). */
typedef struct zf_rows {
    void *data;
    int64_t rows, cols, row_stride;
} zf_rows;

/* Non-NULL, ndim in range, positive shape, last stride 1, data non-NULL. */
zf_status zf_check_tensor(const char *op, const char *arg, const zf_tensor *t);
/* t is f32, f16 or bf16. */
zf_status zf_check_float(const char *op, const char *arg, const zf_tensor *t);
/* a and b have the same dtype, device and shape. */
zf_status zf_check_same(const char *op, const char *an, const zf_tensor *a, const char *bn, const zf_tensor *b);
/* Flatten leading axes; fails if they cannot be expressed with one row stride. */
zf_status zf_as_rows(const char *op, const char *arg, const zf_tensor *t, zf_rows *out);
/* An output may be the very same view as an input (in-place), or not touch
 * it at all; a partial overlap is an error. */
zf_status zf_check_alias(const char *op, const char *outn, const zf_tensor *out, const char *inn, const zf_tensor *in);
/* An affine-quantized weight's layout, wherever it lives: bits, group size,
 * scale dtype, positive sizes (with no overflow of experts * n * k), k a
 * multiple of the group size, non-NULL buffers. Each backend adds its own
 * device (and alignment) checks. */
zf_status zf_check_qlayout(const char *op, const char *arg, const zf_qweight *w);
/* Every argument of zf_attention_decode (shapes, dtypes, one device, no
 * overlap of an output with anything else); src/core/attention_decode.c. */
zf_status zf_check_attention_decode(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v,
                                    const zf_qk_norm *norm, const zf_tensor *cs, int neox, const zf_tensor *pos,
                                    const zf_tensor *kc, const zf_tensor *vc, float scale, const zf_tensor *out);
/* Address range [lo, hi) that a tensor's elements span. */
void zf_tensor_span(const zf_tensor *t, const char **lo, const char **hi);
/* 1 when the address ranges of a's and b's elements meet. */
int zf_tensors_overlap(const zf_tensor *a, const zf_tensor *b);

#endif
