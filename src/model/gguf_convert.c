#include "model/gguf_convert.h"

#include <string.h>

#include "core/dtype.h"
#include "model/gguf.h"

static float h16(const uint8_t *p) { return zf_cvt_f16_f32((uint16_t)(p[0] | p[1] << 8)); }

typedef struct ggml_geo {
    uint32_t block, bytes;
} ggml_geo;

static ggml_geo geo(uint32_t type) {
    switch (type) {
    case ZF_GGML_Q4_0: return (ggml_geo){32, 18};
    case ZF_GGML_Q4_1: return (ggml_geo){32, 20};
    case ZF_GGML_Q5_0: return (ggml_geo){32, 22};
    case ZF_GGML_Q5_1: return (ggml_geo){32, 24};
    case ZF_GGML_Q8_0: return (ggml_geo){32, 34};
    case ZF_GGML_Q4_K: return (ggml_geo){256, 144};
    case ZF_GGML_Q5_K: return (ggml_geo){256, 176};
    case ZF_GGML_Q6_K: return (ggml_geo){256, 210};
    default: return (ggml_geo){1, 0};
    }
}

int zf_gguf_affine_bits(uint32_t type) {
    switch (type) {
    case ZF_GGML_Q4_0: case ZF_GGML_Q4_1: case ZF_GGML_Q4_K: return 4;
    case ZF_GGML_Q5_0: case ZF_GGML_Q5_1: case ZF_GGML_Q5_K: return 5;
    case ZF_GGML_Q8_0: return 8;
    default: return 0;
    }
}

/* K-quant 6-bit scale and min of sub-block j (ggml's packing of 12 bytes). */
static void kscale(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Scale and bias of 32-element group g of block b: w = scale*q + bias equals
 * ggml's f32 formula exactly (products are exact; one rounding at the add). */
static void group_params(uint32_t type, const uint8_t *b, int g, float *scale, float *bias) {
    int sc, m;
    switch (type) {
    case ZF_GGML_Q4_0: *scale = h16(b); *bias = -8.0f * *scale; break;
    case ZF_GGML_Q5_0: *scale = h16(b); *bias = -16.0f * *scale; break;
    case ZF_GGML_Q8_0: *scale = h16(b); *bias = -128.0f * *scale; break;
    case ZF_GGML_Q4_1: case ZF_GGML_Q5_1: *scale = h16(b); *bias = h16(b + 2); break;
    default: /* Q4_K, Q5_K: d*sc and dmin*m are exact in f32 (11 + 6 bits) */
        kscale(b + 4, g, &sc, &m);
        *scale = h16(b) * (float)sc;
        *bias = -(h16(b + 2) * (float)m);
        break;
    }
}

static void group_q(uint32_t type, const uint8_t *b, int g, uint8_t q[32]) {
    uint32_t qh;
    switch (type) {
    case ZF_GGML_Q4_0: case ZF_GGML_Q4_1: {
        const uint8_t *qs = b + (type == ZF_GGML_Q4_0 ? 2 : 4);
        for (int j = 0; j < 16; j++) { q[j] = qs[j] & 15; q[j + 16] = qs[j] >> 4; }
        break;
    }
    case ZF_GGML_Q5_0: case ZF_GGML_Q5_1: {
        const uint8_t *h = b + (type == ZF_GGML_Q5_0 ? 2 : 4), *qs = h + 4;
        qh = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        for (int j = 0; j < 16; j++) {
            q[j] = (uint8_t)((qs[j] & 15) | ((qh >> j) & 1) << 4);
            q[j + 16] = (uint8_t)((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
        }
        break;
    }
    case ZF_GGML_Q8_0:
        for (int j = 0; j < 32; j++) q[j] = (uint8_t)((int)(int8_t)b[2 + j] + 128);
        break;
    case ZF_GGML_Q4_K: case ZF_GGML_Q5_K: {
        /* per 64-element chunk: low nibbles = sub-block 2c, high = 2c+1;
         * Q5_K's fifth bit of element l of sub-block g is bit g of qh[l] */
        const uint8_t *qs = b + (type == ZF_GGML_Q4_K ? 16 : 48) + 32 * (g / 2), *hb = b + 16;
        for (int l = 0; l < 32; l++) {
            q[l] = (uint8_t)((g & 1) ? qs[l] >> 4 : qs[l] & 15);
            if (type == ZF_GGML_Q5_K) q[l] = (uint8_t)(q[l] | ((hb[l] >> g) & 1) << 4);
        }
        break;
    }
    default: memset(q, 0, 32); break;
    }
}

static int f16_exact(float v) { return zf_f32_bits(zf_cvt_f16_f32(zf_cvt_f32_f16(v))) == zf_f32_bits(v); }

zf_dtype zf_gguf_affine_scale_dtype(uint32_t type, const void *src, int64_t numel) {
    ggml_geo gg = geo(type);
    const uint8_t *p = src;
    for (int64_t blk = 0; blk < numel / gg.block; blk++, p += gg.bytes)
        for (int g = 0; g < (int)gg.block / 32; g++) {
            float s, b;
            group_params(type, p, g, &s, &b);
            if (!f16_exact(s) || !f16_exact(b)) return ZF_DTYPE_F32;
        }
    return ZF_DTYPE_F16;
}

/* LSB-first bit stream of 32 values into `bits` words. */
static void pack_group(uint32_t *w, const uint8_t q[32], int bits) {
    uint64_t acc = 0;
    int nb = 0;
    for (int j = 0; j < 32; j++) {
        acc |= (uint64_t)q[j] << nb;
        nb += bits;
        if (nb >= 32) {
            *w++ = (uint32_t)acc;
            acc >>= 32;
            nb -= 32;
        }
    }
}

void zf_gguf_to_affine(uint32_t type, const void *src, int64_t numel, zf_dtype sd, uint32_t *packed, void *scales,
                       void *biases) {
    ggml_geo gg = geo(type);
    int bits = zf_gguf_affine_bits(type);
    const uint8_t *p = src;
    int64_t group = 0; /* groups are contiguous across rows: k % 32 == 0 */
    for (int64_t blk = 0; blk < numel / gg.block; blk++, p += gg.bytes)
        for (int g = 0; g < (int)gg.block / 32; g++, group++) {
            uint8_t q[32];
            float s, b;
            group_params(type, p, g, &s, &b);
            group_q(type, p, g, q);
            pack_group(packed + group * bits, q, bits);
            zf_store(sd, scales, group, s);
            zf_store(sd, biases, group, b);
        }
}

/* Q6_K: x = d * sc * (q - 32), evaluated as ggml does: (d*sc)*q in f32. */
static void q6k_block(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = h16(b + 208);
    for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128)
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 15) | ((qh[l] >> 0) & 3) << 4) - 32;
            int q2 = ((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32;
            int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
            int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
}

void zf_gguf_q6k_to_f32(const void *src, int64_t numel, float *dst) {
    const uint8_t *p = src;
    for (int64_t blk = 0; blk < numel / 256; blk++) q6k_block(p + blk * 210, dst + blk * 256);
}
