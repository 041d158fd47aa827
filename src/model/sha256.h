/* SHA-256 (FIPS 180-4), incremental, for model file hashes in capsules. */
#ifndef ZF_MODEL_SHA256_H
#define ZF_MODEL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct zf_sha256 {
    uint32_t h[8];
    uint64_t total; /* bytes hashed so far */
    uint8_t buf[64];
    size_t n; /* bytes in buf */
} zf_sha256;

void zf_sha256_init(zf_sha256 *s);
void zf_sha256_update(zf_sha256 *s, const void *data, size_t len);
/* Writes the digest as 64 lowercase hex digits + NUL. */
void zf_sha256_final_hex(zf_sha256 *s, char hex[65]);

#endif
