/* GGUF parser: every length, count, dimension and offset is checked against
 * the bytes actually present before it is used, so a hostile file costs at
 * most O(file size) memory and time and never reads out of bounds. */
#include "model/gguf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Arrays nest; a bound keeps hostile nesting from exhausting the stack. */
#define MAX_ARRAY_DEPTH 8

typedef struct rd {
    const uint8_t *p;
    size_t size, pos;
} rd;

static zf_status bad(size_t off, const char *field, const char *fmt, ...) ZF_PRINTF(3, 4);
static zf_status bad(size_t off, const char *field, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return zf_error(ZF_ERR_FORMAT, "[gguf] %s at offset %zu: %s", field, off, what);
}

static zf_status need(const rd *r, uint64_t n, const char *field) {
    if (n > r->size - r->pos)
        return bad(r->pos, field, "needs %llu bytes but the file ends after %zu (truncated?)",
                   (unsigned long long)n, r->size - r->pos);
    return ZF_OK;
}

static zf_status get(rd *r, void *dst, size_t n, const char *field) {
    ZF_TRY(need(r, n, field));
    memcpy(dst, r->p + r->pos, n); /* little-endian host (x86-64, arm64) */
    r->pos += n;
    return ZF_OK;
}

static zf_status get_str(rd *r, zf_gguf_str *s, const char *field) {
    uint64_t len;
    size_t at = r->pos;
    ZF_TRY(get(r, &len, 8, field));
    if (len > r->size - r->pos)
        return bad(at, field, "string of %llu bytes runs past the end of the file (%zu bytes left)",
                   (unsigned long long)len, r->size - r->pos);
    s->s = (const char *)r->p + r->pos;
    s->len = len;
    r->pos += (size_t)len;
    return ZF_OK;
}

static const size_t scalar_size[ZF_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static zf_status skip_value(rd *r, uint32_t type, const char *field, int depth) {
    if (type >= ZF_GGUF_TYPE_COUNT) return bad(r->pos, field, "unknown value type %u", type);
    if (type == ZF_GGUF_STRING) {
        zf_gguf_str s;
        return get_str(r, &s, field);
    }
    if (type != ZF_GGUF_ARRAY) {
        ZF_TRY(need(r, scalar_size[type], field));
        r->pos += scalar_size[type];
        return ZF_OK;
    }
    size_t at = r->pos;
    uint32_t et;
    uint64_t n;
    ZF_TRY(get(r, &et, 4, field));
    ZF_TRY(get(r, &n, 8, field));
    if (et >= ZF_GGUF_TYPE_COUNT) return bad(at, field, "array of unknown value type %u", et);
    if (depth >= MAX_ARRAY_DEPTH) return bad(at, field, "arrays nested deeper than %d", MAX_ARRAY_DEPTH);
    if (et != ZF_GGUF_STRING && et != ZF_GGUF_ARRAY) {
        if (n > (r->size - r->pos) / scalar_size[et])
            return bad(at, field, "array of %llu elements of %zu bytes runs past the end of the file",
                       (unsigned long long)n, scalar_size[et]);
        r->pos += (size_t)n * scalar_size[et];
        return ZF_OK;
    }
    /* each element takes >= 8 bytes, so a hostile count runs out of file */
    for (uint64_t i = 0; i < n; i++) ZF_TRY(skip_value(r, et, field, depth + 1));
    return ZF_OK;
}

/* ggml block geometry: elements per block, bytes per block. Types this
 * reader cannot load are still sized so their ranges can be checked. */
typedef struct ggml_type_info {
    uint32_t type;
    const char *name;
    uint32_t block, bytes;
    int loads;
} ggml_type_info;

static const ggml_type_info g_types[] = {
    {0, "F32", 1, 4, 1},          {1, "F16", 1, 2, 1},        {2, "Q4_0", 32, 18, 1},
    {3, "Q4_1", 32, 20, 1},       {6, "Q5_0", 32, 22, 1},     {7, "Q5_1", 32, 24, 1},
    {8, "Q8_0", 32, 34, 1},       {9, "Q8_1", 32, 36, 0},     {10, "Q2_K", 256, 84, 0},
    {11, "Q3_K", 256, 110, 0},    {12, "Q4_K", 256, 144, 1},  {13, "Q5_K", 256, 176, 1},
    {14, "Q6_K", 256, 210, 1},    {15, "Q8_K", 256, 292, 0},  {16, "IQ2_XXS", 256, 66, 0},
    {17, "IQ2_XS", 256, 74, 0},   {18, "IQ3_XXS", 256, 98, 0}, {19, "IQ1_S", 256, 50, 0},
    {20, "IQ4_NL", 32, 18, 0},    {21, "IQ3_S", 256, 110, 0}, {22, "IQ2_S", 256, 82, 0},
    {23, "IQ4_XS", 256, 136, 0},  {24, "I8", 1, 1, 0},        {25, "I16", 1, 2, 0},
    {26, "I32", 1, 4, 0},         {27, "I64", 1, 8, 0},       {28, "F64", 1, 8, 0},
    {29, "IQ1_M", 256, 56, 0},    {30, "BF16", 1, 2, 1},
};

static const ggml_type_info *type_info(uint32_t type) {
    for (size_t i = 0; i < sizeof g_types / sizeof g_types[0]; i++)
        if (g_types[i].type == type) return &g_types[i];
    return NULL;
}

const char *zf_gguf_type_name(uint32_t type) {
    const ggml_type_info *t = type_info(type);
    return t && t->loads ? t->name : NULL;
}

static int cmp_str(zf_gguf_str a, zf_gguf_str b) {
    size_t n = a.len < b.len ? (size_t)a.len : (size_t)b.len;
    int c = n ? memcmp(a.s, b.s, n) : 0;
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

static int cmp_kv(const void *a, const void *b) {
    return cmp_str(((const zf_gguf_kv *)a)->key, ((const zf_gguf_kv *)b)->key);
}

const zf_gguf_kv *zf_gguf_find(const zf_gguf *g, const char *key) {
    zf_gguf_kv k = {.key = {key, strlen(key)}};
    return bsearch(&k, g->kv, (size_t)g->n_kv, sizeof k, cmp_kv);
}

static zf_status parse_kvs(rd *r, zf_gguf *g) {
    if (g->n_kv < 0 || (uint64_t)g->n_kv > (r->size - r->pos) / 12) /* a kv takes >= 12 bytes */
        return bad(16, "kv_count", "%lld entries cannot fit in the file", (long long)g->n_kv);
    g->kv = calloc((size_t)g->n_kv + 1, sizeof *g->kv);
    if (!g->kv) return zf_error(ZF_ERR_NO_MEMORY, "[gguf] out of memory for %lld keys", (long long)g->n_kv);
    for (int64_t i = 0; i < g->n_kv; i++) {
        zf_gguf_kv *kv = &g->kv[i];
        ZF_TRY(get_str(r, &kv->key, "metadata key"));
        char field[96];
        snprintf(field, sizeof field, "metadata '%.*s'", (int)(kv->key.len < 64 ? kv->key.len : 64), kv->key.s);
        ZF_TRY(get(r, &kv->type, 4, field));
        kv->off = r->pos;
        if (kv->type == ZF_GGUF_ARRAY && need(r, 12, field) == ZF_OK) {
            memcpy(&kv->arr_type, r->p + r->pos, 4);
            memcpy(&kv->arr_n, r->p + r->pos + 4, 8);
            kv->arr_off = r->pos + 12;
        }
        ZF_TRY(skip_value(r, kv->type, field, 0));
    }
    qsort(g->kv, (size_t)g->n_kv, sizeof *g->kv, cmp_kv);
    for (int64_t i = 1; i < g->n_kv; i++)
        if (!cmp_str(g->kv[i - 1].key, g->kv[i].key))
            return bad(g->kv[i].off, "metadata key", "'%.*s' appears twice", (int)(g->kv[i].key.len < 64 ? g->kv[i].key.len : 64),
                       g->kv[i].key.s);
    g->alignment = 32;
    const zf_gguf_kv *al = zf_gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != ZF_GGUF_U32) return bad(al->off, "general.alignment", "type %u, expected u32", al->type);
        memcpy(&g->alignment, g->base + al->off, 4);
        if (g->alignment == 0 || (g->alignment & (g->alignment - 1)))
            return bad(al->off, "general.alignment", "%u is not a power of two", g->alignment);
    }
    return ZF_OK;
}

static zf_status parse_tensor_info(rd *r, zf_gguf_tinfo *t) {
    t->info_off = r->pos;
    ZF_TRY(get_str(r, &t->name, "tensor name"));
    char field[96];
    snprintf(field, sizeof field, "tensor '%.*s'", (int)(t->name.len < 64 ? t->name.len : 64), t->name.s);
    size_t at = r->pos;
    ZF_TRY(get(r, &t->ndim, 4, field));
    if (t->ndim < 1 || t->ndim > 4) return bad(at, field, "n_dims %u, expected 1..4", t->ndim);
    int64_t numel = 1;
    for (uint32_t d = 0; d < t->ndim; d++) {
        at = r->pos;
        ZF_TRY(get(r, &t->ne[d], 8, field));
        if (t->ne[d] < 1) return bad(at, field, "dimension %u is %lld, expected >= 1", d, (long long)t->ne[d]);
        if (__builtin_mul_overflow(numel, t->ne[d], &numel))
            return bad(at, field, "element count overflows");
    }
    for (uint32_t d = t->ndim; d < 4; d++) t->ne[d] = 1;
    at = r->pos;
    ZF_TRY(get(r, &t->type, 4, field));
    const ggml_type_info *ti = type_info(t->type);
    if (!ti) return bad(at, field, "unknown tensor type %u", t->type);
    if (t->ne[0] % ti->block)
        return bad(at, field, "row length %lld is not a multiple of the %s block (%u)", (long long)t->ne[0], ti->name,
                   ti->block);
    uint64_t blocks = (uint64_t)numel / ti->block;
    if (blocks > r->size / ti->bytes) return bad(at, field, "%s data larger than the file", ti->name);
    t->bytes = (size_t)blocks * ti->bytes;
    uint64_t off;
    at = r->pos;
    ZF_TRY(get(r, &off, 8, field));
    t->data_off = (size_t)(off > r->size ? r->size + 1 : off); /* relative for now, checked later */
    if (off > r->size) return bad(at, field, "data offset %llu is past the end of the file", (unsigned long long)off);
    return ZF_OK;
}

zf_status zf_gguf_parse(const void *data, size_t size, zf_gguf *g) {
    memset(g, 0, sizeof *g);
    g->base = data;
    g->size = size;
    rd r = {data, size, 0};
    char magic[4];
    ZF_TRY(get(&r, magic, 4, "magic"));
    if (memcmp(magic, "GGUF", 4)) return bad(0, "magic", "not \"GGUF\"");
    ZF_TRY(get(&r, &g->version, 4, "version"));
    if (g->version != 2 && g->version != 3)
        return bad(4, "version", "%u is not supported (2 or 3)", g->version);
    ZF_TRY(get(&r, &g->n_tensors, 8, "tensor_count"));
    ZF_TRY(get(&r, &g->n_kv, 8, "kv_count"));
    ZF_TRY(parse_kvs(&r, g));
    if (g->n_tensors < 0 || (uint64_t)g->n_tensors > (r.size - r.pos) / 24) /* an info takes >= 24 bytes */
        return bad(8, "tensor_count", "%lld tensors cannot fit in the file", (long long)g->n_tensors);
    g->tensors = calloc((size_t)g->n_tensors + 1, sizeof *g->tensors);
    if (!g->tensors) return zf_error(ZF_ERR_NO_MEMORY, "[gguf] out of memory for %lld tensors", (long long)g->n_tensors);
    for (int64_t i = 0; i < g->n_tensors; i++) ZF_TRY(parse_tensor_info(&r, &g->tensors[i]));
    size_t pad = (g->alignment - r.pos % g->alignment) % g->alignment;
    g->data_start = r.pos + pad;
    if (g->n_tensors && pad > r.size - r.pos)
        return bad(r.pos, "data section", "file ends before the data section (aligned to %u)", g->alignment);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        zf_gguf_tinfo *t = &g->tensors[i];
        char field[96];
        snprintf(field, sizeof field, "tensor '%.*s'", (int)(t->name.len < 64 ? t->name.len : 64), t->name.s);
        size_t rel = t->data_off;
        if (rel % g->alignment) return bad(t->info_off, field, "data offset %zu is not aligned to %u", rel, g->alignment);
        if (rel > size - g->data_start || t->bytes > size - g->data_start - rel)
            return bad(t->info_off, field, "data [%zu, +%zu) relative to the data section at %zu runs past the end of "
                       "the file (%zu bytes)", rel, t->bytes, g->data_start, size);
        t->data_off = g->data_start + rel;
    }
    return ZF_OK;
}

void zf_gguf_free(zf_gguf *g) {
    free(g->kv);
    free(g->tensors);
    g->kv = NULL;
    g->tensors = NULL;
}
