/* CPU kernel signatures, one per op. Every variant of an op (scalar, AVX2,
 * AVX-512; stock, exact, fast) has its op's signature and works on one span
 * of contiguous elements (elementwise) or one row (norms). Threads and
 * strides are handled by the op's entry point, never by the kernel. */
#ifndef ZF_CPU_KERNELS_H
#define ZF_CPU_KERNELS_H

#include <stdint.h>

#include "zfast.h"

/* Norm outputs this large are written around the caches (the norms' stream below). */
#define ZF_NORM_STREAM_BYTES ((int64_t)16 << 20)
/* Elementwise outputs from this size on. Only prefill-sized calls reach it
 * (decode: at most 32 rows of 14336 f32, 1.8 MB), and their consumer, a
 * matmul over many rows, is bound by its arithmetic, so reading the output
 * back from DRAM costs it little, while writing it through the caches costs
 * the producer a read for ownership: a fourth stream beside gate, up and the
 * store. Measured on a 2-core EPYC VM (docs/PERF-CPU.md, session 20), five
 * alternations: fused bf16 swiglu of 4096 x 576 / 768 / 1536 over its stock
 * pair, medians 1.31 / 1.30 / 1.36x with the 16 MiB bar, 1.54 / 1.53 /
 * 1.56x with this one; prefill of SmolLM2 (1024 tokens) and of a 340M llama
 * (512) unchanged. The norms keep the 16 MiB bar: their gate moved both
 * ways. */
#define ZF_EW_STREAM_BYTES ((int64_t)4 << 20)

/* Elementwise kernels. stream: the call's outputs reach ZF_EW_STREAM_BYTES,
 * so they may be written around the caches (non-temporal stores; same bits). */
/* add, mul, swiglu (a = gate, b = up), silu_vjp (a = x, b = d_out) */
typedef void (*zf_binary_fn)(zf_dtype t, const void *a, const void *b, void *out, int64_t n, int stream);
/* silu */
typedef void (*zf_unary_fn)(zf_dtype t, const void *x, void *out, int64_t n, int stream);
/* swiglu_vjp */
typedef void (*zf_swiglu_vjp_fn)(zf_dtype t, const void *gate, const void *up, const void *d_out, void *d_gate,
                                 void *d_up, int64_t n, int stream);

/* rms_norm, one row of n. stream: the call's outputs reach
 * ZF_NORM_STREAM_BYTES, so they may be written around the caches
 * (non-temporal stores; same bits). */
typedef void (*zf_rms_norm_fn)(zf_dtype t, const void *x, const void *w, float eps, void *y, int64_t n, int stream);
/* add_rms_norm, one row: h = x + r, y = rms_norm(h) */
typedef void (*zf_add_rms_norm_fn)(zf_dtype t, const void *x, const void *r, const void *w, float eps, void *y,
                                   void *h, int64_t n, int stream);
/* rms_norm_vjp / add_rms_norm_vjp, one row: writes d_x and, when dw_acc is
 * not NULL, accumulates this row's d_w terms into dw_acc[n] (f32) in the
 * canonical order (docs/NUMERICS.md). d_h may be NULL (add_rms_norm only). */
typedef void (*zf_norm_vjp_fn)(zf_dtype t, const void *x, const void *w, float eps, const void *d_y,
                               const void *d_h, void *d_x, float *dw_acc, int64_t n);

#endif
