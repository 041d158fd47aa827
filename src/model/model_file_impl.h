/* Internals of zf_model_file shared by the GGUF and safetensors readers:
 * the named-weight table, owned memory, mappings and the hashed regions. */
#ifndef ZF_MODEL_MODEL_FILE_IMPL_H
#define ZF_MODEL_MODEL_FILE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "model/model_file.h"

typedef void (*zf_progress_fn)(int64_t done, int64_t total, void *ctx);

typedef struct zf_mf_entry {
    const char *name;        /* GGUF-style name (owned copy) */
    zf_weight w;
    const char *unsupported; /* non-NULL: why this tensor cannot be used */
} zf_mf_entry;

typedef struct zf_mf_region {
    const void *p;
    size_t len;
    int unmap; /* munmap at close (a file mapping) */
} zf_mf_region;

struct zf_model_file {
    zf_model_config cfg;
    zf_mf_entry *entries;
    int64_t n_entries, cap_entries;
    void **owned; /* malloc'd blocks freed at close */
    int64_t n_owned, cap_owned;
    zf_mf_region *regions; /* the weight files, in hashing order */
    int n_regions, cap_regions;
    zf_vocab_data vocab;
    int has_vocab;
    zf_progress_fn progress;
    void *progress_ctx;
};

zf_model_file *zf_mf_new(zf_progress_fn progress, void *ctx);
/* malloc/calloc tracked by f (freed at close); NULL when out of memory. */
void *zf_mf_alloc(zf_model_file *f, size_t bytes);
void *zf_mf_calloc(zf_model_file *f, size_t bytes);
/* NUL-terminated copy of s[0..len). */
char *zf_mf_strndup(zf_model_file *f, const char *s, size_t len);
zf_status zf_mf_add_region(zf_model_file *f, const void *p, size_t len, int unmap);
/* Adds a weight under a copy of name; `unsupported` (may be NULL) is a static
 * reason the weight cannot be used. */
zf_status zf_mf_add(zf_model_file *f, const char *name, const zf_weight *w, const char *unsupported);
/* Sorts the table; a name given twice is a format error ("[fmt] ..."). */
zf_status zf_mf_finish(zf_model_file *f, const char *fmt);
/* Lookup before zf_mf_finish (linear) and after (binary search). */
const zf_mf_entry *zf_mf_find(const zf_model_file *f, const char *name);
void zf_mf_progress(const zf_model_file *f, int64_t done, int64_t total);
/* Maps a whole file read-only (*data NULL for an empty file). */
zf_status zf_mf_map_file(const char *path, const void **data, size_t *len);

#endif
