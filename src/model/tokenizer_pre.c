#include "model/tokenizer_pre.h"

#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"

/* The patterns as written in the models' tokenizer.json files. */
#define RX_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RX_QWEN2_HEAD "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
#define RX_QWEN2_TAIL "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

enum { MAX_STAGES = 2 };

typedef struct preset {
    const char *name;
    int n;
    const char *rx[MAX_STAGES]; /* applied in turn, each to every piece of the one before */
} preset;

static const preset PRESETS[] = {
    {"default", 1, {RX_GPT2, NULL}},
    {"gpt2", 1, {RX_GPT2, NULL}},
    /* SmolLM2: Digits(individual_digits) then ByteLevel's GPT-2 regex */
    {"smollm", 2, {"\\p{N}", RX_GPT2}},
    {"qwen2", 1, {RX_QWEN2_HEAD "\\p{N}" RX_QWEN2_TAIL, NULL}},
    {"llama-bpe", 1, {RX_QWEN2_HEAD "\\p{N}{1,3}" RX_QWEN2_TAIL, NULL}},
};

struct zf_pretok {
    int n;
    pcre2_code *re[MAX_STAGES];
    pcre2_match_data *md[MAX_STAGES];
};

void zf_pretok_free(zf_pretok *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        pcre2_match_data_free(p->md[i]);
        pcre2_code_free(p->re[i]);
    }
    free(p);
}

zf_status zf_pretok_create(const char *name, zf_pretok **out) {
    if (!out) return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] out is NULL");
    const char *key = name ? name : "default";
    const preset *ps = NULL;
    for (size_t i = 0; i < sizeof PRESETS / sizeof PRESETS[0]; i++)
        if (strcmp(PRESETS[i].name, key) == 0) ps = &PRESETS[i];
    if (!ps)
        return zf_error(ZF_ERR_UNSUPPORTED,
                        "[tokenizer] pre-tokenizer \"%s\" is not supported (known: gpt2, smollm, qwen2, llama-bpe)",
                        key);
    zf_pretok *p = calloc(1, sizeof *p);
    if (!p) return zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
    for (int i = 0; i < ps->n; i++) {
        int err;
        PCRE2_SIZE at;
        /* MATCH_INVALID_UTF: invalid bytes match nothing instead of failing the match */
        p->re[i] = pcre2_compile((PCRE2_SPTR)ps->rx[i], PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &at, NULL);
        if (!p->re[i]) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(err, msg, sizeof msg);
            zf_pretok_free(p);
            return zf_error(ZF_ERR_UNSUPPORTED, "[tokenizer] PCRE2 cannot compile the %s regex: %s", key,
                            (const char *)msg);
        }
        p->n = i + 1;
        pcre2_jit_compile(p->re[i], PCRE2_JIT_COMPLETE); /* the interpreter runs when JIT is absent */
        p->md[i] = pcre2_match_data_create_from_pattern(p->re[i], NULL);
        if (!p->md[i]) {
            zf_pretok_free(p);
            return zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
        }
    }
    *out = p;
    return ZF_OK;
}

/* Stage k cuts s into its matches and the gaps between them (isolated
 * pieces, as tokenizers' Split does), each handed to stage k + 1. */
static zf_status split_stage(zf_pretok *p, int k, const char *s, size_t len, zf_pretok_emit emit, void *ctx) {
    if (len == 0) return ZF_OK;
    if (k == p->n) return emit(s, len, ctx);
    size_t done = 0;
    while (done < len) {
        int rc = pcre2_match(p->re[k], (PCRE2_SPTR)s, len, done, PCRE2_NOTEMPTY, p->md[k], NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] text: regex matching failed: %s", (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md[k]);
        size_t ms = ov[0], me = ov[1];
        ZF_TRY(split_stage(p, k + 1, s + done, ms - done, emit, ctx));
        ZF_TRY(split_stage(p, k + 1, s + ms, me - ms, emit, ctx));
        done = me;
    }
    return split_stage(p, k + 1, s + done, len - done, emit, ctx);
}

zf_status zf_pretok_split(zf_pretok *p, const char *text, size_t len, zf_pretok_emit emit, void *ctx) {
    if (!p || (!text && len) || !emit) return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] pre-tokenizer, text or emit is NULL");
    return split_stage(p, 0, text, len, emit, ctx);
}
