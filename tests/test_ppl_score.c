/* zf ppl's scoring (tools/zf/ppl_score.c) on made-up logits whose
 * probabilities are known: -log p of one target, steady far from zero, and a
 * window's sum, where row i scores the token after it (ids[i + 1]), the first
 * token is not scored and the last row is never read. On a model's logits a
 * perplexity is only plausible (a random model's is near its vocab; scoring
 * each row against its own input token gave ~1.9 on the tiny synthetic llama
 * and survived every test), so the values are checked here. */
#include <math.h>

#include "harness.h"
#include "ppl_score.h"

#define V 4

/* row i's probabilities: (1 + (k + i) % V) / 10, shifted by i-dependent offsets */
static double prob(int64_t i, int32_t k) { return (1 + (k + i) % V) / 10.0; }
static void fill_row(float *x, int64_t i) {
    for (int32_t k = 0; k < V; k++) x[k] = (float)(log(prob(i, k)) + 8.0 * (double)i - 20.0);
}

static void close_to(const char *what, double got, double want, double tol) {
    ZT_CHECK(fabs(got - want) <= tol, "%s: %.9g, expected %.9g", what, got, want);
}

int main(void) {
    zt_init("ppl_score");
    /* one row */
    const float uniform[5] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    close_to("uniform over 5", zf_ppl_nll(uniform, 5, 3), log(5.0), 1e-12);
    const float big[4] = {1000, 1000, 1000, 1000};
    close_to("uniform at 1000 (the max subtracted)", zf_ppl_nll(big, 4, 2), log(4.0), 1e-12);
    const float sure[3] = {-50, 40, 0};
    close_to("a near-certain target", zf_ppl_nll(sure, 3, 1), exp(-40.0) + exp(-90.0), 1e-15);
    close_to("an unlikely target", zf_ppl_nll(sure, 3, 2), 40.0, 1e-12);
    float row[V];
    for (int64_t i = 0; i < 3; i++) {
        fill_row(row, i);
        for (int32_t k = 0; k < V; k++) close_to("known probabilities", zf_ppl_nll(row, V, k), -log(prob(i, k)), 1e-5);
    }

    /* a window: consecutive tokens equal and not, the last row NaN (never read) */
    const int32_t ids[7] = {0, 2, 3, 3, 1, 0, 2};
    enum { W = 7 };
    float logits[W * V];
    for (int64_t i = 0; i < W; i++) fill_row(logits + i * V, i);
    for (int32_t k = 0; k < V; k++) logits[(W - 1) * V + k] = NAN;
    for (int64_t w = 0; w <= W; w++) {
        double want = 1.5;
        for (int64_t i = 0; i + 1 < w; i++) want += -log(prob(i, ids[i + 1]));
        double total = 1.5; /* added to, not replaced */
        zf_ppl_score_window(logits, V, ids, w, &total);
        char what[48];
        snprintf(what, sizeof what, "window of %lld tokens", (long long)w);
        close_to(what, total, want, 1e-5 * (double)W);
    }
    return zt_finish();
}
