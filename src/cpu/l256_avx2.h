/* The canonical row reduction L256 (docs/NUMERICS.md §4) with AVX2: the 256
 * lanes live in an L1 array, 8 per register step, and the tree folds them in
 * the scalar order of cpu/l256.h, so the same bits. Include only from files
 * built with -mavx2 -mfma. */
#ifndef ZF_CPU_L256_AVX2_H
#define ZF_CPU_L256_AVX2_H

#include <immintrin.h>
#include <stdint.h>

/* Zeroes lanes [0, p) for a row of n: p = next power of two >= min(n, 256),
 * at least 8, so the tree's partners beyond the written lanes are real +0. */
static inline int64_t zf_avx2_l256_init(float *acc, int64_t n) {
    int64_t m = n < 256 ? n : 256, p = 8;
    while (p < m) p <<= 1;
    __m256 z = _mm256_setzero_ps();
    for (int64_t l = 0; l < p; l += 8) _mm256_storeu_ps(acc + l, z);
    return p;
}

/* The L256 tree over acc[0, p); m = min(n, 256) written lanes. */
static inline float zf_avx2_l256_fold(float *acc, int64_t m, int64_t p) {
    __m256 z = _mm256_setzero_ps();
    if (m <= 128) /* the scalar fold's one-time +0 (turns -0 into +0) */
        for (int64_t l = 0; l < p; l += 8) _mm256_storeu_ps(acc + l, _mm256_add_ps(_mm256_loadu_ps(acc + l), z));
    for (int64_t s = p / 2; s >= 8; s >>= 1)
        for (int64_t l = 0; l < s; l += 8)
            _mm256_storeu_ps(acc + l, _mm256_add_ps(_mm256_loadu_ps(acc + l), _mm256_loadu_ps(acc + l + s)));
    __m256 v = _mm256_loadu_ps(acc);
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); /* s = 4 */
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));                                       /* s = 2 */
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));                                   /* s = 1 */
    return _mm_cvtss_f32(x);
}

#endif
