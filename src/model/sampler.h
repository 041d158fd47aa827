/* Token sampling from logits: greedy (argmax, ties to the lower id) or
 * temperature + top-k + top-p with a seeded generator, so a seed replays. */
#ifndef ZF_MODEL_SAMPLER_H
#define ZF_MODEL_SAMPLER_H

#include <stdint.h>

#include "zfast.h"

typedef struct zf_sampler_params {
    float temperature; /* <= 0: greedy */
    int32_t top_k;     /* 0: no limit */
    float top_p;       /* 1: no limit; in (0, 1] */
    uint64_t seed;
} zf_sampler_params;

typedef struct zf_sampler zf_sampler;

/* Scratch for `vocab` candidates is allocated here, once. */
zf_status zf_sampler_create(const zf_sampler_params *p, int64_t vocab, zf_sampler **out);
void zf_sampler_destroy(zf_sampler *s);
/* Picks the next token from logits[vocab] (f32). */
zf_status zf_sampler_sample(zf_sampler *s, const float *logits, int32_t *token);

/* Index of the largest value, ties to the lower index; NaNs are skipped
 * (an all-NaN row gives 0). */
int64_t zf_argmax(const float *x, int64_t n);

#endif
