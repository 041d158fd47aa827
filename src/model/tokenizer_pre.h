/* Pre-tokenizers of byte-level BPE vocabularies: the regex chains that cut
 * text into the pieces BPE merges within, as the models' tokenizer.json
 * files define them (run with PCRE2 in UTF + UCP mode). */
#ifndef ZF_MODEL_TOKENIZER_PRE_H
#define ZF_MODEL_TOKENIZER_PRE_H

#include <stddef.h>

#include "zfast.h"

typedef struct zf_pretok zf_pretok;

/* name: GGUF's tokenizer.ggml.pre ("gpt2", "smollm", "qwen2", "llama-bpe", ...);
 * NULL or "default" is GPT-2's. Unknown names: ZF_ERR_UNSUPPORTED. */
zf_status zf_pretok_create(const char *name, zf_pretok **out);
void zf_pretok_free(zf_pretok *p);

typedef zf_status (*zf_pretok_emit)(const char *piece, size_t len, void *ctx);

/* Cuts text[0, len) into pieces that tile it, in order, and calls emit for
 * each (a non-OK status from emit stops and is returned). Bytes that are not
 * valid UTF-8 match no pattern; each run of them becomes a piece of its own.
 * Not reentrant: p holds the match buffers (one zf_pretok per thread). */
zf_status zf_pretok_split(zf_pretok *p, const char *text, size_t len, zf_pretok_emit emit, void *ctx);

#endif
