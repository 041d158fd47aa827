/* Every CUDA kernel's self-test passes on the device. The CUDA backend
 * against the CPU stock path: stock and exact variants
 * bit-identical (any NaN equals any NaN) for every dtype on fresh random
 * inputs, sizes 1 .. 2^26 with odd tails, rows 1 .. 16384, strided and
 * unaligned views; fast variants bit-identical to the CPU's fast variants
 * (same formula, same order) and so within NUMERICS.md 7; VJPs incl. d_w;
 * the kernels' f32 -> T conversion bit for bit against dtype.h (NaN payloads
 * included) and the canonical bits of every NaN they compute; graph capture; bad arguments leave outputs untouched. Exits 77
 * (skip) when no CUDA device is usable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_loader.h"
#include "core/dtype.h"
#include "core/registry.h"
#include "dbuf.h"
#include "harness.h"

static int g_quick;

static void up(dbuf *b, const void *h) {
    zf_memcpy(b->p, ZF_DEVICE_CUDA, h, ZF_DEVICE_CPU, b->bytes, zt_cuda_stream);
}

static zf_tensor on_cuda(zf_tensor t, void *p) {
    t.data = p;
    t.device = ZF_DEVICE_CUDA;
    return t;
}

/* Random values with a sprinkle of zeros, tiny, huge and subnormal ones. */
static void fill_mixed(zf_dtype t, void *p, int64_t n, float scale) {
    zt_fill(t, p, n, scale);
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = zt_rand();
        if ((r & 63) == 0) zt_set(t, p, i, (float)zt_uniform(-90, 90));
        else if ((r & 63) == 1) zt_set(t, p, i, (float)zt_uniform(-1e-6, 1e-6));
        else if ((r & 1023) == 2) zt_set(t, p, i, (float)zt_uniform(-1e-39, 1e-39) * (t == ZF_DTYPE_F16 ? 1e34f : 1.0f));
    }
}

static double ulp_dist(zf_dtype t, float a, float b, double floor_mag) {
    if (zf_f32_bits(a) == zf_f32_bits(b) || (isnan(a) && isnan(b))) return 0.0;
    if (isnan(a) || isnan(b)) return INFINITY;
    double m = fmax(fmax(fabs((double)a), fabs((double)b)), floor_mag);
    int mant = t == ZF_DTYPE_F32 ? 24 : t == ZF_DTYPE_F16 ? 11 : 8, e;
    frexp(m, &e);
    int min_exp = t == ZF_DTYPE_F16 ? -14 : -126;
    if (e - 1 < min_exp) e = min_exp + 1;
    return fabs((double)a - (double)b) / ldexp(1.0, e - mant);
}

/* Compares n elements; bound 0 means bit-identical. Returns the max ulp. */
static double compare(const char *what, zf_dtype t, const void *got, const void *want, int64_t n, double bound,
                      int vjp) {
    double floor_mag = 0.0, worst = 0.0;
    if (vjp)
        for (int64_t i = 0; i < n; i++) floor_mag = fmax(floor_mag, fabs((double)zt_get(t, want, i)) / 16);
    int64_t bad = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = ulp_dist(t, zt_get(t, got, i), zt_get(t, want, i), floor_mag);
        if (d > worst) worst = d;
        if (!(d <= bound) && bad < 0) bad = i;
    }
    ZT_CHECK(bad < 0, "%s %s n=%lld: first mismatch at %lld: cuda %.9g cpu %.9g (max %.2f ulp > %.1f)", what,
             zf_dtype_name(t), (long long)n, (long long)bad, bad >= 0 ? zt_get(t, got, bad) : 0.0,
             bad >= 0 ? zt_get(t, want, bad) : 0.0, worst, bound);
    return worst;
}

/* ---- conversions ---------------------------------------------------------- */

static void test_cast(void) {
    const zf_cuda_plugin *pl = zf_cuda_plugin_loaded(NULL);
    int64_t n = g_quick ? 1 << 18 : 1 << 22;
    float *src = malloc((size_t)n * 4);
    uint16_t *got = malloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)zt_rand();
        if (i < 65536 * 2) u = ((uint32_t)(i & 0xffff) << 16) + (uint32_t)(i >> 16) * 0x8000u; /* T values and midpoints */
        memcpy(&src[i], &u, 4);
    }
    dbuf ds = dalloc((size_t)n * 4), dd = dalloc((size_t)n * 2);
    up(&ds, src);
    for (int dt = ZF_DTYPE_F16; dt <= ZF_DTYPE_BF16; dt++) {
        ZT_OK(pl->mem->cast_from_f32((zf_dtype)dt, ds.p, dd.p, n, zt_cuda_stream));
        down(got, &dd);
        int64_t bad = -1;
        for (int64_t i = 0; i < n && bad < 0; i++) {
            uint16_t want = dt == ZF_DTYPE_F16 ? zf_cvt_f32_f16(src[i]) : zf_cvt_f32_bf16(src[i]);
            if (got[i] != want) bad = i;
        }
        ZT_CHECK(bad < 0, "f32 -> %s on the device differs from dtype.h at 0x%08x: 0x%04x vs 0x%04x",
                 zf_dtype_name((zf_dtype)dt), bad >= 0 ? zf_f32_bits(src[bad]) : 0, bad >= 0 ? got[bad] : 0,
                 bad >= 0 ? (dt == ZF_DTYPE_F16 ? zf_cvt_f32_f16(src[bad]) : zf_cvt_f32_bf16(src[bad])) : 0);
    }
    dfree(&ds);
    dfree(&dd);
    free(src);
    free(got);
}

/* ---- elementwise ------------------------------------------------------------ */

typedef enum { EW_ADD, EW_MUL, EW_SILU, EW_SILU_VJP, EW_SWIGLU, EW_SWIGLU_VJP, EW_COUNT } ew_op;
static const char *const k_ew_names[EW_COUNT] = {"add", "mul", "silu", "silu_vjp", "swiglu", "swiglu_vjp"};
static const int k_ew_in[EW_COUNT] = {2, 2, 1, 2, 2, 3}, k_ew_out[EW_COUNT] = {1, 1, 1, 1, 1, 2};

static zf_status ew_call(ew_op op, zf_tensor *in, zf_tensor *out, zf_fidelity f, zf_stream *s) {
    zf_opts o = {f, s};
    switch (op) {
    case EW_ADD: return zf_add(&in[0], &in[1], &out[0], &o);
    case EW_MUL: return zf_mul(&in[0], &in[1], &out[0], &o);
    case EW_SILU: return zf_silu(&in[0], &out[0], &o);
    case EW_SILU_VJP: return zf_silu_vjp(&in[0], &in[1], &out[0], &o);
    case EW_SWIGLU: return zf_swiglu(&in[0], &in[1], &out[0], &o);
    default: return zf_swiglu_vjp(&in[0], &in[1], &in[2], &out[0], &out[1], &o);
    }
}

/* One case on a [rows, cols] view with row stride `ld` (>= cols) and the
 * data starting `off` elements into each buffer (unaligned when odd). */
static void ew_case(ew_op op, zf_dtype t, int64_t rows, int64_t cols, int64_t ld, int64_t off, zf_fidelity f) {
    size_t es = zf_dtype_size(t);
    int64_t span = (rows - 1) * ld + cols + off;
    int ni = k_ew_in[op], no = k_ew_out[op];
    void *hin[3], *hout[2], *hwant[2];
    dbuf din[3], dout[2];
    zf_tensor tin[3], tout[2], cin[3], cout[2];
    int64_t shape[2] = {rows, cols};
    for (int k = 0; k < ni; k++) {
        hin[k] = malloc((size_t)span * es);
        fill_mixed(t, hin[k], span, 6.0f);
        din[k] = dalloc((size_t)span * es);
        up(&din[k], hin[k]);
        zf_tensor v = zf_tensor_nd((char *)hin[k] + off * es, t, 2, shape);
        v.stride[0] = ld;
        cin[k] = v;
        tin[k] = on_cuda(v, (char *)din[k].p + off * es);
    }
    for (int k = 0; k < no; k++) {
        hout[k] = malloc((size_t)span * es);
        hwant[k] = malloc((size_t)span * es);
        memset(hwant[k], 0x7f, (size_t)span * es);
        dout[k] = dalloc((size_t)span * es);
        zf_tensor v = zf_tensor_nd((char *)hwant[k] + off * es, t, 2, shape);
        v.stride[0] = ld;
        cout[k] = v;
        tout[k] = on_cuda(v, (char *)dout[k].p + off * es);
    }
    char what[96];
    snprintf(what, sizeof what, "%s.%s [%lld x %lld ld %lld off %lld]", k_ew_names[op], zf_fidelity_name(f),
             (long long)rows, (long long)cols, (long long)ld, (long long)off);
    ZT_CHECK(ew_call(op, tin, tout, f, zt_cuda_stream) == ZF_OK, "%s: %s", what, zf_last_error());
    zf_fidelity cf = f == ZF_FIDELITY_FAST ? f : ZF_FIDELITY_STOCK;
    ZT_CHECK(ew_call(op, cin, cout, cf, NULL) == ZF_OK, "%s cpu: %s", what, zf_last_error());
    for (int k = 0; k < no; k++) {
        down(hout[k], &dout[k]);
        /* whole span: elements between rows must still hold the poison */
        compare(what, t, hout[k], hwant[k], span, 0.0, 0);
        ZT_CHECK(guards_ok(&dout[k]), "%s: write outside the output", what);
    }
    for (int k = 0; k < ni; k++) { free(hin[k]); dfree(&din[k]); }
    for (int k = 0; k < no; k++) { free(hout[k]); free(hwant[k]); dfree(&dout[k]); }
}

static void test_elementwise(void) {
    static const int64_t sizes[] = {1, 2, 7, 8, 9, 255, 4097, 65537, (1 << 20) + 3};
    for (int op = 0; op < EW_COUNT; op++)
        for (int dt = 0; dt < 3; dt++) {
            zf_fidelity fids[3] = {ZF_FIDELITY_STOCK, ZF_FIDELITY_EXACT, ZF_FIDELITY_FAST};
            int nf = op >= EW_SWIGLU ? 3 : 1;
            for (int fi = 0; fi < nf; fi++) {
                for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
                    if (!g_quick || sizes[si] <= 65537) ew_case((ew_op)op, (zf_dtype)dt, 1, sizes[si], sizes[si], 0, fids[fi]);
                ew_case((ew_op)op, (zf_dtype)dt, 33, 100, 128, 0, fids[fi]);   /* strided rows, vectors */
                ew_case((ew_op)op, (zf_dtype)dt, 5, 1001, 1003, 1, fids[fi]);  /* unaligned: single elements */
            }
        }
    if (!g_quick) { /* 2^26 and an odd tail past it, the fused op and a stock one */
        ew_case(EW_SWIGLU, ZF_DTYPE_BF16, 1, (1 << 26) + 5, (1 << 26) + 5, 0, ZF_FIDELITY_EXACT);
        ew_case(EW_ADD, ZF_DTYPE_F32, 1, 1 << 26, 1 << 26, 0, ZF_FIDELITY_STOCK);
        ew_case(EW_SWIGLU_VJP, ZF_DTYPE_F16, 4096, 14336, 14336, 0, ZF_FIDELITY_EXACT);
    }
}

/* ---- NaN bits of computed results ----------------------------------------- */

/* The kernels store results of arithmetic without dtype.h's NaN fix-up
 * (src/cuda/dtype.cuh, COMPUTED): valid only because a NaN from GPU
 * arithmetic is the canonical 0x7fffffff, whose dtype.h bits in f16 and
 * bf16 (0x7fff) are what the hardware conversion returns. Inputs carry NaNs
 * of random payloads and signs; every NaN the elementwise and norm kernels
 * write must hold exactly those canonical bits. */
static uint32_t canonical_nan_bits(zf_dtype t) {
    return t == ZF_DTYPE_F32 ? 0x7fffffffu : t == ZF_DTYPE_F16 ? zf_cvt_f32_f16(zf_bits_f32(0x7fffffffu))
                                                               : zf_cvt_f32_bf16(zf_bits_f32(0x7fffffffu));
}

static void fill_with_nans(zf_dtype t, void *p, int64_t n) {
    zt_fill(t, p, n, 4.0f);
    for (int64_t i = 0; i < n; i += 3) {
        uint32_t r = (uint32_t)zt_rand();
        if (t == ZF_DTYPE_F32) ((uint32_t *)p)[i] = (r & 0x803fffffu) | 0x7f800001u;
        else if (t == ZF_DTYPE_F16) ((uint16_t *)p)[i] = (uint16_t)((r & 0x81ffu) | 0x7c01u);
        else ((uint16_t *)p)[i] = (uint16_t)((r & 0x803fu) | 0x7f81u);
    }
}

static void check_nan_bits(const char *what, zf_dtype t, const dbuf *d, int64_t n) {
    size_t es = zf_dtype_size(t);
    void *h = malloc((size_t)n * es);
    down(h, d);
    uint32_t want = canonical_nan_bits(t);
    int64_t bad = -1, nans = 0;
    for (int64_t i = 0; i < n && bad < 0; i++) {
        if (!isnan(zt_get(t, h, i))) continue;
        nans++;
        uint32_t got = t == ZF_DTYPE_F32 ? ((uint32_t *)h)[i] : ((uint16_t *)h)[i];
        if (got != want) bad = i;
    }
    ZT_CHECK(nans > 0 && bad < 0, "%s %s: %lld NaNs, element %lld holds 0x%x, not the canonical 0x%x", what,
             zf_dtype_name(t), (long long)nans, (long long)bad,
             bad >= 0 ? (t == ZF_DTYPE_F32 ? ((uint32_t *)h)[bad] : ((uint16_t *)h)[bad]) : 0u, want);
    free(h);
}

static void test_nan_bits(void) {
    for (int dt = 0; dt < 3; dt++) {
        zf_dtype t = (zf_dtype)dt;
        size_t es = zf_dtype_size(t);
        for (int op = 0; op < EW_COUNT; op++)
            for (int fi = 0; fi < 3; fi++) {
                static const zf_fidelity fids[3] = {ZF_FIDELITY_STOCK, ZF_FIDELITY_EXACT, ZF_FIDELITY_FAST};
                if (fi > 0 && op < EW_SWIGLU) continue;
                static const int64_t sizes[] = {1001, 1 << 20}; /* decode-sized kernels, then the bulk one */
                for (int si = 0; si < 2; si++) {
                    int64_t n = sizes[si];
                    void *h = malloc((size_t)n * es);
                    dbuf din[3], dout[2];
                    zf_tensor tin[3], tout[2];
                    for (int k = 0; k < k_ew_in[op]; k++) {
                        fill_with_nans(t, h, n);
                        din[k] = dalloc((size_t)n * es);
                        up(&din[k], h);
                        tin[k] = on_cuda(zf_tensor_1d(h, t, n), din[k].p);
                    }
                    for (int k = 0; k < k_ew_out[op]; k++) {
                        dout[k] = dalloc((size_t)n * es);
                        tout[k] = on_cuda(zf_tensor_1d(h, t, n), dout[k].p);
                    }
                    char what[64];
                    snprintf(what, sizeof what, "%s.%s n=%lld", k_ew_names[op], zf_fidelity_name(fids[fi]), (long long)n);
                    ZT_CHECK(ew_call((ew_op)op, tin, tout, fids[fi], zt_cuda_stream) == ZF_OK, "%s: %s", what, zf_last_error());
                    for (int k = 0; k < k_ew_out[op]; k++) check_nan_bits(what, t, &dout[k], n);
                    for (int k = 0; k < k_ew_in[op]; k++) dfree(&din[k]);
                    for (int k = 0; k < k_ew_out[op]; k++) dfree(&dout[k]);
                    free(h);
                }
            }
        /* add_rms_norm: h = x + r and y (a NaN in x makes its whole row NaN) */
        static const int64_t shapes[][2] = {{1, 2048}, {1, 14336}, {3, 4099}, {64, 4096}};
        for (int si = 0; si < 4; si++)
            for (int fi = 1; fi < 3; fi++) {
                int64_t rows = shapes[si][0], n = shapes[si][1];
                size_t bytes = (size_t)(rows * n) * es;
                void *h = malloc(bytes);
                dbuf dx = dalloc(bytes), dr = dalloc(bytes), dw = dalloc((size_t)n * es), dy = dalloc(bytes),
                     dh = dalloc(bytes);
                fill_with_nans(t, h, rows * n);
                up(&dx, h);
                zt_fill(t, h, rows * n, 2.0f);
                up(&dr, h);
                zt_fill(t, h, n, 1.5f);
                ZT_OK(zf_memcpy(dw.p, ZF_DEVICE_CUDA, h, ZF_DEVICE_CPU, (size_t)n * es, zt_cuda_stream));
                zf_tensor x = on_cuda(zf_tensor_2d(h, t, rows, n), dx.p), r = on_cuda(zf_tensor_2d(h, t, rows, n), dr.p);
                zf_tensor w = on_cuda(zf_tensor_1d(h, t, n), dw.p), y = on_cuda(zf_tensor_2d(h, t, rows, n), dy.p);
                zf_tensor hh = on_cuda(zf_tensor_2d(h, t, rows, n), dh.p);
                zf_opts o = {fi == 1 ? ZF_FIDELITY_EXACT : ZF_FIDELITY_FAST, zt_cuda_stream};
                char what[64];
                snprintf(what, sizeof what, "add_rms_norm.%s [%lld x %lld]", zf_fidelity_name(o.fidelity),
                         (long long)rows, (long long)n);
                ZT_CHECK(zf_add_rms_norm(&x, &r, &w, 1e-5f, &y, &hh, &o) == ZF_OK, "%s: %s", what, zf_last_error());
                check_nan_bits(what, t, &dy, rows * n);
                check_nan_bits(what, t, &dh, rows * n);
                dfree(&dx); dfree(&dr); dfree(&dw); dfree(&dy); dfree(&dh);
                free(h);
            }
    }
}

/* ---- norms ----------------------------------------------------------------- */

typedef enum { N_RMS, N_ADD, N_RMS_VJP, N_ADD_VJP, N_COUNT } norm_op;
static const char *const k_norm_names[N_COUNT] = {"rms_norm", "add_rms_norm", "rms_norm_vjp", "add_rms_norm_vjp"};

/* Inputs: x (or h), r or d_y, d_h; w. Outputs: y / d_x, h, d_w. */
static void norm_case(norm_op op, zf_dtype t, int64_t rows, int64_t n, zf_fidelity f, int with_dh, zf_dtype dwt,
                      int in_place) {
    size_t es = zf_dtype_size(t), bytes = (size_t)(rows * n) * es;
    const float eps = 1e-5f;
    void *hx = malloc(bytes), *hr = malloc(bytes), *hdh = malloc(bytes), *hw = malloc((size_t)n * es);
    void *g0 = malloc(bytes), *g1 = malloc(bytes), *w0 = malloc(bytes), *w1 = malloc(bytes);
    void *gdw = malloc((size_t)n * 4), *wdw = malloc((size_t)n * 4);
    fill_mixed(t, hx, rows * n, 3.0f);
    fill_mixed(t, hr, rows * n, 3.0f);
    fill_mixed(t, hdh, rows * n, 1.0f);
    zt_fill(t, hw, n, 1.5f);
    dbuf dx = dalloc(bytes), dr = dalloc(bytes), ddh = dalloc(bytes), dw = dalloc((size_t)n * es);
    dbuf o0 = dalloc(bytes), o1 = dalloc(bytes), odw = dalloc((size_t)n * 4);
    up(&dx, hx); up(&dr, hr); up(&ddh, hdh); up(&dw, hw);
    memset(w0, 0x7f, bytes); memset(w1, 0x7f, bytes); memset(wdw, 0x7f, (size_t)n * 4);
    zf_tensor cx = zf_tensor_2d(hx, t, rows, n), cr = zf_tensor_2d(hr, t, rows, n), cdh = zf_tensor_2d(hdh, t, rows, n);
    zf_tensor cw = zf_tensor_1d(hw, t, n), c0 = zf_tensor_2d(w0, t, rows, n), c1 = zf_tensor_2d(w1, t, rows, n);
    zf_tensor cdw = zf_tensor_1d(wdw, dwt, n);
    zf_tensor gx = on_cuda(cx, dx.p), gr = on_cuda(cr, dr.p), gdh = on_cuda(cdh, ddh.p), gw = on_cuda(cw, dw.p);
    zf_tensor t0 = on_cuda(c0, o0.p), t1 = on_cuda(c1, o1.p), tdw = on_cuda(cdw, odw.p);
    /* in place: h overwrites x (forward), d_x overwrites d_y (VJPs) */
    if (in_place) t1 = op == N_ADD ? gx : t1;
    if (in_place && op >= N_RMS_VJP) t0 = gr;
    zf_opts o = {f, zt_cuda_stream}, cs = {f == ZF_FIDELITY_FAST ? f : ZF_FIDELITY_STOCK, NULL};
    zf_status sg = ZF_OK, sc = ZF_OK;
    int dw_on = dwt != ZF_DTYPE_COUNT;
    switch (op) {
    case N_RMS: sg = zf_rms_norm(&gx, &gw, eps, &t0, &o); sc = zf_rms_norm(&cx, &cw, eps, &c0, &cs); break;
    case N_ADD:
        sg = zf_add_rms_norm(&gx, &gr, &gw, eps, &t0, &t1, &o);
        sc = zf_add_rms_norm(&cx, &cr, &cw, eps, &c0, &c1, &cs);
        break;
    case N_RMS_VJP:
        sg = zf_rms_norm_vjp(&gx, &gw, eps, &gr, &t0, dw_on ? &tdw : NULL, &o);
        sc = zf_rms_norm_vjp(&cx, &cw, eps, &cr, &c0, dw_on ? &cdw : NULL, &cs);
        break;
    default:
        sg = zf_add_rms_norm_vjp(&gx, &gw, eps, &gr, with_dh ? &gdh : NULL, &t0, dw_on ? &tdw : NULL, &o);
        sc = zf_add_rms_norm_vjp(&cx, &cw, eps, &cr, with_dh ? &cdh : NULL, &c0, dw_on ? &cdw : NULL, &cs);
        break;
    }
    char what[128];
    snprintf(what, sizeof what, "%s.%s [%lld x %lld]%s%s%s", k_norm_names[op], zf_fidelity_name(f), (long long)rows,
             (long long)n, with_dh ? " d_h" : "", dw_on ? " d_w" : "", in_place ? " in-place" : "");
    ZT_CHECK(sg == ZF_OK, "%s: %s", what, sg ? zf_last_error() : "");
    ZT_CHECK(sc == ZF_OK, "%s cpu: %s", what, sc ? zf_last_error() : "");
    if (sg == ZF_OK && sc == ZF_OK) {
        int vjp = op >= N_RMS_VJP;
        zf_memcpy(g0, ZF_DEVICE_CPU, t0.data, ZF_DEVICE_CUDA, bytes, zt_cuda_stream);
        zf_stream_synchronize(zt_cuda_stream);
        compare(what, t, g0, w0, rows * n, 0.0, vjp);
        if (op == N_ADD) {
            zf_memcpy(g1, ZF_DEVICE_CPU, t1.data, ZF_DEVICE_CUDA, bytes, zt_cuda_stream);
            zf_stream_synchronize(zt_cuda_stream);
            compare(what, t, g1, w1, rows * n, 0.0, 0); /* h is T(x + r) in every variant */
        }
        if (vjp && dw_on) {
            down(gdw, &odw);
            compare(what, dwt, gdw, wdw, n, 0.0, 0); /* d_w: one canonical order in every variant */
        }
        ZT_CHECK(guards_ok(&o0) && guards_ok(&o1) && guards_ok(&odw), "%s: write outside an output", what);
    }
    void *hs[] = {hx, hr, hdh, hw, g0, g1, w0, w1, gdw, wdw};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++) free(hs[i]);
    dbuf *ds[] = {&dx, &dr, &ddh, &dw, &o0, &o1, &odw};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) dfree(ds[i]);
}

static void test_norms(void) {
    static const int64_t widths[] = {1, 7, 64, 255, 256, 257, 1000, 4096, 5123};
    static const int64_t row_counts[] = {1, 3, 33, 257};
    zf_fidelity fids[3] = {ZF_FIDELITY_STOCK, ZF_FIDELITY_EXACT, ZF_FIDELITY_FAST};
    for (int dt = 0; dt < 3; dt++) {
        zf_dtype t = (zf_dtype)dt;
        for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++)
            for (size_t ri = 0; ri < sizeof row_counts / sizeof *row_counts; ri++) {
                int64_t n = widths[wi], rows = row_counts[ri];
                if (rows * n > (g_quick ? 1 << 16 : 1 << 20)) continue;
                norm_case(N_RMS, t, rows, n, ZF_FIDELITY_STOCK, 0, ZF_DTYPE_COUNT, 0);
                norm_case(N_RMS_VJP, t, rows, n, ZF_FIDELITY_STOCK, 0, ri & 1 ? t : ZF_DTYPE_F32, 0);
                for (int fi = 0; fi < 3; fi++) {
                    norm_case(N_ADD, t, rows, n, fids[fi], 0, ZF_DTYPE_COUNT, (int)(wi & 1));
                    norm_case(N_ADD_VJP, t, rows, n, fids[fi], (int)(ri & 1), wi & 1 ? ZF_DTYPE_F32 : ZF_DTYPE_COUNT,
                              (int)((wi >> 1) & 1));
                }
            }
        norm_case(N_RMS_VJP, t, 70, 300, ZF_FIDELITY_STOCK, 0, ZF_DTYPE_COUNT, 1);
        /* few long rows take the cluster kernel: clusters of 4 (2048, 4104),
         * 8 (8200) and 16 CTAs (12296 and up), a partial last round of 256
         * lanes, 1 .. 4 vectors per thread (49160 f32), up to 16 rows */
        static const int64_t cl_widths[] = {2048, 4104, 8200, 12296, 32768, 49160};
        static const int64_t cl_rows[] = {1, 16};
        for (size_t wi = 0; wi < sizeof cl_widths / sizeof *cl_widths; wi++)
            for (size_t ri = 0; ri < sizeof cl_rows / sizeof *cl_rows; ri++) {
                int64_t n = cl_widths[wi], rows = cl_rows[ri];
                if (rows * n > (g_quick ? 1 << 16 : 1 << 20)) continue;
                norm_case(N_RMS, t, rows, n, ZF_FIDELITY_STOCK, 0, ZF_DTYPE_COUNT, 0);
                for (int fi = 0; fi < 3; fi++) norm_case(N_ADD, t, rows, n, fids[fi], 0, ZF_DTYPE_COUNT, (int)(ri & 1));
            }
    }
    norm_case(N_ADD, ZF_DTYPE_BF16, 1, 14336, ZF_FIDELITY_EXACT, 0, ZF_DTYPE_COUNT, 0);
    if (!g_quick) { /* the gate shapes and the most rows */
        norm_case(N_ADD, ZF_DTYPE_BF16, 16384, 4096, ZF_FIDELITY_EXACT, 0, ZF_DTYPE_COUNT, 0);
        norm_case(N_RMS, ZF_DTYPE_F16, 16384, 4096, ZF_FIDELITY_STOCK, 0, ZF_DTYPE_COUNT, 0);
        norm_case(N_ADD_VJP, ZF_DTYPE_BF16, 16384, 4096, ZF_FIDELITY_EXACT, 1, ZF_DTYPE_F32, 0);
        norm_case(N_ADD, ZF_DTYPE_F32, 1000, 14336, ZF_FIDELITY_EXACT, 0, ZF_DTYPE_COUNT, 0);
    }
}

/* ---- graphs and bad arguments ------------------------------------------------ */

static void test_graph(void) {
    const zf_cuda_plugin *pl = zf_cuda_plugin_loaded(NULL);
    const int64_t n = 4096;
    zf_dtype t = ZF_DTYPE_BF16;
    size_t bytes = (size_t)n * 2;
    void *hx = malloc(bytes), *hr = malloc(bytes), *a = malloc(bytes), *b = malloc(bytes);
    zt_fill(t, hx, n, 3.0f);
    zt_fill(t, hr, n, 3.0f);
    dbuf x = dalloc(bytes), r = dalloc(bytes), w = dalloc(bytes), y = dalloc(bytes), h = dalloc(bytes);
    up(&x, hx); up(&r, hr); up(&w, hx);
    zf_tensor tx = on_cuda(zf_tensor_2d(NULL, t, 1, n), x.p), tr = on_cuda(tx, r.p), ty = on_cuda(tx, y.p);
    zf_tensor th = on_cuda(tx, h.p), tw = on_cuda(zf_tensor_1d(NULL, t, n), w.p);
    zf_opts o = {ZF_FIDELITY_AUTO, zt_cuda_stream};
    for (int fid = ZF_FIDELITY_STOCK; fid <= ZF_FIDELITY_EXACT; fid++) {
        o.fidelity = (zf_fidelity)fid; /* stock compositions allocate stream-ordered scratch inside the graph */
        ZT_OK(zf_add_rms_norm(&tx, &tr, &tw, 1e-6f, &ty, &th, &o));
        ZT_OK(zf_swiglu(&ty, &th, &tr, &o));
        down(a, &r);
        up(&r, hr);
        void *g = NULL;
        ZT_OK(pl->timing->capture_begin(zt_cuda_stream));
        ZT_OK(zf_add_rms_norm(&tx, &tr, &tw, 1e-6f, &ty, &th, &o));
        ZT_OK(zf_swiglu(&ty, &th, &tr, &o));
        ZT_OK(pl->timing->capture_end(zt_cuda_stream, &g));
        if (g) {
            ZT_OK(pl->timing->graph_launch(g, zt_cuda_stream));
            down(b, &r);
            ZT_CHECK(zt_first_diff(t, a, b, n) < 0, "graph replay (%s) differs from direct calls",
                     zf_fidelity_name((zf_fidelity)fid));
            pl->timing->graph_destroy(g);
        }
        up(&r, hr);
    }
    free(hx); free(hr); free(a); free(b);
    dfree(&x); dfree(&r); dfree(&w); dfree(&y); dfree(&h);
}

static void test_bad_args(void) {
    const int64_t n = 64;
    dbuf x = dalloc(n * 4), y = dalloc(n * 4), w = dalloc(n * 4);
    float host[64];
    zf_tensor tx = on_cuda(zf_tensor_2d(NULL, ZF_DTYPE_F32, 1, n), x.p), ty = on_cuda(tx, y.p);
    zf_tensor tw = on_cuda(zf_tensor_1d(NULL, ZF_DTYPE_F32, n), w.p);
    zf_tensor hy = zf_tensor_2d(host, ZF_DTYPE_F32, 1, n), bad_w = on_cuda(zf_tensor_1d(NULL, ZF_DTYPE_F32, n - 1), w.p);
    zf_tensor h16 = on_cuda(zf_tensor_2d(NULL, ZF_DTYPE_F16, 1, n), y.p);
    zf_tensor partial = on_cuda(tx, (char *)x.p + 8);
    ZT_CHECK(zf_add(&tx, &tx, &hy, NULL) == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), "different devices"),
             "mixed devices: %s", zf_last_error());
    ZT_CHECK(zf_mul(&tx, &tx, &h16, NULL) == ZF_ERR_DTYPE && strstr(zf_last_error(), "[mul]"), "dtype: %s",
             zf_last_error());
    ZT_CHECK(zf_rms_norm(&tx, &bad_w, 1e-6f, &ty, NULL) == ZF_ERR_SHAPE && strstr(zf_last_error(), "w must"),
             "w shape: %s", zf_last_error());
    ZT_CHECK(zf_rms_norm(&tx, &tw, -1.0f, &ty, NULL) == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), "eps"),
             "eps: %s", zf_last_error());
    ZT_CHECK(zf_silu(&tx, &partial, NULL) == ZF_ERR_ALIAS, "partial overlap: %s", zf_last_error());
    ZT_CHECK(zf_rms_norm_vjp(&tx, &tw, 1e-6f, &tx, &ty, &h16, NULL) != ZF_OK && strstr(zf_last_error(), "d_w"),
             "d_w: %s", zf_last_error());
    zf_tensor big = on_cuda(zf_tensor_2d(NULL, ZF_DTYPE_F32, 1, 1 << 20), x.p), bigw = on_cuda(zf_tensor_1d(NULL, ZF_DTYPE_F32, 1 << 20), w.p);
    ZT_CHECK(zf_rms_norm(&big, &bigw, 1e-6f, &big, NULL) == ZF_ERR_UNSUPPORTED && strstr(zf_last_error(), "at most"),
             "long rows: %s", zf_last_error());
    /* nothing above wrote an output */
    zf_memcpy(host, ZF_DEVICE_CPU, y.p, ZF_DEVICE_CUDA, sizeof host, zt_cuda_stream);
    zf_stream_synchronize(zt_cuda_stream);
    unsigned char poison[4] = {0x7f, 0x7f, 0x7f, 0x7f};
    ZT_CHECK(memcmp(host, poison, 4) == 0 && memcmp(&host[n - 1], poison, 4) == 0, "an output was written");
    dfree(&x); dfree(&y); dfree(&w);
}

/* Every CUDA kernel passes its self-test on this device: a failing one is
 * only disabled at run time (the next one down runs instead), which the
 * comparisons with the CPU would not notice. */
static void test_selftests(void) {
    int n = 0;
    for (int i = 0; i < zf_registry_count(); i++) {
        const zf_variant *v = zf_registry_at(i);
        if (v->backend != ZF_DEVICE_CUDA || !v->selftest) continue;
        char msg[256] = "";
        ZT_CHECK(v->selftest(v, msg, sizeof msg) == 0, "%s fails its self-test on this device: %s", v->name, msg);
        n++;
    }
    ZT_CHECK(n > 0, "no CUDA kernel registered");
}

int main(void) {
    const int skip = zt_cuda_start("test_cuda", &g_quick);
    if (skip) return skip;
    ZT_OK(zf_stream_create(&zt_cuda_stream));
    test_selftests();
    test_cast();
    test_elementwise();
    test_norms();
    test_nan_bits();
    test_graph();
    test_bad_args();
    zf_stream_destroy(zt_cuda_stream);
    return zt_finish();
}
