/* zf_model_file: open dispatch (GGUF file or safetensors directory), the
 * weight table, owned memory and the file hash. */
#include "model/model_file_impl.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "model/gguf.h"
#include "model/safetensors.h"
#include "model/sha256.h"

zf_model_file *zf_mf_new(zf_progress_fn progress, void *ctx) {
    zf_model_file *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->progress = progress;
    f->progress_ctx = ctx;
    f->vocab.bos_id = f->vocab.eos_id = -1;
    return f;
}

static int grow(void **arr, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return 1;
    int64_t c = *cap ? *cap * 2 : 16;
    if (c < need) c = need;
    void *p = realloc(*arr, (size_t)c * elem);
    if (!p) return 0;
    *arr = p;
    *cap = c;
    return 1;
}

static void *track(zf_model_file *f, void *p) {
    if (!p) return NULL;
    if (!grow((void **)&f->owned, &f->cap_owned, f->n_owned + 1, sizeof *f->owned)) {
        free(p);
        return NULL;
    }
    f->owned[f->n_owned++] = p;
    return p;
}

void *zf_mf_alloc(zf_model_file *f, size_t bytes) { return track(f, malloc(bytes ? bytes : 1)); }
void *zf_mf_calloc(zf_model_file *f, size_t bytes) { return track(f, calloc(1, bytes ? bytes : 1)); }

char *zf_mf_strndup(zf_model_file *f, const char *s, size_t len) {
    char *p = zf_mf_alloc(f, len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

zf_status zf_mf_add_region(zf_model_file *f, const void *p, size_t len, int unmap) {
    int64_t cap = f->cap_regions;
    if (!grow((void **)&f->regions, &cap, f->n_regions + 1, sizeof *f->regions)) {
        if (unmap) munmap((void *)p, len);
        return zf_error(ZF_ERR_NO_MEMORY, "[model_file] out of memory");
    }
    f->cap_regions = (int)cap;
    f->regions[f->n_regions++] = (zf_mf_region){p, len, unmap};
    return ZF_OK;
}

zf_status zf_mf_add(zf_model_file *f, const char *name, const zf_weight *w, const char *unsupported) {
    char *copy = zf_mf_strndup(f, name, strlen(name));
    if (!copy || !grow((void **)&f->entries, &f->cap_entries, f->n_entries + 1, sizeof *f->entries))
        return zf_error(ZF_ERR_NO_MEMORY, "[model_file] out of memory adding tensor %s", name);
    zf_mf_entry *e = &f->entries[f->n_entries++];
    e->name = copy;
    e->w = *w;
    e->unsupported = unsupported;
    return ZF_OK;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const zf_mf_entry *)a)->name, ((const zf_mf_entry *)b)->name);
}

zf_status zf_mf_finish(zf_model_file *f, const char *fmt) {
    if (f->n_entries > 1) qsort(f->entries, (size_t)f->n_entries, sizeof *f->entries, cmp_entry);
    for (int64_t i = 1; i < f->n_entries; i++)
        if (!strcmp(f->entries[i - 1].name, f->entries[i].name))
            return zf_error(ZF_ERR_FORMAT, "[%s] tensor %s is given twice", fmt, f->entries[i].name);
    f->cap_entries = -1; /* sorted: lookups may bisect */
    return ZF_OK;
}

const zf_mf_entry *zf_mf_find(const zf_model_file *f, const char *name) {
    if (f->cap_entries >= 0) {
        for (int64_t i = 0; i < f->n_entries; i++)
            if (!strcmp(f->entries[i].name, name)) return &f->entries[i];
        return NULL;
    }
    zf_mf_entry key = {.name = name};
    if (!f->n_entries) return NULL;
    return bsearch(&key, f->entries, (size_t)f->n_entries, sizeof key, cmp_entry);
}

void zf_mf_progress(const zf_model_file *f, int64_t done, int64_t total) {
    if (f->progress) f->progress(done, total, f->progress_ctx);
}

void zf_model_file_close(zf_model_file *f) {
    if (!f) return;
    for (int64_t i = 0; i < f->n_owned; i++) free(f->owned[i]);
    for (int i = 0; i < f->n_regions; i++)
        if (f->regions[i].unmap) munmap((void *)f->regions[i].p, f->regions[i].len);
    free(f->owned);
    free(f->regions);
    free(f->entries);
    free(f);
}

/* Maps a whole file read-only; an empty file maps to a 0-length region. */
zf_status zf_mf_map_file(const char *path, const void **data, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return zf_error(ZF_ERR_IO, "[model_file] cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return zf_error(ZF_ERR_IO, "[model_file] %s is not a regular file", path);
    }
    *len = (size_t)st.st_size;
    *data = NULL;
    if (*len) {
        void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return zf_error(ZF_ERR_IO, "[model_file] cannot map %s (%zu bytes)", path, *len);
        }
        *data = p;
    }
    close(fd);
    return ZF_OK;
}

zf_status zf_model_file_open(const char *path, zf_progress_fn progress, void *ctx, zf_model_file **out) {
    if (!path || !out) return zf_error(ZF_ERR_INVALID_ARG, "[model_file] path and out must not be NULL");
    struct stat st;
    if (stat(path, &st) != 0) return zf_error(ZF_ERR_IO, "[model_file] cannot open %s", path);
    zf_model_file *f = zf_mf_new(progress, ctx);
    if (!f) return zf_error(ZF_ERR_NO_MEMORY, "[model_file] out of memory");
    zf_status s;
    if (S_ISDIR(st.st_mode)) {
        s = zf_st_load_dir(f, path);
    } else {
        const void *data;
        size_t len;
        s = zf_mf_map_file(path, &data, &len);
        if (s == ZF_OK && (len < 4 || memcmp(data, "GGUF", 4) != 0)) {
            if (len) munmap((void *)data, len);
            s = zf_error(ZF_ERR_FORMAT,
                         "[model_file] %s is neither a GGUF file (no \"GGUF\" magic) nor a safetensors directory",
                         path);
        } else if (s == ZF_OK && (s = zf_mf_add_region(f, data, len, 1)) == ZF_OK) {
            s = zf_gguf_load(f, data, len);
        }
    }
    if (s == ZF_OK) s = zf_mf_finish(f, S_ISDIR(st.st_mode) ? "safetensors" : "gguf");
    if (s != ZF_OK) {
        zf_model_file_close(f);
        return s;
    }
    *out = f;
    return ZF_OK;
}

zf_status zf_model_file_open_gguf_memory(const void *data, size_t len, zf_progress_fn progress, void *ctx,
                                         zf_model_file **out) {
    if (!data || !out) return zf_error(ZF_ERR_INVALID_ARG, "[gguf] data and out must not be NULL");
    zf_model_file *f = zf_mf_new(progress, ctx);
    if (!f) return zf_error(ZF_ERR_NO_MEMORY, "[gguf] out of memory");
    zf_status s = zf_mf_add_region(f, data, len, 0);
    if (s == ZF_OK) s = zf_gguf_load(f, data, len);
    if (s == ZF_OK) s = zf_mf_finish(f, "gguf");
    if (s != ZF_OK) {
        zf_model_file_close(f);
        return s;
    }
    *out = f;
    return ZF_OK;
}

const zf_model_config *zf_model_file_config(const zf_model_file *f) { return f ? &f->cfg : NULL; }

int zf_model_file_has(const zf_model_file *f, const char *name) {
    if (!f || !name) return 0;
    const zf_mf_entry *e = zf_mf_find(f, name);
    return e && !e->unsupported;
}

zf_status zf_model_file_weight(const zf_model_file *f, const char *name, zf_weight *out) {
    if (!f || !name || !out)
        return zf_error(ZF_ERR_INVALID_ARG, "[model_file] file, name and out must not be NULL");
    const zf_mf_entry *e = zf_mf_find(f, name);
    if (!e) return zf_error(ZF_ERR_FORMAT, "[model_file] missing tensor %s", name);
    if (e->unsupported) return zf_error(ZF_ERR_FORMAT, "[model_file] tensor %s: %s", name, e->unsupported);
    *out = e->w;
    return ZF_OK;
}

zf_status zf_model_file_vocab(const zf_model_file *f, zf_vocab_data *out) {
    if (!f || !out) return zf_error(ZF_ERR_INVALID_ARG, "[model_file] file and out must not be NULL");
    if (!f->has_vocab)
        return zf_error(ZF_ERR_FORMAT, "[model_file] the model has no tokenizer "
                                       "(GGUF tokenizer.ggml.tokens, or tokenizer.json beside config.json)");
    *out = f->vocab;
    return ZF_OK;
}

zf_status zf_model_file_sha256(const zf_model_file *f, char hex[65]) {
    if (!f || !hex) return zf_error(ZF_ERR_INVALID_ARG, "[model_file] file and hex must not be NULL");
    zf_sha256 s;
    if (zf_sha256_init(&s) != 0)
        return zf_error(ZF_ERR_NO_MEMORY, "[model_file] libcrypto cannot start a sha256 digest");
    for (int i = 0; i < f->n_regions; i++) zf_sha256_update(&s, f->regions[i].p, f->regions[i].len);
    if (zf_sha256_final_hex(&s, hex) != 0)
        return zf_error(ZF_ERR_BACKEND, "[model_file] libcrypto failed to finish the sha256 digest");
    return ZF_OK;
}
