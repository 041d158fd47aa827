/* The merge step of byte-level BPE: a word's bytes start as single-byte
 * tokens; the adjacent pair with the lowest merge rank (leftmost on ties)
 * merges until no ranked pair is left, as the `tokenizers` library does.
 * Results are cached per word. */
#ifndef ZF_MODEL_TOKENIZER_BPE_H
#define ZF_MODEL_TOKENIZER_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "zfast.h"

/* A growable list of token ids. */
typedef struct zf_ids {
    int32_t *v;
    int64_t n, cap;
} zf_ids;

zf_status zf_ids_push(zf_ids *a, int32_t id);

typedef struct zf_bpe_merge {
    int32_t left, right, result;
} zf_bpe_merge;

typedef struct zf_bpe zf_bpe;

/* byte_id[b]: the token of byte b alone, -1 when the vocabulary lacks it
 * (such bytes are dropped, as `tokenizers` does without an unk token).
 * merges[r] has rank r; a pair listed twice keeps its first rank. */
zf_status zf_bpe_create(const int32_t byte_id[256], const zf_bpe_merge *merges, int64_t n_merges, zf_bpe **out);
void zf_bpe_free(zf_bpe *b);

/* Appends the tokens of one pre-tokenized piece (raw bytes) to out.
 * Not reentrant: b holds work buffers and the word cache. */
zf_status zf_bpe_word(zf_bpe *b, const char *piece, size_t len, zf_ids *out);

#endif
