/* zf gate's overall verdict (tools/zf/gate_verdict.c) on hand-built rows:
 * enable when the fused op wins beyond the spread on at least half the
 * shapes, loses beyond it on none, and the tier's choice is not the stock
 * variant itself. Timing decides which rows a real gate produces, so the
 * edges of the rule are only reachable here.
 *
 * And a row's figures (tools/zf/gate.c's zf_gate_time_pair) from scripted
 * timings and bandwidths of a fake backend: medians, spreads, speedup,
 * GB/s, bandwidth fractions and the shape's verdict; the CPU backend's
 * timed loop (gate_cpu.c) rotating over the buffer sets. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "gate.h"
#include "harness.h"

#define WIN "enable", "fused faster beyond the spread"
#define TIE "not worth it", "the difference is within the spread"
#define LOSS "not worth it", "fused slower beyond the spread"

/* rows: n pairs of (verdict, reason) */
static void expect(const char *what, const char *fused_v, const char *stock_v, const char *want, int n, ...) {
    cJSON *cap = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(cap, "rows");
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "verdict", va_arg(ap, const char *));
        cJSON_AddStringToObject(r, "reason", va_arg(ap, const char *));
        cJSON_AddItemToArray(rows, r);
    }
    va_end(ap);
    zf_gate_verdict(cap, fused_v, stock_v);
    const char *got = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cap, "verdict"));
    ZT_CHECK(got && strcmp(got, want) == 0, "%s: verdict %s, expected %s", what, got ? got : "(none)", want);
    ZT_CHECK(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cap, "verdict_reason")) &&
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cap, "verdict_rule")),
             "%s: no verdict_reason or verdict_rule", what);
    cJSON_Delete(cap);
}

/* The reason counts the rows: wins, all of them, losses. */
static void check_reason(void) {
    cJSON *cap = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(cap, "rows");
    const char *rv[][2] = {{WIN}, {TIE}, {LOSS}, {TIE}};
    for (int i = 0; i < 4; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "verdict", rv[i][0]);
        cJSON_AddStringToObject(r, "reason", rv[i][1]);
        cJSON_AddItemToArray(rows, r);
    }
    zf_gate_verdict(cap, "cpu.avx2.swiglu.exact", "cpu.avx2.swiglu.stock");
    const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cap, "verdict_reason"));
    const char *want = "fused faster beyond the spread on 1 of 4 shapes, slower on 1";
    ZT_CHECK(why && strcmp(why, want) == 0, "verdict_reason '%s', expected '%s'", why ? why : "(none)", want);
    cJSON_Delete(cap);
}

/* ---- zf_gate_time_pair on a scripted backend ------------------------------------ */

/* Each timed batch after the warm-up takes its script's next per-call time
 * (seconds) times its calls; the bandwidth probes (before, after) give theirs. */
static struct {
    const double *fused, *stock;
    int n_fused, n_stock; /* batches timed so far, warm-up included */
    double bw[2];
    int n_bw;
} g_script;
static int g_fused_tag, g_stock_tag; /* the pair's contexts: which side a batch times */

static zf_status no_call(void *ctx, int set) {
    (void)ctx;
    (void)set;
    return ZF_OK;
}

static zf_status scripted_time(zf_gate_call_fn call, void *ctx, int n, int sets, double *seconds) {
    (void)call;
    (void)sets;
    int fused = ctx == &g_fused_tag;
    int *k = fused ? &g_script.n_fused : &g_script.n_stock;
    const double *per_call = fused ? g_script.fused : g_script.stock;
    *seconds = n * (*k == 0 ? 1e-3 : per_call[*k - 1]); /* the first batch is the warm-up */
    ++*k;
    return ZF_OK;
}

static int scripted_bw(int reads, int writes, int quick, zf_gate_bw *out, char *msg, size_t msg_size) {
    (void)reads, (void)writes, (void)quick, (void)msg, (void)msg_size;
    memset(out, 0, sizeof *out);
    out->gbps = g_script.bw[g_script.n_bw++ % 2];
    return 0;
}

static const zf_gate_backend k_scripted = {.name = "scripted", .device = ZF_DEVICE_CPU, .bandwidth = scripted_bw,
                                           .time_calls = scripted_time};

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void expect_num(const char *what, const cJSON *row, const char *key, double want) {
    double got = num(row, key);
    ZT_CHECK(fabs(got - want) <= 1e-12 * fabs(want), "%s: %s = %.17g, expected %.17g", what, key, got, want);
}

static void expect_str(const char *what, const cJSON *row, const char *key, const char *want) {
    const char *got = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, key));
    ZT_CHECK(got && strcmp(got, want) == 0, "%s: %s '%s', expected '%s'", what, key, got ? got : "(none)", want);
}

/* Times a pair whose batches take fused[r] and stock[r] seconds per call
 * (reps of each), with `bytes` per call, a reported bandwidth of 8 GB/s and
 * the probes around the shape giving bw_before then bw_after; the row. */
static cJSON *time_scripted(int reps, const double *fused, const double *stock, double bw_before, double bw_after) {
    g_script.fused = fused, g_script.stock = stock;
    g_script.n_fused = g_script.n_stock = g_script.n_bw = 0;
    g_script.bw[0] = bw_before, g_script.bw[1] = bw_after;
    zf_gate_pair p = {no_call, no_call, &g_fused_tag, &g_stock_tag, 1, 2, 1};
    zf_gate_plan plan = {reps, 0.0}; /* one call per batch: no batch is too short */
    cJSON *row = cJSON_CreateObject();
    char msg[256] = "";
    ZT_CHECK(zf_gate_time_pair(&k_scripted, &p, &plan, 4000.0, 8.0, row, msg, sizeof msg) == 0, "time_pair: %s", msg);
    ZT_CHECK(g_script.n_fused == reps + 1 && g_script.n_stock == reps + 1, "%d fused and %d stock batches for %d reps",
             g_script.n_fused, g_script.n_stock, reps);
    return row;
}

static void check_time_pair(void) {
    /* fused 1, 3, 2 us (median 2), stock 5, 4, 9 us (median 5): fused max 3 < stock min 4 */
    const double f1[] = {1e-6, 3e-6, 2e-6}, s1[] = {5e-6, 4e-6, 9e-6};
    cJSON *r = time_scripted(3, f1, s1, 10.0, 20.0);
    const char *w = "fused faster beyond the spread";
    expect_num(w, r, "bytes", 4000.0);
    expect_num(w, r, "buffer_sets", 1);
    expect_num(w, r, "calls_per_rep", 1);
    expect_num(w, r, "fused_median_us", 2.0);
    expect_num(w, r, "fused_min_us", 1.0);
    expect_num(w, r, "fused_max_us", 3.0);
    expect_num(w, r, "stock_median_us", 5.0);
    expect_num(w, r, "stock_min_us", 4.0);
    expect_num(w, r, "stock_max_us", 9.0);
    expect_num(w, r, "speedup", 2.5);      /* stock median over fused median */
    expect_num(w, r, "speedup_min", 4.0 / 3.0); /* per repetition: 5/1, 4/3, 9/2 */
    expect_num(w, r, "speedup_max", 5.0);
    expect_num(w, r, "fused_gbps", 2.0);   /* 4000 bytes in 2 us */
    expect_num(w, r, "stock_gbps", 0.8);   /* 4000 bytes in 5 us */
    expect_num(w, r, "bandwidth_fraction", 0.25); /* 2 GB/s of the reported 8 */
    expect_num(w, r, "stock_bandwidth_fraction", 0.1);
    expect_num(w, r, "paired_bandwidth_gbps", 20.0); /* the better of the probes around the shape */
    expect_num(w, r, "paired_bandwidth_fraction", 0.1);
    expect_str(w, r, "verdict", "enable");
    expect_str(w, r, "reason", w);
    cJSON_Delete(r);

    /* fused median 2 below every stock time, but its maximum 5 is not: a tie;
     * the probe before the shape is the better one */
    const double f2[] = {1e-6, 5e-6, 2e-6}, s2[] = {4e-6, 6e-6, 7e-6};
    r = time_scripted(3, f2, s2, 30.0, 20.0);
    w = "the spreads overlap";
    expect_num(w, r, "fused_median_us", 2.0);
    expect_num(w, r, "stock_median_us", 6.0);
    expect_num(w, r, "paired_bandwidth_gbps", 30.0);
    expect_str(w, r, "verdict", "not worth it");
    expect_str(w, r, "reason", "the difference is within the spread");
    cJSON_Delete(r);

    /* fused slower: its minimum 5 above the stock maximum 3 */
    const double f3[] = {6e-6, 5e-6, 7e-6}, s3[] = {1e-6, 3e-6, 2e-6};
    r = time_scripted(3, f3, s3, 10.0, 10.0);
    w = "fused slower beyond the spread";
    expect_num(w, r, "speedup", 2.0 / 6.0);
    expect_str(w, r, "verdict", "not worth it");
    expect_str(w, r, "reason", w);
    cJSON_Delete(r);

    /* an even count of repetitions: the median is the mean of the middle two */
    const double f4[] = {4e-6, 1e-6, 2e-6, 3e-6}, s4[] = {8e-6, 9e-6, 6e-6, 7e-6};
    r = time_scripted(4, f4, s4, 10.0, 10.0);
    w = "four repetitions";
    expect_num(w, r, "fused_median_us", 2.5);
    expect_num(w, r, "stock_median_us", 7.5);
    expect_num(w, r, "speedup", 3.0);
    cJSON_Delete(r);

    /* the plans: --quick and the full sweep */
    zf_gate_plan q = zf_gate_plan_for(1), full = zf_gate_plan_for(0);
    ZT_CHECK(q.reps == 3 && q.min_batch_s == 0.004, "quick plan: %d reps, %g s", q.reps, q.min_batch_s);
    ZT_CHECK(full.reps == 7 && full.min_batch_s == 0.02, "full plan: %d reps, %g s", full.reps, full.min_batch_s);
}

/* The CPU backend's timed loop: call i gets buffer set i % sets; a failing
 * call stops the loop with its status. */
static int g_sets_seen[16], g_calls;
static zf_status record_call(void *ctx, int set) {
    int fail_at = *(const int *)ctx;
    if (g_calls < 16) g_sets_seen[g_calls] = set;
    return g_calls++ == fail_at ? ZF_ERR_BACKEND : ZF_OK;
}

static void check_cpu_rotation(void) {
    int fail_at = -1;
    double sec = -1;
    g_calls = 0;
    ZT_CHECK(zf_gate_cpu.time_calls(record_call, &fail_at, 7, 3, &sec) == ZF_OK, "cpu time_calls failed");
    ZT_CHECK(g_calls == 7 && sec >= 0, "%d calls, %g s", g_calls, sec);
    for (int i = 0; i < 7 && i < g_calls; i++)
        ZT_CHECK(g_sets_seen[i] == i % 3, "call %d used buffer set %d, expected %d", i, g_sets_seen[i], i % 3);
    fail_at = 4;
    g_calls = 0;
    ZT_CHECK(zf_gate_cpu.time_calls(record_call, &fail_at, 7, 3, &sec) == ZF_ERR_BACKEND,
             "a failing call's status not returned");
    ZT_CHECK(g_calls == 5, "%d calls after the failing fifth", g_calls);
}

int main(void) {
    zt_init("test_gate_verdict");
    const char *f = "cpu.avx2.swiglu.exact", *s = "cpu.avx2.swiglu.stock";
    expect("every shape wins", f, s, "enable", 3, WIN, WIN, WIN);
    expect("exactly half win, the rest tie", f, s, "enable", 2, WIN, TIE);
    expect("half win of four", f, s, "enable", 4, TIE, WIN, TIE, WIN);
    expect("under half win", f, s, "not worth it", 3, WIN, TIE, TIE);
    expect("one loss among wins", f, s, "not worth it", 3, WIN, WIN, LOSS);
    expect("the tier runs the stock variant", s, s, "not worth it", 2, WIN, WIN);
    expect("every shape ties", f, s, "not worth it", 2, TIE, TIE);
    check_reason();
    check_time_pair();
    check_cpu_rotation();
    return zt_finish();
}
