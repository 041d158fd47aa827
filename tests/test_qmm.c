/* qmm and gather_qmm on the CPU: float64 reference, the canonical order's
 * invariances (SIMD == scalar, 1 == N threads, row m of an M-row call == a
 * 1-row call, gather == per-expert qmm), bit for bit, over every bits x
 * group size, odd N and K (some past 4096), 1..64 tokens, duplicate expert
 * ids; no kernel reads past the last weight row (it ends at an unreadable
 * page); the SIMD kernels' one-x-row paths called directly; bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/registry.h"
#include "cpu/qmm.h"
#include "cpu/quant.h"
#include "harness.h"
#include "qweight.h"

static int quick(void) { return getenv("ZF_TEST_QUICK") != NULL; }

/* Random packed words, scales around 0.02 and biases around -0.1: the
 * shapes of real 4-bit weights, fresh each run. */
static qw make_qw(int bits, int gs, zf_dtype st, int64_t E, int64_t n, int64_t k) {
    return make_qw_ranged(bits, gs, st, E, n, k, 0.005, 0.04, -0.2, 0.2);
}

static double rel_half_ulp(zf_dtype t) { return t == ZF_DTYPE_F32 ? 0x1p-24 : t == ZF_DTYPE_F16 ? 0x1p-11 : 0x1p-8; }

/* ZF_CPU_ISA x threads sweep: every run must equal the first bit for bit. */
static void run_qmm_all(const zf_tensor *x, const zf_qweight *w, zf_tensor *y, zt_buf *yb, const char *what) {
    zf_cpu_isa best = zf_cpu_isa_detected();
    zt_buf first = zt_alloc(y->dtype, zf_tensor_numel(y));
    int runs = 0;
    for (int isa = 0; isa <= (int)best; isa++) {
        for (int th = 1; th <= 2; th++) {
            ZT_OK(zf_set_cpu_isa((zf_cpu_isa)isa));
            ZT_OK(zf_set_num_threads(th));
            zt_poison(yb);
            ZT_OK(zf_qmm(x, w, y, NULL));
            if (runs++ == 0) {
                memcpy(first.p, yb->p, yb->bytes);
            } else {
                int64_t at = zt_first_diff(y->dtype, first.p, yb->p, zf_tensor_numel(y));
                ZT_CHECK(at < 0, "%s: isa %s threads %d differs at %lld", what, zf_cpu_isa_name((zf_cpu_isa)isa), th,
                         (long long)at);
            }
            ZT_CHECK(zt_guards_ok(yb), "%s: write past y", what);
        }
    }
    zf_set_cpu_isa(best);
    zf_set_num_threads(0);
    zt_free(&first);
}

static void test_qmm(void) {
    static const int bits_list[] = {2, 3, 4, 5, 6, 8};
    static const int ms[] = {1, 3, 17, 64};
    for (int bi = 0; bi < 6; bi++)
        for (int gs = 32; gs <= 128; gs *= 2) {
            int bits = bits_list[bi];
            zf_dtype xt = (zf_dtype)(zt_rand() % 3), st = (zf_dtype)(zt_rand() % 3);
            int64_t n = 1 + 2 * (int64_t)(zt_rand() % 40), k = gs * (1 + 2 * (int64_t)(zt_rand() % (quick() ? 3 : 12)));
            if (gs == 32 << (bi % 3)) k += 4096; /* past the SIMD kernels' 128-block scale segment */
            int64_t m = ms[zt_rand() % (quick() ? 3 : 4)];
            char what[128];
            snprintf(what, sizeof what, "qmm bits %d gs %d x %s scales %s m %lld n %lld k %lld", bits, gs,
                     zf_dtype_name(xt), zf_dtype_name(st), (long long)m, (long long)n, (long long)k);
            qw q = make_qw(bits, gs, st, 1, n, k);
            zt_buf xb = zt_alloc(xt, m * k), yb = zt_alloc(xt, m * n), y1 = zt_alloc(xt, n);
            zt_fill(xt, xb.p, m * k, 1.0f);
            zf_tensor x = zf_tensor_2d(xb.p, xt, m, k), y = zf_tensor_2d(yb.p, xt, m, n);
            run_qmm_all(&x, &q.w, &y, &yb, what);
            size_t es = zf_dtype_size(xt);
            for (int64_t i = 0; i < m; i++) {
                const char *xr = (const char *)xb.p + (size_t)(i * k) * es;
                for (int64_t r = 0; r < n; r++) {
                    double mag, ref = ref_dot(&q.w, 0, r, xt, xr, &mag);
                    float got = zt_get(xt, yb.p, i * n + r);
                    ZT_CHECK(fabs(got - ref) <= rel_half_ulp(xt) * fabs(ref) + 0x1p-20 * mag + (xt == ZF_DTYPE_F16 ? 0x1p-25 : 0.0),
                             "%s: y[%lld,%lld] = %.9g, f64 %.9g (|x||w| %g)", what, (long long)i, (long long)r, got,
                             ref, mag);
                }
            }
            /* row m of the M-row call == the 1-row call */
            int64_t i = (int64_t)(zt_rand() % (uint64_t)m);
            zf_tensor x1 = zf_tensor_2d((char *)xb.p + (size_t)(i * k) * es, xt, 1, k), yt1 = zf_tensor_2d(y1.p, xt, 1, n);
            ZT_OK(zf_qmm(&x1, &q.w, &yt1, NULL));
            ZT_CHECK(zt_first_diff(xt, y1.p, (char *)yb.p + (size_t)(i * n) * es, n) < 0,
                     "%s: row %lld alone differs from the M-row call", what, (long long)i);
            zt_free(&xb), zt_free(&yb), zt_free(&y1), free_qw(&q);
        }
}

/* One x row over many rows: each thread walks a home range of rows and
 * then takes rows from the back of the others' (qmm.c, home_task). Odd n
 * (ranges not multiples of 8, a short last one), more threads than cores,
 * every tier's kernel: bit for bit the one-thread result. */
static void test_qmm_homes(void) {
    static const int64_t ns[] = {1003, 4133};
    static const int threads[] = {2, 3, 5, 8};
    static const zf_tier tiers[] = {ZF_TIER_STABLE, ZF_TIER_EDGE};
    for (int ni = 0; ni < 2; ni++)
        for (int ti = 0; ti < 2; ti++) {
            const int64_t n = ns[ni], k = 512;
            qw q = make_qw(4, 32, ZF_DTYPE_F16, 1, n, k);
            zt_buf xb = zt_alloc(ZF_DTYPE_BF16, k), y1 = zt_alloc(ZF_DTYPE_BF16, n), yb = zt_alloc(ZF_DTYPE_BF16, n);
            zt_fill(ZF_DTYPE_BF16, xb.p, k, 1.0f);
            zf_tensor x = zf_tensor_2d(xb.p, ZF_DTYPE_BF16, 1, k), y = zf_tensor_2d(y1.p, ZF_DTYPE_BF16, 1, n);
            ZT_OK(zf_set_tier(tiers[ti]));
            ZT_OK(zf_set_num_threads(1));
            ZT_OK(zf_qmm(&x, &q.w, &y, NULL));
            y.data = yb.p;
            for (int i = 0; i < 4; i++) {
                ZT_OK(zf_set_num_threads(threads[i]));
                zt_poison(&yb);
                ZT_OK(zf_qmm(&x, &q.w, &y, NULL));
                int64_t at = zt_first_diff(ZF_DTYPE_BF16, y1.p, yb.p, n);
                ZT_CHECK(at < 0 && zt_guards_ok(&yb), "home ranges: n %lld tier %s threads %d differs at %lld",
                         (long long)n, zf_tier_name(tiers[ti]), threads[i], (long long)at);
            }
            zt_free(&xb), zt_free(&y1), zt_free(&yb), free_qw(&q);
        }
    zf_set_num_threads(0);
    zf_set_tier(ZF_TIER_STABLE);
}

static void test_gather(void) {
    for (int iter = 0; iter < (quick() ? 4 : 10); iter++) {
        int bits = (int[]){2, 3, 4, 5, 6, 8}[zt_rand() % 6], gs = 32 << (zt_rand() % 3);
        zf_dtype xt = (zf_dtype)(zt_rand() % 3), st = (zf_dtype)(zt_rand() % 3);
        int64_t E = 1 + (int64_t)(zt_rand() % 5), n = 1 + 2 * (int64_t)(zt_rand() % 20), k = gs * (1 + (int64_t)(zt_rand() % 5));
        int64_t m = 1 + (int64_t)(zt_rand() % 9), slots = 1 + (int64_t)(zt_rand() % 4);
        int per_slot = (int)(zt_rand() & 1);
        qw q = make_qw(bits, gs, st, E, n, k);
        int64_t xrows = per_slot ? m * slots : m;
        zt_buf xb = zt_alloc(xt, xrows * k), yb = zt_alloc(xt, m * slots * n), ib = zt_alloc(ZF_DTYPE_I32, m * slots);
        zt_buf y1 = zt_alloc(xt, n);
        zt_fill(xt, xb.p, xrows * k, 1.0f);
        for (int64_t i = 0; i < m * slots; i++) ((int32_t *)ib.p)[i] = (int32_t)(zt_rand() % (uint64_t)E); /* duplicates */
        int64_t xs3[3] = {m, slots, k}, ys[3] = {m, slots, n};
        zf_tensor x = per_slot ? zf_tensor_nd(xb.p, xt, 3, xs3) : zf_tensor_2d(xb.p, xt, m, k);
        zf_tensor y = zf_tensor_nd(yb.p, xt, 3, ys), ids = zf_tensor_2d(ib.p, ZF_DTYPE_I32, m, slots);
        ZT_OK(zf_gather_qmm(&x, &q.w, &ids, &y, NULL));
        ZT_CHECK(zt_guards_ok(&yb), "gather: write past y");
        size_t es = zf_dtype_size(xt), ss = zf_dtype_size(st);
        for (int64_t p = 0; p < m * slots; p++) {
            int32_t e = ((int32_t *)ib.p)[p];
            zf_qweight we = q.w;
            int64_t g = n * k / gs;
            we.packed += e * n * k * bits / 32;
            we.scales = (const char *)q.w.scales + (size_t)(e * g) * ss;
            we.biases = (const char *)q.w.biases + (size_t)(e * g) * ss;
            we.experts = 1;
            int64_t xr = per_slot ? p : p / slots;
            zf_tensor x1 = zf_tensor_2d((char *)xb.p + (size_t)(xr * k) * es, xt, 1, k), yt1 = zf_tensor_2d(y1.p, xt, 1, n);
            ZT_OK(zf_qmm(&x1, &we, &yt1, NULL));
            int64_t at = zt_first_diff(xt, y1.p, (char *)yb.p + (size_t)(p * n) * es, n);
            ZT_CHECK(at < 0, "gather bits %d gs %d E %lld m %lld slots %lld per_slot %d: pair %lld (expert %d) differs "
                     "from qmm at %lld", bits, gs, (long long)E, (long long)m, (long long)slots, per_slot, (long long)p,
                     e, (long long)at);
        }
        zt_free(&xb), zt_free(&yb), zt_free(&ib), zt_free(&y1), free_qw(&q);
    }
}

/* A read-only copy of `bytes` at src that ends where an unreadable page
 * begins, so a read past its end faults: zt_alloc's guard bytes are
 * readable, and a kernel that loads a few bytes past a row and masks them
 * off gives the right bits from them. */
typedef struct guarded {
    void *map;
    size_t len;
} guarded;

static const void *guarded_copy(const void *src, size_t bytes, guarded *g) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), data = (bytes + page - 1) / page * page;
    g->len = data + page;
    g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) {
        fprintf(stderr, "mmap failed\n");
        exit(2);
    }
    char *p = (char *)g->map + data - bytes;
    memcpy(p, src, bytes);
    if (mprotect(g->map, data, PROT_READ) != 0 || mprotect((char *)g->map + data, page, PROT_NONE) != 0) {
        fprintf(stderr, "mprotect failed\n");
        exit(2);
    }
    return p;
}

/* q's packed words, scales and biases, each a guarded copy: the last row
 * of the last expert ends at a page boundary. */
typedef struct gqw {
    guarded m[3];
    zf_qweight w;
} gqw;

static gqw guard_qw(const qw *q) {
    gqw g;
    g.w = q->w;
    g.w.packed = guarded_copy(q->p.p, q->p.bytes, &g.m[0]);
    g.w.scales = guarded_copy(q->s.p, q->s.bytes, &g.m[1]);
    g.w.biases = guarded_copy(q->b.p, q->b.bytes, &g.m[2]);
    return g;
}

static void free_gqw(gqw *g) {
    for (int i = 0; i < 3; i++) munmap(g->m[i].map, g->m[i].len);
}

/* The last expert of w as a plain matrix (qmm reads expert 0). */
static zf_qweight last_expert(const zf_qweight *w) {
    zf_qweight l = *w;
    int64_t e = w->experts - 1, groups = w->k / w->group_size;
    size_t ss = zf_dtype_size(w->scale_dtype);
    l.packed += e * w->n * (w->k * w->bits / 32);
    l.scales = (const char *)w->scales + (size_t)(e * w->n * groups) * ss;
    l.biases = (const char *)w->biases + (size_t)(e * w->n * groups) * ss;
    l.experts = 1;
    return l;
}

/* y[p, r] = x row p / slots . row r of expert ids[p] (0 without ids) of w,
 * within test_qmm's bound of the float64 reference. */
static void check_ref(const zf_qweight *w, const int32_t *ids, int64_t slots, zf_dtype xt, const void *x,
                      int64_t pairs, const void *y, const char *what) {
    size_t es = zf_dtype_size(xt);
    for (int64_t p = 0; p < pairs; p++)
        for (int64_t r = 0; r < w->n; r++) {
            const void *xr = (const char *)x + (size_t)(p / slots * w->k) * es;
            double mag, ref = ref_dot(w, ids ? ids[p] : 0, r, xt, xr, &mag);
            float got = zt_get(xt, y, p * w->n + r);
            ZT_CHECK(fabs(got - ref) <= rel_half_ulp(xt) * fabs(ref) + 0x1p-20 * mag + (xt == ZF_DTYPE_F16 ? 0x1p-25 : 0.0),
                     "%s: y[%lld, %lld] = %.9g, f64 %.9g", what, (long long)p, (long long)r, got, ref);
        }
}

static const char *const k_row_end_ops[] = {"qmm", "gather_qmm", "gather_qmm_swiglu", "gather_qmm_combine"};

/* One op of test_row_end into out: qmm on wa's last expert, the others on
 * wa (and wb, swiglu's up). x is [m, slots, k]; qmm and gather read its
 * first m rows as [m, k]. */
static void row_end_call(int op, const zf_qweight *wa, const zf_qweight *wb, const zt_buf *xb, const zf_tensor *ids,
                         const zt_buf *wtb, zf_dtype xt, zf_fidelity fid, zt_buf *out) {
    const int64_t m = ids->shape[0], slots = ids->shape[1], n = wa->n, k = wa->k;
    int64_t x2s[2] = {m, k}, x3s[3] = {m, slots, k}, y2s[2] = {m, n}, y3s[3] = {m, slots, n};
    zf_tensor x = zf_tensor_nd(xb->p, xt, 2, x2s), a = zf_tensor_nd(xb->p, xt, 3, x3s);
    zf_tensor y2 = zf_tensor_nd(out->p, xt, 2, y2s), y3 = zf_tensor_nd(out->p, xt, 3, y3s);
    zf_tensor wt = zf_tensor_2d(wtb->p, xt, m, slots);
    zf_qweight last = last_expert(wa);
    zf_opts o = {.fidelity = fid};
    zt_poison(out);
    zf_status st = op == 0   ? zf_qmm(&x, &last, &y2, &o)
                   : op == 1 ? zf_gather_qmm(&x, wa, ids, &y3, &o)
                   : op == 2 ? zf_gather_qmm_swiglu(&x, wa, wb, ids, &y3, &o)
                             : zf_gather_qmm_combine(&a, wa, ids, &wt, &y2, &o);
    ZT_CHECK(st == ZF_OK, "row end: %s -> %s", k_row_end_ops[op], zf_last_error());
}

/* One bits x group size x k case of test_row_end: E experts of n rows. */
static void row_end_case(int bits, int gs, int64_t k) {
    static const zf_fidelity fids[] = {ZF_FIDELITY_EXACT, ZF_FIDELITY_APPROX};
    const int64_t E = 2 + (int64_t)(zt_rand() % 2), n = 1 + 2 * (int64_t)(zt_rand() % 4), slots = 2;
    const zf_dtype xt = (zf_dtype)(zt_rand() % 3), st = (zf_dtype)(zt_rand() % 3);
    qw qa = make_qw(bits, gs, st, E, n, k), qb = make_qw(bits, gs, st, E, n, k);
    gqw ga = guard_qw(&qa), gb = guard_qw(&qb);
    for (int64_t m = 1; m <= 3; m += 2) {
        zt_buf xb = zt_alloc(xt, m * slots * k), wtb = zt_alloc(xt, m * slots), ib = zt_alloc(ZF_DTYPE_I32, m * slots);
        zt_buf want = zt_alloc(xt, m * slots * n), got = zt_alloc(xt, m * slots * n);
        zt_fill(xt, xb.p, m * slots * k, 1.0f);
        zt_fill(xt, wtb.p, m * slots, 1.0f);
        /* the last expert in every even slot: at one token it meets one x
         * row (the decode walk; the other slot takes another expert), at
         * three tokens several in one kernel call (the tiles) */
        int32_t *ids = ib.p;
        for (int64_t p = 0; p < m * slots; p++)
            ids[p] = p % 2 == 0 ? (int32_t)(E - 1) : (int32_t)(zt_rand() % (uint64_t)(m == 1 ? E - 1 : E));
        zf_tensor idt = zf_tensor_2d(ids, ZF_DTYPE_I32, m, slots);
        for (int isa = 0; isa <= (int)zf_cpu_isa_detected(); isa++)
            for (int fi = 0; fi < 2; fi++)
                for (int op = 0; op < 4; op++) {
                    ZT_OK(zf_set_cpu_isa((zf_cpu_isa)isa));
                    row_end_call(op, &qa.w, &qb.w, &xb, &idt, &wtb, xt, fids[fi], &want);
                    row_end_call(op, &ga.w, &gb.w, &xb, &idt, &wtb, xt, fids[fi], &got);
                    char what[200];
                    snprintf(what, sizeof what, "row end: %s isa %s %s bits %d gs %d x %s scales %s E %lld m %lld "
                             "n %lld k %lld", k_row_end_ops[op], zf_cpu_isa_name((zf_cpu_isa)isa),
                             zf_fidelity_name(fids[fi]), bits, gs, zf_dtype_name(xt), zf_dtype_name(st), (long long)E,
                             (long long)m, (long long)n, (long long)k);
                    int64_t pairs = op == 0 || op == 3 ? m : m * slots;
                    int64_t at = zt_first_diff(xt, want.p, got.p, pairs * n);
                    ZT_CHECK(at < 0, "%s: differs from the weights in ordinary memory at %lld", what, (long long)at);
                    if (fids[fi] == ZF_FIDELITY_EXACT && op == 0) {
                        zf_qweight last = last_expert(&ga.w);
                        check_ref(&last, NULL, 1, xt, xb.p, m, got.p, what);
                    } else if (fids[fi] == ZF_FIDELITY_EXACT && op == 1) {
                        check_ref(&ga.w, ids, slots, xt, xb.p, m * slots, got.p, what);
                    }
                }
        zt_free(&xb), zt_free(&wtb), zt_free(&ib), zt_free(&want), zt_free(&got);
    }
    free_gqw(&ga), free_gqw(&gb), free_qw(&qa), free_qw(&qb);
}

/* No kernel reads past a weight row: 3-, 5- and 6-bit blocks straddle
 * words and the SIMD unpack loads up to 3 bytes past a block, so the
 * kernels pad a row's last block (qmm_avx2.c, qmm_avx512.c). With the last
 * row of the last expert, its scales and its biases ending at an
 * unreadable page, qmm, gather_qmm, gather_qmm_swiglu and
 * gather_qmm_combine run at every ISA, exact and approx (the int8 kernel
 * on 4- and 8-bit rows, the canonical one on the others), at one x row and
 * several; k one group, three groups (a tail after the 8-block steps),
 * whole 16-block runs (the AVX-512 tile) and a group past them (AVX2).
 * Each result equals the same call on the weights in ordinary memory bit
 * for bit, and the exact qmm and gather results the float64 reference. */
static void test_row_end(void) {
    static const int bits_list[] = {2, 3, 4, 5, 6, 8};
    const zf_cpu_isa cap = zf_get_cpu_isa();
    for (int bi = 0; bi < 6; bi++)
        for (int gs = 32; gs <= 128; gs *= 2) {
            const int64_t ks[4] = {gs, 3 * gs, 512, 512 + gs};
            for (int ki = 0; ki < 4; ki++) row_end_case(bits_list[bi], gs, ks[ki]);
        }
    zf_set_cpu_isa(cap);
}

/* The SIMD kernels called directly at one x row (decode), against the
 * scalar definition bit for bit and float64: every bits x group size x
 * scale dtype, rows that end mid-step (blocks not a multiple of 8), and the
 * AVX2 kernel's three scale paths: one batch of converted scales (rows x
 * groups <= 512), several batches with a partial last one, and rows with
 * more than 512 groups (converted a 128-block segment at a time, several
 * segments); a poisoned output whose neighbour must stay untouched. */
static void test_kernel_one_x(void) {
    static const int bits_list[] = {2, 3, 4, 5, 6, 8};
    zf_qdot_fn fns[2] = {zf_avx2_qdot, zf_avx512_qdot};
    const char *names[2] = {"avx2", "avx512"};
    for (int f = 0; f < 2; f++) {
        if (zf_cpu_isa_detected() < (f == 0 ? ZF_CPU_ISA_AVX2 : ZF_CPU_ISA_AVX512)) continue;
        for (int bi = 0; bi < 6; bi++)
            for (int gs = 32; gs <= 128; gs *= 2)
                for (int shape = 0; shape < 3; shape++) {
                    int bits = bits_list[bi];
                    zf_dtype st = (zf_dtype)(zt_rand() % 3);
                    /* blocks: odd counts leave a tail after the 8-block steps */
                    int64_t k = gs * (1 + 2 * (int64_t)(zt_rand() % 12));
                    if (shape == 2) k = 512 * gs + gs * (1 + 2 * (int64_t)(zt_rand() % 4)); /* > 512 groups */
                    int64_t groups = k / gs, rows;
                    if (shape == 0) rows = 1 + (int64_t)(zt_rand() % (uint64_t)(512 / groups));
                    else if (shape == 1) rows = 512 / groups * (2 + (int64_t)(zt_rand() % 3)) + 1 + (int64_t)(zt_rand() % 3);
                    else rows = 1 + (int64_t)(zt_rand() % 3);
                    char what[160];
                    snprintf(what, sizeof what, "%s one x: bits %d gs %d scales %s k %lld rows %lld", names[f], bits, gs,
                             zf_dtype_name(st), (long long)k, (long long)rows);
                    qw q = make_qw(bits, gs, st, 1, rows, k);
                    zt_buf xb = zt_alloc(ZF_DTYPE_F32, k), xsb = zt_alloc(ZF_DTYPE_F32, k / 4);
                    zt_buf got = zt_alloc(ZF_DTYPE_F32, rows + 1), want = zt_alloc(ZF_DTYPE_F32, rows);
                    zt_fill(ZF_DTYPE_F32, xb.p, k, 2.0f);
                    if (zt_rand() & 1) /* bf16-valued activations, as the models pass */
                        for (int64_t i = 0; i < k; i++)
                            ((float *)xb.p)[i] = zf_load(ZF_DTYPE_BF16, &(uint16_t){(uint16_t)(zf_f32_bits(((float *)xb.p)[i]) >> 16)}, 0);
                    float *xf = xb.p, *xs = xsb.p;
                    zf_qx_prepare(ZF_DTYPE_F32, xf, k, xf, xs);
                    zf_qrows w = zf_qrows_of(&q.w, 0, 0, rows);
                    const float *xp[1] = {xf}, *xsp[1] = {xs};
                    zt_poison(&got);
                    fns[f](&w, 1, xp, xsp, got.p);
                    zf_scalar_qdot(&w, 1, xp, xsp, want.p);
                    int64_t at = zt_first_diff(ZF_DTYPE_F32, got.p, want.p, rows);
                    ZT_CHECK(at < 0, "%s: row %lld = %.9g, scalar %.9g", what, (long long)at,
                             at < 0 ? 0.0 : ((float *)got.p)[at], at < 0 ? 0.0 : ((float *)want.p)[at]);
                    ZT_CHECK(((unsigned char *)got.p)[rows * 4] == 0x7f && zt_guards_ok(&got), "%s: wrote past the rows",
                             what);
                    for (int64_t r = 0; r < rows; r++) {
                        double mag, ref = ref_dot(&q.w, 0, r, ZF_DTYPE_F32, xf, &mag);
                        float v = ((float *)got.p)[r];
                        ZT_CHECK(fabs(v - ref) <= 0x1p-24 * fabs(ref) + 0x1p-20 * mag, "%s: row %lld = %.9g, f64 %.9g",
                                 what, (long long)r, v, ref);
                    }
                    zt_free(&xb), zt_free(&xsb), zt_free(&got), zt_free(&want), free_qw(&q);
                }
    }
}

/* zf_avx512_qdot keeps rows of whole 16-block runs (k a multiple of 512)
 * and hands the others to the AVX2 kernel: both sides at 1 to 5 x rows,
 * every bits and group size, against the scalar definition bit for bit. */
static void test_kernel_split(void) {
    static const int bits_list[] = {2, 3, 4, 5, 6, 8};
    if (zf_cpu_isa_detected() < ZF_CPU_ISA_AVX512) return;
    for (int bi = 0; bi < 6; bi++)
        for (int gs = 32; gs <= 128; gs *= 2)
            for (int whole = 0; whole < 2; whole++) {
                const int bits = bits_list[bi], nx = 1 + (int)(zt_rand() % 5);
                const zf_dtype st = (zf_dtype)(zt_rand() % 3);
                const int64_t k = whole ? 512 * (1 + (int64_t)(zt_rand() % 4)) : gs * (1 + 2 * (int64_t)(zt_rand() % 12));
                const int64_t rows = 1 + (int64_t)(zt_rand() % 37);
                qw q = make_qw(bits, gs, st, 1, rows, k);
                zt_buf xb = zt_alloc(ZF_DTYPE_F32, nx * k), xsb = zt_alloc(ZF_DTYPE_F32, nx * k / 4);
                zt_buf got = zt_alloc(ZF_DTYPE_F32, nx * rows), want = zt_alloc(ZF_DTYPE_F32, nx * rows);
                zt_fill(ZF_DTYPE_F32, xb.p, nx * k, 2.0f);
                const float *xp[5], *xsp[5];
                for (int i = 0; i < nx; i++) {
                    float *xf = (float *)xb.p + i * k, *xs = (float *)xsb.p + i * k / 4;
                    zf_qx_prepare(ZF_DTYPE_F32, xf, k, xf, xs);
                    xp[i] = xf, xsp[i] = xs;
                }
                zf_qrows w = zf_qrows_of(&q.w, 0, 0, rows);
                zt_poison(&got);
                zf_avx512_qdot(&w, nx, xp, xsp, got.p);
                zf_scalar_qdot(&w, nx, xp, xsp, want.p);
                int64_t at = zt_first_diff(ZF_DTYPE_F32, got.p, want.p, nx * rows);
                ZT_CHECK(at < 0, "avx512 split: bits %d gs %d scales %s k %lld rows %lld nx %d: out[%lld] %.9g, scalar %.9g",
                         bits, gs, zf_dtype_name(st), (long long)k, (long long)rows, nx, (long long)at,
                         at < 0 ? 0.0 : ((float *)got.p)[at], at < 0 ? 0.0 : ((float *)want.p)[at]);
                zt_free(&xb), zt_free(&xsb), zt_free(&got), zt_free(&want), free_qw(&q);
            }
}

#define EXPECT_ERR(call, needle, what)                                                                   \
    do {                                                                                                  \
        zt_poison(&yb);                                                                                   \
        zf_status st_ = (call);                                                                           \
        ZT_CHECK(st_ != ZF_OK && strstr(zf_last_error(), needle), "%s: status %d, message '%s'", what, st_, \
                 zf_last_error());                                                                        \
        ZT_CHECK(((unsigned char *)yb.p)[0] == 0x7f && zt_guards_ok(&yb), "%s: output touched", what);     \
    } while (0)

static void test_bad_args(void) {
    enum { E = 3, N = 5, K = 64, M = 2, S = 2 };
    qw q = make_qw(4, 32, ZF_DTYPE_BF16, E, N, K);
    zt_buf xb = zt_alloc(ZF_DTYPE_BF16, M * K), yb = zt_alloc(ZF_DTYPE_BF16, M * S * N), ib = zt_alloc(ZF_DTYPE_I32, M * S);
    zt_buf yh = zt_alloc(ZF_DTYPE_F16, M * S * N);
    zt_fill(ZF_DTYPE_BF16, xb.p, M * K, 1.0f);
    int32_t ids_v[M * S] = {0, 2, 1, 3}; /* 3 is out of range */
    memcpy(ib.p, ids_v, sizeof ids_v);
    int64_t ys[3] = {M, S, N};
    zf_tensor x = zf_tensor_2d(xb.p, ZF_DTYPE_BF16, M, K), y = zf_tensor_nd(yb.p, ZF_DTYPE_BF16, 3, ys);
    zf_tensor ids = zf_tensor_2d(ib.p, ZF_DTYPE_I32, M, S), y2 = zf_tensor_2d(yb.p, ZF_DTYPE_BF16, M, N);
    EXPECT_ERR(zf_gather_qmm(&x, &q.w, &ids, &y, NULL), "ids[1, 1] = 3", "id out of range");
    ((int32_t *)ib.p)[3] = -1;
    EXPECT_ERR(zf_gather_qmm(&x, &q.w, &ids, &y, NULL), "= -1", "negative id");
    ((int32_t *)ib.p)[3] = 0;
    zf_qweight w = q.w;
    w.bits = 7;
    EXPECT_ERR(zf_qmm(&x, &w, &y2, NULL), "bits = 7", "bits 7");
    w = q.w, w.group_size = 48;
    EXPECT_ERR(zf_qmm(&x, &w, &y2, NULL), "group_size = 48", "gs 48");
    w = q.w, w.k = 80;
    EXPECT_ERR(zf_qmm(&x, &w, &y2, NULL), "not a multiple", "k % gs");
    w = q.w, w.k = 96;
    EXPECT_ERR(zf_qmm(&x, &w, &y2, NULL), "x must be [m, k]", "k mismatch");
    w = q.w, w.scales = NULL;
    EXPECT_ERR(zf_qmm(&x, &w, &y2, NULL), "NULL", "NULL scales");
    w = q.w, w.n = (int64_t)1 << 40, w.k = (int64_t)1 << 30; /* n * k overflows int64 */
    EXPECT_ERR(zf_qmm(&x, &w, &y2, NULL), "too large", "n * k overflow");
    EXPECT_ERR(zf_qmm(&x, NULL, &y2, NULL), "NULL", "NULL w");
    zf_tensor yf16 = zf_tensor_nd(yh.p, ZF_DTYPE_F16, 3, ys);
    zt_poison(&yh);
    ZT_CHECK(zf_gather_qmm(&x, &q.w, &ids, &yf16, NULL) == ZF_ERR_DTYPE && strstr(zf_last_error(), "one dtype"),
             "dtype mix: '%s'", zf_last_error());
    ZT_CHECK(((unsigned char *)yh.p)[0] == 0x7f, "dtype mix: output touched");
    zf_tensor idf = zf_tensor_2d(ib.p, ZF_DTYPE_F32, M, S);
    EXPECT_ERR(zf_gather_qmm(&x, &q.w, &idf, &y, NULL), "expected i32", "f32 ids");
    EXPECT_ERR(zf_gather_qmm(&x, &q.w, &ids, &y2, NULL), "y must be [m, slots, n]", "y shape");
    zt_free(&xb), zt_free(&yb), zt_free(&ib), zt_free(&yh), free_qw(&q);
}

/* Every canonical-dot variant this machine can run passes its self-test (the
 * registry would silently fall back to scalar otherwise), and the ops above
 * really used the best one. */
static void test_variants_trusted(void) {
    int seen = 0;
    for (int i = 0; i < zf_registry_count(); i++) {
        const zf_variant *v = zf_registry_at(i);
        if (v->op != ZF_OP_QMM && v->op != ZF_OP_GATHER_QMM && v->op != ZF_OP_GATHER_QMM_SWIGLU &&
            v->op != ZF_OP_GATHER_QMM_COMBINE)
            continue;
        if (!v->selftest || v->isa > zf_cpu_isa_detected()) continue;
        char msg[240] = "";
        ZT_CHECK(v->selftest(v, msg, sizeof msg) == 0, "%s fails its self-test: %s", v->name, msg);
        seen++;
    }
    ZT_CHECK(seen >= 6, "only %d canonical-dot variants registered for this machine", seen);
    const zf_variant *v;
    ZT_OK(zf_pick(ZF_OP_QMM, ZF_DEVICE_CPU, ZF_FIDELITY_AUTO, &v));
    ZT_CHECK(v->isa == zf_get_cpu_isa(), "qmm runs %s, not the %s kernel", v->name, zf_cpu_isa_name(zf_get_cpu_isa()));
}

int main(void) {
    zt_init("test_qmm");
    test_variants_trusted();
    test_qmm();
    test_kernel_one_x();
    test_kernel_split();
    test_qmm_homes();
    test_gather();
    test_row_end();
    test_bad_args();
    return zt_finish();
}
