/* zf validate's token comparison: two greedy generations, token by token. */
#ifndef ZF_VALIDATE_COMPARE_H
#define ZF_VALIDATE_COMPARE_H

#include <stdint.h>

typedef struct zf_token_cmp {
    int64_t compared;   /* token pairs compared: the shorter of the two lengths */
    int64_t first_diff; /* first position whose tokens differ; the shorter length when none does */
    int same;           /* 1 when both hold the same count of identical tokens */
} zf_token_cmp;

zf_token_cmp zf_compare_tokens(const int32_t *a, int64_t na, const int32_t *b, int64_t nb);

#endif
