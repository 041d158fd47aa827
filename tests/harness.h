/* Minimal test harness: checks that count failures, fresh random inputs
 * (seed printed; ZF_TEST_SEED replays one), buffers with poisoned guards. */
#ifndef ZF_TEST_HARNESS_H
#define ZF_TEST_HARNESS_H

#include <stdint.h>
#include <stdio.h>

#include "zfast.h"

extern int zt_failures;
extern int zt_checks;

#define ZT_CHECK(cond, ...)                                                               \
    do {                                                                                  \
        zt_checks++;                                                                      \
        if (!(cond)) {                                                                    \
            zt_failures++;                                                                \
            if (zt_failures <= 30) {                                                      \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                      \
                fprintf(stderr, __VA_ARGS__);                                             \
                fprintf(stderr, "\n");                                                    \
            }                                                                             \
        }                                                                                 \
    } while (0)

#define ZT_OK(expr) ZT_CHECK((expr) == ZF_OK, "%s -> %s", #expr, zf_last_error())

/* Seeds the generator (from time, or ZF_TEST_SEED) and prints the seed. */
void zt_init(const char *name);
/* Prints a summary; returns the process exit code. */
int zt_finish(void);

uint64_t zt_rand(void);
/* uniform in [lo, hi) */
double zt_uniform(double lo, double hi);
/* Fills n elements of dtype t with values in [-scale, scale), never all zero. */
void zt_fill(zf_dtype t, void *p, int64_t n, float scale);

/* A buffer of n elements with 64 poisoned guard bytes on each side. */
typedef struct zt_buf {
    unsigned char *base;
    void *p;
    size_t bytes;
} zt_buf;
zt_buf zt_alloc(zf_dtype t, int64_t n);
/* Fill the payload with a poison pattern (0x7f bytes: NaN-ish for floats). */
void zt_poison(zt_buf *b);
/* 1 when both guards are intact. */
int zt_guards_ok(const zt_buf *b);
void zt_free(zt_buf *b);

/* Index of the first element whose bits differ, or -1. */
int64_t zt_first_diff(zf_dtype t, const void *a, const void *b, int64_t n);

float zt_get(zf_dtype t, const void *p, int64_t i);
void zt_set(zf_dtype t, void *p, int64_t i, float v);

/* The whole file at path with a NUL after it (*len, where given, counts the
 * file's bytes); NULL where it cannot be opened or read. Caller frees. */
char *zt_read_file(const char *path, size_t *len);
/* Writes n bytes at p to path (created or truncated); 1 when all were written
 * and the file closed cleanly, else 0. */
int zt_write_file(const char *path, const void *p, size_t n);

#endif
