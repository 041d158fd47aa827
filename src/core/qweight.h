/* The byte sizes of an affine-quantized weight's three buffers (all
 * experts), shared by the loaders' uploads, load-time fusion and the CUDA
 * plugin's overlap checks. Header-only and calling nothing of libzfast:
 * the plugin compiles it too and cannot link to the library. */
#ifndef ZF_CORE_QWEIGHT_H
#define ZF_CORE_QWEIGHT_H

#include <stddef.h>

#include "zfast.h"

/* packed: experts x n rows of k * bits / 32 words */
static inline size_t zf_qweight_packed_bytes(const zf_qweight *w) {
    return (size_t)(w->experts * w->n * (w->k * w->bits / 32)) * 4;
}
/* scales (and, as many, biases): one per group of each row, f32 or 16-bit
 * (zf_check_qlayout) */
static inline size_t zf_qweight_group_bytes(const zf_qweight *w) {
    return (size_t)(w->experts * w->n * (w->k / w->group_size)) * (w->scale_dtype == ZF_DTYPE_F32 ? 4 : 2);
}

#endif
