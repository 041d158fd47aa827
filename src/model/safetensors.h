/* safetensors reader: file headers (bounds-checked), config.json (HF and
 * MLX quantization), HF/MLX -> GGUF tensor names, stacked experts, and
 * tokenizer.json. A directory holds config.json, one or more *.safetensors
 * (sharded with model.safetensors.index.json) and optionally tokenizer.json
 * + tokenizer_config.json. docs/FORMATS.md lists the mapping. */
#ifndef ZF_MODEL_SAFETENSORS_H
#define ZF_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "model/model_file_impl.h"

/* One tensor from a safetensors header; data points into the file image. */
typedef struct zf_st_tensor {
    const char *name; /* HF/MLX name, owned by the zf_model_file */
    const char *file; /* file it came from (for messages) */
    char dtype[8];    /* "F32", "BF16", "U32", ... */
    int ndim;
    int64_t shape[ZF_MAX_DIMS];
    const uint8_t *data;
    size_t bytes;
} zf_st_tensor;

typedef struct zf_st_list {
    zf_st_tensor *t;
    int64_t n, cap;
} zf_st_list;

/* Appends the tensors of one safetensors image (named fname in messages). */
zf_status zf_st_parse(zf_model_file *f, const char *fname, const void *data, size_t size, zf_st_list *list);
void zf_st_list_free(zf_st_list *list);

/* Config, weights and (when tokenizer_json is not NULL) the tokenizer from
 * texts in memory and the parsed tensors. Reorders list. */
zf_status zf_st_build(zf_model_file *f, const char *config_json, size_t config_len, zf_st_list *list);
zf_status zf_st_load_vocab(zf_model_file *f, const char *tokenizer_json, size_t len, const char *tokenizer_config,
                           size_t config_len, const char *config_json, size_t cfg_len);

/* Loads a model directory into f. */
zf_status zf_st_load_dir(zf_model_file *f, const char *dir);

#endif
