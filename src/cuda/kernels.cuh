/* CUDA kernel-variant signatures (the registry's `fn`), the raw-pointer
 * launcher layer: plain pointers, sizes and a stream in, a cudaError_t out.
 * Argument checks live in the zf entry points above them. */
#ifndef ZF_CUDA_KERNELS_CUH
#define ZF_CUDA_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "zfast.h"
}

#define ZF_CU_THREADS 256

/* Set at init: kernels launch with programmatic dependent launch (sm_90+,
 * unless ZF_CUDA_PDL=0). */
extern int zf_cu_pdl;
/* Set at init: the device runs thread-block clusters (sm_90+). */
extern int zf_cu_clusters;
/* Set at init: the device's SM count (launch shapes of the decode kernels). */
extern int zf_cu_sms;
/* Set at init: an SM's shared memory and what the system reserves of it per CTA. */
extern size_t zf_cu_sm_smem, zf_cu_cta_reserved_smem;

/* No kernel here declares more static shared memory than this (`nvcc
 * -Xptxas -v`: the largest is ~2 KB); the 48 KiB default limit counts it. */
#define ZF_CU_STATIC_SMEM_MAX 4096

/* Lets kernel take `bytes` of dynamic shared memory (src/cuda/smem.cu):
 * beyond 48 KiB with its static memory, one opt-in per kernel and size. */
cudaError_t zf_cu_allow_smem(const void *kernel, size_t bytes);

/* zf_cu_smem_for_cap (cuda/occupancy.h) for this device: the dynamic shared
 * memory, at least `bytes`, that lets no more than `cap` CTAs share an SM. */
size_t zf_cu_smem_cap(size_t bytes, int cap);

/* Launches kernel k with programmatic stream serialization where supported,
 * so a chain of small kernels (decode, graphs) overlaps launch and tail. */
template <typename... P, typename... A>
static cudaError_t zf_cu_launch(void (*k)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t s, A... args) {
    cudaLaunchConfig_t c = {};
    cudaLaunchAttribute at[1];
    c.gridDim = grid;
    c.blockDim = block;
    c.dynamicSmemBytes = smem;
    c.stream = s;
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    c.attrs = at;
    c.numAttrs = zf_cu_pdl ? 1 : 0;
    return cudaLaunchKernelEx(&c, k, args...);
}

/* Elementwise operands as rows: element j of row i of operand k lives at
 * in[k] + (i * in_stride[k] + j) elements. Inputs: add/mul (a, b), silu (x),
 * silu_vjp (x, d_out), swiglu (gate, up), swiglu_vjp (gate, up, d_out).
 * Outputs: out, or (d_gate, d_up). */
typedef struct zf_ew_view {
    int64_t rows, cols;
    const void *in[3];
    void *out[2];
    int64_t in_stride[3], out_stride[2];
} zf_ew_view;

typedef cudaError_t (*zf_cu_ew_fn)(zf_dtype t, const zf_ew_view *v, cudaStream_t s);

/* Norm operands, rows of n with their row strides (elements). The forward
 * reads x (+ r) and w, writes y (+ h); the VJPs read x (h for
 * add_rms_norm_vjp), w, dy (+ dh, may be NULL) and write dx and, when dw is
 * not NULL, dw in dw_dtype. */
typedef struct zf_norm_args {
    int64_t rows, n;
    const void *x, *r, *w, *dy, *dh;
    void *y, *h, *dx, *dw;
    zf_dtype dw_dtype;
    int64_t x_stride, r_stride, y_stride, h_stride, dy_stride, dh_stride, dx_stride;
    float eps;
} zf_norm_args;

typedef cudaError_t (*zf_cu_norm_fn)(zf_dtype t, const zf_norm_args *a, cudaStream_t s);

/* Elementwise launchers (src/cuda/elementwise.cu). */
cudaError_t zf_cu_add(zf_dtype t, const zf_ew_view *v, cudaStream_t s);
cudaError_t zf_cu_mul(zf_dtype t, const zf_ew_view *v, cudaStream_t s);
cudaError_t zf_cu_silu(zf_dtype t, const zf_ew_view *v, cudaStream_t s);
cudaError_t zf_cu_silu_vjp(zf_dtype t, const zf_ew_view *v, cudaStream_t s);
cudaError_t zf_cu_swiglu_stock(zf_dtype t, const zf_ew_view *v, cudaStream_t s);
cudaError_t zf_cu_swiglu_exact(zf_dtype t, const zf_ew_view *v, cudaStream_t s);
cudaError_t zf_cu_swiglu_fast(zf_dtype t, const zf_ew_view *v, cudaStream_t s);
cudaError_t zf_cu_swiglu_vjp_stock(zf_dtype t, const zf_ew_view *v, cudaStream_t s);
cudaError_t zf_cu_swiglu_vjp_exact(zf_dtype t, const zf_ew_view *v, cudaStream_t s);
cudaError_t zf_cu_swiglu_vjp_fast(zf_dtype t, const zf_ew_view *v, cudaStream_t s);
cudaError_t zf_cu_cast_from_f32(zf_dtype t, const float *src, void *dst, int64_t n, cudaStream_t s);

/* Norm launchers (src/cuda/norm.cu). */
cudaError_t zf_cu_rms_norm(zf_dtype t, const zf_norm_args *a, cudaStream_t s);
cudaError_t zf_cu_rms_norm_vjp(zf_dtype t, const zf_norm_args *a, cudaStream_t s);
cudaError_t zf_cu_add_rms_norm_stock(zf_dtype t, const zf_norm_args *a, cudaStream_t s);
cudaError_t zf_cu_add_rms_norm_exact(zf_dtype t, const zf_norm_args *a, cudaStream_t s);
cudaError_t zf_cu_add_rms_norm_fast(zf_dtype t, const zf_norm_args *a, cudaStream_t s);
cudaError_t zf_cu_add_rms_norm_vjp_stock(zf_dtype t, const zf_norm_args *a, cudaStream_t s);
cudaError_t zf_cu_add_rms_norm_vjp_exact(zf_dtype t, const zf_norm_args *a, cudaStream_t s);
cudaError_t zf_cu_add_rms_norm_vjp_fast(zf_dtype t, const zf_norm_args *a, cudaStream_t s);

/* Longest row the norm kernels take (their row lives in shared memory);
 * set at init from the device's shared-memory limit. */
extern int64_t zf_cu_norm_max_n, zf_cu_norm_vjp_max_n;

/* Checked entry points (the plugin's op table). */
zf_status zf_cuda_add(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o);
zf_status zf_cuda_mul(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o);
zf_status zf_cuda_silu(const zf_tensor *x, zf_tensor *out, const zf_opts *o);
zf_status zf_cuda_silu_vjp(const zf_tensor *x, const zf_tensor *d_out, zf_tensor *d_x, const zf_opts *o);
zf_status zf_cuda_swiglu(const zf_tensor *gate, const zf_tensor *up, zf_tensor *out, const zf_opts *o);
zf_status zf_cuda_swiglu_vjp(const zf_tensor *gate, const zf_tensor *up, const zf_tensor *d_out, zf_tensor *d_gate,
                             zf_tensor *d_up, const zf_opts *o);
zf_status zf_cuda_rms_norm(const zf_tensor *x, const zf_tensor *w, float eps, zf_tensor *y, const zf_opts *o);
zf_status zf_cuda_rms_norm_vjp(const zf_tensor *x, const zf_tensor *w, float eps, const zf_tensor *d_y,
                               zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o);
zf_status zf_cuda_add_rms_norm(const zf_tensor *x, const zf_tensor *residual, const zf_tensor *w, float eps,
                               zf_tensor *y, zf_tensor *h, const zf_opts *o);
zf_status zf_cuda_add_rms_norm_vjp(const zf_tensor *h, const zf_tensor *w, float eps, const zf_tensor *d_y,
                                   const zf_tensor *d_h, zf_tensor *d_x, zf_tensor *d_w, const zf_opts *o);

/* The stream an op enqueues on: o->stream, or the legacy default stream. */
static inline cudaStream_t zf_cu_stream(const zf_opts *o) { return o ? (cudaStream_t)o->stream : (cudaStream_t)0; }

/* Self-tests of CUDA variants against the CPU stock path (src/cuda/selftest.cu). */
struct zf_variant;
int zf_cu_selftest(const struct zf_variant *v, char *msg, size_t msg_size);

#endif
