/* zf validate's comparison (tools/zf/validate_compare.c): equal runs
 * pass, a divergence is found at its first position, a run that stops early
 * fails, and the pairs compared are the shorter run's length; over a whole
 * validation, the first generation to differ is named by its own run, prompt
 * and side (a real validation's runs agree or differ alike, so a later run
 * differing alone is only reachable here); the top-2 logit margin on
 * concrete logits, ties and NaN. */
#include <math.h>

#include "harness.h"
#include "validate_compare.h"

static void expect(const char *what, const int32_t *a, int64_t na, const int32_t *b, int64_t nb, int same,
                   int64_t first_diff, int64_t compared) {
    zf_token_cmp c = zf_compare_tokens(a, na, b, nb);
    ZT_CHECK(c.same == same, "%s: same %d, expected %d", what, c.same, same);
    ZT_CHECK(c.first_diff == first_diff, "%s: first divergence %lld, expected %lld", what, (long long)c.first_diff,
             (long long)first_diff);
    ZT_CHECK(c.compared == compared, "%s: %lld pairs compared, expected %lld", what, (long long)c.compared,
             (long long)compared);
}

static void expect_margin(const char *what, const float *x, int64_t n, int64_t best, float want) {
    float got = zf_top2_margin(x, n, best);
    ZT_CHECK(got == want || (got != got && want != want), "%s: margin %g, expected %g", what, got, want);
}

static void margins(void) {
    const float a[3] = {1, 3, 2};
    expect_margin("[1 3 2]", a, 3, 1, 1.0f);
    const float b[4] = {-5, -2, -9, -2.5f};
    expect_margin("negative", b, 4, 1, 0.5f);
    const float c[4] = {7, 0, 6.75f, 1};
    expect_margin("best first", c, 4, 0, 0.25f);
    const float d[4] = {0, 4, 1, 9};
    expect_margin("best last", d, 4, 3, 5.0f);
    const float tie[3] = {3, 1, 3};
    expect_margin("tie, the first taken", tie, 3, 0, 0.0f);
    expect_margin("tie, the last taken", tie, 3, 2, 0.0f);
    const float one[1] = {2};
    expect_margin("one logit", one, 1, 0, INFINITY);
    const float nan_other[4] = {NAN, 2, 0.5f, NAN};
    expect_margin("NaN others skipped", nan_other, 4, 1, 1.5f);
    const float only_nan[3] = {NAN, 2, NAN};
    expect_margin("every other NaN", only_nan, 3, 1, INFINITY);
    const float nan_best[3] = {1, NAN, 0};
    expect_margin("NaN best", nan_best, 3, 1, NAN);
    const float ninf[2] = {-INFINITY, 1};
    expect_margin("-inf other", ninf, 2, 1, INFINITY);
}

/* gens[(r * P + p) * 2 + side] for R runs of P prompts */
#define R 2
#define P 2
static void expect_runs(const char *what, const zf_token_run *g, int64_t compared, int64_t mismatched, int fp, int fr,
                        int fs, int64_t fpos) {
    zf_runs_cmp v = zf_compare_runs(g, R, P);
    ZT_CHECK(v.compared == compared, "%s: %lld pairs compared, expected %lld", what, (long long)v.compared,
             (long long)compared);
    ZT_CHECK(v.mismatched == mismatched, "%s: %lld runs differ, expected %lld", what, (long long)v.mismatched,
             (long long)mismatched);
    ZT_CHECK(v.first_prompt == fp && v.first_run == fr && v.first_side == fs && v.first_pos == fpos,
             "%s: first divergence prompt %d run %d side %d position %lld, expected %d %d %d %lld", what, v.first_prompt,
             v.first_run, v.first_side, (long long)v.first_pos, fp, fr, fs, (long long)fpos);
}

static void runs(void) {
    const int32_t ref[P][6] = {{4, 8, 15, 16, 23, 42}, {1, 2, 3, 5, 8, 13}};
    int32_t other[6];
    zf_token_run g[R * P * 2];
    for (int i = 0; i < R * P * 2; i++) g[i] = (zf_token_run){ref[(i / 2) % P], 6};
    /* per prompt 3 comparisons (run 0 side 1, run 1 both sides) of 6 pairs */
    expect_runs("all equal", g, 2 * 3 * 6, 0, -1, -1, -1, -1);
    /* run 1 differs alone: named as run 1, not the first run */
    for (int i = 0; i < 6; i++) other[i] = ref[1][i];
    other[3] = 99;
    g[(1 * P + 1) * 2 + 1] = (zf_token_run){other, 6};
    expect_runs("run 2 differs, other side", g, 36, 1, 1, 1, 1, 3);
    g[(1 * P + 1) * 2 + 1] = (zf_token_run){ref[1], 6};
    g[(1 * P + 1) * 2 + 0] = (zf_token_run){other, 6};
    expect_runs("run 2 differs, reference side", g, 36, 1, 1, 1, 0, 3);
    /* an earlier run comes first, whatever its prompt */
    int32_t early[6] = {4, 8, 15, 16, 23, 41};
    g[(1 * P + 0) * 2 + 1] = (zf_token_run){early, 6};
    expect_runs("run 2 differs on both prompts", g, 36, 2, 0, 1, 1, 5);
    g[(0 * P + 1) * 2 + 1] = (zf_token_run){early, 6};
    expect_runs("run 1 on prompt 2 before run 2", g, 36, 3, 1, 0, 1, 0);
    /* a run that stops early: fewer pairs, and it differs at its end */
    for (int i = 0; i < R * P * 2; i++) g[i] = (zf_token_run){ref[(i / 2) % P], 6};
    g[(1 * P + 0) * 2 + 1] = (zf_token_run){ref[0], 4};
    expect_runs("run 2 stops early", g, 36 - 2, 1, 0, 1, 1, 4);
}

int main(void) {
    zt_init("validate_compare");
    margins();
    runs();
    const int32_t a[8] = {5, 17, 3, 3, 99, 0, 42, 7};
    int32_t b[8];
    for (int i = 0; i < 8; i++) b[i] = a[i];

    expect("equal", a, 8, b, 8, 1, 8, 8);
    expect("equal, one token", a, 1, b, 1, 1, 1, 1);
    expect("both empty", a, 0, b, 0, 1, 0, 0);
    /* a divergence at every position k: found there, and the whole length still counts */
    for (int k = 0; k < 8; k++) {
        char what[48];
        snprintf(what, sizeof what, "diverging at %d", k);
        b[k] = a[k] + 1;
        expect(what, a, 8, b, 8, 0, k, 8);
        /* a later difference does not move the first one */
        if (k + 2 < 8) {
            b[k + 2] = -1;
            expect(what, a, 8, b, 8, 0, k, 8);
            b[k + 2] = a[k + 2];
        }
        b[k] = a[k];
    }
    /* different lengths: the common prefix agrees, yet the runs differ */
    expect("b stops early", a, 8, b, 5, 0, 5, 5);
    expect("a stops early", a, 3, b, 8, 0, 3, 3);
    expect("one empty", a, 0, b, 8, 0, 0, 0);
    /* different lengths and a divergence inside the shorter run */
    b[2] = 1000;
    expect("shorter and diverging", a, 8, b, 6, 0, 2, 6);
    expect("diverging, other side shorter", a, 4, b, 8, 0, 2, 4);
    b[2] = a[2];
    return zt_finish();
}
