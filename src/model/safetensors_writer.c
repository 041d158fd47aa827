#include "model/safetensors_writer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

typedef struct st_decl {
    char *name;
    char dtype[8];
    int ndim;
    int64_t shape[4];
    size_t bytes;
    zf_st_fill_fn fill;
    void *ctx;
} st_decl;

struct zf_st_writer {
    st_decl *t;
    size_t n, cap;
    int oom;
};

zf_st_writer *zf_st_writer_new(void) { return calloc(1, sizeof(zf_st_writer)); }

void zf_st_writer_free(zf_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->t[i].name);
    free(w->t);
    free(w);
}

void zf_st_tensor(zf_st_writer *w, const char *name, const char *dtype, size_t elem_bytes, int ndim,
                  const int64_t *shape, zf_st_fill_fn fill, void *ctx) {
    if (w->oom) return;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        st_decl *t = realloc(w->t, cap * sizeof *t);
        if (!t) { w->oom = 1; return; }
        w->t = t;
        w->cap = cap;
    }
    st_decl *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) { w->oom = 1; return; }
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype);
    t->ndim = ndim;
    t->bytes = elem_bytes;
    for (int i = 0; i < ndim; i++) t->bytes *= (size_t)(t->shape[i] = shape[i]);
    t->fill = fill;
    t->ctx = ctx;
    w->n++;
}

static char *header_json(const zf_st_writer *w, const char *format) {
    cJSON *root = cJSON_CreateObject();
    if (format) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        cJSON_AddStringToObject(meta, "format", format);
    }
    size_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        const st_decl *t = &w->t[i];
        cJSON *o = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(o, "dtype", t->dtype);
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + t->bytes)));
        off += t->bytes;
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

zf_status zf_st_writer_write(zf_st_writer *w, const char *path, const char *format) {
    if (w->oom) return zf_error(ZF_ERR_NO_MEMORY, "[safetensors_writer] out of memory while declaring %s", path);
    char *json = header_json(w, format);
    if (!json) return zf_error(ZF_ERR_NO_MEMORY, "[safetensors_writer] out of memory for the header");
    /* pad the header with spaces to a multiple of 8 bytes */
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    FILE *f = fopen(path, "wb");
    if (!f) {
        cJSON_free(json);
        return zf_error(ZF_ERR_IO, "[safetensors_writer] cannot create %s", path);
    }
    uint64_t hlen = padded;
    int ok = fwrite(&hlen, 8, 1, f) == 1 && fwrite(json, 1, len, f) == len;
    for (size_t i = len; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    cJSON_free(json);
    size_t cap = 1 << 22;
    unsigned char *buf = ok ? malloc(cap) : NULL;
    if (ok && !buf) ok = 0;
    for (size_t i = 0; ok && i < w->n; i++) {
        const st_decl *t = &w->t[i];
        for (size_t done = 0; ok && done < t->bytes;) {
            size_t n = t->bytes - done < cap ? t->bytes - done : cap;
            t->fill(t->ctx, buf, done, n);
            ok = fwrite(buf, 1, n, f) == n;
            done += n;
        }
    }
    free(buf);
    if (fclose(f) != 0) ok = 0;
    if (!ok) return zf_error(ZF_ERR_IO, "[safetensors_writer] writing %s failed (disk full or out of memory)", path);
    return ZF_OK;
}
