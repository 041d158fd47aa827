/* The contract between libzfast and the CUDA plugin (libzfast_cuda.so). */
#ifndef ZF_CORE_CUDA_LOADER_H
#define ZF_CORE_CUDA_LOADER_H

#include <stddef.h>

#include "core/backend.h"
#include "core/registry.h"

#define ZF_CUDA_PLUGIN_ABI 1

typedef struct zf_cuda_plugin {
    int abi;
    int ready;                       /* set by init when a device is usable */
    /* Finds a device; 0 on success, else writes why not into msg. */
    int (*init)(char *msg, size_t msg_size);
    /* Device and version report as a JSON object (for caps). */
    void (*describe_json)(char *buf, size_t size);
    const zf_backend_ops *ops;
    const zf_variant *variants;
    int n_variants;
} zf_cuda_plugin;

typedef const zf_cuda_plugin *(*zf_cuda_plugin_fn)(int abi);

/* Loads the plugin once; returns it (or NULL) and why it is (not) usable. */
const zf_cuda_plugin *zf_cuda_plugin_loaded(const char **why);

#ifndef ZF_CUDA_LIB_BUILD_PATH
#define ZF_CUDA_LIB_BUILD_PATH ""
#endif
#ifndef ZF_CUDA_LIB_INSTALL_PATH
#define ZF_CUDA_LIB_INSTALL_PATH ""
#endif

#endif
