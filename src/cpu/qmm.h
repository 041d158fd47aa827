/* Quantized matmul on the CPU: the canonical dot (docs/NUMERICS.md §8.2),
 * its kernels, and the gathered-projection engine that qmm, gather_qmm and
 * the fused MoE ops (moe.c) share. */
#ifndef ZF_CPU_QMM_H
#define ZF_CPU_QMM_H

#include <stddef.h>
#include <stdint.h>

#include "core/registry.h"
#include "zfast.h"

#define ZF_QBLOCK 32 /* elements per block: `bits` whole words for every width */
#define ZF_QLANES 8  /* lanes per block: element 8r + l feeds lane l */
#define ZF_QCOLS 8   /* block j accumulates into column j mod 8 */
#define ZF_QNX 8     /* x rows one kernel call may serve */
#define ZF_QPER_TOKEN_PAIRS 32 /* gather_qmm_combine sums slots per token up to this many pairs */
#define ZF_QTILE_R 4  /* SIMD kernels: weight rows per tile, at most */
#define ZF_QTILE_NX 4 /* SIMD kernels: x rows per tile, at most */

/* An activation row made ready once per call and shared by every weight row:
 * xf[k] in f32 and xs[k/4], the per-block, per-lane sums
 * xs[8j + l] = ((x[32j+l] + x[32j+8+l]) + x[32j+16+l]) + x[32j+24+l]. */
void zf_qx_prepare(zf_dtype t, const void *x, int64_t k, float *xf, float *xs);

/* `rows` consecutive weight rows starting at row0 of expert e. */
typedef struct zf_qrows {
    const uint32_t *packed; /* row0's words; rows are `words` apart */
    const void *scales, *biases; /* row0's groups; rows are `groups` apart */
    zf_dtype sdt;
    int bits, group_size;
    int64_t k, words, groups, rows;
} zf_qrows;

/* out[i * rows + r] = canonical dot(x_i, row r) in f32 for i < nx <= ZF_QNX. */
typedef void (*zf_qdot_fn)(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out);

void zf_scalar_qdot(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out);
void zf_avx2_qdot(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out);
void zf_avx512_qdot(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out);
/* Edge tier (fidelity approx): x quantized to int8 per block, integer block dots
 * (qmm_i8_avx2.c, docs/NUMERICS.md §8.7); not the canonical dot. */
void zf_avx2_qdot_i8(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out);
void zf_avx512_qdot_i8(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out);

/* A kernel that reads x in a form of its own, made once per x row and call
 * by the engine rather than in every task: `prepare` writes that form of the
 * f32 row xf (k elements, for `bits`-wide weights) into `size(k)` bytes at a
 * 64-byte boundary and returns 1, or returns 0 where the kernel would run
 * the plain `dot` on such rows; `dot` then takes the prepared rows. Gives
 * the bits of the plain kernel it belongs to. */
typedef void (*zf_qdot_prepared_fn)(const zf_qrows *w, int nx, const void *const *xq, float *out);
typedef struct zf_qprep {
    size_t (*size)(int64_t k);
    int (*prepare)(const float *xf, int64_t k, int bits, void *out);
    zf_qdot_prepared_fn dot;
} zf_qprep;
/* The preparation of a plain kernel, or NULL if it has none. */
const zf_qprep *zf_qprep_of(zf_qdot_fn dot);

size_t zf_avx2_qx_i8_size(int64_t k);
int zf_avx2_qx_i8_prepare(const float *xf, int64_t k, int bits, void *out);
void zf_avx2_qdot_i8_prepared(const zf_qrows *w, int nx, const void *const *xq, float *out);
void zf_avx512_qdot_i8_prepared(const zf_qrows *w, int nx, const void *const *xq, float *out);

/* Rows r0 .. r0+rows of expert e as a zf_qrows. */
zf_qrows zf_qrows_of(const zf_qweight *w, int64_t e, int64_t r0, int64_t rows);

/* A gathered projection: for every (token m, slot s) pair p = m*slots + s,
 * dots of x row (x_per_slot ? p : m) with the rows of expert ids[m, s], for
 * one or two weight tensors of the same shape (gate and up). The engine
 * groups pairs by expert (so one weight row serves several x rows), splits
 * rows into fixed chunks over the thread pool and hands each chunk's f32
 * dots to `epilogue`; d[w][i*rows + r] is weight w's dot for pairs[i] and
 * row r0+r. With per_token (slots <= ZF_QNX), a task serves instead all the
 * slots of one token, pairs[i] = m*slots + i in slot order, so the epilogue
 * can reduce over slots without a buffer. The result of every dot is
 * independent of the grouping and threads. Decode-sized calls run without
 * a heap allocation. */
typedef struct zf_qgather {
    const zf_qweight *w[2];
    int nw;
    zf_qdot_fn dot;
    int64_t m, slots;
    const zf_tensor *ids; /* i32 [m, slots] (may be strided); NULL: expert 0 (qmm) */
    int x_per_slot, per_token;
    zf_dtype xt;
    const void *x; /* [m, (slots,) k] rows x_row_stride elements apart */
    int64_t x_row_stride;
    void (*epilogue)(void *ctx, const int64_t *pairs, int np, int64_t r0, int64_t rows, const float *const *d);
    void *ctx;
} zf_qgather;

zf_status zf_qgather_run(const char *op, const zf_qgather *g);

/* Argument checks shared with moe.c: ids i32 [m, slots] with every value in
 * [0, experts), x [m, k] or [m, slots, k] of w's k; returns m, slots and
 * whether x has a slot axis. Checks all ids before anything is written.
 * xname, wname: the arguments' names in errors. */
zf_status zf_check_gather(const char *op, const zf_tensor *x, const char *xname, const zf_qweight *w,
                          const char *wname, const zf_tensor *ids, int64_t *m, int64_t *slots, int *x_per_slot,
                          int64_t *x_row_stride);

zf_status zf_cpu_qmm(const zf_tensor *x, const zf_qweight *w, zf_tensor *y, const zf_opts *o);
zf_status zf_cpu_gather_qmm(const zf_tensor *x, const zf_qweight *w, const zf_tensor *ids, zf_tensor *y,
                            const zf_opts *o);

/* Self-test of a qdot-based variant: its kernel against zf_scalar_qdot, bit
 * for bit, every bits x group size. */
int zf_cpu_selftest_qdot(const zf_variant *v, char *msg, size_t msg_size);
/* Self-test of the int8 kernel: within its stated bound of a float64 dot
 * (4- and 8-bit), the canonical bits for the widths it hands on. */
int zf_cpu_selftest_qdot_i8(const zf_variant *v, char *msg, size_t msg_size);
/* Its bound for x row xf (f32, k elements) and row r of w; *ref gets the
 * float64 dot. */
double zf_qdot_i8_bound(const zf_qrows *w, int64_t r, const float *xf, double *ref);

#endif
