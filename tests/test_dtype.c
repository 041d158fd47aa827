/* dtype conversions: all 2^16 f16/bf16 patterns round-trip, and f32 -> T
 * matches a float64 round-to-nearest-even reference on all f16/bf16
 * neighbourhoods plus random f32 bit patterns (NaN, Inf, subnormals). */
#include <math.h>
#include <string.h>

#include "harness.h"

/* float64 reference: value of a T bit pattern */
static double f16_value(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}
static double bf16_value(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Reference RNE: the pattern among all finite T values nearest to x (ties to
 * even mantissa), or inf beyond the overflow threshold. Brute force over the
 * sorted positive patterns. */
static uint16_t ref_round(double (*value)(uint16_t), uint16_t max_finite, double x) {
    if (isnan(x)) return 0x7fff;
    int neg = signbit(x);
    double a = fabs(x);
    uint16_t lo = 0, hi = max_finite;
    if (a >= value(max_finite)) {
        /* overflow threshold: max + half ulp (ties go to inf, max is odd) */
        double half = (value(max_finite) - value(max_finite - 1)) / 2;
        uint16_t inf = (uint16_t)(max_finite + 1);
        uint16_t r = a >= value(max_finite) + half ? inf : max_finite;
        return (uint16_t)(r | (neg ? 0x8000 : 0));
    }
    while (hi - lo > 1) { /* value is monotone in the pattern for positives */
        uint16_t mid = (uint16_t)((lo + hi) / 2);
        if (value(mid) <= a) lo = mid; else hi = mid;
    }
    double dl = a - value(lo), dh = value(hi) - a;
    uint16_t r = dl < dh ? lo : dh < dl ? hi : ((lo & 1) ? hi : lo);
    return (uint16_t)(r | (neg ? 0x8000 : 0));
}

static void check_dtype(const char *name, double (*value)(uint16_t), uint16_t max_finite,
                        uint16_t (*to)(float), float (*from)(uint16_t)) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = from((uint16_t)h);
        double ref = value((uint16_t)h);
        if (isnan(ref)) {
            if (!isnan(f)) bad++;
            uint16_t back = to(f);
            if (!isnan(from(back))) bad++;
            continue;
        }
        if ((double)f != ref || !signbit(f) != !signbit(ref)) bad++;
        if (to(f) != (uint16_t)h) bad++; /* exact round trip */
        /* the neighbourhood: midpoints and near-midpoints must round per RNE */
        if ((h & 0x7fff) < max_finite) {
            double next = value((uint16_t)(h + 1));
            double mid = (ref + next) / 2;
            float probes[3] = {(float)mid, nextafterf((float)mid, -INFINITY), nextafterf((float)mid, INFINITY)};
            for (int k = 0; k < 3; k++) {
                if ((double)probes[k] != mid && k == 0) continue; /* midpoint not an f32 */
                uint16_t want = ref_round(value, max_finite, (double)probes[k]);
                uint16_t got = to(probes[k]);
                if (got != want) {
                    bad++;
                    if (bad < 5)
                        fprintf(stderr, "%s: %a -> 0x%04x, expected 0x%04x\n", name, probes[k], got, want);
                }
            }
        }
    }
    ZT_CHECK(bad == 0, "%s: %d mismatches over all 2^16 patterns", name, bad);
    /* random f32 patterns */
    bad = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = (uint32_t)zt_rand();
        float x;
        memcpy(&x, &u, 4);
        uint16_t got = to(x);
        if (isnan(x)) {
            if (!isnan(from(got))) bad++;
            continue;
        }
        if (got != ref_round(value, max_finite, (double)x)) bad++;
    }
    ZT_CHECK(bad == 0, "%s: %d mismatches on random f32 patterns", name, bad);
}

int main(void) {
    zt_init("test_dtype");
    check_dtype("f16", f16_value, 0x7bff, zf_f32_to_f16, zf_f16_to_f32);
    check_dtype("bf16", bf16_value, 0x7f7f, zf_f32_to_bf16, zf_bf16_to_f32);
    ZT_CHECK(zf_f32_to_bf16(INFINITY) == 0x7f80, "bf16 inf");
    ZT_CHECK(zf_f32_to_f16(-INFINITY) == 0xfc00, "f16 -inf");
    ZT_CHECK(zf_f32_to_f16(65520.0f) == 0x7c00, "f16 65520 rounds to inf");
    ZT_CHECK(zf_f32_to_f16(65519.99f) == 0x7bff, "f16 just under 65520 stays max");
    ZT_CHECK(zf_f32_to_f16(5.9604644775390625e-8f) == 0x0001, "f16 smallest subnormal");
    ZT_CHECK(zf_f32_to_f16(2.98023223876953125e-8f) == 0x0000, "f16 half of smallest subnormal ties to 0");
    ZT_CHECK(zf_f32_to_f16(-0.0f) == 0x8000, "f16 -0");
    zf_dtype d;
    ZT_CHECK(zf_dtype_parse("bf16", &d) == ZF_OK && d == ZF_DTYPE_BF16, "parse bf16");
    ZT_CHECK(zf_dtype_parse("float", &d) == ZF_ERR_INVALID_ARG, "parse bad dtype is an error");
    ZT_CHECK(strstr(zf_last_error(), "float") != NULL, "message names the bad value: %s", zf_last_error());
    return zt_finish();
}
