/* SHA-256 by libcrypto (sha256.h). */
#include "model/sha256.h"

#include <openssl/evp.h>

int zf_sha256_init(zf_sha256 *s) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    s->ctx = c;
    return c ? 0 : -1;
}

void zf_sha256_update(zf_sha256 *s, const void *data, size_t len) {
    if (s->ctx && len) EVP_DigestUpdate((EVP_MD_CTX *)s->ctx, data, len);
}

int zf_sha256_final_hex(zf_sha256 *s, char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    hex[0] = '\0';
    if (!s->ctx) return -1;
    const int ok = EVP_DigestFinal_ex((EVP_MD_CTX *)s->ctx, md, &n) == 1 && n == 32;
    EVP_MD_CTX_free((EVP_MD_CTX *)s->ctx);
    s->ctx = NULL;
    if (!ok) return -1;
    for (unsigned int i = 0; i < n; i++) hex[2 * i] = digits[md[i] >> 4], hex[2 * i + 1] = digits[md[i] & 15];
    hex[64] = '\0';
    return 0;
}
