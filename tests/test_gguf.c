/* GGUF loader: a file built here with every metadata type and every tensor
 * type from random blocks; the affine conversion must dequantize to the
 * float64 block formula rounded once to f32 (bit for bit). Truncation and
 * corruption at every byte must fail cleanly. The real SmolLM2 file, when
 * present, is checked for its config, tensor types and values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "model/gguf.h"
#include "model/gguf_convert.h"
#include "model/model_file.h"
#include "model/sha256.h"

/* ---- a little GGUF writer ---------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(buf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void key(buf *b, const char *k, uint32_t type) {
    put_str(b, k);
    put_u32(b, type);
}
static void kv_u32(buf *b, const char *k, uint32_t v) { key(b, k, ZF_GGUF_U32); put_u32(b, v); }
static void kv_f32(buf *b, const char *k, float v) { key(b, k, ZF_GGUF_F32); put(b, &v, 4); }
static void kv_str(buf *b, const char *k, const char *v) { key(b, k, ZF_GGUF_STRING); put_str(b, v); }

typedef struct tdesc {
    const char *name;
    uint32_t type;
    int ndim;
    int64_t ne[4];
    uint8_t *data;
    size_t bytes;
} tdesc;

static size_t block_bytes(uint32_t type, int *block) {
    static const struct { uint32_t t; int block; size_t bytes; } tab[] = {
        {0, 1, 4}, {1, 1, 2}, {30, 1, 2}, {2, 32, 18}, {3, 32, 20}, {6, 32, 22}, {7, 32, 24}, {8, 32, 34},
        {12, 256, 144}, {13, 256, 176}, {14, 256, 210}, {10, 256, 84},
    };
    *block = 1;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (tab[i].t == type) { *block = tab[i].block; return tab[i].bytes; }
    return 0;
}

static uint16_t rand_f16(double lo, double hi) {
    uint64_t r = zt_rand() % 16;
    if (r == 0) return (uint16_t)(zt_rand() % 1024); /* subnormal or zero */
    if (r == 1) return (uint16_t)(0x8000 | (zt_rand() % 1024));
    return zf_f32_to_f16((float)zt_uniform(lo, hi));
}

/* Random blocks with finite f16 scales at the type's scale positions. */
static void fill_blocks(uint32_t type, uint8_t *d, int64_t nblocks) {
    int block = 1;
    size_t bb = block_bytes(type, &block);
    for (size_t i = 0; i < nblocks * bb; i++) d[i] = (uint8_t)zt_rand();
    for (int64_t k = 0; k < nblocks; k++) {
        uint8_t *b = d + k * bb;
        uint16_t h[2] = {rand_f16(-0.2, 0.2), rand_f16(-0.2, 0.2)};
        if (type == ZF_GGML_Q6_K) memcpy(b + 208, h, 2);
        else if (type == 2 || type == 3 || type == 6 || type == 7 || type == 8 || type == 12 || type == 13 || type == 10)
            memcpy(b, h, type == 2 || type == 6 || type == 8 ? 2 : 4);
    }
}

static void fill_tensor(tdesc *t) {
    int block;
    size_t bb = block_bytes(t->type, &block);
    int64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) numel *= t->ne[i];
    t->bytes = (size_t)(numel / block) * bb;
    t->data = malloc(t->bytes);
    if (t->type == 0) for (int64_t i = 0; i < numel; i++) ((float *)t->data)[i] = (float)zt_uniform(-1, 1);
    else if (t->type == 1) for (int64_t i = 0; i < numel; i++) ((uint16_t *)t->data)[i] = zf_f32_to_f16((float)zt_uniform(-1, 1));
    else if (t->type == 30) for (int64_t i = 0; i < numel; i++) ((uint16_t *)t->data)[i] = zf_f32_to_bf16((float)zt_uniform(-1, 1));
    else fill_blocks(t->type, t->data, numel / block);
}

/* Metadata of every value type, nested arrays, the llama config and a
 * tokenizer; then tensor infos and data (the file ends with the last
 * tensor's data, so every truncation loses something). */
static buf build_gguf(const tdesc *ts, int nt, uint32_t alignment) {
    buf b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, (uint64_t)nt);
    int nkv = 0;
    buf kv = {0};
#define KV(stmt) (stmt, nkv++)
    KV(kv_str(&kv, "general.architecture", "llama"));
    if (alignment != 32) KV(kv_u32(&kv, "general.alignment", alignment));
    KV(kv_u32(&kv, "llama.embedding_length", 256));
    KV(kv_u32(&kv, "llama.block_count", 1));
    KV(kv_u32(&kv, "llama.feed_forward_length", 512));
    KV(kv_u32(&kv, "llama.attention.head_count", 4));
    key(&kv, "llama.attention.head_count_kv", ZF_GGUF_U64); put_u64(&kv, 2); nkv++;
    KV(kv_f32(&kv, "llama.attention.layer_norm_rms_epsilon", 1e-5f));
    key(&kv, "llama.rope.freq_base", ZF_GGUF_F64); { double v = 500000.0; put(&kv, &v, 8); } nkv++;
    key(&kv, "llama.context_length", ZF_GGUF_I64); put_u64(&kv, 4096); nkv++;
    /* scalar types zfast ignores, each with a known value */
    key(&kv, "x.u8", ZF_GGUF_U8); put(&kv, "\xfe", 1); nkv++;
    key(&kv, "x.i8", ZF_GGUF_I8); put(&kv, "\xfe", 1); nkv++;
    key(&kv, "x.u16", ZF_GGUF_U16); put(&kv, "\x34\x12", 2); nkv++;
    key(&kv, "x.i16", ZF_GGUF_I16); put(&kv, "\xfe\xff", 2); nkv++;
    key(&kv, "x.i32", ZF_GGUF_I32); put_u32(&kv, 0xfffffffe); nkv++;
    key(&kv, "x.bool", ZF_GGUF_BOOL); put(&kv, "\x01", 1); nkv++;
    key(&kv, "x.u64", ZF_GGUF_U64); put_u64(&kv, 0x123456789abcull); nkv++;
    /* arrays: of every scalar type, of strings, and nested */
    key(&kv, "x.arr_f32", ZF_GGUF_ARRAY); put_u32(&kv, ZF_GGUF_F32); put_u64(&kv, 3);
    { float v[3] = {1.5f, -2, 3}; put(&kv, v, 12); } nkv++;
    for (uint32_t t = 0; t <= ZF_GGUF_F64; t++) {
        if (t == ZF_GGUF_STRING || t == ZF_GGUF_ARRAY) continue;
        char k[32];
        snprintf(k, sizeof k, "x.arr_type_%u", t);
        key(&kv, k, ZF_GGUF_ARRAY); put_u32(&kv, t); put_u64(&kv, 2);
        static const size_t sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        uint8_t z[16] = {1, 0, 0, 0, 0, 0, 0, 0, 1};
        put(&kv, z, 2 * sz[t]); nkv++;
    }
    key(&kv, "x.nested", ZF_GGUF_ARRAY); put_u32(&kv, ZF_GGUF_ARRAY); put_u64(&kv, 2);
    put_u32(&kv, ZF_GGUF_STRING); put_u64(&kv, 2); put_str(&kv, "ab"); put_str(&kv, "");
    put_u32(&kv, ZF_GGUF_ARRAY); put_u64(&kv, 1); put_u32(&kv, ZF_GGUF_I16); put_u64(&kv, 1); put(&kv, "\x07\x00", 2);
    nkv++;
    /* tokenizer */
    static const char *tokens[] = {"<s>", "</s>", "a", "b", "ab", "Ġ", "Ġab", "ä", "x", "y"};
    key(&kv, "tokenizer.ggml.tokens", ZF_GGUF_ARRAY); put_u32(&kv, ZF_GGUF_STRING); put_u64(&kv, 10);
    for (int i = 0; i < 10; i++) put_str(&kv, tokens[i]);
    nkv++;
    key(&kv, "tokenizer.ggml.token_type", ZF_GGUF_ARRAY); put_u32(&kv, ZF_GGUF_I32); put_u64(&kv, 10);
    for (int i = 0; i < 10; i++) put_u32(&kv, i < 2 ? 3 : 1);
    nkv++;
    key(&kv, "tokenizer.ggml.merges", ZF_GGUF_ARRAY); put_u32(&kv, ZF_GGUF_STRING); put_u64(&kv, 2);
    put_str(&kv, "a b"); put_str(&kv, "Ġ ab"); nkv++;
    KV(kv_str(&kv, "tokenizer.ggml.model", "gpt2"));
    KV(kv_str(&kv, "tokenizer.ggml.pre", "smollm"));
    KV(kv_u32(&kv, "tokenizer.ggml.bos_token_id", 0));
    KV(kv_u32(&kv, "tokenizer.ggml.eos_token_id", 1));
    KV(kv_str(&kv, "tokenizer.chat_template", "{{ x }}"));
#undef KV
    put_u64(&b, (uint64_t)nkv);
    put(&b, kv.p, kv.n);
    free(kv.p);
    size_t off = 0;
    for (int i = 0; i < nt; i++) {
        put_str(&b, ts[i].name);
        put_u32(&b, (uint32_t)ts[i].ndim);
        for (int d = 0; d < ts[i].ndim; d++) put_u64(&b, (uint64_t)ts[i].ne[d]);
        put_u32(&b, ts[i].type);
        put_u64(&b, off);
        off += (ts[i].bytes + alignment - 1) / alignment * alignment;
    }
    while (b.n % alignment) put(&b, "", 1);
    for (int i = 0; i < nt; i++) {
        put(&b, ts[i].data, ts[i].bytes);
        if (i + 1 < nt) while (b.n % alignment) put(&b, "\xaa", 1);
    }
    return b;
}

/* ---- float64 reference: GGUF block formulas ------------------------------ */

static double f16v(const uint8_t *p) { return zf_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

static void kq_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    /* 8 six-bit pairs in 12 bytes: j<4 in the low 6 bits of bytes j / j+4;
     * j>=4 as a nibble of byte j+4 plus the top 2 bits of byte j-4 / j */
    if (j < 4) { *sc = s[j] % 64; *m = s[j + 4] % 64; }
    else { *sc = s[j + 4] % 16 + 16 * (s[j - 4] / 64); *m = s[j + 4] / 16 + 16 * (s[j] / 64); }
}

/* element i of block b */
static double ref_elem(uint32_t type, const uint8_t *b, int i) {
    int sc, m;
    switch (type) {
    case 2: return f16v(b) * ((i < 16 ? b[2 + i] % 16 : b[2 + i - 16] / 16) - 8);
    case 3: return f16v(b) * (i < 16 ? b[4 + i] % 16 : b[4 + i - 16] / 16) + f16v(b + 2);
    case 6: case 7: {
        const uint8_t *qh = b + (type == 6 ? 2 : 4), *qs = qh + 4;
        uint32_t h = qh[0] | qh[1] << 8 | qh[2] << 16 | (uint32_t)qh[3] << 24;
        int q = (i < 16 ? qs[i] % 16 : qs[i - 16] / 16) + 16 * (int)((h >> i) & 1);
        return type == 6 ? f16v(b) * (q - 16) : f16v(b) * q + f16v(b + 2);
    }
    case 8: return f16v(b) * (int8_t)b[2 + i];
    case 12: case 13: {
        int chunk = i / 64, sub = i / 32, l = i % 32;
        const uint8_t *qs = b + (type == 12 ? 16 : 48);
        int q = (sub % 2) ? qs[32 * chunk + l] / 16 : qs[32 * chunk + l] % 16;
        if (type == 13) q += 16 * ((b[16 + l] >> sub) & 1);
        kq_scale_min(b + 4, sub, &sc, &m);
        return f16v(b) * sc * q - f16v(b + 2) * m;
    }
    case 14: {
        int half = i / 128, r = i % 128, quad = r / 32, l = r % 32;
        int ql = b[64 * half + l + 32 * (quad % 2)];
        int q = (quad < 2 ? ql % 16 : ql / 16) + 16 * ((b[128 + 32 * half + l] >> (2 * quad)) & 3) - 32;
        return f16v(b + 208) * (int8_t)b[192 + 8 * half + l / 16 + 2 * quad] * q;
    }
    default: return NAN;
    }
}

static double ref_value(const tdesc *t, int64_t i) {
    int block = 1;
    size_t bb = block_bytes(t->type, &block);
    if (t->type == 0) return ((float *)t->data)[i];
    if (t->type == 1) return zf_f16_to_f32(((uint16_t *)t->data)[i]);
    if (t->type == 30) return zf_bf16_to_f32(((uint16_t *)t->data)[i]);
    return ref_elem(t->type, t->data + (i / block) * bb, (int)(i % block));
}

/* w[row, j] of an affine weight, LSB-first unpacking + scale*q + bias */
static float affine_value(const zf_qweight *q, int64_t row, int64_t j) {
    const uint32_t *w = q->packed + row * (q->k * q->bits / 32);
    int64_t bit = j * q->bits;
    uint64_t two = w[bit / 32] | (bit / 32 + 1 < q->k * q->bits / 32 ? (uint64_t)w[bit / 32 + 1] << 32 : 0);
    uint32_t qv = (uint32_t)(two >> (bit % 32)) & ((1u << q->bits) - 1);
    int64_t g = row * (q->k / q->group_size) + j / q->group_size;
    float s = zt_get(q->scale_dtype, q->scales, g), b = zt_get(q->scale_dtype, q->biases, g);
    return s * (float)qv + b;
}

static float weight_value(const zf_weight *w, int64_t i) {
    if (w->kind == ZF_WEIGHT_FLOAT) return zt_get(w->t.dtype, w->t.data, i);
    return affine_value(&w->q, i / w->q.k, i % w->q.k);
}

static int64_t check_values(const zf_weight *w, const tdesc *t, int64_t numel) {
    int64_t bad = 0;
    for (int64_t i = 0; i < numel; i++) {
        float got = weight_value(w, i), want = (float)ref_value(t, i);
        if (!(got == want) && !(isnan(got) && isnan(want)) && bad++ < 3)
            fprintf(stderr, "  %s[%lld]: %.9g, reference %.9g\n", t->name, (long long)i, got, want);
    }
    return bad;
}

/* ---- tests --------------------------------------------------------------- */

static void test_sha256(void) {
    static const struct { const char *in, *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < 3; i++) {
        zf_sha256 s;
        char hex[65];
        ZT_CHECK(zf_sha256_init(&s) == 0, "sha256 init");
        zf_sha256_update(&s, v[i].in, strlen(v[i].in));
        ZT_CHECK(zf_sha256_final_hex(&s, hex) == 0, "sha256 final");
        ZT_CHECK(!strcmp(hex, v[i].hex), "sha256('%s') = %s", v[i].in, hex);
    }
    /* one million 'a' fed in random pieces */
    static char a[1000000];
    memset(a, 'a', sizeof a);
    zf_sha256 s;
    char hex[65];
    ZT_CHECK(zf_sha256_init(&s) == 0, "sha256 init");
    for (size_t at = 0; at < sizeof a;) {
        size_t n = 1 + zt_rand() % 300;
        if (n > sizeof a - at) n = sizeof a - at;
        zf_sha256_update(&s, a + at, n);
        at += n;
    }
    ZT_CHECK(zf_sha256_final_hex(&s, hex) == 0, "sha256 final");
    ZT_CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "sha256(1M a) = %s", hex);
}

/* Fuzzer seeds (fuzz/corpus/gguf) when ZF_WRITE_CORPUS names a directory. */
static void write_seed(const char *name, const buf *b) {
    const char *corpus = getenv("ZF_WRITE_CORPUS");
    char path[4096];
    if (!corpus) return;
    snprintf(path, sizeof path, "%s/%s", corpus, name);
    zt_write_file(path, b->p, b->n);
}

static int64_t g_prog_done, g_prog_total, g_prog_calls, g_prog_backwards;
static void progress(int64_t done, int64_t total, void *ctx) {
    (void)ctx;
    if (done < g_prog_done) g_prog_backwards++;
    g_prog_done = done;
    g_prog_total = total;
    g_prog_calls++;
}

enum { NT = 13 };
static tdesc g_ts[NT] = {
    {"token_embd.weight", ZF_GGML_Q8_0, 2, {256, 10}, 0, 0},
    {"output_norm.weight", ZF_GGML_F32, 1, {256}, 0, 0},
    {"blk.0.attn_norm.weight", ZF_GGML_F16, 1, {256}, 0, 0},
    {"blk.0.ffn_norm.weight", ZF_GGML_BF16, 1, {256}, 0, 0},
    {"blk.0.attn_q.weight", ZF_GGML_Q4_0, 2, {256, 3}, 0, 0},
    {"blk.0.attn_k.weight", ZF_GGML_Q4_1, 2, {256, 3}, 0, 0},
    {"blk.0.attn_v.weight", ZF_GGML_Q5_0, 2, {256, 2}, 0, 0},
    {"blk.0.attn_output.weight", ZF_GGML_Q5_1, 2, {256, 2}, 0, 0},
    {"blk.0.ffn_gate.weight", ZF_GGML_Q4_K, 2, {512, 3}, 0, 0},
    {"blk.0.ffn_up.weight", ZF_GGML_Q5_K, 3, {256, 2, 2}, 0, 0},
    {"blk.0.ffn_down.weight", ZF_GGML_Q6_K, 2, {512, 2}, 0, 0},
    {"big.weight", ZF_GGML_Q4_0, 2, {64, 1}, 0, 0},
    {"rope_freqs.weight", 10 /* Q2_K: tolerated, not loadable */, 1, {256}, 0, 0},
};

static void test_synthetic(uint32_t alignment) {
    for (int i = 0; i < NT; i++) fill_tensor(&g_ts[i]);
    /* big.weight: a scale whose -8d overflows f16 -> f32 scales, still exact */
    g_ts[11].data[0] = 0x00; g_ts[11].data[1] = 0x70; /* d = 8192 */
    buf b = build_gguf(g_ts, NT, alignment);
    char seed[64];
    snprintf(seed, sizeof seed, "synthetic_align%u.gguf", alignment);
    write_seed(seed, &b);
    zf_model_file *f = NULL;
    g_prog_done = g_prog_calls = g_prog_backwards = 0;
    ZT_OK(zf_model_file_open_gguf_memory(b.p, b.n, progress, NULL, &f));
    if (!f) return;
    ZT_CHECK(g_prog_calls >= NT && g_prog_done == g_prog_total && !g_prog_backwards, "progress %lld/%lld in %lld calls",
             (long long)g_prog_done, (long long)g_prog_total, (long long)g_prog_calls);
    const zf_model_config *c = zf_model_file_config(f);
    ZT_CHECK(!strcmp(c->arch, "llama") && c->hidden == 256 && c->layers == 1 && c->heads == 4 && c->kv_heads == 2 &&
             c->head_dim == 64 && c->ffn == 512 && c->vocab == 10 && c->context_length == 4096 && !c->is_moe,
             "config %s %lld %lld %lld %lld %lld %lld %lld", c->arch, (long long)c->hidden, (long long)c->layers,
             (long long)c->heads, (long long)c->kv_heads, (long long)c->head_dim, (long long)c->ffn, (long long)c->vocab);
    ZT_CHECK(c->rms_eps == 1e-5f && c->rope_theta == 500000.0f && c->rope_style == ZF_ROPE_NORMAL &&
             c->tied_embeddings && !c->qk_norm && !c->attn_bias, "config eps %g theta %g", c->rms_eps, c->rope_theta);
    for (int i = 0; i < NT - 1; i++) {
        zf_weight w;
        ZT_OK(zf_model_file_weight(f, g_ts[i].name, &w));
        int64_t numel = g_ts[i].ne[0] * g_ts[i].ne[1] * (g_ts[i].ndim > 2 ? g_ts[i].ne[2] : 1);
        int affine = zf_gguf_affine_bits(g_ts[i].type) > 0;
        ZT_CHECK(w.kind == (affine ? ZF_WEIGHT_AFFINE : ZF_WEIGHT_FLOAT), "%s kind %d", g_ts[i].name, w.kind);
        if (affine)
            ZT_CHECK(w.q.k == g_ts[i].ne[0] && w.q.n == g_ts[i].ne[1] && w.q.experts == (g_ts[i].ndim > 2 ? g_ts[i].ne[2] : 1) &&
                     w.q.group_size == 32 && w.q.bits == zf_gguf_affine_bits(g_ts[i].type),
                     "%s: affine shape", g_ts[i].name);
        else
            ZT_CHECK(w.t.ndim == g_ts[i].ndim && w.t.shape[w.t.ndim - 1] == g_ts[i].ne[0], "%s: float shape", g_ts[i].name);
        int64_t bad = check_values(&w, &g_ts[i], numel);
        ZT_CHECK(bad == 0, "%s (type %u): %lld of %lld values differ from the block formula", g_ts[i].name,
                 g_ts[i].type, (long long)bad, (long long)numel);
        if (i == 11) ZT_CHECK(w.q.scale_dtype == ZF_DTYPE_F32, "big.weight: -8d overflows f16, expected f32 scales");
        if (i == 5) ZT_CHECK(w.q.scale_dtype == ZF_DTYPE_F16, "Q4_1: expected f16 scales");
    }
    ZT_CHECK(!zf_model_file_has(f, "rope_freqs.weight"), "unsupported tensor type reported present");
    zf_weight w;
    ZT_CHECK(zf_model_file_weight(f, "rope_freqs.weight", &w) == ZF_ERR_FORMAT && strstr(zf_last_error(), "type 10"),
             "unsupported type message: %s", zf_last_error());
    ZT_CHECK(zf_model_file_weight(f, "blk.9.attn_q.weight", &w) == ZF_ERR_FORMAT &&
             strstr(zf_last_error(), "missing tensor blk.9.attn_q.weight"), "missing: %s", zf_last_error());
    zf_vocab_data v;
    ZT_OK(zf_model_file_vocab(f, &v));
    ZT_CHECK(v.n_tokens == 10 && !strcmp(v.tokens[6], "Ġab") && !strcmp(v.tokens[7], "ä") && v.n_merges == 2 &&
             !strcmp(v.merges[1], "Ġ ab") && v.token_type && v.token_type[0] == 3 && v.token_type[2] == 1 &&
             v.bos_id == 0 && v.eos_id == 1 && !strcmp(v.model, "gpt2") && !strcmp(v.pre, "smollm") &&
             !strcmp(v.chat_template, "{{ x }}"), "vocab");
    char hex[65], want[65];
    zf_sha256 s;
    zf_sha256_init(&s);
    zf_sha256_update(&s, b.p, b.n);
    zf_sha256_final_hex(&s, want);
    ZT_OK(zf_model_file_sha256(f, hex));
    ZT_CHECK(!strcmp(hex, want), "file hash");
    zf_model_file_close(f);

    /* metadata values as the parser sees them */
    zf_gguf g;
    ZT_OK(zf_gguf_parse(b.p, b.n, &g));
    const zf_gguf_kv *kv = zf_gguf_find(&g, "x.u16");
    ZT_CHECK(kv && kv->type == ZF_GGUF_U16 && b.p[kv->off] == 0x34, "x.u16");
    kv = zf_gguf_find(&g, "x.nested");
    ZT_CHECK(kv && kv->arr_type == ZF_GGUF_ARRAY && kv->arr_n == 2, "nested array");
    kv = zf_gguf_find(&g, "x.arr_f32");
    ZT_CHECK(kv && kv->arr_n == 3 && !memcmp(b.p + kv->arr_off + 4, &(float){-2}, 4), "f32 array");
    ZT_CHECK(g.alignment == alignment && g.data_start % alignment == 0, "alignment %u", g.alignment);
    zf_gguf_free(&g);

    /* every truncation fails cleanly; the output stays untouched */
    int64_t bad_trunc = 0;
    zf_model_file *sentinel = (zf_model_file *)(uintptr_t)0x1234;
    for (size_t n = 0; n < b.n; n++) {
        f = sentinel;
        zf_status st = zf_model_file_open_gguf_memory(b.p, n, NULL, NULL, &f);
        if (st != ZF_ERR_FORMAT || f != sentinel || !strstr(zf_last_error(), "[gguf]")) bad_trunc++;
    }
    ZT_CHECK(bad_trunc == 0, "%lld truncations did not fail with a [gguf] format error", (long long)bad_trunc);
    /* corrupting any byte: a clean error or a file (data bytes are values);
     * ZF_TEST_QUICK (sanitizer runs) tries one value per byte instead of two */
    int64_t bad_corrupt = 0;
    int tries = getenv("ZF_TEST_QUICK") ? 1 : 2;
    for (size_t i = 0; i < b.n; i++) {
        uint8_t keep = b.p[i];
        for (int r = 0; r < tries; r++) {
            b.p[i] = r ? (uint8_t)zt_rand() : (uint8_t)(keep ^ 0xff);
            f = NULL;
            zf_status st = zf_model_file_open_gguf_memory(b.p, b.n, NULL, NULL, &f);
            if (st == ZF_OK) zf_model_file_close(f);
            else if (st != ZF_ERR_FORMAT || f) bad_corrupt++;
        }
        b.p[i] = keep;
    }
    ZT_CHECK(bad_corrupt == 0, "%lld corruptions gave neither a file nor a format error", (long long)bad_corrupt);
    free(b.p);
    for (int i = 0; i < NT; i++) free(g_ts[i].data);
}

/* Hand-made malformed headers: each error names the field and the offset. */
static void test_malformed(void) {
    struct { const char *what, *expect; buf b; } c[10];
    int n = 0;
    buf *b;
#define CASE(w, e) (c[n].what = (w), c[n].expect = (e), c[n].b = (buf){0}, b = &c[n++].b)
    CASE("magic", "magic at offset 0"); put(b, "GGUX\3\0\0\0", 8); put_u64(b, 0); put_u64(b, 0);
    CASE("version 1", "version at offset 4"); put(b, "GGUF\1\0\0\0", 8); put_u64(b, 0); put_u64(b, 0);
    CASE("huge kv count", "kv_count at offset 16"); put(b, "GGUF\3\0\0\0", 8); put_u64(b, 0); put_u64(b, 1ull << 60);
    CASE("string length", "metadata key at offset 24"); put(b, "GGUF\3\0\0\0", 8); put_u64(b, 0); put_u64(b, 1);
    put_u64(b, ~0ull);
    while (b->n < 64) put(b, "", 1);
    CASE("value type", "unknown value type 13"); put(b, "GGUF\3\0\0\0", 8); put_u64(b, 0); put_u64(b, 1); key(b, "k", 13);
    CASE("deep nesting", "nested deeper"); put(b, "GGUF\3\0\0\0", 8); put_u64(b, 0); put_u64(b, 1); key(b, "k", 9);
    for (int i = 0; i < 20; i++) { put_u32(b, 9); put_u64(b, 1); }
    CASE("duplicate key", "appears twice"); put(b, "GGUF\3\0\0\0", 8); put_u64(b, 0); put_u64(b, 2);
    kv_u32(b, "k", 1); kv_u32(b, "k", 2);
    CASE("alignment", "general.alignment at offset"); put(b, "GGUF\3\0\0\0", 8); put_u64(b, 0); put_u64(b, 1);
    kv_u32(b, "general.alignment", 24);
    CASE("n_dims", "n_dims 5"); put(b, "GGUF\3\0\0\0", 8); put_u64(b, 1); put_u64(b, 0); put_str(b, "t"); put_u32(b, 5);
    for (int i = 0; i < 8; i++) put_u64(b, 1);
    CASE("misaligned data", "not aligned"); put(b, "GGUF\3\0\0\0", 8); put_u64(b, 1); put_u64(b, 0); put_str(b, "t");
    put_u32(b, 1); put_u64(b, 8); put_u32(b, 0); put_u64(b, 4);
    while (b->n < 200) put(b, "", 1);
#undef CASE
    for (int i = 0; i < n; i++) {
        zf_model_file *f = (zf_model_file *)(uintptr_t)0x1234;
        zf_status st = zf_model_file_open_gguf_memory(c[i].b.p, c[i].b.n, NULL, NULL, &f);
        ZT_CHECK(st == ZF_ERR_FORMAT && strstr(zf_last_error(), c[i].expect) && f == (zf_model_file *)(uintptr_t)0x1234,
                 "%s: %s (want '%s')", c[i].what, zf_last_error(), c[i].expect);
        free(c[i].b.p);
    }
    zf_model_file *f = NULL;
    ZT_CHECK(zf_model_file_open("/nonexistent/model.gguf", NULL, NULL, &f) == ZF_ERR_IO && !f, "missing file");
    /* files shorter than the magic: a format error (an empty file maps to no memory) */
    char path[] = "/tmp/zf_gguf_shortXXXXXX";
    int fd = mkstemp(path);
    ZT_CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) {
        close(fd);
        for (size_t len = 0; len <= 3; len += 3) {
            ZT_CHECK(zt_write_file(path, "GGU", len), "write %zu bytes", len);
            f = (zf_model_file *)(uintptr_t)0x1234;
            zf_status st = zf_model_file_open(path, NULL, NULL, &f);
            ZT_CHECK(st == ZF_ERR_FORMAT && f == (zf_model_file *)(uintptr_t)0x1234 &&
                     strstr(zf_last_error(), "is neither a GGUF file (no \"GGUF\" magic) nor a safetensors directory"),
                     "%zu-byte file: status %d, %s", len, (int)st, zf_last_error());
        }
        unlink(path);
    }
    ZT_CHECK(zf_model_file_open(NULL, NULL, NULL, &f) == ZF_ERR_INVALID_ARG, "NULL path");
}

/* qwen3moe config keys; a missing required key is named; with_optional 0 drops
 * the keys that have defaults (head_count_kv, expert_weights_norm). */
static buf moe_gguf(int with_expert_count, int with_optional) {
    tdesc ts[3] = {{"token_embd.weight", ZF_GGML_F32, 2, {64, 5}, 0, 0},
                   {"output.weight", ZF_GGML_F16, 2, {64, 5}, 0, 0},
                   {"blk.0.attn_q_norm.weight", ZF_GGML_F32, 1, {16}, 0, 0}};
    for (int i = 0; i < 3; i++) fill_tensor(&ts[i]);
    buf b = {0}, kv = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 2); /* version 2 reads the same */
    put_u64(&b, 3);
    kv_str(&kv, "general.architecture", "qwen3moe");
    kv_u32(&kv, "qwen3moe.embedding_length", 64);
    kv_u32(&kv, "qwen3moe.block_count", 2);
    kv_u32(&kv, "qwen3moe.attention.head_count", 8);
    if (with_optional) kv_u32(&kv, "qwen3moe.attention.head_count_kv", 4);
    kv_u32(&kv, "qwen3moe.attention.key_length", 16);
    kv_u32(&kv, "qwen3moe.attention.value_length", 16);
    kv_f32(&kv, "qwen3moe.attention.layer_norm_rms_epsilon", 1e-6f);
    kv_f32(&kv, "qwen3moe.rope.freq_base", 1e6f);
    if (with_expert_count) kv_u32(&kv, "qwen3moe.expert_count", 8);
    kv_u32(&kv, "qwen3moe.expert_used_count", 2);
    kv_u32(&kv, "qwen3moe.expert_feed_forward_length", 32);
    if (with_optional) {
        key(&kv, "qwen3moe.expert_weights_norm", ZF_GGUF_BOOL);
        put(&kv, "\0", 1);
    }
    put_u64(&b, (uint64_t)(10 + !!with_expert_count + 2 * !!with_optional));
    put(&b, kv.p, kv.n);
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        put_str(&b, ts[i].name);
        put_u32(&b, (uint32_t)ts[i].ndim);
        for (int d = 0; d < ts[i].ndim; d++) put_u64(&b, (uint64_t)ts[i].ne[d]);
        put_u32(&b, ts[i].type);
        put_u64(&b, off);
        off += (ts[i].bytes + 31) / 32 * 32;
    }
    for (int i = 0; i < 3; i++) {
        while (b.n % 32) put(&b, "", 1);
        put(&b, ts[i].data, ts[i].bytes);
        free(ts[i].data);
    }
    free(kv.p);
    return b;
}

static void test_moe_config(void) {
    buf b = moe_gguf(1, 1);
    write_seed("qwen3moe_config.gguf", &b);
    zf_model_file *f = NULL;
    ZT_OK(zf_model_file_open_gguf_memory(b.p, b.n, NULL, NULL, &f));
    if (f) {
        const zf_model_config *c = zf_model_file_config(f);
        ZT_CHECK(c->is_moe && !strcmp(c->arch, "qwen3moe") && c->experts == 8 && c->experts_used == 2 &&
                 c->expert_ffn == 32 && !c->norm_topk_prob && c->head_dim == 16 && c->kv_heads == 4 && c->ffn == 0 &&
                 c->rope_style == ZF_ROPE_NEOX && c->qk_norm && !c->tied_embeddings && c->vocab == 5 && c->rms_eps == 1e-6f,
                 "qwen3moe config");
        ZT_CHECK(zf_model_file_vocab(f, &(zf_vocab_data){0}) == ZF_ERR_FORMAT && strstr(zf_last_error(), "no tokenizer"),
                 "no tokenizer: %s", zf_last_error());
        zf_model_file_close(f);
    }
    free(b.p);
    /* without the optional keys: as many kv heads as heads, top-k renormalised */
    b = moe_gguf(1, 0);
    f = NULL;
    ZT_OK(zf_model_file_open_gguf_memory(b.p, b.n, NULL, NULL, &f));
    if (f) {
        const zf_model_config *c = zf_model_file_config(f);
        ZT_CHECK(c->kv_heads == c->heads && c->heads == 8 && c->norm_topk_prob == 1,
                 "qwen3moe defaults: kv_heads %lld of %lld heads, norm_topk_prob %d", (long long)c->kv_heads,
                 (long long)c->heads, (int)c->norm_topk_prob);
        zf_model_file_close(f);
    }
    free(b.p);
    b = moe_gguf(0, 1);
    ZT_CHECK(zf_model_file_open_gguf_memory(b.p, b.n, NULL, NULL, &f) == ZF_ERR_FORMAT &&
             strstr(zf_last_error(), "'qwen3moe.expert_count': missing"), "missing key: %s", zf_last_error());
    free(b.p);
}

/* The six keys a one-layer dense file needs (architecture, hidden 64, one
 * block, feed-forward 96, heads, rms epsilon) into kv. */
static void kv_dense_basics(buf *kv, const char *arch, uint32_t heads, float eps) {
    char k[96];
    kv_str(kv, "general.architecture", arch);
    snprintf(k, sizeof k, "%s.embedding_length", arch), kv_u32(kv, k, 64);
    snprintf(k, sizeof k, "%s.block_count", arch), kv_u32(kv, k, 1);
    snprintf(k, sizeof k, "%s.feed_forward_length", arch), kv_u32(kv, k, 96);
    snprintf(k, sizeof k, "%s.attention.head_count", arch), kv_u32(kv, k, heads);
    snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", arch), kv_f32(kv, k, eps);
}

/* A minimal llama file with RoPE metadata: scaling type (NULL: absent), a
 * factor under factor_key (NULL: none), and optionally rope_freqs.weight. */
static buf rope_gguf(const char *type, const char *factor_key, float factor, tdesc *freqs) {
    tdesc emb = {"token_embd.weight", ZF_GGML_F32, 2, {64, 5}, 0, 0};
    fill_tensor(&emb);
    tdesc *ts[2] = {&emb, freqs};
    int nt = freqs ? 2 : 1, nkv = 6;
    buf b = {0}, kv = {0};
    kv_dense_basics(&kv, "llama", 4, 1e-5f);
    if (type) kv_str(&kv, "llama.rope.scaling.type", type), nkv++;
    if (factor_key) kv_f32(&kv, factor_key, factor), nkv++;
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, (uint64_t)nt);
    put_u64(&b, (uint64_t)nkv);
    put(&b, kv.p, kv.n);
    size_t off = 0;
    for (int i = 0; i < nt; i++) {
        put_str(&b, ts[i]->name);
        put_u32(&b, (uint32_t)ts[i]->ndim);
        for (int d = 0; d < ts[i]->ndim; d++) put_u64(&b, (uint64_t)ts[i]->ne[d]);
        put_u32(&b, ts[i]->type);
        put_u64(&b, off);
        off += (ts[i]->bytes + 31) / 32 * 32;
    }
    for (int i = 0; i < nt; i++) {
        while (b.n % 32) put(&b, "", 1);
        put(&b, ts[i]->data, ts[i]->bytes);
    }
    free(emb.data);
    free(kv.p);
    return b;
}

/* RoPE scaling as llama.cpp reads it: rope.scaling.type (absent = linear)
 * with rope.scaling.factor or the older rope.scale_linear; "none" never
 * scales; rope_freqs.weight is flagged and loads as f32 divisors; other
 * types are rejected by name. */
static void test_rope_scaling(void) {
    struct { const char *type, *key; float factor; zf_rope_scaling_type want; double want_factor; } ok[] = {
        {NULL, NULL, 0, ZF_ROPE_SCALING_NONE, 0},
        {"linear", "llama.rope.scaling.factor", 4, ZF_ROPE_SCALING_LINEAR, 4},
        {NULL, "llama.rope.scale_linear", 2.5f, ZF_ROPE_SCALING_LINEAR, 2.5},
        {NULL, "llama.rope.scaling.factor", 0, ZF_ROPE_SCALING_NONE, 0},
        {"linear", "llama.rope.scaling.factor", 1, ZF_ROPE_SCALING_NONE, 0},
        {"none", "llama.rope.scaling.factor", 4, ZF_ROPE_SCALING_NONE, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        buf b = rope_gguf(ok[i].type, ok[i].key, ok[i].factor, NULL);
        zf_model_file *f = NULL;
        ZT_OK(zf_model_file_open_gguf_memory(b.p, b.n, NULL, NULL, &f));
        if (f) {
            const zf_model_config *c = zf_model_file_config(f);
            ZT_CHECK(c->rope_scaling.type == ok[i].want && c->rope_scaling.factor == ok[i].want_factor && !c->rope_freqs,
                     "type %s, %s = %g: scaling %d factor %g", ok[i].type ? ok[i].type : "(absent)",
                     ok[i].key ? ok[i].key : "-", ok[i].factor, (int)c->rope_scaling.type, c->rope_scaling.factor);
            zf_model_file_close(f);
        }
        free(b.p);
    }
    tdesc freqs = {"rope_freqs.weight", ZF_GGML_F32, 1, {8}, 0, 0};
    fill_tensor(&freqs);
    buf b = rope_gguf(NULL, NULL, 0, &freqs);
    write_seed("rope_freqs.gguf", &b);
    zf_model_file *f = NULL;
    ZT_OK(zf_model_file_open_gguf_memory(b.p, b.n, NULL, NULL, &f));
    if (f) {
        zf_weight w;
        ZT_CHECK(zf_model_file_config(f)->rope_freqs, "rope_freqs.weight not flagged");
        ZT_OK(zf_model_file_weight(f, "rope_freqs.weight", &w));
        ZT_CHECK(w.kind == ZF_WEIGHT_FLOAT && w.t.dtype == ZF_DTYPE_F32 && zf_tensor_numel(&w.t) == 8 &&
                 !memcmp(w.t.data, freqs.data, 32), "rope_freqs.weight does not load as its f32 values");
        zf_model_file_close(f);
    }
    free(b.p);
    free(freqs.data);
    struct { const char *type, *key; float factor; const char *expect; } bad[] = {
        {"yarn", NULL, 0, "RoPE scaling type 'yarn' is not supported"},
        {"longrope", "llama.rope.scaling.factor", 4, "type 'longrope'"},
        {"linear", "llama.rope.scaling.factor", -2, "'llama.rope.scaling.factor': -2 is not a scaling factor"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        b = rope_gguf(bad[i].type, bad[i].key, bad[i].factor, NULL);
        f = NULL;
        ZT_CHECK(zf_model_file_open_gguf_memory(b.p, b.n, NULL, NULL, &f) == ZF_ERR_FORMAT && !f &&
                 strstr(zf_last_error(), bad[i].expect), "%s: %s (want '%s')", bad[i].type, zf_last_error(),
                 bad[i].expect);
        free(b.p);
    }
}

/* Metadata kv (nkv entries) and one f32 token_embd.weight [vocab, hidden]. */
static buf tiny_gguf(const buf *kv, int nkv, int64_t hidden, int64_t vocab) {
    tdesc emb = {"token_embd.weight", ZF_GGML_F32, 2, {hidden, vocab}, 0, 0};
    fill_tensor(&emb);
    buf b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, 1);
    put_u64(&b, (uint64_t)nkv);
    put(&b, kv->p, kv->n);
    put_str(&b, emb.name);
    put_u32(&b, 2);
    put_u64(&b, (uint64_t)hidden);
    put_u64(&b, (uint64_t)vocab);
    put_u32(&b, emb.type);
    put_u64(&b, 0);
    while (b.n % 32) put(&b, "", 1);
    put(&b, emb.data, emb.bytes);
    free(emb.data);
    return b;
}

/* qwen3, hidden 64 over 6 heads: key_length (16 here, or absent: -1) gives
 * the head size. */
static buf qwen3_heads_gguf(int key_length) {
    buf kv = {0};
    int nkv = 6;
    kv_dense_basics(&kv, "qwen3", 6, 1e-6f);
    if (key_length >= 0) kv_u32(&kv, "qwen3.attention.key_length", (uint32_t)key_length), nkv++;
    buf b = tiny_gguf(&kv, nkv, 64, 5);
    free(kv.p);
    return b;
}

/* llama with a 10-token vocabulary, n_types token_type entries (0: no key)
 * and tokenizer.ggml.bos_token_id bos. */
static buf vocab_gguf(int n_types, uint32_t bos) {
    buf kv = {0};
    int nkv = 7;
    kv_dense_basics(&kv, "llama", 4, 1e-5f);
    key(&kv, "tokenizer.ggml.tokens", ZF_GGUF_ARRAY);
    put_u32(&kv, ZF_GGUF_STRING);
    put_u64(&kv, 10);
    for (int i = 0; i < 10; i++) put_str(&kv, (const char *[]){"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}[i]);
    if (n_types) {
        key(&kv, "tokenizer.ggml.token_type", ZF_GGUF_ARRAY);
        put_u32(&kv, ZF_GGUF_I32);
        put_u64(&kv, (uint64_t)n_types);
        for (int i = 0; i < n_types; i++) put_u32(&kv, 1);
        nkv++;
    }
    kv_u32(&kv, "tokenizer.ggml.bos_token_id", bos);
    nkv++;
    buf b = tiny_gguf(&kv, nkv, 64, 10);
    free(kv.p);
    return b;
}

/* key_length sets the head size where hidden is no multiple of heads (and
 * is required then); token_type must have one entry per token; bos/eos ids
 * lie inside the vocabulary (the last token is allowed). */
static void test_config_bounds(void) {
    buf b = qwen3_heads_gguf(16);
    zf_model_file *f = NULL;
    ZT_OK(zf_model_file_open_gguf_memory(b.p, b.n, NULL, NULL, &f));
    if (f) {
        const zf_model_config *c = zf_model_file_config(f);
        ZT_CHECK(c->head_dim == 16 && c->heads == 6 && c->hidden == 64, "hidden 64, 6 heads, key_length 16: head_dim %lld",
                 (long long)c->head_dim);
        zf_model_file_close(f);
    }
    free(b.p);
    b = qwen3_heads_gguf(-1);
    f = (zf_model_file *)(uintptr_t)0x1234;
    ZT_CHECK(zf_model_file_open_gguf_memory(b.p, b.n, NULL, NULL, &f) == ZF_ERR_FORMAT &&
             f == (zf_model_file *)(uintptr_t)0x1234 &&
             strstr(zf_last_error(), "hidden size 64 is not a multiple of 6 heads and qwen3.attention.key_length is missing"),
             "hidden 64, 6 heads, no key_length: %s", zf_last_error());
    free(b.p);
    struct { int n_types; uint32_t bos; const char *expect; } c[] = {
        {10, 9, NULL},
        {0, 9, NULL},
        {10, 10, "'tokenizer.ggml.bos_token_id': token id 10 is outside the vocabulary (10)"},
        {12, 0, "'tokenizer.ggml.token_type' at offset"},
        {9, 0, "'tokenizer.ggml.token_type' at offset"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        b = vocab_gguf(c[i].n_types, c[i].bos);
        f = (zf_model_file *)(uintptr_t)0x1234;
        zf_status st = zf_model_file_open_gguf_memory(b.p, b.n, NULL, NULL, &f);
        if (!c[i].expect) {
            ZT_CHECK(st == ZF_OK, "%d token types, bos %u: %s", c[i].n_types, c[i].bos, zf_last_error());
            zf_vocab_data v;
            if (st == ZF_OK) {
                ZT_OK(zf_model_file_vocab(f, &v));
                ZT_CHECK(v.n_tokens == 10 && v.bos_id == (int32_t)c[i].bos && !!v.token_type == !!c[i].n_types,
                         "%d token types, bos %u: vocab", c[i].n_types, c[i].bos);
                zf_model_file_close(f);
            }
        } else {
            char entries[64];
            snprintf(entries, sizeof entries, ": %d entries for 10 tokens", c[i].n_types);
            ZT_CHECK(st == ZF_ERR_FORMAT && f == (zf_model_file *)(uintptr_t)0x1234 && strstr(zf_last_error(), c[i].expect) &&
                     (c[i].n_types == 10 || strstr(zf_last_error(), entries)),
                     "%d token types, bos %u: status %d, %s (want '%s')", c[i].n_types, c[i].bos, (int)st,
                     st ? zf_last_error() : "loaded", c[i].expect);
            if (st == ZF_OK) zf_model_file_close(f);
        }
        free(b.p);
    }
}

static void test_real_model(void) {
    char path[4096];
    const char *env = getenv("ZF_SMOLLM2");
    const char *src = __FILE__, *slash = strrchr(src, '/');
    if (env) snprintf(path, sizeof path, "%s", env);
    else snprintf(path, sizeof path, "%.*s/../models/SmolLM2-135M-Instruct.Q4_1.gguf", (int)(slash ? slash - src : 1), slash ? src : ".");
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        printf("  real model: %s not found, skipped (scripts/fetch-model.sh fetches it)\n", path);
        return;
    }
    fclose(fp);
    zf_model_file *f = NULL;
    ZT_OK(zf_model_file_open(path, NULL, NULL, &f));
    if (!f) return;
    const zf_model_config *c = zf_model_file_config(f);
    ZT_CHECK(!strcmp(c->arch, "llama") && c->hidden == 576 && c->layers == 30 && c->heads == 9 && c->kv_heads == 3 &&
             c->head_dim == 64 && c->ffn == 1536 && c->vocab == 49152 && c->tied_embeddings &&
             c->rope_style == ZF_ROPE_NORMAL && c->rms_eps == 1e-5f && c->rope_theta == 100000.0f &&
             c->context_length == 8192, "SmolLM2 config: %s hidden %lld layers %lld heads %lld/%lld ffn %lld vocab %lld "
             "eps %g theta %g ctx %lld", c->arch, (long long)c->hidden, (long long)c->layers, (long long)c->heads,
             (long long)c->kv_heads, (long long)c->ffn, (long long)c->vocab, c->rms_eps, c->rope_theta,
             (long long)c->context_length);
    zf_vocab_data v;
    ZT_OK(zf_model_file_vocab(f, &v));
    ZT_CHECK(v.n_tokens == 49152 && v.n_merges > 40000 && !strcmp(v.model, "gpt2") && v.pre, "SmolLM2 vocab");
    printf("  real model: pre '%s', bos %d, eos %d, %lld merges\n", v.pre ? v.pre : "-", v.bos_id, v.eos_id,
           (long long)v.n_merges);
    /* tensor types, and every tensor's values against the block formula */
    const void *data;
    size_t len;
    ZT_OK(zf_mf_map_file(path, &data, &len));
    zf_gguf g;
    ZT_OK(zf_gguf_parse(data, len, &g));
    int counts[64] = {0};
    int64_t bad = 0;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const zf_gguf_tinfo *t = &g.tensors[i];
        counts[t->type < 64 ? t->type : 63]++;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.s);
        zf_weight w;
        ZT_OK(zf_model_file_weight(f, name, &w));
        tdesc td = {name, t->type, (int)t->ndim, {t->ne[0], t->ne[1], t->ne[2], t->ne[3]}, (uint8_t *)data + t->data_off, t->bytes};
        int64_t numel = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        bad += check_values(&w, &td, numel < 4096 ? numel : 4096); /* first rows */
    }
    ZT_CHECK(bad == 0, "SmolLM2: %lld values differ from the block formula", (long long)bad);
    printf("  real model: %lld tensors:", (long long)g.n_tensors);
    for (int t = 0; t < 64; t++)
        if (counts[t]) printf(" %s x%d", zf_gguf_type_name((uint32_t)t) ? zf_gguf_type_name((uint32_t)t) : "?", counts[t]);
    printf("\n");
    zf_gguf_free(&g);
    munmap((void *)data, len);
    char hex[65];
    ZT_OK(zf_model_file_sha256(f, hex));
    ZT_CHECK(!strcmp(hex, "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"), "SmolLM2 sha256 %s", hex);
    zf_model_file_close(f);
}

/* The scale dtype of a converted K-quant tensor is f16 only when every
 * group's scale and bias is (here d = 1 + 2^-10, dmin = 0: the scale of a
 * group is d times its 6-bit code, 3 d is no f16). */
static void test_affine_scale_dtype(void) {
    uint8_t blk[144] = {0x01, 0x3C}; /* d (f16 0x3C01), dmin 0, codes 0 */
    blk[4] = 1;                       /* group 0: d */
    ZT_CHECK(zf_gguf_affine_scale_dtype(ZF_GGML_Q4_K, blk, 256) == ZF_DTYPE_F16, "every scale an f16: f16 expected");
    blk[5] = 3; /* group 1: 3 d */
    ZT_CHECK(zf_gguf_affine_scale_dtype(ZF_GGML_Q4_K, blk, 256) == ZF_DTYPE_F32, "group 1's scale is no f16");
    blk[5] = 0;
    blk[15] = 3; /* group 7: low bits of its code in the last scale byte */
    ZT_CHECK(zf_gguf_affine_scale_dtype(ZF_GGML_Q4_K, blk, 256) == ZF_DTYPE_F32, "group 7's scale is no f16");
    blk[15] = 0;
    uint8_t two[288] = {0};
    memcpy(two, blk, sizeof blk);
    memcpy(two + 144, blk, sizeof blk);
    two[144 + 4 + 2] = 3; /* the second block's group 2 */
    ZT_CHECK(zf_gguf_affine_scale_dtype(ZF_GGML_Q4_K, two, 512) == ZF_DTYPE_F32, "block 1's scale is no f16");
}

int main(void) {
    zt_init("test_gguf");
    test_affine_scale_dtype();
    test_sha256();
    test_synthetic(32);
    test_synthetic(64);
    test_malformed();
    test_moe_config();
    test_rope_scaling();
    test_config_bounds();
    test_real_model();
    return zt_finish();
}
