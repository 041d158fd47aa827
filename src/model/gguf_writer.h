/* A streaming GGUF v3 writer: metadata and tensor infos are declared first,
 * then the data of each tensor is produced in declaration order by a
 * callback, so files far larger than memory can be written. */
#ifndef ZF_MODEL_GGUF_WRITER_H
#define ZF_MODEL_GGUF_WRITER_H

#include <stdint.h>
#include <stdio.h>

#include "zfast.h"

typedef struct zf_gguf_writer zf_gguf_writer;

/* Fills buf[0..bytes) with the next `bytes` of the tensor's data (called
 * repeatedly, `offset` bytes already produced). */
typedef void (*zf_gguf_fill_fn)(void *ctx, void *buf, size_t offset, size_t bytes);

zf_gguf_writer *zf_gguf_writer_new(void);
void zf_gguf_writer_free(zf_gguf_writer *w);

void zf_gguf_kv_str(zf_gguf_writer *w, const char *key, const char *value);
void zf_gguf_kv_u32(zf_gguf_writer *w, const char *key, uint32_t value);
void zf_gguf_kv_f32(zf_gguf_writer *w, const char *key, float value);
void zf_gguf_kv_bool(zf_gguf_writer *w, const char *key, int value);
void zf_gguf_kv_str_array(zf_gguf_writer *w, const char *key, const char *const *values, uint64_t n);
void zf_gguf_kv_i32_array(zf_gguf_writer *w, const char *key, const int32_t *values, uint64_t n);

/* ne: dims fastest-varying first (GGUF order); type: GGML type id. The
 * fill callback and ctx must stay valid until zf_gguf_writer_write. */
void zf_gguf_tensor(zf_gguf_writer *w, const char *name, int n_dims, const int64_t *ne, uint32_t type,
                    zf_gguf_fill_fn fill, void *ctx);

/* Bytes of a tensor of `n` elements (n a whole number of blocks) of a type,
 * or 0 for a type this writer does not know. */
size_t zf_gguf_type_bytes(uint32_t type, int64_t n);

/* Writes everything; ZF_ERR_IO / ZF_ERR_NO_MEMORY with a message on failure
 * (also any earlier failure while declaring). */
zf_status zf_gguf_writer_write(zf_gguf_writer *w, const char *path);

#endif
