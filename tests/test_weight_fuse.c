/* Weight fusion (src/model/weight_fuse.c): a fused q/k/v or gate/up
 * projection gives every output element the bits of the separate qmm calls
 * (1 and 2 threads, 1..37 rows, every bits x group size, odd widths); parts
 * that do not share a layout, or are too large together, are not fused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/weight_fuse.h"
#include "qweight.h"

static void test_same_bits(void) {
    static const int bits_list[] = {2, 3, 4, 5, 6, 8};
    for (int bi = 0; bi < 6; bi++)
        for (int gs = 32; gs <= 128; gs *= 2) {
            int bits = bits_list[bi], np = 2 + (int)(zt_rand() % 2);
            zf_dtype xt = (zf_dtype)(zt_rand() % 3), st = (zf_dtype)(zt_rand() % 3);
            int64_t k = gs * (1 + 2 * (int64_t)(zt_rand() % 5)), m = 1 + (int64_t)(zt_rand() % 37), cols = 0;
            qw parts[3];
            zf_weight w[3];
            const zf_weight *pw[3];
            zt_buf ys[3], yf[3];
            zf_tensor outs[3], *po[3];
            for (int i = 0; i < np; i++) {
                int64_t n = 1 + 2 * (int64_t)(zt_rand() % 40);
                parts[i] = make_qw_ranged(bits, gs, st, 1, n, k, 0.005, 0.04, -0.2, 0.2);
                w[i] = (zf_weight){.kind = ZF_WEIGHT_AFFINE, .q = parts[i].w};
                pw[i] = &w[i];
                ys[i] = zt_alloc(xt, m * n), yf[i] = zt_alloc(xt, m * n);
                outs[i] = zf_tensor_2d(yf[i].p, xt, m, n);
                po[i] = &outs[i];
                cols += n;
            }
            size_t bytes = zf_fuse_bytes(pw, np, ZF_FUSE_MAX_BYTES);
            ZT_CHECK(bytes > 0, "bits %d gs %d: parts of one layout not fusable", bits, gs);
            void *mem = malloc(bytes);
            zf_weight fused;
            zf_fuse(pw, np, mem, &fused);
            ZT_CHECK(fused.q.n == cols && fused.q.k == k, "fused weight is [%lld, %lld]; expected [%lld, %lld]",
                     (long long)fused.q.n, (long long)fused.q.k, (long long)cols, (long long)k);
            zt_buf xb = zt_alloc(xt, m * k), scratch = zt_alloc(xt, m * cols);
            zt_fill(xt, xb.p, m * k, 1.0f);
            zf_tensor x = zf_tensor_2d(xb.p, xt, m, k);
            for (int th = 1; th <= 2; th++) {
                ZT_OK(zf_set_num_threads(th));
                for (int i = 0; i < np; i++) {
                    zf_tensor y = zf_tensor_2d(ys[i].p, xt, m, parts[i].w.n);
                    ZT_OK(zf_qmm(&x, &parts[i].w, &y, NULL));
                    zt_poison(&yf[i]);
                }
                ZT_OK(zf_fused_linear(&x, &fused, scratch.p, po, np, NULL));
                for (int i = 0; i < np; i++) {
                    int64_t at = zt_first_diff(xt, ys[i].p, yf[i].p, m * parts[i].w.n);
                    ZT_CHECK(at < 0, "bits %d gs %d x %s m %lld threads %d: part %d differs at %lld", bits, gs,
                             zf_dtype_name(xt), (long long)m, th, i, (long long)at);
                    ZT_CHECK(zt_guards_ok(&yf[i]), "part %d: write past its output", i);
                }
            }
            zf_set_num_threads(0);
            free(mem);
            zt_free(&xb), zt_free(&scratch);
            for (int i = 0; i < np; i++) zt_free(&ys[i]), zt_free(&yf[i]), free_qw(&parts[i]);
        }
}

static void test_not_fusable(void) {
    qw a = make_qw_ranged(4, 32, ZF_DTYPE_F16, 1, 8, 64, 0.01, 0.02, 0, 0.1);
    qw b = make_qw_ranged(8, 32, ZF_DTYPE_F16, 1, 8, 64, 0.01, 0.02, 0, 0.1);
    qw c = make_qw_ranged(4, 64, ZF_DTYPE_F16, 1, 8, 64, 0.01, 0.02, 0, 0.1);
    qw d = make_qw_ranged(4, 32, ZF_DTYPE_BF16, 1, 8, 64, 0.01, 0.02, 0, 0.1);
    qw e = make_qw_ranged(4, 32, ZF_DTYPE_F16, 1, 8, 96, 0.01, 0.02, 0, 0.1);
    zf_weight wa = {.kind = ZF_WEIGHT_AFFINE, .q = a.w}, others[4] = {{.kind = ZF_WEIGHT_AFFINE, .q = b.w},
        {.kind = ZF_WEIGHT_AFFINE, .q = c.w}, {.kind = ZF_WEIGHT_AFFINE, .q = d.w}, {.kind = ZF_WEIGHT_AFFINE, .q = e.w}};
    const char *why[4] = {"bits", "group size", "scale dtype", "k"};
    for (int i = 0; i < 4; i++) {
        const zf_weight *p[2] = {&wa, &others[i]};
        ZT_CHECK(zf_fuse_bytes(p, 2, SIZE_MAX) == 0, "parts of different %s fused", why[i]);
    }
    /* experts (a [E, n, k] stack is no row block) and weights on another device, as the first part or the second */
    qw x = make_qw_ranged(4, 32, ZF_DTYPE_F16, 2, 8, 64, 0.01, 0.02, 0, 0.1);
    zf_weight wx = {.kind = ZF_WEIGHT_AFFINE, .q = x.w}, wg = wa;
    wg.q.device = ZF_DEVICE_CUDA;
    const zf_weight *px[2] = {&wa, &wx}, *pxr[2] = {&wx, &wa}, *pg[2] = {&wa, &wg}, *pgr[2] = {&wg, &wa};
    ZT_CHECK(zf_fuse_bytes(px, 2, SIZE_MAX) == 0, "an expert stack fused");
    ZT_CHECK(zf_fuse_bytes(pxr, 2, SIZE_MAX) == 0, "an expert stack fused (first part)");
    ZT_CHECK(zf_fuse_bytes(pg, 2, SIZE_MAX) == 0, "a GPU weight fused");
    ZT_CHECK(zf_fuse_bytes(pgr, 2, SIZE_MAX) == 0, "a GPU weight fused (first part)");
    zf_weight fl = {.kind = ZF_WEIGHT_FLOAT, .t = zf_tensor_2d(a.p.p, ZF_DTYPE_F32, 8, 8)};
    const zf_weight *pf[2] = {&wa, &fl};
    ZT_CHECK(zf_fuse_bytes(pf, 2, SIZE_MAX) == 0, "a float weight fused");
    /* too large together: 2 x 1024 rows of 1024 8-bit = 2 MiB of codes, plus scales */
    qw big = make_qw_ranged(8, 32, ZF_DTYPE_F16, 1, 1024, 1024, 0.01, 0.02, 0, 0.1);
    zf_weight wb = {.kind = ZF_WEIGHT_AFFINE, .q = big.w};
    const zf_weight *pb[2] = {&wb, &wb};
    ZT_CHECK(zf_fuse_bytes(pb, 2, ZF_FUSE_MAX_BYTES) == 0, "parts above ZF_FUSE_MAX_BYTES fused");
    size_t want = 2 * (1024 * 1024 + 2 * 1024 * 32 * 2); /* codes + f16 scales and biases */
    ZT_CHECK(zf_fuse_bytes(pb, 2, SIZE_MAX) == want, "no size limit (CUDA models): %zu bytes; expected %zu",
             zf_fuse_bytes(pb, 2, SIZE_MAX), want);
    free_qw(&a), free_qw(&b), free_qw(&c), free_qw(&d), free_qw(&e), free_qw(&big), free_qw(&x);
}

int main(void) {
    zt_init("test_weight_fuse");
    test_same_bits();
    test_not_fusable();
    return zt_finish();
}
