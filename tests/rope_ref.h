/* The RoPE frequency of pair i in float64 with libm: theta^(-2i/dims), then
 * HF transformers' linear or Llama 3 scaling (_compute_llama3_parameters),
 * then the per-frequency divisor. The tests' reference for NUMERICS §9.2. */
#ifndef ZF_TEST_ROPE_REF_H
#define ZF_TEST_ROPE_REF_H

#include <math.h>
#include <stdint.h>

#include "zfast.h"

static inline double ref_rope_freq(double theta, int64_t dims, int64_t i, const zf_rope_scaling *s) {
    double f = pow(theta, -(double)(2 * i) / (double)dims);
    if (!s) return f;
    if (s->type == ZF_ROPE_SCALING_LINEAR) f /= s->factor;
    if (s->type == ZF_ROPE_SCALING_LLAMA3) {
        double ctx = (double)s->original_max_position, wavelen = 2 * M_PI / f;
        if (wavelen > ctx / s->low_freq_factor) {
            f /= s->factor;
        } else if (!(wavelen < ctx / s->high_freq_factor)) {
            double smooth = (ctx / wavelen - s->low_freq_factor) / (s->high_freq_factor - s->low_freq_factor);
            f = (1 - smooth) * f / s->factor + smooth * f;
        }
    }
    if (s->freq_divisors) f /= s->freq_divisors[i];
    return f;
}

#endif
