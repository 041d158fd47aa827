/* Thread-block-cluster exchange (sm_90+): each CTA sends values into the
 * shared memory of every CTA of its cluster with st.async, and a receiver
 * waits on its own mbarrier until all expected bytes have landed. That is
 * one point-to-point signal instead of a cluster-wide release/acquire
 * barrier after remote stores, which measured ~0.6 us slower per call on an
 * H100 (docs/CUDA.md, decode norms). */
#ifndef ZF_CUDA_CLUSTER_CUH
#define ZF_CUDA_CLUSTER_CUH

#include <stdint.h>

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900

__device__ __forceinline__ uint32_t zf_cu_smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

/* Thread 0 only, before the cluster's first barrier arrive: the barrier
 * expects one local arrival that carries `bytes` of incoming st.async data. */
__device__ __forceinline__ void zf_cu_mbar_init_expect(uint64_t *m, uint32_t bytes) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n\t"
                 "fence.mbarrier_init.release.cluster;\n\t"
                 "mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(zf_cu_smem_addr(m)),
                 "r"(bytes)
                 : "memory");
}

/* Every thread that reads the received data: wait for phase 0 to complete. */
__device__ __forceinline__ void zf_cu_mbar_wait0(uint64_t *m) {
    asm volatile("{\n\t.reg .pred done;\n\t"
                 "ZF_MBAR_WAIT:\n\t"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], 0;\n\t"
                 "@!done bra ZF_MBAR_WAIT;\n\t}" ::"r"(zf_cu_smem_addr(m))
                 : "memory");
}

/* Store v into CTA `rank`'s copy of *p and count 4 bytes on its copy of *m. */
__device__ __forceinline__ void zf_cu_st_async(float *p, uint64_t *m, int rank, float v) {
    uint32_t rp, rm;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(rp) : "r"(zf_cu_smem_addr(p)), "r"(rank));
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(rm) : "r"(zf_cu_smem_addr(m)), "r"(rank));
    asm volatile("st.async.shared::cluster.mbarrier::complete_tx::bytes.b32 [%0], %1, [%2];" ::"r"(rp),
                 "r"(__float_as_uint(v)), "r"(rm)
                 : "memory");
}

#endif
#endif
