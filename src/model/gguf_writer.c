#include "model/gguf_writer.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/gguf.h"

#define ALIGNMENT 32

typedef struct tensor_decl {
    char *name;
    int n_dims;
    int64_t ne[4];
    uint32_t type;
    size_t bytes, offset;
    zf_gguf_fill_fn fill;
    void *ctx;
} tensor_decl;

struct zf_gguf_writer {
    unsigned char *kv; /* serialised metadata */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    tensor_decl *t;
    size_t n_t, cap_t;
    int oom;
};

zf_gguf_writer *zf_gguf_writer_new(void) { return calloc(1, sizeof(zf_gguf_writer)); }

void zf_gguf_writer_free(zf_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->t);
    free(w->kv);
    free(w);
}

static void put(zf_gguf_writer *w, const void *p, size_t n) {
    if (w->oom) return;
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap * 2 : 4096;
        while (cap < w->kv_len + n) cap *= 2;
        unsigned char *q = realloc(w->kv, cap);
        if (!q) { w->oom = 1; return; }
        w->kv = q;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
}

static void put_u32(zf_gguf_writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(zf_gguf_writer *w, uint64_t v) { put(w, &v, 8); }
static void put_str(zf_gguf_writer *w, const char *s) {
    uint64_t n = strlen(s);
    put_u64(w, n);
    put(w, s, n);
}
static void key(zf_gguf_writer *w, const char *k, uint32_t type) {
    put_str(w, k);
    put_u32(w, type);
    w->n_kv++;
}

void zf_gguf_kv_str(zf_gguf_writer *w, const char *k, const char *v) { key(w, k, ZF_GGUF_STRING); put_str(w, v); }
void zf_gguf_kv_u32(zf_gguf_writer *w, const char *k, uint32_t v) { key(w, k, ZF_GGUF_U32); put_u32(w, v); }
void zf_gguf_kv_f32(zf_gguf_writer *w, const char *k, float v) { key(w, k, ZF_GGUF_F32); put(w, &v, 4); }
void zf_gguf_kv_bool(zf_gguf_writer *w, const char *k, int v) {
    uint8_t b = v ? 1 : 0;
    key(w, k, ZF_GGUF_BOOL);
    put(w, &b, 1);
}

void zf_gguf_kv_str_array(zf_gguf_writer *w, const char *k, const char *const *v, uint64_t n) {
    key(w, k, ZF_GGUF_ARRAY);
    put_u32(w, ZF_GGUF_STRING);
    put_u64(w, n);
    for (uint64_t i = 0; i < n; i++) put_str(w, v[i]);
}

void zf_gguf_kv_i32_array(zf_gguf_writer *w, const char *k, const int32_t *v, uint64_t n) {
    key(w, k, ZF_GGUF_ARRAY);
    put_u32(w, ZF_GGUF_I32);
    put_u64(w, n);
    put(w, v, n * 4);
}

size_t zf_gguf_type_bytes(uint32_t type, int64_t n) {
    switch (type) {
    case ZF_GGML_F32: return (size_t)n * 4;
    case ZF_GGML_F16:
    case ZF_GGML_BF16: return (size_t)n * 2;
    case ZF_GGML_Q4_0: return (size_t)(n / 32) * 18;
    case ZF_GGML_Q4_1: return (size_t)(n / 32) * 20;
    case ZF_GGML_Q8_0: return (size_t)(n / 32) * 34;
    default: return 0;
    }
}

void zf_gguf_tensor(zf_gguf_writer *w, const char *name, int n_dims, const int64_t *ne, uint32_t type,
                    zf_gguf_fill_fn fill, void *ctx) {
    if (w->oom) return;
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        tensor_decl *t = realloc(w->t, cap * sizeof *t);
        if (!t) { w->oom = 1; return; }
        w->t = t;
        w->cap_t = cap;
    }
    tensor_decl *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) { w->oom = 1; return; }
    t->n_dims = n_dims;
    int64_t n = 1;
    for (int i = 0; i < n_dims; i++) n *= (t->ne[i] = ne[i]);
    t->type = type;
    t->bytes = zf_gguf_type_bytes(type, n);
    t->fill = fill;
    t->ctx = ctx;
    w->n_t++;
}

static size_t align_up(size_t x) { return (x + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

zf_status zf_gguf_writer_write(zf_gguf_writer *w, const char *path) {
    if (w->oom) return zf_error(ZF_ERR_NO_MEMORY, "[gguf_writer] out of memory while declaring %s", path);
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].bytes == 0)
            return zf_error(ZF_ERR_INVALID_ARG, "[gguf_writer] tensor %s: type %u or size not writable",
                            w->t[i].name, w->t[i].type);
    FILE *f = fopen(path, "wb");
    if (!f) return zf_error(ZF_ERR_IO, "[gguf_writer] cannot create %s", path);
    /* header + metadata + tensor infos (offsets relative to the data section) */
    zf_gguf_writer hdr = {0};
    put(&hdr, "GGUF", 4);
    put_u32(&hdr, 3);
    put_u64(&hdr, w->n_t);
    put_u64(&hdr, w->n_kv);
    put(&hdr, w->kv, w->kv_len);
    size_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        tensor_decl *t = &w->t[i];
        put_str(&hdr, t->name);
        put_u32(&hdr, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(&hdr, (uint64_t)t->ne[d]);
        put_u32(&hdr, t->type);
        t->offset = off = align_up(off);
        put_u64(&hdr, off);
        off += t->bytes;
    }
    static const unsigned char zeros[ALIGNMENT] = {0};
    size_t pad = align_up(hdr.kv_len) - hdr.kv_len;
    int ok = !hdr.oom && fwrite(hdr.kv, 1, hdr.kv_len, f) == hdr.kv_len && fwrite(zeros, 1, pad, f) == pad;
    free(hdr.kv);
    size_t chunk_cap = 1 << 22, pos = 0;
    unsigned char *chunk = ok ? malloc(chunk_cap) : NULL;
    for (size_t i = 0; ok && chunk && i < w->n_t; i++) {
        tensor_decl *t = &w->t[i];
        size_t gap = t->offset - pos;
        ok = fwrite(zeros, 1, gap, f) == gap;
        for (size_t done = 0; ok && done < t->bytes;) {
            size_t n = t->bytes - done < chunk_cap ? t->bytes - done : chunk_cap;
            t->fill(t->ctx, chunk, done, n);
            ok = fwrite(chunk, 1, n, f) == n;
            done += n;
        }
        pos = t->offset + t->bytes;
    }
    int had_chunk = chunk != NULL;
    free(chunk);
    if (fclose(f) != 0) ok = 0;
    if (!had_chunk && ok) return zf_error(ZF_ERR_NO_MEMORY, "[gguf_writer] no memory for the write buffer");
    if (!ok) return zf_error(ZF_ERR_IO, "[gguf_writer] writing %s failed (disk full?)", path);
    return ZF_OK;
}
