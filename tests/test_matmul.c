/* zf_matmul (float weights): float64 reference with a bound derived from the
 * L256 order, the order itself bit for bit (a literal transcription of
 * docs/NUMERICS.md §4), SIMD == scalar, 1 == N threads, row i of an M-row
 * call == a 1-row call, strided operands, every x/W dtype pair, odd sizes;
 * bad inputs leave y untouched. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "cpu/matmul.h"
#include "harness.h"

static int quick(void) { return getenv("ZF_TEST_QUICK") != NULL; }

static const zf_dtype k_dts[3] = {ZF_DTYPE_F32, ZF_DTYPE_F16, ZF_DTYPE_BF16};

/* L256 exactly as the page writes it: 256 lanes, fma ascending, full tree. */
static float canonical_dot(zf_dtype tx, const void *x, zf_dtype tw, const void *w, int64_t k) {
    float acc[256] = {0};
    for (int64_t i = 0; i < k; i++) acc[i % 256] = fmaf(zt_get(tx, x, i), zt_get(tw, w, i), acc[i % 256]);
    for (int s = 128; s >= 1; s /= 2)
        for (int l = 0; l < s; l++) acc[l] = acc[l] + acc[l + s];
    return acc[0];
}

static double unit_roundoff(zf_dtype t) { return t == ZF_DTYPE_F32 ? 0x1p-24 : t == ZF_DTYPE_F16 ? 0x1p-11 : 0x1p-8; }

typedef struct mm_case {
    zf_dtype tx, tw;
    int64_t m, n, k;
    int64_t xs, ws, ys; /* row strides (>= the row length) */
    zt_buf xb, wb, yb;
    zf_tensor x, w, y;
} mm_case;

static zf_tensor strided(void *p, zf_dtype t, int64_t rows, int64_t cols, int64_t stride) {
    zf_tensor v = zf_tensor_2d(p, t, rows, cols);
    v.stride[0] = stride;
    return v;
}

static mm_case make_case(zf_dtype tx, zf_dtype tw, int64_t m, int64_t n, int64_t k, int pad) {
    mm_case c = {.tx = tx, .tw = tw, .m = m, .n = n, .k = k};
    c.xs = k + (pad ? 3 : 0), c.ws = k + (pad ? 5 : 0), c.ys = n + (pad ? 2 : 0);
    c.xb = zt_alloc(tx, m * c.xs), c.wb = zt_alloc(tw, n * c.ws), c.yb = zt_alloc(tx, m * c.ys);
    zt_fill(tx, c.xb.p, m * c.xs, 2.0f);
    zt_fill(tw, c.wb.p, n * c.ws, 0.5f);
    c.x = strided(c.xb.p, tx, m, k, c.xs), c.w = strided(c.wb.p, tw, n, k, c.ws), c.y = strided(c.yb.p, tx, m, n, c.ys);
    return c;
}
static void free_case(mm_case *c) { zt_free(&c->xb), zt_free(&c->wb), zt_free(&c->yb); }

static const void *xrow(const mm_case *c, int64_t i) { return (const char *)c->xb.p + (size_t)(i * c->xs) * zf_dtype_size(c->tx); }
static const void *wrow(const mm_case *c, int64_t r) { return (const char *)c->wb.p + (size_t)(r * c->ws) * zf_dtype_size(c->tw); }

/* Every ISA x {1, 2, 3} threads: y bit-identical to the canonical order, the
 * padding between y rows untouched, guards intact; then the float64 bound. */
static void check_case(mm_case *c) {
    char what[160];
    snprintf(what, sizeof what, "matmul x %s w %s m %lld n %lld k %lld%s", zf_dtype_name(c->tx), zf_dtype_name(c->tw),
             (long long)c->m, (long long)c->n, (long long)c->k, c->ys > c->n ? " strided" : "");
    zt_buf pad = zt_alloc(c->tx, c->m * c->ys);
    zt_poison(&pad);
    zf_cpu_isa best = zf_cpu_isa_detected();
    for (int isa = 0; isa <= (int)best; isa++)
        for (int th = 1; th <= 3; th++) {
            ZT_OK(zf_set_cpu_isa((zf_cpu_isa)isa));
            ZT_OK(zf_set_num_threads(th));
            zt_poison(&c->yb);
            ZT_OK(zf_matmul(&c->x, &c->w, &c->y, NULL));
            int bad = 0;
            for (int64_t i = 0; i < c->m && bad < 3; i++)
                for (int64_t r = 0; r < c->ys && bad < 3; r++) {
                    int64_t e = i * c->ys + r;
                    float got = zt_get(c->tx, c->yb.p, e), want = zt_get(c->tx, pad.p, e); /* padding: untouched */
                    if (r < c->n) { /* T(canonical dot) */
                        uint32_t t = 0;
                        zt_set(c->tx, &t, 0, canonical_dot(c->tx, xrow(c, i), c->tw, wrow(c, r), c->k));
                        want = zt_get(c->tx, &t, 0);
                    }
                    if (memcmp(&got, &want, sizeof got)) {
                        bad++;
                        ZT_CHECK(0, "%s (isa %s, %d threads): y[%lld, %lld] = %a, canonical order gives %a", what,
                                 zf_cpu_isa_name((zf_cpu_isa)isa), th, (long long)i, (long long)r, (double)got,
                                 (double)want);
                    }
                }
            ZT_CHECK(zt_guards_ok(&c->yb), "%s: write past y", what);
        }
    zf_set_cpu_isa(best);
    zf_set_num_threads(0);
    /* float64: sequential sums of <= ceil(k/256) terms per lane, then 8 tree levels */
    double gamma = (double)((c->k + 255) / 256 + 9) * 0x1p-24;
    for (int64_t i = 0; i < c->m; i++)
        for (int64_t r = 0; r < c->n; r++) {
            double ref = 0, mag = 0;
            for (int64_t e = 0; e < c->k; e++) {
                double p = (double)zt_get(c->tx, xrow(c, i), e) * zt_get(c->tw, wrow(c, r), e);
                ref += p, mag += fabs(p);
            }
            double got = zt_get(c->tx, c->yb.p, i * c->ys + r);
            /* + half of T's subnormal spacing: below T's normal range the final
             * rounding is absolute, not relative (f16 results under 2^-14) */
            double half_sub = c->tx == ZF_DTYPE_F16 ? 0x1p-25 : c->tx == ZF_DTYPE_BF16 ? 0x1p-134 : 0x1p-150;
            double tol = gamma * mag * (1 + unit_roundoff(c->tx)) + unit_roundoff(c->tx) * fabs(ref) + half_sub +
                         0x1p-24 * 0x1p-24;
            ZT_CHECK(fabs(got - ref) <= tol, "%s: y[%lld, %lld] = %.9g, float64 %.9g (bound %g)", what, (long long)i,
                     (long long)r, got, ref, tol);
        }
    /* row i of the M-row call == a 1-row call */
    int64_t i = (int64_t)(zt_rand() % (uint64_t)c->m);
    zt_buf y1 = zt_alloc(c->tx, c->n);
    zf_tensor x1 = zf_tensor_2d((void *)xrow(c, i), c->tx, 1, c->k), t1 = zf_tensor_2d(y1.p, c->tx, 1, c->n);
    ZT_OK(zf_matmul(&x1, &c->w, &t1, NULL));
    ZT_CHECK(zt_first_diff(c->tx, y1.p, (char *)c->yb.p + (size_t)(i * c->ys) * zf_dtype_size(c->tx), c->n) < 0,
             "%s: row %lld alone differs from the %lld-row call", what, (long long)i, (long long)c->m);
    zt_free(&y1);
    zt_free(&pad);
}

static void test_sizes(void) {
    static const int64_t ks[] = {1, 7, 8, 255, 256, 257, 1000, 2051};
    static const int64_t ms[] = {1, 3, 4, 5, 9};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int rep = 0; rep < (quick() ? 1 : 2); rep++) {
                int64_t k = ks[zt_rand() % (quick() ? 6 : 8)], m = ms[zt_rand() % 5];
                int64_t n = 1 + (int64_t)(zt_rand() % 40);
                mm_case c = make_case(k_dts[a], k_dts[b], m, n, k, (int)(zt_rand() & 1));
                check_case(&c);
                free_case(&c);
            }
}

/* Big enough to split over threads (W well over the 256 KiB threshold). */
static void test_threads(void) {
    mm_case c = make_case(ZF_DTYPE_F32, ZF_DTYPE_BF16, quick() ? 2 : 6, 301, 1031, 1);
    check_case(&c);
    free_case(&c);
}

static void test_variants_trusted(void) {
    if (zf_cpu_isa_detected() < ZF_CPU_ISA_AVX2) return;
    int found = 0;
    for (int i = 0; i < zf_registry_count(); i++) {
        const zf_variant *v = zf_registry_at(i);
        if (v->op != ZF_OP_MATMUL || v->isa != ZF_CPU_ISA_AVX2) continue;
        found = 1;
        const char *why = "";
        ZT_CHECK(zf_variant_state(v, &why) == 1, "%s not trusted after use: %s", v->name, why);
    }
    ZT_CHECK(found, "no AVX2 matmul variant registered");
}

/* The matmul self-test must fail a kernel that is right for one x row but
 * wrong for the others (the kernels take up to ZF_MM_NX x rows at once). */
static void bad_matmul(zf_dtype tx, const void *const *x, int nx, zf_dtype tw, const void *w, int64_t w_stride,
                       int64_t rows, int64_t k, float *out) {
    zf_scalar_matmul(tx, x, nx, tw, w, w_stride, rows, k, out);
    if (nx > 1) out[(nx - 1) * rows] += 1.0f;
}
static void test_selftest_catches(void) {
    const zf_variant v = {"test.bad.matmul", ZF_OP_MATMUL, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE,
                          ZF_CPU_ISA_SCALAR, (void (*)(void))bad_matmul, NULL, NULL, "test"};
    char msg[256] = "";
    ZT_CHECK(zf_cpu_selftest_matmul(&v, msg, sizeof msg) != 0, "a matmul wrong past the first x row passes");
    ZT_CHECK(strstr(msg, "x rows") != NULL, "self-test message: %s", msg);
}

#define EXPECT_ERR(call, status, needle, what)                                                                   \
    do {                                                                                                         \
        zt_poison(&yb);                                                                                          \
        memcpy(keep.p, yb.p, yb.bytes);                                                                          \
        zf_status st_ = (call);                                                                                  \
        ZT_CHECK(st_ == (status) && strstr(zf_last_error(), "[matmul]") && strstr(zf_last_error(), needle),     \
                 "%s: status %d, message '%s'", what, (int)st_, zf_last_error());                               \
        ZT_CHECK(memcmp(keep.p, yb.p, yb.bytes) == 0, "%s: y was written", what);                                \
    } while (0)

static void test_bad_inputs(void) {
    enum { M = 3, N = 5, K = 16 };
    zt_buf xb = zt_alloc(ZF_DTYPE_F32, M * K), wb = zt_alloc(ZF_DTYPE_F32, N * K), yb = zt_alloc(ZF_DTYPE_F32, M * N);
    zt_buf keep = zt_alloc(ZF_DTYPE_F32, M * N), big = zt_alloc(ZF_DTYPE_F32, M * K + M * N);
    zt_fill(ZF_DTYPE_F32, xb.p, M * K, 1.0f);
    zt_fill(ZF_DTYPE_F32, wb.p, N * K, 1.0f);
    zf_tensor x = zf_tensor_2d(xb.p, ZF_DTYPE_F32, M, K), w = zf_tensor_2d(wb.p, ZF_DTYPE_F32, N, K);
    zf_tensor y = zf_tensor_2d(yb.p, ZF_DTYPE_F32, M, N);
    zf_tensor wk = zf_tensor_2d(wb.p, ZF_DTYPE_F32, N - 1, K + 1), yn = zf_tensor_2d(yb.p, ZF_DTYPE_F32, M, N - 1);
    zf_tensor yh = zf_tensor_2d(yb.p, ZF_DTYPE_BF16, M, N), wi = zf_tensor_2d(wb.p, ZF_DTYPE_I32, N, K);
    int64_t s3[3] = {1, M, K};
    zf_tensor x3 = zf_tensor_nd(xb.p, ZF_DTYPE_F32, 3, s3);
    EXPECT_ERR(zf_matmul(NULL, &w, &y, NULL), ZF_ERR_INVALID_ARG, "x", "NULL x");
    EXPECT_ERR(zf_matmul(&x, NULL, &y, NULL), ZF_ERR_INVALID_ARG, "w", "NULL w");
    EXPECT_ERR(zf_matmul(&x, &wk, &y, NULL), ZF_ERR_SHAPE, "k = 16", "w with another k");
    EXPECT_ERR(zf_matmul(&x, &w, &yn, NULL), ZF_ERR_SHAPE, "[3, 5]", "y of the wrong shape");
    EXPECT_ERR(zf_matmul(&x, &w, &yh, NULL), ZF_ERR_DTYPE, "one dtype", "y of another dtype");
    EXPECT_ERR(zf_matmul(&x, &wi, &y, NULL), ZF_ERR_DTYPE, "w has dtype i32", "integer w");
    EXPECT_ERR(zf_matmul(&x3, &w, &y, NULL), ZF_ERR_SHAPE, "2 axes", "3-D x");
    /* y over x: in place cannot work, every output reads a whole x row */
    zf_tensor xo = zf_tensor_2d(big.p, ZF_DTYPE_F32, M, K), yo = zf_tensor_2d((float *)big.p + K, ZF_DTYPE_F32, M, N);
    zt_fill(ZF_DTYPE_F32, big.p, M * K + M * N, 1.0f);
    memcpy(keep.p, (float *)big.p + K, (size_t)(M * N) * 4);
    zf_status st = zf_matmul(&xo, &w, &yo, NULL);
    ZT_CHECK(st == ZF_ERR_ALIAS && strstr(zf_last_error(), "overlaps x"), "y over x: %d '%s'", (int)st, zf_last_error());
    ZT_CHECK(memcmp(keep.p, (float *)big.p + K, (size_t)(M * N) * 4) == 0, "y over x: y was written");
    zf_tensor ys = zf_tensor_2d(wb.p, ZF_DTYPE_F32, M, N);
    zt_fill(ZF_DTYPE_F32, wb.p, N * K, 1.0f);
    st = zf_matmul(&x, &w, &ys, NULL);
    ZT_CHECK(st == ZF_ERR_ALIAS && strstr(zf_last_error(), "overlaps w"), "y over w: %d '%s'", (int)st, zf_last_error());
    zt_free(&xb), zt_free(&wb), zt_free(&yb), zt_free(&keep), zt_free(&big);
}

int main(void) {
    zt_init("test_matmul");
    test_sizes();
    test_threads();
    test_variants_trusted();
    test_selftest_catches();
    test_bad_inputs();
    return zt_finish();
}
