// Lab: how fast can one token's selected-expert weights of a Qwen3-30B-A3B
// MoE layer stream into shared memory with TMA bulk copies from a grid of
// one CTA per SM? 100-call graphs, weights rotating over 8 layers.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>
#include <cooperative_groups.h>
namespace cg = cooperative_groups;

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); exit(1); } } while (0)

constexpr int H = 2048, F = 768, E = 128, K = 8, GS = 64, L = 8;
constexpr int GU_ROW = H / 2, GU_SB = H / GS * 2;  // bytes of a gate/up row; its scales (=biases) row
constexpr int D_ROW = F / 2, D_SB = F / GS * 2;    // down row; its scales row

struct Layer {
    const char *gq, *gs, *gb, *uq, *us, *ub, *dq, *ds, *db;
    const int *ids;
};

__device__ __forceinline__ uint32_t sa(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }
__device__ __forceinline__ void mb_init(uint64_t *m, uint32_t bytes) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n\t"
                 "fence.mbarrier_init.release.cluster;\n\t"
                 "mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(sa(m)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mb_wait(uint64_t *m) {
    asm volatile("{\n\t.reg .pred done;\n\t"
                 "W%=:\n\t"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], 0;\n\t"
                 "@!done bra W%=;\n\t}" ::"r"(sa(m)) : "memory");
}
__device__ int g_piece; // bytes per bulk copy at most (0: whole segments)
__device__ __forceinline__ void bulk1(void *dst, const void *src, uint32_t bytes, uint64_t *m) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(sa(dst)),
                 "l"(src), "r"(bytes), "r"(sa(m)) : "memory");
}
__device__ __forceinline__ void bulk(void *dst, const void *src, uint32_t bytes, uint64_t *m) {
    const uint32_t pc = g_piece ? (uint32_t)g_piece : bytes;
    for (uint32_t o = 0; o < bytes; o += pc) bulk1((char *)dst + o, (const char *)src + o, bytes - o < pc ? bytes - o : pc, m);
}
__device__ __forceinline__ void pdl_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void pdl_launch() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }

// Gate/up pairs [p0, p1) of this CTA (p = slot * F + row) into smem; returns bytes.
__device__ uint32_t issue_gu(const Layer &l, const int *ids, int p0, int p1, char *sm, uint64_t *m) {
    uint32_t off = 0;
    for (int p = p0; p < p1;) {
        const int s = p / F, r = p % F, n = min(p1, (s + 1) * F) - p;
        const size_t row = (size_t)ids[s] * F + r;
        bulk(sm + off, l.gq + row * GU_ROW, n * GU_ROW, m); off += n * GU_ROW;
        bulk(sm + off, l.uq + row * GU_ROW, n * GU_ROW, m); off += n * GU_ROW;
        bulk(sm + off, l.gs + row * GU_SB, n * GU_SB, m); off += n * GU_SB;
        bulk(sm + off, l.gb + row * GU_SB, n * GU_SB, m); off += n * GU_SB;
        bulk(sm + off, l.us + row * GU_SB, n * GU_SB, m); off += n * GU_SB;
        bulk(sm + off, l.ub + row * GU_SB, n * GU_SB, m); off += n * GU_SB;
        p += n;
    }
    return off;
}
// Down rows [r0, r1) of every slot.
__device__ uint32_t issue_d(const Layer &l, const int *ids, int r0, int r1, char *sm, uint64_t *m) {
    uint32_t off = 0;
    const int n = r1 - r0;
    for (int s = 0; s < K; s++) {
        const size_t row = (size_t)ids[s] * H + r0;
        bulk(sm + off, l.dq + row * D_ROW, n * D_ROW, m); off += n * D_ROW;
        bulk(sm + off, l.ds + row * D_SB, n * D_SB, m); off += n * D_SB;
        bulk(sm + off, l.db + row * D_SB, n * D_SB, m); off += n * D_SB;
    }
    return off;
}
__device__ __forceinline__ void range(int total, int unit, int i, int g, int &a, int &b) {
    const int units = total / unit;
    a = (int)((long)units * i / g) * unit;
    b = (int)((long)units * (i + 1) / g) * unit;
}
__host__ __device__ constexpr uint32_t gu_bytes(int n) { return (uint32_t)n * (2 * GU_ROW + 4 * GU_SB); }
__host__ __device__ constexpr uint32_t d_bytes(int n) { return (uint32_t)n * K * (D_ROW + 2 * D_SB); }

__device__ unsigned consume(const char *sm, uint32_t bytes) {
    unsigned x = 0;
    for (uint32_t i = threadIdx.x * 16; i < bytes; i += blockDim.x * 16) x ^= *(const unsigned *)(sm + i);
    return x;
}

// mode bit 0: gate/up, bit 1: down. early: issue before the PDL wait (ids static in the lab).
template <int MODE>
__global__ void __launch_bounds__(256) stream_kernel(const Layer *layers, int li, unsigned *out, int early, int trig) {
    extern __shared__ __align__(128) char sm[];
    __shared__ uint64_t mb;
    const Layer &l = layers[li];
    int p0 = 0, p1 = 0, r0 = 0, r1 = 0;
    if (MODE & 1) range(K * F, 1, blockIdx.x, gridDim.x, p0, p1);
    if (MODE & 2) range(H, 2, blockIdx.x, gridDim.x, r0, r1);
    const uint32_t gb = (MODE & 1) ? gu_bytes(p1 - p0) : 0, db = (MODE & 2) ? d_bytes(r1 - r0) : 0;
    if (!early) pdl_wait();
    if (threadIdx.x == 0) {
        mb_init(&mb, gb + db);
        int ids[K];
        for (int s = 0; s < K; s++) ids[s] = l.ids[s];
        if (MODE & 1) issue_gu(l, ids, p0, p1, sm, &mb);
        if (MODE & 2) issue_d(l, ids, r0, r1, sm + gb, &mb);
    }
    if (early) pdl_wait();
    if (trig) pdl_launch();
    __syncthreads();
    mb_wait(&mb);
    unsigned x = consume(sm, gb + db);
    if (x == 0x12345678u) out[blockIdx.x] = x;
}

// gate/up and down in one kernel with a grid barrier between their consumers.
// SYNC 1: cooperative groups grid sync; 2: a sense-reversal barrier on bar[0..1].
template <int SYNC>
__global__ void __launch_bounds__(256) fused_kernel(const Layer *layers, int li, unsigned *out, unsigned *gb) {
    extern __shared__ __align__(128) char sm[];
    __shared__ uint64_t mb[2];
    const Layer &l = layers[li];
    int p0, p1, r0, r1;
    range(K * F, 1, blockIdx.x, gridDim.x, p0, p1);
    range(H, 2, blockIdx.x, gridDim.x, r0, r1);
    const uint32_t gbb = gu_bytes(p1 - p0), dbb = d_bytes(r1 - r0);
    pdl_wait();
    if (threadIdx.x == 0) {
        mb_init(&mb[0], gbb);
        mb_init(&mb[1], dbb);
        int ids[K];
        for (int s = 0; s < K; s++) ids[s] = l.ids[s];
        issue_gu(l, ids, p0, p1, sm, &mb[0]);
        issue_d(l, ids, r0, r1, sm + gbb, &mb[1]);
    }
    __syncthreads();
    mb_wait(&mb[0]);
    unsigned x = consume(sm, gbb);
    if (x == 0x12345678u) out[blockIdx.x] = x;
    if (SYNC == 1) {
        cg::this_grid().sync();
    } else {
        __syncthreads();
        if (threadIdx.x == 0) {
            volatile unsigned *gen = gb + 1;
            const unsigned g0 = *gen;
            __threadfence();
            if (atomicAdd(gb, 1u) == gridDim.x - 1) {
                gb[0] = 0;
                __threadfence();
                atomicAdd(gb + 1, 1u);
            } else {
                while (*gen == g0) { __nanosleep(32); }
            }
            __threadfence();
        }
        __syncthreads();
    }
    mb_wait(&mb[1]);
    x = consume(sm + gbb, dbb);
    if (x == 0x12345678u) out[blockIdx.x] = x;
}

__global__ void empty_kernel(unsigned *out) {
    asm volatile("griddepcontrol.wait;" ::: "memory");
    if (threadIdx.x == 1000) out[0] = 1;
}

static cudaStream_t st;
static int G;
static Layer *d_layers;
static unsigned *d_out;

template <int MODE> static void launch(int li, int early, int trig, bool pdl) {
    cudaLaunchConfig_t c = {};
    c.gridDim = G; c.blockDim = 256; c.stream = st;
    size_t smem = 0;
    if (MODE & 1) smem += gu_bytes((K * F + G - 1) / G);
    if (MODE & 2) smem += d_bytes(((H / 2 + G - 1) / G) * 2);
    c.dynamicSmemBytes = smem;
    cudaLaunchAttribute a[1];
    a[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    a[0].val.programmaticStreamSerializationAllowed = pdl ? 1 : 0;
    c.attrs = a; c.numAttrs = 1;
    CK(cudaFuncSetAttribute(stream_kernel<MODE>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    CK(cudaLaunchKernelEx(&c, stream_kernel<MODE>, (const Layer *)d_layers, li, d_out, early, trig));
}

static unsigned *d_gb;
template <int SYNC> static void launch_fused(int li, bool pdl) {
    cudaLaunchConfig_t c = {};
    c.gridDim = G; c.blockDim = 256; c.stream = st;
    size_t smem = gu_bytes((K * F + G - 1) / G) + d_bytes(((H / 2 + G - 1) / G) * 2);
    c.dynamicSmemBytes = smem;
    cudaLaunchAttribute a[2];
    a[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    a[0].val.programmaticStreamSerializationAllowed = pdl ? 1 : 0;
    a[1].id = cudaLaunchAttributeCooperative;
    a[1].val.cooperative = SYNC == 1 ? 1 : 0;
    c.attrs = a; c.numAttrs = 2;
    CK(cudaFuncSetAttribute(fused_kernel<SYNC>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    CK(cudaLaunchKernelEx(&c, fused_kernel<SYNC>, (const Layer *)d_layers, li, d_out, d_gb));
}

template <class Fn> static double graph_us(Fn fn) {
    cudaGraph_t g; cudaGraphExec_t ge;
    for (int i = 0; i < L; i++) fn(i);
    CK(cudaStreamSynchronize(st));
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
    for (int i = 0; i < 100; i++) fn(i % L);
    CK(cudaStreamEndCapture(st, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    std::vector<float> t;
    for (int r = 0; r < 9; r++) {
        CK(cudaEventRecord(e0, st)); CK(cudaGraphLaunch(ge, st)); CK(cudaEventRecord(e1, st));
        CK(cudaEventSynchronize(e1));
        float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); t.push_back(ms * 10.0f);
    }
    std::sort(t.begin(), t.end());
    CK(cudaGraphExecDestroy(ge)); CK(cudaGraphDestroy(g));
    return t[t.size() / 2];
}

static char *dev_fill(size_t bytes) {
    char *p; CK(cudaMalloc(&p, bytes)); CK(cudaMemset(p, 0x5a, bytes)); return p;
}

int main() {
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cudaDeviceProp pr; CK(cudaGetDeviceProperties(&pr, 0));
    G = pr.multiProcessorCount;
    printf("device %s, %d SMs\n", pr.name, G);
    std::vector<Layer> hl(L);
    srand(7);
    for (int i = 0; i < L; i++) {
        Layer &l = hl[i];
        const size_t guq = (size_t)E * F * GU_ROW, gus = (size_t)E * F * GU_SB, dq = (size_t)E * H * D_ROW, ds = (size_t)E * H * D_SB;
        l.gq = dev_fill(guq); l.uq = dev_fill(guq); l.gs = dev_fill(gus); l.gb = dev_fill(gus); l.us = dev_fill(gus); l.ub = dev_fill(gus);
        l.dq = dev_fill(dq); l.ds = dev_fill(ds); l.db = dev_fill(ds);
        int ids[K]; for (int s = 0; s < K; s++) { again: ids[s] = rand() % E; for (int t = 0; t < s; t++) if (ids[t] == ids[s]) goto again; }
        int *d; CK(cudaMalloc(&d, sizeof ids)); CK(cudaMemcpy(d, ids, sizeof ids, cudaMemcpyHostToDevice)); l.ids = d;
    }
    CK(cudaMalloc(&d_layers, L * sizeof(Layer)));
    CK(cudaMemcpy(d_layers, hl.data(), L * sizeof(Layer), cudaMemcpyHostToDevice));
    CK(cudaMalloc(&d_out, 4096));
    CK(cudaMalloc(&d_gb, 64)); CK(cudaMemset(d_gb, 0, 64));
    // copy bandwidth
    {
        char *a = dev_fill(1 << 30), *b = dev_fill(1 << 30);
        cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
        float best = 1e9;
        for (int r = 0; r < 5; r++) {
            CK(cudaEventRecord(e0, st)); CK(cudaMemcpyAsync(b, a, 1 << 30, cudaMemcpyDeviceToDevice, st)); CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1)); float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); best = std::min(best, ms);
        }
        printf("D2D copy %.0f GB/s (read+write)\n", 2.0 * (1 << 30) / best / 1e6);
        CK(cudaFree(a)); CK(cudaFree(b));
    }
    const double gub = gu_bytes(K * F), dbb = d_bytes(H);
    printf("bytes: gate/up %.2f MB, down %.2f MB\n", gub / 1e6, dbb / 1e6);
    for (int mult = 1; mult <= 4; mult *= 2) for (int piece = 0; piece <= 4096; piece += 4096) {
        G = pr.multiProcessorCount * mult;
        CK(cudaMemcpyToSymbol(g_piece, &piece, sizeof piece));
        double t1 = graph_us([&](int i) { launch<1>(i, 0, 0, true); });
        double t2 = graph_us([&](int i) { launch<2>(i, 0, 0, true); });
        double t3 = graph_us([&](int i) { launch<3>(i, 0, 0, true); });
        printf("grid %d x SMs, pieces %d B: gate/up %.3f us, down %.3f us, both %.3f us\n", mult, piece, t1, t2, t3);
    }
    G = pr.multiProcessorCount;
    { int z = 0; CK(cudaMemcpyToSymbol(g_piece, &z, sizeof z)); }
    for (int rep = 0; rep < 1; rep++) {
        double t;
        t = graph_us([&](int i) { cudaLaunchConfig_t c = {}; c.gridDim = 1; c.blockDim = 32; c.stream = st;
            cudaLaunchAttribute a[1]; a[0].id = cudaLaunchAttributeProgrammaticStreamSerialization; a[0].val.programmaticStreamSerializationAllowed = 1;
            c.attrs = a; c.numAttrs = 1; CK(cudaLaunchKernelEx(&c, empty_kernel, d_out)); });
        printf("empty 1x32 kernel (PDL): %.3f us\n", t);
        t = graph_us([&](int i) { launch<1>(i, 0, 0, true); });
        printf("gate/up stream: %.3f us, %.0f GB/s\n", t, gub / t / 1e3);
        t = graph_us([&](int i) { launch<2>(i, 0, 0, true); });
        printf("down stream: %.3f us, %.0f GB/s\n", t, dbb / t / 1e3);
        t = graph_us([&](int i) { launch<3>(i, 0, 0, true); });
        printf("gate/up + down in one kernel: %.3f us, %.0f GB/s\n", t, (gub + dbb) / t / 1e3);
        t = graph_us([&](int i) { launch_fused<2>(i, true); });
        printf("fused, own grid barrier: %.3f us\n", t);
        t = graph_us([&](int i) { launch_fused<1>(i, true); });
        printf("fused, cooperative grid sync + PDL: %.3f us\n", t);
        t = graph_us([&](int i) { launch_fused<1>(i, false); });
        printf("fused, cooperative grid sync, no PDL: %.3f us\n", t);
        t = graph_us([&](int i) { launch<1>(i, 0, 1, true); launch<2>(i, 1, 0, true); });
        printf("gate/up kernel then down kernel (down issues before its wait): %.3f us per pair\n", t);
        t = graph_us([&](int i) { launch<1>(i, 0, 0, true); launch<2>(i, 0, 0, true); });
        printf("gate/up kernel then down kernel (no early issue): %.3f us per pair\n", t);
    }
    CK(cudaGetLastError());
    return 0;
}
