/* Float matmul on the CPU: y[m, n] = T(x[m, k] @ W[n, k]^T), W in f32, f16
 * or bf16. Every output element is one L256 dot (docs/NUMERICS.md §4) of an
 * x row and a W row, so it does not depend on m, the thread count or the ISA
 * (docs/NUMERICS.md §9). */
#ifndef ZF_CPU_MATMUL_H
#define ZF_CPU_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "zfast.h"

#define ZF_MM_NX 4 /* x rows one kernel call may serve (each W row is read once for them) */

zf_status zf_cpu_matmul(const zf_tensor *x, const zf_tensor *w, zf_tensor *y, const zf_opts *o);

/* out[i * rows + r] = L256(x[i], W row r) in f32, for i < nx <= ZF_MM_NX;
 * x rows of k elements in dtype tx, W rows of k in tw, w_stride apart. */
typedef void (*zf_matmul_fn)(zf_dtype tx, const void *const *x, int nx, zf_dtype tw, const void *w,
                             int64_t w_stride, int64_t rows, int64_t k, float *out);

void zf_scalar_matmul(zf_dtype tx, const void *const *x, int nx, zf_dtype tw, const void *w, int64_t w_stride,
                      int64_t rows, int64_t k, float *out);
void zf_avx2_matmul(zf_dtype tx, const void *const *x, int nx, zf_dtype tw, const void *w, int64_t w_stride,
                    int64_t rows, int64_t k, float *out);

/* Self-test of a matmul kernel against the scalar one, bit for bit. */
struct zf_variant;
int zf_cpu_selftest_matmul(const struct zf_variant *v, char *msg, size_t msg_size);

#endif
