/* Dynamic shared memory beyond the default: a kernel whose static plus
 * dynamic shared memory passes 48 KiB must opt in first
 * (cudaFuncSetAttribute). The opt-in is made once per kernel for the
 * largest size asked so far, not at every launch: a decode step's kernels
 * are recorded into a CUDA graph after one step run kernel by kernel, and
 * the recording must not call it again (nor pay for it at each launch).
 * The plugin drives one device, so one setting per kernel is enough. */
#include <mutex>
#include <unordered_map>

#include "cuda/kernels.cuh"

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

/* A CTA takes its dynamic shared memory plus the reserved part; cap + 1 of
 * them must not fit the SM (unknown SM figures: bytes as asked). */
size_t zf_cu_smem_cap(size_t bytes, int cap) {
    if (cap < 1 || zf_cu_sm_smem == 0) return bytes;
    const size_t per = zf_cu_sm_smem / (size_t)(cap + 1) + 1; /* cap + 1 CTAs of this much overflow the SM */
    const size_t pad = per > zf_cu_cta_reserved_smem ? per - zf_cu_cta_reserved_smem : 0;
    return pad > bytes ? pad : bytes;
}
