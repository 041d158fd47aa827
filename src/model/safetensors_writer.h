/* A streaming safetensors writer: tensors are declared (name, dtype, shape),
 * then the header is written and each tensor's bytes are produced in
 * declaration order by a callback. */
#ifndef ZF_MODEL_SAFETENSORS_WRITER_H
#define ZF_MODEL_SAFETENSORS_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "zfast.h"

typedef struct zf_st_writer zf_st_writer;
typedef void (*zf_st_fill_fn)(void *ctx, void *buf, size_t offset, size_t bytes);

zf_st_writer *zf_st_writer_new(void);
void zf_st_writer_free(zf_st_writer *w);
/* dtype: "F32", "F16", "BF16", "U32" ... ; elem_bytes its size. */
void zf_st_tensor(zf_st_writer *w, const char *name, const char *dtype, size_t elem_bytes, int ndim,
                  const int64_t *shape, zf_st_fill_fn fill, void *ctx);
/* Writes path with {"__metadata__": {"format": format}} when format != NULL. */
zf_status zf_st_writer_write(zf_st_writer *w, const char *path, const char *format);

#endif
