/* The gate's measurement: shape sweep, buffer rotation, interleaved timing,
 * statistics and verdicts. Where memory lives and how time is read is the
 * backend's business (gate.h). */
#include "gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"

#define MAX_SETS 64
#define MAX_REPS 15
#define EPS 1e-6f

/* A fusion and the stock ops it replaces. Per element of the [rows, cols]
 * tensors the fused op reads `reads` and writes `writes` of them. */
typedef struct gate_op {
    const char *name;
    zf_op op;
    zf_op parts[2];
    int reads, writes;
    int has_weight; /* plus one [cols] weight read per call */
} gate_op;

static const gate_op k_ops[] = {
    {"swiglu", ZF_OP_SWIGLU, {ZF_OP_SILU, ZF_OP_MUL}, 2, 1, 0},
    {"add_rms_norm", ZF_OP_ADD_RMS_NORM, {ZF_OP_ADD, ZF_OP_RMS_NORM}, 2, 2, 1},
};

/* Backends built into this zf; a CUDA build adds gate_cuda.c, which defines
 * zf_gate_cuda (weak here, so no edit is needed when it lands). */
extern const zf_gate_backend zf_gate_cuda __attribute__((weak));

const zf_gate_backend *zf_gate_backend_find(const char *name) {
    if (strcmp(name, zf_gate_cpu.name) == 0) return &zf_gate_cpu;
    if (&zf_gate_cuda && strcmp(name, zf_gate_cuda.name) == 0) return &zf_gate_cuda;
    return NULL;
}

/* ---- one shape --------------------------------------------------------------- */

typedef struct shape {
    const gate_op *op;
    const zf_gate_backend *be;
    zf_dtype t;
    int64_t rows, cols;
    int sets;
    void *buf[MAX_SETS][4]; /* inputs then outputs: g,u,out / x,r,y,h */
    void *w;
    void *scratch;          /* swiglu's silu(g) between the two stock calls */
} shape;

typedef struct call_ctx {
    shape *s;
    zf_opts opts;
} call_ctx;

static zf_tensor on_device(const shape *s, void *p, int64_t rows) {
    zf_tensor t = rows ? zf_tensor_2d(p, s->t, rows, s->cols) : zf_tensor_1d(p, s->t, s->cols);
    t.device = s->be->device;
    return t;
}

static zf_status call_op(void *ctx, int set) {
    call_ctx *c = ctx;
    shape *s = c->s;
    void **b = s->buf[set];
    zf_tensor a = on_device(s, b[0], s->rows), r = on_device(s, b[1], s->rows);
    zf_tensor o1 = on_device(s, b[2], s->rows);
    if (s->op->op == ZF_OP_SWIGLU) return zf_swiglu(&a, &r, &o1, &c->opts);
    zf_tensor o2 = on_device(s, b[3], s->rows), w = on_device(s, s->w, 0);
    return zf_add_rms_norm(&a, &r, &w, EPS, &o1, &o2, &c->opts);
}

/* The stock composition as a user of the unfused ops writes it: silu into
 * a buffer allocated once, then mul; add into h, then rms_norm of h. */
static zf_status call_stock(void *ctx, int set) {
    call_ctx *c = ctx;
    shape *s = c->s;
    void **b = s->buf[set];
    zf_tensor a = on_device(s, b[0], s->rows), r = on_device(s, b[1], s->rows);
    zf_tensor o1 = on_device(s, b[2], s->rows);
    if (s->op->op == ZF_OP_SWIGLU) {
        zf_tensor tmp = on_device(s, s->scratch, s->rows);
        zf_status st = zf_silu(&a, &tmp, &c->opts);
        return st != ZF_OK ? st : zf_mul(&tmp, &r, &o1, &c->opts);
    }
    zf_tensor o2 = on_device(s, b[3], s->rows), w = on_device(s, s->w, 0);
    zf_status st = zf_add(&a, &r, &o2, &c->opts);
    return st != ZF_OK ? st : zf_rms_norm(&o2, &w, EPS, &o1, &c->opts);
}

static size_t elems_bytes(const shape *s) { return (size_t)(s->rows * s->cols) * zf_dtype_size(s->t); }

/* Bytes one call moves: every [rows, cols] operand once, plus the weight. */
static double bytes_per_call(const shape *s) {
    double b = (double)elems_bytes(s) * (s->op->reads + s->op->writes);
    return s->op->has_weight ? b + (double)s->cols * (double)zf_dtype_size(s->t) : b;
}

static void free_shape(shape *s) {
    for (int k = 0; k < s->sets; k++)
        for (int i = 0; i < 4; i++) s->be->release(s->buf[k][i]);
    s->be->release(s->w);
    s->be->release(s->scratch);
}

static int alloc_shape(shape *s, char *msg, size_t msg_size) {
    int nb = s->op->reads + s->op->writes;
    uint64_t seed = 1;
    for (int k = 0; k < s->sets; k++)
        for (int i = 0; i < nb; i++) {
            s->buf[k][i] = s->be->alloc(elems_bytes(s));
            /* outputs are filled too: their pages exist before timing starts */
            if (!s->buf[k][i] || s->be->fill(s->buf[k][i], s->t, s->rows * s->cols, seed++) != 0) {
                snprintf(msg, msg_size, "no memory for %d buffer sets of %lld x %lld %s", s->sets,
                         (long long)s->rows, (long long)s->cols, zf_dtype_name(s->t));
                return -1;
            }
        }
    if (s->op->op == ZF_OP_SWIGLU) {
        s->scratch = s->be->alloc(elems_bytes(s));
        if (!s->scratch || s->be->fill(s->scratch, s->t, s->rows * s->cols, seed++) != 0) {
            snprintf(msg, msg_size, "no memory for the stock path's intermediate");
            return -1;
        }
    }
    if (s->op->has_weight) {
        s->w = s->be->alloc((size_t)s->cols * zf_dtype_size(s->t));
        if (!s->w || s->be->fill(s->w, s->t, s->cols, seed) != 0) {
            snprintf(msg, msg_size, "no memory for the weight");
            return -1;
        }
    }
    return 0;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

typedef struct stats { double median, min, max; } stats;

static stats stats_of(const double *v, int n) {
    double s[MAX_REPS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    stats r = {n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]), s[0], s[n - 1]};
    return r;
}

zf_gate_plan zf_gate_plan_for(int quick) { return (zf_gate_plan){quick ? 3 : 7, quick ? 0.004 : 0.02}; }

static int timed(const zf_gate_backend *be, zf_gate_call_fn call, void *ctx, int n, int sets, double *sec, char *msg,
                 size_t msg_size) {
    if (be->flush) be->flush();
    zf_status st = be->time_calls(call, ctx, n, sets, sec);
    if (st != ZF_OK) {
        snprintf(msg, msg_size, "%s", zf_last_error());
        return -1;
    }
    return 0;
}

int zf_gate_time_pair(const zf_gate_backend *be, const zf_gate_pair *p, const zf_gate_plan *plan, double bytes,
                      double bw_gbps, cJSON *o, char *msg, size_t msg_size) {
    double t;
    zf_gate_bw before, after;
    if (be->bandwidth(p->bw_reads, p->bw_writes, 1, &before, msg, msg_size) != 0) return -1;
    /* warm-up, and the batch size: at least one pass over every set and
     * about min_batch_s of the fused op */
    if (timed(be, p->stock, p->stock_ctx, p->sets, p->sets, &t, msg, msg_size) ||
        timed(be, p->fused, p->fused_ctx, p->sets, p->sets, &t, msg, msg_size))
        return -1;
    double per_call = t / p->sets;
    int n = p->sets;
    if (per_call * n < plan->min_batch_s) {
        double want = plan->min_batch_s / (per_call > 1e-9 ? per_call : 1e-9);
        n = (int)(want < 200000 ? want : 200000);
        n = (n + p->sets - 1) / p->sets * p->sets;
    }
    double a[MAX_REPS], b[MAX_REPS], ratio[MAX_REPS];
    for (int r = 0; r < plan->reps; r++) {
        if (timed(be, p->fused, p->fused_ctx, n, p->sets, &t, msg, msg_size)) return -1;
        a[r] = t / n;
        if (timed(be, p->stock, p->stock_ctx, n, p->sets, &t, msg, msg_size)) return -1;
        b[r] = t / n;
        ratio[r] = b[r] / a[r];
    }
    if (be->bandwidth(p->bw_reads, p->bw_writes, 1, &after, msg, msg_size) != 0) return -1;
    double paired_gbps = before.gbps > after.gbps ? before.gbps : after.gbps;
    stats fa = stats_of(a, plan->reps), st = stats_of(b, plan->reps), ra = stats_of(ratio, plan->reps);
    double gbps = bytes / fa.median / 1e9, stock_gbps = bytes / st.median / 1e9;
    const char *verdict = "not worth it", *reason = "the difference is within the spread";
    if (fa.max < st.min) verdict = "enable", reason = "fused faster beyond the spread";
    else if (st.max < fa.min) reason = "fused slower beyond the spread";

    cJSON_AddNumberToObject(o, "bytes", bytes);
    cJSON_AddNumberToObject(o, "buffer_sets", p->sets);
    cJSON_AddNumberToObject(o, "calls_per_rep", n);
    cJSON_AddNumberToObject(o, "fused_median_us", fa.median * 1e6);
    cJSON_AddNumberToObject(o, "fused_min_us", fa.min * 1e6);
    cJSON_AddNumberToObject(o, "fused_max_us", fa.max * 1e6);
    cJSON_AddNumberToObject(o, "stock_median_us", st.median * 1e6);
    cJSON_AddNumberToObject(o, "stock_min_us", st.min * 1e6);
    cJSON_AddNumberToObject(o, "stock_max_us", st.max * 1e6);
    cJSON_AddNumberToObject(o, "speedup", st.median / fa.median);
    cJSON_AddNumberToObject(o, "speedup_min", ra.min);
    cJSON_AddNumberToObject(o, "speedup_max", ra.max);
    cJSON_AddNumberToObject(o, "fused_gbps", gbps);
    cJSON_AddNumberToObject(o, "stock_gbps", stock_gbps);
    cJSON_AddNumberToObject(o, "bandwidth_fraction", gbps / bw_gbps);
    cJSON_AddNumberToObject(o, "stock_bandwidth_fraction", stock_gbps / bw_gbps);
    cJSON_AddNumberToObject(o, "paired_bandwidth_gbps", paired_gbps);
    cJSON_AddNumberToObject(o, "paired_bandwidth_fraction", gbps / paired_gbps);
    cJSON_AddStringToObject(o, "verdict", verdict);
    cJSON_AddStringToObject(o, "reason", reason);
    return 0;
}

void zf_gate_describe(cJSON *cap, const char *op, const zf_gate_backend *be, const zf_gate_request *req,
                      const char *fused_v, const char *stock_v, const zf_gate_bw *bw, const zf_gate_bw *rd) {
    cJSON_AddStringToObject(cap, "op", op);
    cJSON_AddStringToObject(cap, "backend", be->name);
    cJSON_AddStringToObject(cap, "dtype", zf_dtype_name(req->dtype));
    cJSON_AddBoolToObject(cap, "quick", req->quick);
    cJSON_AddStringToObject(cap, "fused_variant", fused_v);
    cJSON_AddStringToObject(cap, "stock_variant", stock_v);
    cJSON *b = cJSON_AddObjectToObject(cap, "bandwidth");
    cJSON_AddNumberToObject(b, "gbps", bw->gbps);
    cJSON_AddNumberToObject(b, "median_gbps", bw->median_gbps);
    cJSON_AddStringToObject(b, "pattern", bw->pattern);
    cJSON_AddNumberToObject(b, "read_gbps", rd->gbps);
    cJSON_AddStringToObject(b, "read_pattern", rd->pattern);
    cJSON_AddNumberToObject(b, "reps", bw->reps);
    cJSON_AddNumberToObject(b, "cache_bytes", (double)be->cache_bytes());
}

/* One row of the elementwise sweep. */
static int measure_shape(shape *s, const zf_gate_plan *plan, double bw_gbps, const char *kind, cJSON *rows,
                         char *msg, size_t msg_size) {
    zf_stream *stream = s->be->stream();
    call_ctx fused = {s, {ZF_FIDELITY_AUTO, stream}}, stock = {s, {ZF_FIDELITY_AUTO, stream}};
    zf_gate_pair p = {call_op, call_stock, &fused, &stock, s->sets, s->op->reads, s->op->writes};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rows", (double)s->rows);
    cJSON_AddNumberToObject(o, "cols", (double)s->cols);
    cJSON_AddStringToObject(o, "kind", kind);
    if (zf_gate_time_pair(s->be, &p, plan, bytes_per_call(s), bw_gbps, o, msg, msg_size)) {
        cJSON_Delete(o);
        return -1;
    }
    cJSON_AddItemToArray(rows, o);
    return 0;
}

/* ---- the sweep ------------------------------------------------------------------ */

static const int64_t k_widths[] = {576, 768, 1536, 2048, 4096, 14336};
static const int64_t k_decode_rows[] = {1, 2, 4, 8, 16, 32};
static const int64_t k_quick_widths[] = {576, 4096};
static const int64_t k_quick_decode_rows[] = {1, 32};
#define LARGE_ROWS 4096
#define QUICK_LARGE_ROWS 1024
#define QUICK_LARGE_COLS 4096

static int run_shape(const zf_gate_backend *be, const gate_op *op, zf_dtype t, int64_t rows, int64_t cols, int large,
                     const zf_gate_plan *plan, double bw_gbps, cJSON *out_rows, char *msg, size_t msg_size) {
    shape s = {.op = op, .be = be, .t = t, .rows = rows, .cols = cols, .sets = 1};
    if (large) {
        /* enough sets that > 4x the cache is touched before a set comes back */
        double need = 4.0 * (double)be->cache_bytes() / bytes_per_call(&s);
        s.sets = need <= 1 ? 1 : need >= MAX_SETS ? MAX_SETS : (int)ceil(need);
    }
    int rc = alloc_shape(&s, msg, msg_size);
    if (rc == 0) rc = measure_shape(&s, plan, bw_gbps, large ? "large" : "decode", out_rows, msg, msg_size);
    free_shape(&s);
    return rc;
}

static const char *variant_name(zf_op op, zf_device dev, zf_fidelity f) {
    const zf_variant *v;
    return zf_pick(op, dev, f, &v) == ZF_OK ? v->name : NULL;
}

int zf_gate_run(const zf_gate_backend *be, const zf_gate_request *req, cJSON *cap, char *msg, size_t msg_size) {
    const gate_op *op = NULL;
    for (size_t i = 0; i < sizeof k_ops / sizeof *k_ops; i++)
        if (strcmp(req->op, k_ops[i].name) == 0) op = &k_ops[i];
    if (!op) {
        snprintf(msg, msg_size, "unknown fusion '%s' (expected swiglu or add_rms_norm)", req->op);
        return 2;
    }
    if (req->dtype != ZF_DTYPE_F32 && req->dtype != ZF_DTYPE_F16 && req->dtype != ZF_DTYPE_BF16) {
        snprintf(msg, msg_size, "dtype %s is not a float dtype (expected f32, f16 or bf16)", zf_dtype_name(req->dtype));
        return 2;
    }
    /* the stock side is its parts, called one after the other (call_stock) */
    const char *fused_v = variant_name(op->op, be->device, ZF_FIDELITY_AUTO);
    const char *part0 = variant_name(op->parts[0], be->device, ZF_FIDELITY_AUTO);
    const char *part1 = variant_name(op->parts[1], be->device, ZF_FIDELITY_AUTO);
    if (!fused_v || !part0 || !part1) {
        snprintf(msg, msg_size, "%s", zf_last_error());
        return 1;
    }
    char stock_v[160];
    snprintf(stock_v, sizeof stock_v, "%s + %s", part0, part1);
    zf_gate_bw bw = {0}, rd = {0};
    if (be->bandwidth(op->reads, op->writes, req->quick, &bw, msg, msg_size) != 0 ||
        be->bandwidth(2, 0, req->quick, &rd, msg, msg_size) != 0)
        return 1;

    zf_gate_describe(cap, op->name, be, req, fused_v, stock_v, &bw, &rd);

    zf_gate_plan plan = zf_gate_plan_for(req->quick);
    zf_gate_add_method(cap, &plan, "large shapes cycle through buffer sets covering > 4x the cache; decode shapes reuse one");
    cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(cap, "method"), "eps", EPS);

    cJSON *rows = cJSON_AddArrayToObject(cap, "rows");
    const int64_t *widths = req->quick ? k_quick_widths : k_widths;
    const int64_t *drows = req->quick ? k_quick_decode_rows : k_decode_rows;
    int nw = req->quick ? 2 : 6, nd = req->quick ? 2 : 6;
    for (int wi = 0; wi < nw; wi++)
        for (int ri = 0; ri < nd; ri++)
            if (run_shape(be, op, req->dtype, drows[ri], widths[wi], 0, &plan, bw.gbps, rows, msg, msg_size)) return 1;
    if (req->quick) {
        if (run_shape(be, op, req->dtype, QUICK_LARGE_ROWS, QUICK_LARGE_COLS, 1, &plan, bw.gbps, rows, msg, msg_size))
            return 1;
    } else {
        for (int wi = 0; wi < nw; wi++)
            if (run_shape(be, op, req->dtype, LARGE_ROWS, widths[wi], 1, &plan, bw.gbps, rows, msg, msg_size)) return 1;
    }

    zf_gate_verdict(cap, fused_v, stock_v);
    return 0;
}

void zf_gate_add_method(cJSON *cap, const zf_gate_plan *plan, const char *rotation) {
    cJSON *m = cJSON_AddObjectToObject(cap, "method");
    cJSON_AddNumberToObject(m, "reps", plan->reps);
    cJSON_AddNumberToObject(m, "min_batch_ms", plan->min_batch_s * 1e3);
    cJSON_AddStringToObject(m, "order", "warm-up, then fused and stock batches interleaved A B A B");
    cJSON_AddStringToObject(m, "spread", "min and max of the per-call time over the repetitions");
    cJSON_AddStringToObject(m, "rotation", rotation);
}
