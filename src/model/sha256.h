/* SHA-256 (FIPS 180-4), incremental, for model-file hashes and capsule ids:
 * OpenSSL's libcrypto through its EVP interface, which uses the CPU's SHA
 * instructions where there are any (the 98 MB SmolLM2 GGUF in 0.050 s,
 * against 0.295-0.299 s for the portable C this replaced, on the 2-core
 * development VM: at that rate a 16 GB model's hash cost ~50 s of every
 * `zf bench` and `zf validate`). */
#ifndef ZF_MODEL_SHA256_H
#define ZF_MODEL_SHA256_H

#include <stddef.h>

typedef struct zf_sha256 {
    void *ctx; /* EVP_MD_CTX; NULL where init failed */
} zf_sha256;

/* 0, or -1 where libcrypto cannot start a digest (out of memory); then
 * update does nothing and final writes "" and frees nothing. */
int zf_sha256_init(zf_sha256 *s);
void zf_sha256_update(zf_sha256 *s, const void *data, size_t len);
/* Writes the digest as 64 lowercase hex digits + NUL and ends the digest
 * (its memory freed); -1 where it could not be computed. */
int zf_sha256_final_hex(zf_sha256 *s, char hex[65]);

#endif
