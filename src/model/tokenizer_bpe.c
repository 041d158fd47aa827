#include "model/tokenizer_bpe.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

enum {
    CACHE_SLOTS = 1 << 14,       /* power of two; cleared when half full */
    CACHE_MAX_WORD = 256,        /* longer pieces are merged every time */
    CACHE_MAX_BYTES = 1 << 22,   /* key bytes kept before a clear */
};

static zf_status grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return ZF_OK;
    int64_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
    *p = q;
    *cap = c;
    return ZF_OK;
}

zf_status zf_ids_push(zf_ids *a, int32_t id) {
    ZF_TRY(grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v));
    a->v[a->n++] = id;
    return ZF_OK;
}

typedef struct pair_slot {
    uint64_t key; /* left << 32 | right; EMPTY when free */
    int32_t rank, result;
} pair_slot;

#define EMPTY UINT64_MAX

typedef struct sym {
    int32_t id; /* -1 once merged into its left neighbour */
    int32_t prev, next;
} sym;

typedef struct cand {
    int32_t rank, pos, result;
} cand;

typedef struct cache_slot {
    uint64_t hash; /* 0 when free */
    uint32_t key_off, key_len, ids_off, ids_n;
} cache_slot;

struct zf_bpe {
    int32_t byte_id[256];
    pair_slot *pairs;
    uint64_t pair_mask;
    /* work buffers of one word */
    sym *syms;
    int64_t syms_cap;
    cand *heap;
    int64_t heap_n, heap_cap;
    /* word cache: slots index into the key and id arenas */
    cache_slot *cache;
    int64_t cache_n;
    char *keys;
    int64_t keys_n, keys_cap;
    zf_ids ids;
};

static uint64_t pair_hash(uint64_t k) { return (k * 0x9E3779B97F4A7C15ull) >> 17; }

static const pair_slot *pair_find(const zf_bpe *b, int32_t left, int32_t right) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (uint64_t i = pair_hash(key) & b->pair_mask;; i = (i + 1) & b->pair_mask) {
        if (b->pairs[i].key == key) return &b->pairs[i];
        if (b->pairs[i].key == EMPTY) return NULL;
    }
}

void zf_bpe_free(zf_bpe *b) {
    if (!b) return;
    free(b->pairs);
    free(b->syms);
    free(b->heap);
    free(b->cache);
    free(b->keys);
    free(b->ids.v);
    free(b);
}

zf_status zf_bpe_create(const int32_t byte_id[256], const zf_bpe_merge *merges, int64_t n_merges, zf_bpe **out) {
    zf_bpe *b = calloc(1, sizeof *b);
    if (!b) return zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory");
    memcpy(b->byte_id, byte_id, sizeof b->byte_id);
    uint64_t slots = 16;
    while (slots < 2 * (uint64_t)n_merges) slots *= 2;
    b->pair_mask = slots - 1;
    b->pairs = malloc(slots * sizeof *b->pairs);
    b->cache = calloc(CACHE_SLOTS, sizeof *b->cache);
    if (!b->pairs || !b->cache) {
        zf_bpe_free(b);
        return zf_error(ZF_ERR_NO_MEMORY, "[tokenizer] out of memory for %lld merges", (long long)n_merges);
    }
    for (uint64_t i = 0; i < slots; i++) b->pairs[i].key = EMPTY;
    for (int64_t r = 0; r < n_merges; r++) {
        const zf_bpe_merge *m = &merges[r];
        uint64_t key = (uint64_t)(uint32_t)m->left << 32 | (uint32_t)m->right;
        uint64_t i = pair_hash(key) & b->pair_mask;
        while (b->pairs[i].key != EMPTY && b->pairs[i].key != key) i = (i + 1) & b->pair_mask;
        b->pairs[i] = (pair_slot){key, (int32_t)r, m->result}; /* a pair listed twice: the later rank, as tokenizers */
    }
    *out = b;
    return ZF_OK;
}

static int cand_less(cand a, cand b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static zf_status heap_push(zf_bpe *b, cand c) {
    ZF_TRY(grow((void **)&b->heap, &b->heap_cap, b->heap_n + 1, sizeof *b->heap));
    int64_t i = b->heap_n++;
    while (i > 0 && cand_less(c, b->heap[(i - 1) / 2])) {
        b->heap[i] = b->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    b->heap[i] = c;
    return ZF_OK;
}

static cand heap_pop(zf_bpe *b) {
    cand top = b->heap[0], last = b->heap[--b->heap_n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= b->heap_n) break;
        if (c + 1 < b->heap_n && cand_less(b->heap[c + 1], b->heap[c])) c++;
        if (!cand_less(b->heap[c], last)) break;
        b->heap[i] = b->heap[c];
        i = c;
    }
    b->heap[i] = last;
    return top;
}

/* Queues the pair starting at symbol a when the merges rank it. */
static zf_status push_pair(zf_bpe *b, int32_t a) {
    const pair_slot *p = pair_find(b, b->syms[a].id, b->syms[b->syms[a].next].id);
    return p ? heap_push(b, (cand){p->rank, a, p->result}) : ZF_OK;
}

/* Merges one word into b->ids (cleared first). */
static zf_status merge_word(zf_bpe *b, const unsigned char *s, size_t len) {
    b->ids.n = 0;
    ZF_TRY(grow((void **)&b->syms, &b->syms_cap, (int64_t)len, sizeof *b->syms));
    int32_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (b->byte_id[s[i]] < 0) continue;
        b->syms[n] = (sym){b->byte_id[s[i]], n - 1, n + 1};
        n++;
    }
    if (n == 0) return ZF_OK;
    b->syms[n - 1].next = -1;
    b->heap_n = 0;
    for (int32_t i = 0; i + 1 < n; i++) ZF_TRY(push_pair(b, i));
    while (b->heap_n > 0) {
        cand c = heap_pop(b);
        sym *l = &b->syms[c.pos];
        if (l->id < 0 || l->next < 0) continue;
        /* a stale entry: the pair there changed since it was queued */
        const pair_slot *p = pair_find(b, l->id, b->syms[l->next].id);
        if (!p || p->result != c.result) continue;
        sym *r = &b->syms[l->next];
        l->id = c.result;
        r->id = -1;
        l->next = r->next;
        if (l->next >= 0) b->syms[l->next].prev = c.pos;
        if (l->prev >= 0) ZF_TRY(push_pair(b, l->prev));
        if (l->next >= 0) ZF_TRY(push_pair(b, c.pos));
    }
    for (int32_t i = 0; i >= 0; i = b->syms[i].next) ZF_TRY(zf_ids_push(&b->ids, b->syms[i].id));
    return ZF_OK;
}

static uint64_t fnv1a(const unsigned char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    return h | 1; /* 0 marks a free slot */
}

/* The cached ids live after the word's key bytes in the key arena. */
static const int32_t *cached_ids(const zf_bpe *b, const cache_slot *c) {
    return (const int32_t *)(b->keys + c->ids_off);
}

static zf_status cache_put(zf_bpe *b, cache_slot *slot, uint64_t h, const char *s, size_t len) {
    int64_t ids_off = (b->keys_n + (int64_t)len + 3) & ~(int64_t)3;
    int64_t end = ids_off + b->ids.n * (int64_t)sizeof(int32_t);
    if (2 * b->cache_n >= CACHE_SLOTS || end > CACHE_MAX_BYTES) return ZF_OK; /* full: cleared next word */
    ZF_TRY(grow((void **)&b->keys, &b->keys_cap, end, 1));
    memcpy(b->keys + b->keys_n, s, len);
    if (b->ids.n) memcpy(b->keys + ids_off, b->ids.v, (size_t)b->ids.n * sizeof(int32_t));
    *slot = (cache_slot){h, (uint32_t)b->keys_n, (uint32_t)len, (uint32_t)ids_off, (uint32_t)b->ids.n};
    b->keys_n = end;
    b->cache_n++;
    return ZF_OK;
}

static zf_status append(zf_ids *out, const int32_t *ids, int64_t n) {
    for (int64_t i = 0; i < n; i++) ZF_TRY(zf_ids_push(out, ids[i]));
    return ZF_OK;
}

zf_status zf_bpe_word(zf_bpe *b, const char *piece, size_t len, zf_ids *out) {
    const unsigned char *s = (const unsigned char *)piece;
    if (len > CACHE_MAX_WORD) {
        ZF_TRY(merge_word(b, s, len));
        return append(out, b->ids.v, b->ids.n);
    }
    if (2 * b->cache_n >= CACHE_SLOTS || b->keys_n > CACHE_MAX_BYTES / 2) {
        memset(b->cache, 0, CACHE_SLOTS * sizeof *b->cache);
        b->cache_n = 0;
        b->keys_n = 0;
    }
    uint64_t h = fnv1a(s, len);
    cache_slot *c = &b->cache[h & (CACHE_SLOTS - 1)];
    for (; c->hash; c = &b->cache[(c - b->cache + 1) & (CACHE_SLOTS - 1)])
        if (c->hash == h && c->key_len == len && memcmp(b->keys + c->key_off, s, len) == 0)
            return append(out, cached_ids(b, c), c->ids_n);
    ZF_TRY(merge_word(b, s, len));
    ZF_TRY(cache_put(b, c, h, piece, len));
    return append(out, b->ids.v, b->ids.n);
}
