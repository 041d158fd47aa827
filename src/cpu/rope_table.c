/* The RoPE cos/sin table: frequencies (optionally scaled: linear, Llama 3,
 * per-frequency divisors) and their angles, computed with float64 functions
 * of our own and rounded once to f32. docs/NUMERICS.md §9.2. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "zfast.h"

/* ---- float64 log, exp, sin/cos: fixed IEEE operations, no libm ------------ */
/* Every platform (and CUDA, in double) performs the same operations, so the
 * table is identical everywhere; the results are within about 1e-16 relative
 * of the true values before the single rounding to f32. */

static const double k_ln2_hi = 6.93147180369123816490e-01; /* 32 significant bits: n * hi is exact */
static const double k_ln2_lo = 1.90821492927058770002e-10;
static const double k_inv_ln2 = 1.44269504088896338700e+00;
static const double k_shifter = 0x1.8p52; /* (t + shifter) - shifter rounds t to an integer */

static double bits_f64(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
static uint64_t f64_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

/* inv[n] = 1/n!, n <= 20: products of small integers, then one division. */
static void inv_factorials(double inv[21]) {
    double f = 1.0;
    inv[0] = 1.0;
    for (int n = 1; n <= 20; n++) { f = f * (double)n; inv[n] = 1.0 / f; }
}

/* ln x for finite normal x > 0: x = m 2^e, m in [sqrt(1/2), sqrt(2)),
 * ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, series to s^27. */
static double log_f64(double x) {
    uint64_t u = f64_bits(x);
    int64_t e = (int64_t)((u >> 52) & 0x7ff) - 1023;
    double m = bits_f64((u & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
    if (m > 1.4142135623730951) { m = m * 0.5; e += 1; }
    double s = (m - 1.0) / (m + 1.0), z = s * s;
    double p = 1.0 / 27.0;
    for (int k = 25; k >= 1; k -= 2) p = p * z + 1.0 / (double)k;
    double ed = (double)e;
    return ed * k_ln2_hi + (ed * k_ln2_lo + 2.0 * s * p);
}

/* e^y for |y| < 700: y = n ln2 + r, |r| <= ln2/2, Taylor series to r^14. */
static double exp_f64(double y) {
    double n = (y * k_inv_ln2 + k_shifter) - k_shifter;
    double r = (y - n * k_ln2_hi) - n * k_ln2_lo;
    double inv[21];
    inv_factorials(inv);
    double p = inv[14];
    for (int k = 13; k >= 0; k--) p = p * r + inv[k];
    return p * bits_f64((uint64_t)((int64_t)n + 1023) << 52);
}

/* pi/2 in three 33-bit parts (k * part is exact for k < 2^20) */
static const double k_pio2_1 = 1.57079632673412561417e+00;
static const double k_pio2_2 = 6.07710050630396597660e-11;
static const double k_pio2_3 = 2.02226624871116645580e-21;
static const double k_2_over_pi = 6.36619772367581382433e-01;

/* sin and cos of a >= 0: a = k pi/2 + r, |r| <= pi/4 (+ slack), Taylor series
 * of sin to r^19 and cos to r^20, then the quadrant. */
static void sincos_f64(double a, const double inv[21], double *sn, double *cs) {
    double k = (a * k_2_over_pi + k_shifter) - k_shifter;
    double r = ((a - k * k_pio2_1) - k * k_pio2_2) - k * k_pio2_3;
    double z = r * r;
    double ps = inv[19], pc = inv[20];
    for (int n = 17; n >= 1; n -= 2) ps = ps * (-z) + inv[n];
    for (int n = 18; n >= 0; n -= 2) pc = pc * (-z) + inv[n];
    double s = r * ps, c = pc;
    switch ((int64_t)k & 3) {
    case 0: *sn = s; *cs = c; break;
    case 1: *sn = c; *cs = -s; break;
    case 2: *sn = -s; *cs = -c; break;
    default: *sn = -c; *cs = s; break;
    }
}

#define ZF_ROPE_MAX_DIMS 1024
#define ZF_ROPE_MAX_FREQ 1024.0 /* radians per position: keeps (p0 + p) * f below 2^51 */

static const double k_2pi = 0x1.921fb54442d18p+2;

static zf_status check_scaling(const zf_rope_scaling *s) {
    if ((unsigned)s->type >= ZF_ROPE_SCALING_TYPE_COUNT)
        return zf_error(ZF_ERR_INVALID_ARG, "[rope_table] scaling type %d is not a zf_rope_scaling_type", (int)s->type);
    if (s->type != ZF_ROPE_SCALING_NONE && !(s->factor > 0 && isfinite(s->factor)))
        return zf_error(ZF_ERR_INVALID_ARG, "[rope_table] scaling factor %g; expected a finite value > 0", s->factor);
    if (s->type == ZF_ROPE_SCALING_LLAMA3) {
        if (!(s->low_freq_factor > 0 && s->high_freq_factor > s->low_freq_factor && isfinite(s->high_freq_factor)))
            return zf_error(ZF_ERR_INVALID_ARG, "[rope_table] llama3 low_freq_factor %g, high_freq_factor %g; expected "
                            "0 < low < high, finite", s->low_freq_factor, s->high_freq_factor);
        if (s->original_max_position < 1 || s->original_max_position > ((int64_t)1 << 40))
            return zf_error(ZF_ERR_INVALID_ARG, "[rope_table] llama3 original_max_position %lld; expected 1 .. 2^40",
                            (long long)s->original_max_position);
    }
    return ZF_OK;
}

/* Llama 3.1's rescaling of one frequency (HF transformers'
 * _compute_llama3_parameters, evaluated in float64). */
static double llama3_freq(const zf_rope_scaling *s, double f) {
    double ctx = (double)s->original_max_position;
    double low_wavelen = ctx / s->low_freq_factor, high_wavelen = ctx / s->high_freq_factor;
    double wavelen = k_2pi / f;
    if (wavelen < high_wavelen) return f;
    if (wavelen > low_wavelen) return f / s->factor;
    double smooth = (ctx / wavelen - s->low_freq_factor) / (s->high_freq_factor - s->low_freq_factor);
    return ((1.0 - smooth) * f) / s->factor + smooth * f;
}

/* f[i] for i < dims/2: theta^(-2i/dims), then the scaling, then the divisor. */
static zf_status frequencies(float theta, int64_t dims, const zf_rope_scaling *s, double *f) {
    double ln_theta = log_f64((double)theta);
    for (int64_t i = 0; i < dims / 2; i++) {
        f[i] = exp_f64(-(((double)(2 * i) / (double)dims) * ln_theta));
        if (s && s->type == ZF_ROPE_SCALING_LINEAR) f[i] = f[i] / s->factor;
        if (s && s->type == ZF_ROPE_SCALING_LLAMA3) f[i] = llama3_freq(s, f[i]);
        if (s && s->freq_divisors) {
            double d = (double)s->freq_divisors[i];
            if (!(d > 0 && isfinite(d)))
                return zf_error(ZF_ERR_INVALID_ARG,
                                "[rope_table] freq_divisors[%lld] = %g; expected a finite value > 0", (long long)i, d);
            f[i] = f[i] / d;
        }
        if (!(f[i] <= ZF_ROPE_MAX_FREQ))
            return zf_error(ZF_ERR_INVALID_ARG, "[rope_table] scaled frequency %lld is %g; expected at most %g",
                            (long long)i, f[i], ZF_ROPE_MAX_FREQ);
    }
    return ZF_OK;
}

zf_status zf_rope_table_scaled(float theta, int64_t dims, const zf_rope_scaling *scaling, int64_t p0, zf_tensor *cs) {
    if (!(theta > 1.0f) || theta > 3.0e38f)
        return zf_error(ZF_ERR_INVALID_ARG, "[rope_table] theta = %g; expected a finite value > 1", (double)theta);
    if (dims < 2 || dims % 2 || dims > ZF_ROPE_MAX_DIMS)
        return zf_error(ZF_ERR_INVALID_ARG, "[rope_table] dims = %lld; expected an even number in 2..%d",
                        (long long)dims, ZF_ROPE_MAX_DIMS);
    if (p0 < 0 || p0 > ((int64_t)1 << 40))
        return zf_error(ZF_ERR_INVALID_ARG, "[rope_table] p0 = %lld; expected 0 .. 2^40", (long long)p0);
    if (scaling) ZF_TRY(check_scaling(scaling));
    ZF_TRY(zf_check_tensor("rope_table", "cs", cs));
    if (cs->dtype != ZF_DTYPE_F32 || cs->device != ZF_DEVICE_CPU || cs->ndim != 3 || cs->shape[1] != dims / 2 ||
        cs->shape[2] != 2 || cs->stride[1] != 2)
        return zf_error(ZF_ERR_SHAPE, "[rope_table] cs must be an f32 CPU tensor [n, %lld, 2] with contiguous rows",
                        (long long)(dims / 2));
    double freq[ZF_ROPE_MAX_DIMS / 2], inv[21];
    ZF_TRY(frequencies(theta, dims, scaling, freq));
    inv_factorials(inv);
    for (int64_t p = 0; p < cs->shape[0]; p++) {
        float *row = (float *)cs->data + p * cs->stride[0];
        for (int64_t i = 0; i < dims / 2; i++) {
            double s, c;
            sincos_f64((double)(p0 + p) * freq[i], inv, &s, &c);
            row[2 * i] = (float)c; /* round to nearest even, once */
            row[2 * i + 1] = (float)s;
        }
    }
    return ZF_OK;
}

zf_status zf_rope_table(float theta, int64_t dims, int64_t p0, zf_tensor *cs) {
    return zf_rope_table_scaled(theta, dims, NULL, p0, cs);
}
