/* Asynchronous global -> shared copies (cp.async, sm_80+), the one set of
 * wrappers the decode kernels share (qdecode.cu, qdecode_i8.cu). A copy is
 * in flight without holding registers; commit groups and waits order them. */
#ifndef ZF_CUDA_CP_ASYNC_CUH
#define ZF_CUDA_CP_ASYNC_CUH

#include <cuda_runtime.h>

/* 16 bytes bypass L1 (.cg); 8 and 4 go through it (.ca: .cg takes 16 only). */
__device__ __forceinline__ void zf_cu_cp16(void *dst, const void *src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src)
                 : "memory");
}
__device__ __forceinline__ void zf_cu_cp8(void *dst, const void *src) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src)
                 : "memory");
}
__device__ __forceinline__ void zf_cu_cp4(void *dst, const void *src) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src)
                 : "memory");
}
/* one copy of 16, 8 or 4 bytes (what the caller's alignment check allows) */
__device__ __forceinline__ void zf_cu_cp(void *dst, const void *src, int bytes) {
    if (bytes == 16) zf_cu_cp16(dst, src);
    else if (bytes == 8) zf_cu_cp8(dst, src);
    else zf_cu_cp4(dst, src);
}
__device__ __forceinline__ void zf_cu_cp_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
/* waits until at most n committed groups of this thread are pending (n folds
 * to a constant in the unrolled loops that call it) */
__device__ __forceinline__ void zf_cu_cp_wait(int n) {
    switch (n) {
    case 0: asm volatile("cp.async.wait_group 0;" ::: "memory"); break;
    case 1: asm volatile("cp.async.wait_group 1;" ::: "memory"); break;
    case 2: asm volatile("cp.async.wait_group 2;" ::: "memory"); break;
    case 3: asm volatile("cp.async.wait_group 3;" ::: "memory"); break;
    case 4: asm volatile("cp.async.wait_group 4;" ::: "memory"); break;
    case 5: asm volatile("cp.async.wait_group 5;" ::: "memory"); break;
    case 6: asm volatile("cp.async.wait_group 6;" ::: "memory"); break;
    default: asm volatile("cp.async.wait_group 7;" ::: "memory"); break;
    }
}
/* waits for every copy of this thread, committed or not */
__device__ __forceinline__ void zf_cu_cp_wait_all() { asm volatile("cp.async.wait_all;" ::: "memory"); }

#endif
