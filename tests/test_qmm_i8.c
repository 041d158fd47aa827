/* The edge-tier int8 qmm kernel (cpu.avx2.qmm.int8, docs/NUMERICS.md §8.7):
 * within its stated bound of a float64 dot for 4- and 8-bit weights (every
 * group size and activation dtype, odd N and K incl. an odd block count,
 * 1 and 3 rows, 1 and 2 threads); other widths get the canonical bits; the
 * stable tier never runs it. Skips without AVX2. */
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
    zf_opts fast = {.fidelity = ZF_FIDELITY_FAST};
    float *xf = malloc((size_t)k * sizeof *xf);
    for (int th = 1; th <= 2; th++) {
        ZT_OK(zf_set_num_threads(th));
        zt_poison(&yb);
        ZT_OK(zf_qmm(&x, &q.w, &y, &fast));
        ZT_CHECK(zt_guards_ok(&yb), "%s: write past y", what);
        ZT_OK(zf_qmm(&x, &q.w, &y0, NULL)); /* stable tier: the canonical dot */
        if (bits != 4 && bits != 8) {
            ZT_CHECK(zt_first_diff(xt, ys.p, yb.p, m * n) < 0, "%s: a width the kernel hands on differs", what);
            continue;
        }
        zf_qrows rows = zf_qrows_of(&q.w, 0, 0, n);
        for (int64_t i = 0; i < m; i++) {
            for (int64_t e = 0; e < k; e++) xf[e] = zt_get(xt, xb.p, i * k + e);
            for (int64_t r = 0; r < n; r++) {
                double ref, bound = zf_qdot_i8_bound(&rows, r, xf, &ref);
                double got = zt_get(xt, yb.p, i * n + r), tol = bound + half_ulp(xt) * (fabs(ref) + bound);
                ZT_CHECK(fabs(got - ref) <= tol, "%s: y[%lld,%lld] = %.9g, float64 %.9g, bound %.3g", what,
                         (long long)i, (long long)r, got, ref, tol);
            }
        }
    }
    zf_set_num_threads(0);
    free(xf);
    zt_free(&xb), zt_free(&yb), zt_free(&ys), free_qw(&q);
}

int main(void) {
    zt_init("test_qmm_i8");
    if (zf_cpu_isa_detected() < ZF_CPU_ISA_AVX2) {
        printf("test_qmm_i8: no AVX2 here; skipped\n");
        return 77;
    }
    const zf_variant *v;
    ZT_OK(zf_pick(ZF_OP_QMM, ZF_DEVICE_CPU, ZF_FIDELITY_AUTO, &v));
    ZT_CHECK(strcmp(v->name, "cpu.avx2.qmm.int8") != 0, "the stable tier picked %s", v->name);
    ZT_OK(zf_set_tier(ZF_TIER_EDGE));
    ZT_OK(zf_pick(ZF_OP_QMM, ZF_DEVICE_CPU, ZF_FIDELITY_AUTO, &v));
    ZT_CHECK(strcmp(v->name, "cpu.avx2.qmm.int8") == 0, "the edge tier picked %s", v->name);
    ZT_OK(zf_set_tier(ZF_TIER_STABLE));
    static const int bits_list[] = {4, 8, 2, 6};
    for (int bi = 0; bi < 4; bi++)
        for (int gs = 32; gs <= 128; gs *= 2) {
            zf_dtype xt = (zf_dtype)(zt_rand() % 3), st = (zf_dtype)(zt_rand() % 3);
            int64_t n = 1 + 2 * (int64_t)(zt_rand() % 40), k = gs * (1 + 2 * (int64_t)(zt_rand() % 9));
            if (gs == 32) k = 32 * (3 + 2 * (int64_t)(zt_rand() % 20)); /* an odd block count */
            check_case(bits_list[bi], gs, xt, st, 1 + 2 * (int64_t)(zt_rand() % 2), n, k);
        }
    /* 5 rows of 1 .. 20 blocks: every way an 8-block stretch can cross from
     * one row into the next, the last row's masked end, and the per-row path
     * (fewer than 8 blocks) */
    for (int64_t nb = 1; nb <= 20; nb++)
        for (int bits = 4; bits <= 8; bits += 4)
            check_case(bits, 32, ZF_DTYPE_BF16, (zf_dtype)(nb % 3), 1, 5, 32 * nb);
    return zt_finish();
}
