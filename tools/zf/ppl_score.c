/* zf ppl's scoring (its own file so a unit test can link it: on a model's
 * logits a perplexity is only plausible, on made-up ones it is known). */
#include "ppl_score.h"

#include <math.h>

double zf_ppl_nll(const float *x, int64_t n, int32_t target) {
    double mx = -INFINITY, sum = 0.0;
    for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int64_t i = 0; i < n; i++) sum += exp((double)x[i] - mx);
    return -((double)x[target] - mx - log(sum));
}

void zf_ppl_score_window(const float *logits, int64_t vocab, const int32_t *ids, int64_t w, double *total) {
    for (int64_t i = 0; i + 1 < w; i++) *total += zf_ppl_nll(logits + i * vocab, vocab, ids[i + 1]);
}
