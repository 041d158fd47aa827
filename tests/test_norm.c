/* rms_norm and add_rms_norm, forward and VJP, on the CPU: every ISA path
 * gives the scalar bits; the fused exact variants give the stock
 * composition's bits (y, h, d_x, d_w); d_w is the same for 1 and N threads;
 * results against float64 (forward, analytic VJP, finite differences); fast
 * variants within their stated bounds; in-place and strided rows; every
 * bad-input case leaves the outputs untouched. ZF_TEST_QUICK=1 shrinks sizes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/registry.h"
#include "cpu/kernels.h"
#include "cpu/norm.h"
#include "cpu/selftest.h"
#include "harness.h"

/* Stated bounds against float64 (docs/NUMERICS.md section 7 quotes them).
 * e_inv(n): the relative error of inv in units of 2^-24, worst case: the L256
 * sum of squares of positive terms errs by at most (ceil(n/256) + 8) units
 * (the fmas of a lane, then the tree), halved by the square root, plus the
 * roundings of sqrt and the division. On f32 rows it dominates. */
static double e_inv(int64_t n) { return (double)((n + 255) / 256 + 8) / 2.0 + 1.5; }
static double unit_of(zf_dtype t) { return t == ZF_DTYPE_F32 ? 0x1p-24 : t == ZF_DTYPE_F16 ? 0x1p-11 : 0x1p-8; }
/* e_inv in units of T's rounding unit */
static double inv_units(zf_dtype t, int64_t n) { return e_inv(n) * 0x1p-24 / unit_of(t); }
/* Forward, ulp of T at the exact value: stock/exact round twice (x*inv, then
 * *w), fast once (f32: two f32 products, either way). */
static double fwd_bound(zf_dtype t, int64_t n) { return (t == ZF_DTYPE_F32 ? 2.0 : 2.0) + inv_units(t, n); }
static double fast_bound(zf_dtype t, int64_t n) { return (t == ZF_DTYPE_F32 ? 2.0 : 1.0) + inv_units(t, n); }
/* VJP: |d_x - exact| / (|inv*g| + |x|*inv^3*sum|g x|/n + |d_h|) in units of
 * T's rounding unit: the roundings of T(a - b) and + d_h, inv three times
 * over (c holds inv^3), and the L256 dot. */
static double vjp_bound(zf_dtype t, int64_t n) {
    return 2.0 + (3.0 * e_inv(n) + (double)((n + 255) / 256 + 8) + 4.0) * 0x1p-24 / unit_of(t);
}
/* d_w: |d_w - exact| / sum_r |d_y * x * inv|: T(x*inv) and the store to T,
 * inv, the f32 fmas over rows and the sum of the 32-row chunks. */
static double dw_bound(zf_dtype t, int64_t n, int64_t rows) {
    return 2.0 + (e_inv(n) + (double)rows + (double)((rows + 31) / 32) + 2.0) * 0x1p-24 / unit_of(t);
}

static int quick;
static zf_cpu_isa isa_max;
static const zf_dtype k_dtypes[3] = {ZF_DTYPE_F32, ZF_DTYPE_F16, ZF_DTYPE_BF16};

/* worst observed errors, printed at the end */
static double worst_fwd[3], worst_fast[3], worst_vjp[3], worst_dw[3];

/* ulp of T at |v| (T's subnormal spacing below its normal range) */
static double ulp_of(zf_dtype t, double v) {
    int mant = t == ZF_DTYPE_F32 ? 24 : t == ZF_DTYPE_F16 ? 11 : 8;
    int min_exp = t == ZF_DTYPE_F16 ? -14 : -126;
    int e;
    frexp(fabs(v), &e);
    if (e - 1 < min_exp) e = min_exp + 1;
    return ldexp(1.0, e - mant);
}
/* Below T's normal range a rounding into T errs by up to half a subnormal
 * step, absolutely rather than relatively; the relative bounds above hold for
 * what is left after that allowance. */
static double past_subnormal(zf_dtype t, double err) {
    double half_step = 0.5 * ulp_of(t, 0.0);
    return err > half_step ? err - half_step : 0.0;
}

/* ---- row buffers ------------------------------------------------------------ */

typedef struct rowbuf {
    zt_buf b;
    zf_tensor t;
    int64_t rows, n, stride;
    size_t es;
} rowbuf;

/* rows x n, row stride `stride` (>= n): a strided view when stride > n */
static rowbuf rb_new(zf_dtype t, int64_t rows, int64_t n, int64_t stride) {
    rowbuf r = {.rows = rows, .n = n, .stride = stride, .es = zf_dtype_size(t)};
    r.b = zt_alloc(t, (rows - 1) * stride + n);
    r.t = zf_tensor_2d(r.b.p, t, rows, n);
    r.t.stride[0] = stride;
    return r;
}
/* a 1-d [n] vector (w) */
static rowbuf rb_vec(zf_dtype t, int64_t n) {
    rowbuf r = rb_new(t, 1, n, n);
    r.t = zf_tensor_1d(r.b.p, t, n);
    return r;
}
static rowbuf rb_like(const rowbuf *a) { return rb_new(a->t.dtype, a->rows, a->n, a->stride); }
static void rb_fill(rowbuf *r, float scale) { zt_fill(r->t.dtype, r->b.p, (r->rows - 1) * r->stride + r->n, scale); }
static void *rb_row(const rowbuf *r, int64_t row) { return (char *)r->b.p + (size_t)(row * r->stride) * r->es; }
static float rb_get(const rowbuf *r, int64_t row, int64_t i) { return zt_get(r->t.dtype, rb_row(r, row), i); }
static void rb_free(rowbuf *r) { zt_free(&r->b); }
static void rb_copy(rowbuf *dst, const rowbuf *src) {
    for (int64_t row = 0; row < src->rows; row++) memcpy(rb_row(dst, row), rb_row(src, row), (size_t)src->n * src->es);
}

/* first (row, i) where a and b differ in bits; 1 if any */
static int rb_differ(const rowbuf *a, const rowbuf *b, int64_t *row, int64_t *col) {
    for (int64_t r = 0; r < a->rows; r++) {
        int64_t i = zt_first_diff(a->t.dtype, rb_row(a, r), rb_row(b, r), a->n);
        if (i >= 0) { *row = r; *col = i; return 1; }
    }
    return 0;
}

/* a and b hold the same bits in every row, and a's guards are intact */
static void check_same(const rowbuf *a, const rowbuf *b, const char *what) {
    int64_t r, c;
    int d = rb_differ(a, b, &r, &c);
    ZT_CHECK(!d, "%s: %s differ at row %lld [%lld]: %.9g vs %.9g", zf_dtype_name(a->t.dtype), what, (long long)r,
             (long long)c, d ? rb_get(a, r, c) : 0.0f, d ? rb_get(b, r, c) : 0.0f);
    ZT_CHECK(zt_guards_ok(&a->b), "%s: guard bytes of %s overwritten", zf_dtype_name(a->t.dtype), what);
}

static char g_label[400];
#define CHECK_SAME(a, b, ...) (snprintf(g_label, sizeof g_label, __VA_ARGS__), check_same(a, b, g_label))

static zf_opts fid(zf_fidelity f) { return (zf_opts){.fidelity = f, .stream = NULL}; }

/* ---- float64 references ------------------------------------------------------- */

static double ref_inv(const double *x, int64_t n, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    return 1.0 / sqrt(ss / (double)n + (double)eps);
}

/* y[i] = x[i] * inv * w[i]: the exact function on the given values */
static void ref_forward(const double *x, const double *w, int64_t n, float eps, double *y) {
    double inv = ref_inv(x, n, eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
}

/* analytic VJP of one row: d_x, the d_x error scale, and d_w terms added */
static void ref_vjp(const double *x, const double *w, const double *dy, int64_t n, float eps, double *dx,
                    double *scale, double *dw, double *dw_abs) {
    double inv = ref_inv(x, n, eps), dot = 0, adot = 0;
    for (int64_t i = 0; i < n; i++) {
        dot += dy[i] * w[i] * x[i];
        adot += fabs(dy[i] * w[i] * x[i]);
    }
    double inv3 = inv * inv * inv;
    for (int64_t i = 0; i < n; i++) {
        double g = dy[i] * w[i];
        dx[i] = inv * g - x[i] * inv3 * dot / (double)n;
        scale[i] = fabs(inv * g) + fabs(x[i]) * inv3 * adot / (double)n;
        dw[i] += dy[i] * x[i] * inv;
        dw_abs[i] += fabs(dy[i] * x[i] * inv);
    }
}

static void row_f64(const rowbuf *r, int64_t row, double *out) {
    for (int64_t i = 0; i < r->n; i++) out[i] = rb_get(r, row, i);
}

/* ---- ISA loop ------------------------------------------------------------------ */

#define FOR_EACH_ISA(isa) for (zf_cpu_isa isa = ZF_CPU_ISA_SCALAR; isa <= isa_max; isa = (zf_cpu_isa)(isa + 1))
static void use_isa(zf_cpu_isa isa) { ZT_OK(zf_set_cpu_isa(isa)); }

/* ---- forward --------------------------------------------------------------------- */

typedef struct fwd_case {
    zf_dtype t;
    int64_t rows, n, stride;
    float eps;
} fwd_case;

/* rms_norm: every ISA == scalar; scalar against float64. */
static void check_rms_norm(const fwd_case *c, const rowbuf *x, const rowbuf *w) {
    rowbuf want = rb_new(c->t, c->rows, c->n, c->stride), got = rb_like(&want);
    use_isa(ZF_CPU_ISA_SCALAR);
    ZT_OK(zf_rms_norm(&x->t, &w->t, c->eps, &want.t, NULL));
    FOR_EACH_ISA(isa) {
        if (isa == ZF_CPU_ISA_SCALAR) continue;
        use_isa(isa);
        zt_poison(&got.b);
        ZT_OK(zf_rms_norm(&x->t, &w->t, c->eps, &got.t, NULL));
        CHECK_SAME(&got, &want, "rms_norm %s n=%lld rows=%lld", zf_cpu_isa_name(isa), (long long)c->n,
                   (long long)c->rows);
    }
    double *xd = malloc(sizeof(double) * 3 * (size_t)c->n), *wd = xd + c->n, *yd = wd + c->n;
    row_f64(w, 0, wd);
    double worst = 0;
    for (int64_t r = 0; r < c->rows; r++) {
        row_f64(x, r, xd);
        ref_forward(xd, wd, c->n, c->eps, yd);
        for (int64_t i = 0; i < c->n; i++) {
            double e = fabs(rb_get(&want, r, i) - yd[i]) / ulp_of(c->t, yd[i]);
            if (e > worst) worst = e;
        }
    }
    double bound = fwd_bound(c->t, c->n);
    ZT_CHECK(worst <= bound, "%s rms_norm n=%lld: %.2f ulp from float64 > %.1f", zf_dtype_name(c->t),
             (long long)c->n, worst, bound);
    if (worst > worst_fwd[c->t]) worst_fwd[c->t] = worst;
    free(xd);
    rb_free(&want);
    rb_free(&got);
}

/* add_rms_norm: exact == add + rms_norm (y and h), fast h == add, fast y
 * within its bound of float64 of the unrounded sum; every ISA == scalar. */
static void check_add_rms_norm(const fwd_case *c, const rowbuf *x, const rowbuf *res, const rowbuf *w) {
    rowbuf hs = rb_new(c->t, c->rows, c->n, c->stride), ys = rb_like(&hs);
    rowbuf h = rb_like(&hs), y = rb_like(&hs), yf0 = rb_like(&hs);
    zf_opts exact = fid(ZF_FIDELITY_EXACT), fast = fid(ZF_FIDELITY_FAST), stock = fid(ZF_FIDELITY_STOCK);
    use_isa(ZF_CPU_ISA_SCALAR);
    ZT_OK(zf_add(&x->t, &res->t, &hs.t, NULL));
    ZT_OK(zf_rms_norm(&hs.t, &w->t, c->eps, &ys.t, NULL));
    FOR_EACH_ISA(isa) {
        use_isa(isa);
        const char *in = zf_cpu_isa_name(isa);
        zt_poison(&h.b);
        zt_poison(&y.b);
        ZT_OK(zf_add_rms_norm(&x->t, &res->t, &w->t, c->eps, &y.t, &h.t, &stock));
        CHECK_SAME(&h, &hs, "stock h %s n=%lld", in, (long long)c->n);
        CHECK_SAME(&y, &ys, "stock y %s n=%lld", in, (long long)c->n);
        zt_poison(&h.b);
        zt_poison(&y.b);
        ZT_OK(zf_add_rms_norm(&x->t, &res->t, &w->t, c->eps, &y.t, &h.t, &exact));
        CHECK_SAME(&h, &hs, "exact h %s n=%lld rows=%lld", in, (long long)c->n, (long long)c->rows);
        CHECK_SAME(&y, &ys, "exact y %s n=%lld rows=%lld", in, (long long)c->n, (long long)c->rows);
        zt_poison(&h.b);
        zt_poison(&y.b);
        ZT_OK(zf_add_rms_norm(&x->t, &res->t, &w->t, c->eps, &y.t, &h.t, &fast));
        CHECK_SAME(&h, &hs, "fast h %s n=%lld", in, (long long)c->n);
        if (isa == ZF_CPU_ISA_SCALAR) rb_copy(&yf0, &y);
        else CHECK_SAME(&y, &yf0, "fast y %s (vs scalar fast) n=%lld", in, (long long)c->n);
    }
    /* fast against float64 of the unrounded x + r */
    double *hd = malloc(sizeof(double) * 4 * (size_t)c->n), *wd = hd + c->n, *yd = wd + c->n, *xd = yd + c->n;
    row_f64(w, 0, wd);
    double worst = 0, bound = fast_bound(c->t, c->n);
    for (int64_t r = 0; r < c->rows; r++) {
        row_f64(x, r, xd);
        row_f64(res, r, hd);
        for (int64_t i = 0; i < c->n; i++) hd[i] += xd[i];
        ref_forward(hd, wd, c->n, c->eps, yd);
        for (int64_t i = 0; i < c->n; i++) {
            double e = fabs(rb_get(&yf0, r, i) - yd[i]) / ulp_of(c->t, yd[i]);
            if (e > worst) worst = e;
        }
    }
    ZT_CHECK(worst <= bound, "%s add_rms_norm fast n=%lld: %.2f ulp from float64 > %.1f", zf_dtype_name(c->t),
             (long long)c->n, worst, bound);
    if (worst > worst_fast[c->t]) worst_fast[c->t] = worst;
    free(hd);
    rb_free(&hs);
    rb_free(&ys);
    rb_free(&h);
    rb_free(&y);
    rb_free(&yf0);
}

/* In place: y = x; h = x; h = residual; y = residual with h = x. */
static void check_in_place(const fwd_case *c, const rowbuf *x, const rowbuf *res, const rowbuf *w) {
    rowbuf ys = rb_new(c->t, c->rows, c->n, c->stride), hs = rb_like(&ys), a = rb_like(&ys), b = rb_like(&ys);
    rowbuf y = rb_like(&ys);
    ZT_OK(zf_rms_norm(&x->t, &w->t, c->eps, &ys.t, NULL));
    rb_copy(&a, x);
    ZT_OK(zf_rms_norm(&a.t, &w->t, c->eps, &a.t, NULL));
    CHECK_SAME(&a, &ys, "rms_norm in place (y = x) n=%lld", (long long)c->n);
    for (int f = ZF_FIDELITY_EXACT; f <= ZF_FIDELITY_FAST; f++) {
        zf_opts o = fid((zf_fidelity)f);
        ZT_OK(zf_add_rms_norm(&x->t, &res->t, &w->t, c->eps, &ys.t, &hs.t, &o));
        rb_copy(&a, x); /* h = x */
        ZT_OK(zf_add_rms_norm(&a.t, &res->t, &w->t, c->eps, &y.t, &a.t, &o));
        CHECK_SAME(&a, &hs, "%s h in place of x n=%lld", zf_fidelity_name(o.fidelity), (long long)c->n);
        CHECK_SAME(&y, &ys, "%s y with h in place of x n=%lld", zf_fidelity_name(o.fidelity), (long long)c->n);
        rb_copy(&b, res); /* h = residual */
        ZT_OK(zf_add_rms_norm(&x->t, &b.t, &w->t, c->eps, &y.t, &b.t, &o));
        CHECK_SAME(&b, &hs, "%s h in place of residual n=%lld", zf_fidelity_name(o.fidelity), (long long)c->n);
        CHECK_SAME(&y, &ys, "%s y with h in place of residual n=%lld", zf_fidelity_name(o.fidelity),
                   (long long)c->n);
        rb_copy(&a, x); /* h = x, y = residual */
        rb_copy(&b, res);
        ZT_OK(zf_add_rms_norm(&a.t, &b.t, &w->t, c->eps, &b.t, &a.t, &o));
        CHECK_SAME(&a, &hs, "%s h = x, y = residual n=%lld", zf_fidelity_name(o.fidelity), (long long)c->n);
        CHECK_SAME(&b, &ys, "%s y = residual, h = x n=%lld", zf_fidelity_name(o.fidelity), (long long)c->n);
    }
    rb_free(&ys);
    rb_free(&hs);
    rb_free(&a);
    rb_free(&b);
    rb_free(&y);
}

static void forward_case(zf_dtype t, int64_t rows, int64_t n, int strided) {
    fwd_case c = {t, rows, n, strided ? n + 3 + (int64_t)(zt_rand() % 9) : n, 1e-5f};
    if (zt_rand() % 4 == 0) c.eps = 0.0f;
    rowbuf x = rb_new(t, rows, n, c.stride), res = rb_like(&x), w = rb_vec(t, n);
    rb_fill(&x, (float)zt_uniform(0.5, 4.0));
    rb_fill(&res, (float)zt_uniform(0.5, 4.0));
    rb_fill(&w, 1.5f);
    check_rms_norm(&c, &x, &w);
    check_add_rms_norm(&c, &x, &res, &w);
    use_isa(isa_max);
    check_in_place(&c, &x, &res, &w);
    rb_free(&x);
    rb_free(&res);
    rb_free(&w);
}

/* Rows with one NaN (a signalling one with a payload), an infinity in x or
 * in the residual, or only zeros: every ISA gives the scalar bits, NaN
 * payloads included (a row has one NaN source, so no operand order can pick
 * another payload). The SIMD forward rounds such results without a NaN test
 * (docs/NUMERICS.md §2). */
static void check_special_rows(zf_dtype t, int64_t n) {
    const int64_t rows = 4;
    rowbuf x = rb_new(t, rows, n, n), res = rb_like(&x), w = rb_vec(t, n);
    rb_fill(&x, 2.0f);
    rb_fill(&res, 2.0f);
    rb_fill(&w, 1.5f);
    float inf = INFINITY;
    if (t == ZF_DTYPE_F32) {
        uint32_t snan = 0x7f800123u;
        memcpy((float *)rb_row(&x, 0) + zt_rand() % (uint64_t)n, &snan, 4);
    } else {
        ((uint16_t *)rb_row(&x, 0))[zt_rand() % (uint64_t)n] = t == ZF_DTYPE_BF16 ? 0x7fa5 : 0x7d01;
    }
    zt_set(t, rb_row(&x, 1), (int64_t)(zt_rand() % (uint64_t)n), inf);
    memset(rb_row(&x, 2), 0, (size_t)n * x.es);
    memset(rb_row(&res, 2), 0, (size_t)n * x.es);
    zt_set(t, rb_row(&res, 3), (int64_t)(zt_rand() % (uint64_t)n), -inf);
    rowbuf y0 = rb_like(&x), ye = rb_like(&x), he = rb_like(&x), yf = rb_like(&x), hf = rb_like(&x);
    rowbuf y = rb_like(&x), h = rb_like(&x);
    zf_opts exact = fid(ZF_FIDELITY_EXACT), fast = fid(ZF_FIDELITY_FAST);
    use_isa(ZF_CPU_ISA_SCALAR);
    ZT_OK(zf_rms_norm(&x.t, &w.t, 1e-5f, &y0.t, NULL));
    ZT_OK(zf_add_rms_norm(&x.t, &res.t, &w.t, 1e-5f, &ye.t, &he.t, &exact));
    ZT_OK(zf_add_rms_norm(&x.t, &res.t, &w.t, 1e-5f, &yf.t, &hf.t, &fast));
    FOR_EACH_ISA(isa) {
        if (isa == ZF_CPU_ISA_SCALAR) continue;
        use_isa(isa);
        const char *in = zf_cpu_isa_name(isa);
        ZT_OK(zf_rms_norm(&x.t, &w.t, 1e-5f, &y.t, NULL));
        CHECK_SAME(&y, &y0, "special rows: rms_norm %s n=%lld", in, (long long)n);
        ZT_OK(zf_add_rms_norm(&x.t, &res.t, &w.t, 1e-5f, &y.t, &h.t, &exact));
        CHECK_SAME(&y, &ye, "special rows: exact y %s n=%lld", in, (long long)n);
        CHECK_SAME(&h, &he, "special rows: exact h %s n=%lld", in, (long long)n);
        ZT_OK(zf_add_rms_norm(&x.t, &res.t, &w.t, 1e-5f, &y.t, &h.t, &fast));
        CHECK_SAME(&y, &yf, "special rows: fast y %s n=%lld", in, (long long)n);
        CHECK_SAME(&h, &hf, "special rows: fast h %s n=%lld", in, (long long)n);
    }
    rowbuf *all[] = {&x, &res, &w, &y0, &ye, &he, &yf, &hf, &y, &h};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++) rb_free(all[k]);
}

/* ---- VJP ------------------------------------------------------------------------- */

typedef struct vjp_out {
    rowbuf dx;
    zt_buf dw;
} vjp_out;

static void dw_differ(zf_dtype dwt, const zt_buf *a, const zt_buf *b, int64_t n, const char *what) {
    int64_t i = zt_first_diff(dwt, a->p, b->p, n);
    ZT_CHECK(i < 0, "%s: d_w (%s) differs at [%lld]: %.9g vs %.9g", what, zf_dtype_name(dwt), (long long)i,
             i >= 0 ? zt_get(dwt, a->p, i) : 0.0f, i >= 0 ? zt_get(dwt, b->p, i) : 0.0f);
    ZT_CHECK(zt_guards_ok(a), "%s: d_w guard bytes overwritten", what);
}

/* rms_norm_vjp and add_rms_norm_vjp: ISA paths == scalar, 1 thread == N
 * threads, fused exact == rms_norm_vjp + add, fast in its bound, against the
 * float64 analytic gradient. */
static void vjp_case(zf_dtype t, int64_t rows, int64_t n, int strided, zf_dtype dwt) {
    int64_t stride = strided ? n + 1 + (int64_t)(zt_rand() % 7) : n;
    float eps = 1e-5f;
    rowbuf x = rb_new(t, rows, n, stride), dy = rb_like(&x), dh = rb_like(&x), w = rb_vec(t, n);
    rowbuf want = rb_like(&x), got = rb_like(&x), dhn = rb_like(&x), sum = rb_like(&x), fast0 = rb_like(&x);
    rb_fill(&x, (float)zt_uniform(0.5, 4.0));
    rb_fill(&dy, 1.0f);
    rb_fill(&dh, 0.5f);
    rb_fill(&w, 1.5f);
    zt_buf dw_want = zt_alloc(dwt, n), dw = zt_alloc(dwt, n);
    zf_tensor dw_want_t = zf_tensor_1d(dw_want.p, dwt, n), dw_t = zf_tensor_1d(dw.p, dwt, n);
    char what[160];
    snprintf(what, sizeof what, "%s vjp n=%lld rows=%lld", zf_dtype_name(t), (long long)n, (long long)rows);

    use_isa(ZF_CPU_ISA_SCALAR);
    ZT_OK(zf_set_num_threads(1));
    ZT_OK(zf_rms_norm_vjp(&x.t, &w.t, eps, &dy.t, &want.t, &dw_want_t, NULL));
    ZT_OK(zf_rms_norm_vjp(&x.t, &w.t, eps, &dy.t, &dhn.t, NULL, NULL));
    CHECK_SAME(&dhn, &want, "d_x without d_w (%s)", what);
    ZT_OK(zf_add(&dhn.t, &dh.t, &sum.t, NULL));
    zf_opts exact = fid(ZF_FIDELITY_EXACT), fast = fid(ZF_FIDELITY_FAST), stock = fid(ZF_FIDELITY_STOCK);
    for (int threads = 1; threads <= 3; threads += 2) {
        ZT_OK(zf_set_num_threads(threads));
        FOR_EACH_ISA(isa) {
            use_isa(isa);
            const char *in = zf_cpu_isa_name(isa);
            zt_poison(&got.b);
            zt_poison(&dw);
            ZT_OK(zf_rms_norm_vjp(&x.t, &w.t, eps, &dy.t, &got.t, &dw_t, NULL));
            CHECK_SAME(&got, &want, "rms_norm_vjp d_x %s threads=%d (%s)", in, threads, what);
            dw_differ(dwt, &dw, &dw_want, n, what);
            zt_poison(&got.b);
            zt_poison(&dw);
            ZT_OK(zf_add_rms_norm_vjp(&x.t, &w.t, eps, &dy.t, &dh.t, &got.t, &dw_t, &exact));
            CHECK_SAME(&got, &sum, "add_rms_norm_vjp exact d_x %s threads=%d (%s)", in, threads, what);
            dw_differ(dwt, &dw, &dw_want, n, what);
            zt_poison(&got.b);
            ZT_OK(zf_add_rms_norm_vjp(&x.t, &w.t, eps, &dy.t, NULL, &got.t, NULL, &exact));
            CHECK_SAME(&got, &want, "add_rms_norm_vjp exact, no d_h %s (%s)", in, what);
            if (threads == 1 && isa == ZF_CPU_ISA_SCALAR) {
                zt_poison(&got.b);
                zt_poison(&dw);
                ZT_OK(zf_add_rms_norm_vjp(&x.t, &w.t, eps, &dy.t, &dh.t, &got.t, &dw_t, &stock));
                CHECK_SAME(&got, &sum, "add_rms_norm_vjp stock d_x (%s)", what);
                dw_differ(dwt, &dw, &dw_want, n, what);
            }
            zt_poison(&got.b);
            zt_poison(&dw);
            ZT_OK(zf_add_rms_norm_vjp(&x.t, &w.t, eps, &dy.t, &dh.t, &got.t, &dw_t, &fast));
            if (threads == 1 && isa == ZF_CPU_ISA_SCALAR) rb_copy(&fast0, &got);
            else CHECK_SAME(&got, &fast0, "add_rms_norm_vjp fast d_x %s threads=%d vs scalar fast (%s)", in, threads,
                            what);
            dw_differ(dwt, &dw, &dw_want, n, what);
        }
    }
    ZT_OK(zf_set_num_threads(0));

    /* against float64: stock d_x, fast d_x (with d_h), d_w */
    double *xd = malloc(sizeof(double) * 8 * (size_t)n), *wd = xd + n, *dyd = wd + n, *dxd = dyd + n;
    double *sc = dxd + n, *dwd = sc + n, *dwa = dwd + n, *dhd = dwa + n;
    for (int64_t i = 0; i < 2 * n; i++) dwd[i] = 0; /* dwd and dwa */
    row_f64(&w, 0, wd);
    double unit = unit_of(t), worst = 0, worst_f = 0;
    for (int64_t r = 0; r < rows; r++) {
        row_f64(&x, r, xd);
        row_f64(&dy, r, dyd);
        row_f64(&dh, r, dhd);
        ref_vjp(xd, wd, dyd, n, eps, dxd, sc, dwd, dwa);
        for (int64_t i = 0; i < n; i++) {
            double e = past_subnormal(t, fabs(rb_get(&want, r, i) - dxd[i])) / (sc[i] + 1e-300) / unit;
            double ef = past_subnormal(t, fabs(rb_get(&fast0, r, i) - (dxd[i] + dhd[i]))) / (sc[i] + fabs(dhd[i])) / unit;
            if (e > worst) worst = e;
            if (ef > worst_f) worst_f = ef;
        }
    }
    double bound = vjp_bound(t, n);
    ZT_CHECK(worst <= bound, "%s: stock d_x %.2f units from float64 > %.1f", what, worst, bound);
    ZT_CHECK(worst_f <= bound, "%s: fast d_x %.2f units from float64 > %.1f", what, worst_f, bound);
    if (worst > worst_vjp[t]) worst_vjp[t] = worst;
    if (worst_f > worst_vjp[t]) worst_vjp[t] = worst_f;
    double worst_w = 0, w_bound = dw_bound(t, n, rows);
    for (int64_t i = 0; i < n; i++) {
        double e = past_subnormal(dwt, fabs(zt_get(dwt, dw_want.p, i) - dwd[i])) / (dwa[i] + 1e-300) / unit;
        if (e > worst_w) worst_w = e;
    }
    ZT_CHECK(worst_w <= w_bound, "%s: d_w %.2f units from float64 > %.1f", what, worst_w, w_bound);
    if (worst_w > worst_dw[t]) worst_dw[t] = worst_w;
    free(xd);

    /* in place: d_x = d_y, d_x = x (h), d_x = d_h */
    rowbuf a = rb_like(&x);
    rb_copy(&a, &dy);
    ZT_OK(zf_rms_norm_vjp(&x.t, &w.t, eps, &a.t, &a.t, NULL, NULL));
    CHECK_SAME(&a, &want, "d_x in place of d_y (%s)", what);
    rb_copy(&a, &x);
    ZT_OK(zf_rms_norm_vjp(&a.t, &w.t, eps, &dy.t, &a.t, NULL, NULL));
    CHECK_SAME(&a, &want, "d_x in place of x (%s)", what);
    rb_copy(&a, &dh);
    ZT_OK(zf_add_rms_norm_vjp(&x.t, &w.t, eps, &dy.t, &a.t, &a.t, NULL, &exact));
    CHECK_SAME(&a, &sum, "exact d_x in place of d_h (%s)", what);
    rb_copy(&a, &dh);
    ZT_OK(zf_add_rms_norm_vjp(&x.t, &w.t, eps, &dy.t, &a.t, &a.t, NULL, &stock));
    CHECK_SAME(&a, &sum, "stock d_x in place of d_h (%s)", what);
    rb_free(&a);

    rowbuf *bufs[] = {&x, &dy, &dh, &w, &want, &got, &dhn, &sum, &fast0};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) rb_free(bufs[k]);
    zt_free(&dw_want);
    zt_free(&dw);
}

/* ---- finite differences of the float64 forward ---------------------------------- */

/* L = sum_i d_y_i * y_i(x, w): the analytic float64 VJP (the reference above)
 * against central differences, then the library's f32 VJP against both. */
static void check_finite_differences(void) {
    const int64_t n = 37, rows = 3;
    const float eps = 1e-3f;
    rowbuf x = rb_new(ZF_DTYPE_F32, rows, n, n), dy = rb_like(&x), dx = rb_like(&x), w = rb_vec(ZF_DTYPE_F32, n);
    rb_fill(&x, 2.0f);
    rb_fill(&dy, 1.0f);
    rb_fill(&w, 1.5f);
    float dwv[37];
    zf_tensor dw_t = zf_tensor_1d(dwv, ZF_DTYPE_F32, n);
    ZT_OK(zf_rms_norm_vjp(&x.t, &w.t, eps, &dy.t, &dx.t, &dw_t, NULL));
    double xd[37], wd[37], dyd[37], y[37], dxd[37], sc[37], dwd[37] = {0}, dwa[37] = {0}, fd_w[37] = {0};
    row_f64(&w, 0, wd);
    double worst_ref = 0, worst_lib = 0;
    for (int64_t r = 0; r < rows; r++) {
        row_f64(&x, r, xd);
        row_f64(&dy, r, dyd);
        ref_vjp(xd, wd, dyd, n, eps, dxd, sc, dwd, dwa);
        for (int64_t i = 0; i < n; i++) {
            double h = 1e-4, lp = 0, lm = 0, keep = xd[i];
            xd[i] = keep + h;
            ref_forward(xd, wd, n, eps, y);
            for (int64_t k = 0; k < n; k++) lp += dyd[k] * y[k];
            xd[i] = keep - h;
            ref_forward(xd, wd, n, eps, y);
            for (int64_t k = 0; k < n; k++) lm += dyd[k] * y[k];
            xd[i] = keep;
            double fd = (lp - lm) / (2 * h);
            double e = fabs(fd - dxd[i]) / (sc[i] + 1e-12);
            if (e > worst_ref) worst_ref = e;
            double el = fabs(fd - rb_get(&dx, r, i)) / (sc[i] + 1e-12);
            if (el > worst_lib) worst_lib = el;
        }
        for (int64_t j = 0; j < n; j++) { /* dL/dw_j is linear in w_j: one difference */
            double keep = wd[j], lp = 0, lm = 0;
            wd[j] = keep + 0.5;
            ref_forward(xd, wd, n, eps, y);
            for (int64_t k = 0; k < n; k++) lp += dyd[k] * y[k];
            wd[j] = keep - 0.5;
            ref_forward(xd, wd, n, eps, y);
            for (int64_t k = 0; k < n; k++) lm += dyd[k] * y[k];
            wd[j] = keep;
            fd_w[j] += lp - lm;
        }
    }
    double worst_w = 0;
    for (int64_t j = 0; j < n; j++) {
        double e = fabs(fd_w[j] - dwd[j]) / (dwa[j] + 1e-12), el = fabs(fd_w[j] - dwv[j]) / (dwa[j] + 1e-12);
        if (e > worst_w) worst_w = e;
        if (el > worst_w) worst_w = el;
    }
    ZT_CHECK(worst_ref < 1e-6, "float64 analytic d_x vs finite differences: %.3g", worst_ref);
    ZT_CHECK(worst_lib < 1e-5, "library d_x vs finite differences: %.3g", worst_lib);
    ZT_CHECK(worst_w < 1e-5, "d_w vs finite differences: %.3g", worst_w);
    rb_free(&x);
    rb_free(&dy);
    rb_free(&dx);
    rb_free(&w);
}

/* ---- bad input ------------------------------------------------------------------- */

typedef struct bad_env {
    rowbuf x, r, w, y, h, dy, dh, dx;
    zt_buf dw;
    zf_tensor dw_t;
} bad_env;

static int untouched(const zt_buf *b) {
    for (size_t i = 0; i < b->bytes; i++)
        if (((unsigned char *)b->p)[i] != 0x7f) return 0;
    return zt_guards_ok(b);
}

static void expect_fail(bad_env *e, zf_status got, zf_status want, const char *op, const char *what) {
    char tag[40];
    snprintf(tag, sizeof tag, "[%s]", op);
    ZT_CHECK(got == want, "%s: %s gave %s, expected %s (%s)", op, what, zf_status_name(got), zf_status_name(want),
             zf_last_error());
    ZT_CHECK(strstr(zf_last_error(), tag) != NULL, "%s: %s message does not name the op: %s", op, what,
             zf_last_error());
    ZT_CHECK(untouched(&e->y.b) && untouched(&e->h.b) && untouched(&e->dx.b) && untouched(&e->dw),
             "%s: %s wrote an output", op, what);
}

static void check_bad_inputs(void) {
    const zf_dtype t = ZF_DTYPE_BF16;
    const int64_t rows = 3, n = 40;
    bad_env e;
    e.x = rb_new(t, rows, n, n);
    e.r = rb_like(&e.x);
    e.dy = rb_like(&e.x);
    e.dh = rb_like(&e.x);
    e.y = rb_like(&e.x);
    e.h = rb_like(&e.x);
    e.dx = rb_like(&e.x);
    e.w = rb_vec(t, n);
    e.dw = zt_alloc(ZF_DTYPE_F32, n);
    e.dw_t = zf_tensor_1d(e.dw.p, ZF_DTYPE_F32, n);
    rb_fill(&e.x, 1.0f);
    rb_fill(&e.r, 1.0f);
    rb_fill(&e.dy, 1.0f);
    rb_fill(&e.dh, 1.0f);
    rb_fill(&e.w, 1.0f);
    zf_tensor *x = &e.x.t, *r = &e.r.t, *w = &e.w.t, *y = &e.y.t, *h = &e.h.t, *dy = &e.dy.t, *dh = &e.dh.t,
              *dx = &e.dx.t, *dw = &e.dw_t;
    const float eps = 1e-5f;

    /* wrong-shaped and wrong-typed variants of the operands */
    zf_tensor w_short = *w, w_2d = zf_tensor_2d(e.w.b.p, t, 1, n), y_short = *y, y_f16 = *y, w_f32 = *w;
    w_short.shape[0] = n - 1;
    y_short.shape[0] = rows - 1;
    y_f16.dtype = ZF_DTYPE_F16;
    w_f32.dtype = ZF_DTYPE_F32;
    w_f32.shape[0] = n / 2; /* same bytes */
    zf_tensor x_u32 = *x, dw_long = *dw, dw_f16 = *dw, dw_on_dx = zf_tensor_1d(e.dx.b.p, t, n);
    x_u32.dtype = ZF_DTYPE_U32;
    dw_long.shape[0] = n + 1;
    dw_f16.dtype = ZF_DTYPE_F16;
    zf_tensor h_over = zf_tensor_2d((char *)e.y.b.p + n, t, rows - 1, n);
    zf_tensor y_over = zf_tensor_2d(e.y.b.p, t, rows - 1, n), x_over = zf_tensor_2d((char *)e.y.b.p + n, t, rows - 1, n);
    zf_tensor r2 = zf_tensor_2d(e.r.b.p, t, rows - 1, n);
    float nan = NAN, inf = INFINITY;
    const struct {
        float eps;
        const char *what;
    } bad_eps[3] = {{nan, "eps NaN"}, {-1e-6f, "eps negative"}, {inf, "eps inf"}};

    /* rms_norm */
    expect_fail(&e, zf_rms_norm(NULL, w, eps, y, NULL), ZF_ERR_INVALID_ARG, "rms_norm", "NULL x");
    expect_fail(&e, zf_rms_norm(x, NULL, eps, y, NULL), ZF_ERR_INVALID_ARG, "rms_norm", "NULL w");
    expect_fail(&e, zf_rms_norm(x, w, eps, NULL, NULL), ZF_ERR_INVALID_ARG, "rms_norm", "NULL y");
    expect_fail(&e, zf_rms_norm(x, w, eps, &y_short, NULL), ZF_ERR_SHAPE, "rms_norm", "y shape");
    expect_fail(&e, zf_rms_norm(x, &w_short, eps, y, NULL), ZF_ERR_SHAPE, "rms_norm", "w length");
    expect_fail(&e, zf_rms_norm(x, &w_2d, eps, y, NULL), ZF_ERR_SHAPE, "rms_norm", "w 2-d");
    expect_fail(&e, zf_rms_norm(x, &w_f32, eps, y, NULL), ZF_ERR_DTYPE, "rms_norm", "w dtype");
    expect_fail(&e, zf_rms_norm(x, w, eps, &y_f16, NULL), ZF_ERR_DTYPE, "rms_norm", "y dtype");
    expect_fail(&e, zf_rms_norm(&x_u32, w, eps, y, NULL), ZF_ERR_DTYPE, "rms_norm", "x u32");
    expect_fail(&e, zf_rms_norm(&x_over, w, eps, &y_over, NULL), ZF_ERR_ALIAS, "rms_norm", "y overlaps x");
    for (int k = 0; k < 3; k++)
        expect_fail(&e, zf_rms_norm(x, w, bad_eps[k].eps, y, NULL), ZF_ERR_INVALID_ARG, "rms_norm", bad_eps[k].what);

    /* add_rms_norm, each fidelity */
    for (int f = ZF_FIDELITY_AUTO; f <= ZF_FIDELITY_FAST; f++) {
        zf_opts o = fid((zf_fidelity)f);
        const char *op = "add_rms_norm";
        expect_fail(&e, zf_add_rms_norm(x, NULL, w, eps, y, h, &o), ZF_ERR_INVALID_ARG, op, "NULL residual");
        ZT_CHECK(strstr(zf_last_error(), "residual is NULL") != NULL, "NULL residual: %s", zf_last_error());
        expect_fail(&e, zf_add_rms_norm(x, r, w, eps, y, NULL, &o), ZF_ERR_INVALID_ARG, op, "NULL h");
        expect_fail(&e, zf_add_rms_norm(x, r, &w_short, eps, y, h, &o), ZF_ERR_SHAPE, op, "w length");
        expect_fail(&e, zf_add_rms_norm(x, &r2, w, eps, y, h, &o), ZF_ERR_SHAPE, op, "residual shape");
        /* the message names the operand that is wrong: the residual, 2 rows against x's 3 */
        ZT_CHECK(strstr(zf_last_error(), "residual has shape [2, 40]") != NULL, "residual shape: %s", zf_last_error());
        expect_fail(&e, zf_add_rms_norm(x, r, w, eps, &y_f16, h, &o), ZF_ERR_DTYPE, op, "y dtype");
        expect_fail(&e, zf_add_rms_norm(x, r, w, eps, y, y, &o), ZF_ERR_ALIAS, op, "y = h");
        zf_tensor x2 = zf_tensor_2d(e.x.b.p, t, rows - 1, n), res2 = r2;
        expect_fail(&e, zf_add_rms_norm(&x2, &res2, w, eps, &y_over, &h_over, &o), ZF_ERR_ALIAS, op,
                    "y overlaps h");
        for (int k = 0; k < 3; k++)
            expect_fail(&e, zf_add_rms_norm(x, r, w, bad_eps[k].eps, y, h, &o), ZF_ERR_INVALID_ARG, op,
                        bad_eps[k].what);
    }

    /* rms_norm_vjp */
    const char *op = "rms_norm_vjp";
    expect_fail(&e, zf_rms_norm_vjp(x, w, eps, NULL, dx, dw, NULL), ZF_ERR_INVALID_ARG, op, "NULL d_y");
    expect_fail(&e, zf_rms_norm_vjp(x, w, eps, dy, NULL, dw, NULL), ZF_ERR_INVALID_ARG, op, "NULL d_x");
    expect_fail(&e, zf_rms_norm_vjp(x, &w_short, eps, dy, dx, dw, NULL), ZF_ERR_SHAPE, op, "w length");
    expect_fail(&e, zf_rms_norm_vjp(x, w, eps, dy, dx, &dw_long, NULL), ZF_ERR_SHAPE, op, "d_w length");
    expect_fail(&e, zf_rms_norm_vjp(x, w, eps, dy, dx, &dw_f16, NULL), ZF_ERR_DTYPE, op, "d_w f16 for bf16 x");
    expect_fail(&e, zf_rms_norm_vjp(x, w, eps, dy, &y_short, dw, NULL), ZF_ERR_SHAPE, op, "d_x shape");
    for (int k = 0; k < 3; k++)
        expect_fail(&e, zf_rms_norm_vjp(x, w, bad_eps[k].eps, dy, dx, dw, NULL), ZF_ERR_INVALID_ARG, op,
                    bad_eps[k].what);
    /* d_w inside d_x's memory: both outputs stay poisoned only if it is refused */
    expect_fail(&e, zf_rms_norm_vjp(x, w, eps, dy, dx, &dw_on_dx, NULL), ZF_ERR_ALIAS, op, "d_w overlaps d_x");

    /* add_rms_norm_vjp */
    op = "add_rms_norm_vjp";
    for (int f = ZF_FIDELITY_AUTO; f <= ZF_FIDELITY_FAST; f++) {
        zf_opts o = fid((zf_fidelity)f);
        expect_fail(&e, zf_add_rms_norm_vjp(NULL, w, eps, dy, dh, dx, dw, &o), ZF_ERR_INVALID_ARG, op, "NULL h");
        expect_fail(&e, zf_add_rms_norm_vjp(x, w, eps, dy, &r2, dx, dw, &o), ZF_ERR_SHAPE, op, "d_h shape");
        expect_fail(&e, zf_add_rms_norm_vjp(x, w, eps, dy, dh, dx, &dw_long, &o), ZF_ERR_SHAPE, op, "d_w length");
        expect_fail(&e, zf_add_rms_norm_vjp(x, &w_f32, eps, dy, dh, dx, dw, &o), ZF_ERR_DTYPE, op, "w dtype");
        expect_fail(&e, zf_add_rms_norm_vjp(x, w, eps, dy, dh, dx, &dw_on_dx, &o), ZF_ERR_ALIAS, op,
                    "d_w overlaps d_x");
        for (int k = 0; k < 3; k++)
            expect_fail(&e, zf_add_rms_norm_vjp(x, w, bad_eps[k].eps, dy, dh, dx, dw, &o), ZF_ERR_INVALID_ARG, op,
                        bad_eps[k].what);
    }
    rowbuf *bufs[] = {&e.x, &e.r, &e.w, &e.y, &e.h, &e.dy, &e.dh, &e.dx};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) rb_free(bufs[k]);
    zt_free(&e.dw);
}

/* Every ISA path's variants passed their self-test and are the ones picked
 * (a variant that failed would be skipped silently by the fallback). */
static void check_variants_trusted(void) {
    static const struct {
        zf_op op;
        zf_fidelity f;
    } want[] = {{ZF_OP_RMS_NORM, ZF_FIDELITY_STOCK},         {ZF_OP_RMS_NORM_VJP, ZF_FIDELITY_STOCK},
                {ZF_OP_ADD_RMS_NORM, ZF_FIDELITY_EXACT},     {ZF_OP_ADD_RMS_NORM, ZF_FIDELITY_FAST},
                {ZF_OP_ADD_RMS_NORM_VJP, ZF_FIDELITY_EXACT}, {ZF_OP_ADD_RMS_NORM_VJP, ZF_FIDELITY_FAST}};
    FOR_EACH_ISA(isa) {
        use_isa(isa);
        for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
            const zf_variant *v = NULL;
            ZT_OK(zf_pick(want[k].op, ZF_DEVICE_CPU, want[k].f, &v));
            const char *why = "";
            if (v) zf_variant_state(v, &why);
            ZT_CHECK(v && v->isa == isa && v->fidelity == want[k].f, "%s %s on %s: picked %s (%s)",
                     zf_op_name(want[k].op), zf_fidelity_name(want[k].f), zf_cpu_isa_name(isa),
                     v ? v->name : "nothing", why);
        }
    }
}

/* The norm self-test must fail a kernel that is wrong in any way it
 * checks: the last d_w partial, a streamed second row, an h of the fused
 * forward one ulp off (h is bit for bit even for fast), a d_x of an exact
 * VJP one ulp off. */
static void bad_vjp_last_dw(zf_dtype t, const void *x, const void *w, float eps, const void *dy, const void *dh,
                            void *dx, float *dw, int64_t n) {
    zf_scalar_rms_norm_vjp(t, x, w, eps, dy, dh, dx, dw, n);
    if (dw) dw[n - 1] += 1.0f;
}
static void bad_norm_streamed(zf_dtype t, const void *x, const void *w, float eps, void *y, int64_t n, int stream) {
    zf_scalar_rms_norm(t, x, w, eps, y, n, stream);
    if (stream) zf_store(t, y, 0, zf_load(t, y, 0) * 2.0f + 1.0f);
}
static void bad_fast_h(zf_dtype t, const void *x, const void *r, const void *w, float eps, void *y, void *h, int64_t n,
                       int stream) {
    zf_scalar_add_rms_norm_fast(t, x, r, w, eps, y, h, n, stream);
    if (t == ZF_DTYPE_F32) ((float *)h)[0] = nextafterf(((float *)h)[0], INFINITY);
}
static void bad_exact_dx(zf_dtype t, const void *x, const void *w, float eps, const void *dy, const void *dh, void *dx,
                         float *dw, int64_t n) {
    zf_scalar_rms_norm_vjp(t, x, w, eps, dy, dh, dx, dw, n);
    if (t == ZF_DTYPE_F32) ((float *)dx)[0] = nextafterf(((float *)dx)[0], INFINITY);
}
/* Legal for fast: an add_rms_norm whose f16 y in the subnormal range is one
 * subnormal step (2^-24) off the stock bits; 1 ulp of T, within the 2 allowed. */
static void fast_f16_subnormal_step(zf_dtype t, const void *x, const void *r, const void *w, float eps, void *y,
                                    void *h, int64_t n, int stream) {
    zf_scalar_add_rms_norm_exact(t, x, r, w, eps, y, h, n, stream);
    if (t != ZF_DTYPE_F16) return;
    for (int64_t i = 0; i < n; i++) {
        float v = zf_load(t, y, i);
        if (v != 0.0f && fabsf(v) < 0x1p-14f) zf_store(t, y, i, v + 0x1p-24f);
    }
}
static void check_selftest_catches(void) {
    {
        const zf_variant v = {"test.ok.add_rms_norm.fast", ZF_OP_ADD_RMS_NORM, ZF_DEVICE_CPU, ZF_FIDELITY_FAST,
                              ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR, (void (*)(void))fast_f16_subnormal_step, NULL, NULL,
                              "test"};
        char msg[256] = "";
        ZT_CHECK(zf_cpu_selftest_norm(&v, msg, sizeof msg) == 0, "a fast norm 1 f16 subnormal step off fails: %s", msg);
    }
    static const struct {
        zf_op op;
        zf_fidelity f;
        void (*fn)(void);
        const char *what;
    } bad[] = {{ZF_OP_RMS_NORM_VJP, ZF_FIDELITY_STOCK, (void (*)(void))bad_vjp_last_dw, "d_w partial"},
               {ZF_OP_RMS_NORM, ZF_FIDELITY_STOCK, (void (*)(void))bad_norm_streamed, " y "},
               {ZF_OP_ADD_RMS_NORM, ZF_FIDELITY_FAST, (void (*)(void))bad_fast_h, " h "},
               {ZF_OP_ADD_RMS_NORM_VJP, ZF_FIDELITY_EXACT, (void (*)(void))bad_exact_dx, " d_x "}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const zf_variant v = {"test.bad.norm", bad[i].op, ZF_DEVICE_CPU, bad[i].f, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR,
                              bad[i].fn, NULL, NULL, "test"};
        char msg[256] = "";
        ZT_CHECK(zf_cpu_selftest_norm(&v, msg, sizeof msg) != 0, "a wrong %s passes the norm self-test", bad[i].what);
        ZT_CHECK(strstr(msg, bad[i].what) != NULL, "case %zu: self-test message: %s", i, msg);
    }
}

/* ---- driver ------------------------------------------------------------------------ */

int main(void) {
    zt_init("test_norm");
    const char *q = getenv("ZF_TEST_QUICK");
    quick = q && *q && strcmp(q, "0") != 0;
    isa_max = zf_cpu_isa_detected();
    printf("test_norm: ISA paths scalar..%s%s\n", zf_cpu_isa_name(isa_max), quick ? " (quick)" : "");

    check_variants_trusted();
    check_selftest_catches();
    check_bad_inputs();
    check_finite_differences();

    static const int64_t widths[] = {1, 2, 3, 17, 255, 256, 257, 576, 2048, 4096, 4099, 14336, 70000};
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++) {
        int64_t n = widths[wi];
        if (quick && (n == 14336 || n == 2048)) continue;
        for (int d = 0; d < 3; d++) {
            zf_dtype t = k_dtypes[d];
            int64_t big = n >= 14336;
            int64_t rows = big ? 1 + (int64_t)(zt_rand() % 3) : 1 + (int64_t)(zt_rand() % 40);
            forward_case(t, 1, n, 0);
            forward_case(t, rows, n, (int)(zt_rand() & 1));
            if (quick && big) continue;
            /* > 32 rows exercises the d_w chunks; big widths keep few rows */
            int64_t vrows = big ? 2 : n >= 4096 ? 33 + (int64_t)(zt_rand() % 8) : 1 + (int64_t)(zt_rand() % 70);
            if (quick && n >= 4096) vrows = 33;
            vjp_case(t, vrows, n, (int)(zt_rand() & 1), (zt_rand() & 1) ? ZF_DTYPE_F32 : t);
        }
    }
    for (int d = 0; d < 3; d++) {
        check_special_rows(k_dtypes[d], 37);
        check_special_rows(k_dtypes[d], 4099);
    }
    /* outputs of >= ZF_NORM_STREAM_BYTES: the SIMD paths store around the caches
     * (rows of 4099: row starts at every alignment, each row with a tail) */
    forward_case(ZF_DTYPE_BF16, 2048, 4096, 0);
    if (!quick) {
        forward_case(ZF_DTYPE_F32, 1024, 4096, 0);
        forward_case(ZF_DTYPE_BF16, ZF_NORM_STREAM_BYTES / (4099 * 2) + 2, 4099, 0);
    }
    use_isa(isa_max);
    for (int d = 0; d < 3; d++)
        printf("test_norm: %-4s worst vs float64: rms_norm %.2f ulp, fast add_rms_norm %.2f ulp, d_x %.2f units, "
               "d_w %.2f units\n",
               zf_dtype_name(k_dtypes[d]), worst_fwd[k_dtypes[d]], worst_fast[k_dtypes[d]], worst_vjp[k_dtypes[d]],
               worst_dw[k_dtypes[d]]);
    return zt_finish();
}
