/* Affine quantization against MLX's own output (tests/data/mlx, made by
 * scripts/mlx_golden.py): quantize bit for bit, dequantize bit for bit, and
 * qmm / gather_qmm on f32 inputs within a stated tolerance. Plus the packing
 * round trip on fresh random weights and the argument checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "cpu/quant.h"
#include "harness.h"

/* Tolerance vs MLX and vs float64 for a dot y = sum x_k w_k: both sides are
 * f32 sums in different orders, so |a - b| <= TOL * sum |x_k| |w_k| with
 * TOL = 2^-20 (measured worst: 1.4e-7). */
#define TOL 9.5367e-7

static char g_dir[1024];

static void data_dir(void) {
    const char *env = getenv("ZF_TEST_DATA");
    if (env) {
        snprintf(g_dir, sizeof g_dir, "%s/mlx", env);
        return;
    }
    snprintf(g_dir, sizeof g_dir, "%s", __FILE__);
    char *slash = strrchr(g_dir, '/');
    if (slash) *slash = 0;
    else snprintf(g_dir, sizeof g_dir, ".");
    strncat(g_dir, "/data/mlx", sizeof g_dir - strlen(g_dir) - 1);
}

typedef struct golden {
    int bits, gs, E, n, k, m, slots;
    zf_dtype t;
    unsigned char *buf;
    void *w, *scales, *biases, *deq;
    uint32_t *packed;
    float *x, *y, *yg;
    int32_t *ids;
} golden;

static int load(const char *path, golden *g) {
    size_t n = 0;
    g->buf = (unsigned char *)zt_read_file(path, &n);
    int32_t h[8];
    if (!g->buf || n < sizeof h) return 0;
    const long size = (long)n;
    memcpy(h, g->buf, sizeof h);
    g->bits = h[0], g->gs = h[1], g->t = (zf_dtype)h[2], g->E = h[3], g->n = h[4], g->k = h[5], g->m = h[6],
    g->slots = h[7];
    size_t es = zf_dtype_size(g->t), nw = (size_t)g->E * g->n * g->k, ng = nw / (size_t)g->gs;
    unsigned char *p = g->buf + sizeof h;
    g->w = p, p += nw * es;
    g->packed = (uint32_t *)p, p += nw * (size_t)g->bits / 32 * 4;
    g->scales = p, p += ng * es;
    g->biases = p, p += ng * es;
    g->deq = p, p += nw * es;
    g->x = (float *)p, p += (size_t)g->m * g->k * 4;
    g->y = (float *)p, p += (size_t)g->m * g->n * 4;
    g->ids = (int32_t *)p, p += (size_t)g->m * g->slots * 4;
    g->yg = (float *)p, p += (size_t)g->m * g->slots * g->n * 4;
    ZT_CHECK(p - g->buf == size, "%s: size %ld, expected %ld", path, size, (long)(p - g->buf));
    return p - g->buf == size;
}

static zf_qweight qw_of(const golden *g, uint32_t *packed, void *s, void *b) {
    return (zf_qweight){packed, s, b, g->t, g->bits, g->gs, g->E, g->n, g->k, ZF_DEVICE_CPU};
}

/* float64 reference of x . dequant(row) and its magnitude sum |x||w| */
static void ref_dot(const golden *g, const zf_qweight *q, int64_t row, const float *x, double *y, double *mag) {
    double s = 0, a = 0;
    int64_t words = q->k * q->bits / 32, groups = q->k / q->group_size;
    for (int64_t i = 0; i < q->k; i++) {
        double sc = zt_get(g->t, q->scales, row * groups + i / q->group_size);
        double bi = zt_get(g->t, q->biases, row * groups + i / q->group_size);
        double w = sc * zf_q_get(q->packed + row * words, q->bits, i) + bi;
        s += (double)x[i] * w;
        a += fabs((double)x[i] * w);
    }
    *y = s, *mag = a;
}

static void check_case(const golden *g, const char *name) {
    size_t es = zf_dtype_size(g->t);
    int64_t nw = (int64_t)g->E * g->n * g->k, ng = nw / g->gs, words = nw * g->bits / 32;
    /* quantize MLX's input: packed, scales and biases bit for bit */
    zt_buf pk = zt_alloc(ZF_DTYPE_U32, words), sc = zt_alloc(g->t, ng), bi = zt_alloc(g->t, ng);
    zf_qweight q = qw_of(g, pk.p, sc.p, bi.p);
    int64_t wshape[3] = {g->E, g->n, g->k};
    zf_tensor w = zf_tensor_nd(g->w, g->t, 3, wshape);
    ZT_OK(zf_quantize(&w, &q));
    ZT_CHECK(memcmp(pk.p, g->packed, (size_t)words * 4) == 0, "%s: packed words differ from MLX", name);
    ZT_CHECK(memcmp(sc.p, g->scales, (size_t)ng * es) == 0, "%s: scales differ from MLX", name);
    ZT_CHECK(memcmp(bi.p, g->biases, (size_t)ng * es) == 0, "%s: biases differ from MLX", name);
    ZT_CHECK(zt_guards_ok(&pk) && zt_guards_ok(&sc) && zt_guards_ok(&bi), "%s: quantize wrote past its buffers", name);
    /* dequantize MLX's packed weights: bit for bit */
    zf_qweight mq = qw_of(g, g->packed, g->scales, g->biases);
    zt_buf d = zt_alloc(g->t, nw);
    zf_tensor dt = zf_tensor_nd(d.p, g->t, 3, wshape);
    ZT_OK(zf_dequantize(&mq, &dt));
    int64_t at = zt_first_diff(g->t, d.p, g->deq, nw);
    ZT_CHECK(at < 0, "%s: dequantize differs from MLX at %lld: %g vs %g", name, (long long)at,
             at < 0 ? 0.0 : zt_get(g->t, d.p, at), at < 0 ? 0.0 : zt_get(g->t, g->deq, at));
    ZT_CHECK(zt_guards_ok(&d), "%s: dequantize wrote past its buffer", name);
    /* qmm (expert 0) and gather_qmm on f32 x vs MLX and float64 */
    zt_buf y = zt_alloc(ZF_DTYPE_F32, (int64_t)g->m * g->n);
    zt_buf yg = zt_alloc(ZF_DTYPE_F32, (int64_t)g->m * g->slots * g->n);
    zf_tensor x = zf_tensor_2d(g->x, ZF_DTYPE_F32, g->m, g->k), yt = zf_tensor_2d(y.p, ZF_DTYPE_F32, g->m, g->n);
    zf_qweight q0 = mq;
    q0.experts = 1;
    ZT_OK(zf_qmm(&x, &q0, &yt, NULL));
    zf_tensor ids = zf_tensor_2d(g->ids, ZF_DTYPE_I32, g->m, g->slots);
    int64_t ys[3] = {g->m, g->slots, g->n};
    zf_tensor ygt = zf_tensor_nd(yg.p, ZF_DTYPE_F32, 3, ys);
    ZT_OK(zf_gather_qmm(&x, &mq, &ids, &ygt, NULL));
    double worst = 0;
    for (int i = 0; i < g->m; i++)
        for (int s = 0; s <= g->slots; s++) {
            int e = s == 0 ? 0 : g->ids[i * g->slots + s - 1];
            const float *ours = s == 0 ? (float *)y.p + i * g->n : (float *)yg.p + ((int64_t)i * g->slots + s - 1) * g->n;
            const float *mlx = s == 0 ? g->y + i * g->n : g->yg + ((int64_t)i * g->slots + s - 1) * g->n;
            for (int r = 0; r < g->n; r++) {
                double ref, mag;
                ref_dot(g, &mq, (int64_t)e * g->n + r, g->x + (int64_t)i * g->k, &ref, &mag);
                double e1 = fabs(ours[r] - (double)mlx[r]), e2 = fabs(ours[r] - ref);
                ZT_CHECK(e1 <= TOL * mag && e2 <= TOL * mag, "%s: %s[%d,%d]: ours %.9g mlx %.9g f64 %.9g (|x||w| %g)",
                         name, s ? "gather_qmm" : "qmm", i, r, ours[r], mlx[r], ref, mag);
                if (mag > 0 && e1 / mag > worst) worst = e1 / mag;
            }
        }
    if (getenv("ZF_TEST_VERBOSE")) printf("%s: worst |ours - mlx| / sum|x||w| = %.3g\n", name, worst);
    zt_free(&pk), zt_free(&sc), zt_free(&bi), zt_free(&d), zt_free(&y), zt_free(&yg);
}

static void test_golden(void) {
    static const char *dn[] = {"f32", "f16", "bf16"};
    int found = 0;
    for (int bits = 2; bits <= 8; bits++) {
        if (bits == 7) continue;
        for (int gs = 32; gs <= 128; gs *= 2)
            for (int t = 0; t < 3; t++) {
                char path[1200], name[64];
                snprintf(name, sizeof name, "q%d_g%d_%s", bits, gs, dn[t]);
                snprintf(path, sizeof path, "%s/%s.bin", g_dir, name);
                golden g = {0};
                if (load(path, &g)) {
                    found++;
                    check_case(&g, name);
                }
                free(g.buf);
            }
    }
    ZT_CHECK(found == 54, "found %d of 54 golden files in %s", found, g_dir);
}

/* dequantize(quantize(w)) is within half a quantization step of w, except
 * that MLX's rule (scale = edge / q0, the far edge clamped) may cost the far
 * edge up to one more step: bound 1.5 steps + the T rounding of the result.
 * Fresh weights, odd numbers of groups; no write outside the outputs. */
static void test_roundtrip(void) {
    static const int bits_list[] = {2, 3, 4, 5, 6, 8};
    for (int bi_ = 0; bi_ < 6; bi_++)
        for (int gs = 32; gs <= 128; gs *= 2)
            for (int t = 0; t < 3; t++) {
                int bits = bits_list[bi_], n = 5, k = gs * (1 + (int)(zt_rand() % 4));
                zf_dtype dt = (zf_dtype)t;
                zt_buf w = zt_alloc(dt, (int64_t)n * k), w2 = zt_alloc(dt, (int64_t)n * k);
                zt_fill(dt, w.p, (int64_t)n * k, 1.0f);
                int64_t words = (int64_t)n * k * bits / 32, ng = (int64_t)n * k / gs;
                zt_buf p1 = zt_alloc(ZF_DTYPE_U32, words), s1 = zt_alloc(dt, ng), b1 = zt_alloc(dt, ng);
                zf_qweight q1 = {p1.p, s1.p, b1.p, dt, bits, gs, 1, n, k, ZF_DEVICE_CPU};
                zf_tensor wt = zf_tensor_2d(w.p, dt, n, k), w2t = zf_tensor_2d(w2.p, dt, n, k);
                ZT_OK(zf_quantize(&wt, &q1));
                ZT_OK(zf_dequantize(&q1, &w2t));
                /* every element within half a step of its dequantized value */
                for (int64_t i = 0; i < (int64_t)n * k; i++) {
                    float s = zt_get(dt, s1.p, i / gs);
                    float a = zt_get(dt, w.p, i), b = zt_get(dt, w2.p, i);
                    ZT_CHECK(fabsf(a - b) <= fabsf(s) * 1.5f + fabsf(a) * 0.01f,
                             "roundtrip bits %d gs %d %s [%lld]: %g -> %g (scale %g)", bits, gs, zf_dtype_name(dt),
                             (long long)i, a, b, s);
                    if (fabsf(a - b) > fabsf(s) * 1.5f + fabsf(a) * 0.01f) break;
                }
                ZT_CHECK(zt_guards_ok(&p1) && zt_guards_ok(&s1) && zt_guards_ok(&b1) && zt_guards_ok(&w2),
                         "roundtrip bits %d gs %d: write past a buffer", bits, gs);
                zt_free(&w), zt_free(&w2), zt_free(&p1), zt_free(&s1), zt_free(&b1);
            }
}

/* A constant group (max == min): the scale is the floor 1e-7 with the sign
 * of the far edge, and q0 = rint(edge / scale), ties to even, then sets
 * scale = edge / q0. 0x1.ccccdp-2 / -1e-7f is -4500000.5 in f32, a tie
 * above 2^22: q0 = -4500000. Zero stays zero (scale -1e-7, bias 0). */
static void test_constant_group(void) {
    static const float vals[] = {0x1.ccccdp-2f, 0.0f};
    for (int c = 0; c < 2; c++) {
        const float v = vals[c];
        zt_buf w = zt_alloc(ZF_DTYPE_F32, 32), w2 = zt_alloc(ZF_DTYPE_F32, 32);
        for (int i = 0; i < 32; i++) zt_set(ZF_DTYPE_F32, w.p, i, v);
        zt_buf p1 = zt_alloc(ZF_DTYPE_U32, 4), s1 = zt_alloc(ZF_DTYPE_F32, 1), b1 = zt_alloc(ZF_DTYPE_F32, 1);
        zf_qweight q = {p1.p, s1.p, b1.p, ZF_DTYPE_F32, 4, 32, 1, 1, 32, ZF_DEVICE_CPU};
        zf_tensor wt = zf_tensor_2d(w.p, ZF_DTYPE_F32, 1, 32), w2t = zf_tensor_2d(w2.p, ZF_DTYPE_F32, 1, 32);
        ZT_OK(zf_quantize(&wt, &q));
        ZT_OK(zf_dequantize(&q, &w2t));
        float s = ((float *)s1.p)[0], b = ((float *)b1.p)[0];
        float want_s = v != 0.0f ? v / -4500000.0f : -1e-7f, want_b = v;
        ZT_CHECK(memcmp(&s, &want_s, 4) == 0 && memcmp(&b, &want_b, 4) == 0,
                 "constant group %a: scale %a bias %a; expected %a, %a", (double)v, (double)s, (double)b,
                 (double)want_s, (double)want_b);
        for (int i = 0; i < 32; i++)
            ZT_CHECK(((float *)w2.p)[i] == v, "constant group %a: [%d] dequantizes to %a", (double)v, i,
                     (double)((float *)w2.p)[i]);
        zt_free(&w), zt_free(&w2), zt_free(&p1), zt_free(&s1), zt_free(&b1);
    }
}

static void test_bad_args(void) {
    enum { N = 4, K = 64 };
    zt_buf w = zt_alloc(ZF_DTYPE_F32, N * K), pk = zt_alloc(ZF_DTYPE_U32, N * K * 8 / 32);
    zt_buf s = zt_alloc(ZF_DTYPE_F32, N * 2), b = zt_alloc(ZF_DTYPE_F32, N * 2);
    zt_fill(ZF_DTYPE_F32, w.p, N * K, 1.0f);
    zf_tensor wt = zf_tensor_2d(w.p, ZF_DTYPE_F32, N, K);
    struct { int bits, gs; int64_t k, n; const char *want; } cases[] = {
        {7, 32, K, N, "bits = 7"},     {4, 48, K, N, "group_size = 48"},
        {4, 128, K, N, "not a multiple"}, {4, 32, K, N + 1, "rows"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        zt_poison(&pk);
        zf_qweight q = {pk.p, s.p, b.p, ZF_DTYPE_F32, cases[i].bits, cases[i].gs, 1, cases[i].n, cases[i].k,
                        ZF_DEVICE_CPU};
        zf_status st = zf_quantize(&wt, &q);
        ZT_CHECK(st != ZF_OK && strstr(zf_last_error(), cases[i].want), "case %zu: status %d, message '%s'", i, st,
                 zf_last_error());
        ZT_CHECK(((unsigned char *)pk.p)[0] == 0x7f, "case %zu: output written on error", i);
    }
    zf_qweight q = {pk.p, s.p, NULL, ZF_DTYPE_F32, 4, 32, 1, N, K, ZF_DEVICE_CPU};
    ZT_CHECK(zf_quantize(&wt, &q) == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), "NULL"), "NULL biases: '%s'",
             zf_last_error());
    ZT_CHECK(zf_quantize(&wt, NULL) != ZF_OK, "NULL q accepted");
    zf_qweight q2 = {pk.p, s.p, b.p, ZF_DTYPE_I32, 4, 32, 1, N, K, ZF_DEVICE_CPU};
    ZT_CHECK(zf_quantize(&wt, &q2) == ZF_ERR_DTYPE && strstr(zf_last_error(), "scale_dtype"), "i32 scales: '%s'",
             zf_last_error());
    zt_free(&w), zt_free(&pk), zt_free(&s), zt_free(&b);
}

int main(void) {
    zt_init("test_quant");
    data_dir();
    test_golden();
    test_roundtrip();
    test_constant_group();
    test_bad_args();
    return zt_finish();
}
