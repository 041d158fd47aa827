/* Affine-quantized weights (MLX layout): argument checks, packed-row access,
 * and the CPU quantize / dequantize entry points. */
#ifndef ZF_CPU_QUANT_H
#define ZF_CPU_QUANT_H

#include <stdint.h>

#include "zfast.h"

/* Words in one packed row, groups in one row. */
static inline int64_t zf_q_words(const zf_qweight *w) { return w->k * w->bits / 32; }
static inline int64_t zf_q_groups(const zf_qweight *w) { return w->k / w->group_size; }

/* Element i of a packed row: LSB-first bit stream over little-endian words;
 * 3/5/6-bit values may straddle two words. */
static inline uint32_t zf_q_get(const uint32_t *row, int bits, int64_t i) {
    int64_t bit = i * bits;
    int64_t wi = bit >> 5;
    int sh = (int)(bit & 31);
    uint64_t v = row[wi] >> sh;
    if (sh + bits > 32) v |= (uint64_t)row[wi + 1] << (32 - sh);
    return (uint32_t)v & ((1u << bits) - 1u);
}

/* A usable zf_qweight on the CPU: bits, group size, dtypes, shapes, pointers. */
zf_status zf_check_qweight(const char *op, const char *arg, const zf_qweight *w);

zf_status zf_cpu_quantize(const zf_tensor *w, zf_qweight *q);
zf_status zf_cpu_dequantize(const zf_qweight *q, zf_tensor *w);

#endif
