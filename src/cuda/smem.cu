/* Dynamic shared memory beyond the default: a kernel whose static plus
 * dynamic shared memory passes 48 KiB must opt in first
 * (cudaFuncSetAttribute). The opt-in is made once per kernel for the
 * largest size asked so far, not at every launch: a decode step's kernels
 * are recorded into a CUDA graph after one step run kernel by kernel, and
 * the recording must not call it again (nor pay for it at each launch).
 * The plugin drives one device, so one setting per kernel is enough.
 * Also here: the size that caps how many CTAs of a kernel share an SM, from
 * this device's figures (the arithmetic: cuda/occupancy.h). */
#include <mutex>
#include <unordered_map>

#include "cuda/kernels.cuh"
#include "cuda/occupancy.h"

cudaError_t zf_cu_allow_smem(const void *kernel, size_t bytes) {
    if (bytes + ZF_CU_STATIC_SMEM_MAX <= 48 * 1024) return cudaSuccess;
    static std::mutex mu;
    static std::unordered_map<const void *, size_t> allowed; /* kernel -> the opt-in made */
    std::lock_guard<std::mutex> hold(mu);
    auto it = allowed.find(kernel);
    if (it != allowed.end() && it->second >= bytes) return cudaSuccess;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
    if (e == cudaSuccess) allowed[kernel] = bytes;
    return e;
}

size_t zf_cu_smem_cap(size_t bytes, int cap) {
    return zf_cu_smem_for_cap(zf_cu_sm_smem, zf_cu_cta_reserved_smem, bytes, cap);
}
