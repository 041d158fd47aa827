/* The edge-tier int8 kernel (fidelity approx, docs/NUMERICS.md §8.7) in qmm
 * (cpu.avx2.qmm.int8; cpu.avx512.qmm.int8 where the CPU has AVX-512, the
 * AVX2 kernel's bits): within its stated bound of a float64 dot for 4- and
 * 8-bit weights (every group size and activation dtype, odd N and K incl.
 * an odd block count, 1 and 3 rows, 1 and 2 threads); other widths get the
 * canonical bits. The fused MoE ops on it (gather_qmm_swiglu, _combine):
 * within that bound carried through silu * u and the weighted slot sum. The
 * stable and fast tiers never run it. Skips without AVX2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/registry.h"
#include "cpu/qmm.h"
#include "harness.h"
#include "qweight.h"

static double half_ulp(zf_dtype t) { return t == ZF_DTYPE_F32 ? 0x1p-24 : t == ZF_DTYPE_F16 ? 0x1p-11 : 0x1p-8; }

static void check_case(int bits, int gs, zf_dtype xt, zf_dtype st, int64_t m, int64_t n, int64_t k) {
    char what[128];
    snprintf(what, sizeof what, "bits %d gs %d x %s scales %s m %lld n %lld k %lld", bits, gs, zf_dtype_name(xt),
             zf_dtype_name(st), (long long)m, (long long)n, (long long)k);
    qw q = make_qw_ranged(bits, gs, st, 1, n, k, 0.005, 0.04, -0.2, 0.2);
    zt_buf xb = zt_alloc(xt, m * k), yb = zt_alloc(xt, m * n), ys = zt_alloc(xt, m * n);
    zt_fill(xt, xb.p, m * k, 1.0f);
    zf_tensor x = zf_tensor_2d(xb.p, xt, m, k), y = zf_tensor_2d(yb.p, xt, m, n), y0 = zf_tensor_2d(ys.p, xt, m, n);
    zf_opts approx = {.fidelity = ZF_FIDELITY_APPROX};
    float *xf = malloc((size_t)k * sizeof *xf), *xs = malloc((size_t)k / 4 * sizeof *xs),
          *direct = malloc((size_t)n * sizeof *direct), *d512 = malloc((size_t)n * sizeof *d512);
    zt_buf one = zt_alloc(xt, n);
    for (int th = 1; th <= 2; th++) {
        ZT_OK(zf_set_num_threads(th));
        zt_poison(&yb);
        ZT_OK(zf_qmm(&x, &q.w, &y, &approx));
        ZT_CHECK(zt_guards_ok(&yb), "%s: write past y", what);
        ZT_OK(zf_qmm(&x, &q.w, &y0, NULL)); /* stable tier: the canonical dot */
        if (bits != 4 && bits != 8) {
            ZT_CHECK(zt_first_diff(xt, ys.p, yb.p, m * n) < 0, "%s: a width the kernel hands on differs", what);
            continue;
        }
        zf_qrows rows = zf_qrows_of(&q.w, 0, 0, n);
        for (int64_t i = 0; i < m; i++) {
            for (int64_t e = 0; e < k; e++) xf[e] = zt_get(xt, xb.p, i * k + e);
            /* the op prepares x once per call (zf_qprep): the kernel's own bits */
            zf_qx_prepare(ZF_DTYPE_F32, xf, k, xf, xs);
            const float *xfp[1] = {xf}, *xsp[1] = {xs};
            zf_avx2_qdot_i8(&rows, 1, xfp, xsp, direct);
            if (zf_cpu_isa_detected() >= ZF_CPU_ISA_AVX512) { /* the AVX-512 walk: the AVX2 one's bits */
                zf_avx512_qdot_i8(&rows, 1, xfp, xsp, d512);
                ZT_CHECK(memcmp(d512, direct, (size_t)n * sizeof *direct) == 0,
                         "%s: row %lld: the AVX-512 int8 kernel differs from the AVX2 one", what, (long long)i);
            }
            for (int64_t r = 0; r < n; r++) zt_set(xt, one.p, r, direct[r]);
            int64_t at = zt_first_diff(xt, one.p, (char *)yb.p + (size_t)(i * n) * zf_dtype_size(xt), n);
            ZT_CHECK(at < 0, "%s threads %d: row %lld differs from the kernel's own at %lld", what, th, (long long)i,
                     (long long)at);
            for (int64_t r = 0; r < n; r++) {
                double ref, bound = zf_qdot_i8_bound(&rows, r, xf, &ref);
                double got = zt_get(xt, yb.p, i * n + r), tol = bound + half_ulp(xt) * (fabs(ref) + bound);
                ZT_CHECK(fabs(got - ref) <= tol, "%s: y[%lld,%lld] = %.9g, float64 %.9g, bound %.3g", what,
                         (long long)i, (long long)r, got, ref, tol);
            }
        }
    }
    zf_set_num_threads(0);
    free(xf), free(xs), free(direct), free(d512);
    zt_free(&xb), zt_free(&yb), zt_free(&ys), zt_free(&one), free_qw(&q);
}

/* The int8 dot of x (k f32 values) with row r of expert e as the kernel
 * defines it (§8.7), in float64: x quantized per block exactly as the
 * kernel does it in f32 (a = amax / 127, q = rint(x * (127 / amax))), the
 * integer block dots S_j exact, y = Σ_j S_j a_j s_g + b_g X_j. *err gets
 * the f32 rounding the kernel may add (its sums, products, X_j): much
 * tighter than the op's bound against the true dot, so a wrong scale,
 * bias, slot or row shows. */
static double i8_model(const zf_qweight *w, int64_t e, int64_t r, const float *xf, double *err) {
    zf_qrows rows = zf_qrows_of(w, e, 0, w->n);
    const uint32_t *p = rows.packed + r * rows.words;
    double y = 0, mag = 0;
    for (int64_t j = 0; j < w->k / ZF_QBLOCK; j++) {
        const float *b = xf + j * ZF_QBLOCK;
        int64_t g = r * rows.groups + j * ZF_QBLOCK / w->group_size;
        double s = zf_load(rows.sdt, rows.scales, g), bias = zf_load(rows.sdt, rows.biases, g), X = 0, ax = 0;
        float amax = 0.0f;
        for (int i = 0; i < ZF_QBLOCK; i++) amax = fmaxf(amax, fabsf(b[i]));
        float a = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        int64_t S = 0;
        for (int i = 0; i < ZF_QBLOCK; i++) {
            float t = b[i] * inv;
            S += (int64_t)nearbyintf(t) * (int64_t)zf_q_get(p, w->bits, j * ZF_QBLOCK + i);
            X += b[i], ax += fabs(b[i]);
        }
        y += (double)S * a * s + bias * X;
        mag += fabs((double)S * a * s) + fabs(bias) * ax;
    }
    *err = (double)(w->k / ZF_QBLOCK + 40) * 0x1p-23 * mag;
    return y;
}

static void load_row(zf_dtype t, const void *p, int64_t off, int64_t k, float *xf) {
    for (int64_t i = 0; i < k; i++) xf[i] = zt_get(t, p, off + i);
}

/* gather_qmm_swiglu at fidelity approx: |got - silu(g) u| for the int8
 * model's g and u, within their f32 error carried through (|silu'| <= 1.1)
 * plus f32 and T rounding. Pairs with duplicate experts, 1..3 tokens of 8
 * slots. */
static void check_swiglu(int bits, int gs, zf_dtype xt, zf_dtype st, int64_t m, int64_t n, int64_t k) {
    const int64_t E = 5, S = 8;
    char what[128];
    snprintf(what, sizeof what, "swiglu bits %d gs %d x %s m %lld n %lld k %lld", bits, gs, zf_dtype_name(xt),
             (long long)m, (long long)n, (long long)k);
    qw g = make_qw_ranged(bits, gs, st, E, n, k, 0.005, 0.04, -0.2, 0.2);
    qw u = make_qw_ranged(bits, gs, st, E, n, k, 0.005, 0.04, -0.2, 0.2);
    zt_buf xb = zt_alloc(xt, m * k), ob = zt_alloc(xt, m * S * n), ib = zt_alloc(ZF_DTYPE_I32, m * S);
    zt_fill(xt, xb.p, m * k, 1.0f);
    for (int64_t i = 0; i < m * S; i++) ((int32_t *)ib.p)[i] = (int32_t)(zt_rand() % E);
    int64_t sx[3] = {m, S, n};
    zf_tensor x = zf_tensor_2d(xb.p, xt, m, k), ids = zf_tensor_2d(ib.p, ZF_DTYPE_I32, m, S),
              out = zf_tensor_nd(ob.p, xt, 3, sx);
    zf_opts approx = {.fidelity = ZF_FIDELITY_APPROX};
    float *xf = malloc((size_t)k * sizeof *xf);
    zt_poison(&ob);
    ZT_OK(zf_gather_qmm_swiglu(&x, &g.w, &u.w, &ids, &out, &approx));
    ZT_CHECK(zt_guards_ok(&ob), "%s: write past out", what);
    for (int64_t i = 0; i < m; i++) {
        load_row(xt, xb.p, i * k, k, xf);
        for (int64_t s = 0; s < S; s++) {
            int64_t e = ((int32_t *)ib.p)[i * S + s];
            for (int64_t r = 0; r < n; r++) {
                double eg, eu, gd = i8_model(&g.w, e, r, xf, &eg), ud = i8_model(&u.w, e, r, xf, &eu);
                double sg = gd / (1 + exp(-gd)), want = sg * ud;
                double tol = 1.1 * eg * (fabs(ud) + eu) + fabs(sg) * eu;
                tol += half_ulp(xt) * (fabs(want) + tol) + 0x1p-20 * (fabs(sg) + 1.1 * eg) * (fabs(ud) + eu);
                double got = zt_get(xt, ob.p, (i * S + s) * n + r);
                ZT_CHECK(fabs(got - want) <= tol, "%s: out[%lld,%lld,%lld] = %.9g, float64 %.9g, bound %.3g", what,
                         (long long)i, (long long)s, (long long)r, got, want, tol);
            }
        }
    }
    free(xf);
    zt_free(&xb), zt_free(&ob), zt_free(&ib), free_qw(&g), free_qw(&u);
}

/* gather_qmm_combine at fidelity approx: |got - Σ_s w_s d_s| for the int8
 * model's d_s, within Σ |w_s| times their f32 error plus f32 and T rounding. */
static void check_combine(int bits, int gs, zf_dtype xt, zf_dtype st, int64_t m, int64_t n, int64_t k) {
    const int64_t E = 5, S = 8;
    char what[128];
    snprintf(what, sizeof what, "combine bits %d gs %d a %s m %lld n %lld k %lld", bits, gs, zf_dtype_name(xt),
             (long long)m, (long long)n, (long long)k);
    qw d = make_qw_ranged(bits, gs, st, E, n, k, 0.005, 0.04, -0.2, 0.2);
    zt_buf ab = zt_alloc(xt, m * S * k), wb = zt_alloc(ZF_DTYPE_F32, m * S), yb = zt_alloc(xt, m * n),
           ib = zt_alloc(ZF_DTYPE_I32, m * S);
    zt_fill(xt, ab.p, m * S * k, 1.0f);
    for (int64_t i = 0; i < m * S; i++) {
        ((int32_t *)ib.p)[i] = (int32_t)(zt_rand() % E);
        ((float *)wb.p)[i] = (float)(zt_rand() % 1000) / 1000.0f;
    }
    int64_t sa[3] = {m, S, k};
    zf_tensor a = zf_tensor_nd(ab.p, xt, 3, sa), ids = zf_tensor_2d(ib.p, ZF_DTYPE_I32, m, S),
              wt = zf_tensor_2d(wb.p, ZF_DTYPE_F32, m, S), y = zf_tensor_2d(yb.p, xt, m, n);
    zf_opts approx = {.fidelity = ZF_FIDELITY_APPROX};
    float *xf = malloc((size_t)k * sizeof *xf);
    zt_poison(&yb);
    ZT_OK(zf_gather_qmm_combine(&a, &d.w, &ids, &wt, &y, &approx));
    ZT_CHECK(zt_guards_ok(&yb), "%s: write past y", what);
    for (int64_t i = 0; i < m; i++)
        for (int64_t r = 0; r < n; r++) {
            double want = 0, tol = 0, mag = 0;
            for (int64_t s = 0; s < S; s++) {
                load_row(xt, ab.p, (i * S + s) * k, k, xf);
                double w = ((float *)wb.p)[i * S + s], ed, dd = i8_model(&d.w, ((int32_t *)ib.p)[i * S + s], r, xf, &ed);
                want += w * dd, tol += fabs(w) * ed, mag += fabs(w) * (fabs(dd) + ed);
            }
            tol += half_ulp(xt) * (fabs(want) + tol) + (double)S * 0x1p-23 * mag;
            double got = zt_get(xt, yb.p, i * n + r);
            ZT_CHECK(fabs(got - want) <= tol, "%s: y[%lld,%lld] = %.9g, float64 %.9g, bound %.3g", what, (long long)i,
                     (long long)r, got, want, tol);
        }
    free(xf);
    zt_free(&ab), zt_free(&wb), zt_free(&yb), zt_free(&ib), free_qw(&d);
}

int main(void) {
    zt_init("test_qmm_i8");
    if (zf_cpu_isa_detected() < ZF_CPU_ISA_AVX2) {
        printf("test_qmm_i8: no AVX2 here; skipped\n");
        return 77;
    }
    const zf_variant *v;
    ZT_OK(zf_pick(ZF_OP_QMM, ZF_DEVICE_CPU, ZF_FIDELITY_AUTO, &v));
    ZT_CHECK(strstr(v->name, ".int8") == NULL, "the stable tier picked %s", v->name);
    static const zf_op ops[] = {ZF_OP_QMM, ZF_OP_GATHER_QMM, ZF_OP_GATHER_QMM_SWIGLU, ZF_OP_GATHER_QMM_COMBINE};
    for (int t = ZF_TIER_STABLE; t <= ZF_TIER_EDGE; t++)
        for (int i = 0; i < 4; i++) {
            ZT_OK(zf_set_tier((zf_tier)t));
            ZT_OK(zf_pick(ops[i], ZF_DEVICE_CPU, ZF_FIDELITY_AUTO, &v));
            int i8 = strstr(v->name, ".int8") != NULL;
            ZT_CHECK(i8 == (t == ZF_TIER_EDGE), "tier %s picked %s for %s", zf_tier_name((zf_tier)t), v->name,
                     zf_op_name(ops[i]));
            ZT_CHECK(!i8 || v->fidelity == ZF_FIDELITY_APPROX, "%s is not fidelity approx", v->name);
        }
    ZT_OK(zf_set_tier(ZF_TIER_STABLE));
    /* explicit fast (the f32 fused variants) never gets the int8 kernel */
    ZT_OK(zf_pick(ZF_OP_GATHER_QMM_SWIGLU, ZF_DEVICE_CPU, ZF_FIDELITY_FAST, &v));
    ZT_CHECK(v->fidelity == ZF_FIDELITY_FAST, "explicit fast picked %s", v->name);
    static const int bits_list[] = {4, 8, 2, 6};
    for (int bi = 0; bi < 4; bi++)
        for (int gs = 32; gs <= 128; gs *= 2) {
            zf_dtype xt = (zf_dtype)(zt_rand() % 3), st = (zf_dtype)(zt_rand() % 3);
            int64_t n = 1 + 2 * (int64_t)(zt_rand() % 40), k = gs * (1 + 2 * (int64_t)(zt_rand() % 9));
            if (gs == 32) k = 32 * (3 + 2 * (int64_t)(zt_rand() % 20)); /* an odd block count */
            check_case(bits_list[bi], gs, xt, st, 1 + 2 * (int64_t)(zt_rand() % 2), n, k);
        }
    /* 5 rows of 1 .. 20 blocks: every way an 8-block stretch can cross from
     * one row into the next, the last row's masked end, the per-row path
     * (fewer than 8 blocks), and rows of whole stretches (8, 16) */
    for (int64_t nb = 1; nb <= 20; nb++)
        for (int bits = 4; bits <= 8; bits += 4)
            check_case(bits, 32, ZF_DTYPE_BF16, (zf_dtype)(nb % 3), 1, 5, 32 * nb);
    /* several x rows over 150 weight rows: rows straddling stretches (11
     * blocks: the joined stream for 8-bit) and whole ones (16) */
    for (int bits = 4; bits <= 8; bits += 4) {
        check_case(bits, 32, ZF_DTYPE_BF16, ZF_DTYPE_F16, 3, 150, 32 * 11);
        check_case(bits, 64, ZF_DTYPE_F32, ZF_DTYPE_BF16, 5, 150, 32 * 16);
    }
    /* 4-bit, several x rows, an even block count that is no whole number of
     * stretches (6, 10): x rows are paired only over whole stretches */
    check_case(4, 32, ZF_DTYPE_BF16, ZF_DTYPE_F16, 3, 19, 32 * 6);
    check_case(4, 64, ZF_DTYPE_F32, ZF_DTYPE_BF16, 2, 19, 32 * 10);
    /* rows of whole stretches: groups of 8 rows summed together, then the rest */
    for (int64_t nb = 8; nb <= 24; nb += 8)
        for (int bits = 4; bits <= 8; bits += 4)
            check_case(bits, 32 << (nb / 8 - 1), ZF_DTYPE_BF16, (zf_dtype)(nb % 3), 2, 19, 32 * nb);
    /* the fused MoE ops: Qwen3-30B-A3B-like k (group 64), odd n and k */
    for (int bits = 4; bits <= 8; bits += 4)
        for (int th = 1; th <= 2; th++) {
            ZT_OK(zf_set_num_threads(th));
            check_swiglu(bits, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 1, 17, 2048);
            check_swiglu(bits, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 4, 17, 1024); /* experts shared by tokens */
            check_swiglu(bits, 32, (zf_dtype)(zt_rand() % 3), (zf_dtype)(zt_rand() % 3), 3, 9, 32 * 13);
            check_combine(bits, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 1, 21, 768);
            check_combine(bits, 32, (zf_dtype)(zt_rand() % 3), (zf_dtype)(zt_rand() % 3), 3, 7, 32 * 11);
        }
    zf_set_num_threads(0);
    return zt_finish();
}
