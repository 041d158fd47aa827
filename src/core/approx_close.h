/* The agreement rule between two runs of an approx (int8) variant on the
 * same input, e.g. CUDA against the CPU: the int8 codes are the same bit
 * for bit, only f32 sum orders and the T roundings of nearby values differ,
 * so |got - want| within one ulp of T at want plus 2^-10 of the largest
 * |want|, while a wrong block, scale, slot or row is off by far more. Used
 * by the CUDA self-test and tests/cuda/test_cuda_moe.c. */
#ifndef ZF_CORE_APPROX_CLOSE_H
#define ZF_CORE_APPROX_CLOSE_H

#include <math.h>

#include "core/dtype.h"

/* First element of n outside the rule (NaN == NaN), or -1. */
static inline int64_t zf_approx_first_far(zf_dtype t, const void *got, const void *want, int64_t n) {
    double big = 0, ulp = t == ZF_DTYPE_F32 ? 0x1p-23 : t == ZF_DTYPE_F16 ? 0x1p-10 : 0x1p-7;
    for (int64_t i = 0; i < n; i++) {
        double y = zf_load(t, want, i);
        if (y == y && fabs(y) > big) big = fabs(y);
    }
    for (int64_t i = 0; i < n; i++) {
        double x = zf_load(t, got, i), y = zf_load(t, want, i);
        if (x != x && y != y) continue;
        if (!(fabs(x - y) <= ulp * fabs(y) + 0x1p-10 * big)) return i;
    }
    return -1;
}

#endif
