/* The canonical row reduction L256 (docs/NUMERICS.md §4) for the model ops:
 * 256 f32 lanes, lane = i mod 256, fma ascending from +0, then the tree
 * s = 128..1. Lanes never written hold +0; adding a +0 lane only turns a -0
 * into +0, so the fold does that once instead of adding zero lanes. */
#ifndef ZF_CPU_L256_H
#define ZF_CPU_L256_H

#include <math.h>
#include <stdint.h>

/* Folds acc[0..m) (m <= 256 written lanes, the rest +0) into one value. */
static inline float zf_l256_fold(float *acc, int64_t m) {
    if (m == 0) return 0.0f;
    int canon = 0;
    for (int64_t s = 128; s >= 1; s >>= 1) {
        if (s >= m) { /* every partner lane is +0 */
            if (!canon)
                for (int64_t l = 0; l < m; l++) acc[l] = acc[l] + 0.0f;
            canon = 1;
            continue;
        }
        for (int64_t l = 0; l < s; l++) acc[l] = acc[l] + (l + s < m ? acc[l + s] : 0.0f);
        m = s;
    }
    return acc[0];
}

/* L256(a, b) over n f32 elements. */
static inline float zf_l256_dot(const float *a, const float *b, int64_t n) {
    float acc[256];
    int64_t m = n < 256 ? n : 256;
    for (int64_t l = 0; l < m; l++) acc[l] = 0.0f;
    for (int64_t i = 0; i < n; i++) acc[i & 255] = fmaf(a[i], b[i], acc[i & 255]);
    return zf_l256_fold(acc, m);
}

/* L256(a, 1): fma(a_i, 1, acc) is exactly acc + a_i. */
static inline float zf_l256_sum(const float *a, int64_t n) {
    float acc[256];
    int64_t m = n < 256 ? n : 256;
    for (int64_t l = 0; l < m; l++) acc[l] = 0.0f;
    for (int64_t i = 0; i < n; i++) acc[i & 255] = acc[i & 255] + a[i];
    return zf_l256_fold(acc, m);
}

#endif
