// Lab: how fast can 384 CTAs pull one token's 8 experts (gate+up, 32 KB per CTA) into shared memory?
#include <cstdio>
#include <cstdint>
#include <vector>
#include <algorithm>
#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("%s: %s\n", #x, cudaGetErrorString(e_)); return 1; } } while (0)
struct Args { const char *w; const int64_t *off; int rows; int rowb; int *out; int nparts; };
__device__ __forceinline__ uint32_t sa(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }
// mode 0: empty. 1: LDGSTS 16 B. 2: bulk, nparts copies per mat. 
template <int MODE> __global__ void __launch_bounds__(256) k_copy(Args a) {
    extern __shared__ __align__(128) char sm[];
    __shared__ __align__(8) uint64_t bar;
    asm volatile("griddepcontrol.launch_dependents;");
    asm volatile("griddepcontrol.wait;" ::: "memory");
    const int e = blockIdx.y, rb = blockIdx.x * a.rows;
    const int64_t bytes = (int64_t)a.rows * a.rowb; // per mat
    if (MODE == 0) { if (threadIdx.x == 0 && a.out) a.out[blockIdx.x] = 0; return; }
    if (MODE == 1) {
        for (int h = 0; h < 2; h++) {
            const char *src = a.w + a.off[e * 2 + h] + (int64_t)rb * a.rowb;
            for (int i = threadIdx.x * 16; i < bytes; i += 256 * 16)
                asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(sa(sm + h * bytes + i)), "l"(src + i));
        }
        asm volatile("cp.async.commit_group;");
        asm volatile("cp.async.wait_all;");
        __syncthreads();
    } else {
        if (threadIdx.x == 0) {
            asm volatile("mbarrier.init.shared.b64 [%0], 1;" :: "r"(sa(&bar)));
            asm volatile("fence.mbarrier_init.release.cluster;");
        }
        __syncthreads();
        const int per = (int)(bytes / a.nparts);
        if (threadIdx.x == 0)
            asm volatile("mbarrier.arrive.expect_tx.shared.b64 _, [%0], %1;" :: "r"(sa(&bar)), "r"((int)(2 * bytes)));
        __syncthreads();
        if (threadIdx.x < 2 * a.nparts) {
            const int h = threadIdx.x / a.nparts, p = threadIdx.x % a.nparts;
            const char *src = a.w + a.off[e * 2 + h] + (int64_t)rb * a.rowb + (int64_t)p * per;
            asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                         :: "r"(sa(sm + h * bytes + p * per)), "l"(src), "r"(per), "r"(sa(&bar)) : "memory");
        }
        uint32_t done = 0;
        while (!done)
            asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                         : "=r"(done) : "r"(sa(&bar)), "r"(0) : "memory");
    }
    if (threadIdx.x == 0 && a.out) a.out[blockIdx.y * gridDim.x + blockIdx.x] = sm[threadIdx.x * 7];
}
template <int MODE> static int run(const char *name, const char *w, int64_t *doff, int nsets, int rows, int nparts, int *out, int pdl = 0, int extra = 0) {
    const int n = 768, rowb = 1024, experts = 8;
    dim3 grid(n / rows, experts);
    size_t smem = (size_t)2 * rows * rowb + extra;
    CK(cudaFuncSetAttribute(k_copy<MODE>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    cudaStream_t s; CK(cudaStreamCreate(&s));
    cudaGraph_t g; cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    for (int c = 0; c < 100; c++) {
        Args a{w, doff + (c % nsets) * experts * 2, rows, rowb, out, nparts};
        cudaLaunchConfig_t cfg = {}; cfg.gridDim = grid; cfg.blockDim = dim3(256); cfg.dynamicSmemBytes = smem; cfg.stream = s;
        cudaLaunchAttribute at[1]; at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization; at[0].val.programmaticStreamSerializationAllowed = 1;
        cfg.attrs = at; cfg.numAttrs = pdl;
        CK(cudaLaunchKernelEx(&cfg, k_copy<MODE>, a));
    }
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
    std::vector<float> t;
    for (int r = 0; r < 12; r++) {
        cudaEventRecord(e0, s); cudaGraphLaunch(ge, s); cudaEventRecord(e1, s); CK(cudaEventSynchronize(e1));
        float ms; cudaEventElapsedTime(&ms, e0, e1); if (r >= 2) t.push_back(ms * 10.0f);
    }
    std::sort(t.begin(), t.end());
    const double mb = (MODE == 0 ? 0.0 : 2.0 * experts * n * rowb / 1e6);
    printf("%s%-24s rows/CTA %2d parts %2d sets %3d: %.2f us/call (best %.2f), %.2f MB, %.0f GB/ssmem %zu\n", pdl ? "pdl " : "    ", name, rows, nparts, nsets,
           t[t.size() / 2], t[0], mb, mb * 1e3 / t[t.size() / 2], smem);
    cudaGraphExecDestroy(ge); cudaGraphDestroy(g); cudaStreamDestroy(s);
    return 0;
}
int main() {
    const int64_t total = (int64_t)6 << 30, mat = 768 * 1024;
    char *w; CK(cudaMalloc(&w, total)); CK(cudaMemset(w, 1, total));
    int *out; CK(cudaMalloc(&out, 1 << 20));
    const int sets = 100;
    std::vector<int64_t> off(sets * 16);
    uint64_t x = 12345;
    for (auto &o : off) { x = x * 6364136223846793005ull + 1442695040888963407ull; o = (int64_t)((x >> 20) % (uint64_t)((total - mat) / 4096)) * 4096; }
    int64_t *doff; CK(cudaMalloc(&doff, off.size() * 8)); CK(cudaMemcpy(doff, off.data(), off.size() * 8, cudaMemcpyHostToDevice));
    for (int rep = 0; rep < 2; rep++) for (int extra : {0, 12 * 1024, 24 * 1024, 40 * 1024}) {
        run<0>("empty", w, doff, 100, 16, 1, out, 1, extra);
        run<1>("ldgsts 16B", w, doff, 100, 16, 1, out, 1, extra);
        run<1>("ldgsts 16B", w, doff, 100, 16, 1, out, 0, extra);
    }
    CK(cudaDeviceSynchronize());
    return 0;
}
