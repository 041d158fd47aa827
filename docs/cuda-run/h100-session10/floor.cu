// Lab: the cost of a grid in a 100-call CUDA graph, by grid size, threads, smem, PDL, stores.
#include <cstdio>
#include <cuda_runtime.h>
#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); exit(1); } } while (0)
__device__ __forceinline__ void wait_prior() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void release_next() { asm volatile("griddepcontrol.launch_dependents;"); }
// mode bits: 1 release at start (else after wait), 2 store one float per thread, 4 one __syncthreads, 8 touch smem
__global__ void k(float *out, int mode) {
    extern __shared__ float sm[];
    if (mode & 1) release_next();
    wait_prior();
    if (!(mode & 1)) release_next();
    float v = threadIdx.x;
    if (mode & 8) { sm[threadIdx.x] = v; }
    if (mode & 4) __syncthreads();
    if (mode & 8) v = sm[(threadIdx.x + 1) % blockDim.x];
    if (mode & 2) out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}
int main() {
    float *out; CK(cudaMalloc(&out, 1 << 24));
    cudaStream_t s; CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024));
    struct C { int ctas, th; int smem; int mode; int pdl; } cs[] = {
        {1, 32, 0, 1, 1}, {1, 256, 0, 3, 1}, {132, 256, 0, 3, 1}, {256, 256, 0, 3, 1}, {384, 256, 0, 3, 1},
        {384, 256, 0, 3, 0}, {384, 256, 0, 2, 1}, {384, 256, 64 << 10, 3, 1}, {384, 256, 64 << 10, 15, 1},
        {256, 256, 64 << 10, 15, 1}, {132, 512, 0, 3, 1}, {132, 1024, 0, 3, 1}, {768, 128, 0, 3, 1},
        {384, 256, 40 << 10, 15, 1}, {1536, 64, 0, 3, 1}, {132, 256, 96 << 10, 15, 1}};
    for (auto &c : cs) {
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3(c.ctas); cfg.blockDim = dim3(c.th); cfg.dynamicSmemBytes = c.smem; cfg.stream = s;
        cudaLaunchAttribute at[1];
        at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization; at[0].val.programmaticStreamSerializationAllowed = 1;
        cfg.attrs = at; cfg.numAttrs = c.pdl ? 1 : 0;
        cudaGraph_t g; cudaGraphExec_t ge;
        CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
        for (int i = 0; i < 100; i++) CK(cudaLaunchKernelEx(&cfg, k, out, c.mode));
        CK(cudaStreamEndCapture(s, &g)); CK(cudaGraphInstantiate(&ge, g, 0));
        for (int i = 0; i < 5; i++) CK(cudaGraphLaunch(ge, s));
        cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b);
        float best = 1e9;
        for (int r = 0; r < 5; r++) {
            cudaEventRecord(a, s);
            for (int i = 0; i < 10; i++) CK(cudaGraphLaunch(ge, s));
            cudaEventRecord(b, s); CK(cudaEventSynchronize(b));
            float ms; cudaEventElapsedTime(&ms, a, b); if (ms < best) best = ms;
        }
        printf("ctas %5d threads %5d smem %3d KB mode %2d pdl %d: %.3f us per call\n", c.ctas, c.th, c.smem >> 10, c.mode, c.pdl, best * 1000 / 1000);
        cudaGraphExecDestroy(ge); cudaGraphDestroy(g);
    }
    return 0;
}
