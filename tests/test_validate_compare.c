/* zf validate's token comparison (tools/zf/validate_compare.c): equal runs
 * pass, a divergence is found at its first position, a run that stops early
 * fails, and the pairs compared are the shorter run's length. */
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

int main(void) {
    zt_init("validate_compare");
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
