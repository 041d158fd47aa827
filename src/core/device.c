/* The public device API: CPU memory is aligned host memory; anything that
 * touches a GPU goes to the CUDA plugin, which is loaded on first use. */
#include <stdlib.h>
#include <string.h>

#include "core/cuda_loader.h"
#include "core/error.h"

#define ZF_HOST_ALIGN 64

zf_status zf_cuda_available(void) {
    return zf_cuda_plugin_ready("cuda") ? ZF_OK : ZF_ERR_UNSUPPORTED;
}

static const zf_cuda_memory *cuda_mem(const char *op) {
    const zf_cuda_plugin *p = zf_cuda_plugin_ready(op);
    return p ? p->mem : NULL;
}

zf_status zf_stream_create(zf_stream **s) {
    if (!s) return zf_error(ZF_ERR_INVALID_ARG, "[stream_create] s is NULL");
    const zf_cuda_memory *m = cuda_mem("stream_create");
    return m ? m->stream_create(s) : ZF_ERR_UNSUPPORTED;
}

zf_status zf_stream_destroy(zf_stream *s) {
    if (!s) return ZF_OK; /* the default stream is never destroyed */
    const zf_cuda_memory *m = cuda_mem("stream_destroy");
    return m ? m->stream_destroy(s) : ZF_ERR_UNSUPPORTED;
}

zf_status zf_stream_synchronize(zf_stream *s) {
    const zf_cuda_memory *m = cuda_mem("stream_synchronize");
    return m ? m->stream_synchronize(s) : ZF_ERR_UNSUPPORTED;
}

static const zf_cuda_timing *cuda_graphs(const char *op) {
    const zf_cuda_plugin *p = zf_cuda_plugin_ready(op);
    return p ? p->timing : NULL;
}

zf_status zf_graph_begin(zf_stream *s) {
    if (!s) return zf_error(ZF_ERR_INVALID_ARG, "[graph_begin] s is NULL: the default stream cannot be recorded");
    const zf_cuda_timing *t = cuda_graphs("graph_begin");
    return t ? t->capture_begin(s) : ZF_ERR_UNSUPPORTED;
}

zf_status zf_graph_end(zf_stream *s, zf_graph **g) {
    if (!s || !g) return zf_error(ZF_ERR_INVALID_ARG, "[graph_end] %s is NULL", s ? "g" : "s");
    const zf_cuda_timing *t = cuda_graphs("graph_end");
    return t ? t->capture_finish(s, (void **)g) : ZF_ERR_UNSUPPORTED;
}

zf_status zf_graph_cancel(zf_stream *s) {
    if (!s) return zf_error(ZF_ERR_INVALID_ARG, "[graph_cancel] s is NULL");
    const zf_cuda_timing *t = cuda_graphs("graph_cancel");
    return t ? t->capture_finish(s, NULL) : ZF_ERR_UNSUPPORTED;
}

zf_status zf_graph_launch(zf_graph *g, zf_stream *s) {
    if (!g) return zf_error(ZF_ERR_INVALID_ARG, "[graph_launch] g is NULL");
    const zf_cuda_timing *t = cuda_graphs("graph_launch");
    return t ? t->graph_launch(g, s) : ZF_ERR_UNSUPPORTED;
}

zf_status zf_graph_destroy(zf_graph *g) {
    if (!g) return ZF_OK;
    const zf_cuda_timing *t = cuda_graphs("graph_destroy");
    return t ? t->graph_destroy(g) : ZF_ERR_UNSUPPORTED;
}

zf_status zf_device_alloc(zf_device dev, size_t bytes, void **ptr) {
    if (!ptr) return zf_error(ZF_ERR_INVALID_ARG, "[device_alloc] ptr is NULL");
    if (bytes == 0) return zf_error(ZF_ERR_INVALID_ARG, "[device_alloc] bytes is 0; expected at least 1");
    if (dev == ZF_DEVICE_CPU) {
        if (bytes > SIZE_MAX - ZF_HOST_ALIGN)
            return zf_error(ZF_ERR_NO_MEMORY, "[device_alloc] %zu bytes is too large", bytes);
        void *p = aligned_alloc(ZF_HOST_ALIGN, (bytes + ZF_HOST_ALIGN - 1) / ZF_HOST_ALIGN * ZF_HOST_ALIGN);
        if (!p) return zf_error(ZF_ERR_NO_MEMORY, "[device_alloc] no host memory for %zu bytes", bytes);
        *ptr = p;
        return ZF_OK;
    }
    if (dev != ZF_DEVICE_CUDA) return zf_error(ZF_ERR_INVALID_ARG, "[device_alloc] invalid device value %d", (int)dev);
    const zf_cuda_memory *m = cuda_mem("device_alloc");
    return m ? m->alloc(bytes, ptr) : ZF_ERR_UNSUPPORTED;
}

zf_status zf_device_free(zf_device dev, void *ptr) {
    if (!ptr) return ZF_OK;
    if (dev == ZF_DEVICE_CPU) { free(ptr); return ZF_OK; }
    if (dev != ZF_DEVICE_CUDA) return zf_error(ZF_ERR_INVALID_ARG, "[device_free] invalid device value %d", (int)dev);
    const zf_cuda_memory *m = cuda_mem("device_free");
    return m ? m->free(ptr) : ZF_ERR_UNSUPPORTED;
}

zf_status zf_memcpy(void *dst, zf_device dst_dev, const void *src, zf_device src_dev, size_t bytes, zf_stream *s) {
    if (dst_dev < 0 || dst_dev >= ZF_DEVICE_COUNT || src_dev < 0 || src_dev >= ZF_DEVICE_COUNT)
        return zf_error(ZF_ERR_INVALID_ARG, "[memcpy] invalid device value (dst %d, src %d)", (int)dst_dev,
                        (int)src_dev);
    if (bytes == 0) return ZF_OK;
    if (!dst || !src) return zf_error(ZF_ERR_INVALID_ARG, "[memcpy] %s is NULL", dst ? "src" : "dst");
    if (dst_dev == ZF_DEVICE_CPU && src_dev == ZF_DEVICE_CPU) {
        memmove(dst, src, bytes);
        return ZF_OK;
    }
    const zf_cuda_memory *m = cuda_mem("memcpy");
    return m ? m->copy(dst, src, bytes, s) : ZF_ERR_UNSUPPORTED;
}
