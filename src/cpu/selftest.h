/* Functional self-tests for CPU variants: a small fresh input, compared with
 * the scalar stock kernels (bit for bit for stock/exact, within the stated
 * bound for fast). */
#ifndef ZF_CPU_SELFTEST_H
#define ZF_CPU_SELFTEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/registry.h"

int zf_cpu_selftest_elementwise(const zf_variant *v, char *msg, size_t msg_size);
int zf_cpu_selftest_norm(const zf_variant *v, char *msg, size_t msg_size);

/* Shared helpers: a deterministic xorshift stream and a buffer filler that
 * mixes ordinary values with zeros, tiny and huge magnitudes. */
uint64_t zf_selftest_next(uint64_t *state);
void zf_selftest_fill(zf_dtype t, void *p, int64_t n, uint64_t *state, float scale);
/* Distance in units of T's last place between a and b (0 when equal bits). */
double zf_ulp_distance(zf_dtype t, float a, float b);

#endif
