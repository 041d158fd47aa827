/* safetensors files: header parse (u64 length + JSON) with every shape and
 * offset checked against the file, and loading a model directory. */
#include "model/safetensors.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Largest header accepted (the format's own writers cap it at 100 MB). */
#define MAX_HEADER (100u << 20)

typedef struct st_dtype {
    const char *name;
    size_t size;
} st_dtype;

static const st_dtype g_dtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4},
    {"I16", 2}, {"U16", 2}, {"I8", 1}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

static size_t dtype_size(const char *name) {
    for (size_t i = 0; i < sizeof g_dtypes / sizeof g_dtypes[0]; i++)
        if (!strcmp(g_dtypes[i].name, name)) return g_dtypes[i].size;
    return 0;
}

/* A JSON number that is an integer in [0, 2^53]. */
static int json_u53(const cJSON *j, int64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(int64_t)d) return 0;
    *out = (int64_t)d;
    return 1;
}

static zf_status bad(const char *fname, const char *tensor, const char *what, long long a, long long b) {
    return zf_error(ZF_ERR_FORMAT, "[safetensors] %s: tensor '%.80s' in the header at offset 8: %s (%lld, %lld)", fname,
                    tensor, what, a, b);
}

static zf_status parse_entry(zf_model_file *f, const char *fname, const cJSON *e, const uint8_t *data, size_t dsize,
                             zf_st_tensor *t) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) return bad(fname, name, "entry is not an object", 0, 0);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    size_t es = cJSON_IsString(dt) ? dtype_size(dt->valuestring) : 0;
    if (!es) return bad(fname, name, "dtype missing or unknown", 0, 0);
    if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > ZF_MAX_DIMS)
        return bad(fname, name, "shape must be an array of at most 4 dimensions", cJSON_GetArraySize(sh), ZF_MAX_DIMS);
    memset(t, 0, sizeof *t);
    snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
    int64_t numel = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, sh) {
        int64_t v;
        if (!json_u53(d, &v)) return bad(fname, name, "a dimension is not a non-negative integer", t->ndim, 0);
        if (__builtin_mul_overflow(numel, v, &numel)) return bad(fname, name, "element count overflows", t->ndim, v);
        t->shape[t->ndim++] = v;
    }
    int64_t b, en;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_u53(cJSON_GetArrayItem(off, 0), &b) ||
        !json_u53(cJSON_GetArrayItem(off, 1), &en))
        return bad(fname, name, "data_offsets must be [begin, end]", 0, 0);
    if (b > en || (uint64_t)en > dsize) return bad(fname, name, "data_offsets outside the data section", b, en);
    int64_t bytes;
    if (__builtin_mul_overflow(numel, (int64_t)es, &bytes) || bytes != en - b)
        return bad(fname, name, "data_offsets span does not match shape x dtype size", en - b, numel);
    if (t->ndim == 0) { /* a scalar: one element */
        t->ndim = 1;
        t->shape[0] = 1;
    }
    t->name = zf_mf_strndup(f, name, strlen(name));
    if (!t->name) return zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
    t->file = fname;
    t->data = data + b;
    t->bytes = (size_t)bytes;
    return ZF_OK;
}

zf_status zf_st_parse(zf_model_file *f, const char *fname, const void *data, size_t size, zf_st_list *list) {
    const uint8_t *p = data;
    uint64_t hlen;
    if (size < 8)
        return zf_error(ZF_ERR_FORMAT, "[safetensors] %s: header length at offset 0: the file has only %zu bytes", fname,
                        size);
    memcpy(&hlen, p, 8);
    if (hlen > size - 8 || hlen > MAX_HEADER)
        return zf_error(ZF_ERR_FORMAT, "[safetensors] %s: header length at offset 0: %llu bytes, but the file has %zu "
                        "(limit %u)", fname, (unsigned long long)hlen, size, MAX_HEADER);
    cJSON *root = cJSON_ParseWithLength((const char *)p + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = root || !at ? 8 : (size_t)(at - (const char *)p);
        cJSON_Delete(root);
        return zf_error(ZF_ERR_FORMAT, "[safetensors] %s: header at offset %zu: not a JSON object", fname, off);
    }
    zf_status s = ZF_OK;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (!e->string || !strcmp(e->string, "__metadata__")) continue;
        if (list->n == list->cap) {
            int64_t cap = list->cap ? list->cap * 2 : 64;
            zf_st_tensor *nt = realloc(list->t, (size_t)cap * sizeof *nt);
            if (!nt) {
                s = zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
                break;
            }
            list->t = nt;
            list->cap = cap;
        }
        s = parse_entry(f, fname, e, p + 8 + hlen, size - 8 - (size_t)hlen, &list->t[list->n]);
        if (s != ZF_OK) break;
        list->n++;
    }
    cJSON_Delete(root);
    return s;
}

void zf_st_list_free(zf_st_list *list) {
    free(list->t);
    memset(list, 0, sizeof *list);
}

/* Reads a whole small text file into memory owned by f; *text NULL when the
 * file does not exist and !required. */
static zf_status read_text(zf_model_file *f, const char *dir, const char *name, int required, char **text,
                           size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *text = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return required ? zf_error(ZF_ERR_IO, "[safetensors] cannot open %s", path) : ZF_OK;
    zf_status s = ZF_OK;
    long n = -1;
    if (fseek(fp, 0, SEEK_END) == 0) n = ftell(fp);
    if (n < 0 || fseek(fp, 0, SEEK_SET) != 0) s = zf_error(ZF_ERR_IO, "[safetensors] cannot read %s", path);
    else if (!(*text = zf_mf_alloc(f, (size_t)n + 1))) s = zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
    else if (fread(*text, 1, (size_t)n, fp) != (size_t)n) s = zf_error(ZF_ERR_IO, "[safetensors] cannot read %s", path);
    if (s == ZF_OK) {
        (*text)[n] = '\0';
        *len = (size_t)n;
    }
    fclose(fp);
    return s;
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The weight files in order: the index's files (sorted, unique) or every
 * *.safetensors in the directory (sorted). */
static zf_status weight_files(zf_model_file *f, const char *dir, char ***names, int *n) {
    char *idx;
    size_t len;
    ZF_TRY(read_text(f, dir, "model.safetensors.index.json", 0, &idx, &len));
    char **v = NULL;
    int cnt = 0, cap = 0;
    zf_status s = ZF_OK;
    if (idx) {
        cJSON *root = cJSON_ParseWithLength(idx, len);
        const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map"), *e;
        if (!cJSON_IsObject(map)) {
            s = zf_error(ZF_ERR_FORMAT, "[safetensors] model.safetensors.index.json: no weight_map object");
            map = NULL;
        }
        cJSON_ArrayForEach(e, map) {
            if (s != ZF_OK) break;
            if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !strcmp(e->valuestring, "..") ||
                !strcmp(e->valuestring, ".") || !e->valuestring[0]) {
                s = zf_error(ZF_ERR_FORMAT, "[safetensors] model.safetensors.index.json: weight_map entry '%.80s' is not a "
                             "file name in the directory", e->string ? e->string : "");
                break;
            }
            int seen = 0;
            for (int i = 0; i < cnt && !seen; i++) seen = !strcmp(v[i], e->valuestring);
            if (seen) continue;
            if (cnt == cap && !(v = realloc(v, (size_t)(cap = cap ? cap * 2 : 8) * sizeof *v))) {
                s = zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
                break;
            }
            if (!(v[cnt++] = zf_mf_strndup(f, e->valuestring, strlen(e->valuestring))))
                s = zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
        }
        cJSON_Delete(root);
    } else {
        DIR *d = opendir(dir);
        if (!d) return zf_error(ZF_ERR_IO, "[safetensors] cannot list %s", dir);
        struct dirent *de;
        while (s == ZF_OK && (de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l < 12 || strcmp(de->d_name + l - 12, ".safetensors")) continue;
            if (cnt == cap && !(v = realloc(v, (size_t)(cap = cap ? cap * 2 : 8) * sizeof *v)))
                s = zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
            else if (!(v[cnt++] = zf_mf_strndup(f, de->d_name, l)))
                s = zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
        }
        closedir(d);
    }
    if (s == ZF_OK && cnt == 0) s = zf_error(ZF_ERR_FORMAT, "[safetensors] %s has no *.safetensors files", dir);
    if (s != ZF_OK) {
        free(v);
        return s;
    }
    qsort(v, (size_t)cnt, sizeof *v, cmp_cstr);
    char **owned = zf_mf_alloc(f, (size_t)cnt * sizeof *owned);
    if (!owned) {
        free(v);
        return zf_error(ZF_ERR_NO_MEMORY, "[safetensors] out of memory");
    }
    memcpy(owned, v, (size_t)cnt * sizeof *owned);
    free(v);
    *names = owned;
    *n = cnt;
    return ZF_OK;
}

zf_status zf_st_load_dir(zf_model_file *f, const char *dir) {
    char *config, **files = NULL;
    size_t config_len;
    int n_files = 0;
    ZF_TRY(read_text(f, dir, "config.json", 1, &config, &config_len));
    ZF_TRY(weight_files(f, dir, &files, &n_files));
    zf_st_list list = {0};
    zf_status s = ZF_OK;
    for (int i = 0; s == ZF_OK && i < n_files; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        const void *data;
        size_t len;
        s = zf_mf_map_file(path, &data, &len);
        if (s == ZF_OK) s = zf_mf_add_region(f, data, len, 1);
        if (s == ZF_OK) s = zf_st_parse(f, files[i], data, len, &list);
    }
    if (s == ZF_OK) s = zf_st_build(f, config, config_len, &list);
    zf_st_list_free(&list);
    char *tok, *tok_cfg;
    size_t tok_len, tok_cfg_len;
    if (s == ZF_OK) s = read_text(f, dir, "tokenizer.json", 0, &tok, &tok_len);
    if (s == ZF_OK) s = read_text(f, dir, "tokenizer_config.json", 0, &tok_cfg, &tok_cfg_len);
    if (s == ZF_OK && tok) s = zf_st_load_vocab(f, tok, tok_len, tok_cfg, tok_cfg_len, config, config_len);
    return s;
}
