/* Finds the backend table for a device. The CUDA backend is a separate
 * shared object (libzfast_cuda.so) opened on first use, so one build runs
 * with or without a GPU and says why CUDA is absent. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/backend.h"
#include "core/cuda_loader.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"

static const zf_cuda_host k_host = {
    .error = zf_error,
    .check_float = zf_check_float,
    .check_qlayout = zf_check_qlayout,
    .check_same = zf_check_same,
    .as_rows = zf_as_rows,
    .check_alias = zf_check_alias,
    .pick = zf_pick,
    .cpu = &zf_cpu_backend,
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const zf_cuda_plugin *g_plugin;
static char g_why[512] = "not tried";

static void load(void) {
    const char *env = getenv("ZF_CUDA_LIB");
    const char *candidates[] = {env, ZF_CUDA_LIB_BUILD_PATH, ZF_CUDA_LIB_INSTALL_PATH, "libzfast_cuda.so"};
    void *h = NULL;
    char last[256] = "";
    int found = 0; /* keep the error of the first file that exists: it says more than "not found" */
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates && !h; i++) {
        if (!candidates[i] || !*candidates[i]) continue;
        h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        int exists = access(candidates[i], R_OK) == 0;
        if (!h && !found) snprintf(last, sizeof last, "%s", dlerror());
        found |= exists;
    }
    if (!h) {
        snprintf(g_why, sizeof g_why, "CUDA backend not loadable (%s)", last);
        return;
    }
    zf_cuda_plugin_fn get = (zf_cuda_plugin_fn)dlsym(h, "zf_cuda_plugin_get");
    if (!get) {
        snprintf(g_why, sizeof g_why, "libzfast_cuda.so lacks zf_cuda_plugin_get");
        return;
    }
    const zf_cuda_plugin *p = get(ZF_CUDA_PLUGIN_ABI);
    if (!p) {
        snprintf(g_why, sizeof g_why, "libzfast_cuda.so has another plugin ABI than %d", ZF_CUDA_PLUGIN_ABI);
        return;
    }
    char msg[256] = "";
    if (p->init(&k_host, msg, sizeof msg) != 0) {
        snprintf(g_why, sizeof g_why, "CUDA backend loaded but unusable: %s", msg);
        g_plugin = p; /* kept for caps: it can still report versions */
        return;
    }
    g_plugin = p;
    snprintf(g_why, sizeof g_why, "loaded");
    zf_registry_init(); /* the CPU table first, so CUDA entries never precede it */
    zf_registry_add(p->variants, p->n_variants);
}

const zf_cuda_plugin *zf_cuda_plugin_loaded(const char **why) {
    pthread_once(&g_once, load);
    if (why) *why = g_why;
    return g_plugin;
}

const zf_cuda_plugin *zf_cuda_plugin_ready(const char *op) {
    const char *why;
    const zf_cuda_plugin *p = zf_cuda_plugin_loaded(&why);
    if (p && p->ready) return p;
    zf_error(ZF_ERR_UNSUPPORTED, "[%s] no usable CUDA device: %s", op, why);
    return NULL;
}

const zf_backend_ops *zf_backend_for(zf_device dev, const char *op) {
    if (dev == ZF_DEVICE_CPU) return &zf_cpu_backend;
    if (dev == ZF_DEVICE_CUDA) {
        const zf_cuda_plugin *p = zf_cuda_plugin_ready(op);
        return p ? p->ops : NULL;
    }
    zf_error(ZF_ERR_INVALID_ARG, "[%s] invalid device value %d", op, (int)dev);
    return NULL;
}
