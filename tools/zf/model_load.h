/* Opening a model for a zf command: the file (with load progress on
 * stderr), its tokenizer and the runnable model, released together. */
#ifndef ZF_TOOL_MODEL_LOAD_H
#define ZF_TOOL_MODEL_LOAD_H

#include "model/model.h"
#include "model/model_file.h"
#include "model/tokenizer.h"

typedef struct zf_loaded_model {
    zf_model_file *file;
    zf_model *model;
    zf_tokenizer *tok; /* NULL when the file has no vocabulary */
    double load_seconds;
} zf_loaded_model;

/* Returns 0, or 1 after printing "zf: <why>" to stderr. need_vocab: a file
 * without a vocabulary is an error. With o->device CUDA the weight upload
 * shows its progress like the file's loading. */
int zf_load_model(const char *path, int need_vocab, const zf_model_opts *o, zf_loaded_model *out);
void zf_unload_model(zf_loaded_model *m);
/* A second model from lm's file (e.g. on another device), with the same
 * progress; the caller destroys it before unloading lm. Returns 0, or 1
 * after printing why. */
int zf_load_another_model(const zf_loaded_model *lm, const zf_model_opts *o, zf_model **out);

/* --dtype: "f32", "bf16" or "f16" -> the model's activation and KV-cache
 * dtype; 0, or -1 for any other text (o unchanged). */
int zf_model_dtype_parse(const char *s, zf_model_opts *o);

/* "cpu" or "cuda" -> the device; 0, or -1 for any other text. */
int zf_backend_parse(const char *s, zf_device *out);
const char *zf_backend_name(zf_device d);

/* Seconds on a monotonic clock. */
double zf_now(void);

#endif
