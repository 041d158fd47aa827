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
 * without a vocabulary is an error. */
int zf_load_model(const char *path, int need_vocab, const zf_model_opts *o, zf_loaded_model *out);
void zf_unload_model(zf_loaded_model *m);

/* Seconds on a monotonic clock. */
double zf_now(void);

#endif
