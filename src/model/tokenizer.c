#include "model/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/tokenizer_bpe.h"
#include "model/tokenizer_pre.h"

enum { TYPE_CONTROL = 3, TYPE_USER = 4 };

struct zf_tokenizer {
    int64_t n;
    char **piece;       /* raw bytes of each token */
    uint32_t *piece_len;
    uint8_t *type;      /* token_type, 1 when the file has none */
    int32_t bos, eos;
    /* special tokens, grouped by first byte, longest first within a group */
    int32_t *special;
    int32_t special_at[257];
    zf_pretok *pre;
    zf_bpe *bpe;
};

/* GPT-2's byte-level alphabet: bytes that print stand for themselves, the
 * others (controls, space, 0x7f-0xa0, 0xad) map to U+0100 onwards in order. */
static int byte_prints(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

static void byte_alphabet(uint32_t cp_of_byte[256]) {
    uint32_t extra = 256;
    for (int b = 0; b < 256; b++) cp_of_byte[b] = byte_prints(b) ? (uint32_t)b : extra++;
}

/* Reads one UTF-8 character (1-2 bytes suffice for the alphabet, U+0000..U+0143). */
static int utf8_next(const unsigned char *s, size_t n, size_t *i, uint32_t *cp) {
    if (s[*i] < 0x80) {
        *cp = s[(*i)++];
        return 1;
    }
    if ((s[*i] & 0xE0) == 0xC0 && *i + 1 < n && (s[*i + 1] & 0xC0) == 0x80) {
        *cp = (uint32_t)(s[*i] & 0x1F) << 6 | (s[*i + 1] & 0x3F);
        *i += 2;
        return 1;
    }
    return 0;
}

/* Byte-level text -> raw bytes into dst (as long as src at most); 0 when a
 * character is outside the alphabet. */
static int unmap_bytes(const int16_t *byte_of_cp, const char *src, size_t n, char *dst, size_t *out_n) {
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, k = 0;
    while (i < n) {
        uint32_t cp;
        if (!utf8_next(s, n, &i, &cp) || cp >= 324 || byte_of_cp[cp] < 0) return 0;
        dst[k++] = (char)byte_of_cp[cp];
    }
    *out_n = k;
    return 1;
}

/* A string -> id table over the byte-level token texts, to resolve merges. */
typedef struct strmap {
    int32_t *slot; /* token id or -1 */
    uint64_t mask;
    const char *const *text;
} strmap;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static int32_t strmap_find(const strmap *m, const char *s, size_t n) {
    for (uint64_t i = hash_bytes(s, n) & m->mask;; i = (i + 1) & m->mask) {
        int32_t id = m->slot[i];
        if (id < 0) return -1;
        if (strlen(m->text[id]) == n && memcmp(m->text[id], s, n) == 0) return id;
    }
}

static zf_status strmap_build(strmap *m, const char *const *text, int64_t n) {
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)n) cap *= 2;
    m->slot = malloc(cap * sizeof *m->slot);
    if (!m->slot) return zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
    memset(m->slot, 0xff, cap * sizeof *m->slot);
    m->mask = cap - 1;
    m->text = text;
    for (int64_t id = 0; id < n; id++) {
        size_t len = strlen(text[id]);
        if (strmap_find(m, text[id], len) >= 0) continue; /* a duplicate keeps its first id */
        uint64_t i = hash_bytes(text[id], len) & m->mask;
        while (m->slot[i] >= 0) i = (i + 1) & m->mask;
        m->slot[i] = (int32_t)id;
    }
    return ZF_OK;
}

void zf_tokenizer_free(zf_tokenizer *t) {
    if (!t) return;
    if (t->piece)
        for (int64_t i = 0; i < t->n; i++) free(t->piece[i]);
    free(t->piece);
    free(t->piece_len);
    free(t->type);
    free(t->special);
    zf_pretok_free(t->pre);
    zf_bpe_free(t->bpe);
    free(t);
}

static zf_status check_vocab(const zf_vocab_data *v) {
    if (!v) return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] vocab is NULL");
    if (v->model && strcmp(v->model, "gpt2") != 0)
        return zf_error(ZF_ERR_UNSUPPORTED, "[tokenizer] tokenizer model \"%s\" is not supported (only byte-level BPE, \"gpt2\")",
                        v->model);
    if (v->n_tokens <= 0 || v->n_tokens > INT32_MAX || !v->tokens)
        return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] vocab: %lld tokens (tokens %s); expected 1 to 2^31-1",
                        (long long)v->n_tokens, v->tokens ? "given" : "NULL");
    if (v->n_merges < 0 || (v->n_merges > 0 && !v->merges))
        return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] vocab: %lld merges with merges %s", (long long)v->n_merges,
                        v->merges ? "given" : "NULL");
    for (int64_t i = 0; i < v->n_tokens; i++)
        if (!v->tokens[i] || !v->tokens[i][0])
            return zf_error(ZF_ERR_FORMAT, "[tokenizer] vocab: token %lld is %s", (long long)i,
                            v->tokens[i] ? "empty" : "NULL");
    for (int64_t i = 0; i < v->n_merges; i++)
        if (!v->merges[i]) return zf_error(ZF_ERR_FORMAT, "[tokenizer] vocab: merge %lld is NULL", (long long)i);
    if (v->bos_id < -1 || v->bos_id >= v->n_tokens || v->eos_id < -1 || v->eos_id >= v->n_tokens)
        return zf_error(ZF_ERR_FORMAT, "[tokenizer] vocab: bos %d / eos %d outside [-1, %lld)", v->bos_id, v->eos_id,
                        (long long)v->n_tokens);
    return ZF_OK;
}

/* Raw bytes of every token: special tokens as written, the others read back
 * from the byte-level alphabet (kept as written when they are not in it). */
static zf_status load_pieces(zf_tokenizer *t, const zf_vocab_data *v) {
    uint32_t cp_of_byte[256];
    int16_t byte_of_cp[324];
    byte_alphabet(cp_of_byte);
    memset(byte_of_cp, 0xff, sizeof byte_of_cp);
    for (int b = 0; b < 256; b++) byte_of_cp[cp_of_byte[b]] = (int16_t)b;
    for (int64_t i = 0; i < t->n; i++) {
        const char *s = v->tokens[i];
        size_t n = strlen(s);
        if (n > UINT32_MAX) return zf_error(ZF_ERR_FORMAT, "[tokenizer] vocab: token %lld is too long", (long long)i);
        t->type[i] = v->token_type ? (uint8_t)v->token_type[i] : 1;
        t->piece[i] = malloc(n + 1);
        if (!t->piece[i]) return zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
        size_t k = n;
        int special = t->type[i] == TYPE_CONTROL || t->type[i] == TYPE_USER;
        if (special || !unmap_bytes(byte_of_cp, s, n, t->piece[i], &k)) memcpy(t->piece[i], s, n);
        t->piece_len[i] = (uint32_t)k;
    }
    return ZF_OK;
}

/* Merges "a b" -> (id a, id b, id ab), in rank order. */
static zf_status load_merges(const zf_vocab_data *v, const strmap *m, zf_bpe_merge *out) {
    size_t cap = 64;
    char *joined = malloc(cap);
    if (!joined) return zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
    zf_status st = ZF_OK;
    for (int64_t r = 0; r < v->n_merges && st == ZF_OK; r++) {
        const char *s = v->merges[r], *sp = strchr(s, ' ');
        if (!sp || sp == s || !sp[1] || strchr(sp + 1, ' ')) {
            st = zf_error(ZF_ERR_FORMAT, "[tokenizer] merge %lld \"%s\": expected two tokens separated by one space",
                          (long long)r, s);
            break;
        }
        size_t nl = (size_t)(sp - s), nr = strlen(sp + 1);
        if (nl + nr > cap) {
            cap = 2 * (nl + nr);
            char *j = realloc(joined, cap);
            if (!j) {
                st = zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
                break;
            }
            joined = j;
        }
        memcpy(joined, s, nl);
        memcpy(joined + nl, sp + 1, nr);
        zf_bpe_merge mg = {strmap_find(m, s, nl), strmap_find(m, sp + 1, nr), strmap_find(m, joined, nl + nr)};
        if (mg.left < 0 || mg.right < 0 || mg.result < 0)
            st = zf_error(ZF_ERR_FORMAT, "[tokenizer] merge %lld \"%s\": \"%.*s\" is not in the vocabulary",
                          (long long)r, s, mg.left < 0 ? (int)nl : mg.right < 0 ? (int)nr : (int)(nl + nr),
                          mg.left < 0 ? s : mg.right < 0 ? sp + 1 : joined);
        out[r] = mg;
    }
    free(joined);
    return st;
}

typedef struct special_key {
    unsigned char first;
    uint32_t len;
    int32_t id;
} special_key;

/* by first byte, then longest first, so the first match is the longest */
static int special_order(const void *a, const void *b) {
    const special_key *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static zf_status index_specials(zf_tokenizer *t) {
    int64_t k = 0;
    for (int64_t i = 0; i < t->n; i++) k += t->type[i] == TYPE_CONTROL || t->type[i] == TYPE_USER;
    special_key *keys = malloc((size_t)(k ? k : 1) * sizeof *keys);
    t->special = malloc((size_t)(k ? k : 1) * sizeof *t->special);
    if (!keys || !t->special) {
        free(keys);
        return zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
    }
    k = 0;
    for (int64_t i = 0; i < t->n; i++)
        if (t->type[i] == TYPE_CONTROL || t->type[i] == TYPE_USER)
            keys[k++] = (special_key){(unsigned char)t->piece[i][0], t->piece_len[i], (int32_t)i};
    qsort(keys, (size_t)k, sizeof *keys, special_order);
    int64_t j = 0;
    for (int b = 0; b <= 256; b++) {
        while (j < k && keys[j].first < b) j++;
        t->special_at[b] = (int32_t)j;
    }
    for (j = 0; j < k; j++) t->special[j] = keys[j].id;
    free(keys);
    return ZF_OK;
}

static zf_status build(zf_tokenizer *t, const zf_vocab_data *v) {
    t->n = v->n_tokens;
    t->bos = v->bos_id;
    t->eos = v->eos_id;
    t->piece = calloc((size_t)t->n, sizeof *t->piece);
    t->piece_len = calloc((size_t)t->n, sizeof *t->piece_len);
    t->type = calloc((size_t)t->n, 1);
    if (!t->piece || !t->piece_len || !t->type) return zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
    ZF_TRY(zf_pretok_create(v->pre, &t->pre));
    ZF_TRY(load_pieces(t, v));
    ZF_TRY(index_specials(t));

    strmap m = {0};
    zf_bpe_merge *merges = malloc((size_t)(v->n_merges ? v->n_merges : 1) * sizeof *merges);
    zf_status st = merges ? strmap_build(&m, v->tokens, v->n_tokens)
                          : zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
    if (st == ZF_OK) st = load_merges(v, &m, merges);
    if (st == ZF_OK) {
        uint32_t cp_of_byte[256];
        byte_alphabet(cp_of_byte);
        int32_t byte_id[256];
        for (int b = 0; b < 256; b++) {
            char u[2];
            size_t n = 1;
            if (cp_of_byte[b] < 0x80) u[0] = (char)cp_of_byte[b];
            else {
                u[0] = (char)(0xC0 | cp_of_byte[b] >> 6);
                u[1] = (char)(0x80 | (cp_of_byte[b] & 0x3F));
                n = 2;
            }
            byte_id[b] = strmap_find(&m, u, n);
        }
        st = zf_bpe_create(byte_id, merges, v->n_merges, &t->bpe);
    }
    free(m.slot);
    free(merges);
    return st;
}

zf_status zf_tokenizer_create(const zf_vocab_data *v, zf_tokenizer **out) {
    if (!out) return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] out is NULL");
    ZF_TRY(check_vocab(v));
    zf_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
    zf_status st = build(t, v);
    if (st != ZF_OK) {
        zf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return ZF_OK;
}

/* The longest special token at s[0, n) that may match, or -1. */
static int32_t match_special(const zf_tokenizer *t, const unsigned char *s, size_t n, unsigned flags) {
    for (int32_t j = t->special_at[s[0]]; j < t->special_at[s[0] + 1]; j++) {
        int32_t id = t->special[j];
        if (t->type[id] == TYPE_CONTROL && !(flags & ZF_TOK_PARSE_SPECIAL)) continue;
        if (t->piece_len[id] <= n && memcmp(t->piece[id], s, t->piece_len[id]) == 0) return id;
    }
    return -1;
}

typedef struct encode_ctx {
    zf_bpe *bpe;
    zf_ids *ids;
} encode_ctx;

static zf_status encode_piece(const char *piece, size_t len, void *ctx) {
    encode_ctx *c = ctx;
    return zf_bpe_word(c->bpe, piece, len, c->ids);
}

static zf_status encode_all(zf_tokenizer *t, const char *text, size_t len, unsigned flags, zf_ids *ids) {
    if (flags & ZF_TOK_ADD_BOS) ZF_TRY(zf_ids_push(ids, t->bos));
    encode_ctx ctx = {t->bpe, ids};
    const unsigned char *s = (const unsigned char *)text;
    size_t seg = 0, i = 0;
    while (i < len) {
        int32_t id = t->special_at[s[i]] < t->special_at[s[i] + 1] ? match_special(t, s + i, len - i, flags) : -1;
        if (id < 0) {
            i++;
            continue;
        }
        ZF_TRY(zf_pretok_split(t->pre, text + seg, i - seg, encode_piece, &ctx));
        ZF_TRY(zf_ids_push(ids, id));
        i += t->piece_len[id];
        seg = i;
    }
    return zf_pretok_split(t->pre, text + seg, len - seg, encode_piece, &ctx);
}

zf_status zf_tokenizer_encode(zf_tokenizer *t, const char *text, int64_t len, unsigned flags, int32_t **ids,
                              int64_t *n) {
    if (!t || !ids || !n) return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] tokenizer, ids or n is NULL");
    if (len < 0 || (len > 0 && !text))
        return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] text: length %lld with text %s", (long long)len,
                        text ? "given" : "NULL");
    if (flags & ~(unsigned)(ZF_TOK_ADD_BOS | ZF_TOK_PARSE_SPECIAL))
        return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] flags 0x%x: encode takes ZF_TOK_ADD_BOS and ZF_TOK_PARSE_SPECIAL",
                        flags);
    if ((flags & ZF_TOK_ADD_BOS) && t->bos < 0)
        return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] flags: ZF_TOK_ADD_BOS but the vocabulary has no BOS token");
    zf_ids out = {0};
    zf_status st = zf_ids_push(&out, 0); /* never an empty allocation */
    out.n = 0;
    if (st == ZF_OK) st = encode_all(t, text, (size_t)len, flags, &out);
    if (st != ZF_OK) {
        free(out.v);
        return st;
    }
    *ids = out.v;
    *n = out.n;
    return ZF_OK;
}

zf_status zf_tokenizer_decode_token(const zf_tokenizer *t, int32_t id, unsigned flags, char *buf, size_t cap,
                                    size_t *len) {
    if (!t || !len) return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] tokenizer or len is NULL");
    if (id < 0 || id >= t->n)
        return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] id %d is outside the vocabulary [0, %lld)", id, (long long)t->n);
    if (flags & ~(unsigned)ZF_TOK_DECODE_SPECIAL)
        return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] flags 0x%x: decode takes ZF_TOK_DECODE_SPECIAL", flags);
    size_t n = (t->type[id] == TYPE_CONTROL && !(flags & ZF_TOK_DECODE_SPECIAL)) ? 0 : t->piece_len[id];
    if (n > cap || (n > 0 && !buf)) {
        *len = n;
        return zf_error(ZF_ERR_INVALID_ARG, "[tokenizer] buf: token %d has %zu bytes, buffer holds %zu", id, n,
                        buf ? cap : 0);
    }
    if (n) memcpy(buf, t->piece[id], n);
    *len = n;
    return ZF_OK;
}

int64_t zf_tokenizer_n_vocab(const zf_tokenizer *t) { return t->n; }
int32_t zf_tokenizer_bos(const zf_tokenizer *t) { return t->bos; }
int32_t zf_tokenizer_eos(const zf_tokenizer *t) { return t->eos; }

int zf_tokenizer_is_control(const zf_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n && t->type[id] == TYPE_CONTROL;
}

int32_t zf_tokenizer_find(const zf_tokenizer *t, const char *text, size_t len) {
    if (!text) return -1;
    int32_t found = -1;
    for (int64_t i = 0; i < t->n; i++) {
        if (t->piece_len[i] != len || memcmp(t->piece[i], text, len) != 0) continue;
        if (t->type[i] == TYPE_CONTROL || t->type[i] == TYPE_USER) return (int32_t)i;
        if (found < 0) found = (int32_t)i;
    }
    return found;
}
