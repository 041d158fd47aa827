/* The contract between libzfast and the CUDA plugin (libzfast_cuda.so).
 *
 * The plugin never links libzfast: libzfast hands it a table of host
 * functions at init (error messages land in libzfast's thread-local slot,
 * argument checks are the CPU backend's, the CPU ops are the self-test
 * oracle). The plugin hands back its op table, its registry variants and
 * small memory / stream / timing tables. */
#ifndef ZF_CORE_CUDA_LOADER_H
#define ZF_CORE_CUDA_LOADER_H

#include <stddef.h>

#include "core/backend.h"
#include "core/registry.h"
#include "core/tensor.h"

#define ZF_CUDA_PLUGIN_ABI 6

#if defined(__GNUC__)
#define ZF_CUDA_PRINTF __attribute__((format(printf, 2, 3)))
#else
#define ZF_CUDA_PRINTF
#endif

/* libzfast's services, as the plugin sees them. */
typedef struct zf_cuda_host {
    zf_status (*error)(zf_status s, const char *fmt, ...) ZF_CUDA_PRINTF;
    zf_status (*check_float)(const char *op, const char *arg, const zf_tensor *t);
    zf_status (*check_qlayout)(const char *op, const char *arg, const zf_qweight *w);
    zf_status (*check_same)(const char *op, const char *an, const zf_tensor *a, const char *bn, const zf_tensor *b);
    zf_status (*as_rows)(const char *op, const char *arg, const zf_tensor *t, zf_rows *out);
    zf_status (*check_alias)(const char *op, const char *outn, const zf_tensor *out, const char *inn,
                             const zf_tensor *in);
    zf_status (*pick)(zf_op op, zf_device backend, zf_fidelity want, const zf_variant **out);
    const zf_backend_ops *cpu; /* the CPU backend: oracle for self-tests */
} zf_cuda_host;

/* Device memory and streams (behind the public zf_device_alloc & co). A
 * stream is a cudaStream_t; NULL is the legacy default stream. */
typedef struct zf_cuda_memory {
    zf_status (*alloc)(size_t bytes, void **ptr);
    zf_status (*free)(void *ptr);
    /* cudaMemcpyDefault semantics (unified addressing), async on s */
    zf_status (*copy)(void *dst, const void *src, size_t bytes, zf_stream *s);
    zf_status (*fill)(void *ptr, int byte, size_t bytes, zf_stream *s);
    zf_status (*stream_create)(zf_stream **s);
    zf_status (*stream_destroy)(zf_stream *s);
    zf_status (*stream_synchronize)(zf_stream *s);
    /* f32 -> T on the device with the kernels' own conversion (tests) */
    zf_status (*cast_from_f32)(zf_dtype t, const float *src, void *dst, int64_t n, zf_stream *s);
} zf_cuda_memory;

/* Events and graphs, for gates and benchmarks (zf gate --backend cuda). */
typedef struct zf_cuda_timing {
    zf_status (*event_create)(void **ev);
    zf_status (*event_destroy)(void *ev);
    zf_status (*event_record)(void *ev, zf_stream *s);
    zf_status (*event_elapsed_ms)(void *start, void *stop, float *ms); /* waits for stop */
    zf_status (*capture_begin)(zf_stream *s);
    zf_status (*capture_end)(zf_stream *s, void **graph_exec);
    zf_status (*graph_launch)(void *graph_exec, zf_stream *s);
    zf_status (*graph_destroy)(void *graph_exec);
    size_t (*l2_bytes)(void);
    /* Ends a capture begun with capture_begin. graph_exec NULL: discards it.
     * *graph_exec NULL: instantiates a new graph there. Otherwise updates
     * *graph_exec in place to the new recording (same kernels and order,
     * other arguments), or replaces it where the update is refused. */
    zf_status (*capture_finish)(zf_stream *s, void **graph_exec);
} zf_cuda_timing;

typedef struct zf_cuda_plugin {
    int abi;
    int ready;                       /* set by init when a device is usable */
    /* Finds a device; 0 on success, else writes why not into msg. */
    int (*init)(const zf_cuda_host *host, char *msg, size_t msg_size);
    /* Device and version report as a JSON object (for caps). */
    void (*describe_json)(char *buf, size_t size);
    const zf_backend_ops *ops;
    const zf_variant *variants;
    int n_variants;
    const zf_cuda_memory *mem;
    const zf_cuda_timing *timing;
} zf_cuda_plugin;

typedef const zf_cuda_plugin *(*zf_cuda_plugin_fn)(int abi);

/* Loads the plugin once; returns it (or NULL) and why it is (not) usable. */
const zf_cuda_plugin *zf_cuda_plugin_loaded(const char **why);
/* The plugin when a device is usable; else NULL and an error naming `op`. */
const zf_cuda_plugin *zf_cuda_plugin_ready(const char *op);

#ifndef ZF_CUDA_LIB_BUILD_PATH
#define ZF_CUDA_LIB_BUILD_PATH ""
#endif
#ifndef ZF_CUDA_LIB_INSTALL_PATH
#define ZF_CUDA_LIB_INSTALL_PATH ""
#endif

#endif
