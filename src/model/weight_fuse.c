/* Weight fusion at load (weight_fuse.h): one host copy of the parts' rows,
 * and the split of the fused projection's output. */
#include "model/weight_fuse.h"

#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/qweight.h"

size_t zf_fuse_bytes(const zf_weight *const *parts, int n, size_t max_bytes) {
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const zf_qweight *q = &parts[i]->q, *q0 = &parts[0]->q;
        if (parts[i]->kind != ZF_WEIGHT_AFFINE || q->experts != 1 || q->device != ZF_DEVICE_CPU || q->k != q0->k ||
            q->bits != q0->bits || q->group_size != q0->group_size || q->scale_dtype != q0->scale_dtype)
            return 0;
        total += zf_qweight_packed_bytes(q) + 2 * zf_qweight_group_bytes(q);
    }
    return total <= max_bytes ? total : 0;
}

void zf_fuse(const zf_weight *const *parts, int n, void *mem, zf_weight *out) {
    size_t pb = 0, gb = 0;
    int64_t rows = 0;
    for (int i = 0; i < n; i++) pb += zf_qweight_packed_bytes(&parts[i]->q), gb += zf_qweight_group_bytes(&parts[i]->q);
    char *packed = mem, *scales = packed + pb, *biases = scales + gb;
    *out = *parts[0];
    out->q.packed = (const uint32_t *)packed;
    out->q.scales = scales;
    out->q.biases = biases;
    for (int i = 0; i < n; i++) {
        const zf_qweight *q = &parts[i]->q;
        const size_t qp = zf_qweight_packed_bytes(q), qg = zf_qweight_group_bytes(q);
        memcpy(packed, q->packed, qp);
        memcpy(scales, q->scales, qg);
        memcpy(biases, q->biases, qg);
        packed += qp, scales += qg, biases += qg;
        rows += q->n;
    }
    out->q.n = rows;
}

zf_status zf_fused_linear(const zf_tensor *x, const zf_weight *w, void *scratch, zf_tensor *const *outs, int n,
                          const zf_opts *o) {
    int64_t rows = x->shape[0], cols = w->q.n, c0 = 0;
    zf_tensor y = zf_tensor_2d(scratch, outs[0]->dtype, rows, cols);
    y.device = outs[0]->device;
    ZF_TRY(zf_model_linear(x, w, &y, o));
    for (int i = 0; i < n; i++) { /* columns c0 .. c0 + cols_i of every row */
        zf_tensor part = y;
        part.data = (char *)scratch + (size_t)c0 * zf_dtype_size(y.dtype);
        part.shape[1] = outs[i]->shape[1];
        ZF_TRY(zf_copy(&part, outs[i], o));
        c0 += outs[i]->shape[1];
    }
    return ZF_OK;
}
