/* Byte-level BPE tokenizer (GPT-2 style) built from a model file's
 * vocabulary and merges; token ids match the `tokenizers` library built from
 * the same data (tests/test_tokenizer.c, scripts/tokenizer_golden.py).
 *
 * Encoding: special tokens are matched first (leftmost, longest), the text
 * between them is cut by the family's pre-tokenizer regex (tokenizer_pre.h),
 * each piece is merged by rank. Any bytes encode, invalid UTF-8 included;
 * bytes the vocabulary has no token for are dropped, as `tokenizers` does. */
#ifndef ZF_MODEL_TOKENIZER_H
#define ZF_MODEL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "model/model_file.h"
#include "zfast.h"

typedef struct zf_tokenizer zf_tokenizer;

enum zf_tok_flags {
    ZF_TOK_ADD_BOS = 1u << 0,        /* encode: prepend the BOS token */
    ZF_TOK_PARSE_SPECIAL = 1u << 1,  /* encode: control tokens in the text become their ids */
    ZF_TOK_DECODE_SPECIAL = 1u << 2, /* decode: control tokens render their text (else nothing) */
};

/* token_type 3 (control) and 4 (user-defined) tokens are special: their
 * text is stored as is, not in the byte-level alphabet. User-defined tokens
 * are always matched in text; control tokens only with ZF_TOK_PARSE_SPECIAL.
 * v's arrays may be freed once this returns. */
zf_status zf_tokenizer_create(const zf_vocab_data *v, zf_tokenizer **out);
void zf_tokenizer_free(zf_tokenizer *t);

/* Encodes text[0, len) (text may be NULL when len is 0). *ids is malloc'ed
 * (free() it), *n its length. Not reentrant: t holds a word cache. */
zf_status zf_tokenizer_encode(zf_tokenizer *t, const char *text, int64_t len, unsigned flags, int32_t **ids,
                              int64_t *n);

/* The bytes of token id. *len always receives their count; they are copied
 * to buf only when they fit in cap (else ZF_ERR_INVALID_ARG, buf untouched).
 * A token may end inside a UTF-8 character: streaming callers emit bytes
 * and let the terminal (or their own buffer) join them. */
zf_status zf_tokenizer_decode_token(const zf_tokenizer *t, int32_t id, unsigned flags, char *buf, size_t cap,
                                    size_t *len);

int64_t zf_tokenizer_n_vocab(const zf_tokenizer *t);
int32_t zf_tokenizer_bos(const zf_tokenizer *t); /* -1 when absent */
int32_t zf_tokenizer_eos(const zf_tokenizer *t);
/* 1 for control tokens (token_type 3): end-of-turn markers and the like. */
int zf_tokenizer_is_control(const zf_tokenizer *t, int32_t id);
/* The id of the token whose text is exactly text[0, len) (special tokens
 * first, e.g. "<|im_end|>"), or -1. */
int32_t zf_tokenizer_find(const zf_tokenizer *t, const char *text, size_t len);

#endif
