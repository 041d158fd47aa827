/* zf validate's comparison: two greedy generations token by token, every
 * run of a validation against its reference, and the top-2 logit margin the
 * verdict reports where they part. Its own file so a unit test can link it:
 * a real validation's runs all agree or all differ alike, so which run is
 * named first, and the margin's value, are only reachable there. */
#ifndef ZF_VALIDATE_COMPARE_H
#define ZF_VALIDATE_COMPARE_H

#include <stdint.h>

typedef struct zf_token_cmp {
    int64_t compared;   /* token pairs compared: the shorter of the two lengths */
    int64_t first_diff; /* first position whose tokens differ; the shorter length when none does */
    int same;           /* 1 when both hold the same count of identical tokens */
} zf_token_cmp;

zf_token_cmp zf_compare_tokens(const int32_t *a, int64_t na, const int32_t *b, int64_t nb);

/* One generation's tokens. */
typedef struct zf_token_run {
    const int32_t *tokens;
    int64_t count;
} zf_token_run;

typedef struct zf_runs_cmp {
    int64_t compared;   /* token pairs over every comparison */
    int64_t mismatched; /* generations whose tokens differ from their reference */
    /* the first that differs, in run, prompt, side order (all -1 when none does) */
    int first_prompt, first_run, first_side;
    int64_t first_pos; /* its first differing position (zf_token_cmp.first_diff) */
} zf_runs_cmp;

/* gens[(r * n_prompts + p) * 2 + side] is run r of prompt p on side 0 (the
 * reference) or 1: every generation but the reference's first run is
 * compared with that first run of its prompt. */
zf_runs_cmp zf_compare_runs(const zf_token_run *gens, int runs, int n_prompts);

/* x[best] minus the largest other entry of x[0..n): how near a tie the
 * greedy pick was (0 on a tie). NaN entries are never the largest other
 * (a comparison with NaN is false); with no other entry the margin is +inf. */
float zf_top2_margin(const float *x, int64_t n, int64_t best);

#endif
