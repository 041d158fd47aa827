/* CPU norm family: rms_norm and the fused add_rms_norm, forward and VJP.
 *
 * Entry points check arguments, pick a variant, then run one kernel call per
 * row (src/cpu/kernels.h signatures) over the thread pool. The scalar kernels
 * (norm.c) define the bits; norm_avx2.c and norm_avx512.c reproduce them.
 * Canonical orders (docs/NUMERICS.md): every row sum is the L256 reduction;
 * d_w sums rows in fixed chunks of ZF_NORM_DW_CHUNK, then chunks in order. */
#ifndef ZF_CPU_NORM_H
#define ZF_CPU_NORM_H

#include "zfast.h"

#define ZF_NORM_DW_CHUNK 32       /* rows per d_w partial sum */
#define ZF_NORM_MAX_ROW (1 << 24) /* row lengths below this convert to f32 exactly */

zf_status zf_cpu_rms_norm(const zf_tensor *x, const zf_tensor *w, float eps, zf_tensor *y, const zf_opts *o);
zf_status zf_cpu_rms_norm_vjp(const zf_tensor *x, const zf_tensor *w, float eps, const zf_tensor *d_y,
                              zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o);
zf_status zf_cpu_add_rms_norm(const zf_tensor *x, const zf_tensor *residual, const zf_tensor *w, float eps,
                              zf_tensor *y, zf_tensor *h, const zf_opts *o);
zf_status zf_cpu_add_rms_norm_vjp(const zf_tensor *h, const zf_tensor *w, float eps, const zf_tensor *d_y,
                                  const zf_tensor *d_h, zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o);

/* Row kernels, one set per ISA path.
 * rms_norm_vjp takes an optional d_h and then returns T(T(d_x) + d_h): that
 * is rms_norm_vjp followed by add, so it serves as the stock rms_norm_vjp
 * (d_h NULL) and as the exact fused add_rms_norm_vjp alike. The fast VJP adds
 * d_h before the one rounding. */
#define ZF_NORM_KERNELS(isa)                                                                                    \
    void zf_##isa##_rms_norm(zf_dtype t, const void *x, const void *w, float eps, void *y, int64_t n,            \
                             int stream);                                                                       \
    void zf_##isa##_add_rms_norm_exact(zf_dtype t, const void *x, const void *r, const void *w, float eps,       \
                                       void *y, void *h, int64_t n, int stream);                                \
    void zf_##isa##_add_rms_norm_fast(zf_dtype t, const void *x, const void *r, const void *w, float eps,        \
                                      void *y, void *h, int64_t n, int stream);                                 \
    void zf_##isa##_rms_norm_vjp(zf_dtype t, const void *x, const void *w, float eps, const void *d_y,           \
                                 const void *d_h, void *d_x, float *dw_acc, int64_t n);                         \
    void zf_##isa##_add_rms_norm_vjp_fast(zf_dtype t, const void *x, const void *w, float eps, const void *d_y,  \
                                          const void *d_h, void *d_x, float *dw_acc, int64_t n);

ZF_NORM_KERNELS(scalar)
ZF_NORM_KERNELS(avx2)
ZF_NORM_KERNELS(avx512)

#endif
