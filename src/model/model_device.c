/* A model's memory on its device (model_device.h). */
#include "model/model_device.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/qweight.h"

/* Room for one more element of size es in the array *a of *cap. */
static zf_status grow(void *a, size_t es, int *cap, int n) {
    if (n < *cap) return ZF_OK;
    int c = *cap ? 2 * *cap : 64;
    void *p = realloc(*(void **)a, (size_t)c * es);
    if (!p) return zf_error(ZF_ERR_NO_MEMORY, "[model] no host memory");
    *(void **)a = p;
    *cap = c;
    return ZF_OK;
}

zf_status zf_model_mem_alloc(zf_model_mem *mm, size_t bytes, const char *what, void **out) {
    ZF_TRY(grow(&mm->bufs, sizeof *mm->bufs, &mm->cap_bufs, mm->n_bufs));
    if (zf_device_alloc(mm->dev, bytes ? bytes : 1, out) != ZF_OK) {
        char why[256]; /* zf_error writes where zf_last_error() points */
        snprintf(why, sizeof why, "%s", zf_last_error());
        return zf_error(ZF_ERR_NO_MEMORY, "[model] no %s memory for %s (%zu bytes; %zu already on the device): %s",
                        mm->dev == ZF_DEVICE_CUDA ? "device" : "host", what, bytes, mm->device_bytes, why);
    }
    mm->bufs[mm->n_bufs++] = *out;
    if (mm->dev == ZF_DEVICE_CUDA) mm->device_bytes += bytes;
    return ZF_OK;
}

/* The device copy of host bytes [p, p + bytes), uploaded once. */
static zf_status upload(zf_model_mem *mm, const void *p, size_t bytes, const char *name, void **out) {
    for (int i = 0; i < mm->n_up; i++)
        if (mm->up[i].host == p) {
            *out = mm->up[i].dev;
            return ZF_OK;
        }
    ZF_TRY(grow(&mm->up, sizeof *mm->up, &mm->cap_up, mm->n_up));
    ZF_TRY(zf_model_mem_alloc(mm, bytes, name, out));
    if (zf_memcpy(*out, ZF_DEVICE_CUDA, p, ZF_DEVICE_CPU, bytes, NULL) != ZF_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", zf_last_error());
        return zf_error(ZF_ERR_BACKEND, "[model] uploading %s: %s", name, why);
    }
    mm->up[mm->n_up++] = (struct zf_model_upload){p, *out};
    return ZF_OK;
}

zf_status zf_model_mem_upload_tensor(zf_model_mem *mm, zf_tensor *t, const char *name) {
    if (mm->dev == ZF_DEVICE_CPU || !t->data) return ZF_OK;
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] > 1 && t->stride[i] != expect)
            return zf_error(ZF_ERR_UNSUPPORTED, "[model] %s is not contiguous; cannot upload it", name);
        expect *= t->shape[i];
    }
    void *d;
    ZF_TRY(upload(mm, t->data, (size_t)zf_tensor_numel(t) * zf_dtype_size(t->dtype), name, &d));
    t->data = d;
    t->device = ZF_DEVICE_CUDA;
    return ZF_OK;
}

zf_status zf_model_mem_upload_weight(zf_model_mem *mm, zf_weight *w, const char *name) {
    if (w->kind == ZF_WEIGHT_FLOAT) return zf_model_mem_upload_tensor(mm, &w->t, name);
    if (mm->dev == ZF_DEVICE_CPU || !w->q.packed) return ZF_OK;
    zf_qweight *q = &w->q;
    size_t packed = zf_qweight_packed_bytes(q), groups = zf_qweight_group_bytes(q);
    void *p, *s, *b;
    ZF_TRY(upload(mm, q->packed, packed, name, &p));
    ZF_TRY(upload(mm, q->scales, groups, name, &s));
    ZF_TRY(upload(mm, q->biases, groups, name, &b));
    q->packed = p;
    q->scales = s;
    q->biases = b;
    q->device = ZF_DEVICE_CUDA;
    return ZF_OK;
}

zf_status zf_model_mem_upload_layer(zf_model_mem *mm, const zf_model_config *c, zf_model_layer *l) {
    zf_tensor *vectors[] = {&l->attn_norm, &l->ffn_norm, &l->q_norm, &l->k_norm, &l->bq, &l->bk, &l->bv};
    const char *vnames[] = {"attn_norm", "ffn_norm", "q_norm", "k_norm", "q bias", "k bias", "v bias"};
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++)
        ZF_TRY(zf_model_mem_upload_tensor(mm, vectors[i], vnames[i]));
    zf_weight *linears[] = {&l->wq,       &l->wk,     &l->wv,       &l->wo,     &l->ffn_gate,
                            &l->ffn_up,   &l->ffn_down, &l->router, &l->wqkv,   &l->ffn_gate_up};
    const char *lnames[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "router",
                            "attn_qkv (fused)", "ffn_gate_up (fused)"};
    /* a fused weight goes up in place of its parts, which the forward pass then does not read */
    const int qkv = l->wqkv.kind == ZF_WEIGHT_AFFINE, gu = l->ffn_gate_up.kind == ZF_WEIGHT_AFFINE;
    const int skip[] = {qkv, qkv, qkv, 0, gu, gu, 0, !c->is_moe, 0, 0};
    for (size_t i = 0; i < sizeof linears / sizeof *linears; i++) {
        if (skip[i]) continue;
        ZF_TRY(zf_model_mem_upload_weight(mm, linears[i], lnames[i]));
    }
    return ZF_OK;
}

void zf_model_mem_free(zf_model_mem *mm) {
    for (int i = mm->n_bufs - 1; i >= 0; i--) zf_device_free(mm->dev, mm->bufs[i]);
    free(mm->bufs);
    free(mm->up);
    mm->bufs = NULL;
    mm->up = NULL;
    mm->n_bufs = mm->cap_bufs = mm->n_up = mm->cap_up = 0;
    mm->device_bytes = 0;
}
