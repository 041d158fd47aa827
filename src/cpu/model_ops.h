/* CPU model ops (embedding, rope, softmax, attention, copy, attention_decode): entry points and the
 * kernel signature each op's variants share. docs/NUMERICS.md §9 fixes
 * their orders. */
#ifndef ZF_CPU_MODEL_OPS_H
#define ZF_CPU_MODEL_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "zfast.h"

zf_status zf_cpu_embedding(const zf_tensor *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o);
zf_status zf_cpu_embedding_q(const zf_qweight *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o);
zf_status zf_cpu_rope(const zf_tensor *x, const zf_tensor *cs, int neox, zf_tensor *out, const zf_opts *o);
zf_status zf_cpu_softmax(const zf_tensor *x, zf_tensor *out, const zf_opts *o);
zf_status zf_cpu_attention(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, float scale, zf_tensor *out,
                           const zf_opts *o);
zf_status zf_cpu_copy(const zf_tensor *x, zf_tensor *out, const zf_opts *o);
zf_status zf_cpu_attention_decode(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, const zf_qk_norm *norm,
                                  const zf_tensor *cs, int neox, const zf_tensor *pos, zf_tensor *kc, zf_tensor *vc,
                                  float scale, zf_tensor *out, const zf_opts *o);

/* rope, one head row of n: pairs rotated by cs[n/2][2] */
typedef void (*zf_rope_fn)(zf_dtype t, const void *x, const float *cs, int neox, void *out, int64_t n);
/* softmax, one row of n */
typedef void (*zf_softmax_fn)(zf_dtype t, const void *x, void *out, int64_t n);
/* attention, one query against the keys of one kv head, for nh (1..8) q
 * heads of its group: q rows of d in dtype tq at q + h*q_hs (elements),
 * out rows at out + h*o_hs; keys 0..len-1 at k + j*k_stride, v + j*v_stride
 * in dtype tkv; scratch holds nh * (len + 2d + 16) floats. Each head's
 * result is that of the head alone (docs/NUMERICS.md §9.4). */
typedef void (*zf_attention_fn)(zf_dtype tq, const void *q, int64_t q_hs, int nh, zf_dtype tkv, const void *k,
                                int64_t k_stride, const void *v, int64_t v_stride, int64_t len, int64_t d, float scale,
                                void *out, int64_t o_hs, float *scratch);
#define ZF_ATTN_MAX_GROUP 8

void zf_scalar_rope(zf_dtype t, const void *x, const float *cs, int neox, void *out, int64_t n);
void zf_scalar_softmax(zf_dtype t, const void *x, void *out, int64_t n);
void zf_scalar_attention(zf_dtype tq, const void *q, int64_t q_hs, int nh, zf_dtype tkv, const void *k,
                         int64_t k_stride, const void *v, int64_t v_stride, int64_t len, int64_t d, float scale,
                         void *out, int64_t o_hs, float *scratch);
void zf_avx2_attention(zf_dtype tq, const void *q, int64_t q_hs, int nh, zf_dtype tkv, const void *k,
                       int64_t k_stride, const void *v, int64_t v_stride, int64_t len, int64_t d, float scale,
                       void *out, int64_t o_hs, float *scratch);
void zf_avx512_attention(zf_dtype tq, const void *q, int64_t q_hs, int nh, zf_dtype tkv, const void *k,
                         int64_t k_stride, const void *v, int64_t v_stride, int64_t len, int64_t d, float scale,
                         void *out, int64_t o_hs, float *scratch);
/* A kernel call's heads one at a time through a single-head kernel (how the
 * scalar and AVX2 kernels take a group). */
typedef void (*zf_attention_head_fn)(zf_dtype tq, const void *q, zf_dtype tkv, const void *k, int64_t k_stride,
                                     const void *v, int64_t v_stride, int64_t len, int64_t d, float scale, void *out,
                                     float *scratch);
static inline void zf_attention_each_head(zf_attention_head_fn f, zf_dtype tq, const void *q, int64_t q_hs, int nh,
                                          zf_dtype tkv, const void *k, int64_t k_stride, const void *v,
                                          int64_t v_stride, int64_t len, int64_t d, float scale, void *out,
                                          int64_t o_hs, float *scratch) {
    const size_t eq = zf_dtype_size(tq);
    for (int h = 0; h < nh; h++)
        f(tq, (const char *)q + (size_t)(h * q_hs) * eq, tkv, k, k_stride, v, v_stride, len, d, scale,
          (char *)out + (size_t)(h * o_hs) * eq, scratch);
}
/* The softmax numerators in place, s_j = exp(s_j - mx) (zf_exp_scalar's
 * bits, 8 lanes at a time), and their L256 sum (attention_avx2.c). */
float zf_avx2_attn_exp_sum(float *s, int64_t len, float mx);

/* Self-test of an attention variant against the scalar kernel, bit for bit. */
struct zf_variant;
int zf_cpu_selftest_attention(const struct zf_variant *v, char *msg, size_t msg_size);

#endif
