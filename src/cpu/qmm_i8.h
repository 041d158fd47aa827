/* The int8 walk (docs/NUMERICS.md §8.7): what its kernels share of the
 * prepared x row (qmm_i8_avx2.c makes it; the AVX2 and AVX-512 walks,
 * qmm_i8_walk.h, read it) and which rows it takes. For files compiled for
 * AVX2 or later. */
#ifndef ZF_CPU_QMM_I8_H
#define ZF_CPU_QMM_I8_H

#include <immintrin.h>
#include <stdint.h>

#include "cpu/qmm.h"
#include "cpu/simd_avx2.h"

#define I8_MAX_BLOCKS 512 /* k up to 16384 */
#define I8_STRETCH 8      /* blocks per step */
#define I8_AHEAD 2048 /* bytes of codes prefetched ahead into L1 (into the next rows: they are contiguous) */
/* ... and further ahead into L2 (T1): more of the stream in flight than the
 * L1 look-ahead and the hardware prefetchers keep with two threads streaming
 * (SmolLM2 edge decode 2-13% faster, depending on this VM's phase; 8-16 KB
 * measured alike, 24-64 KB less: docs/PERF-CPU.md, session 15) */
#define I8_AHEAD_L2 16384
#define INLINE ZF_AVX2_INLINE

/* One x row ready for the integer dots, a view of nb + I8_STRETCH blocks
 * (x's blocks, then a copy of its first stretch). 4-bit order: per pair of
 * blocks (j, j+1), [even elements of j | of j+1 | odd of j | of j+1], the
 * order the weights' low and high nibbles come in; 8-bit: element order. */
typedef struct xq8 {
    int8_t *q;     /* 32-byte aligned */
    float *a;      /* x ≈ a_j * q */
    float *sum;    /* X_j = Σ x over block j, f32 */
    int32_t *qsum; /* 128 · Σ q over block j (8-bit) */
} xq8;

/* Bytes of one prepared row of nb blocks: the codes, then a, sum and qsum
 * each padded to 64 bytes; and the view at p (64-byte aligned; the walks
 * only read through it). */
#define XQ8_LANE_BYTES(nb) ((((nb) + I8_STRETCH) * 4 + 63) / 64 * 64)
#define XQ8_BYTES(nb) (((nb) + I8_STRETCH) * ZF_QBLOCK + 3 * XQ8_LANE_BYTES(nb))
static inline xq8 xq8_at(const void *p, int64_t nb) {
    char *c = (char *)p, *lanes = c + (nb + I8_STRETCH) * ZF_QBLOCK;
    return (xq8){(int8_t *)c, (float *)lanes, (float *)(lanes + XQ8_LANE_BYTES(nb)),
                 (int32_t *)(lanes + 2 * XQ8_LANE_BYTES(nb))};
}

/* The sum of a vector's 8 lanes (a fixed order). */
INLINE float hsum(__m256 v) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

/* Whether the int8 walk takes rows of this width and length; others run
 * the canonical kernel. */
static inline int i8_takes(int bits, int64_t k) { return (bits == 4 || bits == 8) && k / ZF_QBLOCK <= I8_MAX_BLOCKS; }

/* The joined walk needs nb >= 8, and whole pairs of blocks for 4-bit. */
static inline int i8_joined(int bits, int64_t nb) { return nb >= I8_STRETCH && (bits == 8 || nb % 2 == 0); }

#endif
