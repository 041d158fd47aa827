/* zf ppl's scoring: the negative log-likelihood of a window's tokens given
 * the logits of its forward pass. */
#ifndef ZF_PPL_SCORE_H
#define ZF_PPL_SCORE_H

#include <stdint.h>

/* -log p(target) from one row of n logits: log-softmax in double. */
double zf_ppl_nll(const float *x, int64_t n, int32_t target);

/* For a window of w tokens ids[0..w) and its w rows of vocab logits (row i
 * after ids[0..i]): adds to *total the -log p of ids[i + 1] under row i for
 * i < w - 1, term by term in order. The first token has no context and the
 * last row predicts past the window: neither is scored. */
void zf_ppl_score_window(const float *logits, int64_t vocab, const int32_t *ids, int64_t w, double *total);

#endif
