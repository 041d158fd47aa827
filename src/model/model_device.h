/* Where a model's buffers live: host memory (the weights stay the source's
 * views), or the CUDA device, where every weight is uploaded once at load
 * and the KV cache and scratch are allocated. One list frees them all. */
#ifndef ZF_MODEL_MODEL_DEVICE_H
#define ZF_MODEL_MODEL_DEVICE_H

#include <stddef.h>

#include "model/model.h"

typedef struct zf_model_mem {
    zf_device dev;
    void **bufs; /* every allocation, freed together */
    int n_bufs, cap_bufs;
    struct zf_model_upload { const void *host; void *dev; } *up; /* uploaded host ranges (a tied */
    int n_up, cap_up;                                            /* embedding is uploaded once) */
    size_t device_bytes; /* device memory held */
} zf_model_mem;

/* bytes on the model's device (64-byte aligned on the host); freed by
 * zf_model_mem_free. what names the buffer in an error. */
zf_status zf_model_mem_alloc(zf_model_mem *mm, size_t bytes, const char *what, void **out);
/* On the CUDA device: replaces the weights' host pointers with device
 * copies (a no-op on the CPU). name names the weight in an error. */
zf_status zf_model_mem_upload_tensor(zf_model_mem *mm, zf_tensor *t, const char *name);
zf_status zf_model_mem_upload_weight(zf_model_mem *mm, zf_weight *w, const char *name);
/* Every weight a layer uses. */
zf_status zf_model_mem_upload_layer(zf_model_mem *mm, const zf_model_config *c, zf_model_layer *l);
void zf_model_mem_free(zf_model_mem *mm);

#endif
