/* Sampling: greedy is an argmax; otherwise candidates (all, or the top k by
 * logit, ties to the lower id) sorted by logit, weights exp((l - max) / temp)
 * with the library's exp, the top-p prefix kept, and one uniform draw from a
 * splitmix64 stream walks the cumulative weights (summed in float64). */
#include "model/sampler.h"

#include <stdlib.h>

#include "core/error.h"

typedef struct cand {
    float logit;
    int32_t id;
} cand;

struct zf_sampler {
    zf_sampler_params p;
    int64_t vocab;
    uint64_t state;
    cand *c;   /* candidates */
    double *w; /* their weights */
};

int64_t zf_argmax(const float *x, int64_t n) {
    int64_t best = -1;
    for (int64_t i = 0; i < n; i++)
        if (x[i] == x[i] && (best < 0 || x[i] > x[best])) best = i;
    return best < 0 ? 0 : best;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

zf_status zf_sampler_create(const zf_sampler_params *p, int64_t vocab, zf_sampler **out) {
    if (!p || !out) return zf_error(ZF_ERR_INVALID_ARG, "[sampler] NULL argument");
    if (vocab < 1 || vocab > INT32_MAX)
        return zf_error(ZF_ERR_INVALID_ARG, "[sampler] vocab = %lld; expected 1 .. 2^31-1", (long long)vocab);
    if (!(p->temperature == p->temperature) || p->temperature > 1e6f)
        return zf_error(ZF_ERR_INVALID_ARG, "[sampler] temperature %g; expected a finite value (<= 0: greedy)",
                        (double)p->temperature);
    if (p->top_k < 0)
        return zf_error(ZF_ERR_INVALID_ARG, "[sampler] top_k = %d; expected >= 0 (0: no limit)", (int)p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return zf_error(ZF_ERR_INVALID_ARG, "[sampler] top_p = %g; expected a value in (0, 1]", (double)p->top_p);
    zf_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->c = malloc((size_t)vocab * sizeof *s->c);
        s->w = malloc((size_t)vocab * sizeof *s->w);
    }
    if (!s || !s->c || !s->w) {
        zf_sampler_destroy(s);
        return zf_error(ZF_ERR_NO_MEMORY, "[sampler] no memory for %lld candidates", (long long)vocab);
    }
    s->p = *p;
    s->vocab = vocab;
    s->state = p->seed;
    *out = s;
    return ZF_OK;
}

void zf_sampler_destroy(zf_sampler *s) {
    if (!s) return;
    free(s->c);
    free(s->w);
    free(s);
}

/* a ranks before b: higher logit, then lower id */
static int before(const cand *a, const cand *b) { return a->logit > b->logit || (a->logit == b->logit && a->id < b->id); }

/* Min-heap (by rank) of the k best so far: the root is the worst kept. */
static void sift_down(cand *h, int64_t n, int64_t i) {
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && before(&h[c], &h[c + 1])) c++;
        if (!before(&h[i], &h[c])) return;
        cand t = h[i]; h[i] = h[c]; h[c] = t;
        i = c;
    }
}

static int cmp_rank(const void *a, const void *b) { return before(a, b) ? -1 : before(b, a) ? 1 : 0; }

zf_status zf_sampler_sample(zf_sampler *s, const float *logits, int32_t *token) {
    if (!s || !logits || !token) return zf_error(ZF_ERR_INVALID_ARG, "[sampler] NULL argument");
    if (s->p.temperature <= 0.0f) {
        *token = (int32_t)zf_argmax(logits, s->vocab);
        return ZF_OK;
    }
    int64_t n = 0;
    for (int32_t i = 0; i < s->vocab; i++)
        if (logits[i] == logits[i]) s->c[n++] = (cand){logits[i], i}; /* NaN logits never win */
    if (n == 0) return zf_error(ZF_ERR_INVALID_ARG, "[sampler] every logit is NaN");
    int64_t k = s->p.top_k > 0 && s->p.top_k < n ? s->p.top_k : n;
    if (k < n) { /* keep the k best in a heap, then sort only those */
        for (int64_t i = k / 2; i-- > 0;) sift_down(s->c, k, i);
        for (int64_t i = k; i < n; i++)
            if (before(&s->c[i], &s->c[0])) {
                s->c[0] = s->c[i];
                sift_down(s->c, k, 0);
            }
    }
    qsort(s->c, (size_t)k, sizeof *s->c, cmp_rank);
    float mx = s->c[0].logit;
    double total = 0.0;
    for (int64_t i = 0; i < k; i++) {
        s->w[i] = (double)zf_expf((s->c[i].logit - mx) / s->p.temperature);
        total += s->w[i];
    }
    if (s->p.top_p < 1.0f) { /* smallest prefix holding top_p of the weight */
        double cum = 0.0, want = (double)s->p.top_p * total;
        int64_t keep = 0;
        while (keep < k && cum < want) cum += s->w[keep++];
        k = keep;
        total = cum;
    }
    double u = (double)(splitmix64(&s->state) >> 11) * 0x1p-53 * total, cum = 0.0;
    int64_t pick = k - 1;
    for (int64_t i = 0; i < k; i++) {
        cum += s->w[i];
        if (u < cum) { pick = i; break; }
    }
    *token = s->c[pick].id;
    return ZF_OK;
}
