/* Model ops: softmax, rope (+ table), attention, attention_decode, embedding, sampler, against
 * float64 references and the documented operation order (bit for bit), odd
 * sizes, poisoned outputs with guards, bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/registry.h"
#include "harness.h"
#include "model/sampler.h"

static const zf_dtype k_dtypes[3] = {ZF_DTYPE_F32, ZF_DTYPE_F16, ZF_DTYPE_BF16};
static int quick(void) { return getenv("ZF_TEST_QUICK") != NULL; }
static double tol_of(zf_dtype t) { return t == ZF_DTYPE_F32 ? 2e-6 : t == ZF_DTYPE_F16 ? 1e-3 : 8e-3; }

/* The documented L256 order, written out naively (all 256 lanes). */
static float l256(const float *a, const float *b, int64_t n) {
    float acc[256];
    for (int l = 0; l < 256; l++) acc[l] = 0.0f;
    for (int64_t i = 0; i < n; i++) acc[i % 256] = fmaf(a[i], b ? b[i] : 1.0f, acc[i % 256]);
    for (int s = 128; s >= 1; s /= 2)
        for (int l = 0; l < s; l++) acc[l] = acc[l] + acc[l + s];
    return acc[0];
}

static void test_softmax(void) {
    const int64_t ns[] = {1, 7, 33, 255, 257, 4099};
    for (int d = 0; d < 3; d++)
        for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
            zf_dtype t = k_dtypes[d];
            int64_t rows = 3, n = ns[c];
            zt_buf x = zt_alloc(t, rows * n), y = zt_alloc(t, rows * n);
            zt_fill(t, x.p, rows * n, 8.0f);
            zf_tensor tx = zf_tensor_2d(x.p, t, rows, n), ty = zf_tensor_2d(y.p, t, rows, n);
            ZT_OK(zf_softmax(&tx, &ty, NULL));
            ZT_CHECK(zt_guards_ok(&y), "softmax guards");
            float *xf = malloc((size_t)n * 4), *e = malloc((size_t)n * 4);
            int bad_bits = 0;
            double worst = 0;
            for (int64_t r = 0; r < rows; r++) {
                float mx = -INFINITY;
                double mxd = -INFINITY, sd = 0;
                for (int64_t i = 0; i < n; i++) {
                    xf[i] = zt_get(t, x.p, r * n + i);
                    if (xf[i] > mx) mx = xf[i];
                }
                mxd = mx;
                for (int64_t i = 0; i < n; i++) { e[i] = zf_expf(xf[i] - mx); sd += exp(xf[i] - mxd); }
                float s = l256(e, NULL, n);
                for (int64_t i = 0; i < n; i++) {
                    float got = zt_get(t, y.p, r * n + i);
                    uint16_t want16;
                    float want = e[i] / s;
                    if (t == ZF_DTYPE_F16) { want16 = zf_f32_to_f16(want); want = zf_f16_to_f32(want16); }
                    if (t == ZF_DTYPE_BF16) { want16 = zf_f32_to_bf16(want); want = zf_bf16_to_f32(want16); }
                    bad_bits += memcmp(&got, &want, 4) != 0;
                    double ref = exp(xf[i] - mxd) / sd, err = fabs(got - ref) / (ref > 1e-3 ? ref : 1e-3);
                    if (err > worst) worst = err;
                }
            }
            ZT_CHECK(bad_bits == 0, "softmax %s n=%lld: %d values differ from the documented order",
                     zf_dtype_name(t), (long long)n, bad_bits);
            ZT_CHECK(worst < 4 * tol_of(t), "softmax %s n=%lld: rel error %g vs float64", zf_dtype_name(t),
                     (long long)n, worst);
            /* in place gives the same bits */
            zt_buf z = zt_alloc(t, rows * n);
            memcpy(z.p, x.p, x.bytes);
            zf_tensor tz = zf_tensor_2d(z.p, t, rows, n);
            ZT_OK(zf_softmax(&tz, &tz, NULL));
            ZT_CHECK(zt_first_diff(t, z.p, y.p, rows * n) < 0, "softmax in place differs");
            free(xf); free(e);
            zt_free(&x); zt_free(&y); zt_free(&z);
        }
    /* bad inputs: outputs untouched */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6];
    memset(b, 0x7f, sizeof b);
    zf_tensor ta = zf_tensor_2d(a, ZF_DTYPE_F32, 2, 3), tb = zf_tensor_2d(b, ZF_DTYPE_F32, 3, 2);
    ZT_CHECK(zf_softmax(&ta, &tb, NULL) == ZF_ERR_SHAPE && strstr(zf_last_error(), "[softmax]"), "shape: %s",
             zf_last_error());
    tb = zf_tensor_2d(b, ZF_DTYPE_BF16, 2, 3);
    ZT_CHECK(zf_softmax(&ta, &tb, NULL) == ZF_ERR_DTYPE, "dtype: %s", zf_last_error());
    zf_tensor part = zf_tensor_2d(a + 1, ZF_DTYPE_F32, 1, 3), whole = zf_tensor_2d(a, ZF_DTYPE_F32, 1, 3);
    ZT_CHECK(zf_softmax(&whole, &part, NULL) == ZF_ERR_ALIAS, "alias: %s", zf_last_error());
    unsigned char poison[24];
    memset(poison, 0x7f, sizeof poison);
    ZT_CHECK(memcmp(b, poison, sizeof b) == 0, "softmax wrote output on bad input");
    /* the max subtracted is the row's own, also when every value is negative: a
     * row far below zero (whose exps underflow) gives the bits of the row shifted to 0 */
    float lo[3] = {-200.0f, -201.0f, -202.0f}, at0[3] = {0.0f, -1.0f, -2.0f}, ylo[3], y0[3];
    zf_tensor tlo = zf_tensor_2d(lo, ZF_DTYPE_F32, 1, 3), tylo = zf_tensor_2d(ylo, ZF_DTYPE_F32, 1, 3);
    zf_tensor t0 = zf_tensor_2d(at0, ZF_DTYPE_F32, 1, 3), ty0 = zf_tensor_2d(y0, ZF_DTYPE_F32, 1, 3);
    ZT_OK(zf_softmax(&tlo, &tylo, NULL));
    ZT_OK(zf_softmax(&t0, &ty0, NULL));
    ZT_CHECK(memcmp(ylo, y0, sizeof y0) == 0 && y0[0] > 0.6f && y0[0] < 0.7f,
             "softmax of {-200, -201, -202}: %g %g %g; of {0, -1, -2}: %g %g %g", ylo[0], ylo[1], ylo[2], y0[0],
             y0[1], y0[2]);
}

static void test_rope(void) {
    const int64_t dims[] = {64, 128, 6};
    const float thetas[] = {10000.0f, 1000000.0f, 100000.0f};
    int64_t npos = quick() ? 512 : 8192;
    for (int c = 0; c < 3; c++) {
        int64_t D = dims[c], h = D / 2;
        float *cs = malloc((size_t)(npos * D) * 4);
        int64_t shape[3] = {npos, h, 2};
        zf_tensor tcs = zf_tensor_nd(cs, ZF_DTYPE_F32, 3, shape);
        ZT_OK(zf_rope_table(thetas[c], D, 3, &tcs));
        int64_t not_nearest = 0, beyond_1ulp = 0;
        for (int64_t p = 0; p < npos; p++)
            for (int64_t i = 0; i < h; i++) {
                double a = (double)(p + 3) * pow((double)thetas[c], -(double)(2 * i) / (double)D);
                double ref[2] = {cos(a), sin(a)};
                for (int k = 0; k < 2; k++) {
                    float got = cs[(p * h + i) * 2 + k];
                    not_nearest += got != (float)ref[k];
                    double ulp = ldexp(1.0, ilogb(fabs(ref[k]) > 1e-30 ? ref[k] : 1e-30) - 23);
                    beyond_1ulp += fabs(got - ref[k]) > ulp;
                }
            }
        ZT_CHECK(beyond_1ulp == 0, "rope_table D=%lld: %lld values beyond 1 ulp of float64", (long long)D,
                 (long long)beyond_1ulp);
        ZT_CHECK(not_nearest * 1000 <= npos * D, "rope_table D=%lld: %lld of %lld not nearest", (long long)D,
                 (long long)not_nearest, (long long)(npos * D));
        /* rotation: documented formula bit for bit, both styles, all dtypes, in place */
        for (int d = 0; d < 3; d++)
            for (int neox = 0; neox < 2; neox++) {
                zf_dtype t = k_dtypes[d];
                int64_t m = 5, H = 3, n = m * H * D;
                zt_buf x = zt_alloc(t, n), y = zt_alloc(t, n);
                zt_fill(t, x.p, n, 2.0f);
                int64_t xs[3] = {m, H, D}, cshape[3] = {m, h, 2};
                zf_tensor tx = zf_tensor_nd(x.p, t, 3, xs), ty = zf_tensor_nd(y.p, t, 3, xs);
                zf_tensor rows = zf_tensor_nd(cs + 17 * D, ZF_DTYPE_F32, 3, cshape);
                ZT_OK(zf_rope(&tx, &rows, neox, &ty, NULL));
                ZT_CHECK(zt_guards_ok(&y), "rope guards");
                int bad = 0;
                for (int64_t i = 0; i < m; i++)
                    for (int64_t hh = 0; hh < H; hh++)
                        for (int64_t j = 0; j < h; j++) {
                            int64_t base = (i * H + hh) * D, ia = neox ? j : 2 * j, ib = neox ? j + h : 2 * j + 1;
                            float a = zt_get(t, x.p, base + ia), b = zt_get(t, x.p, base + ib);
                            float co = cs[((17 + i) * h + j) * 2], si = cs[((17 + i) * h + j) * 2 + 1];
                            float wa = a * co - b * si, wb = a * si + b * co;
                            zt_set(t, &wa, 0, wa); /* round through T */
                            zt_set(t, &wb, 0, wb);
                            wa = zt_get(t, &wa, 0);
                            wb = zt_get(t, &wb, 0);
                            bad += zt_get(t, y.p, base + ia) != wa || zt_get(t, y.p, base + ib) != wb;
                        }
                ZT_CHECK(bad == 0, "rope %s neox=%d D=%lld: %d pairs differ", zf_dtype_name(t), neox, (long long)D,
                         bad);
                ZT_OK(zf_rope(&tx, &rows, neox, &tx, NULL));
                ZT_CHECK(zt_first_diff(t, x.p, y.p, n) < 0, "rope in place differs");
                zt_free(&x);
                zt_free(&y);
            }
        free(cs);
    }
    /* bad inputs */
    float cs[8], x[12], y[12];
    int64_t s3[3] = {1, 2, 2}, xs[3] = {1, 3, 4}, odd[3] = {1, 4, 3};
    zf_tensor tcs = zf_tensor_nd(cs, ZF_DTYPE_F32, 3, s3);
    ZT_CHECK(zf_rope_table(1.0f, 4, 0, &tcs) == ZF_ERR_INVALID_ARG, "theta 1: %s", zf_last_error());
    ZT_CHECK(zf_rope_table(1e4f, 5, 0, &tcs) == ZF_ERR_INVALID_ARG, "odd dims: %s", zf_last_error());
    ZT_CHECK(zf_rope_table(1e4f, 8, 0, &tcs) == ZF_ERR_SHAPE, "cs shape: %s", zf_last_error());
    ZT_OK(zf_rope_table(1e4f, 4, 0, &tcs));
    zf_tensor tx = zf_tensor_nd(x, ZF_DTYPE_F32, 3, xs), ty = zf_tensor_nd(y, ZF_DTYPE_F32, 3, xs);
    zf_tensor to = zf_tensor_nd(x, ZF_DTYPE_F32, 3, odd);
    zt_fill(ZF_DTYPE_F32, x, 12, 1.0f);
    memset(y, 0x7f, sizeof y);
    ZT_CHECK(zf_rope(&tx, &tcs, 2, &ty, NULL) == ZF_ERR_INVALID_ARG, "neox 2: %s", zf_last_error());
    ZT_CHECK(zf_rope(&to, &tcs, 1, &to, NULL) == ZF_ERR_SHAPE, "odd head_dim: %s", zf_last_error());
    int64_t s2[3] = {2, 2, 2};
    zf_tensor cs2 = zf_tensor_nd(cs, ZF_DTYPE_F32, 3, s2);
    ZT_CHECK(zf_rope(&tx, &cs2, 1, &ty, NULL) == ZF_ERR_SHAPE, "cs rows: %s", zf_last_error());
    unsigned char poison[48];
    memset(poison, 0x7f, sizeof poison);
    ZT_CHECK(memcmp(y, poison, sizeof y) == 0, "rope wrote output on bad input");
}

/* float64 causal GQA reference for query i of m against t keys */
static void attn_ref(zf_dtype tq, const void *q, zf_dtype tk, const void *k, const void *v, int64_t m, int64_t t,
                     int64_t hq, int64_t hk, int64_t d, double scale, double *out) {
    double *s = malloc((size_t)t * sizeof *s);
    for (int64_t i = 0; i < m; i++)
        for (int64_t h = 0; h < hq; h++) {
            int64_t kh = h / (hq / hk), len = t - m + i + 1;
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < len; j++) {
                double dot = 0;
                for (int64_t c = 0; c < d; c++)
                    dot += (double)zt_get(tq, q, (i * hq + h) * d + c) * zt_get(tk, k, (kh * t + j) * d + c);
                s[j] = dot * scale;
                if (s[j] > mx) mx = s[j];
            }
            for (int64_t j = 0; j < len; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
            for (int64_t c = 0; c < d; c++) {
                double acc = 0;
                for (int64_t j = 0; j < len; j++) acc += s[j] * zt_get(tk, v, (kh * t + j) * d + c);
                out[(i * hq + h) * d + c] = acc / sum;
            }
        }
    free(s);
}

static void test_attention(void) {
    struct { int64_t m, t, hq, hk, d; } cs[] = {{1, 1, 2, 1, 8}, {5, 9, 6, 2, 64}, {7, 300, 9, 3, 64},
                                                 {3, 40, 4, 4, 72}, {4, 4, 2, 2, 7}, {2, 20, 2, 1, 256},
                                                 {3, 50, 6, 2, 48}, {2, 33, 4, 1, 96}, /* 3 and 6 lane registers */
                                                 {2, 8000, 2, 1, 128}}; /* last: scratch past the stack buffer */
    zf_cpu_isa best = zf_cpu_isa_detected();
    for (size_t c = 0; c < sizeof cs / sizeof *cs; c++)
        for (int dq = 0; dq < 3; dq++)
            for (int dk = 0; dk < 3; dk++) {
                zf_dtype tq = k_dtypes[dq], tk = k_dtypes[dk];
                int64_t m = cs[c].m, t = cs[c].t, hq = cs[c].hq, hk = cs[c].hk, d = cs[c].d;
                int64_t nq = m * hq * d, nk = hk * t * d;
                zt_buf q = zt_alloc(tq, nq), k = zt_alloc(tk, nk), v = zt_alloc(tk, nk), o = zt_alloc(tq, nq),
                       o1 = zt_alloc(tq, nq), os = zt_alloc(tq, nq);
                zt_fill(tq, q.p, nq, 1.0f);
                zt_fill(tk, k.p, nk, 1.0f);
                zt_fill(tk, v.p, nk, 2.0f);
                int64_t qs[3] = {m, hq, d}, ks[3] = {hk, t, d};
                zf_tensor tQ = zf_tensor_nd(q.p, tq, 3, qs), tK = zf_tensor_nd(k.p, tk, 3, ks),
                          tV = zf_tensor_nd(v.p, tk, 3, ks), tO = zf_tensor_nd(o.p, tq, 3, qs);
                float scale = 1.0f / sqrtf((float)d);
                ZT_OK(zf_attention(&tQ, &tK, &tV, scale, &tO, NULL));
                ZT_CHECK(zt_guards_ok(&o), "attention guards");
                double *ref = malloc((size_t)nq * sizeof *ref), worst = 0;
                attn_ref(tq, q.p, tk, k.p, v.p, m, t, hq, hk, d, scale, ref);
                for (int64_t i = 0; i < nq; i++) {
                    double e = fabs(zt_get(tq, o.p, i) - ref[i]);
                    if (e > worst) worst = e;
                }
                double tol = 2.0 * (tol_of(tq) + tol_of(tk)) * 4;
                ZT_CHECK(worst < tol, "attention %s/%s case %zu: max error %g vs float64", zf_dtype_name(tq),
                         zf_dtype_name(tk), c, worst);
                /* each query alone against its prefix of keys (decode) gives the same bits */
                int bad = 0;
                for (int64_t i = 0; i < m; i++) {
                    int64_t s1[3] = {1, hq, d}, kp[3] = {hk, t - m + i + 1, d};
                    zf_tensor q1 = zf_tensor_nd((char *)q.p + (size_t)(i * hq * d) * zf_dtype_size(tq), tq, 3, s1);
                    zf_tensor o1t = zf_tensor_nd((char *)o1.p + (size_t)(i * hq * d) * zf_dtype_size(tq), tq, 3, s1);
                    zf_tensor kv[2] = {zf_tensor_nd(k.p, tk, 3, kp), zf_tensor_nd(v.p, tk, 3, kp)};
                    kv[0].stride[0] = kv[1].stride[0] = t * d;
                    ZT_OK(zf_attention(&q1, &kv[0], &kv[1], scale, &o1t, NULL));
                }
                bad = zt_first_diff(tq, o.p, o1.p, nq) >= 0;
                ZT_CHECK(!bad, "attention case %zu: one query at a time differs from the batch", c);
                /* scalar kernel and one thread give the same bits */
                ZT_OK(zf_set_cpu_isa(ZF_CPU_ISA_SCALAR));
                ZT_OK(zf_set_num_threads(1));
                zf_tensor tS = zf_tensor_nd(os.p, tq, 3, qs);
                ZT_OK(zf_attention(&tQ, &tK, &tV, scale, &tS, NULL));
                ZT_OK(zf_set_cpu_isa(best));
                ZT_OK(zf_set_num_threads(0));
                ZT_CHECK(zt_first_diff(tq, o.p, os.p, nq) < 0, "attention case %zu %s/%s: scalar+1 thread differs",
                         c, zf_dtype_name(tq), zf_dtype_name(tk));
                for (zf_cpu_isa isa = ZF_CPU_ISA_AVX2; isa < best; isa++) { /* every ISA below the best */
                    ZT_OK(zf_set_cpu_isa(isa));
                    zt_poison(&os);
                    ZT_OK(zf_attention(&tQ, &tK, &tV, scale, &tS, NULL));
                    ZT_OK(zf_set_cpu_isa(best));
                    ZT_CHECK(zt_first_diff(tq, o.p, os.p, nq) < 0, "attention case %zu %s/%s: the %s kernel differs",
                             c, zf_dtype_name(tq), zf_dtype_name(tk), zf_cpu_isa_name(isa));
                }
                free(ref);
                zt_free(&q); zt_free(&k); zt_free(&v); zt_free(&o); zt_free(&o1); zt_free(&os);
            }
    /* bad inputs */
    float q[2 * 3 * 4], k[2 * 2 * 4], o[2 * 3 * 4];
    zt_fill(ZF_DTYPE_F32, q, 24, 1.0f);
    zt_fill(ZF_DTYPE_F32, k, 16, 1.0f);
    memset(o, 0x7f, sizeof o);
    int64_t qs[3] = {2, 3, 4}, ks[3] = {2, 2, 4}, short_k[3] = {1, 1, 4};
    zf_tensor tQ = zf_tensor_nd(q, ZF_DTYPE_F32, 3, qs), tK = zf_tensor_nd(k, ZF_DTYPE_F32, 3, ks),
              tO = zf_tensor_nd(o, ZF_DTYPE_F32, 3, qs), tS = zf_tensor_nd(k, ZF_DTYPE_F32, 3, short_k);
    ZT_CHECK(zf_attention(&tQ, &tK, &tK, 0.5f, &tO, NULL) == ZF_ERR_SHAPE, "3 heads over 2 kv heads: %s",
             zf_last_error());
    int64_t q1s[3] = {2, 2, 4};
    zf_tensor q1 = zf_tensor_nd(q, ZF_DTYPE_F32, 3, q1s), o1 = zf_tensor_nd(o, ZF_DTYPE_F32, 3, q1s);
    ZT_CHECK(zf_attention(&q1, &tS, &tS, 0.5f, &o1, NULL) == ZF_ERR_SHAPE, "fewer keys than queries: %s",
             zf_last_error());
    ZT_CHECK(zf_attention(&q1, &tK, &tK, 0.5f, &q1, NULL) == ZF_ERR_ALIAS, "out is q: %s", zf_last_error());
    ZT_CHECK(zf_attention(&q1, &tK, &tK, INFINITY, &o1, NULL) == ZF_ERR_INVALID_ARG, "inf scale: %s",
             zf_last_error());
    ZT_CHECK(strstr(zf_last_error(), "[attention]") != NULL, "message names the op: %s", zf_last_error());
    unsigned char poison[sizeof o];
    memset(poison, 0x7f, sizeof poison);
    ZT_CHECK(memcmp(o, poison, sizeof o) == 0, "attention wrote output on bad input");
}

/* Views of one case of zf_attention_decode: q, k, v back to back in one
 * fused row (as a model's qkv projection leaves them), caches with padded
 * rows (k's by 3 elements, v's by 1), the whole rope table. */
typedef struct dec_case {
    int64_t hq, hk, d, L, p;
    zf_dtype ta, tc;
    int neox, norm; /* norm: with the q and k norms (Qwen3) */
} dec_case;

typedef struct dec_bufs {
    zt_buf row, tab, kc, vc, out, wq, wk;
    int32_t pos;
    zf_tensor q, k, v, cs, tpos, tkc, tvc, tout, twq, twk;
    zf_qk_norm norm;
} dec_bufs;

static int64_t dec_row_elems(const dec_case *c) { return (c->hq + 2 * c->hk) * c->d; }
static int64_t dec_cache_elems(const dec_case *c) { return c->hk * c->L * (c->d + 3); }

static void dec_make(const dec_case *c, dec_bufs *b) {
    int64_t d = c->d, rs = dec_row_elems(c), cs = dec_cache_elems(c);
    b->row = zt_alloc(c->ta, rs);
    b->tab = zt_alloc(ZF_DTYPE_F32, c->L * d);
    b->kc = zt_alloc(c->tc, cs);
    b->vc = zt_alloc(c->tc, cs);
    b->out = zt_alloc(c->ta, c->hq * d);
    b->wq = zt_alloc(c->ta, d);
    b->wk = zt_alloc(c->ta, d);
    zt_fill(c->ta, b->row.p, rs, 2.0f);
    zt_fill(c->ta, b->wq.p, d, 1.5f);
    zt_fill(c->ta, b->wk.p, d, 1.5f);
    b->twq = zf_tensor_1d(b->wq.p, c->ta, d);
    b->twk = zf_tensor_1d(b->wk.p, c->ta, d);
    b->norm = (zf_qk_norm){&b->twq, &b->twk, 1e-6f};
    int64_t st3[3] = {c->L, d / 2, 2};
    zf_tensor tab = zf_tensor_nd(b->tab.p, ZF_DTYPE_F32, 3, st3);
    ZT_OK(zf_rope_table(10000.0f, d, 0, &tab));
    zt_fill(c->tc, b->kc.p, cs, 1.5f); /* earlier positions (and the padding) hold fresh values */
    zt_fill(c->tc, b->vc.p, cs, 2.5f);
    zt_poison(&b->out);
    b->pos = (int32_t)c->p;
    size_t ea = zf_dtype_size(c->ta);
    int64_t sq[3] = {1, c->hq, d}, sk[3] = {1, c->hk, d}, sc[3] = {c->hk, c->L, d}, st[3] = {c->L, d / 2, 2};
    b->q = zf_tensor_nd(b->row.p, c->ta, 3, sq);
    b->k = zf_tensor_nd((char *)b->row.p + (size_t)(c->hq * d) * ea, c->ta, 3, sk);
    b->v = zf_tensor_nd((char *)b->row.p + (size_t)((c->hq + c->hk) * d) * ea, c->ta, 3, sk);
    b->q.stride[0] = b->k.stride[0] = b->v.stride[0] = rs;
    b->cs = zf_tensor_nd(b->tab.p, ZF_DTYPE_F32, 3, st);
    b->tpos = zf_tensor_1d(&b->pos, ZF_DTYPE_I32, 1);
    b->tkc = zf_tensor_nd(b->kc.p, c->tc, 3, sc);
    b->tvc = zf_tensor_nd(b->vc.p, c->tc, 3, sc);
    b->tkc.stride[1] = d + 3; /* the caches' rows padded differently: each cache by its own strides */
    b->tvc.stride[1] = d + 1;
    b->tkc.stride[0] = c->L * (d + 3);
    b->tvc.stride[0] = c->L * (d + 1);
    b->tout = zf_tensor_nd(b->out.p, c->ta, 3, sq);
}

static void dec_free(dec_bufs *b) {
    zt_free(&b->row); zt_free(&b->tab); zt_free(&b->kc); zt_free(&b->vc); zt_free(&b->out);
    zt_free(&b->wq); zt_free(&b->wk);
}

/* The stock composition, written out: with a norm, rms_norm of q and k in
 * place (a copy of the row); rope of both in place, both rows into the
 * caches, attention over positions 0..p. */
static void dec_stock(const dec_case *c, dec_bufs *b) {
    int64_t d = c->d, p = c->p;
    int64_t s1[3] = {1, d / 2, 2}, sk[3] = {c->hk, 1, d}, sv[3] = {c->hk, p + 1, d};
    zf_tensor row = zf_tensor_nd((float *)b->tab.p + p * d, ZF_DTYPE_F32, 3, s1);
    if (c->norm) {
        ZT_OK(zf_rms_norm(&b->q, &b->twq, b->norm.eps, &b->q, NULL));
        ZT_OK(zf_rms_norm(&b->k, &b->twk, b->norm.eps, &b->k, NULL));
    }
    ZT_OK(zf_rope(&b->q, &row, c->neox, &b->q, NULL));
    ZT_OK(zf_rope(&b->k, &row, c->neox, &b->k, NULL));
    size_t ec = zf_dtype_size(c->tc);
    zf_tensor src[2] = {zf_tensor_nd(b->k.data, c->ta, 3, sk), zf_tensor_nd(b->v.data, c->ta, 3, sk)};
    zf_tensor *cache[2] = {&b->tkc, &b->tvc};
    zf_tensor keys[2];
    for (int i = 0; i < 2; i++) {
        src[i].stride[0] = src[i].stride[1] = d;
        zf_tensor dst = zf_tensor_nd((char *)cache[i]->data + (size_t)(p * cache[i]->stride[1]) * ec, c->tc, 3, sk);
        dst.stride[0] = cache[i]->stride[0];
        dst.stride[1] = cache[i]->stride[1];
        ZT_OK(zf_copy(&src[i], &dst, NULL));
        keys[i] = zf_tensor_nd(cache[i]->data, c->tc, 3, sv);
        keys[i].stride[0] = cache[i]->stride[0];
        keys[i].stride[1] = cache[i]->stride[1];
    }
    ZT_OK(zf_attention(&b->q, &keys[0], &keys[1], 0.125f, &b->tout, NULL));
}

/* Every ISA level up to the machine's has its own attention kernel, and it
 * passed its self-test: a kernel disabled by its self-test would otherwise
 * leave these tests comparing the fallback with itself. */
static void test_attention_variants(void) {
    const zf_cpu_isa best = zf_cpu_isa_detected();
    for (zf_cpu_isa isa = ZF_CPU_ISA_SCALAR; isa <= best; isa++) {
        ZT_OK(zf_set_cpu_isa(isa));
        const zf_variant *v = NULL;
        ZT_OK(zf_pick(ZF_OP_ATTENTION, ZF_DEVICE_CPU, ZF_FIDELITY_AUTO, &v));
        const char *why = NULL;
        ZT_CHECK(v && v->isa == isa, "ISA cap %s runs %s", zf_cpu_isa_name(isa), v ? v->name : "nothing");
        ZT_CHECK(v && (!v->selftest || zf_variant_state(v, &why) == 1), "%s: self-test %s", v ? v->name : "?",
                 why ? why : "not passed");
    }
    ZT_OK(zf_set_cpu_isa(best));
}

static void test_attention_decode(void) {
    const dec_case cases[] = {{2, 1, 8, 5, 0, 0, 0, 0, 0}, {6, 2, 64, 40, 17, 0, 0, 1, 0}, {9, 3, 64, 33, 32, 0, 0, 1, 0},
                              {4, 4, 38, 10, 3, 0, 0, 0, 0}, {3, 1, 256, 300, 299, 0, 0, 1, 0},
                              {8, 2, 128, 20, 11, 0, 0, 1, 0}};
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases * 2; ci++) /* each case without, then with the norms */
        for (int da = 0; da < 3; da++)
            for (int dc = 0; dc < 3; dc++) {
                dec_case c = cases[ci / 2];
                c.norm = (int)(ci % 2);
                c.ta = k_dtypes[da];
                c.tc = k_dtypes[dc];
                dec_bufs f, s;
                dec_make(&c, &f);
                dec_make(&c, &s);
                int64_t rs = dec_row_elems(&c), cs = dec_cache_elems(&c);
                memcpy(s.row.p, f.row.p, (size_t)rs * zf_dtype_size(c.ta));
                memcpy(s.kc.p, f.kc.p, (size_t)cs * zf_dtype_size(c.tc));
                memcpy(s.vc.p, f.vc.p, (size_t)cs * zf_dtype_size(c.tc));
                memcpy(s.wq.p, f.wq.p, (size_t)c.d * zf_dtype_size(c.ta));
                memcpy(s.wk.p, f.wk.p, (size_t)c.d * zf_dtype_size(c.ta));
                zt_buf row0 = zt_alloc(c.ta, rs);
                memcpy(row0.p, f.row.p, (size_t)rs * zf_dtype_size(c.ta));
                ZT_OK(zf_attention_decode(&f.q, &f.k, &f.v, c.norm ? &f.norm : NULL, &f.cs, c.neox, &f.tpos, &f.tkc,
                                          &f.tvc, 0.125f, &f.tout, NULL));
                dec_stock(&c, &s);
                const char *ta = zf_dtype_name(c.ta), *tc = zf_dtype_name(c.tc);
                ZT_CHECK(zt_first_diff(c.ta, f.out.p, s.out.p, c.hq * c.d) < 0, "case %zu %s/%s: out differs from "
                         "(rms_norm,) rope, copy, attention", ci, ta, tc);
                ZT_CHECK(zt_first_diff(c.tc, f.kc.p, s.kc.p, cs) < 0, "case %zu %s/%s: k cache differs", ci, ta, tc);
                ZT_CHECK(zt_first_diff(c.tc, f.vc.p, s.vc.p, cs) < 0, "case %zu %s/%s: v cache differs", ci, ta, tc);
                ZT_CHECK(zt_first_diff(c.ta, f.row.p, row0.p, rs) < 0, "case %zu: q, k or v was written", ci);
                ZT_CHECK(zt_guards_ok(&f.out) && zt_guards_ok(&f.kc) && zt_guards_ok(&f.vc), "case %zu guards", ci);
                zt_free(&row0);
                dec_free(&f);
                dec_free(&s);
            }
    /* bad inputs: an error naming the op, and nothing written */
    dec_case c = {4, 2, 16, 8, 3, ZF_DTYPE_F32, ZF_DTYPE_F16, 1, 0};
    dec_bufs b;
    dec_make(&c, &b);
    int64_t cs = dec_cache_elems(&c);
    zt_buf kc0 = zt_alloc(c.tc, cs);
    memcpy(kc0.p, b.kc.p, (size_t)cs * 2);
    zf_tensor *Q = &b.q, *K = &b.k, *V = &b.v, *CS = &b.cs, *P = &b.tpos, *KC = &b.tkc, *VC = &b.tvc, *O = &b.tout;
    const int32_t bad_pos[] = {-1, 8, 1 << 30};
    for (int i = 0; i < 3; i++) {
        b.pos = bad_pos[i];
        ZT_CHECK(zf_attention_decode(Q, K, V, NULL, CS, 1, P, KC, VC, 0.5f, O, NULL) == ZF_ERR_INVALID_ARG,
                 "pos %d: %s", bad_pos[i], zf_last_error());
    }
    b.pos = 3;
    zf_tensor short_cs = *CS;
    short_cs.shape[0] = 3; /* the table ends before p */
    ZT_CHECK(zf_attention_decode(Q, K, V, NULL, &short_cs, 1, P, KC, VC, 0.5f, O, NULL) == ZF_ERR_INVALID_ARG,
             "pos past the table: %s", zf_last_error());
    zf_tensor f32pos = *P;
    f32pos.dtype = ZF_DTYPE_F32;
    ZT_CHECK(zf_attention_decode(Q, K, V, NULL, CS, 1, &f32pos, KC, VC, 0.5f, O, NULL) == ZF_ERR_DTYPE, "f32 pos: %s",
             zf_last_error());
    ZT_CHECK(zf_attention_decode(Q, K, V, NULL, CS, 2, P, KC, VC, 0.5f, O, NULL) == ZF_ERR_INVALID_ARG, "neox 2: %s",
             zf_last_error());
    ZT_CHECK(zf_attention_decode(Q, K, V, NULL, CS, 1, P, KC, VC, NAN, O, NULL) == ZF_ERR_INVALID_ARG, "NaN scale: %s",
             zf_last_error());
    ZT_CHECK(zf_attention_decode(Q, K, V, NULL, CS, 1, P, KC, KC, 0.5f, O, NULL) == ZF_ERR_ALIAS, "vc is kc: %s",
             zf_last_error());
    ZT_CHECK(zf_attention_decode(Q, K, V, NULL, CS, 1, P, KC, VC, 0.5f, Q, NULL) == ZF_ERR_ALIAS, "out is q: %s",
             zf_last_error());
    zf_tensor odd = *O;
    odd.shape[1] = 3; /* 3 heads over 2 kv heads, with q to match */
    zf_tensor q3 = *Q;
    q3.shape[1] = 3;
    ZT_CHECK(zf_attention_decode(&q3, K, V, NULL, CS, 1, P, KC, VC, 0.5f, &odd, NULL) == ZF_ERR_SHAPE, "3 over 2: %s",
             zf_last_error());
    zf_tensor kc_wide = *KC;
    kc_wide.shape[2] = 8;
    ZT_CHECK(zf_attention_decode(Q, K, V, NULL, CS, 1, P, &kc_wide, VC, 0.5f, O, NULL) == ZF_ERR_SHAPE, "kc head_dim: %s",
             zf_last_error());
    zf_tensor vbf = *V;
    vbf.dtype = ZF_DTYPE_BF16;
    ZT_CHECK(zf_attention_decode(Q, K, &vbf, NULL, CS, 1, P, KC, VC, 0.5f, O, NULL) == ZF_ERR_DTYPE, "bf16 v: %s",
             zf_last_error());
    ZT_CHECK(strstr(zf_last_error(), "[attention_decode]") != NULL, "message names the op: %s", zf_last_error());
    ZT_CHECK(zf_attention_decode(NULL, K, V, NULL, CS, 1, P, KC, VC, 0.5f, O, NULL) == ZF_ERR_INVALID_ARG, "NULL q: %s",
             zf_last_error());
    /* bad norms */
    zf_qk_norm nm = b.norm;
    nm.w_k = NULL;
    ZT_CHECK(zf_attention_decode(Q, K, V, &nm, CS, 1, P, KC, VC, 0.5f, O, NULL) == ZF_ERR_INVALID_ARG, "NULL w_k: %s",
             zf_last_error());
    zf_tensor w_short = b.twq;
    w_short.shape[0] = c.d - 2;
    nm = b.norm;
    nm.w_q = &w_short;
    ZT_CHECK(zf_attention_decode(Q, K, V, &nm, CS, 1, P, KC, VC, 0.5f, O, NULL) == ZF_ERR_SHAPE, "short w_q: %s",
             zf_last_error());
    zf_tensor w_f16 = b.twk;
    w_f16.dtype = ZF_DTYPE_F16;
    nm = b.norm;
    nm.w_k = &w_f16;
    ZT_CHECK(zf_attention_decode(Q, K, V, &nm, CS, 1, P, KC, VC, 0.5f, O, NULL) == ZF_ERR_DTYPE, "f16 w_k: %s",
             zf_last_error());
    const float bad_eps[] = {-1e-6f, NAN, INFINITY};
    for (int i = 0; i < 3; i++) {
        nm = b.norm;
        nm.eps = bad_eps[i];
        ZT_CHECK(zf_attention_decode(Q, K, V, &nm, CS, 1, P, KC, VC, 0.5f, O, NULL) == ZF_ERR_INVALID_ARG,
                 "eps %g: %s", (double)bad_eps[i], zf_last_error());
    }
    zf_tensor w_in_out = b.twq; /* out overlaps the norm's weight */
    w_in_out.data = b.out.p;
    nm = b.norm;
    nm.w_q = &w_in_out;
    ZT_CHECK(zf_attention_decode(Q, K, V, &nm, CS, 1, P, KC, VC, 0.5f, O, NULL) == ZF_ERR_ALIAS, "out is w_q: %s",
             zf_last_error());
    ZT_CHECK(memcmp(kc0.p, b.kc.p, (size_t)cs * 2) == 0, "a refused call wrote the k cache");
    unsigned char poison[16 * 4 * 4];
    memset(poison, 0x7f, sizeof poison);
    ZT_CHECK(memcmp(b.out.p, poison, (size_t)(c.hq * c.d) * 4) == 0, "a refused call wrote out");
    zt_free(&kc0);
    dec_free(&b);
}

static void test_embedding(void) {
    int64_t V = 37, D = 192, m = 11;
    int32_t ids[11];
    for (int i = 0; i < m; i++) ids[i] = (int32_t)(zt_rand() % (uint64_t)V);
    ids[0] = 0;
    ids[1] = (int32_t)V - 1;
    zf_tensor tid = zf_tensor_1d(ids, ZF_DTYPE_I32, m);
    /* float table, converting to another dtype */
    zt_buf tab = zt_alloc(ZF_DTYPE_BF16, V * D), out = zt_alloc(ZF_DTYPE_F32, m * D);
    zt_fill(ZF_DTYPE_BF16, tab.p, V * D, 3.0f);
    zf_tensor tt = zf_tensor_2d(tab.p, ZF_DTYPE_BF16, V, D), to = zf_tensor_2d(out.p, ZF_DTYPE_F32, m, D);
    ZT_OK(zf_embedding(&tt, &tid, &to, NULL));
    int bad = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t c = 0; c < D; c++)
            bad += zt_get(ZF_DTYPE_F32, out.p, i * D + c) != zt_get(ZF_DTYPE_BF16, tab.p, ids[i] * D + c);
    ZT_CHECK(bad == 0 && zt_guards_ok(&out), "float embedding: %d wrong", bad);
    /* the same table viewed out of a wider buffer: rows are stride[0] apart, not shape[1];
     * the gap is poisoned. Both the converting and the copying paths. */
    int64_t P = D + 8;
    zt_buf wide = zt_alloc(ZF_DTYPE_BF16, V * P);
    zt_poison(&wide);
    for (int64_t r = 0; r < V; r++) memcpy((uint16_t *)wide.p + r * P, (uint16_t *)tab.p + r * D, (size_t)D * 2);
    zf_tensor tw = zf_tensor_2d(wide.p, ZF_DTYPE_BF16, V, D);
    tw.stride[0] = P;
    for (int k = 0; k < 2; k++) {
        zf_dtype ot = k ? ZF_DTYPE_BF16 : ZF_DTYPE_F32;
        zt_poison(&out);
        zf_tensor tow = zf_tensor_2d(out.p, ot, m, D);
        ZT_OK(zf_embedding(&tw, &tid, &tow, NULL));
        bad = 0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t c = 0; c < D; c++)
                bad += zt_get(ot, out.p, i * D + c) != zt_get(ZF_DTYPE_BF16, tab.p, ids[i] * D + c);
        ZT_CHECK(bad == 0, "strided table to %s: %d wrong", zf_dtype_name(ot), bad);
    }
    tw.stride[1] = 2; /* a non-contiguous row is refused, not read as if contiguous */
    tw.shape[1] = D / 2;
    zf_tensor toh = zf_tensor_2d(out.p, ZF_DTYPE_F32, m, D / 2);
    ZT_CHECK(zf_embedding(&tw, &tid, &toh, NULL) == ZF_ERR_SHAPE && strstr(zf_last_error(), "contiguous"),
             "column stride 2: %s", zf_last_error());
    zt_free(&wide);
    /* affine tables, every bit width */
    const int bits[] = {2, 3, 4, 5, 6, 8};
    for (int b = 0; b < 6; b++) {
        int gs = b % 2 ? 32 : 64;
        int64_t words = D * bits[b] / 32, groups = D / gs;
        uint32_t *packed = malloc((size_t)(V * words) * 4);
        for (int64_t i = 0; i < V * words; i++) packed[i] = (uint32_t)zt_rand();
        zt_buf sc = zt_alloc(ZF_DTYPE_F16, V * groups), bi = zt_alloc(ZF_DTYPE_F16, V * groups);
        zt_fill(ZF_DTYPE_F16, sc.p, V * groups, 0.1f);
        zt_fill(ZF_DTYPE_F16, bi.p, V * groups, 1.0f);
        zf_qweight q = {packed, sc.p, bi.p, ZF_DTYPE_F16, bits[b], gs, 1, V, D, ZF_DEVICE_CPU};
        zt_poison(&out);
        ZT_OK(zf_embedding_q(&q, &tid, &to, NULL));
        bad = 0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t c = 0; c < D; c++) {
                int64_t bit = c * bits[b];
                const unsigned char *bytes = (const unsigned char *)(packed + ids[i] * words);
                uint32_t qv = 0;
                for (int k = 0; k < bits[b]; k++) qv |= (uint32_t)((bytes[(bit + k) / 8] >> ((bit + k) % 8)) & 1) << k;
                int64_t g = ids[i] * groups + c / gs;
                float want = zt_get(ZF_DTYPE_F16, sc.p, g) * (float)qv + zt_get(ZF_DTYPE_F16, bi.p, g);
                bad += zt_get(ZF_DTYPE_F32, out.p, i * D + c) != want;
            }
        ZT_CHECK(bad == 0 && zt_guards_ok(&out), "affine embedding %d-bit: %d wrong", bits[b], bad);
        if (b == 2) { /* bad inputs leave out untouched */
            zt_poison(&out);
            ids[3] = (int32_t)V;
            ZT_CHECK(zf_embedding_q(&q, &tid, &to, NULL) == ZF_ERR_INVALID_ARG &&
                         strstr(zf_last_error(), "ids[3]"), "id out of range: %s", zf_last_error());
            ids[3] = -1;
            ZT_CHECK(zf_embedding(&tt, &tid, &to, NULL) == ZF_ERR_INVALID_ARG, "negative id: %s", zf_last_error());
            ids[3] = 0;
            q.bits = 7;
            ZT_CHECK(zf_embedding_q(&q, &tid, &to, NULL) == ZF_ERR_INVALID_ARG, "7 bits: %s", zf_last_error());
            q.bits = bits[b];
            q.experts = 2;
            ZT_CHECK(zf_embedding_q(&q, &tid, &to, NULL) == ZF_ERR_SHAPE && strstr(zf_last_error(), "[embedding] table"),
                     "2 experts: %s", zf_last_error());
            q.experts = 1;
            zf_tensor small = zf_tensor_2d(out.p, ZF_DTYPE_F32, m - 1, D);
            ZT_CHECK(zf_embedding(&tt, &tid, &small, NULL) == ZF_ERR_SHAPE, "out rows: %s", zf_last_error());
            zf_tensor fid = zf_tensor_1d(ids, ZF_DTYPE_F32, m);
            ZT_CHECK(zf_embedding(&tt, &fid, &to, NULL) == ZF_ERR_DTYPE, "f32 ids: %s", zf_last_error());
            zf_tensor gid = tid; /* ids said to be on a GPU: refused before a value is read */
            gid.device = ZF_DEVICE_CUDA;
            gid.data = (void *)(uintptr_t)64;
            ZT_CHECK(zf_embedding(&tt, &gid, &to, NULL) == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), "not on the CPU"),
                     "GPU ids: %s", zf_last_error());
            zt_buf fresh = zt_alloc(ZF_DTYPE_F32, m * D);
            ZT_CHECK(memcmp(out.p, fresh.p, out.bytes) == 0, "embedding wrote output on bad input");
            zt_free(&fresh);
        }
        free(packed);
        zt_free(&sc);
        zt_free(&bi);
    }
    /* f32 scales and biases: the product s*q is inexact, so s*q + b rounds twice
     * where an fma would round once; then once more to the output dtype */
    {
        int64_t words = D * 8 / 32, groups = D / 64;
        uint32_t *packed = malloc((size_t)(V * words) * 4);
        for (int64_t i = 0; i < V * words; i++) packed[i] = (uint32_t)zt_rand();
        zt_buf sc = zt_alloc(ZF_DTYPE_F32, V * groups), bi = zt_alloc(ZF_DTYPE_F32, V * groups);
        zt_fill(ZF_DTYPE_F32, sc.p, V * groups, 0.1f);
        zt_fill(ZF_DTYPE_F32, bi.p, V * groups, 1.0f);
        zf_qweight q = {packed, sc.p, bi.p, ZF_DTYPE_F32, 8, 64, 1, V, D, ZF_DEVICE_CPU};
        zt_buf want = zt_alloc(ZF_DTYPE_F32, m * D);
        for (int k = 0; k < 2; k++) {
            zf_dtype ot = k ? ZF_DTYPE_BF16 : ZF_DTYPE_F32;
            for (int64_t i = 0; i < m; i++)
                for (int64_t c = 0; c < D; c++) {
                    float s = ((const float *)sc.p)[ids[i] * groups + c / 64];
                    float b0 = ((const float *)bi.p)[ids[i] * groups + c / 64];
                    float qv = (float)((const uint8_t *)(packed + ids[i] * words))[c];
                    float prod = s * qv;
                    zt_set(ot, want.p, i * D + c, prod + b0);
                }
            zt_poison(&out);
            zf_tensor tq = zf_tensor_2d(out.p, ot, m, D);
            ZT_OK(zf_embedding_q(&q, &tid, &tq, NULL));
            int64_t d = zt_first_diff(ot, out.p, want.p, m * D);
            ZT_CHECK(d < 0, "affine embedding, f32 scales, to %s: first diff at %lld", zf_dtype_name(ot), (long long)d);
        }
        free(packed);
        zt_free(&sc);
        zt_free(&bi);
        zt_free(&want);
    }
    zt_free(&tab);
    zt_free(&out);
}

/* Draws n tokens from s and checks each id's frequency against p (within 5
 * standard deviations; an id of p 0 never drawn). */
static void check_frequencies(zf_sampler *s, const float *logits, int v, const double *p, const char *what) {
    enum { MAX_V = 8 };
    const int n = 4000;
    int cnt[MAX_V] = {0};
    if (v > MAX_V) {
        ZT_CHECK(0, "%s: %d logits, at most %d here", what, v, MAX_V);
        return;
    }
    for (int i = 0; i < n; i++) {
        int32_t tok = -1;
        ZT_OK(zf_sampler_sample(s, logits, &tok));
        if (tok < 0 || tok >= v) {
            ZT_CHECK(0, "%s: token %d out of range", what, tok);
            return;
        }
        cnt[tok]++;
    }
    for (int i = 0; i < v; i++) {
        double sd = sqrt(p[i] * (1 - p[i]) / n);
        if (p[i] == 0) ZT_CHECK(cnt[i] == 0, "%s: token %d drawn %d times, expected never", what, i, cnt[i]);
        else ZT_CHECK(fabs(cnt[i] / (double)n - p[i]) < 5 * sd, "%s: token %d frequency %g, expected %g", what, i,
                      cnt[i] / (double)n, p[i]);
    }
}

static void test_sampler(void) {
    enum { V = 50 };
    float l[V];
    for (int i = 0; i < V; i++) l[i] = (float)zt_uniform(-3, 3);
    l[17] = 5.0f;
    l[31] = 5.0f; /* tie: the lower id wins */
    zf_sampler *s;
    zf_sampler_params greedy = {0.0f, 0, 1.0f, 1};
    ZT_OK(zf_sampler_create(&greedy, V, &s));
    int32_t tok = -1;
    ZT_OK(zf_sampler_sample(s, l, &tok));
    ZT_CHECK(tok == 17, "greedy picked %d, expected 17 (tie to the lower id)", tok);
    zf_sampler_destroy(s);
    /* top_k = 1 is greedy at any temperature */
    zf_sampler_params k1 = {1.5f, 1, 1.0f, zt_rand()};
    ZT_OK(zf_sampler_create(&k1, V, &s));
    for (int i = 0; i < 20; i++) {
        ZT_OK(zf_sampler_sample(s, l, &tok));
        ZT_CHECK(tok == 17, "top_k 1 picked %d", tok);
    }
    zf_sampler_destroy(s);
    /* frequencies follow softmax(l / temp) over the top k; seeds replay */
    float small[5] = {1.0f, 0.0f, 2.0f, -1.0f, 0.5f};
    double w[5], tot = 0;
    for (int i = 0; i < 5; i++) tot += w[i] = exp(small[i] / 0.8);
    int n = quick() ? 20000 : 100000, cnt[5] = {0};
    uint64_t seed = zt_rand();
    zf_sampler_params pr = {0.8f, 0, 1.0f, seed};
    zf_sampler *a, *b;
    ZT_OK(zf_sampler_create(&pr, 5, &a));
    ZT_OK(zf_sampler_create(&pr, 5, &b));
    int same = 1;
    for (int i = 0; i < n; i++) {
        int32_t ta, tb;
        ZT_OK(zf_sampler_sample(a, small, &ta));
        ZT_OK(zf_sampler_sample(b, small, &tb));
        same &= ta == tb;
        cnt[ta]++;
    }
    ZT_CHECK(same, "same seed, different tokens");
    for (int i = 0; i < 5; i++) {
        double p = w[i] / tot, sd = sqrt(p * (1 - p) / n);
        ZT_CHECK(fabs(cnt[i] / (double)n - p) < 5 * sd, "token %d: frequency %g, expected %g", i, cnt[i] / (double)n, p);
    }
    zf_sampler_destroy(a);
    zf_sampler_destroy(b);
    /* top-p keeps the smallest prefix holding p: here ids 2 and 0 only */
    double p2 = w[2] / tot, p0 = w[0] / tot;
    zf_sampler_params pp = {0.8f, 0, (float)(p2 + p0 * 0.5), zt_rand()};
    ZT_OK(zf_sampler_create(&pp, 5, &a));
    double nucleus[5] = {p0 / (p0 + p2), 0, p2 / (p0 + p2), 0, 0}; /* renormalised over the nucleus */
    check_frequencies(a, small, 5, nucleus, "top_p");
    zf_sampler_destroy(a);
    /* a NaN logit is never drawn; the rest keep softmax's frequencies, with and without top-k */
    const float with_nan[4] = {NAN, 1.0f, 2.0f, 3.0f};
    const double e1 = exp(1.0), e2 = exp(2.0), e3 = exp(3.0);
    double all3[4] = {0, e1 / (e1 + e2 + e3), e2 / (e1 + e2 + e3), e3 / (e1 + e2 + e3)};
    double top2[4] = {0, 0, e2 / (e2 + e3), e3 / (e2 + e3)};
    zf_sampler_params pn = {1.0f, 0, 1.0f, zt_rand()};
    ZT_OK(zf_sampler_create(&pn, 4, &a));
    check_frequencies(a, with_nan, 4, all3, "NaN logit, temperature 1");
    zf_sampler_destroy(a);
    pn.top_k = 2;
    ZT_OK(zf_sampler_create(&pn, 4, &a));
    check_frequencies(a, with_nan, 4, top2, "NaN logit, top_k 2");
    zf_sampler_destroy(a);
    /* top-k 2 */
    zf_sampler_params pk = {5.0f, 2, 1.0f, zt_rand()};
    ZT_OK(zf_sampler_create(&pk, 5, &a));
    int outside = 0;
    for (int i = 0; i < 2000; i++) {
        ZT_OK(zf_sampler_sample(a, small, &tok));
        outside += tok != 2 && tok != 0;
    }
    ZT_CHECK(outside == 0, "top_k 2 sampled %d tokens outside the top 2", outside);
    zf_sampler_destroy(a);
    /* top_p keeps the smallest prefix holding top_p of the weight: two equal
     * logits and top_p 0.5, the first (lower id) holds exactly half, so only it is kept */
    const float tie2[2] = {1.0f, 1.0f};
    zf_sampler_params ph = {1.0f, 0, 0.5f, 7};
    ZT_OK(zf_sampler_create(&ph, 2, &a));
    int second = 0;
    for (int i = 0; i < 200; i++) {
        ZT_OK(zf_sampler_sample(a, tie2, &tok));
        second += tok != 0;
    }
    ZT_CHECK(second == 0, "top_p 0.5 over two equal logits drew id 1 %d times of 200", second);
    zf_sampler_destroy(a);
    /* bad parameters */
    zf_sampler_params bad = {1.0f, 0, 0.0f, 0};
    ZT_CHECK(zf_sampler_create(&bad, 5, &a) == ZF_ERR_INVALID_ARG, "top_p 0: %s", zf_last_error());
    bad.top_p = 1.0f;
    bad.top_k = -1;
    ZT_CHECK(zf_sampler_create(&bad, 5, &a) == ZF_ERR_INVALID_ARG, "top_k -1: %s", zf_last_error());
}

int main(void) {
    zt_init("test_model_ops");
    test_softmax();
    test_rope();
    test_attention();
    test_attention_variants();
    test_attention_decode();
    test_embedding();
    test_sampler();
    return zt_finish();
}
