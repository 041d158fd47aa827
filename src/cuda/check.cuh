/* How the plugin reports: every failure becomes a zf_status with a message
 * in libzfast's thread-local slot (through the host table set at init). */
#ifndef ZF_CUDA_CHECK_CUH
#define ZF_CUDA_CHECK_CUH

#include <cuda_runtime.h>

extern "C" {
#include "core/cuda_loader.h"
#include "core/error.h" /* ZF_TRY; zf_error itself is reached through zf_cu_host */
}

/* libzfast's services; set once by init before any op can run. */
extern const zf_cuda_host *zf_cu_host;

/* "[op] what failed: CUDA error name (description)" as ZF_ERR_BACKEND
 * (ZF_ERR_NO_MEMORY for allocation failures). */
zf_status zf_cu_fail(const char *op, const char *what, cudaError_t e);

#define ZF_CU_TRY(op, call)                                                    \
    do {                                                                       \
        cudaError_t zf_cu_e_ = (call);                                         \
        if (zf_cu_e_ != cudaSuccess) return zf_cu_fail(op, #call, zf_cu_e_);   \
    } while (0)

#define ZF_ERR(...) zf_cu_host->error(__VA_ARGS__)

/* The plugin links nothing of libzfast: its own dtype helpers. */
static inline size_t zf_cu_dtype_size(zf_dtype t) { return t == ZF_DTYPE_F16 || t == ZF_DTYPE_BF16 ? 2 : 4; }
static inline const char *zf_cu_dtype_name(zf_dtype t) {
    static const char *const names[ZF_DTYPE_COUNT] = {"f32", "f16", "bf16", "u32", "i32"};
    return t >= 0 && t < ZF_DTYPE_COUNT ? names[t] : "invalid";
}

#endif
