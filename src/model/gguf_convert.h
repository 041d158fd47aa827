/* GGUF block types -> the affine layout (MLX packing) where that is exact,
 * or -> f32 (Q6_K), reproducing ggml's reference dequantization bit for bit.
 * docs/FORMATS.md explains why each conversion is exact. */
#ifndef ZF_MODEL_GGUF_CONVERT_H
#define ZF_MODEL_GGUF_CONVERT_H

#include <stdint.h>

#include "zfast.h"

/* Bits of the affine form of a GGUF type, or 0 when it has none (then
 * zf_gguf_q6k_to_f32 applies). */
int zf_gguf_affine_bits(uint32_t type);
/* F16 when every group's scale and bias is exactly an f16 value, else F32. */
zf_dtype zf_gguf_affine_scale_dtype(uint32_t type, const void *src, int64_t numel);
/* numel elements (rows of k, k % 32 == 0) into packed [rows, k*bits/32],
 * scales and biases [rows, k/32] of dtype sd. packed must be zeroed. */
void zf_gguf_to_affine(uint32_t type, const void *src, int64_t numel, zf_dtype sd, uint32_t *packed, void *scales,
                       void *biases);
/* Q6_K has no exact affine form with an MLX group size (16-element
 * sub-blocks, 25-bit products): ggml's f32 values, bit for bit. */
void zf_gguf_q6k_to_f32(const void *src, int64_t numel, float *dst);

#endif
