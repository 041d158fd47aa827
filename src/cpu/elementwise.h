/* CPU elementwise family: entry points and the kernels each variant uses. */
#ifndef ZF_CPU_ELEMENTWISE_H
#define ZF_CPU_ELEMENTWISE_H

#include "zfast.h"

zf_status zf_cpu_add(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o);
zf_status zf_cpu_mul(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o);
zf_status zf_cpu_silu(const zf_tensor *x, zf_tensor *out, const zf_opts *o);
zf_status zf_cpu_silu_vjp(const zf_tensor *x, const zf_tensor *d_out, zf_tensor *d_x, const zf_opts *o);
zf_status zf_cpu_swiglu(const zf_tensor *gate, const zf_tensor *up, zf_tensor *out, const zf_opts *o);
zf_status zf_cpu_swiglu_vjp(const zf_tensor *gate, const zf_tensor *up, const zf_tensor *d_out, zf_tensor *d_gate,
                            zf_tensor *d_up, const zf_opts *o);

/* Kernels, one set per ISA path; the scalar ones define the bits. */
#define ZF_EW_KERNELS(isa)                                                                                    \
    void zf_##isa##_add(zf_dtype t, const void *a, const void *b, void *out, int64_t n, int stream);          \
    void zf_##isa##_mul(zf_dtype t, const void *a, const void *b, void *out, int64_t n, int stream);          \
    void zf_##isa##_silu(zf_dtype t, const void *x, void *out, int64_t n, int stream);                        \
    void zf_##isa##_silu_vjp(zf_dtype t, const void *x, const void *d_out, void *d_x, int64_t n, int stream); \
    void zf_##isa##_swiglu_exact(zf_dtype t, const void *g, const void *u, void *out, int64_t n, int stream); \
    void zf_##isa##_swiglu_fast(zf_dtype t, const void *g, const void *u, void *out, int64_t n, int stream);  \
    void zf_##isa##_swiglu_vjp_exact(zf_dtype t, const void *g, const void *u, const void *d_out, void *d_g,  \
                                     void *d_u, int64_t n, int stream);                                       \
    void zf_##isa##_swiglu_vjp_fast(zf_dtype t, const void *g, const void *u, const void *d_out, void *d_g,   \
                                    void *d_u, int64_t n, int stream);

ZF_EW_KERNELS(scalar)
ZF_EW_KERNELS(avx2)
ZF_EW_KERNELS(avx512)

#endif
