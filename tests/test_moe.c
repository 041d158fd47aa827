/* MoE on the CPU: router vs float64 and the tie rule; fused
 * gather_qmm_swiglu / gather_qmm_combine exact == stock composition bit for
 * bit (every bits x group size, odd N and K, 1..64 tokens, duplicate ids,
 * each ISA, 1 and 2 threads), fast within a stated bound of float64;
 * moe_experts == the two calls at every fidelity; bad inputs leave outputs
 * untouched. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/zmath.h"
#include "cpu/l256.h"
#include "cpu/quant.h"
#include "harness.h"
#include "qweight.h"

static int quick(void) { return getenv("ZF_TEST_QUICK") != NULL; }

static qw make_qw(int bits, int gs, zf_dtype st, int64_t E, int64_t n, int64_t k, float scale) {
    return make_qw_ranged(bits, gs, st, E, n, k, scale * 0.1, scale * 1.0, scale * -4.0, scale * 4.0);
}

static double rel_ulp(zf_dtype t) { return t == ZF_DTYPE_F32 ? 0x1p-23 : t == ZF_DTYPE_F16 ? 0x1p-10 : 0x1p-7; }
/* spacing of T's subnormals (results below T's normal range lose relative precision) */
static double abs_ulp(zf_dtype t) { return t == ZF_DTYPE_F16 ? 0x1p-24 : t == ZF_DTYPE_BF16 ? 0x1p-133 : 0x1p-149; }

static const zf_opts k_stock = {ZF_FIDELITY_STOCK, NULL}, k_exact = {ZF_FIDELITY_EXACT, NULL},
                     k_fast = {ZF_FIDELITY_FAST, NULL};

/* Runs `call` under every ISA cap and 1 and 2 threads; all must equal `want`. */
#define SWEEP(call, outb, want, n, t, what)                                                                    \
    do {                                                                                                       \
        zf_cpu_isa best_ = zf_cpu_isa_detected();                                                              \
        for (int isa_ = 0; isa_ <= (int)best_ && isa_ <= ZF_CPU_ISA_AVX2; isa_++)                              \
            for (int th_ = 1; th_ <= 2; th_++) {                                                               \
                zf_set_cpu_isa((zf_cpu_isa)isa_);                                                              \
                zf_set_num_threads(th_);                                                                       \
                zt_poison(&(outb));                                                                            \
                ZT_OK(call);                                                                                   \
                int64_t at_ = zt_first_diff(t, (outb).p, want, n);                                             \
                ZT_CHECK(at_ < 0 && zt_guards_ok(&(outb)), "%s: isa %s threads %d: differs from stock at %lld", \
                         what, zf_cpu_isa_name((zf_cpu_isa)isa_), th_, (long long)at_);                        \
            }                                                                                                  \
        zf_set_cpu_isa(best_);                                                                                 \
        zf_set_num_threads(0);                                                                                 \
    } while (0)

static void test_swiglu(void) {
    static const int bits_list[] = {2, 3, 4, 5, 6, 8};
    static const int ms[] = {1, 2, 7, 64};
    for (int bi = 0; bi < 6; bi++)
        for (int gs = 32; gs <= 128; gs *= 2) {
            int bits = bits_list[bi];
            zf_dtype xt = (zf_dtype)(zt_rand() % 3), st = (zf_dtype)(zt_rand() % 3);
            int64_t E = 1 + (int64_t)(zt_rand() % 6), n = 1 + 2 * (int64_t)(zt_rand() % 24);
            int64_t k = gs * (1 + 2 * (int64_t)(zt_rand() % (quick() ? 2 : 5)));
            int64_t m = ms[zt_rand() % (quick() ? 3 : 4)], slots = 1 + (int64_t)(zt_rand() % 4);
            char what[128];
            snprintf(what, sizeof what, "swiglu bits %d gs %d x %s sc %s E %lld m %lld slots %lld n %lld k %lld", bits,
                     gs, zf_dtype_name(xt), zf_dtype_name(st), (long long)E, (long long)m, (long long)slots,
                     (long long)n, (long long)k);
            float sc = 2.0f / (float)(k * (1 << bits)); /* keeps g and u near 1 */
            qw g = make_qw(bits, gs, st, E, n, k, sc), u = make_qw(bits, gs, st, E, n, k, sc);
            zt_buf xb = zt_alloc(xt, m * k), ib = zt_alloc(ZF_DTYPE_I32, m * slots);
            zt_buf want = zt_alloc(xt, m * slots * n), got = zt_alloc(xt, m * slots * n);
            zt_fill(xt, xb.p, m * k, 1.0f);
            for (int64_t i = 0; i < m * slots; i++) ((int32_t *)ib.p)[i] = (int32_t)(zt_rand() % (uint64_t)E);
            int64_t os[3] = {m, slots, n};
            zf_tensor x = zf_tensor_2d(xb.p, xt, m, k), ids = zf_tensor_2d(ib.p, ZF_DTYPE_I32, m, slots);
            zf_tensor wt = zf_tensor_nd(want.p, xt, 3, os), gt = zf_tensor_nd(got.p, xt, 3, os);
            ZT_OK(zf_gather_qmm_swiglu(&x, &g.w, &u.w, &ids, &wt, &k_stock));
            SWEEP(zf_gather_qmm_swiglu(&x, &g.w, &u.w, &ids, &gt, &k_exact), got, want.p, m * slots * n, xt, what);
            /* the stock composition really is gather_qmm, gather_qmm, swiglu */
            zt_buf gb = zt_alloc(xt, m * slots * n), ub = zt_alloc(xt, m * slots * n);
            zf_tensor gT = zf_tensor_nd(gb.p, xt, 3, os), uT = zf_tensor_nd(ub.p, xt, 3, os);
            ZT_OK(zf_gather_qmm(&x, &g.w, &ids, &gT, NULL));
            ZT_OK(zf_gather_qmm(&x, &u.w, &ids, &uT, NULL));
            ZT_OK(zf_swiglu(&gT, &uT, &gT, &k_stock));
            ZT_CHECK(zt_first_diff(xt, gb.p, want.p, m * slots * n) < 0, "%s: stock != public composition", what);
            /* fast, bit for bit: T(swiglu of the f32 dots), the dots from an f32 copy of x
             * (the canonical dot reads x as f32 either way), every ISA and 1, 2 threads */
            zt_buf x32 = zt_alloc(ZF_DTYPE_F32, m * k), g32 = zt_alloc(ZF_DTYPE_F32, m * slots * n),
                   u32 = zt_alloc(ZF_DTYPE_F32, m * slots * n), fast = zt_alloc(xt, m * slots * n);
            for (int64_t i = 0; i < m * k; i++) ((float *)x32.p)[i] = zt_get(xt, xb.p, i);
            zf_tensor xf = zf_tensor_2d(x32.p, ZF_DTYPE_F32, m, k), gf = zf_tensor_nd(g32.p, ZF_DTYPE_F32, 3, os),
                      uf = zf_tensor_nd(u32.p, ZF_DTYPE_F32, 3, os);
            ZT_OK(zf_gather_qmm(&xf, &g.w, &ids, &gf, &k_stock));
            ZT_OK(zf_gather_qmm(&xf, &u.w, &ids, &uf, &k_stock));
            ZT_OK(zf_swiglu(&gf, &uf, &gf, &k_fast));
            for (int64_t i = 0; i < m * slots * n; i++) zt_set(xt, fast.p, i, ((float *)g32.p)[i]);
            char fwhat[192];
            snprintf(fwhat, sizeof fwhat, "%s, fast (stock here: T(swiglu) of f32 dots)", what);
            SWEEP(zf_gather_qmm_swiglu(&x, &g.w, &u.w, &ids, &gt, &k_fast), got, fast.p, m * slots * n, xt, fwhat);
            zt_free(&x32), zt_free(&g32), zt_free(&u32), zt_free(&fast);
            /* fast vs float64: |out - ref| <= ulp_T |ref| + 2^-18 (|u| mag_g * 1.1 + |silu g| mag_u) */
            zt_poison(&got);
            ZT_OK(zf_gather_qmm_swiglu(&x, &g.w, &u.w, &ids, &gt, &k_fast));
            size_t es = zf_dtype_size(xt);
            for (int64_t p = 0; p < m * slots; p++) {
                int32_t e = ((int32_t *)ib.p)[p];
                const char *xr = (const char *)xb.p + (size_t)((p / slots) * k) * es;
                for (int64_t r = 0; r < n; r++) {
                    double mg, mu, gv = ref_dot(&g.w, e, r, xt, xr, &mg), uv = ref_dot(&u.w, e, r, xt, xr, &mu);
                    double sl = gv / (1.0 + exp(-gv)), ref = sl * uv;
                    double bound = rel_ulp(xt) * fabs(ref) + 0x1p-18 * (fabs(uv) * mg * 1.1 + fabs(sl) * mu) + abs_ulp(xt);
                    float v = zt_get(xt, got.p, p * n + r);
                    ZT_CHECK(fabs(v - ref) <= bound, "%s: fast out[%lld,%lld] = %.9g, f64 %.9g (bound %g)", what,
                             (long long)p, (long long)r, v, ref, bound);
                }
            }
            zt_free(&gb), zt_free(&ub), zt_free(&xb), zt_free(&ib), zt_free(&want), zt_free(&got);
            free_qw(&g), free_qw(&u);
        }
}

static void test_combine(void) {
    for (int iter = 0; iter < (quick() ? 6 : 18); iter++) {
        int bits = (int[]){2, 3, 4, 5, 6, 8}[iter % 6], gs = 32 << (iter / 6 % 3);
        zf_dtype xt = (zf_dtype)(zt_rand() % 3), st = (zf_dtype)(zt_rand() % 3);
        zf_dtype wt = zt_rand() & 1 ? xt : ZF_DTYPE_F32;
        int64_t E = 1 + (int64_t)(zt_rand() % 6), n = 1 + 2 * (int64_t)(zt_rand() % 24);
        int64_t k = gs * (1 + 2 * (int64_t)(zt_rand() % (quick() ? 2 : 4)));
        int64_t m = (int64_t[]){1, 3, 16, 64}[zt_rand() % (quick() ? 3 : 4)], slots = 1 + (int64_t)(zt_rand() % 8);
        char what[160];
        snprintf(what, sizeof what, "combine bits %d gs %d a %s sc %s w %s E %lld m %lld slots %lld n %lld k %lld",
                 bits, gs, zf_dtype_name(xt), zf_dtype_name(st), zf_dtype_name(wt), (long long)E, (long long)m,
                 (long long)slots, (long long)n, (long long)k);
        qw d = make_qw(bits, gs, st, E, n, k, 2.0f / (float)(k * (1 << bits)));
        zt_buf ab = zt_alloc(xt, m * slots * k), ib = zt_alloc(ZF_DTYPE_I32, m * slots), wb = zt_alloc(wt, m * slots);
        zt_buf want = zt_alloc(xt, m * n), got = zt_alloc(xt, m * n);
        zt_fill(xt, ab.p, m * slots * k, 1.0f);
        zt_fill(wt, wb.p, m * slots, 1.0f);
        for (int64_t i = 0; i < m * slots; i++) ((int32_t *)ib.p)[i] = (int32_t)(zt_rand() % (uint64_t)E);
        int64_t as[3] = {m, slots, k};
        zf_tensor a = zf_tensor_nd(ab.p, xt, 3, as), ids = zf_tensor_2d(ib.p, ZF_DTYPE_I32, m, slots);
        zf_tensor w = zf_tensor_2d(wb.p, wt, m, slots), yw = zf_tensor_2d(want.p, xt, m, n), yg = zf_tensor_2d(got.p, xt, m, n);
        ZT_OK(zf_gather_qmm_combine(&a, &d.w, &ids, &w, &yw, &k_stock));
        SWEEP(zf_gather_qmm_combine(&a, &d.w, &ids, &w, &yg, &k_exact), got, want.p, m * n, xt, what);
        if (wt == xt) { /* the stock path == gather_qmm, then public mul and add over slots */
            zt_buf ys = zt_alloc(xt, m * slots * n), ps = zt_alloc(xt, m * n), acc = zt_alloc(xt, m * n);
            zt_buf wbc = zt_alloc(xt, m * n), yslot = zt_alloc(xt, m * n);
            int64_t os[3] = {m, slots, n};
            zf_tensor yst = zf_tensor_nd(ys.p, xt, 3, os);
            ZT_OK(zf_gather_qmm(&a, &d.w, &ids, &yst, NULL));
            size_t es = zf_dtype_size(xt);
            for (int64_t s = 0; s < slots; s++) {
                for (int64_t i = 0; i < m; i++) {
                    memcpy((char *)yslot.p + (size_t)(i * n) * es, (char *)ys.p + (size_t)((i * slots + s) * n) * es,
                           (size_t)n * es);
                    for (int64_t r = 0; r < n; r++) zt_set(xt, wbc.p, i * n + r, zt_get(xt, wb.p, i * slots + s));
                }
                zf_tensor Y = zf_tensor_2d(yslot.p, xt, m, n), W = zf_tensor_2d(wbc.p, xt, m, n);
                zf_tensor P = zf_tensor_2d(ps.p, xt, m, n), A = zf_tensor_2d(acc.p, xt, m, n);
                ZT_OK(zf_mul(&Y, &W, s == 0 ? &A : &P, NULL));
                if (s > 0) ZT_OK(zf_add(&A, &P, &A, NULL));
            }
            ZT_CHECK(zt_first_diff(xt, acc.p, want.p, m * n) < 0, "%s: stock != public mul/add composition", what);
            zt_free(&ys), zt_free(&ps), zt_free(&acc), zt_free(&wbc), zt_free(&yslot);
        }
        /* fast, bit for bit: acc = d_0 w_0, acc = acc + d_s w_s in f32, T once; the
         * f32 dots from an f32 copy of a (the canonical dot reads a as f32 either way) */
        {
            zt_buf a32 = zt_alloc(ZF_DTYPE_F32, m * slots * k), d32 = zt_alloc(ZF_DTYPE_F32, m * slots * n),
                   fast = zt_alloc(xt, m * n);
            for (int64_t i = 0; i < m * slots * k; i++) ((float *)a32.p)[i] = zt_get(xt, ab.p, i);
            int64_t os[3] = {m, slots, n};
            zf_tensor af = zf_tensor_nd(a32.p, ZF_DTYPE_F32, 3, as), df = zf_tensor_nd(d32.p, ZF_DTYPE_F32, 3, os);
            ZT_OK(zf_gather_qmm(&af, &d.w, &ids, &df, &k_stock));
            for (int64_t i = 0; i < m; i++)
                for (int64_t r = 0; r < n; r++) {
                    float acc = 0.0f;
                    for (int64_t s = 0; s < slots; s++) {
                        float p = ((float *)d32.p)[(i * slots + s) * n + r] * zt_get(wt, wb.p, i * slots + s);
                        acc = s == 0 ? p : acc + p;
                    }
                    zt_set(xt, fast.p, i * n + r, acc);
                }
            char fwhat[224];
            snprintf(fwhat, sizeof fwhat, "%s, fast (stock here: its f32 sum of f32 dots)", what);
            SWEEP(zf_gather_qmm_combine(&a, &d.w, &ids, &w, &yg, &k_fast), got, fast.p, m * n, xt, fwhat);
            zt_free(&a32), zt_free(&d32), zt_free(&fast);
        }
        /* fast vs float64: one T rounding + f32 dot and sum errors */
        zt_poison(&got);
        ZT_OK(zf_gather_qmm_combine(&a, &d.w, &ids, &w, &yg, &k_fast));
        size_t es = zf_dtype_size(xt);
        for (int64_t i = 0; i < m; i++)
            for (int64_t r = 0; r < n; r++) {
                double ref = 0, mag = 0;
                for (int64_t s = 0; s < slots; s++) {
                    double mg, wv = zt_get(wt, wb.p, i * slots + s);
                    double dv = ref_dot(&d.w, ((int32_t *)ib.p)[i * slots + s], r, xt,
                                        (const char *)ab.p + (size_t)((i * slots + s) * k) * es, &mg);
                    ref += wv * dv, mag += fabs(wv) * (mg + fabs(dv));
                }
                float v = zt_get(xt, got.p, i * n + r);
                double bound = rel_ulp(xt) * fabs(ref) + 0x1p-18 * mag + abs_ulp(xt);
                ZT_CHECK(fabs(v - ref) <= bound, "%s: fast y[%lld,%lld] = %.9g, f64 %.9g (bound %g)", what,
                         (long long)i, (long long)r, v, ref, bound);
            }
        zt_free(&ab), zt_free(&ib), zt_free(&wb), zt_free(&want), zt_free(&got), free_qw(&d);
    }
}

/* zf_moe_experts == gather_qmm_swiglu then gather_qmm_combine, act and y
 * bit for bit, at every fidelity (the int8 variants included) */
static void test_experts(void) {
    static const zf_fidelity fids[5] = {ZF_FIDELITY_AUTO, ZF_FIDELITY_STOCK, ZF_FIDELITY_EXACT, ZF_FIDELITY_FAST,
                                        ZF_FIDELITY_APPROX};
    for (int iter = 0; iter < (quick() ? 4 : 10); iter++) {
        int bits = iter % 3 ? 4 : (int[]){2, 3, 5, 6, 8}[iter % 5], gs = 32 << (iter % 3);
        zf_dtype xt = (zf_dtype)(zt_rand() % 3), st = (zf_dtype)(zt_rand() % 3);
        zf_dtype wt = zt_rand() & 1 ? xt : ZF_DTYPE_F32;
        int64_t E = 2 + (int64_t)(zt_rand() % 6), m = (int64_t[]){1, 4, 9, 64}[iter % 4];
        int64_t slots = 1 + (int64_t)(zt_rand() % 4), F = gs * (1 + (int64_t)(zt_rand() % 3)), H = gs * 2 + gs * (iter % 2);
        char what[160];
        snprintf(what, sizeof what, "moe_experts bits %d gs %d x %s sc %s w %s E %lld m %lld slots %lld F %lld H %lld",
                 bits, gs, zf_dtype_name(xt), zf_dtype_name(st), zf_dtype_name(wt), (long long)E, (long long)m,
                 (long long)slots, (long long)F, (long long)H);
        float sg = 2.0f / (float)(H * (1 << bits)), sd = 2.0f / (float)(F * (1 << bits));
        qw g = make_qw(bits, gs, st, E, F, H, sg), u = make_qw(bits, gs, st, E, F, H, sg), d = make_qw(bits, gs, st, E, H, F, sd);
        zt_buf xb = zt_alloc(xt, m * H), ib = zt_alloc(ZF_DTYPE_I32, m * slots), wb = zt_alloc(wt, m * slots);
        zt_buf a1 = zt_alloc(xt, m * slots * F), a2 = zt_alloc(xt, m * slots * F);
        zt_buf y1 = zt_alloc(xt, m * H), y2 = zt_alloc(xt, m * H);
        zt_fill(xt, xb.p, m * H, 1.0f);
        zt_fill(wt, wb.p, m * slots, 1.0f);
        for (int64_t i = 0; i < m * slots; i++) ((int32_t *)ib.p)[i] = (int32_t)(zt_rand() % (uint64_t)E);
        if (slots > 1) ((int32_t *)ib.p)[1] = ((int32_t *)ib.p)[0]; /* a duplicate */
        int64_t as[3] = {m, slots, F};
        zf_tensor x = zf_tensor_2d(xb.p, xt, m, H), ids = zf_tensor_2d(ib.p, ZF_DTYPE_I32, m, slots);
        zf_tensor w = zf_tensor_2d(wb.p, wt, m, slots);
        zf_tensor A1 = zf_tensor_nd(a1.p, xt, 3, as), A2 = zf_tensor_nd(a2.p, xt, 3, as);
        zf_tensor Y1 = zf_tensor_2d(y1.p, xt, m, H), Y2 = zf_tensor_2d(y2.p, xt, m, H);
        for (int f = 0; f < 5; f++) {
            zf_opts o = {fids[f], NULL};
            zt_poison(&a1), zt_poison(&a2), zt_poison(&y1), zt_poison(&y2);
            ZT_OK(zf_gather_qmm_swiglu(&x, &g.w, &u.w, &ids, &A1, &o));
            ZT_OK(zf_gather_qmm_combine(&A1, &d.w, &ids, &w, &Y1, &o));
            ZT_OK(zf_moe_experts(&x, &g.w, &u.w, &d.w, &ids, &w, &A2, &Y2, &o));
            int64_t da = zt_first_diff(xt, a2.p, a1.p, m * slots * F), dy = zt_first_diff(xt, y2.p, y1.p, m * H);
            ZT_CHECK(da < 0 && dy < 0 && zt_guards_ok(&a2) && zt_guards_ok(&y2),
                     "%s %s: act differs at %lld, y at %lld", what, zf_fidelity_name(fids[f]), (long long)da, (long long)dy);
        }
        zt_free(&xb), zt_free(&ib), zt_free(&wb), zt_free(&a1), zt_free(&a2), zt_free(&y1), zt_free(&y2);
        free_qw(&g), free_qw(&u), free_qw(&d);
    }
}

/* The weights' bits by NUMERICS.md §8.5, transcribed: p_e = exp(l_e - mx)
 * with the library's exp, over their L256 sum, then den in slot order. */
static void route_bits(zf_dtype t, const void *row, int64_t E, const int32_t *ids, int k, int norm, zf_dtype wt,
                       float *w) {
    float mx = zt_get(t, row, 0), p[512], c[512];
    for (int64_t e = 1; e < E; e++) mx = fmaxf(mx, zt_get(t, row, e));
    for (int64_t e = 0; e < E; e++) c[e] = p[e] = zf_exp_scalar(zt_get(t, row, e) - mx);
    const float sum = zf_l256_sum(c, E);
    float den = 0.0f;
    for (int s = 0; s < k; s++) den = den + p[ids[s]] / sum;
    for (int s = 0; s < k; s++) w[s] = zf_round_to(wt, norm ? (p[ids[s]] / sum) / den : p[ids[s]] / sum);
}

static void test_route(void) {
    for (int iter = 0; iter < 30; iter++) {
        zf_dtype t = (zf_dtype)(iter % 3), wt = iter & 1 ? ZF_DTYPE_F32 : t;
        int64_t m = 1 + (int64_t)(zt_rand() % 5), E = 2 + (int64_t)(zt_rand() % 300);
        int k = 1 + (int)(zt_rand() % (uint64_t)(E < 8 ? E : 8)), norm = (int)(zt_rand() & 1);
        zt_buf lb = zt_alloc(t, m * E), ib = zt_alloc(ZF_DTYPE_I32, m * k), wb = zt_alloc(wt, m * k);
        /* distinct logits on a 1/16 grid (exact in every T), with some exact ties; from iteration 20 on
         * 512 + 4 j, j in [-8, 8): exact in every T, exp(l) past f32's range unless the max is taken
         * off first, and every exp(l - max) a normal f32 */
        for (int64_t i = 0; i < m * E; i++) {
            const int64_t j = (int64_t)(zt_rand() % 128) - 64;
            zt_set(t, lb.p, i, iter < 20 ? (float)j / 16.0f : 512.0f + 4.0f * (float)(j / 8));
        }
        zf_tensor l = zf_tensor_2d(lb.p, t, m, E), ids = zf_tensor_2d(ib.p, ZF_DTYPE_I32, m, k), w = zf_tensor_2d(wb.p, wt, m, k);
        ZT_OK(zf_moe_route(&l, k, norm, &ids, &w, NULL));
        for (int64_t i = 0; i < m; i++) {
            double mx = -INFINITY, sum = 0, topsum = 0;
            for (int64_t e = 0; e < E; e++) mx = fmax(mx, zt_get(t, lb.p, i * E + e));
            for (int64_t e = 0; e < E; e++) sum += exp(zt_get(t, lb.p, i * E + e) - mx);
            unsigned char taken[512] = {0};
            int32_t want[8];
            for (int s = 0; s < k; s++) { /* f64 ranking; equal logits: lower id first */
                int64_t best = -1;
                for (int64_t e = 0; e < E; e++)
                    if (!taken[e] && (best < 0 || zt_get(t, lb.p, i * E + e) > zt_get(t, lb.p, i * E + best))) best = e;
                taken[best] = 1, want[s] = (int32_t)best;
                topsum += exp(zt_get(t, lb.p, i * E + best) - mx) / sum;
            }
            for (int s = 0; s < k; s++) {
                int32_t got = ((int32_t *)ib.p)[i * k + s];
                ZT_CHECK(got == want[s], "route E %lld k %d row %lld slot %d: id %d, want %d", (long long)E, k,
                         (long long)i, s, got, want[s]);
                double p = exp(zt_get(t, lb.p, i * E + want[s]) - mx) / sum, ref = norm ? p / topsum : p;
                float v = zt_get(wt, wb.p, i * k + s);
                ZT_CHECK(fabs(v - ref) <= rel_ulp(wt) * fabs(ref) + 4 * 0x1p-24 * fabs(ref) + abs_ulp(wt),
                         "route %s E %lld norm %d weight[%lld,%d] = %.9g, f64 %.9g", zf_dtype_name(wt), (long long)E,
                         norm, (long long)i, s, v, ref);
            }
            float bits[8];
            route_bits(t, (const char *)lb.p + (size_t)(i * E) * zf_dtype_size(t), E, want, k, norm, wt, bits);
            for (int s = 0; s < k; s++)
                ZT_CHECK(zf_f32_bits(zt_get(wt, wb.p, i * k + s)) == zf_f32_bits(bits[s]),
                         "route %s E %lld norm %d weight[%lld,%d] = %.9g, the §8.5 bits %.9g", zf_dtype_name(wt),
                         (long long)E, norm, (long long)i, s, zt_get(wt, wb.p, i * k + s), bits[s]);
        }
        ZT_CHECK(zt_guards_ok(&ib) && zt_guards_ok(&wb), "route: write past an output");
        zt_free(&lb), zt_free(&ib), zt_free(&wb);
    }
}

#define EXPECT_ERR(call, needle, what)                                                                   \
    do {                                                                                                  \
        zt_poison(&ob);                                                                                   \
        zf_status st_ = (call);                                                                           \
        ZT_CHECK(st_ != ZF_OK && strstr(zf_last_error(), needle), "%s: status %d, message '%s'", what, st_, \
                 zf_last_error());                                                                        \
        ZT_CHECK(((unsigned char *)ob.p)[0] == 0x7f && zt_guards_ok(&ob), "%s: output touched", what);     \
    } while (0)

static void test_bad_args(void) {
    enum { E = 4, N = 6, K = 64, M = 2, S = 2 };
    qw g = make_qw(4, 32, ZF_DTYPE_BF16, E, N, K, 0.01f), u = make_qw(4, 32, ZF_DTYPE_BF16, E, N + 2, K, 0.01f);
    zt_buf xb = zt_alloc(ZF_DTYPE_BF16, M * S * K), ob = zt_alloc(ZF_DTYPE_BF16, M * S * N), ib = zt_alloc(ZF_DTYPE_I32, M * S);
    zt_buf wb = zt_alloc(ZF_DTYPE_BF16, M * S), lb = zt_alloc(ZF_DTYPE_BF16, M * E);
    zt_fill(ZF_DTYPE_BF16, xb.p, M * S * K, 1.0f);
    zt_fill(ZF_DTYPE_BF16, wb.p, M * S, 1.0f);
    zt_fill(ZF_DTYPE_BF16, lb.p, M * E, 1.0f);
    int32_t idv[M * S] = {0, 1, 3, 4};
    memcpy(ib.p, idv, sizeof idv);
    int64_t os[3] = {M, S, N}, as[3] = {M, S, K};
    zf_tensor x = zf_tensor_2d(xb.p, ZF_DTYPE_BF16, M, K), out = zf_tensor_nd(ob.p, ZF_DTYPE_BF16, 3, os);
    zf_tensor ids = zf_tensor_2d(ib.p, ZF_DTYPE_I32, M, S), a = zf_tensor_nd(xb.p, ZF_DTYPE_BF16, 3, as);
    zf_tensor w = zf_tensor_2d(wb.p, ZF_DTYPE_BF16, M, S), y = zf_tensor_2d(ob.p, ZF_DTYPE_BF16, M, N);
    EXPECT_ERR(zf_gather_qmm_swiglu(&x, &g.w, &g.w, &ids, &out, NULL), "ids[1, 1] = 4", "swiglu id range");
    EXPECT_ERR(zf_gather_qmm_combine(&a, &g.w, &ids, &w, &y, NULL), "ids[1, 1] = 4", "combine id range");
    ((int32_t *)ib.p)[3] = 2;
    EXPECT_ERR(zf_gather_qmm_swiglu(&x, &g.w, &u.w, &ids, &out, NULL), "expected equal", "wu shape");
    EXPECT_ERR(zf_gather_qmm_swiglu(&x, &g.w, NULL, &ids, &out, NULL), "NULL", "NULL wu");
    EXPECT_ERR(zf_gather_qmm_combine(&x, &g.w, &ids, &w, &y, NULL), "one row per slot", "combine 2-D a");
    zf_tensor wi = zf_tensor_2d(ib.p, ZF_DTYPE_I32, M, S);
    EXPECT_ERR(zf_gather_qmm_combine(&a, &g.w, &ids, &wi, &y, NULL), "weights", "i32 weights");
    zf_tensor of = zf_tensor_nd(ob.p, ZF_DTYPE_F16, 3, os);
    EXPECT_ERR(zf_gather_qmm_swiglu(&x, &g.w, &g.w, &ids, &of, NULL), "one dtype", "dtype mix");
    zf_qweight g7 = g.w;
    g7.bits = 7;
    EXPECT_ERR(zf_gather_qmm_swiglu(&x, &g7, &g.w, &ids, &out, NULL), "bits = 7", "bits 7");
    /* router: k > E, wrong shapes; ids output untouched */
    zf_tensor l = zf_tensor_2d(lb.p, ZF_DTYPE_BF16, M, E), rid = zf_tensor_2d(ob.p, ZF_DTYPE_I32, M, 2);
    zf_tensor rw = zf_tensor_2d(wb.p, ZF_DTYPE_BF16, M, 2);
    EXPECT_ERR(zf_moe_route(&l, E + 1, 1, &rid, &rw, NULL), "k = 5", "route k > E");
    EXPECT_ERR(zf_moe_route(&l, 3, 1, &rid, &rw, NULL), "[m, k]", "route shape");
    zf_tensor rwh = zf_tensor_2d(wb.p, ZF_DTYPE_F16, M, 2);
    EXPECT_ERR(zf_moe_route(&l, 2, 1, &rid, &rwh, NULL), "weights is f16", "route dtype mix");
    /* moe_experts: a bad argument of the combine leaves act untouched too */
    qw g2 = make_qw(4, 32, ZF_DTYPE_BF16, E, 32, K, 0.01f), d2 = make_qw(4, 32, ZF_DTYPE_BF16, E, K, 32, 0.01f);
    zt_buf actb = zt_alloc(ZF_DTYPE_BF16, M * S * 32), yb = zt_alloc(ZF_DTYPE_BF16, M * K);
    int64_t a32[3] = {M, S, 32};
    zf_tensor act = zf_tensor_nd(actb.p, ZF_DTYPE_BF16, 3, a32), ya = zf_tensor_2d(yb.p, ZF_DTYPE_BF16, M, K);
    zf_qweight dk = d2.w;
    dk.k = 64, dk.n = 32; /* wd [E, 32, 64]: its k is not act's 32 */
    int64_t a31[3] = {M, S, 31};
    zf_tensor act31 = zf_tensor_nd(actb.p, ZF_DTYPE_BF16, 3, a31);
    struct { const zf_tensor *w; zf_tensor *act; const zf_qweight *d; const char *needle, *what; } bad[3] = {
        {&wi, &act, &d2.w, "[moe_experts] weights has dtype i32", "moe_experts i32 weights"},
        {&w, &act, &dk, "[moe_experts] act must be", "moe_experts wd's k"},
        {&w, &act31, &d2.w, "[moe_experts] act", "moe_experts act shape"}};
    for (int i = 0; i < 3; i++) {
        zt_poison(&actb), zt_poison(&yb);
        zf_status st = zf_moe_experts(&x, &g2.w, &g2.w, bad[i].d, &ids, bad[i].w, bad[i].act, &ya, NULL);
        ZT_CHECK(st != ZF_OK && strstr(zf_last_error(), bad[i].needle), "%s: status %d, message '%s'", bad[i].what,
                 st, zf_last_error());
        ZT_CHECK(((unsigned char *)actb.p)[0] == 0x7f && zt_guards_ok(&actb) && ((unsigned char *)yb.p)[0] == 0x7f &&
                     zt_guards_ok(&yb),
                 "%s: act or y touched", bad[i].what);
    }
    zt_poison(&actb), zt_poison(&yb);
    zf_status st = zf_moe_experts(&x, &g2.w, &g2.w, NULL, &ids, &w, &act, &ya, NULL);
    ZT_CHECK(st != ZF_OK && strstr(zf_last_error(), "[moe_experts] wd is NULL"), "moe_experts NULL wd: '%s'",
             zf_last_error());
    ZT_CHECK(((unsigned char *)actb.p)[0] == 0x7f && ((unsigned char *)yb.p)[0] == 0x7f, "moe_experts NULL wd: touched");
    zt_free(&actb), zt_free(&yb), free_qw(&g2), free_qw(&d2);
    zt_free(&xb), zt_free(&ob), zt_free(&ib), zt_free(&wb), zt_free(&lb), free_qw(&g), free_qw(&u);
}

int main(void) {
    zt_init("test_moe");
    test_route();
    test_swiglu();
    test_combine();
    test_experts();
    test_bad_args();
    return zt_finish();
}
