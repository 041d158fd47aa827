/* Self-test of the norm variants: a few fresh rows per dtype, compared with
 * the scalar kernels (stock and exact bit for bit, including the d_w partial
 * sums; fast within the bounds of docs/NUMERICS.md section 7). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "cpu/norm.h"
#include "cpu/selftest.h"

#define ST_MAX 1031
#define ST_ROWS 2 /* rows per case: the d_w partial accumulates over both */

enum { IN_X, IN_R, IN_W, IN_DY, IN_DH, N_IN };
enum { GOT_A, GOT_B, WANT_A, WANT_B, TMP, N_OUT };

typedef struct st_bufs {
    void *in[N_IN], *out[N_OUT];
    float dw_got[ST_MAX], dw_want[ST_MAX];
} st_bufs;

/* Last-place unit of T at |v| (subnormal spacing below T's normal range). */
static double ulp_of(zf_dtype t, float v) {
    int mant = t == ZF_DTYPE_F32 ? 24 : t == ZF_DTYPE_F16 ? 11 : 8;
    int min_exp = t == ZF_DTYPE_F16 ? -14 : -126;
    int e;
    frexp(fabs((double)v), &e);
    if (e - 1 < min_exp) e = min_exp + 1;
    return ldexp(1.0, e - mant);
}

/* Writes the first mismatch into msg; bound_of(i) is the allowed |got - want|. */
static int compare(zf_dtype t, const char *what, const void *got, const void *want, int64_t n, double ulps,
                   const void *extra, char *msg, size_t msg_size) {
    for (int64_t i = 0; i < n; i++) {
        float a = zf_load(t, got, i), b = zf_load(t, want, i);
        if (zf_f32_bits(a) == zf_f32_bits(b)) continue;
        double bound = ulps * ulp_of(t, fabsf(a) > fabsf(b) ? a : b);
        if (extra) bound += ulp_of(t, zf_load(t, extra, i)); /* a dropped intermediate rounding */
        if (!(fabs((double)a - (double)b) <= bound)) {
            snprintf(msg, msg_size, "%s %s n=%lld [%lld]: got %.9g, reference %.9g", zf_dtype_name(t), what,
                     (long long)n, (long long)i, a, b);
            return 1;
        }
    }
    return 0;
}

static int compare_dw(const st_bufs *b, int64_t n, char *msg, size_t msg_size) {
    for (int64_t i = 0; i < n; i++)
        if (zf_f32_bits(b->dw_got[i]) != zf_f32_bits(b->dw_want[i])) {
            snprintf(msg, msg_size, "n=%lld d_w partial [%lld]: got %.9g, reference %.9g", (long long)n, (long long)i,
                     b->dw_got[i], b->dw_want[i]);
            return 1;
        }
    return 0;
}

/* The fast bound: 4 ulp for f32, 2 ulp of T for f16/bf16 (docs/NUMERICS.md). */
static double fast_ulps(zf_dtype t) { return t == ZF_DTYPE_F32 ? 4.0 : 2.0; }

static int check_forward(const zf_variant *v, zf_dtype t, st_bufs *b, int64_t n, char *msg, size_t msg_size) {
    size_t es = zf_dtype_size(t);
    const float eps = 1e-5f;
    for (int row = 0; row < ST_ROWS; row++) {
        size_t off = (size_t)row * (size_t)n * es;
        const char *x = (const char *)b->in[IN_X] + off, *r = (const char *)b->in[IN_R] + off;
        char *ga = (char *)b->out[GOT_A] + off, *gb = (char *)b->out[GOT_B] + off;
        char *wa = (char *)b->out[WANT_A] + off, *wb = (char *)b->out[WANT_B] + off;
        if (v->op == ZF_OP_RMS_NORM) {
            ((zf_rms_norm_fn)v->fn)(t, x, b->in[IN_W], eps, ga, n, row);
            zf_scalar_rms_norm(t, x, b->in[IN_W], eps, wa, n, 0);
            if (compare(t, "y", ga, wa, n, 0.0, NULL, msg, msg_size)) return 1;
            continue;
        }
        ((zf_add_rms_norm_fn)v->fn)(t, x, r, b->in[IN_W], eps, ga, gb, n, row); /* row 1 may stream */
        zf_scalar_add(t, x, r, wb, n, 0); /* the stock composition, row by row */
        zf_scalar_rms_norm(t, wb, b->in[IN_W], eps, wa, n, 0);
        double ulps = v->fidelity == ZF_FIDELITY_FAST ? fast_ulps(t) : 0.0;
        if (compare(t, "h", gb, wb, n, 0.0, NULL, msg, msg_size) ||
            compare(t, "y", ga, wa, n, ulps, NULL, msg, msg_size))
            return 1;
    }
    return 0;
}

static int check_vjp(const zf_variant *v, zf_dtype t, st_bufs *b, int64_t n, char *msg, size_t msg_size) {
    size_t es = zf_dtype_size(t);
    const float eps = 1e-5f;
    int fused = v->op == ZF_OP_ADD_RMS_NORM_VJP;
    memset(b->dw_got, 0, sizeof b->dw_got);
    memset(b->dw_want, 0, sizeof b->dw_want);
    for (int row = 0; row < ST_ROWS; row++) {
        size_t off = (size_t)row * (size_t)n * es;
        const char *x = (const char *)b->in[IN_X] + off, *dy = (const char *)b->in[IN_DY] + off;
        const char *dh = fused ? (const char *)b->in[IN_DH] + off : NULL;
        char *got = (char *)b->out[GOT_A] + off, *want = (char *)b->out[WANT_A] + off;
        char *dhn = (char *)b->out[TMP] + off;
        ((zf_norm_vjp_fn)v->fn)(t, x, b->in[IN_W], eps, dy, dh, got, b->dw_got, n);
        /* stock: rms_norm_vjp, then add d_h */
        zf_scalar_rms_norm_vjp(t, x, b->in[IN_W], eps, dy, NULL, fused ? dhn : want, b->dw_want, n);
        if (fused) zf_scalar_add(t, dhn, dh, want, n, 0);
        int fast = v->fidelity == ZF_FIDELITY_FAST;
        if (compare(t, "d_x", got, want, n, fast ? 1.0 : 0.0, fast ? dhn : NULL, msg, msg_size)) return 1;
    }
    return compare_dw(b, n, msg, msg_size);
}

int zf_cpu_selftest_norm(const zf_variant *v, char *msg, size_t msg_size) {
    static const int64_t sizes[] = {1, 7, 67, 300, ST_MAX};
    int vjp = v->op == ZF_OP_RMS_NORM_VJP || v->op == ZF_OP_ADD_RMS_NORM_VJP;
    if (!v->fn || !(vjp || v->op == ZF_OP_RMS_NORM || v->op == ZF_OP_ADD_RMS_NORM)) {
        snprintf(msg, msg_size, "not a norm kernel");
        return 1;
    }
    st_bufs *b = calloc(1, sizeof *b);
    int fail = !b;
    for (int k = 0; b && k < N_IN; k++) fail |= !(b->in[k] = malloc(ST_ROWS * ST_MAX * 4));
    for (int k = 0; b && k < N_OUT; k++) fail |= !(b->out[k] = malloc(ST_ROWS * ST_MAX * 4));
    if (fail) snprintf(msg, msg_size, "no memory for the self-test");
    uint64_t rng = 0x2545f4914f6cdd1dull ^ (uint64_t)v->op;
    for (int dt = 0; dt < 3 && !fail; dt++) {
        zf_dtype t = (zf_dtype)dt;
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes && !fail; si++) {
            int64_t n = sizes[si];
            for (int k = 0; k < N_IN; k++) zf_selftest_fill(t, b->in[k], ST_ROWS * n, &rng, k == IN_W ? 2.0f : 6.0f);
            for (int k = 0; k < N_OUT; k++) memset(b->out[k], 0x7f, ST_ROWS * ST_MAX * 4);
            fail = vjp ? check_vjp(v, t, b, n, msg, msg_size) : check_forward(v, t, b, n, msg, msg_size);
        }
    }
    for (int k = 0; b && k < N_IN; k++) free(b->in[k]);
    for (int k = 0; b && k < N_OUT; k++) free(b->out[k]);
    free(b);
    return fail;
}
