/* zf validate's comparison (its own file so a unit test can link it). */
#include "validate_compare.h"

#include <math.h>

zf_token_cmp zf_compare_tokens(const int32_t *a, int64_t na, const int32_t *b, int64_t nb) {
    int64_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    zf_token_cmp c = {n, i, i == n && na == nb};
    return c;
}

zf_runs_cmp zf_compare_runs(const zf_token_run *gens, int runs, int n_prompts) {
    zf_runs_cmp v = {0, 0, -1, -1, -1, -1};
    for (int r = 0; r < runs; r++)
        for (int p = 0; p < n_prompts; p++) {
            const zf_token_run *a = &gens[p * 2 + 0];
            for (int side = 0; side < 2; side++) {
                const zf_token_run *b = &gens[(r * n_prompts + p) * 2 + side];
                if (b == a) continue;
                zf_token_cmp c = zf_compare_tokens(a->tokens, a->count, b->tokens, b->count);
                v.compared += c.compared;
                if (!c.same) {
                    v.mismatched++;
                    if (v.first_prompt < 0) {
                        v.first_prompt = p;
                        v.first_run = r;
                        v.first_pos = c.first_diff;
                        v.first_side = side;
                    }
                }
            }
        }
    return v;
}

float zf_top2_margin(const float *x, int64_t n, int64_t best) {
    float second = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (i != best && x[i] > second) second = x[i];
    return x[best] - second;
}
