/* GGUF v2/v3 reader: a bounds-checked parse of header, metadata and tensor
 * infos over bytes in memory, and the loader that fills a zf_model_file
 * (config, tokenizer, weights converted to the affine layout where exact;
 * docs/FORMATS.md). */
#ifndef ZF_MODEL_GGUF_H
#define ZF_MODEL_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "model/model_file_impl.h"

enum {
    ZF_GGUF_U8 = 0, ZF_GGUF_I8, ZF_GGUF_U16, ZF_GGUF_I16, ZF_GGUF_U32, ZF_GGUF_I32, ZF_GGUF_F32,
    ZF_GGUF_BOOL, ZF_GGUF_STRING, ZF_GGUF_ARRAY, ZF_GGUF_U64, ZF_GGUF_I64, ZF_GGUF_F64, ZF_GGUF_TYPE_COUNT
};

enum {
    ZF_GGML_F32 = 0, ZF_GGML_F16 = 1, ZF_GGML_Q4_0 = 2, ZF_GGML_Q4_1 = 3, ZF_GGML_Q5_0 = 6, ZF_GGML_Q5_1 = 7, ZF_GGML_Q8_0 = 8,
    ZF_GGML_Q4_K = 12, ZF_GGML_Q5_K = 13, ZF_GGML_Q6_K = 14, ZF_GGML_BF16 = 30
};

typedef struct zf_gguf_str {
    const char *s; /* not NUL-terminated */
    uint64_t len;
} zf_gguf_str;

typedef struct zf_gguf_kv {
    zf_gguf_str key;
    uint32_t type;
    size_t off;        /* file offset of the value */
    uint32_t arr_type; /* arrays: element type, count, offset of the first element */
    uint64_t arr_n;
    size_t arr_off;
} zf_gguf_kv;

typedef struct zf_gguf_tinfo {
    zf_gguf_str name;
    uint32_t ndim;
    int64_t ne[4]; /* fastest-varying first */
    uint32_t type;
    size_t info_off; /* file offset of the tensor info (for messages) */
    size_t data_off; /* file offset of the data */
    size_t bytes;
} zf_gguf_tinfo;

typedef struct zf_gguf {
    const uint8_t *base;
    size_t size;
    uint32_t version, alignment;
    int64_t n_kv, n_tensors;
    zf_gguf_kv *kv;
    zf_gguf_tinfo *tensors;
    size_t data_start;
} zf_gguf;

/* Parses and checks everything (values, dims, tensor ranges and alignment);
 * ZF_ERR_FORMAT "[gguf] FIELD at offset N: ..." otherwise. Free with
 * zf_gguf_free (also after a failure). */
zf_status zf_gguf_parse(const void *data, size_t size, zf_gguf *g);
void zf_gguf_free(zf_gguf *g);
const zf_gguf_kv *zf_gguf_find(const zf_gguf *g, const char *key);
/* "Q4_K", ... or NULL for a type this reader does not load. */
const char *zf_gguf_type_name(uint32_t type);

/* Fills f from a GGUF image that outlives f. */
zf_status zf_gguf_load(zf_model_file *f, const void *data, size_t size);
/* zf_model_file_open over a GGUF image in memory (tests, fuzzing); data must
 * outlive the returned file. */
zf_status zf_model_file_open_gguf_memory(const void *data, size_t len, zf_progress_fn progress, void *ctx,
                                         zf_model_file **out);

#endif
