/* RoPE on the CPU: the cos/sin table (zf_rope_table, float64 functions of our
 * own, rounded once to f32) and the rotation op. docs/NUMERICS.md §9. */
#include <stdint.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "cpu/model_ops.h"

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

zf_status zf_rope_table(float theta, int64_t dims, int64_t p0, zf_tensor *cs) {
    if (!(theta > 1.0f) || theta > 3.0e38f)
        return zf_error(ZF_ERR_INVALID_ARG, "[rope_table] theta = %g; expected a finite value > 1", (double)theta);
    if (dims < 2 || dims % 2 || dims > ZF_ROPE_MAX_DIMS)
        return zf_error(ZF_ERR_INVALID_ARG, "[rope_table] dims = %lld; expected an even number in 2..%d",
                        (long long)dims, ZF_ROPE_MAX_DIMS);
    if (p0 < 0 || p0 > ((int64_t)1 << 40))
        return zf_error(ZF_ERR_INVALID_ARG, "[rope_table] p0 = %lld; expected 0 .. 2^40", (long long)p0);
    ZF_TRY(zf_check_tensor("rope_table", "cs", cs));
    if (cs->dtype != ZF_DTYPE_F32 || cs->device != ZF_DEVICE_CPU || cs->ndim != 3 || cs->shape[1] != dims / 2 ||
        cs->shape[2] != 2 || cs->stride[1] != 2)
        return zf_error(ZF_ERR_SHAPE, "[rope_table] cs must be an f32 CPU tensor [n, %lld, 2] with contiguous rows",
                        (long long)(dims / 2));
    double inv_freq[ZF_ROPE_MAX_DIMS / 2], inv[21];
    inv_factorials(inv);
    double ln_theta = log_f64((double)theta);
    for (int64_t i = 0; i < dims / 2; i++) inv_freq[i] = exp_f64(-(((double)(2 * i) / (double)dims) * ln_theta));
    for (int64_t p = 0; p < cs->shape[0]; p++) {
        float *row = (float *)cs->data + p * cs->stride[0];
        for (int64_t i = 0; i < dims / 2; i++) {
            double s, c;
            sincos_f64((double)(p0 + p) * inv_freq[i], inv, &s, &c);
            row[2 * i] = (float)c; /* round to nearest even, once */
            row[2 * i + 1] = (float)s;
        }
    }
    return ZF_OK;
}

/* ---- the rotation ----------------------------------------------------------- */

void zf_scalar_rope(zf_dtype t, const void *x, const float *cs, int neox, void *out, int64_t n) {
    int64_t h = n / 2;
    for (int64_t i = 0; i < h; i++) {
        int64_t ia = neox ? i : 2 * i, ib = neox ? i + h : 2 * i + 1;
        float a = zf_load(t, x, ia), b = zf_load(t, x, ib), c = cs[2 * i], s = cs[2 * i + 1];
        zf_store(t, out, ia, a * c - b * s);
        zf_store(t, out, ib, a * s + b * c);
    }
}

typedef struct rope_job {
    const zf_tensor *x, *cs;
    zf_tensor *out;
    zf_rope_fn fn;
    int neox;
} rope_job;

static void rope_task(void *ctx, int64_t row) {
    rope_job *j = ctx;
    int64_t heads = j->x->shape[1], i = row / heads, h = row % heads;
    size_t es = zf_dtype_size(j->x->dtype);
    const char *xp = (const char *)j->x->data + (size_t)(i * j->x->stride[0] + h * j->x->stride[1]) * es;
    char *op = (char *)j->out->data + (size_t)(i * j->out->stride[0] + h * j->out->stride[1]) * es;
    j->fn(j->x->dtype, xp, (const float *)j->cs->data + i * j->cs->stride[0], j->neox, op, j->x->shape[2]);
}

zf_status zf_cpu_rope(const zf_tensor *x, const zf_tensor *cs, int neox, zf_tensor *out, const zf_opts *o) {
    ZF_TRY(zf_check_float("rope", "x", x));
    ZF_TRY(zf_check_float("rope", "out", out));
    ZF_TRY(zf_check_tensor("rope", "cs", cs));
    if (x->ndim != 3)
        return zf_error(ZF_ERR_SHAPE, "[rope] x has %d axes; expected [tokens, heads, head_dim]", x->ndim);
    if (x->shape[2] % 2)
        return zf_error(ZF_ERR_SHAPE, "[rope] head_dim %lld is odd; expected an even size", (long long)x->shape[2]);
    ZF_TRY(zf_check_same("rope", "x", x, "out", out));
    ZF_TRY(zf_check_alias("rope", "out", out, "x", x));
    if (cs->dtype != ZF_DTYPE_F32 || cs->device != x->device || cs->ndim != 3 || cs->shape[0] != x->shape[0] ||
        cs->shape[1] != x->shape[2] / 2 || cs->shape[2] != 2 || cs->stride[1] != 2)
        return zf_error(ZF_ERR_SHAPE, "[rope] cs must be f32 [%lld, %lld, 2] (one table row per token, from "
                        "zf_rope_table) on x's device", (long long)x->shape[0], (long long)(x->shape[2] / 2));
    if (neox != 0 && neox != 1)
        return zf_error(ZF_ERR_INVALID_ARG, "[rope] neox = %d; expected 0 (adjacent pairs) or 1 (halves)", neox);
    if (x->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[rope] tensor is on a device with no backend loaded here");
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_ROPE, ZF_DEVICE_CPU, o ? o->fidelity : ZF_FIDELITY_AUTO, &v));
    rope_job j = {.x = x, .cs = cs, .out = out, .fn = (zf_rope_fn)v->fn, .neox = neox};
    int64_t rows = x->shape[0] * x->shape[1];
    int64_t bytes = zf_tensor_numel(x) * (int64_t)zf_dtype_size(x->dtype) * 3;
    if (zf_tasks_for_bytes(bytes, 2) == 1)
        for (int64_t r = 0; r < rows; r++) rope_task(&j, r);
    else
        zf_parallel_for(rows, rope_task, &j);
    return ZF_OK;
}
