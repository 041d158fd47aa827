/* CUDA qmm / gather_qmm / router / fused MoE against the CPU: every variant
 * (stock, exact, fast) bit-identical to the CPU path of the same fidelity
 * (any NaN equals any NaN) on fresh random inputs, for every bits x group
 * size, f32/f16/bf16 activations and scales, odd n and k, 1..64 tokens
 * (the per-pair and the grouped-by-expert paths), 200 tokens, routings
 * where one expert takes every pair or most experts get none, the grouped
 * path's fallback for a k too large to stage, duplicate expert ids, x
 * rows off 16-byte (and 4-byte) alignment;
 * fast checked bit for bit against the CPU fast variant, whose float64
 * bound tests/test_moe.c holds; approx (the edge tier's int8 kernels)
 * against the CPU's int8 variants by core/approx_close.h's rule where they
 * run, else bit for bit against CPU fast. Also: ids out of range give NaN
 * outputs and
 * no stray write, a CUDA graph replays the MoE block bit for bit,
 * moe_experts equals its two calls over blocks queued back to back, and bad
 * arguments fail with a message before any output is written. Exits 77
 * when no CUDA device is usable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/approx_close.h"
#include "core/cuda_loader.h"
#include "core/dtype.h"
#include "dbuf.h"
#include "harness.h"

static int g_quick;
/* x starts this many elements into its buffer (1: rows not 16-byte or, for
 * 16-bit x, 4-byte aligned, which the decode kernels load directly instead
 * of copying) */
static int g_xoff;
static zf_tensor dev(zf_tensor t, void *p) {
    t.data = p;
    t.device = ZF_DEVICE_CUDA;
    return t;
}


/* A random quantized weight, host and device copies. */
typedef struct qw {
    zf_qweight h, d;
    dbuf dp, ds, db;
    void *hp, *hs, *hb;
} qw;

static qw qw_make(int bits, int gs, zf_dtype sdt, int64_t E, int64_t n, int64_t k) {
    qw w;
    int64_t words = E * n * k * bits / 32, groups = E * n * (k / gs);
    size_t ss = zf_dtype_size(sdt);
    w.hp = malloc((size_t)words * 4);
    w.hs = malloc((size_t)groups * ss);
    w.hb = malloc((size_t)groups * ss);
    for (int64_t i = 0; i < words; i++) ((uint32_t *)w.hp)[i] = (uint32_t)zt_rand();
    zt_fill(sdt, w.hs, groups, 0.05f);
    zt_fill(sdt, w.hb, groups, 0.5f);
    w.h = (zf_qweight){w.hp, w.hs, w.hb, sdt, bits, gs, E, n, k, ZF_DEVICE_CPU};
    w.dp = dbuf_of(w.hp, (size_t)words * 4);
    w.ds = dbuf_of(w.hs, (size_t)groups * ss);
    w.db = dbuf_of(w.hb, (size_t)groups * ss);
    w.d = (zf_qweight){w.dp.p, w.ds.p, w.db.p, sdt, bits, gs, E, n, k, ZF_DEVICE_CUDA};
    return w;
}
static void qw_free(qw *w) {
    free(w->hp), free(w->hs), free(w->hb);
    dfree(&w->dp), dfree(&w->ds), dfree(&w->db);
}

typedef enum { OP_GATHER, OP_SWIGLU, OP_COMBINE, OP_QMM } qop;
/* How ids are drawn: uniform over the experts; every pair to expert E / 2;
 * only experts 1 and E - 2 (the others get no pair). */
typedef enum { ROUTE_RANDOM, ROUTE_ONE, ROUTE_TWO } qroute;
static const char *const route_names[] = {"random", "one expert", "two experts"};
static const char *const k_names[] = {"gather_qmm", "gather_qmm_swiglu", "gather_qmm_combine", "qmm"};

/* wu's format where it differs from wg's (gather_qmm_swiglu only) */
typedef struct qfmt { int bits, gs; zf_dtype sdt; } qfmt;

/* Where CUDA's approx variants run their int8 kernels (4-bit, one layout):
 * qmm up to 2 x rows, also 8-bit (any x alignment); many pairs (grouped), the tensor-core kernel of src/cuda/qexpert_i8.cu
 * for k a multiple of 256 (scale rows 4-byte aligned: every test's); few
 * pairs, the decode kernels of src/cuda/qdecode_i8.cu (combine <= 8 slots
 * and >= 4 tokens, ZF_CU_QI8_COMBINE_MIN_M; scale rows of whole 4-byte
 * words; x rows 4-byte aligned; staged operands <= 100 KiB);
 * elsewhere they run the fast path. */
static int i8_kernel_runs(qop op, int bits, int gs, zf_dtype t, zf_dtype sdt, const qfmt *ufmt, int64_t E, int64_t k,
                          int64_t m, int64_t slots) {
    int64_t pairs = m * slots, nb = k / 32, G = k / gs;
    int64_t sb = G * (int64_t)zf_dtype_size(sdt), pitch = (sb + 15) / 16 * 16;
    if (op == OP_QMM) /* up to 2 x rows: 16 weight rows of codes, scale and bias rows, and x as staged */
        return (bits == 4 || bits == 8) && m <= 2 && sb % 4 == 0 &&
               16 * (nb * 4 * bits + 2 * pitch) + nb * 40 <= 100 * 1024;
    int grouped = pairs >= E && pairs >= 8;
    if (grouped) {
        /* 64 weight rows per CTA over its matrices (32 of gate and of up, or 64), stages of 8 blocks with
         * their scales and biases: every such shape fits */
        return bits == 4 && !ufmt && (op == OP_SWIGLU || op == OP_COMBINE) && k % 256 == 0 &&
               (gs == 32 || gs == 64 || gs == 128);
    }
    /* shared memory of a CTA (qdecode_i8.cu): 16 rows of gate and up, or 16
     * rows x 8 slots, of codes and of scale and bias rows (copied whole: their
     * bytes a multiple of 4, each row padded to 16), then its x rows as
     * copied and as staged */
    int64_t xrow = k * (int64_t)zf_dtype_size(t) + nb * 40;
    int64_t smem = op == OP_SWIGLU ? 32 * (nb * 16 + 2 * pitch) + xrow : 128 * (nb * 16 + 2 * pitch) + slots * xrow;
    return bits == 4 && !ufmt && !grouped && (op == OP_SWIGLU || (op == OP_COMBINE && slots <= 8 && m >= 4)) &&
           sb % 4 == 0 && (g_xoff * zf_dtype_size(t)) % 4 == 0 && smem <= 100 * 1024;
}

/* One case: CUDA (fidelity f) vs the CPU (stock, or fast for fast; with
 * mixed weight formats CUDA runs the stock composition at every fidelity;
 * approx: the CPU's int8 variant where the int8 kernel runs, else fast). */
static void qcase_fmt(qop op, int bits, int gs, zf_dtype t, zf_dtype sdt, const qfmt *ufmt, int64_t E, int64_t n,
                      int64_t k, int64_t m, int64_t slots, zf_fidelity f, qroute route) {
    if (op == OP_QMM) E = 1, slots = 1;
    qw wg = qw_make(bits, gs, sdt, E, n, k);
    qw wu = ufmt ? qw_make(ufmt->bits, ufmt->gs, ufmt->sdt, E, n, k) : qw_make(bits, gs, sdt, E, n, k);
    size_t es = zf_dtype_size(t);
    int64_t xrows = op == OP_COMBINE ? m * slots : m, orows = op == OP_COMBINE || op == OP_QMM ? m : m * slots;
    void *hx = malloc((size_t)(xrows * k) * es), *hw = malloc((size_t)(m * slots) * es);
    int32_t *hid = malloc((size_t)(m * slots) * 4);
    void *want = malloc((size_t)(orows * n) * es), *got = malloc((size_t)(orows * n) * es);
    zt_fill(t, hx, xrows * k, 2.0f);
    zt_fill(t, hw, m * slots, 1.0f);
    for (int64_t i = 0; i < m * slots; i++)
        hid[i] = route == ROUTE_ONE ? (int32_t)(E / 2)
                 : route == ROUTE_TWO ? (zt_rand() % 2 ? 1 : (int32_t)E - 2)
                                      : (int32_t)(zt_rand() % (uint64_t)E);
    if (slots > 1) hid[slots - 1] = hid[0]; /* a duplicate in token 0 */
    memset(want, 0x7f, (size_t)(orows * n) * es);
    dbuf dx = dalloc((size_t)(xrows * k + g_xoff) * es), dw = dbuf_of(hw, (size_t)(m * slots) * es);
    char *xdev = (char *)dx.p + (size_t)g_xoff * es;
    ZT_OK(zf_memcpy(xdev, ZF_DEVICE_CUDA, hx, ZF_DEVICE_CPU, (size_t)(xrows * k) * es, zt_cuda_stream));
    dbuf did = dbuf_of(hid, (size_t)(m * slots) * 4), dout = dalloc((size_t)(orows * n) * es);
    int64_t s3[3] = {m, slots, k}, o3[3] = {m, slots, n}, i2[2] = {m, slots}, x2[2] = {m, k}, y2[2] = {m, n};
    zf_tensor cx = op == OP_COMBINE ? zf_tensor_nd(hx, t, 3, s3) : zf_tensor_nd(hx, t, 2, x2);
    zf_tensor cid = zf_tensor_nd(hid, ZF_DTYPE_I32, 2, i2), cw = zf_tensor_nd(hw, t, 2, i2);
    zf_tensor co = op == OP_COMBINE || op == OP_QMM ? zf_tensor_nd(want, t, 2, y2) : zf_tensor_nd(want, t, 3, o3);
    zf_tensor gx = dev(cx, xdev), gid = dev(cid, did.p), gw = dev(cw, dw.p), go = dev(co, dout.p);
    const int i8 = f == ZF_FIDELITY_APPROX && i8_kernel_runs(op, bits, gs, t, sdt, ufmt, E, k, m, slots);
    const zf_fidelity cf = i8 ? ZF_FIDELITY_APPROX
                           : (f == ZF_FIDELITY_FAST || f == ZF_FIDELITY_APPROX) && !ufmt ? ZF_FIDELITY_FAST
                                                                                         : ZF_FIDELITY_STOCK;
    zf_opts o = {f, zt_cuda_stream}, c = {cf, NULL};
    zf_status sg, sc;
    switch (op) {
    case OP_GATHER: sg = zf_gather_qmm(&gx, &wg.d, &gid, &go, &o); sc = zf_gather_qmm(&cx, &wg.h, &cid, &co, &c); break;
    case OP_QMM: sg = zf_qmm(&gx, &wg.d, &go, &o); sc = zf_qmm(&cx, &wg.h, &co, &c); break;
    case OP_SWIGLU:
        sg = zf_gather_qmm_swiglu(&gx, &wg.d, &wu.d, &gid, &go, &o);
        sc = zf_gather_qmm_swiglu(&cx, &wg.h, &wu.h, &cid, &co, &c);
        break;
    default:
        sg = zf_gather_qmm_combine(&gx, &wg.d, &gid, &gw, &go, &o);
        sc = zf_gather_qmm_combine(&cx, &wg.h, &cid, &cw, &co, &c);
        break;
    }
    char what[200];
    snprintf(what, sizeof what, "%s.%s bits %d gs %d %s scales %s%s E %lld n %lld k %lld m %lld slots %lld (%s)%s",
             k_names[op], zf_fidelity_name(f), bits, gs, zf_dtype_name(t), zf_dtype_name(sdt),
             ufmt ? " (wu in another format)" : "", (long long)E, (long long)n, (long long)k, (long long)m,
             (long long)slots, route_names[route], g_xoff ? " x unaligned" : "");
    ZT_CHECK(sg == ZF_OK, "%s: %s", what, sg ? zf_last_error() : "");
    ZT_CHECK(sc == ZF_OK, "%s cpu: %s", what, sc ? zf_last_error() : "");
    if (sg == ZF_OK && sc == ZF_OK) {
        down(got, &dout);
        int64_t d = i8 ? zf_approx_first_far(t, got, want, orows * n) : first_diff_nan(t, got, want, orows * n);
        ZT_CHECK(d < 0, "%s: out[%lld] cuda %.9g cpu %.9g", what, (long long)d, d >= 0 ? zt_get(t, got, d) : 0.0,
                 d >= 0 ? zt_get(t, want, d) : 0.0);
        ZT_CHECK(guards_ok(&dout), "%s: write outside the output", what);
    }
    free(hx), free(hw), free(hid), free(want), free(got);
    dfree(&dx), dfree(&dw), dfree(&did), dfree(&dout);
    qw_free(&wg), qw_free(&wu);
}

static void qcase_routed(qop op, int bits, int gs, zf_dtype t, zf_dtype sdt, int64_t E, int64_t n, int64_t k,
                         int64_t m, int64_t slots, zf_fidelity f, qroute route) {
    qcase_fmt(op, bits, gs, t, sdt, NULL, E, n, k, m, slots, f, route);
}

static void qcase(qop op, int bits, int gs, zf_dtype t, zf_dtype sdt, int64_t E, int64_t n, int64_t k, int64_t m,
                  int64_t slots, zf_fidelity f) {
    qcase_routed(op, bits, gs, t, sdt, E, n, k, m, slots, f, ROUTE_RANDOM);
}

/* gate and up in different bits, group sizes or scale dtypes (legal, as on
 * the CPU): few and many tokens, every fidelity */
static void test_mixed_formats(void) {
    static const qfmt u[3] = {{8, 32, ZF_DTYPE_F32}, {4, 128, ZF_DTYPE_BF16}, {4, 64, ZF_DTYPE_F16}};
    const zf_fidelity fids[3] = {ZF_FIDELITY_STOCK, ZF_FIDELITY_EXACT, ZF_FIDELITY_FAST};
    for (int i = 0; i < 3; i++)
        for (int f = 0; f < 3; f++) {
            qcase_fmt(OP_SWIGLU, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, &u[i], 16, 75, 384, 1, 4, fids[f], ROUTE_RANDOM);
            qcase_fmt(OP_SWIGLU, 4, 64, ZF_DTYPE_F16, ZF_DTYPE_BF16, &u[i], 8, 33, 256, 64, 3, fids[f], ROUTE_RANDOM);
        }
}

/* The grouped path at many tokens per expert: chunks of tokens with a tail
 * (4 for gate+up, 8 for one matrix), 3 row tiles of 32 with a tail of 11,
 * every routing; then k too large to stage x, which takes the batch kernel. */
static void test_grouped(void) {
    static const int odd_bits[3] = {3, 5, 6};
    const zf_fidelity fids[3] = {ZF_FIDELITY_STOCK, ZF_FIDELITY_EXACT, ZF_FIDELITY_FAST};
    for (int r = 0; r < 3; r++)
        for (int big = 0; big < 2; big++) {
            if (g_quick && big) continue;
            const int64_t m = big ? 200 : 64;
            const qroute route = (qroute)r;
            qcase_routed(OP_GATHER, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 16, 75, 320, m, 8, ZF_FIDELITY_STOCK, route);
            for (int f = 0; f < 3; f++) {
                qcase_routed(OP_SWIGLU, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 16, 75, 320, m, 8, fids[f], route);
                qcase_routed(OP_COMBINE, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 16, 75, 320, m, 8, fids[f], route);
            }
            qcase_routed(OP_SWIGLU, odd_bits[r], 32, ZF_DTYPE_F16, ZF_DTYPE_F32, 16, 41, 224, m, 3, ZF_FIDELITY_EXACT,
                         route);
            qcase_routed(OP_GATHER, 8, 128, ZF_DTYPE_F32, ZF_DTYPE_F16, 16, 41, 384, m, 3, ZF_FIDELITY_STOCK, route);
        }
    qcase(OP_GATHER, 4, 128, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 4, 33, 2560, 8, 2, ZF_FIDELITY_STOCK);
    qcase(OP_SWIGLU, 4, 128, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 4, 33, 5120, 8, 2, ZF_FIDELITY_EXACT);
}

static void test_gathered(void) {
    static const int bits_list[] = {2, 3, 4, 5, 6, 8};
    static const int gs_list[] = {32, 64, 128};
    static const int64_t tokens[] = {1, 2, 5, 17, 64};
    const zf_fidelity fids[3] = {ZF_FIDELITY_STOCK, ZF_FIDELITY_EXACT, ZF_FIDELITY_FAST};
    int c = 0;
    for (int b = 0; b < 6; b++)
        for (int g = 0; g < 3; g++, c++) {
            int bits = bits_list[b], gs = gs_list[g];
            zf_dtype t = (zf_dtype)(c % 3), sdt = (zf_dtype)((c / 3 + c) % 3);
            int64_t k = gs * (g == 0 ? 9 : 3), n = 37 + 2 * c; /* odd n; k = 288, 192, 384: tails of 8 blocks */
            for (size_t ti = 0; ti < sizeof tokens / sizeof *tokens; ti++) {
                int64_t m = tokens[ti];
                if (g_quick && m > 5) continue;
                qcase(OP_GATHER, bits, gs, t, sdt, 6, n, k, m, 3, ZF_FIDELITY_STOCK);
                for (int f = 0; f < 3; f++) {
                    qcase(OP_SWIGLU, bits, gs, t, sdt, 6, n, k, m, 3, fids[f]);
                    qcase(OP_COMBINE, bits, gs, t, sdt, 6, n, k, m, 3, fids[f]);
                }
            }
            qcase(OP_QMM, bits, gs, t, sdt, 1, n, k, 1 + c % 7, 1, ZF_FIDELITY_STOCK);
        }
    /* more slots than a combine CTA's 8 lanes; the Qwen3 shapes with 8 of 128 experts */
    qcase(OP_COMBINE, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_F16, 9, 45, 320, 3, 11, ZF_FIDELITY_EXACT);
    if (!g_quick) {
        qcase(OP_SWIGLU, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 128, 768, 2048, 1, 8, ZF_FIDELITY_EXACT);
        qcase(OP_COMBINE, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 128, 2048, 768, 1, 8, ZF_FIDELITY_EXACT);
        qcase(OP_SWIGLU, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 128, 768, 2048, 64, 8, ZF_FIDELITY_EXACT);
        qcase(OP_COMBINE, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 128, 2048, 768, 64, 8, ZF_FIDELITY_EXACT);
    }
}

/* The approx variants: the int8 kernels (4-bit, few pairs) on the Qwen3
 * shapes, odd n and k, every dtype, 1-5 tokens, 3 to 8 slots, scale rows
 * copied in chunks of 16, 8 and 4 bytes, against the CPU's int8 variant;
 * and their fast-path fallbacks bit for bit (8-bit, many pairs, more than 8
 * slots, mixed formats, 16-bit scale rows of an odd number of groups). */
static void test_approx(void) {
    const zf_fidelity A = ZF_FIDELITY_APPROX;
    for (int64_t m = 1; m <= 5; m++) { /* combine: the fast path below 4 tokens, int8 from 4 */
        qcase(OP_SWIGLU, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 128, 768, 2048, m, 8, A);
        qcase(OP_COMBINE, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 128, 2048, 768, m, 8, A);
        qcase(OP_SWIGLU, 4, 32, (zf_dtype)(m % 3), (zf_dtype)((m + 1) % 3), 40, 37, 32 * 13, m, 3, A);
        qcase(OP_COMBINE, 4, 32, (zf_dtype)(m % 3), (zf_dtype)((m + 2) % 3), 40, 45, 32 * 11, m, 3, A);
        qcase(OP_SWIGLU, 4, 128, (zf_dtype)((m + 1) % 3), ZF_DTYPE_F32, 40, 21, 128 * 3, m, 5, A);
        qcase(OP_COMBINE, 4, 128, (zf_dtype)((m + 2) % 3), ZF_DTYPE_F16, 60, 19, 128 * 5, m, 7, A);
    }
    /* n = 1000: 63 swiglu CTAs per pair, the last one partial */
    qcase(OP_SWIGLU, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_F16, 40, 1000, 256, 2, 4, A);
    qcase(OP_SWIGLU, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 16, 75, 320, 8, 8, A); /* grouped, k % 256: fast */
    qcase(OP_COMBINE, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 16, 75, 320, 8, 8, A);
    qcase(OP_SWIGLU, 8, 64, ZF_DTYPE_F16, ZF_DTYPE_BF16, 40, 33, 384, 1, 3, A); /* 8-bit: fast */
    qcase(OP_COMBINE, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_F16, 40, 45, 320, 1, 11, A); /* 11 slots: fast */
    static const qfmt u = {8, 32, ZF_DTYPE_F32};
    qcase_fmt(OP_SWIGLU, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, &u, 16, 75, 384, 1, 4, A, ROUTE_RANDOM);
    /* qmm: the Qwen3-30B-A3B attention shapes (q|k|v, o) and router (8-bit), and odd ones at 1 and 2
     * x rows (the int8 kernel: 16-row CTAs, the last one partial; each lane's blocks in two halves,
     * some lanes idle at small k), then its stock fallbacks bit for bit: 3 rows, 6-bit, 16-bit scale
     * rows of an odd number of groups */
    for (int64_t m = 1; m <= 3; m++) {
        qcase(OP_QMM, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 1, 5120, 2048, m, 1, A);
        qcase(OP_QMM, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 1, 2048, 4096, m, 1, A);
        qcase(OP_QMM, 8, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 1, 128, 2048, m, 1, A);
        qcase(OP_QMM, 4, 32, (zf_dtype)(m % 3), (zf_dtype)((m + 1) % 3), 1, 37, 32 * 13, m, 1, A);
        qcase(OP_QMM, 8, 32, (zf_dtype)((m + 2) % 3), (zf_dtype)(m % 3), 1, 53, 32 * 22, m, 1, A);
        qcase(OP_QMM, 4, 128, (zf_dtype)((m + 1) % 3), ZF_DTYPE_F32, 1, 1000, 128 * 5, m, 1, A);
        qcase(OP_QMM, 8, 128, (zf_dtype)((m + 1) % 3), ZF_DTYPE_BF16, 1, 333, 128 * 9, m, 1, A);
        qcase(OP_QMM, 4, 32, (zf_dtype)((m + 2) % 3), ZF_DTYPE_F16, 1, 17, 576, m, 1, A);
    }
    qcase(OP_QMM, 6, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 1, 45, 320, 1, 1, A);
    qcase(OP_QMM, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_F16, 1, 45, 64 * 3, 1, 1, A);
}

/* The approx variants at many tokens: the tensor-core kernel on the Qwen3
 * shapes at 16 and 64 tokens, and on odd n (a partial tile of rows), 1, 2,
 * 4, 5 and 16 pipeline stages of k, every group size and dtype; routed
 * uniformly, all to one expert (full chunks of 8 pairs and a partial
 * one) and to two experts; against the CPU's int8 variant. */
static void test_approx_grouped(void) {
    const zf_fidelity A = ZF_FIDELITY_APPROX;
    const zf_dtype B16 = ZF_DTYPE_BF16, F16 = ZF_DTYPE_F16, F32 = ZF_DTYPE_F32;
    for (int r = 0; r < 3; r++) {
        const qroute route = (qroute)r;
        if (!g_quick) {
            qcase_routed(OP_SWIGLU, 4, 64, B16, B16, 128, 768, 2048, 64, 8, A, route);
            qcase_routed(OP_COMBINE, 4, 64, B16, B16, 128, 2048, 768, 64, 8, A, route);
        }
        qcase_routed(OP_SWIGLU, 4, 32, F16, F32, 16, 75, 256, 37, 4, A, route);
        qcase_routed(OP_COMBINE, 4, 128, F32, F16, 16, 75, 512, 37, 4, A, route);
        qcase_routed(OP_SWIGLU, 4, 128, B16, F16, 24, 130, 1280, 20, 6, A, route);
        qcase_routed(OP_COMBINE, 4, 32, B16, B16, 24, 67, 1024, 20, 6, A, route);
    }
    qcase(OP_SWIGLU, 4, 64, B16, B16, 128, 768, 2048, 16, 8, A);
    qcase(OP_COMBINE, 4, 64, B16, B16, 128, 2048, 768, 16, 8, A);
    /* 16 stages of f32 scales in group 32 (32 bytes per row and stage: the kernel keeps three stage buffers) */
    qcase(OP_SWIGLU, 4, 32, B16, F32, 16, 40, 4096, 8, 4, A);
    qcase(OP_COMBINE, 4, 32, F16, F32, 16, 40, 4096, 8, 4, A);
}

/* The decode kernels over several k tiles with a partial last one (a tile
 * is 64 blocks per thread's matrix for the pair kernel, 32 for 4-bit
 * combine, 16 for 6-bit), every scale dtype, one and two matrices per
 * thread, and qmm's decode rows. Few pairs per expert: the decode path. */
static void test_decode_tiles(void) {
    qcase(OP_SWIGLU, 4, 128, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 8, 37, 4224, 1, 2, ZF_FIDELITY_EXACT);
    qcase(OP_SWIGLU, 3, 32, ZF_DTYPE_F16, ZF_DTYPE_F32, 8, 21, 4192, 1, 2, ZF_FIDELITY_FAST);
    qcase(OP_SWIGLU, 8, 64, ZF_DTYPE_F32, ZF_DTYPE_F16, 8, 19, 2112, 2, 3, ZF_FIDELITY_STOCK);
    qcase(OP_GATHER, 8, 64, ZF_DTYPE_F32, ZF_DTYPE_F16, 8, 19, 2112, 1, 3, ZF_FIDELITY_STOCK);
    qcase(OP_COMBINE, 4, 32, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 8, 45, 2080, 1, 2, ZF_FIDELITY_EXACT);
    qcase(OP_COMBINE, 6, 64, ZF_DTYPE_F16, ZF_DTYPE_F32, 8, 29, 1088, 2, 3, ZF_FIDELITY_STOCK);
    qcase(OP_COMBINE, 2, 128, ZF_DTYPE_F32, ZF_DTYPE_BF16, 8, 17, 1152, 1, 5, ZF_FIDELITY_FAST);
    qcase(OP_QMM, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 1, 33, 4160, 2, 1, ZF_FIDELITY_STOCK);
}

/* x one element into its buffer: the decode kernels' direct x loads (and
 * the fast path where the int8 kernels need aligned rows) */
static void test_unaligned_x(void) {
    const zf_fidelity fids[3] = {ZF_FIDELITY_EXACT, ZF_FIDELITY_FAST, ZF_FIDELITY_APPROX};
    g_xoff = 1;
    for (int f = 0; f < 3; f++)
        for (int64_t m = 1; m <= 4; m += 3) {
            qcase(OP_SWIGLU, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 16, 75, 320, m, 8, fids[f]);
            qcase(OP_COMBINE, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 16, 75, 320, m, 8, fids[f]);
            qcase(OP_COMBINE, 3, 32, ZF_DTYPE_F32, ZF_DTYPE_F16, 9, 21, 32 * 7, m, 3, fids[f]);
            qcase(OP_QMM, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 1, 75, 320, m, 1, fids[f]);
            qcase(OP_QMM, 8, 32, ZF_DTYPE_F16, ZF_DTYPE_F32, 1, 75, 320, m, 1, fids[f]);
        }
    g_xoff = 0;
}

static void route_case(zf_dtype t, zf_dtype wt, int64_t m, int64_t E, int k, int norm) {
    size_t es = zf_dtype_size(t), ws = zf_dtype_size(wt);
    void *hl = malloc((size_t)(m * E) * es), *hw = malloc((size_t)(m * k) * ws), *gw = malloc((size_t)(m * k) * ws);
    int32_t *hi = malloc((size_t)(m * k) * 4), *gi = malloc((size_t)(m * k) * 4);
    zt_fill(t, hl, m * E, 4.0f);
    for (int64_t i = 0; i < m; i++) /* ties and an exact duplicate of the max */
        zt_set(t, hl, i * E + (E - 1), zt_get(t, hl, i * E));
    dbuf dl = dbuf_of(hl, (size_t)(m * E) * es), di = dalloc((size_t)(m * k) * 4), dw = dalloc((size_t)(m * k) * ws);
    zf_tensor cl = zf_tensor_2d(hl, t, m, E), ci = zf_tensor_2d(hi, ZF_DTYPE_I32, m, k), cw = zf_tensor_2d(hw, wt, m, k);
    zf_tensor gl = dev(cl, dl.p), gi_t = dev(ci, di.p), gw_t = dev(cw, dw.p);
    zf_opts o = {ZF_FIDELITY_AUTO, zt_cuda_stream};
    ZT_OK(zf_moe_route(&gl, k, norm, &gi_t, &gw_t, &o));
    ZT_OK(zf_moe_route(&cl, k, norm, &ci, &cw, NULL));
    down(gi, &di);
    down(gw, &dw);
    ZT_CHECK(memcmp(gi, hi, (size_t)(m * k) * 4) == 0, "moe_route %s m %lld E %lld k %d: ids differ", zf_dtype_name(t),
             (long long)m, (long long)E, k);
    int64_t d = first_diff_nan(wt, gw, hw, m * k);
    ZT_CHECK(d < 0, "moe_route %s -> %s m %lld E %lld k %d norm %d: weights[%lld] cuda %.9g cpu %.9g",
             zf_dtype_name(t), zf_dtype_name(wt), (long long)m, (long long)E, k, norm, (long long)d,
             d >= 0 ? zt_get(wt, gw, d) : 0.0, d >= 0 ? zt_get(wt, hw, d) : 0.0);
    ZT_CHECK(guards_ok(&di) && guards_ok(&dw), "moe_route: write outside an output");
    free(hl), free(hw), free(gw), free(hi), free(gi);
    dfree(&dl), dfree(&di), dfree(&dw);
}

static void test_route(void) {
    static const int64_t experts[] = {8, 33, 128, 200, 256, 300, 1000}; /* warp kernel to 256, then the CTA one */
    for (int dt = 0; dt < 3; dt++)
        for (size_t ei = 0; ei < sizeof experts / sizeof *experts; ei++)
            for (int norm = 0; norm < 2; norm++) {
                int64_t E = experts[ei];
                route_case((zf_dtype)dt, norm ? ZF_DTYPE_F32 : (zf_dtype)dt, 1 + (int64_t)(ei * 21), E, 1, norm);
                route_case((zf_dtype)dt, norm ? (zf_dtype)dt : ZF_DTYPE_F32, g_quick ? 5 : 64, E, E < 8 ? (int)E : 8,
                           norm);
                /* larger k: ranks that reach past the first 32 keys */
                route_case((zf_dtype)dt, (zf_dtype)dt, 3, E, E < 32 ? (int)E : 32, norm);
                route_case((zf_dtype)dt, ZF_DTYPE_F32, 2, E, E < 40 ? (int)E : 40, norm);
            }
}

/* ids out of range: NaN rows for those pairs, the rest written, nothing
 * else written (exact, and approx: its int8 kernels, per pair and grouped) */
static void test_bad_ids(void) {
    const int64_t E = 4, n = 33, m = 2, slots = 3;
    for (int run = 0; run < 4; run++) {
        const int grouped = run % 2;
        const int64_t k = run == 3 ? 256 : 128; /* approx, grouped: the tensor-core kernel */
        const zf_fidelity fid = run < 2 ? ZF_FIDELITY_EXACT : ZF_FIDELITY_APPROX;
        int64_t mm = grouped ? 8 : m;
        qw wg = qw_make(4, 64, ZF_DTYPE_BF16, E, n, k), wu = qw_make(4, 64, ZF_DTYPE_BF16, E, n, k);
        void *hx = malloc((size_t)(mm * k) * 2), *got = malloc((size_t)(mm * slots * n) * 2);
        int32_t *hid = malloc((size_t)(mm * slots) * 4);
        zt_fill(ZF_DTYPE_BF16, hx, mm * k, 2.0f);
        for (int64_t i = 0; i < mm * slots; i++) hid[i] = (int32_t)(zt_rand() % 4);
        hid[1] = -3, hid[mm * slots - 1] = 1 << 30;
        dbuf dx = dbuf_of(hx, (size_t)(mm * k) * 2), did = dbuf_of(hid, (size_t)(mm * slots) * 4);
        dbuf dout = dalloc((size_t)(mm * slots * n) * 2);
        int64_t o3[3] = {mm, slots, n};
        zf_tensor gx = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, mm, k), dx.p);
        zf_tensor gid = dev(zf_tensor_2d(NULL, ZF_DTYPE_I32, mm, slots), did.p);
        zf_tensor go = dev(zf_tensor_nd(NULL, ZF_DTYPE_BF16, 3, o3), dout.p);
        zf_opts o = {fid, zt_cuda_stream};
        ZT_OK(zf_gather_qmm_swiglu(&gx, &wg.d, &wu.d, &gid, &go, &o));
        down(got, &dout);
        int nan_ok = 1, rest_ok = 1;
        for (int64_t p = 0; p < mm * slots; p++)
            for (int64_t r = 0; r < n; r++) {
                int bad = hid[p] < 0 || hid[p] >= E;
                float v = zt_get(ZF_DTYPE_BF16, got, p * n + r);
                if (bad && !isnan(v)) nan_ok = 0;
                if (!bad && (isnan(v) || zf_f32_bits(v) == 0x7f7f0000u)) rest_ok = 0;
            }
        ZT_CHECK(nan_ok && rest_ok && guards_ok(&dout), "ids out of range (%s, %s path): NaN %d, others written %d",
                 zf_fidelity_name(fid), grouped ? "grouped" : "per-pair", nan_ok, rest_ok);
        free(hx), free(got), free(hid);
        dfree(&dx), dfree(&did), dfree(&dout);
        qw_free(&wg), qw_free(&wu);
    }
}

/* router -> swiglu -> combine captured once, replayed: the same bits as direct calls */
static void test_graph(void) {
    const zf_cuda_plugin *pl = zf_cuda_plugin_loaded(NULL);
    const int64_t E = 16, h = 256, f = 96, m = 2, K = 4;
    qw wg = qw_make(4, 64, ZF_DTYPE_BF16, E, f, h), wu = qw_make(4, 64, ZF_DTYPE_BF16, E, f, h);
    qw wd = qw_make(4, 32, ZF_DTYPE_BF16, E, h, f);
    void *hx = malloc((size_t)(m * h) * 2), *hl = malloc((size_t)(m * E) * 2), *a = malloc((size_t)(m * h) * 2),
         *b = malloc((size_t)(m * h) * 2);
    zt_fill(ZF_DTYPE_BF16, hx, m * h, 2.0f);
    zt_fill(ZF_DTYPE_BF16, hl, m * E, 3.0f);
    dbuf dx = dbuf_of(hx, (size_t)(m * h) * 2), dl = dbuf_of(hl, (size_t)(m * E) * 2), di = dalloc((size_t)(m * K) * 4);
    dbuf dw = dalloc((size_t)(m * K) * 2), dact = dalloc((size_t)(m * K * f) * 2), dy = dalloc((size_t)(m * h) * 2);
    int64_t a3[3] = {m, K, f};
    zf_tensor tx = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, h), dx.p), tl = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, E), dl.p);
    zf_tensor ti = dev(zf_tensor_2d(NULL, ZF_DTYPE_I32, m, K), di.p), tw = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, K), dw.p);
    zf_tensor ta = dev(zf_tensor_nd(NULL, ZF_DTYPE_BF16, 3, a3), dact.p), ty = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, h), dy.p);
    for (int fid = ZF_FIDELITY_STOCK; fid <= ZF_FIDELITY_EXACT; fid++) {
        zf_opts o = {(zf_fidelity)fid, zt_cuda_stream};
        ZT_OK(zf_moe_route(&tl, (int)K, 1, &ti, &tw, &o));
        ZT_OK(zf_gather_qmm_swiglu(&tx, &wg.d, &wu.d, &ti, &ta, &o));
        ZT_OK(zf_gather_qmm_combine(&ta, &wd.d, &ti, &tw, &ty, &o));
        down(a, &dy);
        pl->mem->fill(dy.p, 0, dy.bytes, zt_cuda_stream);
        void *g = NULL;
        ZT_OK(pl->timing->capture_begin(zt_cuda_stream));
        ZT_OK(zf_moe_route(&tl, (int)K, 1, &ti, &tw, &o));
        ZT_OK(zf_gather_qmm_swiglu(&tx, &wg.d, &wu.d, &ti, &ta, &o));
        ZT_OK(zf_gather_qmm_combine(&ta, &wd.d, &ti, &tw, &ty, &o));
        ZT_OK(pl->timing->capture_end(zt_cuda_stream, &g));
        if (g) {
            ZT_OK(pl->timing->graph_launch(g, zt_cuda_stream));
            down(b, &dy);
            ZT_CHECK(first_diff_nan(ZF_DTYPE_BF16, a, b, m * h) < 0, "MoE graph replay (%s) differs from direct calls",
                     zf_fidelity_name((zf_fidelity)fid));
            pl->timing->graph_destroy(g);
        }
    }
    free(hx), free(hl), free(a), free(b);
    dfree(&dx), dfree(&dl), dfree(&di), dfree(&dw), dfree(&dact), dfree(&dy);
    qw_free(&wg), qw_free(&wu), qw_free(&wd);
}

/* zf_moe_experts == gather_qmm_swiglu then gather_qmm_combine, bit for bit,
 * over NB blocks queued back to back that share ids, weights and act (as a
 * model's layers do) with new router logits each: a combine that read ids
 * or weights before its block's router wrote them would give the previous
 * block's experts. Direct calls, then the same sequence as a CUDA graph. */
static void test_experts(void) {
    enum { NB = 6 };
    const zf_cuda_plugin *pl = zf_cuda_plugin_loaded(NULL);
    const int64_t E = 64, h = 512, f = 256, K = 8;
    qw wg = qw_make(4, 64, ZF_DTYPE_BF16, E, f, h), wu = qw_make(4, 64, ZF_DTYPE_BF16, E, f, h);
    qw wd = qw_make(4, 64, ZF_DTYPE_BF16, E, h, f);
    const zf_fidelity fids[4] = {ZF_FIDELITY_STOCK, ZF_FIDELITY_EXACT, ZF_FIDELITY_FAST, ZF_FIDELITY_APPROX};
    for (int64_t m = 1; m <= 4; m += 3) {
        void *hx = malloc((size_t)(m * h) * 2), *hl = malloc((size_t)(m * E) * 2);
        void *want = malloc((size_t)(m * h) * 2), *got = malloc((size_t)(m * h) * 2);
        zt_fill(ZF_DTYPE_BF16, hx, m * h, 2.0f);
        dbuf dx = dbuf_of(hx, (size_t)(m * h) * 2), di = dalloc((size_t)(m * K) * 4), dw = dalloc((size_t)(m * K) * 2);
        dbuf dact = dalloc((size_t)(m * K * f) * 2), dl[NB], dref[NB], dout[NB];
        int64_t a3[3] = {m, K, f};
        zf_tensor tx = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, h), dx.p);
        zf_tensor ti = dev(zf_tensor_2d(NULL, ZF_DTYPE_I32, m, K), di.p), tw = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, K), dw.p);
        zf_tensor ta = dev(zf_tensor_nd(NULL, ZF_DTYPE_BF16, 3, a3), dact.p), tl[NB], tref[NB], tout[NB];
        for (int b = 0; b < NB; b++) {
            zt_fill(ZF_DTYPE_BF16, hl, m * E, 3.0f);
            dl[b] = dbuf_of(hl, (size_t)(m * E) * 2);
            dref[b] = dalloc((size_t)(m * h) * 2), dout[b] = dalloc((size_t)(m * h) * 2);
            tl[b] = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, E), dl[b].p);
            tref[b] = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, h), dref[b].p);
            tout[b] = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, h), dout[b].p);
        }
        for (int fi = 0; fi < 4; fi++) {
            zf_opts o = {fids[fi], zt_cuda_stream};
            for (int b = 0; b < NB; b++) {
                ZT_OK(zf_moe_route(&tl[b], (int)K, 1, &ti, &tw, &o));
                ZT_OK(zf_gather_qmm_swiglu(&tx, &wg.d, &wu.d, &ti, &ta, &o));
                ZT_OK(zf_gather_qmm_combine(&ta, &wd.d, &ti, &tw, &tref[b], &o));
            }
            for (int pass = 0; pass < 2; pass++) { /* direct calls, then a graph of them */
                void *g = NULL;
                for (int b = 0; b < NB; b++) pl->mem->fill(dout[b].p, 0x7f, dout[b].bytes, zt_cuda_stream);
                if (pass) ZT_OK(pl->timing->capture_begin(zt_cuda_stream));
                for (int b = 0; b < NB; b++) {
                    ZT_OK(zf_moe_route(&tl[b], (int)K, 1, &ti, &tw, &o));
                    ZT_OK(zf_moe_experts(&tx, &wg.d, &wu.d, &wd.d, &ti, &tw, &ta, &tout[b], &o));
                }
                if (pass) {
                    ZT_OK(pl->timing->capture_end(zt_cuda_stream, &g));
                    if (!g) continue;
                    ZT_OK(pl->timing->graph_launch(g, zt_cuda_stream));
                }
                for (int b = 0; b < NB; b++) {
                    down(want, &dref[b]);
                    down(got, &dout[b]);
                    int64_t d = first_diff_nan(ZF_DTYPE_BF16, got, want, m * h);
                    ZT_CHECK(d < 0 && guards_ok(&dout[b]), "moe_experts %s m %lld block %d%s: y[%lld] %.9g, the two calls %.9g",
                             zf_fidelity_name(fids[fi]), (long long)m, b, pass ? " (graph)" : "", (long long)d,
                             d >= 0 ? zt_get(ZF_DTYPE_BF16, got, d) : 0.0, d >= 0 ? zt_get(ZF_DTYPE_BF16, want, d) : 0.0);
                }
                if (g) pl->timing->graph_destroy(g);
            }
        }
        if (m == 1) { /* act may not overlap wd: the combine reads wd before the swiglu ends */
            zf_tensor bad = dev(zf_tensor_nd(NULL, ZF_DTYPE_BF16, 3, a3), (void *)wd.d.packed);
            zf_opts o = {ZF_FIDELITY_AUTO, zt_cuda_stream};
            zf_status st = zf_moe_experts(&tx, &wg.d, &wu.d, &wd.d, &ti, &tw, &bad, &tout[0], &o);
            ZT_CHECK(st == ZF_ERR_ALIAS && strstr(zf_last_error(), "act overlaps wd"), "moe_experts act in wd: %d '%s'",
                     st, zf_last_error());
        }
        for (int b = 0; b < NB; b++) dfree(&dl[b]), dfree(&dref[b]), dfree(&dout[b]);
        free(hx), free(hl), free(want), free(got);
        dfree(&dx), dfree(&di), dfree(&dw), dfree(&dact);
    }
    qw_free(&wg), qw_free(&wu), qw_free(&wd);
}

/* moe_experts at one token in the edge tier (approx), where CUDA chains the
 * int8 swiglu and the combine (which reads ids and starts its weight copies
 * before its PDL wait): bit for bit the two calls (act too) over shapes
 * whose rows split unevenly over the CTAs, group sizes 32, 64 and 128,
 * bf16, f16 and f32 scales, 1..8 slots, f32 or bf16 routing weights, ids
 * written directly, with an expert id out of range (its slot's act row and
 * every y are NaN) in one case. Outputs poisoned first. */
static void test_experts_one_token(void) {
    static const struct {
        int gs;
        zf_dtype sdt, wt;
        int64_t E, h, f, K;
        int bad; /* slot 1's id out of range */
    } cs[] = {
        {64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 16, 2048, 768, 8, 0}, /* Qwen3-30B-A3B's layer shapes, 16 experts */
        {32, ZF_DTYPE_F32, ZF_DTYPE_F32, 9, 320, 96, 5, 0},
        {128, ZF_DTYPE_F16, ZF_DTYPE_BF16, 12, 384, 256, 3, 0},
        {64, ZF_DTYPE_BF16, ZF_DTYPE_F32, 7, 576, 192, 1, 0},
        {32, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 10, 448, 224, 4, 1},
    };
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        const int64_t E = cs[ci].E, h = cs[ci].h, f = cs[ci].f, K = cs[ci].K;
        const size_t ws = zf_dtype_size(cs[ci].wt);
        qw wg = qw_make(4, cs[ci].gs, cs[ci].sdt, E, f, h), wu = qw_make(4, cs[ci].gs, cs[ci].sdt, E, f, h);
        qw wd = qw_make(4, cs[ci].gs, cs[ci].sdt, E, h, f);
        void *hx = malloc((size_t)h * 2), *hw = malloc((size_t)K * ws);
        int32_t ids[8];
        for (int64_t s = 0; s < K; s++) ids[s] = (int32_t)((s * 5 + 3 + (int64_t)ci) % E); /* distinct where E allows */
        if (cs[ci].bad) ids[1] = (int32_t)E + 2;
        zt_fill(ZF_DTYPE_BF16, hx, h, 2.0f);
        zt_fill(cs[ci].wt, hw, K, 1.0f);
        dbuf dx = dbuf_of(hx, (size_t)h * 2), di = dbuf_of(ids, (size_t)K * 4), dw = dbuf_of(hw, (size_t)K * ws);
        dbuf dact[2] = {dalloc((size_t)(K * f) * 2), dalloc((size_t)(K * f) * 2)};
        dbuf dy[2] = {dalloc((size_t)h * 2), dalloc((size_t)h * 2)};
        int64_t a3[3] = {1, K, f};
        zf_tensor tx = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, 1, h), dx.p);
        zf_tensor ti = dev(zf_tensor_2d(NULL, ZF_DTYPE_I32, 1, K), di.p), tw = dev(zf_tensor_2d(NULL, cs[ci].wt, 1, K), dw.p);
        zf_tensor ta[2], ty[2];
        for (int v = 0; v < 2; v++) {
            ta[v] = dev(zf_tensor_nd(NULL, ZF_DTYPE_BF16, 3, a3), dact[v].p);
            ty[v] = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, 1, h), dy[v].p);
        }
        zf_opts o = {ZF_FIDELITY_APPROX, zt_cuda_stream};
        ZT_OK(zf_gather_qmm_swiglu(&tx, &wg.d, &wu.d, &ti, &ta[0], &o));
        ZT_OK(zf_gather_qmm_combine(&ta[0], &wd.d, &ti, &tw, &ty[0], &o));
        ZT_OK(zf_moe_experts(&tx, &wg.d, &wu.d, &wd.d, &ti, &tw, &ta[1], &ty[1], &o));
        const int64_t len[2] = {K * f, h};
        const dbuf *bufs[2][2] = {{&dact[0], &dact[1]}, {&dy[0], &dy[1]}};
        for (int t = 0; t < 2; t++) {
            void *want = malloc((size_t)len[t] * 2), *got = malloc((size_t)len[t] * 2);
            down(want, bufs[t][0]);
            down(got, bufs[t][1]);
            const int64_t d = first_diff_nan(ZF_DTYPE_BF16, got, want, len[t]);
            int64_t nans = 0;
            for (int64_t i = 0; i < len[t]; i++) nans += isnan(zt_get(ZF_DTYPE_BF16, got, i));
            /* a bad id: its slot's f act rows, then every y; else none */
            const int64_t want_nans = !cs[ci].bad ? 0 : t == 0 ? f : h;
            ZT_CHECK(d < 0 && nans == want_nans && guards_ok(bufs[t][1]),
                     "moe_experts one token, case %zu, %s: [%lld] %.9g, the two calls %.9g; %lld NaN (want %lld)", ci,
                     t ? "y" : "act", (long long)d, d >= 0 ? zt_get(ZF_DTYPE_BF16, got, d) : 0.0,
                     d >= 0 ? zt_get(ZF_DTYPE_BF16, want, d) : 0.0, (long long)nans, (long long)want_nans);
            free(want), free(got);
        }
        for (int v = 0; v < 2; v++) dfree(&dact[v]), dfree(&dy[v]);
        dfree(&dx), dfree(&di), dfree(&dw);
        free(hx), free(hw);
        qw_free(&wg), qw_free(&wu), qw_free(&wd);
    }
}

static void test_bad_args(void) {
    const int64_t E = 2, n = 16, k = 64, m = 1, slots = 2;
    qw w = qw_make(4, 32, ZF_DTYPE_BF16, E, n, k);
    dbuf dx = dalloc((size_t)(m * k) * 2), did = dalloc(16), dout = dalloc((size_t)(m * slots * n) * 2);
    int64_t o3[3] = {m, slots, n};
    zf_tensor gx = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, k), dx.p);
    zf_tensor gid = dev(zf_tensor_2d(NULL, ZF_DTYPE_I32, m, slots), did.p);
    zf_tensor go = dev(zf_tensor_nd(NULL, ZF_DTYPE_BF16, 3, o3), dout.p);
    zf_opts o = {ZF_FIDELITY_EXACT, zt_cuda_stream};
    zf_qweight host_w = w.d;
    host_w.device = ZF_DEVICE_CPU;
    ZT_CHECK(zf_gather_qmm_swiglu(&gx, &host_w, &w.d, &gid, &go, &o) == ZF_ERR_INVALID_ARG &&
                 strstr(zf_last_error(), "[gather_qmm_swiglu]") && strstr(zf_last_error(), "CUDA"),
             "weight on the host: %s", zf_last_error());
    zf_qweight bad_k = w.d;
    bad_k.k = 96;
    ZT_CHECK(zf_gather_qmm_swiglu(&gx, &w.d, &bad_k, &gid, &go, &o) == ZF_ERR_SHAPE && strstr(zf_last_error(), "wu"),
             "wu shape: %s", zf_last_error());
    zf_qweight bad_bits = w.d;
    bad_bits.bits = 7;
    ZT_CHECK(zf_gather_qmm(&gx, &bad_bits, &gid, &go, &o) == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), "bits"),
             "bits: %s", zf_last_error());
    zf_tensor f_ids = gid;
    f_ids.dtype = ZF_DTYPE_F32;
    ZT_CHECK(zf_gather_qmm(&gx, &w.d, &f_ids, &go, &o) == ZF_ERR_DTYPE && strstr(zf_last_error(), "ids"),
             "ids dtype: %s", zf_last_error());
    zf_tensor short_out = go;
    short_out.shape[2] = n - 1;
    ZT_CHECK(zf_gather_qmm_swiglu(&gx, &w.d, &w.d, &gid, &short_out, &o) == ZF_ERR_SHAPE &&
                 strstr(zf_last_error(), "out must be"),
             "out shape: %s", zf_last_error());
    zf_tensor wts = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, slots), did.p), y = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, n), dout.p);
    ZT_CHECK(zf_gather_qmm_combine(&gx, &w.d, &gid, &wts, &y, &o) == ZF_ERR_SHAPE && strstr(zf_last_error(), "one row per slot"),
             "combine a shape: %s", zf_last_error());
    zf_tensor lg = dev(zf_tensor_2d(NULL, ZF_DTYPE_BF16, m, 4), dx.p);
    ZT_CHECK(zf_moe_route(&lg, 5, 1, &gid, &wts, &o) == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), "k = 5"),
             "route k: %s", zf_last_error());
    unsigned char poison[64];
    zf_memcpy(poison, ZF_DEVICE_CPU, dout.p, ZF_DEVICE_CUDA, sizeof poison, zt_cuda_stream);
    zf_stream_synchronize(zt_cuda_stream);
    int untouched = 1;
    for (size_t i = 0; i < sizeof poison; i++) untouched &= poison[i] == 0x7f;
    ZT_CHECK(untouched, "a rejected call wrote its output");
    dfree(&dx), dfree(&did), dfree(&dout);
    qw_free(&w);
}

int main(void) {
    const int skip = zt_cuda_start("test_cuda_moe", &g_quick);
    if (skip) return skip;
    ZT_OK(zf_stream_create(&zt_cuda_stream));
    test_gathered();
    test_decode_tiles();
    test_unaligned_x();
    test_approx();
    test_mixed_formats();
    test_grouped();
    test_approx_grouped();
    test_route();
    test_bad_ids();
    test_graph();
    test_experts();
    test_experts_one_token();
    test_bad_args();
    zf_stream_destroy(zt_cuda_stream);
    return zt_finish();
}
