/* zf validate's token comparison (its own file so a unit test can link it). */
#include "validate_compare.h"

zf_token_cmp zf_compare_tokens(const int32_t *a, int64_t na, const int32_t *b, int64_t nb) {
    int64_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    zf_token_cmp c = {n, i, i == n && na == nb};
    return c;
}
