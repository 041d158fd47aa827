/* tokenizer.json (+ tokenizer_config.json, config.json) -> zf_vocab_data:
 * BPE vocabulary, merges, added tokens, special ids, chat template and the
 * pre-tokenizer family recognised from its regex. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/safetensors.h"

#define TOK_ERR(...) zf_error(ZF_ERR_FORMAT, "[safetensors] tokenizer.json: " __VA_ARGS__)

/* The split regexes of the families the tokenizer implements. */
static const char *const LLAMA3_RE =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";
static const char *const QWEN2_RE =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";

/* Walks a pre_tokenizer tree: the Split regex, and whether Digits /
 * ByteLevel steps occur. */
static void scan_pre(const cJSON *p, const char **regex, int *digits, int *bytelevel) {
    if (!cJSON_IsObject(p)) return;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    if (!strcmp(t, "Split")) {
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "pattern"), "Regex");
        if (cJSON_IsString(re)) *regex = re->valuestring;
    } else if (!strcmp(t, "Digits")) {
        *digits = 1;
    } else if (!strcmp(t, "ByteLevel")) {
        *bytelevel = 1;
    }
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers"), *e;
    if (!cJSON_IsArray(seq)) return;
    cJSON_ArrayForEach(e, seq) scan_pre(e, regex, digits, bytelevel);
}

static const char *pre_name(const cJSON *pre) {
    const char *regex = NULL;
    int digits = 0, bytelevel = 0;
    scan_pre(pre, &regex, &digits, &bytelevel);
    if (regex) return !strcmp(regex, LLAMA3_RE) ? "llama-bpe" : !strcmp(regex, QWEN2_RE) ? "qwen2" : NULL;
    if (bytelevel) return digits ? "smollm" : "gpt2";
    return NULL;
}

/* A special token given as "text" or {"content": "text"}. */
static const char *token_text(const cJSON *j) {
    if (cJSON_IsString(j)) return j->valuestring;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "content");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

static int32_t find_id(const zf_vocab_data *v, const char *text) {
    for (int64_t i = 0; text && i < v->n_tokens; i++)
        if (v->tokens[i] && !strcmp(v->tokens[i], text)) return (int32_t)i;
    return -1;
}

static zf_status set_token(zf_model_file *f, const char **tokens, int32_t *types, int64_t n, const cJSON *idj,
                           const char *text, int32_t type) {
    double d = cJSON_IsNumber(idj) ? idj->valuedouble : -1;
    if (!(d >= 0 && d < (double)n) || d != (double)(int64_t)d)
        return TOK_ERR("token '%.40s' has id %g outside [0, %lld)", text, d, (long long)n);
    int64_t id = (int64_t)d;
    if (tokens[id] && strcmp(tokens[id], text))
        return TOK_ERR("id %lld is given to both '%.40s' and '%.40s'", (long long)id, tokens[id], text);
    if (!(tokens[id] = zf_mf_strndup(f, text, strlen(text)))) return zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
    types[id] = type;
    return ZF_OK;
}

static zf_status load_tokens(zf_model_file *f, const cJSON *model, const cJSON *added) {
    if (!cJSON_IsArray(added)) added = NULL;
    zf_vocab_data *v = &f->vocab;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab"), *e;
    if (!cJSON_IsObject(vocab)) return TOK_ERR("model.vocab is not an object");
    int64_t n = cJSON_GetArraySize(vocab);
    cJSON_ArrayForEach(e, added) n++; /* ids are checked against this bound */
    const char **tokens = zf_mf_calloc(f, (size_t)n * sizeof *tokens);
    int32_t *types = zf_mf_calloc(f, (size_t)n * sizeof *types);
    if (!tokens || !types) return zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
    cJSON_ArrayForEach(e, vocab) ZF_TRY(set_token(f, tokens, types, n, e, e->string, 1));
    cJSON_ArrayForEach(e, added) {
        const char *text = token_text(e);
        if (!text) return TOK_ERR("an added_tokens entry has no content");
        ZF_TRY(set_token(f, tokens, types, n, cJSON_GetObjectItemCaseSensitive(e, "id"), text,
                         cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special")) ? 3 : 4));
    }
    while (n > 0 && !tokens[n - 1]) n--;
    for (int64_t i = 0; i < n; i++)
        if (!tokens[i]) return TOK_ERR("token id %lld has no token (ids must be dense)", (long long)i);
    v->tokens = tokens;
    v->token_type = types;
    v->n_tokens = n;
    return ZF_OK;
}

/* merges as "a b" strings or ["a", "b"] pairs */
static zf_status load_merges(zf_model_file *f, const cJSON *model) {
    zf_vocab_data *v = &f->vocab;
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges"), *e;
    if (!merges) return ZF_OK;
    if (!cJSON_IsArray(merges)) return TOK_ERR("model.merges is not an array");
    int64_t n = cJSON_GetArraySize(merges), i = 0;
    const char **out = zf_mf_alloc(f, (size_t)n * sizeof *out);
    if (!out) return zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
    cJSON_ArrayForEach(e, merges) {
        const cJSON *a = cJSON_GetArrayItem(e, 0), *b = cJSON_GetArrayItem(e, 1);
        char *m = NULL;
        if (cJSON_IsString(e)) {
            m = zf_mf_strndup(f, e->valuestring, strlen(e->valuestring));
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(a) && cJSON_IsString(b)) {
            size_t la = strlen(a->valuestring), lb = strlen(b->valuestring);
            if ((m = zf_mf_alloc(f, la + lb + 2))) {
                memcpy(m, a->valuestring, la);
                m[la] = ' ';
                memcpy(m + la + 1, b->valuestring, lb + 1);
            }
        } else {
            return TOK_ERR("merge %lld is neither \"a b\" nor [\"a\", \"b\"]", (long long)i);
        }
        if (!m) return zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
        out[i++] = m;
    }
    v->merges = out;
    v->n_merges = n;
    return ZF_OK;
}

/* bos/eos from tokenizer_config.json's texts, else config.json's ids. */
static void special_ids(zf_vocab_data *v, const cJSON *tcfg, const cJSON *cfg) {
    const char *keys[2][2] = {{"bos_token", "bos_token_id"}, {"eos_token", "eos_token_id"}};
    int32_t *dst[2] = {&v->bos_id, &v->eos_id};
    for (int i = 0; i < 2; i++) {
        *dst[i] = find_id(v, token_text(cJSON_GetObjectItemCaseSensitive(tcfg, keys[i][0])));
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(cfg, keys[i][1]);
        if (cJSON_IsArray(id)) id = cJSON_GetArrayItem(id, 0);
        if (*dst[i] < 0 && cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < (double)v->n_tokens)
            *dst[i] = (int32_t)id->valuedouble;
    }
}

static zf_status chat_template(zf_model_file *f, const cJSON *tcfg) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(tcfg, "chat_template"), *e;
    if (cJSON_IsArray(t)) /* [{"name": "default", "template": ...}, ...] */
        cJSON_ArrayForEach(e, t) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
            if (cJSON_IsString(nm) && !strcmp(nm->valuestring, "default")) t = cJSON_GetObjectItemCaseSensitive(e, "template");
        }
    if (!cJSON_IsString(t)) return ZF_OK;
    if (!(f->vocab.chat_template = zf_mf_strndup(f, t->valuestring, strlen(t->valuestring))))
        return zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
    return ZF_OK;
}

zf_status zf_st_load_vocab(zf_model_file *f, const char *tokenizer_json, size_t len, const char *tokenizer_config,
                           size_t config_len, const char *config_json, size_t cfg_len) {
    cJSON *tok = cJSON_ParseWithLength(tokenizer_json, len);
    cJSON *tcfg = tokenizer_config ? cJSON_ParseWithLength(tokenizer_config, config_len) : NULL;
    cJSON *cfg = config_json ? cJSON_ParseWithLength(config_json, cfg_len) : NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(tok, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    zf_status s = ZF_OK;
    if (!cJSON_IsObject(tok)) s = TOK_ERR("not a JSON object");
    else if (!cJSON_IsString(type) || strcmp(type->valuestring, "BPE"))
        s = TOK_ERR("model.type '%.40s' is not supported (BPE)", cJSON_IsString(type) ? type->valuestring : "?");
    if (s == ZF_OK) s = load_tokens(f, model, cJSON_GetObjectItemCaseSensitive(tok, "added_tokens"));
    if (s == ZF_OK) s = load_merges(f, model);
    if (s == ZF_OK) s = chat_template(f, tcfg);
    if (s == ZF_OK && f->vocab.n_tokens > f->cfg.vocab)
        s = TOK_ERR("%lld tokens but the embedding has only %lld rows", (long long)f->vocab.n_tokens,
                    (long long)f->cfg.vocab);
    if (s == ZF_OK) {
        f->vocab.model = "gpt2"; /* byte-level BPE, as GGUF names it */
        f->vocab.pre = pre_name(cJSON_GetObjectItemCaseSensitive(tok, "pre_tokenizer"));
        special_ids(&f->vocab, tcfg, cfg);
        f->has_vocab = 1;
    }
    cJSON_Delete(tok);
    cJSON_Delete(tcfg);
    cJSON_Delete(cfg);
    return s;
}
