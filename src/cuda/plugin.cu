/* The CUDA plugin: what libzfast sees of it (zf_cuda_plugin_get), device
 * discovery, the caps report and the table of kernel variants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/check.cuh"
#include "cuda/kernels.cuh"
#include "cuda/model_ops.cuh"
#include "cuda/qmm.cuh"

#ifndef ZF_CUDA_TARGETS
#define ZF_CUDA_TARGETS "unknown"
#endif

const zf_cuda_host *zf_cu_host;
int zf_cu_pdl, zf_cu_clusters;
int zf_cu_sms;
size_t zf_cu_sm_smem, zf_cu_cta_reserved_smem;
extern const zf_cuda_memory zf_cu_memory;
extern const zf_cuda_timing zf_cu_timing;

zf_status zf_cu_fail(const char *op, const char *what, cudaError_t e) {
    zf_status s = e == cudaErrorMemoryAllocation ? ZF_ERR_NO_MEMORY : ZF_ERR_BACKEND;
    return zf_cu_host->error(s, "[%s] %s failed: %s (%s)", op, what, cudaGetErrorName(e), cudaGetErrorString(e));
}

/* Filled at init: the table grows as op families land, and the plugin sets
 * only the ops it has (a NULL entry reads "not implemented"). */
static zf_backend_ops k_ops;

static void fill_ops(zf_backend_ops *t) {
    *t = zf_backend_ops{};
    t->add = zf_cuda_add;
    t->mul = zf_cuda_mul;
    t->silu = zf_cuda_silu;
    t->silu_vjp = zf_cuda_silu_vjp;
    t->rms_norm = zf_cuda_rms_norm;
    t->rms_norm_vjp = zf_cuda_rms_norm_vjp;
    t->swiglu = zf_cuda_swiglu;
    t->swiglu_vjp = zf_cuda_swiglu_vjp;
    t->add_rms_norm = zf_cuda_add_rms_norm;
    t->add_rms_norm_vjp = zf_cuda_add_rms_norm_vjp;
    t->qmm = zf_cuda_qmm;
    t->gather_qmm = zf_cuda_gather_qmm;
    t->moe_route = zf_cuda_moe_route;
    t->gather_qmm_swiglu = zf_cuda_gather_qmm_swiglu;
    t->gather_qmm_combine = zf_cuda_gather_qmm_combine;
    t->moe_experts = zf_cuda_moe_experts;
    t->embedding = zf_cuda_embedding;
    t->embedding_q = zf_cuda_embedding_q;
    t->rope = zf_cuda_rope;
    t->softmax = zf_cuda_softmax;
    t->attention = zf_cuda_attention;
    t->matmul = zf_cuda_matmul;
    t->copy = zf_cuda_copy;
    t->attention_decode = zf_cuda_attention_decode;
}

/* A variant is self-tested where its op is first called, which may be
 * inside a stream capture (zf_graph_begin). The self-test allocates,
 * copies and waits on its own stream, which the capture's default
 * thread-local mode refuses: the test would fail, the variant would stay
 * untrusted for the process and the capture would be invalidated. Relaxed
 * mode for the test's duration lets it run, eagerly, beside the capture. */
template <int (*F)(const zf_variant *, char *, size_t)>
static int outside_capture(const zf_variant *v, char *msg, size_t size) {
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    cudaThreadExchangeStreamCaptureMode(&mode);
    const int rc = F(v, msg, size);
    cudaThreadExchangeStreamCaptureMode(&mode);
    return rc;
}

#define FN(f) ((void (*)(void))(f))
#define V(name, OP, FID, TIER, fn, note)                                                                       \
    {name, ZF_OP_##OP, ZF_DEVICE_CUDA, ZF_FIDELITY_##FID, ZF_TIER_##TIER, ZF_CPU_ISA_SCALAR, FN(fn),                \
     outside_capture<zf_cu_selftest>, NULL, note}
#define VQ(name, OP, FID, TIER, fn, note)                                                                       \
    {name, ZF_OP_##OP, ZF_DEVICE_CUDA, ZF_FIDELITY_##FID, ZF_TIER_##TIER, ZF_CPU_ISA_SCALAR, FN(fn),                \
     outside_capture<zf_cu_selftest_moe>, NULL, note}
#define VM(name, OP, fn, note)                                                                                  \
    {name, ZF_OP_##OP, ZF_DEVICE_CUDA, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR, FN(fn),               \
     outside_capture<zf_cu_selftest_model>, NULL, note}

/* fast variants sit in the edge tier until `zf validate` evidence moves them */
static const zf_variant k_variants[] = {
    V("cuda.add", ADD, STOCK, STABLE, zf_cu_add, "stock"),
    V("cuda.mul", MUL, STOCK, STABLE, zf_cu_mul, "stock"),
    V("cuda.silu", SILU, STOCK, STABLE, zf_cu_silu, "stock"),
    V("cuda.silu_vjp", SILU_VJP, STOCK, STABLE, zf_cu_silu_vjp, "stock"),
    V("cuda.rms_norm", RMS_NORM, STOCK, STABLE, zf_cu_rms_norm, "stock; block per row, L256 order"),
    V("cuda.rms_norm_vjp", RMS_NORM_VJP, STOCK, STABLE, zf_cu_rms_norm_vjp, "stock; d_w in chunks of 32 rows"),
    V("cuda.swiglu.stock", SWIGLU, STOCK, STABLE, zf_cu_swiglu_stock, "silu then mul, as two stock kernels"),
    V("cuda.swiglu.exact", SWIGLU, EXACT, STABLE, zf_cu_swiglu_exact, "one pass; rounds silu to T like the stock path"),
    V("cuda.swiglu.fast", SWIGLU, FAST, EDGE, zf_cu_swiglu_fast, "one pass; silu kept in f32 (awaiting validate evidence)"),
    V("cuda.swiglu_vjp.stock", SWIGLU_VJP, STOCK, STABLE, zf_cu_swiglu_vjp_stock, "silu, mul, mul, silu_vjp as stock kernels"),
    V("cuda.swiglu_vjp.exact", SWIGLU_VJP, EXACT, STABLE, zf_cu_swiglu_vjp_exact, "one pass; stock rounding points"),
    V("cuda.swiglu_vjp.fast", SWIGLU_VJP, FAST, EDGE, zf_cu_swiglu_vjp_fast, "one pass; f32 intermediates (awaiting validate evidence)"),
    V("cuda.add_rms_norm.stock", ADD_RMS_NORM, STOCK, STABLE, zf_cu_add_rms_norm_stock, "add then rms_norm, two kernels"),
    V("cuda.add_rms_norm.exact", ADD_RMS_NORM, EXACT, STABLE, zf_cu_add_rms_norm_exact, "one pass; norm of the rounded h"),
    V("cuda.add_rms_norm.fast", ADD_RMS_NORM, FAST, EDGE, zf_cu_add_rms_norm_fast, "one pass; norm of the unrounded x + r (awaiting validate evidence)"),
    V("cuda.add_rms_norm_vjp.stock", ADD_RMS_NORM_VJP, STOCK, STABLE, zf_cu_add_rms_norm_vjp_stock, "rms_norm_vjp then add"),
    V("cuda.add_rms_norm_vjp.exact", ADD_RMS_NORM_VJP, EXACT, STABLE, zf_cu_add_rms_norm_vjp_exact, "one pass for d_x; stock rounding points"),
    V("cuda.add_rms_norm_vjp.fast", ADD_RMS_NORM_VJP, FAST, EDGE, zf_cu_add_rms_norm_vjp_fast, "one pass for d_x; f32 before adding d_h (awaiting validate evidence)"),
    VQ("cuda.qmm", QMM, STOCK, STABLE, zf_cu_qmm, "stock; canonical blocked dot, 4 x rows per weight-row read"),
    VQ("cuda.qmm.int8", QMM, APPROX, EDGE, zf_cu_qmm_i8, "<= 2 x rows, 4- or 8-bit: x as int8, dp4a block dots; else stock"),
    VQ("cuda.gather_qmm", GATHER_QMM, STOCK, STABLE, zf_cu_gather_qmm, "stock; a CTA per pair, or pairs grouped by expert on the device"),
    VQ("cuda.moe_route", MOE_ROUTE, STOCK, STABLE, zf_cu_moe_route, "stock; a warp per row"),
    VQ("cuda.gather_qmm_swiglu.stock", GATHER_QMM_SWIGLU, STOCK, STABLE, zf_cu_gather_qmm_swiglu_stock, "gather_qmm twice, then swiglu stock"),
    VQ("cuda.gather_qmm_swiglu.exact", GATHER_QMM_SWIGLU, EXACT, STABLE, zf_cu_gather_qmm_swiglu_fused, "one launch; g and u rounded to T like the stock path"),
    VQ("cuda.gather_qmm_swiglu.fast", GATHER_QMM_SWIGLU, FAST, EDGE, zf_cu_gather_qmm_swiglu_fused, "one launch; g, u and silu kept in f32 (awaiting validate evidence)"),
    VQ("cuda.gather_qmm_swiglu.int8", GATHER_QMM_SWIGLU, APPROX, EDGE, zf_cu_gather_qmm_swiglu_i8, "few tokens, 4-bit: x as int8, dp4a block dots; else the fast path"),
    VQ("cuda.gather_qmm_combine.stock", GATHER_QMM_COMBINE, STOCK, STABLE, zf_cu_gather_qmm_combine_stock, "gather_qmm, then mul and adds"),
    VQ("cuda.gather_qmm_combine.exact", GATHER_QMM_COMBINE, EXACT, STABLE, zf_cu_gather_qmm_combine_fused, "one launch for few tokens; stock rounding points"),
    VQ("cuda.gather_qmm_combine.fast", GATHER_QMM_COMBINE, FAST, EDGE, zf_cu_gather_qmm_combine_fused, "one launch for few tokens; f32 sum (awaiting validate evidence)"),
    VQ("cuda.gather_qmm_combine.int8", GATHER_QMM_COMBINE, APPROX, EDGE, zf_cu_gather_qmm_combine_i8, "few tokens, 4-bit, <= 8 slots: x as int8, dp4a block dots; else the fast path"),
    VM("cuda.embedding", EMBEDDING, zf_cu_embedding, "stock; row copy, or dequant scale*q + bias"),
    VM("cuda.rope", ROPE, zf_cu_rope, "stock; a thread per pair"),
    VM("cuda.softmax", SOFTMAX, zf_cu_softmax, "stock; a block per row, L256 sum"),
    VM("cuda.attention", ATTENTION, zf_cu_attention, "stock; a block per (query, head), a warp per key dot"),
    VM("cuda.attention_decode", ATTENTION_DECODE, zf_cu_attention_decode,
       "(q/k norms,) rope, both cache rows and attention in one kernel, the position read on the device"),
    VM("cuda.matmul", MATMUL, zf_cu_matmul, "stock; a warp per W row, L256 lanes 8 per thread"),
    VM("cuda.copy", COPY, zf_cu_copy, "stock; row copy, or conversion to out's dtype"),
};

static int plugin_init(const zf_cuda_host *host, char *msg, size_t size);
static void describe_json(char *buf, size_t size);

static zf_cuda_plugin g_plugin = {
    ZF_CUDA_PLUGIN_ABI, 0, plugin_init, describe_json, &k_ops, k_variants,
    (int)(sizeof k_variants / sizeof *k_variants), &zf_cu_memory, &zf_cu_timing,
};

static int plugin_init(const zf_cuda_host *host, char *msg, size_t size) {
    zf_cu_host = host;
    fill_ops(&k_ops);
    int count = 0, dev = 0, optin = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        snprintf(msg, size, "cudaGetDeviceCount: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
        return 1;
    }
    if (count == 0) { snprintf(msg, size, "the driver reports no CUDA device"); return 1; }
    cudaDeviceProp p;
    if ((e = cudaGetDevice(&dev)) != cudaSuccess || (e = cudaGetDeviceProperties(&p, dev)) != cudaSuccess ||
        (e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev)) != cudaSuccess) {
        snprintf(msg, size, "device query: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
        return 1;
    }
    if (p.major < 8) {
        snprintf(msg, size, "%s has compute capability %d.%d; this build needs 8.0 or newer", p.name, p.major, p.minor);
        return 1;
    }
    /* ZF_CUDA_PDL=0: every kernel waits for the whole previous one (no
     * programmatic launch): the safe side of zfast.h's stream contract for
     * weights written on the device, and the A/B of what the overlap gives */
    const char *pdl = getenv("ZF_CUDA_PDL");
    const bool pdl_off = pdl && strcmp(pdl, "0") == 0;
    if (pdl && !pdl_off && strcmp(pdl, "1") != 0) {
        snprintf(msg, size, "ZF_CUDA_PDL='%s'; expected 0 (no programmatic launch) or 1", pdl);
        return 1;
    }
    zf_cu_clusters = p.major >= 9;
    zf_cu_pdl = zf_cu_clusters && !pdl_off;
    zf_cu_sms = p.multiProcessorCount;
    zf_cu_sm_smem = p.sharedMemPerMultiprocessor;
    zf_cu_cta_reserved_smem = p.reservedSharedMemPerBlock;
    zf_cu_norm_max_n = (optin - ZF_CU_STATIC_SMEM_MAX) / 4;
    zf_cu_norm_vjp_max_n = (optin - ZF_CU_STATIC_SMEM_MAX) / 8;
    zf_cu_attn_max_floats = (optin - ZF_CU_STATIC_SMEM_MAX) / 4;
    g_plugin.ready = 1;
    return 0;
}

static void describe_json(char *buf, size_t size) {
    int drv = 0, rt = 0, count = 0, dev = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    int k = snprintf(buf, size,
                     "{\"driver_version\":\"%d.%d\",\"runtime_version\":\"%d.%d\",\"built_with\":\"nvcc %d.%d\","
                     "\"targets\":\"%s\"",
                     drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10, __CUDACC_VER_MAJOR__,
                     __CUDACC_VER_MINOR__, ZF_CUDA_TARGETS);
    cudaDeviceProp p;
    if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0 && cudaGetDevice(&dev) == cudaSuccess &&
        cudaGetDeviceProperties(&p, dev) == cudaSuccess && k > 0 && (size_t)k < size) {
        k += snprintf(buf + k, size - (size_t)k,
                      ",\"devices\":%d,\"device\":%d,\"name\":\"%s\",\"compute_capability\":\"%d.%d\","
                      "\"sm_count\":%d,\"memory_bytes\":%zu,\"l2_bytes\":%d,"
                      "\"norm_max_row\":%lld,\"programmatic_launch\":\"%s\"",
                      count, dev, p.name, p.major, p.minor, p.multiProcessorCount, p.totalGlobalMem, p.l2CacheSize,
                      (long long)zf_cu_norm_max_n,
                      !g_plugin.ready ? "not set (the plugin did not start)"
                      : zf_cu_pdl     ? "on"
                      : zf_cu_clusters ? "off (ZF_CUDA_PDL=0)"
                                       : "unsupported (before sm_90)");
    }
    cudaGetLastError(); /* a failed query above must not stick to later calls */
    if (k > 0 && (size_t)k < size) snprintf(buf + k, size - (size_t)k, "}");
}

extern "C" __attribute__((visibility("default"))) const zf_cuda_plugin *zf_cuda_plugin_get(int abi) {
    return abi == ZF_CUDA_PLUGIN_ABI ? &g_plugin : nullptr;
}
