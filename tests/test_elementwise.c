/* The CPU elementwise family: add, mul, silu, silu_vjp, swiglu and
 * swiglu_vjp (stock, exact, fast), through the public API.
 *
 * - every ISA path (forced in turn), 1 and 3 threads, f32/f16/bf16, lengths
 *   1..70000 with odd tails, strided 2-D/3-D views, in-place calls: each
 *   variant gives the bits of its scalar kernel, and fused-exact gives the
 *   bits of the stock composition;
 * - stock and fast results within stated bounds of float64; the float64
 *   VJP formulas against finite differences;
 * - tier selection, and every bad input (status, message, output untouched).
 * ZF_TEST_QUICK=1 shrinks the sizes (sanitizer runs). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "cpu/selftest.h"
#include "core/registry.h"
#include "harness.h"

static int g_quick;

/* ---- the cases: one public call and the scalar kernel that defines it ---- */

typedef enum ew_op { ADD, MUL, SILU, SILU_VJP, SWIGLU, SWIGLU_VJP } ew_op;

typedef struct ew_case {
    const char *name;
    ew_op op;
    zf_fidelity fid;
    int n_in, n_out;
    void (*ref)(void); /* the scalar kernel with the same bits */
} ew_case;

#define FN(f) ((void (*)(void))(f))
static const ew_case k_cases[] = {
    {"add", ADD, ZF_FIDELITY_AUTO, 2, 1, FN(zf_scalar_add)},
    {"mul", MUL, ZF_FIDELITY_AUTO, 2, 1, FN(zf_scalar_mul)},
    {"silu", SILU, ZF_FIDELITY_AUTO, 1, 1, FN(zf_scalar_silu)},
    {"silu_vjp", SILU_VJP, ZF_FIDELITY_AUTO, 2, 1, FN(zf_scalar_silu_vjp)},
    /* the stock composition's bits are those of the exact kernel: the claim under test */
    {"swiglu stock", SWIGLU, ZF_FIDELITY_STOCK, 2, 1, FN(zf_scalar_swiglu_exact)},
    {"swiglu exact", SWIGLU, ZF_FIDELITY_EXACT, 2, 1, FN(zf_scalar_swiglu_exact)},
    {"swiglu fast", SWIGLU, ZF_FIDELITY_FAST, 2, 1, FN(zf_scalar_swiglu_fast)},
    {"swiglu_vjp stock", SWIGLU_VJP, ZF_FIDELITY_STOCK, 3, 2, FN(zf_scalar_swiglu_vjp_exact)},
    {"swiglu_vjp exact", SWIGLU_VJP, ZF_FIDELITY_EXACT, 3, 2, FN(zf_scalar_swiglu_vjp_exact)},
    {"swiglu_vjp fast", SWIGLU_VJP, ZF_FIDELITY_FAST, 3, 2, FN(zf_scalar_swiglu_vjp_fast)},
};
#define N_CASES ((int)(sizeof k_cases / sizeof *k_cases))

static zf_status call(const ew_case *c, const zf_tensor *in, zf_tensor *out, const zf_opts *o) {
    switch (c->op) {
    case ADD: return zf_add(&in[0], &in[1], &out[0], o);
    case MUL: return zf_mul(&in[0], &in[1], &out[0], o);
    case SILU: return zf_silu(&in[0], &out[0], o);
    case SILU_VJP: return zf_silu_vjp(&in[0], &in[1], &out[0], o);
    case SWIGLU: return zf_swiglu(&in[0], &in[1], &out[0], o);
    default: return zf_swiglu_vjp(&in[0], &in[1], &in[2], &out[0], &out[1], o);
    }
}

static zf_status call_fid(const ew_case *c, const zf_tensor *in, zf_tensor *out) {
    zf_opts o = {.fidelity = c->fid};
    return call(c, in, out, &o);
}

static void run_ref(const ew_case *c, zf_dtype t, void *const *in, void *const *out, int64_t n) {
    switch (c->n_in) {
    case 1: ((void (*)(zf_dtype, const void *, void *, int64_t, int))c->ref)(t, in[0], out[0], n, 0); break;
    case 2:
        ((void (*)(zf_dtype, const void *, const void *, void *, int64_t, int))c->ref)(t, in[0], in[1], out[0], n, 0);
        break;
    default:
        ((void (*)(zf_dtype, const void *, const void *, const void *, void *, void *, int64_t, int))c->ref)(
            t, in[0], in[1], in[2], out[0], out[1], n, 0);
    }
}

/* Fresh inputs: mostly [-6, 6), every 29th in [-30, 30) (silu saturates). */
static void fill(zf_dtype t, void *p, int64_t n) {
    zt_fill(t, p, n, 6.0f);
    for (int64_t i = (int64_t)(zt_rand() % 29); i < n; i += 29) {
        float v = (float)zt_uniform(-30.0, 30.0);
        zt_set(t, p, i, v != 0.0f ? v : 1.0f);
    }
}

static void expect_bits(const char *what, zf_dtype t, const void *got, const void *want, int64_t n) {
    int64_t i = zt_first_diff(t, got, want, n);
    ZT_CHECK(i < 0, "%s: element %lld of %lld is %a, expected %a", what, (long long)i, (long long)n,
             zt_get(t, got, i < 0 ? 0 : i), zt_get(t, want, i < 0 ? 0 : i));
}

static const char *cfg(const char *name, zf_dtype t, int64_t n, const char *extra) {
    static char buf[160];
    snprintf(buf, sizeof buf, "%s %s n=%lld isa=%s threads=%d%s", name, zf_dtype_name(t), (long long)n,
             zf_cpu_isa_name(zf_get_cpu_isa()), zf_get_num_threads(), extra);
    return buf;
}

/* Runs fn for every ISA path up to the detected one and for 1 and 3 threads. */
static void each_path(void (*fn)(void *), void *ctx) {
    for (int isa = 0; isa <= (int)zf_cpu_isa_detected(); isa++) {
        ZT_OK(zf_set_cpu_isa((zf_cpu_isa)isa));
        for (int th = 1; th <= 3; th += 2) {
            ZT_OK(zf_set_num_threads(th));
            fn(ctx);
        }
    }
    ZT_OK(zf_set_cpu_isa(zf_cpu_isa_detected()));
    ZT_OK(zf_set_num_threads(0));
}

/* ---- 1. contiguous tensors: every path gives the scalar bits ------------- */

typedef struct flat_ctx {
    zf_dtype t;
    int64_t n;
    void *in[3];
    void *want[N_CASES][2];
} flat_ctx;

/* Case c on x's inputs into fresh guarded outputs ob[0 .. c->n_out). */
static zf_status flat_call(const flat_ctx *x, const ew_case *c, zt_buf *ob) {
    zf_tensor in[3], out[2];
    for (int k = 0; k < 3; k++) in[k] = zf_tensor_1d(x->in[k], x->t, x->n);
    for (int k = 0; k < c->n_out; k++) {
        ob[k] = zt_alloc(x->t, x->n);
        out[k] = zf_tensor_1d(ob[k].p, x->t, x->n);
    }
    return call_fid(c, in, out);
}

static void flat_on_path(void *p) {
    flat_ctx *x = p;
    for (int ci = 0; ci < N_CASES; ci++) {
        const ew_case *c = &k_cases[ci];
        zt_buf ob[2];
        zf_status s = flat_call(x, c, ob);
        ZT_CHECK(s == ZF_OK, "%s: %s", cfg(c->name, x->t, x->n, ""), zf_last_error());
        for (int k = 0; k < c->n_out; k++) {
            expect_bits(cfg(c->name, x->t, x->n, k ? " (out 1)" : ""), x->t, ob[k].p, x->want[ci][k], x->n);
            ZT_CHECK(zt_guards_ok(&ob[k]), "%s: wrote outside the output", cfg(c->name, x->t, x->n, ""));
            zt_free(&ob[k]);
        }
    }
}

/* n elements of three fresh inputs (fill_fn), every case's reference
 * outputs, then on_path on every ISA path and thread count */
static void flat_run(zf_dtype t, int64_t n, void (*fill_fn)(zf_dtype, void *, int64_t), void (*on_path)(void *)) {
    flat_ctx x = {.t = t, .n = n};
    size_t bytes = (size_t)n * zf_dtype_size(t);
    for (int k = 0; k < 3; k++) { x.in[k] = malloc(bytes); fill_fn(t, x.in[k], n); }
    for (int ci = 0; ci < N_CASES; ci++) {
        for (int k = 0; k < 2; k++) x.want[ci][k] = malloc(bytes);
        run_ref(&k_cases[ci], t, x.in, x.want[ci], n);
    }
    each_path(on_path, &x);
    for (int k = 0; k < 3; k++) free(x.in[k]);
    for (int ci = 0; ci < N_CASES; ci++) { free(x.want[ci][0]); free(x.want[ci][1]); }
}

static void test_flat(void) {
    static const int64_t lengths[] = {1,  2,   3,   7,   15,   16,   17,    31,    33,    63,
                                      64, 65, 127, 129, 1000, 4099, 16383, 16385, 65537, 70000};
    for (int dt = 0; dt < 3; dt++)
        for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
            if (g_quick && lengths[li] > 20000) continue;
            flat_run((zf_dtype)dt, lengths[li], fill, flat_on_path);
        }
}

/* ---- 2. strided views: rows apart, gaps between rows left untouched ------- */

typedef struct strided_ctx {
    zf_dtype t;
    int64_t rows, cols, in_rs, out_rs;
    int three_d;
    zt_buf in[3];
    void *packed[3]; /* the same rows, contiguous, for the scalar kernel */
} strided_ctx;

static zf_tensor view(void *p, const strided_ctx *x, int64_t rs) {
    zf_tensor v = zf_tensor_2d(p, x->t, x->rows, x->cols);
    v.stride[0] = rs;
    if (x->three_d) { /* [2, rows/2, cols]: leading axes flatten into rows */
        v.ndim = 3;
        v.shape[0] = 2; v.shape[1] = x->rows / 2; v.shape[2] = x->cols;
        v.stride[0] = rs * (x->rows / 2); v.stride[1] = rs; v.stride[2] = 1;
    }
    return v;
}

static void strided_on_path(void *p) {
    strided_ctx *x = p;
    int64_t total = x->rows * x->cols, es = (int64_t)zf_dtype_size(x->t);
    zf_tensor in[3], out[2];
    for (int k = 0; k < 3; k++) in[k] = view(x->in[k].p, x, x->in_rs);
    unsigned char *want[2] = {malloc((size_t)(total * es)), malloc((size_t)(total * es))};
    for (int ci = 0; ci < N_CASES; ci++) {
        const ew_case *c = &k_cases[ci];
        run_ref(c, x->t, x->packed, (void *const *)want, total);
        zt_buf ob[2];
        for (int k = 0; k < c->n_out; k++) {
            ob[k] = zt_alloc(x->t, x->rows * x->out_rs);
            out[k] = view(ob[k].p, x, x->out_rs);
        }
        const char *name = cfg(c->name, x->t, total, x->three_d ? " 3-D strided" : " 2-D strided");
        ZT_CHECK(call_fid(c, in, out) == ZF_OK, "%s: %s", name, zf_last_error());
        for (int k = 0; k < c->n_out; k++) {
            const unsigned char *o = ob[k].p;
            int gaps_ok = 1;
            for (int64_t r = 0; r < x->rows; r++) {
                expect_bits(name, x->t, o + r * x->out_rs * es, want[k] + r * x->cols * es, x->cols);
                for (int64_t b = x->cols * es; b < x->out_rs * es && r + 1 < x->rows; b++)
                    gaps_ok &= o[r * x->out_rs * es + b] == 0x7f;
            }
            ZT_CHECK(gaps_ok && zt_guards_ok(&ob[k]), "%s: wrote between rows or outside", name);
            zt_free(&ob[k]);
        }
    }
    free(want[0]);
    free(want[1]);
}

/* ---- 1b. special values: NaN payloads (quiet and signalling), infinities,
 * zeros, subnormals, the exp clamp edges. Every path gives the scalar bits;
 * where two NaNs can meet (two inputs of an element NaN or infinite: silu(-inf)
 * and inf * 0 make NaNs of their own), which payload survives depends on
 * operand order (NUMERICS §1), so there any NaN matches. ---- */

static const uint32_t k_special_f32[] = {0x7fc00000, 0xffc00000, 0x7f800001, 0xff812345, 0x7fc01234, 0x7f800000,
                                         0xff800000, 0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007fffff,
                                         0x42ac0000, 0xc2ac0001, 0x42b00000, 0xc2b00000, 0x42d00000, 0xc2d00000,
                                         0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbfa3a29c};
static const uint16_t k_special_bf16[] = {0x7fc0, 0xffc0, 0x7fa5, 0xff81, 0x7fff, 0x7f80, 0xff80, 0x0000,
                                          0x8000, 0x0001, 0x8001, 0x007f, 0x42ac, 0xc2ad, 0x42b0, 0xc2b0,
                                          0x42d0, 0xc2d0, 0x7f7f, 0xff7f, 0x3f80, 0xbfa4};
static const uint16_t k_special_f16[] = {0x7e00, 0xfe00, 0x7d01, 0xfc01, 0x7fff, 0x7c00, 0xfc00, 0x0000,
                                         0x8000, 0x0001, 0x8001, 0x03ff, 0x5560, 0xd561, 0x7bff, 0xfbff,
                                         0x3c00, 0xbd1d};

static int is_nan_bits(zf_dtype t, const void *p, int64_t i) { return isnan(zt_get(t, p, i)); }
static int not_finite(zf_dtype t, const void *p, int64_t i) { return !isfinite(zt_get(t, p, i)); }

static void fill_special(zf_dtype t, void *p, int64_t n) {
    fill(t, p, n);
    for (int64_t i = 0; i < n; i++) {
        if (zt_rand() % 2) continue;
        if (t == ZF_DTYPE_F32) {
            uint32_t u = k_special_f32[zt_rand() % (sizeof k_special_f32 / sizeof *k_special_f32)];
            memcpy((char *)p + i * 4, &u, 4);
        } else {
            const uint16_t *pool = t == ZF_DTYPE_BF16 ? k_special_bf16 : k_special_f16;
            size_t m = t == ZF_DTYPE_BF16 ? sizeof k_special_bf16 / 2 : sizeof k_special_f16 / 2;
            ((uint16_t *)p)[i] = pool[zt_rand() % m];
        }
    }
}

static void special_on_path(void *p) {
    flat_ctx *x = p;
    size_t es = zf_dtype_size(x->t);
    for (int ci = 0; ci < N_CASES; ci++) {
        const ew_case *c = &k_cases[ci];
        zt_buf ob[2];
        ZT_OK(flat_call(x, c, ob));
        for (int k = 0; k < c->n_out; k++) {
            int64_t bad = -1;
            for (int64_t i = 0; i < x->n && bad < 0; i++) {
                if (!memcmp((char *)ob[k].p + i * es, (char *)x->want[ci][k] + i * es, es)) continue;
                int odd = 0;
                for (int q = 0; q < c->n_in; q++) odd += not_finite(x->t, x->in[q], i);
                if (!(odd >= 2 && is_nan_bits(x->t, ob[k].p, i) && is_nan_bits(x->t, x->want[ci][k], i))) bad = i;
            }
            ZT_CHECK(bad < 0, "%s special values: element %lld (inputs %a %a %a) is %a, scalar %a",
                     cfg(c->name, x->t, x->n, k ? " (out 1)" : ""), (long long)bad,
                     zt_get(x->t, x->in[0], bad < 0 ? 0 : bad), zt_get(x->t, x->in[1], bad < 0 ? 0 : bad),
                     zt_get(x->t, x->in[2], bad < 0 ? 0 : bad), zt_get(x->t, ob[k].p, bad < 0 ? 0 : bad),
                     zt_get(x->t, x->want[ci][k], bad < 0 ? 0 : bad));
            zt_free(&ob[k]);
        }
    }
}

static void test_special(void) {
    for (int dt = 0; dt < 3; dt++) flat_run((zf_dtype)dt, 4099, fill_special, special_on_path);
}

/* ---- 1c. calls larger than the caches: outputs written non-temporally, from
 * the first vector-aligned element on (outputs here start one element into a
 * harness buffer, so never vector-aligned: a task's head is 7 to 31
 * elements). The last task holds 5 elements, fewer than its head: nothing
 * outside the output (the element before it, the guards) may change. ---- */

/* Every case in every dtype (ZF_TEST_QUICK: swiglu exact and its VJP, the
 * two-output streamed store), outputs one element past 16-byte alignment. */
static void test_streamed(void) {
    for (int dt = 0; dt < 3; dt++) {
        const zf_dtype t = (zf_dtype)dt;
        const size_t es = zf_dtype_size(t);
        const int64_t n = ZF_EW_STREAM_BYTES / (int64_t)es + 5; /* each output alone reaches the bar */
        void *in[3];
        for (int k = 0; k < 3; k++) { in[k] = malloc((size_t)n * es); fill(t, in[k], n); }
        for (int cc = 0; cc < N_CASES; cc++) {
            const ew_case *c = &k_cases[cc];
            if (g_quick && strcmp(c->name, "swiglu exact") != 0 && strcmp(c->name, "swiglu_vjp exact") != 0) continue;
            void *want[2] = {malloc((size_t)n * es), malloc((size_t)n * es)};
            run_ref(c, t, in, want, n);
            zt_buf ob[2] = {zt_alloc(t, n + 1), zt_alloc(t, n + 1)};
            zf_tensor ti[3], to[2];
            for (int k = 0; k < 3; k++) ti[k] = zf_tensor_1d(in[k], t, n);
            for (int k = 0; k < 2; k++) to[k] = zf_tensor_1d((char *)ob[k].p + es, t, n);
            for (int isa = 0; isa <= (int)zf_cpu_isa_detected(); isa++) {
                ZT_OK(zf_set_cpu_isa((zf_cpu_isa)isa));
                for (int k = 0; k < c->n_out; k++) zt_poison(&ob[k]);
                ZT_OK(call_fid(c, ti, to));
                for (int k = 0; k < c->n_out; k++) {
                    const char *what = cfg(c->name, t, n, k ? " streamed (out 1)" : " streamed");
                    expect_bits(what, t, to[k].data, want[k], n);
                    const unsigned char *before = ob[k].p;
                    int untouched = 1;
                    for (size_t b = 0; b < es; b++) untouched &= before[b] == 0x7f;
                    ZT_CHECK(zt_guards_ok(&ob[k]) && untouched, "%s: wrote outside the output", what);
                }
            }
            ZT_OK(zf_set_cpu_isa(zf_cpu_isa_detected()));
            for (int k = 0; k < 2; k++) { free(want[k]); zt_free(&ob[k]); }
        }
        for (int k = 0; k < 3; k++) free(in[k]);
    }
}

/* Every ISA path's variant of every case passed its self-test and is the
 * one picked: a SIMD kernel that failed it would be replaced by the scalar
 * one silently, and every bit comparison above would still pass. */
static void test_variants_trusted(void) {
    static const zf_op ops[] = {ZF_OP_ADD, ZF_OP_MUL, ZF_OP_SILU, ZF_OP_SILU_VJP, ZF_OP_SWIGLU, ZF_OP_SWIGLU_VJP};
    for (int isa = 0; isa <= (int)zf_cpu_isa_detected(); isa++) {
        ZT_OK(zf_set_cpu_isa((zf_cpu_isa)isa));
        for (int cc = 0; cc < N_CASES; cc++) {
            const ew_case *c = &k_cases[cc];
            const zf_fidelity f = c->fid == ZF_FIDELITY_AUTO ? ZF_FIDELITY_STOCK : c->fid;
            if (f == ZF_FIDELITY_STOCK && (c->op == SWIGLU || c->op == SWIGLU_VJP)) continue; /* a composition */
            const zf_variant *v = NULL;
            const char *why = "";
            ZT_OK(zf_pick(ops[c->op], ZF_DEVICE_CPU, f, &v));
            if (v) zf_variant_state(v, &why);
            ZT_CHECK(v && (int)v->isa == isa && v->fidelity == f, "%s on %s: picked %s (%s)", c->name,
                     zf_cpu_isa_name((zf_cpu_isa)isa), v ? v->name : "nothing", why);
        }
    }
    ZT_OK(zf_set_cpu_isa(zf_cpu_isa_detected()));
}

/* out_gap: elements between output rows (0: 3..19 at random) */
static void strided_case(zf_dtype t, int64_t rows, int64_t cols, int three_d, int64_t out_gap) {
    strided_ctx x = {.t = t, .rows = rows, .cols = cols, .three_d = three_d};
    x.in_rs = x.cols + 1 + (int64_t)(zt_rand() % 17);
    x.out_rs = x.cols + (out_gap ? out_gap : 3 + (int64_t)(zt_rand() % 17));
    int64_t es = (int64_t)zf_dtype_size(x.t);
    for (int k = 0; k < 3; k++) {
        x.in[k] = zt_alloc(x.t, x.rows * x.in_rs);
        fill(x.t, x.in[k].p, x.rows * x.in_rs);
        x.packed[k] = malloc((size_t)(x.rows * x.cols * es));
        for (int64_t r = 0; r < x.rows; r++)
            memcpy((char *)x.packed[k] + r * x.cols * es, (char *)x.in[k].p + r * x.in_rs * es, (size_t)(x.cols * es));
    }
    each_path(strided_on_path, &x);
    for (int k = 0; k < 3; k++) { zt_free(&x.in[k]); free(x.packed[k]); }
}

static void test_strided(void) {
    static const int64_t cols[] = {1, 5, 33, 1000, 16385};
    for (int dt = 0; dt < 3; dt++)
        for (size_t ci = 0; ci < sizeof cols / sizeof *cols; ci++)
            for (int three_d = 0; three_d < 2; three_d++)
                strided_case((zf_dtype)dt, 6, g_quick && cols[ci] > 5000 ? 4099 : cols[ci], three_d, 0);
    /* Streamed (the outputs reach ZF_EW_STREAM_BYTES): each row ends in a
     * 5-element task, and an odd row stride (16389 + 4) starts the rows at
     * every alignment, so most of those tasks are shorter than their
     * alignment heads; the gaps and guards catch a head run past one. */
    if (g_quick) return;
    const int64_t wide = 16384 + 5;
    for (int dt = 0; dt < 3; dt += 2) {
        const int64_t es = (int64_t)zf_dtype_size((zf_dtype)dt), rows = ZF_EW_STREAM_BYTES / (wide * es) + 2;
        strided_case((zf_dtype)dt, rows + rows % 2, wide, 0, 4);
    }
}

/* ---- 3. in place: an output is one of the inputs -------------------------- */

static void test_in_place(void) {
    static const int64_t lengths[] = {37, 4099, 70000};
    for (int isa = 0; isa <= (int)zf_cpu_isa_detected(); isa++) {
        ZT_OK(zf_set_cpu_isa((zf_cpu_isa)isa));
        for (int dt = 0; dt < 3; dt++)
            for (size_t li = 0; li < 3; li++) {
                zf_dtype t = (zf_dtype)dt;
                int64_t n = g_quick && lengths[li] > 20000 ? 16385 : lengths[li];
                size_t bytes = (size_t)n * zf_dtype_size(t);
                void *orig[3], *want[2] = {malloc(bytes), malloc(bytes)}, *sep[2] = {malloc(bytes), malloc(bytes)};
                for (int k = 0; k < 3; k++) { orig[k] = malloc(bytes); fill(t, orig[k], n); }
                for (int ci = 0; ci < N_CASES; ci++) {
                    const ew_case *c = &k_cases[ci];
                    run_ref(c, t, orig, want, n);
                    /* each output: separate (-1) or input k; d_up may not be gate */
                    for (int a0 = -1; a0 < c->n_in; a0++)
                        for (int a1 = -1; a1 < (c->n_out > 1 ? c->n_in : 0); a1++) {
                            if ((a0 >= 0 && a0 == a1) || a1 == 0 || (a0 < 0 && a1 < 0)) continue;
                            void *buf[3];
                            zf_tensor in[3], out[2];
                            for (int k = 0; k < 3; k++) {
                                buf[k] = malloc(bytes);
                                memcpy(buf[k], orig[k], bytes);
                                in[k] = zf_tensor_1d(buf[k], t, n);
                            }
                            int alias[2] = {a0, a1};
                            for (int k = 0; k < c->n_out; k++)
                                out[k] = zf_tensor_1d(alias[k] >= 0 ? buf[alias[k]] : sep[k], t, n);
                            char extra[64];
                            snprintf(extra, sizeof extra, " in place (out0=in%d out1=in%d)", a0, a1);
                            ZT_CHECK(call_fid(c, in, out) == ZF_OK, "%s: %s", cfg(c->name, t, n, extra),
                                     zf_last_error());
                            for (int k = 0; k < c->n_out; k++)
                                expect_bits(cfg(c->name, t, n, extra), t, out[k].data, want[k], n);
                            for (int k = 0; k < 3; k++) free(buf[k]);
                        }
                }
                for (int k = 0; k < 3; k++) free(orig[k]);
                for (int k = 0; k < 2; k++) { free(want[k]); free(sep[k]); }
            }
    }
    ZT_OK(zf_set_cpu_isa(zf_cpu_isa_detected()));
    /* the stride of a length-1 axis addresses nothing: a one-row view of x
     * with another row stride (a row of a wider matrix) is x itself, in place */
    float a[8], b[8], sum[8];
    for (int i = 0; i < 8; i++) a[i] = (float)i - 2.5f, b[i] = 0.25f * (float)i, sum[i] = a[i] + b[i];
    zf_tensor x = zf_tensor_2d(a, ZF_DTYPE_F32, 1, 8), y = zf_tensor_2d(b, ZF_DTYPE_F32, 1, 8), out = x;
    out.stride[0] = 16;
    ZT_CHECK(zf_add(&x, &y, &out, NULL) == ZF_OK, "add into x as a one-row view of row stride 16: %s", zf_last_error());
    ZT_CHECK(memcmp(a, sum, sizeof a) == 0, "add into x as a one-row view of row stride 16: wrong sums");
}

/* ---- 4. accuracy against float64 ----------------------------------------- */

/* Stated bounds against float64, in ulp of T (docs/NUMERICS.md quotes them),
 * for |gate| <= 88 (below -88.72 silu is -0; see test_exp):
 * - "at |ref|": the ulp of T at the float64 result;
 * - silu' = s(1 + x(1 - s)) cancels near x = -1.28, so silu_vjp and d_gate
 *   are measured in ulp of T at |d * u| * s * (1 + |x| (1 - s)), the size of
 *   the formula's largest term.
 * Where f32 is the output, the errors of silu (<= 2.41 ulp over every f32)
 * and silu' (<= 8.2 ulp at its scale, x ~ 16.6, from rounding s near 1) are
 * relative errors; a product that lands just under a power of two sees them
 * up to twice as many of its own ulps, plus its rounding: swiglu fast and
 * d_up <= 2 * 2.41 + 0.5, silu_vjp <= 2 * 8.2 + 0.5, d_gate (one rounding
 * more, of d * u) <= 2 * 8.2 + 1.5. In f16/bf16 these f32 errors are a few
 * thousandths of T's ulp. Measured maxima over many seeds (all paths give the
 * same bits): f32 add/mul 0.5, silu 2.4, swiglu fast 2.7, d_up 3.01,
 * silu_vjp 16.6, d_gate 16.7; f16/bf16 0.5 everywhere, silu_vjp/d_gate 0.502.
 * Exact/stock swiglu are not bounded here: they round silu(g) to T first, so
 * their error grows with |u| where silu(g) is tiny; they are held to the
 * stock bits instead.
 *                                  f32    f16    bf16 */
static const double k_bound_ref[3] = {3.0, 0.51, 0.51};   /* add, mul, silu: at |ref| */
static const double k_bound_prod[3] = {5.5, 0.51, 0.51};  /* swiglu fast, swiglu_vjp fast d_up: at |ref| */
static const double k_bound_grad[3] = {20.0, 0.51, 0.51}; /* silu_vjp, swiglu_vjp fast d_gate: at scale */

static double ulp_t(zf_dtype t, double v) {
    int mant = t == ZF_DTYPE_F32 ? 24 : t == ZF_DTYPE_F16 ? 11 : 8;
    int emin = t == ZF_DTYPE_F16 ? -14 : -126;
    int e;
    frexp(fabs(v), &e); /* |v| = m * 2^e, m in [0.5, 1) */
    if (v == 0.0 || e - 1 < emin) e = emin + 1;
    return ldexp(1.0, e - mant);
}

static double silu64(double x) { return x / (1.0 + exp(-x)); }
static double sig64(double x) { return 1.0 / (1.0 + exp(-x)); }
static double dsilu64(double x) { double s = sig64(x); return s * (1.0 + x * (1.0 - s)); }
static double dsilu_scale(double x) { double s = sig64(x); return s * (1.0 + fabs(x) * (1.0 - s)); }

typedef struct acc {
    const char *what;
    double worst, at;
    double bound;
} acc;

static void acc_note(acc *a, double got, double ref, double scale_ulp, double x) {
    double e = fabs(got - ref) / scale_ulp;
    if (!(e <= a->worst)) { a->worst = e; a->at = x; }
}

static void test_accuracy(void) {
    int64_t n = g_quick ? 20000 : 200000;
    for (int dt = 0; dt < 3; dt++) {
        zf_dtype t = (zf_dtype)dt;
        size_t bytes = (size_t)n * zf_dtype_size(t);
        void *g = malloc(bytes), *u = malloc(bytes), *d = malloc(bytes), *o[2] = {malloc(bytes), malloc(bytes)};
        /* gate over the whole useful range (|g| <= 88: below -88.72 exp(-g)
         * overflows and silu is -0, see test_exp), u and d moderate */
        for (int64_t i = 0; i < n; i++) {
            double w = (i % 4 == 0) ? 88.0 : (i % 4 == 1) ? 20.0 : 6.0;
            zt_set(t, g, i, (float)zt_uniform(-w, w));
            zt_set(t, u, i, (float)zt_uniform(-4.0, 4.0));
            zt_set(t, d, i, (float)zt_uniform(-4.0, 4.0));
        }
        acc a[7] = {{"add", 0, 0, k_bound_ref[dt]},         {"mul", 0, 0, k_bound_ref[dt]},
                    {"silu", 0, 0, k_bound_ref[dt]},        {"silu_vjp", 0, 0, k_bound_grad[dt]},
                    {"swiglu fast", 0, 0, k_bound_prod[dt]}, {"swiglu_vjp fast d_up", 0, 0, k_bound_prod[dt]},
                    {"swiglu_vjp fast d_gate", 0, 0, k_bound_grad[dt]}};
        for (int which = 0; which < 6; which++) {
            switch (which) {
            case 0: zf_scalar_add(t, g, u, o[0], n, 0); break;
            case 1: zf_scalar_mul(t, g, u, o[0], n, 0); break;
            case 2: zf_scalar_silu(t, g, o[0], n, 0); break;
            case 3: zf_scalar_silu_vjp(t, g, d, o[0], n, 0); break;
            case 4: zf_scalar_swiglu_fast(t, g, u, o[0], n, 0); break;
            default: zf_scalar_swiglu_vjp_fast(t, g, u, d, o[0], o[1], n, 0); break;
            }
            for (int64_t i = 0; i < n; i++) {
                double x = zt_get(t, g, i), y = zt_get(t, u, i), z = zt_get(t, d, i);
                double r0 = zt_get(t, o[0], i), r1 = zt_get(t, o[1], i);
                switch (which) {
                case 0: acc_note(&a[0], r0, x + y, ulp_t(t, x + y), x); break;
                case 1: acc_note(&a[1], r0, x * y, ulp_t(t, x * y), x); break;
                case 2: acc_note(&a[2], r0, silu64(x), ulp_t(t, silu64(x)), x); break;
                case 3: acc_note(&a[3], r0, z * dsilu64(x), ulp_t(t, fabs(z) * dsilu_scale(x)), x); break;
                case 4: acc_note(&a[4], r0, silu64(x) * y, ulp_t(t, silu64(x) * y), x); break;
                default:
                    acc_note(&a[5], r1, z * silu64(x), ulp_t(t, z * silu64(x)), x);
                    acc_note(&a[6], r0, z * y * dsilu64(x), ulp_t(t, fabs(z * y) * dsilu_scale(x)), x);
                    break;
                }
            }
        }
        printf("  %s vs float64 (max ulp of %s):", zf_dtype_name(t), zf_dtype_name(t));
        for (int k = 0; k < 7; k++) {
            printf("%s %s %.3f", k ? "," : "", a[k].what, a[k].worst);
            ZT_CHECK(a[k].worst <= a[k].bound, "%s %s: %.3f ulp at g = %g (bound %.2f)", zf_dtype_name(t), a[k].what,
                     a[k].worst, a[k].at, a[k].bound);
        }
        printf("\n");
        free(g); free(u); free(d); free(o[0]); free(o[1]);
    }
}

/* The float64 references' derivatives are the derivatives: central finite
 * differences of silu and of d * silu(g) * u. */
static void test_vjp_formulas(void) {
    double worst = 0;
    for (int i = 0; i < 2000; i++) {
        double g = zt_uniform(-30.0, 30.0), u = zt_uniform(-4.0, 4.0), d = zt_uniform(-4.0, 4.0);
        double h = 1e-5 * (fabs(g) > 1 ? fabs(g) : 1);
        double fd_g = d * (silu64(g + h) * u - silu64(g - h) * u) / (2 * h);
        double fd_u = d * (silu64(g) * (u + h) - silu64(g) * (u - h)) / (2 * h);
        double e_g = fabs(fd_g - d * u * dsilu64(g)) / (fabs(d * u) * dsilu_scale(g) + 1e-300);
        double e_u = fabs(fd_u - d * silu64(g)) / (fabs(d * silu64(g)) + 1e-300);
        if (e_g > worst) worst = e_g;
        if (e_u > worst) worst = e_u;
    }
    ZT_CHECK(worst < 1e-7, "float64 VJP formulas differ from finite differences by %.3g (relative)", worst);
}

/* ---- 5. tiers: the default fidelity follows the tier ---------------------- */

static void test_tiers(void) {
    int64_t n = 4099;
    for (int dt = 0; dt < 3; dt++) {
        zf_dtype t = (zf_dtype)dt;
        size_t bytes = (size_t)n * zf_dtype_size(t);
        void *in_p[3], *o[2][2];
        zf_tensor in[3], out[2];
        for (int k = 0; k < 3; k++) { in_p[k] = malloc(bytes); fill(t, in_p[k], n); in[k] = zf_tensor_1d(in_p[k], t, n); }
        for (int k = 0; k < 4; k++) o[k / 2][k % 2] = malloc(bytes);
        for (int ci = 0; ci < N_CASES; ci++) {
            const ew_case *c = &k_cases[ci];
            if (c->fid != ZF_FIDELITY_EXACT && c->fid != ZF_FIDELITY_FAST) continue;
            zf_tier tier = c->fid == ZF_FIDELITY_EXACT ? ZF_TIER_STABLE : ZF_TIER_EDGE;
            ZT_OK(zf_set_tier(tier));
            for (int k = 0; k < c->n_out; k++) out[k] = zf_tensor_1d(o[0][k], t, n);
            ZT_OK(call(c, in, out, NULL)); /* default: the tier decides */
            for (int k = 0; k < c->n_out; k++) out[k] = zf_tensor_1d(o[1][k], t, n);
            ZT_OK(call_fid(c, in, out));
            for (int k = 0; k < c->n_out; k++)
                expect_bits(cfg(c->name, t, n, tier == ZF_TIER_STABLE ? " default under stable" : " default under edge"),
                            t, o[0][k], o[1][k], n);
        }
        ZT_OK(zf_set_tier(ZF_TIER_STABLE));
        for (int k = 0; k < 3; k++) free(in_p[k]);
        for (int k = 0; k < 4; k++) free(o[k / 2][k % 2]);
    }
}

/* ---- 6. bad inputs: status, a message naming the op, outputs untouched ---- */

typedef struct bad_ctx {
    zf_tensor in[3], out[2];
    zt_buf ib[3], ob[2];
    int n_out;
} bad_ctx;

#define k_bad_n 24
static const int64_t k_bad_shape[3] = {2, 2, k_bad_n}; /* valid: contiguous [2, 2, 24] */

static const char *op_tag(const ew_case *c) {
    static const char *const tags[] = {"[add]", "[mul]", "[silu]", "[silu_vjp]", "[swiglu]", "[swiglu_vjp]"};
    return tags[c->op];
}

static void bad_setup(bad_ctx *b, const ew_case *c) {
    b->n_out = c->n_out;
    for (int k = 0; k < 3; k++) {
        b->ib[k] = zt_alloc(ZF_DTYPE_F32, 4 * k_bad_n);
        fill(ZF_DTYPE_F32, b->ib[k].p, 4 * k_bad_n);
        b->in[k] = zf_tensor_nd(b->ib[k].p, ZF_DTYPE_F32, 3, k_bad_shape);
    }
    for (int k = 0; k < 2; k++) {
        b->ob[k] = zt_alloc(ZF_DTYPE_F32, 4 * k_bad_n);
        b->out[k] = zf_tensor_nd(b->ob[k].p, ZF_DTYPE_F32, 3, k_bad_shape);
    }
}

static void bad_expect(bad_ctx *b, const ew_case *c, const char *what, zf_status want, zf_fidelity fid) {
    zf_opts o = {.fidelity = fid};
    zf_status s = call(c, b->in, b->out, &o);
    const char *msg = zf_last_error();
    const char *tag = op_tag(c);
    ZT_CHECK(s == want, "%s, %s: status %s, expected %s (%s)", c->name, what, zf_status_name(s), zf_status_name(want),
             msg);
    ZT_CHECK(strstr(msg, tag) != NULL, "%s, %s: message '%s' does not name the op", c->name, what, msg);
    for (int k = 0; k < 2; k++) {
        int untouched = zt_guards_ok(&b->ob[k]);
        for (size_t i = 0; i < b->ob[k].bytes; i++) untouched &= ((unsigned char *)b->ob[k].p)[i] == 0x7f;
        ZT_CHECK(untouched, "%s, %s: output %d was written", c->name, what, k);
    }
}

static void bad_free(bad_ctx *b) {
    for (int k = 0; k < 3; k++) zt_free(&b->ib[k]);
    for (int k = 0; k < 2; k++) zt_free(&b->ob[k]);
}

/* Mutations of one argument; arg < n_in is an input, else output arg - n_in. */
typedef enum bad_kind {
    BAD_NULL, BAD_NULL_DATA, BAD_NDIM0, BAD_NDIM5, BAD_SHAPE0, BAD_SHAPE_NEG, BAD_SHAPE_MISMATCH, BAD_DTYPE_MIX,
    BAD_DTYPE_U32, BAD_DTYPE_VALUE, BAD_LAST_STRIDE, BAD_ROWS_OVERLAP, BAD_LEADING, BAD_KINDS
} bad_kind;

static const char *const k_bad_names[BAD_KINDS] = {
    "NULL tensor", "NULL data", "ndim 0", "ndim 5", "shape 0", "negative shape", "mismatched shape", "dtype mix",
    "u32 dtype", "invalid dtype value", "last-axis stride 2", "row stride < cols", "leading axes not flattenable"};

static zf_status bad_apply(zf_tensor **slot, zf_tensor *t, bad_kind k) {
    switch (k) {
    case BAD_NULL: *slot = NULL; return ZF_ERR_INVALID_ARG;
    case BAD_NULL_DATA: t->data = NULL; return ZF_ERR_INVALID_ARG;
    case BAD_NDIM0: t->ndim = 0; return ZF_ERR_SHAPE;
    case BAD_NDIM5: t->ndim = 5; return ZF_ERR_SHAPE;
    case BAD_SHAPE0: t->shape[2] = 0; return ZF_ERR_SHAPE;
    case BAD_SHAPE_NEG: t->shape[0] = -2; return ZF_ERR_SHAPE;
    case BAD_SHAPE_MISMATCH: t->shape[2] = k_bad_n - 1; return ZF_ERR_SHAPE;
    case BAD_DTYPE_MIX: t->dtype = ZF_DTYPE_BF16; return ZF_ERR_DTYPE;
    case BAD_DTYPE_U32: t->dtype = ZF_DTYPE_U32; return ZF_ERR_DTYPE;
    case BAD_DTYPE_VALUE: t->dtype = (zf_dtype)77; return ZF_ERR_DTYPE;
    case BAD_LAST_STRIDE: t->stride[2] = 2; t->shape[2] = k_bad_n / 2; return ZF_ERR_SHAPE;
    case BAD_ROWS_OVERLAP: t->stride[1] = k_bad_n / 2; t->stride[0] = k_bad_n; return ZF_ERR_SHAPE;
    default: t->stride[0] = 2 * k_bad_n + 1; return ZF_ERR_SHAPE; /* a gap between the halves */
    }
}

static void test_bad_inputs(void) {
    for (int ci = 0; ci < N_CASES; ci++) {
        const ew_case *c = &k_cases[ci];
        if (c->fid == ZF_FIDELITY_STOCK) continue; /* same checks as exact */
        for (int arg = 0; arg < c->n_in + c->n_out; arg++)
            for (int k = 0; k < BAD_KINDS; k++) {
                bad_ctx b;
                bad_setup(&b, c);
                int is_out = arg >= c->n_in;
                zf_tensor *t = is_out ? &b.out[arg - c->n_in] : &b.in[arg];
                zf_tensor *ptr = t;
                zf_status want = bad_apply(&ptr, t, (bad_kind)k);
                char what[96];
                snprintf(what, sizeof what, "%s %d: %s", is_out ? "output" : "input", is_out ? arg - c->n_in : arg,
                         k_bad_names[k]);
                if (ptr == NULL) {
                    /* rebuild the call with a NULL in this slot */
                    zf_opts o = {.fidelity = c->fid};
                    const zf_tensor *i0 = arg == 0 ? NULL : &b.in[0], *i1 = arg == 1 ? NULL : &b.in[1],
                                    *i2 = arg == 2 ? NULL : &b.in[2];
                    zf_tensor *o0 = arg == c->n_in ? NULL : &b.out[0], *o1 = arg == c->n_in + 1 ? NULL : &b.out[1];
                    zf_status s;
                    switch (c->op) {
                    case ADD: s = zf_add(i0, i1, o0, &o); break;
                    case MUL: s = zf_mul(i0, i1, o0, &o); break;
                    case SILU: s = zf_silu(i0, o0, &o); break;
                    case SILU_VJP: s = zf_silu_vjp(i0, i1, o0, &o); break;
                    case SWIGLU: s = zf_swiglu(i0, i1, o0, &o); break;
                    default: s = zf_swiglu_vjp(i0, i1, i2, o0, o1, &o); break;
                    }
                    ZT_CHECK(s == want, "%s, %s: status %s (%s)", c->name, what, zf_status_name(s), zf_last_error());
                    ZT_CHECK(strstr(zf_last_error(), "NULL") != NULL && strstr(zf_last_error(), op_tag(c)) != NULL,
                             "%s, %s: message '%s'", c->name, what, zf_last_error());
                    for (int q = 0; q < 2; q++) ZT_CHECK(zt_guards_ok(&b.ob[q]), "%s, %s: guards", c->name, what);
                } else {
                    bad_expect(&b, c, what, want, c->fid);
                }
                bad_free(&b);
            }
        /* aliasing */
        bad_ctx b;
        bad_setup(&b, c);
        zf_tensor keep = b.out[0];
        b.out[0] = b.in[0];
        b.out[0].data = (float *)b.in[0].data + 5; /* shifted view: partial overlap */
        bad_expect(&b, c, "output 0 partially overlaps input 0", ZF_ERR_ALIAS, c->fid);
        b.out[0] = keep;
        if (c->n_out == 2) {
            b.out[1] = b.in[0];
            bad_expect(&b, c, "d_up is gate", ZF_ERR_ALIAS, c->fid);
            b.out[1] = b.out[0];
            b.out[1].data = (float *)b.out[0].data + 7;
            b.out[1].stride[0] = 2 * k_bad_n - 7; /* stays inside out 0's buffer, same shape */
            bad_expect(&b, c, "d_gate and d_up overlap", ZF_ERR_ALIAS, c->fid);
        }
        bad_free(&b);
        /* invalid fidelity values */
        for (int f = -1; f <= ZF_FIDELITY_COUNT; f += ZF_FIDELITY_COUNT + 1) {
            bad_setup(&b, c);
            bad_expect(&b, c, "invalid fidelity", ZF_ERR_INVALID_ARG, (zf_fidelity)f);
            bad_free(&b);
        }
    }
}

/* The self-test that decides whether an elementwise variant is trusted must
 * fail a kernel that is wrong: compared with the scalar reference (not with
 * itself), in every dtype, on both outputs of swiglu_vjp; and its ulp
 * distance counts T's last places. */
static int g_bad_dtype; /* the dtype bad_add gets wrong */
static void bad_add(zf_dtype t, const void *a, const void *b, void *out, int64_t n, int stream) {
    zf_scalar_add(t, a, b, out, n, stream);
    if ((int)t == g_bad_dtype) zf_store(t, out, n - 1, zf_load(t, out, n - 1) * 2.0f + 1.0f);
}
static void bad_swiglu_vjp(zf_dtype t, const void *g, const void *u, const void *d, void *dg, void *du, int64_t n,
                           int stream) {
    zf_scalar_swiglu_vjp_exact(t, g, u, d, dg, du, n, stream);
    zf_store(t, du, 0, zf_load(t, du, 0) * 2.0f + 1.0f); /* d_up only */
}
/* A fast silu whose f16 results below 2^-12 are 2^-16 too large: far more
 * than the subnormal allowance (a few steps of 2^-24). */
static void bad_fast_silu(zf_dtype t, const void *x, void *out, int64_t n, int stream) {
    zf_scalar_silu(t, x, out, n, stream);
    if (t != ZF_DTYPE_F16) return;
    for (int64_t i = 0; i < n; i++) {
        float v = zf_load(t, out, i);
        if (fabsf(v) < 0x1p-12f) zf_store(t, out, i, v + 0x1p-16f);
    }
}
static void test_selftest_catches(void) {
    char msg[256];
    const zf_variant f = {"test.bad.silu.fast", ZF_OP_SILU, ZF_DEVICE_CPU, ZF_FIDELITY_FAST, ZF_TIER_STABLE,
                          ZF_CPU_ISA_SCALAR, (void (*)(void))bad_fast_silu, NULL, NULL, "test"};
    msg[0] = '\0';
    ZT_CHECK(zf_cpu_selftest_elementwise(&f, msg, sizeof msg) != 0, "a fast silu 2^-16 off near zero in f16 passes");
    for (int dt = 0; dt < 3; dt++) {
        g_bad_dtype = dt;
        const zf_variant v = {"test.bad.add.stock", ZF_OP_ADD, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE,
                              ZF_CPU_ISA_SCALAR, (void (*)(void))bad_add, NULL, NULL, "test"};
        msg[0] = '\0';
        ZT_CHECK(zf_cpu_selftest_elementwise(&v, msg, sizeof msg) != 0, "an add wrong in %s passes the self-test",
                 zf_dtype_name((zf_dtype)dt));
        ZT_CHECK(strstr(msg, zf_dtype_name((zf_dtype)dt)) != NULL, "self-test message: %s", msg);
    }
    const zf_variant w = {"test.bad.swiglu_vjp.exact", ZF_OP_SWIGLU_VJP, ZF_DEVICE_CPU, ZF_FIDELITY_EXACT,
                          ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR, (void (*)(void))bad_swiglu_vjp, NULL, NULL, "test"};
    msg[0] = '\0';
    ZT_CHECK(zf_cpu_selftest_elementwise(&w, msg, sizeof msg) != 0, "a swiglu_vjp with a wrong d_up passes");
    ZT_CHECK(strstr(msg, "out1") != NULL, "self-test message: %s", msg);
    /* one last place apart is 1 ulp in each dtype (normal and subnormal) */
    ZT_CHECK(zf_ulp_distance(ZF_DTYPE_F32, 1.0f, nextafterf(1.0f, 2.0f)) == 1.0, "f32 ulp");
    ZT_CHECK(zf_ulp_distance(ZF_DTYPE_F16, 1.0f, 1.0f + 0x1p-10f) == 1.0, "f16 ulp");
    ZT_CHECK(zf_ulp_distance(ZF_DTYPE_BF16, -3.0f, -3.0f - 0x1p-6f) == 1.0, "bf16 ulp");
    ZT_CHECK(zf_ulp_distance(ZF_DTYPE_F16, 0x1p-24f, 0x1p-23f) == 1.0, "f16 subnormal ulp");
    ZT_CHECK(zf_ulp_distance(ZF_DTYPE_F32, 2.0f, 2.0f) == 0.0, "equal values");
}

int main(void) {
    zt_init("test_elementwise");
    const char *q = getenv("ZF_TEST_QUICK");
    g_quick = q && *q && strcmp(q, "0") != 0;
    printf("  ISA paths: scalar..%s\n", zf_cpu_isa_name(zf_cpu_isa_detected()));
    test_vjp_formulas();
    test_accuracy();
    test_flat();
    test_special();
    test_variants_trusted();
    test_selftest_catches();
    test_streamed();
    test_strided();
    test_in_place();
    test_tiers();
    test_bad_inputs();
    return zt_finish();
}
