#include "cpu/selftest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"

uint64_t zf_selftest_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

void zf_selftest_fill(zf_dtype t, void *p, int64_t n, uint64_t *state, float scale) {
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = zf_selftest_next(state);
        float u = (float)((r >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f; /* [-1, 1) */
        float v = u * scale;
        switch (r & 63) { /* a few special magnitudes */
        case 0: v = 0.0f; break;
        case 1: v = u * 1e-6f; break;
        case 2: v = u * 90.0f; break;
        default: break;
        }
        zf_store(t, p, i, v);
    }
}

double zf_ulp_distance(zf_dtype t, float a, float b) {
    if (zf_f32_bits(a) == zf_f32_bits(b)) return 0.0;
    if (isnan(a) || isnan(b)) return (isnan(a) && isnan(b)) ? 0.0 : INFINITY;
    double m = fabs((double)a) > fabs((double)b) ? fabs((double)a) : fabs((double)b);
    int mant = t == ZF_DTYPE_F32 ? 24 : t == ZF_DTYPE_F16 ? 11 : 8;
    int min_exp = t == ZF_DTYPE_F32 ? -126 : t == ZF_DTYPE_F16 ? -14 : -126;
    int e;
    frexp(m, &e);
    if (e - 1 < min_exp) e = min_exp + 1;
    double ulp = ldexp(1.0, e - mant);
    return fabs((double)a - (double)b) / ulp;
}

/* The reference each elementwise op is checked against: the scalar stock
 * kernel (for the fused ops, the scalar exact kernel, which the unit tests
 * hold bit-identical to the composition). */
static void (*reference_for(zf_op op))(void) {
    switch (op) {
    case ZF_OP_ADD: return (void (*)(void))zf_scalar_add;
    case ZF_OP_MUL: return (void (*)(void))zf_scalar_mul;
    case ZF_OP_SILU: return (void (*)(void))zf_scalar_silu;
    case ZF_OP_SILU_VJP: return (void (*)(void))zf_scalar_silu_vjp;
    case ZF_OP_SWIGLU: return (void (*)(void))zf_scalar_swiglu_exact;
    case ZF_OP_SWIGLU_VJP: return (void (*)(void))zf_scalar_swiglu_vjp_exact;
    default: return NULL;
    }
}

static void run(zf_op op, void (*fn)(void), zf_dtype t, void *const *in, void *const *out, int64_t n) {
    switch (op) {
    case ZF_OP_SILU: ((zf_unary_fn)fn)(t, in[0], out[0], n, 0); break;
    case ZF_OP_SWIGLU_VJP: ((zf_swiglu_vjp_fn)fn)(t, in[0], in[1], in[2], out[0], out[1], n, 0); break;
    default: ((zf_binary_fn)fn)(t, in[0], in[1], out[0], n, 0); break;
    }
}

int zf_cpu_selftest_elementwise(const zf_variant *v, char *msg, size_t msg_size) {
    static const int64_t sizes[] = {1, 7, 67, 1031};
    const int64_t nmax = 1031;
    void (*ref)(void) = reference_for(v->op);
    if (!ref) { snprintf(msg, msg_size, "no reference for op"); return 1; }
    int n_out = v->op == ZF_OP_SWIGLU_VJP ? 2 : 1;
    void *in[3], *got[2], *want[2];
    for (int k = 0; k < 3; k++) in[k] = malloc(nmax * 4);
    for (int k = 0; k < 2; k++) { got[k] = malloc(nmax * 4); want[k] = malloc(nmax * 4); }
    int fail = 0;
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)v->op;
    for (int dt = 0; dt < 3 && !fail; dt++) {
        zf_dtype t = (zf_dtype)dt;
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes && !fail; si++) {
            int64_t n = sizes[si];
            for (int k = 0; k < 3; k++) zf_selftest_fill(t, in[k], n, &rng, 6.0f);
            for (int k = 0; k < 2; k++) { memset(got[k], 0x7f, nmax * 4); memset(want[k], 0x7f, nmax * 4); }
            run(v->op, v->fn, t, in, got, n);
            run(v->op, ref, t, in, want, n);
            for (int k = 0; k < n_out && !fail; k++)
                for (int64_t i = 0; i < n && !fail; i++) {
                    float a = zf_load(t, got[k], i), b = zf_load(t, want[k], i);
                    double d = zf_ulp_distance(t, a, b);
                    /* fast keeps intermediates in f32: within 2 ulp of T of the exact result
                     * (4 for f32, where both differ only by f32 rounding) */
                    double bound = v->fidelity == ZF_FIDELITY_FAST ? (t == ZF_DTYPE_F32 ? 4.0 : 2.0) : 0.0;
                    if (!(d <= bound) && v->fidelity == ZF_FIDELITY_FAST && isfinite(d)) {
                        /* where exact rounded silu or d*u into T's subnormals, the two differ by
                         * up to a subnormal step times (2 + the factors that multiply it: u, d) */
                        double tiny = t == ZF_DTYPE_F16 ? 0x1p-24 : t == ZF_DTYPE_BF16 ? 0x1p-133 : 0x1p-149;
                        double other = v->op == ZF_OP_SILU ? 0.0 : fabs(zf_load(t, in[1], i));
                        if (v->op == ZF_OP_SWIGLU_VJP) other += fabs(zf_load(t, in[2], i));
                        double diff = fabs((double)a - (double)b);
                        if (diff <= bound * (diff / d) + tiny * (2.0 + other)) d = 0.0;
                    }
                    if (!(d <= bound)) {
                        snprintf(msg, msg_size, "%s n=%lld out%d[%lld]: got %.9g, stock %.9g (%.1f ulp > %.1f)",
                                 zf_dtype_name(t), (long long)n, k, (long long)i, a, b, d, bound);
                        fail = 1;
                    }
                }
        }
    }
    for (int k = 0; k < 3; k++) free(in[k]);
    for (int k = 0; k < 2; k++) { free(got[k]); free(want[k]); }
    return fail;
}
