/* Device memory, streams, events and graphs: the plugin's side of the
 * public device API (src/core/device.c) and of the CUDA gates/benchmarks. */
#include "cuda/check.cuh"
#include "cuda/kernels.cuh"

static cudaStream_t cs(zf_stream *s) { return (cudaStream_t)s; }

static zf_status m_alloc(size_t bytes, void **ptr) {
    ZF_CU_TRY("device_alloc", cudaMalloc(ptr, bytes));
    return ZF_OK;
}
static zf_status m_free(void *ptr) {
    ZF_CU_TRY("device_free", cudaFree(ptr));
    return ZF_OK;
}
static zf_status m_copy(void *dst, const void *src, size_t bytes, zf_stream *s) {
    ZF_CU_TRY("memcpy", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, cs(s)));
    return ZF_OK;
}
static zf_status m_fill(void *ptr, int byte, size_t bytes, zf_stream *s) {
    ZF_CU_TRY("fill", cudaMemsetAsync(ptr, byte, bytes, cs(s)));
    return ZF_OK;
}
static zf_status m_stream_create(zf_stream **s) {
    cudaStream_t c;
    ZF_CU_TRY("stream_create", cudaStreamCreateWithFlags(&c, cudaStreamNonBlocking));
    *s = (zf_stream *)c;
    return ZF_OK;
}
static zf_status m_stream_destroy(zf_stream *s) {
    ZF_CU_TRY("stream_destroy", cudaStreamDestroy(cs(s)));
    return ZF_OK;
}
static zf_status m_stream_sync(zf_stream *s) {
    ZF_CU_TRY("stream_synchronize", cudaStreamSynchronize(cs(s)));
    return ZF_OK;
}
static zf_status m_cast(zf_dtype t, const float *src, void *dst, int64_t n, zf_stream *s) {
    if (t != ZF_DTYPE_F32 && t != ZF_DTYPE_F16 && t != ZF_DTYPE_BF16)
        return ZF_ERR(ZF_ERR_DTYPE, "[cast] dtype %s; expected f32, f16 or bf16", zf_cu_dtype_name(t));
    ZF_CU_TRY("cast", zf_cu_cast_from_f32(t, src, dst, n, cs(s)));
    return ZF_OK;
}

extern const zf_cuda_memory zf_cu_memory = {
    m_alloc, m_free, m_copy, m_fill, m_stream_create, m_stream_destroy, m_stream_sync, m_cast,
};

static zf_status t_event_create(void **ev) {
    cudaEvent_t e;
    ZF_CU_TRY("event", cudaEventCreate(&e));
    *ev = (void *)e;
    return ZF_OK;
}
static zf_status t_event_destroy(void *ev) {
    ZF_CU_TRY("event", cudaEventDestroy((cudaEvent_t)ev));
    return ZF_OK;
}
static zf_status t_event_record(void *ev, zf_stream *s) {
    ZF_CU_TRY("event", cudaEventRecord((cudaEvent_t)ev, cs(s)));
    return ZF_OK;
}
static zf_status t_elapsed(void *start, void *stop, float *ms) {
    ZF_CU_TRY("event", cudaEventSynchronize((cudaEvent_t)stop));
    ZF_CU_TRY("event", cudaEventElapsedTime(ms, (cudaEvent_t)start, (cudaEvent_t)stop));
    return ZF_OK;
}
static zf_status t_capture_begin(zf_stream *s) {
    ZF_CU_TRY("graph", cudaStreamBeginCapture(cs(s), cudaStreamCaptureModeThreadLocal));
    return ZF_OK;
}
static zf_status t_capture_finish(zf_stream *s, void **exec) {
    cudaGraph_t g;
    ZF_CU_TRY("graph", cudaStreamEndCapture(cs(s), &g));
    if (!exec) {
        cudaGraphDestroy(g);
        return ZF_OK;
    }
    if (*exec) { /* the cheap path: only kernel arguments changed */
        cudaGraphExecUpdateResultInfo info;
        if (cudaGraphExecUpdate((cudaGraphExec_t)*exec, g, &info) == cudaSuccess) {
            cudaGraphDestroy(g);
            return ZF_OK;
        }
        (void)cudaGetLastError(); /* refused: rebuild below */
        cudaGraphExecDestroy((cudaGraphExec_t)*exec);
        *exec = NULL;
    }
    cudaGraphExec_t x;
    cudaError_t e = cudaGraphInstantiate(&x, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) return zf_cu_fail("graph", "cudaGraphInstantiate", e);
    *exec = (void *)x;
    return ZF_OK;
}
/* End a capture into a new graph (never an update of an old one). */
static zf_status t_capture_end(zf_stream *s, void **exec) {
    *exec = NULL;
    return t_capture_finish(s, exec);
}
static zf_status t_graph_launch(void *exec, zf_stream *s) {
    ZF_CU_TRY("graph", cudaGraphLaunch((cudaGraphExec_t)exec, cs(s)));
    return ZF_OK;
}
static zf_status t_graph_destroy(void *exec) {
    ZF_CU_TRY("graph", cudaGraphExecDestroy((cudaGraphExec_t)exec));
    return ZF_OK;
}
static size_t t_l2_bytes(void) {
    int dev = 0, l2 = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev) != cudaSuccess)
        return 0;
    return (size_t)l2;
}

extern const zf_cuda_timing zf_cu_timing = {
    t_event_create, t_event_destroy, t_event_record, t_elapsed, t_capture_begin,
    t_capture_end,  t_graph_launch,  t_graph_destroy, t_l2_bytes,      t_capture_finish,
};
