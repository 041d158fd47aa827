/* ZF_PROFILE (core/profile.h): every public op's calls counted per op and
 * device, a nested call's time taken out of its caller's, the report's rows
 * adding up to its total; off, nothing is recorded. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/profile.h"
#include "harness.h"

/* the report as text (caller frees) */
static char *report(void) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    zf_prof_report(f);
    fclose(f);
    return text;
}

/* calls and total ms of the row "op device", or -1 calls when absent */
static void row_of(const char *text, const char *op, const char *dev, long long *calls, double *ms) {
    *calls = -1;
    *ms = 0;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char o[32], d[8];
        long long c;
        double t;
        if (sscanf(l, "%31s %7s %lld %lf", o, d, &c, &t) == 4 && strcmp(o, op) == 0 && strcmp(d, dev) == 0) {
            *calls = c;
            *ms = t;
            return;
        }
    }
}

/* one decode step's attention (no q/k norm): the CPU composition calls
 * rope twice, copy twice and attention once, through the public entry points */
static void attention_decode_once(void) {
    enum { HQ = 8, HKV = 2, D = 64, L = 256 }; /* attention over 201 keys: its time well above 1 us */
    static float q[HQ * D], k[HKV * D], v[HKV * D], cs[L * D], kc[HKV * L * D], vc[HKV * L * D], out[HQ * D];
    static int32_t pos = 200;
    zt_fill(ZF_DTYPE_F32, q, HQ * D, 1.0f);
    zt_fill(ZF_DTYPE_F32, k, HKV * D, 1.0f);
    zt_fill(ZF_DTYPE_F32, v, HKV * D, 1.0f);
    zt_fill(ZF_DTYPE_F32, cs, L * D, 1.0f);
    zt_fill(ZF_DTYPE_F32, kc, HKV * L * D, 1.0f);
    zt_fill(ZF_DTYPE_F32, vc, HKV * L * D, 1.0f);
    const int64_t qs[3] = {1, HQ, D}, ks[3] = {1, HKV, D}, css[3] = {L, D / 2, 2}, cache[3] = {HKV, L, D}, one[1] = {1};
    zf_tensor tq = zf_tensor_nd(q, ZF_DTYPE_F32, 3, qs), tk = zf_tensor_nd(k, ZF_DTYPE_F32, 3, ks),
              tv = zf_tensor_nd(v, ZF_DTYPE_F32, 3, ks), tcs = zf_tensor_nd(cs, ZF_DTYPE_F32, 3, css),
              tpos = zf_tensor_nd(&pos, ZF_DTYPE_I32, 1, one), tkc = zf_tensor_nd(kc, ZF_DTYPE_F32, 3, cache),
              tvc = zf_tensor_nd(vc, ZF_DTYPE_F32, 3, cache), tout = zf_tensor_nd(out, ZF_DTYPE_F32, 3, qs);
    ZT_OK(zf_attention_decode(&tq, &tk, &tv, NULL, &tcs, 1, &tpos, &tkc, &tvc, 0.25f, &tout, NULL));
}

/* The accounting alone, on sites of its own with sleeps for work: a caller
 * that runs 1 ms itself around two nested calls of 20 ms each. */
static void sleep_ms(int ms) {
    struct timespec t = {0, (long)ms * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}
static void nested_accounting(void) {
    static zf_prof_site outer = {.name = "test_outer"}, inner1 = {.name = "test_inner1"},
                        inner2 = {.name = "test_inner2"};
    uint64_t so, s1, s2;
    const uint64_t to = zf_prof_begin(&so);
    const uint64_t t1 = zf_prof_begin(&s1);
    sleep_ms(20);
    zf_prof_end(&inner1, ZF_DEVICE_CPU, t1, s1);
    const uint64_t t2 = zf_prof_begin(&s2);
    sleep_ms(20);
    zf_prof_end(&inner2, ZF_DEVICE_CPU, t2, s2);
    sleep_ms(1);
    zf_prof_end(&outer, ZF_DEVICE_CPU, to, so);
    char *text = report();
    long long c;
    double o, i1, i2;
    row_of(text, "test_outer", "cpu", &c, &o);
    row_of(text, "test_inner1", "cpu", &c, &i1);
    row_of(text, "test_inner2", "cpu", &c, &i2);
    ZT_CHECK(o >= 1.0 && o < i1 && o < i2 && i1 >= 20.0 && i2 >= 20.0,
             "outer's own time %.3f ms (slept 1), nested 20 ms calls %.3f and %.3f\n%s", o, i1, i2, text ? text : "");
    free(text);
}

int main(void) {
    zt_init("profile");
    /* read once, at the first op: set before any */
    setenv("ZF_PROFILE", "1", 1);
    ZT_CHECK(zf_prof_on() == 1, "ZF_PROFILE=1 does not turn the profile on");
    setenv("ZF_PROFILE", "0", 1);
    ZT_CHECK(zf_prof_on() == 1, "the setting is read once");

    enum { N = 1000, CALLS = 7 };
    zt_buf a = zt_alloc(ZF_DTYPE_F32, N), b = zt_alloc(ZF_DTYPE_F32, N), c = zt_alloc(ZF_DTYPE_F32, N);
    zt_fill(ZF_DTYPE_F32, a.p, N, 1.0f);
    zt_fill(ZF_DTYPE_F32, b.p, N, 1.0f);
    zf_tensor ta = zf_tensor_1d(a.p, ZF_DTYPE_F32, N), tb = zf_tensor_1d(b.p, ZF_DTYPE_F32, N),
              tc = zf_tensor_1d(c.p, ZF_DTYPE_F32, N);
    for (int i = 0; i < CALLS; i++) ZT_OK(zf_add(&ta, &tb, &tc, NULL));
    ZT_OK(zf_mul(&ta, &tb, &tc, NULL));
    ZT_CHECK(zf_add(NULL, &tb, &tc, NULL) == ZF_ERR_INVALID_ARG, "NULL input"); /* refused before the backend */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 3; i++) attention_decode_once();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double ms_outside = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;

    char *text = report();
    ZT_CHECK(text != NULL, "no report");
    long long calls;
    double ms, ms_dec, ms_all = -1;
    row_of(text, "add", "cpu", &calls, &ms);
    ZT_CHECK(calls == CALLS, "add: %lld calls, expected %d\n%s", calls, CALLS, text ? text : "");
    row_of(text, "mul", "cpu", &calls, &ms);
    ZT_CHECK(calls == 1, "mul: %lld calls", calls);
    row_of(text, "attention_decode", "cpu", &calls, &ms_dec);
    ZT_CHECK(calls == 3, "attention_decode: %lld calls", calls);
    const char *nested[] = {"rope", "copy", "attention"};
    const long long per_step[] = {2, 2, 1};
    double ms_nested = 0;
    for (int i = 0; i < 3; i++) {
        row_of(text, nested[i], "cpu", &calls, &ms);
        ZT_CHECK(calls == 3 * per_step[i], "%s inside attention_decode: %lld calls, expected %lld", nested[i], calls,
                 3 * per_step[i]);
        ms_nested += ms;
    }
    row_of(text, "silu", "cpu", &calls, &ms);
    ZT_CHECK(calls == -1, "a row for an op never called");
    /* the total is the rows' sum (each printed to 1 us) */
    double sum = 0;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char o[32], d[8];
        long long n;
        double t;
        if (sscanf(l, "%31s %7s %lld %lf", o, d, &n, &t) == 4) sum += t;
        if (sscanf(l, "all %lf", &t) == 1) ms_all = t;
    }
    ZT_CHECK(text && strstr(text, "\nall "), "no total line");
    ZT_CHECK(sum > 0 && sum - ms_all < 0.02 && ms_all - sum < 0.02, "rows sum to %.3f ms, total %.3f", sum, ms_all);
    /* exclusive times: the composition's own time and its callees' add up to
     * no more than the calls took, timed around them (the report rounds each
     * to 1 us); counted inclusive, the callees would be in it twice */
    ZT_CHECK(ms_dec >= 0 && ms_nested > 0.01, "attention_decode %.3f ms, its callees %.3f", ms_dec, ms_nested);
    ZT_CHECK(ms_dec + ms_nested <= ms_outside + 0.002, "attention_decode %.3f ms + its callees %.3f > %.3f ms around",
             ms_dec, ms_nested, ms_outside);
    free(text);

    nested_accounting();
    zf_prof_reset();
    text = report();
    row_of(text, "add", "cpu", &calls, &ms);
    ZT_CHECK(calls == -1, "add still reported after the reset (%lld calls)", calls);
    free(text);
    zt_free(&a);
    zt_free(&b);
    zt_free(&c);
    return zt_finish();
}
