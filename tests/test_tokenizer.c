/* Tokenizer: token ids and pre-tokenizer pieces equal those of the PyPI
 * `tokenizers` library (tests/data/tokenizer/golden.txt, made by
 * scripts/tokenizer_golden.py from SmolLM2's vocabulary and merges) for the
 * smollm, gpt2, qwen2 and llama-bpe pre-tokenizers; decode inverts encode on
 * fresh random bytes (invalid UTF-8 included); merge order, special tokens,
 * ChatML formatting and every argument error checked on a small vocabulary. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "model/chat.h"
#include "model/model_file.h"
#include "model/tokenizer.h"
#include "model/tokenizer_pre.h"
#include "vocab_file.h"

/* ---- data files ---- */

static char g_dir[1024];

static char *read_file(const char *name, size_t *len) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    return zt_read_file(path, len);
}

static size_t unhex(const char *h, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned v;
        sscanf(h + i, "%2x", &v);
        out[k++] = (char)v;
    }
    return k;
}

/* ---- golden comparison ---- */

static const char *const PRES[] = {"smollm", "gpt2", "qwen2", "llama-bpe"};
enum { N_PRES = 4 };

typedef struct pieces {
    char *buf;
    size_t n, cap;
    size_t *ends;
    int64_t count, ends_cap;
} pieces;

static zf_status collect_piece(const char *p, size_t len, void *ctx) {
    pieces *c = ctx;
    if (c->n + len > c->cap) c->buf = realloc(c->buf, c->cap = 2 * (c->n + len));
    if (c->count == c->ends_cap) c->ends = realloc(c->ends, (size_t)(c->ends_cap = 2 * c->ends_cap + 16) * sizeof *c->ends);
    memcpy(c->buf + c->n, p, len);
    c->n += len;
    c->ends[c->count++] = c->n;
    return ZF_OK;
}

static int pre_index(const char *name, size_t n) {
    for (int i = 0; i < N_PRES; i++)
        if (strlen(PRES[i]) == n && memcmp(PRES[i], name, n) == 0) return i;
    return -1;
}

/* Compares one "pieces PRE hex..." line with zf_pretok_split. */
static void check_pieces(zf_pretok *pre, const char *text, size_t len, char *line, int64_t case_no) {
    pieces got = {0};
    ZT_OK(zf_pretok_split(pre, text, len, collect_piece, &got));
    char *p = strchr(line + 7, ' ');
    int64_t k = 0;
    size_t at = 0;
    int ok = 1;
    char piece[8192];
    while (p && *p == ' ' && ok) {
        char *e = strchr(p + 1, ' ');
        size_t hl = e ? (size_t)(e - p - 1) : strlen(p + 1);
        if (hl / 2 > sizeof piece) break; /* counted as a mismatch below */
        size_t n = unhex(p + 1, hl, piece);
        ok = k < got.count && got.ends[k] - at == n && memcmp(got.buf + at, piece, n) == 0;
        if (ok) at = got.ends[k++];
        p = e;
    }
    ok = ok && !p && k == got.count;
    ZT_CHECK(ok, "case %lld: %.*s pieces differ from tokenizers' at piece %lld", (long long)case_no,
             (int)strcspn(line + 7, " "), line + 7, (long long)k);
    free(got.buf);
    free(got.ends);
}

/* Compares one "ids PRE S id..." line with zf_tokenizer_encode. */
static void check_ids(zf_tokenizer *tok, const char *text, size_t len, char *line, int64_t case_no) {
    char *sp = strchr(line + 4, ' ');
    int special = sp[1] == '1';
    int32_t *ids = NULL;
    int64_t n = -1;
    ZT_OK(zf_tokenizer_encode(tok, text, (int64_t)len, special ? ZF_TOK_PARSE_SPECIAL : 0, &ids, &n));
    char *p = sp + 2;
    int64_t k = 0;
    int ok = ids != NULL;
    while (ok && *p == ' ') {
        long v = strtol(p + 1, &p, 10);
        ok = k < n && ids[k] == v;
        if (ok) k++;
    }
    ok = ok && k == n;
    ZT_CHECK(ok, "case %lld: %.*s (parse_special %d) ids differ from tokenizers' at id %lld", (long long)case_no,
             (int)(sp - line - 4), line + 4, special, (long long)k);
    free(ids);
}

/* Every golden line: ids through tok, pieces through pre (skipped when NULL). */
static void test_golden(zf_tokenizer *tok[N_PRES], zf_pretok *pre[N_PRES]) {
    char *g = read_file("golden.txt", NULL);
    ZT_CHECK(g != NULL, "cannot read %s/golden.txt", g_dir);
    if (!g) return;
    char **lines;
    int64_t nl = vocab_split_lines(g, &lines), cases = 0, checked = 0;
    char *text = NULL;
    size_t len = 0;
    for (int64_t i = 0; i < nl; i++) {
        char *l = lines[i];
        if (strncmp(l, "case ", 5) == 0) {
            free(text);
            text = malloc(strlen(l) / 2 + 1);
            len = unhex(l + 5, strlen(l + 5), text);
            cases++;
        } else if (strncmp(l, "pieces ", 7) == 0 || strncmp(l, "ids ", 4) == 0) {
            int is_ids = l[0] == 'i';
            char *name = l + (is_ids ? 4 : 7);
            int p = pre_index(name, strcspn(name, " "));
            ZT_CHECK(p >= 0, "golden line %lld names an unknown pre-tokenizer", (long long)i);
            if (p < 0) continue;
            if (is_ids) check_ids(tok[p], text, len, l, cases);
            else if (pre) check_pieces(pre[p], text, len, l, cases);
            checked += is_ids || pre;
        }
    }
    ZT_CHECK(cases > 40 && checked == cases * N_PRES * (pre ? 3 : 2), "golden.txt: %lld cases, %lld lines checked", (long long)cases,
             (long long)checked);
    printf("golden: %lld cases x %d pre-tokenizers (%sids with and without special tokens)\n", (long long)cases,
           N_PRES, pre ? "pieces, " : "");
    free(text);
    free(lines);
    free(g);
}

/* ---- round trips ---- */

/* decode(encode(s)) == s less the bytes the vocabulary has no token for
 * (kept[b] says which have one). */
static void check_round_trip(zf_tokenizer *tok, const unsigned char kept[256], const char *s, size_t len,
                             const char *what) {
    int32_t *ids = NULL;
    int64_t n = 0;
    ZT_OK(zf_tokenizer_encode(tok, s, (int64_t)len, ZF_TOK_PARSE_SPECIAL, &ids, &n));
    char *expect = malloc(len + 1), *got = malloc(len + 1);
    size_t ne = 0, ng = 0;
    for (size_t i = 0; i < len; i++)
        if (kept[(unsigned char)s[i]]) expect[ne++] = s[i];
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        size_t k = 0;
        ok = zf_tokenizer_decode_token(tok, ids[i], ZF_TOK_DECODE_SPECIAL, got + ng, len + 1 - ng, &k) == ZF_OK;
        ng += k;
    }
    ZT_CHECK(ok && ng == ne && memcmp(got, expect, ne) == 0, "%s: decode(encode(%zu bytes)) gives %zu bytes, expected %zu",
             what, len, ng, ne);
    free(ids);
    free(expect);
    free(got);
}

/* Text from a soup of ASCII, whitespace runs, digits, multi-byte characters,
 * special-token texts and stray bytes, so random cases hit every regex arm. */
static size_t random_text(char *buf, size_t cap) {
    static const char *const soup[] = {"a", "Z", "the", " ", "  ", "\t", "\n", "\r\n", "'s", "'LL", "7", "42", "!",
                                       "...", "é", "e\xcc\x81", "日本", "😀", "\xc2\xa0", "\xc2\x85", "<|im_end|>",
                                       "<|endoftext|", "\xff", "\xc3", "\xe2\x82", "\x04", "\x80"};
    size_t n = 0;
    int parts = (int)(zt_rand() % 40);
    for (int i = 0; i < parts; i++) {
        const char *p = soup[zt_rand() % (sizeof soup / sizeof soup[0])];
        size_t k = strlen(p);
        if (!k) k = 1;
        if (n + k > cap) break;
        memcpy(buf + n, p, k);
        n += k;
    }
    return n;
}

static void test_round_trips(zf_tokenizer *tok[N_PRES], const char *corpus, size_t corpus_len) {
    int rounds = getenv("ZF_TEST_QUICK") ? 60 : 400;
    unsigned char kept[256];
    int n_kept = 0;
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        n_kept += kept[b] = zf_tokenizer_find(tok[0], &c, 1) >= 0;
    }
    ZT_CHECK(n_kept == 235, "SmolLM2 has tokens for 235 single bytes, found %d", n_kept);
    char buf[512];
    for (int p = 0; p < N_PRES; p++) {
        check_round_trip(tok[p], kept, corpus, corpus_len, PRES[p]);
        for (int r = 0; r < rounds; r++) {
            size_t n;
            if (r % 2) {
                n = zt_rand() % sizeof buf; /* raw random bytes: mostly invalid UTF-8 */
                for (size_t i = 0; i < n; i++) buf[i] = (char)zt_rand();
            } else {
                n = random_text(buf, sizeof buf);
            }
            check_round_trip(tok[p], kept, buf, n, PRES[p]);
        }
    }
}

/* ---- a small vocabulary: merge order, special tokens, errors ---- */

/* 256 byte tokens (GPT-2 alphabet), then the given extra tokens. */
typedef struct small_vocab {
    char bytes[256][3];
    const char *tokens[300];
    int32_t types[300];
    zf_vocab_data v;
} small_vocab;

static void make_small(small_vocab *s, const char *const *extra, const int32_t *extra_types, int n_extra,
                       const char *const *merges, int n_merges) {
    int k = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        unsigned cp = printable ? (unsigned)b : 256u + (unsigned)k++;
        if (cp < 0x80) {
            s->bytes[b][0] = (char)cp;
            s->bytes[b][1] = 0;
        } else {
            s->bytes[b][0] = (char)(0xC0 | cp >> 6);
            s->bytes[b][1] = (char)(0x80 | (cp & 0x3F));
            s->bytes[b][2] = 0;
        }
        s->tokens[b] = s->bytes[b];
        s->types[b] = 1;
    }
    for (int i = 0; i < n_extra; i++) {
        s->tokens[256 + i] = extra[i];
        s->types[256 + i] = extra_types[i];
    }
    s->v = (zf_vocab_data){.model = "gpt2", .pre = "gpt2", .n_tokens = 256 + n_extra, .tokens = s->tokens,
                           .token_type = s->types, .n_merges = n_merges, .merges = merges, .bos_id = 256,
                           .eos_id = 257};
}

static int encode_is(zf_tokenizer *t, const char *text, unsigned flags, const int32_t *want, int64_t n_want) {
    int32_t *ids = NULL;
    int64_t n = 0;
    if (zf_tokenizer_encode(t, text, (int64_t)strlen(text), flags, &ids, &n) != ZF_OK) return 0;
    int ok = n == n_want && (n == 0 || memcmp(ids, want, (size_t)n * sizeof *ids) == 0);
    free(ids);
    return ok;
}

/* A pair listed twice takes its later rank, as the tokenizers library's
 * merge map does (llama.cpp keeps the first): "b c" at ranks 0 and 2, "a b"
 * at 1, so "abc" is ab|c; with the first rank it would be a|bc. */
static void test_duplicate_merges(void) {
    static const char *const extra[] = {"<s>", "</s>", "bc", "ab"}; /* 258 bc, 259 ab */
    static const int32_t types[] = {3, 3, 1, 1};
    static const char *const merges[] = {"b c", "a b", "b c"};
    small_vocab s;
    make_small(&s, extra, types, 4, merges, 3);
    zf_tokenizer *t = NULL;
    ZT_OK(zf_tokenizer_create(&s.v, &t));
    if (!t) return;
    ZT_CHECK(encode_is(t, "abc", 0, (const int32_t[]){259, 'c'}, 2), "a pair listed twice takes its later rank");
    ZT_CHECK(encode_is(t, "bc", 0, (const int32_t[]){258}, 1), "the duplicated pair still merges");
    zf_tokenizer_free(t);
}

/* A user-defined token is kept as written, like a control token (not read
 * back through the byte alphabet, where "é" would be the one byte 0xE9); a
 * text listed twice is found at the id the merges use (its first); byte 0x00
 * has token id 0 here and is kept. */
static void test_vocab_edges(void) {
    static const char *const extra[] = {"<s>", "</s>", "caf\xc3\xa9", "ab", "ab"}; /* 258 café, 259 ab, 260 ab */
    static const int32_t types[] = {3, 3, 4, 1, 1};
    static const char *const merges[] = {"a b"};
    small_vocab s;
    make_small(&s, extra, types, 5, merges, 1);
    zf_tokenizer *t = NULL;
    ZT_OK(zf_tokenizer_create(&s.v, &t));
    if (!t) return;
    char buf[16];
    size_t n = 0;
    ZT_OK(zf_tokenizer_decode_token(t, 258, 0, buf, sizeof buf, &n));
    ZT_CHECK(n == 5 && memcmp(buf, "caf\xc3\xa9", 5) == 0, "user token decodes as written (%zu bytes)", n);
    ZT_CHECK(encode_is(t, "x caf\xc3\xa9", 0, (const int32_t[]){'x', ' ', 258}, 3), "user token matched as written");
    ZT_CHECK(encode_is(t, "ab", 0, (const int32_t[]){259}, 1), "a duplicated text merges to its first id");
    ZT_CHECK(zf_tokenizer_find(t, "ab", 2) == 259, "find of a duplicated text: %d; expected 259 (the first)",
             zf_tokenizer_find(t, "ab", 2));
    int32_t *ids = NULL;
    int64_t cnt = 0;
    ZT_OK(zf_tokenizer_encode(t, "a\0b", 3, 0, &ids, &cnt));
    ZT_CHECK(cnt == 3 && ids && ids[0] == 'a' && ids[1] == 0 && ids[2] == 'b', "byte 0x00 (token id 0) dropped: %lld ids",
             (long long)cnt);
    free(ids);
    zf_tokenizer_free(t);
}

static void test_small_vocab(void) {
    /* ids: 256 <s>, 257 </s>, 258 aa, 259 bc, 260 abc, 261 <tool>, 262 <x>, 263 <x>y, 264 ab */
    static const char *const extra[] = {"<s>", "</s>", "aa", "bc", "abc", "<tool>", "<x>", "<x>y", "ab"};
    static const int32_t types[] = {3, 3, 1, 1, 1, 4, 3, 3, 1};
    /* "b c" outranks "a b": "abc" must become a|bc, then abc */
    static const char *const merges[] = {"a a", "b c", "a bc", "a b"};
    small_vocab s;
    make_small(&s, extra, types, 9, merges, 4);
    zf_tokenizer *t = NULL;
    ZT_OK(zf_tokenizer_create(&s.v, &t));
    if (!t) return;
    ZT_CHECK(encode_is(t, "aaaaa", 0, (const int32_t[]){258, 258, 'a'}, 3), "equal ranks merge leftmost first");
    ZT_CHECK(encode_is(t, "abc", 0, (const int32_t[]){260}, 1), "lower rank merges first (abc)");
    ZT_CHECK(encode_is(t, "ab", 0, (const int32_t[]){264}, 1), "ab");
    ZT_CHECK(encode_is(t, "abab", 0, (const int32_t[]){264, 264}, 2), "abab");
    ZT_CHECK(encode_is(t, "x<tool>y", 0, (const int32_t[]){'x', 261, 'y'}, 3),
             "user-defined tokens match without ZF_TOK_PARSE_SPECIAL");
    ZT_CHECK(encode_is(t, "<x>", 0, (const int32_t[]){'<', 'x', '>'}, 3), "control tokens need ZF_TOK_PARSE_SPECIAL");
    ZT_CHECK(encode_is(t, "<x>y<x>", ZF_TOK_PARSE_SPECIAL, (const int32_t[]){263, 262}, 2), "longest special wins");
    ZT_CHECK(encode_is(t, "ab", ZF_TOK_ADD_BOS, (const int32_t[]){256, 264}, 2), "ZF_TOK_ADD_BOS prepends BOS");
    ZT_CHECK(encode_is(t, "", 0, NULL, 0), "empty text");
    ZT_CHECK(zf_tokenizer_find(t, "<x>y", 4) == 263 && zf_tokenizer_find(t, "zz", 2) == -1 &&
                 zf_tokenizer_is_control(t, 262) && !zf_tokenizer_is_control(t, 261) && zf_tokenizer_bos(t) == 256 &&
                 zf_tokenizer_eos(t) == 257 && zf_tokenizer_n_vocab(t) == 265,
             "find / is_control / bos / eos / n_vocab");

    /* decode: control tokens render only on request; short buffers are refused untouched */
    char buf[8];
    size_t n = 99;
    ZT_OK(zf_tokenizer_decode_token(t, 262, 0, buf, sizeof buf, &n));
    ZT_CHECK(n == 0, "control token decodes to nothing by default (%zu bytes)", n);
    ZT_OK(zf_tokenizer_decode_token(t, 262, ZF_TOK_DECODE_SPECIAL, buf, sizeof buf, &n));
    ZT_CHECK(n == 3 && memcmp(buf, "<x>", 3) == 0, "control token text with ZF_TOK_DECODE_SPECIAL");
    ZT_OK(zf_tokenizer_decode_token(t, ' ', 0, buf, sizeof buf, &n));
    ZT_CHECK(n == 1 && buf[0] == ' ', "byte token 'Ġ' decodes to a space");
    memset(buf, 0x5a, sizeof buf);
    ZT_CHECK(zf_tokenizer_decode_token(t, 260, 0, buf, 2, &n) == ZF_ERR_INVALID_ARG && n == 3 && buf[0] == 0x5a,
             "short buffer: error, needed length, buffer untouched");
    ZT_CHECK(zf_tokenizer_decode_token(t, 265, 0, buf, sizeof buf, &n) == ZF_ERR_INVALID_ARG &&
                 strstr(zf_last_error(), "[tokenizer] id 265"),
             "id out of range: %s", zf_last_error());
    ZT_CHECK(zf_tokenizer_decode_token(t, -1, 0, buf, sizeof buf, &n) == ZF_ERR_INVALID_ARG, "negative id");
    ZT_CHECK(zf_tokenizer_decode_token(t, 1, ZF_TOK_ADD_BOS, buf, sizeof buf, &n) == ZF_ERR_INVALID_ARG &&
                 strstr(zf_last_error(), "flags"),
             "decode flags: %s", zf_last_error());

    /* encode errors leave the outputs alone */
    int32_t sentinel = 7, *ids = &sentinel;
    int64_t cnt = -5;
    ZT_CHECK(zf_tokenizer_encode(t, NULL, 3, 0, &ids, &cnt) == ZF_ERR_INVALID_ARG && ids == &sentinel && cnt == -5 &&
                 strstr(zf_last_error(), "[tokenizer] text"),
             "NULL text: %s", zf_last_error());
    ZT_CHECK(zf_tokenizer_encode(t, "a", -1, 0, &ids, &cnt) == ZF_ERR_INVALID_ARG && ids == &sentinel,
             "negative length");
    ZT_CHECK(zf_tokenizer_encode(t, "a", 1, ZF_TOK_DECODE_SPECIAL, &ids, &cnt) == ZF_ERR_INVALID_ARG &&
                 ids == &sentinel && strstr(zf_last_error(), "flags"),
             "encode flags: %s", zf_last_error());
    ZT_CHECK(zf_tokenizer_encode(t, "a", 1, 0, NULL, &cnt) == ZF_ERR_INVALID_ARG && cnt == -5, "NULL ids");
    zf_tokenizer_free(t);

    /* no BOS: ZF_TOK_ADD_BOS is an error; a byte without a token is dropped */
    s.v.bos_id = -1;
    s.tokens[1] = "\xc4\xa0\xc4\xa0"; /* byte 0x01's slot now holds "ĠĠ" */
    ZT_OK(zf_tokenizer_create(&s.v, &t));
    if (t) {
        ZT_CHECK(zf_tokenizer_encode(t, "a", 1, ZF_TOK_ADD_BOS, &ids, &cnt) == ZF_ERR_INVALID_ARG && ids == &sentinel &&
                     strstr(zf_last_error(), "BOS"),
                 "ADD_BOS without BOS: %s", zf_last_error());
        ZT_CHECK(encode_is(t, "a\x01" "b", 0, (const int32_t[]){'a', 'b'}, 2), "a byte with no token is dropped");
        zf_tokenizer_free(t);
    }
}

static void expect_create_error(const zf_vocab_data *v, zf_status want, const char *needle, const char *what) {
    zf_tokenizer *t = (zf_tokenizer *)&t;
    zf_status st = zf_tokenizer_create(v, &t);
    ZT_CHECK(st == want && t == (zf_tokenizer *)&t && strstr(zf_last_error(), needle), "%s: got %s \"%s\"", what,
             zf_status_name(st), zf_last_error());
}

static void test_create_errors(void) {
    static const char *const extra[] = {"<s>", "</s>", "aa"};
    static const int32_t types[] = {3, 3, 1};
    static const char *const good[] = {"a a"};
    small_vocab s;
    make_small(&s, extra, types, 3, good, 1);
    zf_tokenizer *t = NULL;
    ZT_CHECK(zf_tokenizer_create(&s.v, NULL) == ZF_ERR_INVALID_ARG, "NULL out");
    expect_create_error(NULL, ZF_ERR_INVALID_ARG, "vocab is NULL", "NULL vocab");
    s.v.model = "llama";
    expect_create_error(&s.v, ZF_ERR_UNSUPPORTED, "\"llama\"", "SentencePiece model");
    s.v.model = "gpt2";
    s.v.pre = "falcon";
    expect_create_error(&s.v, ZF_ERR_UNSUPPORTED, "\"falcon\"", "unknown pre-tokenizer");
    s.v.pre = "qwen2";
    static const char *const missing[] = {"a a", "a zz"};
    s.v.merges = missing;
    s.v.n_merges = 2;
    expect_create_error(&s.v, ZF_ERR_FORMAT, "merge 1 \"a zz\"", "merge of an unknown token");
    static const char *const nospace[] = {"aa"};
    s.v.merges = nospace;
    s.v.n_merges = 1;
    expect_create_error(&s.v, ZF_ERR_FORMAT, "merge 0", "merge without a space");
    static const char *const noresult[] = {"a b"};
    s.v.merges = noresult;
    expect_create_error(&s.v, ZF_ERR_FORMAT, "\"ab\" is not in the vocabulary", "merge result missing");
    s.v.merges = good;
    s.v.bos_id = 300;
    expect_create_error(&s.v, ZF_ERR_FORMAT, "bos 300", "BOS out of range");
    s.v.bos_id = 256;
    s.tokens[5] = "";
    expect_create_error(&s.v, ZF_ERR_FORMAT, "token 5 is empty", "empty token");
    s.tokens[5] = s.bytes[5];
    s.v.n_tokens = 0;
    expect_create_error(&s.v, ZF_ERR_INVALID_ARG, "0 tokens", "no tokens");
    s.v.n_tokens = 259;
    for (size_t i = 0; i < N_PRES; i++) {
        s.v.pre = PRES[i];
        ZT_OK(zf_tokenizer_create(&s.v, &t));
        zf_tokenizer_free(t);
        t = NULL;
    }
}

/* ---- ChatML ---- */

static void test_chat(zf_tokenizer *smol) {
    char *tmpl = read_file("smollm2_chat_template.txt", NULL), *sys = NULL;
    ZT_CHECK(tmpl != NULL, "cannot read smollm2_chat_template.txt");
    ZT_OK(zf_chat_template_default_system(tmpl, &sys));
    ZT_CHECK(sys && strcmp(sys, "You are a helpful AI assistant named SmolLM, trained by Hugging Face") == 0,
             "SmolLM2's default system prompt: %s", sys ? sys : "(none)");
    char *none = (char *)"x";
    ZT_OK(zf_chat_template_default_system(
        "{%- if messages[0].role == 'system' %}{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}",
        &none));
    ZT_CHECK(none == NULL, "a template that splices the user's system message has no default");
    /* an expression without quotes is not a literal either, nor text with an escape in it */
    none = (char *)"x";
    ZT_OK(zf_chat_template_default_system("<|im_start|>system\n{{ system_message }}<|im_end|>\n", &none));
    ZT_CHECK(none == NULL, "a {{ }} expression taken as the default system prompt: %s", none ? none : "");
    none = (char *)"x";
    ZT_OK(zf_chat_template_default_system("<|im_start|>system\nTab\\there<|im_end|>\n", &none));
    ZT_CHECK(none == NULL, "a prompt with an escape taken literally: %s", none ? none : "");
    char *qwen = NULL;
    ZT_OK(zf_chat_template_default_system("{{- '<|im_start|>system\\nYou are Qwen.<|im_end|>\\n' }}", &qwen));
    ZT_CHECK(qwen && strcmp(qwen, "You are Qwen.") == 0, "escaped \\n template: %s", qwen ? qwen : "(none)");
    free(qwen);

    zf_chat_message msgs[] = {{"user", "What is the capital of France?"}};
    char *out = NULL;
    int64_t len = 0;
    ZT_OK(zf_chat_format(msgs, 1, sys, 1, &out, &len));
    const char *want = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                       "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
    ZT_CHECK(out && len == (int64_t)strlen(want) && strcmp(out, want) == 0, "ChatML with default system: %s", out);
    if (out && smol) {
        int32_t *ids = NULL;
        int64_t n = 0;
        ZT_OK(zf_tokenizer_encode(smol, out, len, ZF_TOK_PARSE_SPECIAL, &ids, &n));
        int32_t start = zf_tokenizer_find(smol, "<|im_start|>", 12), end = zf_tokenizer_find(smol, "<|im_end|>", 10);
        int starts = 0, ends = 0;
        for (int64_t i = 0; i < n; i++) starts += ids[i] == start, ends += ids[i] == end;
        ZT_CHECK(ids && ids[0] == start && starts == 3 && ends == 2 && start == 1 && end == 2,
                 "chat prompt encodes its markers as tokens 1 and 2");
        free(ids);
    }
    free(out);
    zf_chat_message two[] = {{"system", "Be brief."}, {"user", "Hi"}};
    ZT_OK(zf_chat_format(two, 2, sys, 0, &out, &len));
    ZT_CHECK(out && strcmp(out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n") == 0,
             "a given system message replaces the default; no generation prompt: %s", out);
    free(out);
    out = (char *)"x";
    ZT_CHECK(zf_chat_format(msgs, 0, NULL, 1, &out, &len) == ZF_ERR_INVALID_ARG && strcmp(out, "x") == 0,
             "no messages");
    zf_chat_message bad[] = {{NULL, "x"}};
    ZT_CHECK(zf_chat_format(bad, 1, NULL, 1, &out, &len) == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), "message 0"),
             "NULL role: %s", zf_last_error());
    free(sys);
    free(tmpl);
}

/* ---- the real GGUF, when present: its vocabulary through the loader gives
 * the golden ids too (ZF_SMOLLM2 names the file) ---- */

static void test_real_gguf(zf_tokenizer *tok[N_PRES]) {
    char path[1200];
    const char *env = getenv("ZF_SMOLLM2");
    if (env) snprintf(path, sizeof path, "%s", env);
    else snprintf(path, sizeof path, "%s/../../../models/SmolLM2-135M-Instruct.Q4_1.gguf", g_dir);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        printf("real GGUF: %s absent, skipped\n", path);
        return;
    }
    fclose(probe);
    zf_model_file *f = NULL;
    zf_vocab_data v;
    zf_tokenizer *real = NULL;
    ZT_OK(zf_model_file_open(path, NULL, NULL, &f));
    if (f) ZT_OK(zf_model_file_vocab(f, &v));
    if (f) ZT_OK(zf_tokenizer_create(&v, &real));
    if (real) {
        ZT_CHECK(!strcmp(v.pre, "smollm") && zf_tokenizer_n_vocab(real) == 49152, "GGUF vocab: pre %s", v.pre);
        zf_tokenizer *with_real[N_PRES] = {real, tok[1], tok[2], tok[3]};
        printf("real GGUF %s:\n", path);
        test_golden(with_real, NULL);
    }
    zf_tokenizer_free(real);
    zf_model_file_close(f);
}

/* ---- speed (printed, not asserted) ---- */

static void report_speed(zf_tokenizer *tok, const char *corpus, size_t len) {
    int reps = getenv("ZF_TEST_QUICK") ? 5 : 50;
    int64_t total = 0;
    clock_t c0 = clock();
    for (int r = 0; r < reps; r++) {
        int32_t *ids = NULL;
        int64_t n = 0;
        /* a fresh tokenizer's cache would be cold; this measures the warm path */
        ZT_OK(zf_tokenizer_encode(tok, corpus, (int64_t)len, ZF_TOK_PARSE_SPECIAL, &ids, &n));
        total += n;
        free(ids);
    }
    double s = (double)(clock() - c0) / CLOCKS_PER_SEC;
    if (s > 0) printf("encode (smollm, warm cache): %.2f MB/s, %.0f tokens/s\n", reps * (double)len / s / 1e6, total / s);
}

int main(void) {
    zt_init("test_tokenizer");
    const char *env = getenv("ZF_TOKENIZER_DATA");
    if (env) snprintf(g_dir, sizeof g_dir, "%s", env);
    else {
        snprintf(g_dir, sizeof g_dir, "%s", __FILE__);
        char *slash = strrchr(g_dir, '/');
        snprintf(slash ? slash + 1 : g_dir, sizeof g_dir - (size_t)(slash ? slash + 1 - g_dir : 0), "data/tokenizer");
    }
    test_small_vocab();
    test_vocab_edges();
    test_duplicate_merges();
    test_create_errors();

    vocab_file vf;
    char vpath[1200];
    snprintf(vpath, sizeof vpath, "%s/smollm2_vocab.txt", g_dir);
    int have = load_vocab(vpath, &vf);
    ZT_CHECK(have, "cannot read the vocabulary extract in %s", g_dir);
    zf_tokenizer *tok[N_PRES] = {0};
    zf_pretok *pre[N_PRES] = {0};
    if (have) {
        ZT_CHECK(strcmp(vf.v.pre, "smollm") == 0 && vf.v.n_tokens == 49152 && vf.v.n_merges == 48900,
                 "extract: pre %s, %lld tokens, %lld merges", vf.v.pre, (long long)vf.v.n_tokens,
                 (long long)vf.v.n_merges);
        for (int p = 0; p < N_PRES; p++) {
            vf.v.pre = PRES[p];
            ZT_OK(zf_tokenizer_create(&vf.v, &tok[p]));
            ZT_OK(zf_pretok_create(PRES[p], &pre[p]));
        }
    }
    size_t corpus_len = 0;
    char *corpus = read_file("corpus.txt", &corpus_len);
    ZT_CHECK(corpus != NULL, "cannot read corpus.txt");
    if (tok[0] && pre[N_PRES - 1] && corpus) {
        test_golden(tok, pre);
        test_round_trips(tok, corpus, corpus_len);
        report_speed(tok[0], corpus, corpus_len);
        test_real_gguf(tok);
    }
    test_chat(tok[0]);
    for (int p = 0; p < N_PRES; p++) {
        zf_tokenizer_free(tok[p]);
        zf_pretok_free(pre[p]);
    }
    free(corpus);
    if (have) free_vocab(&vf);
    return zt_finish();
}
