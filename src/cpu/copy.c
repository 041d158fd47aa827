/* zf_copy on the CPU: a tensor into another of the same shape and any
 * strides, converted to out's dtype (RNE; a plain copy when the dtypes
 * match). The model writes its KV cache and widens its last hidden rows to
 * f32 with it. */
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "cpu/model_ops.h"

zf_status zf_cpu_copy(const zf_tensor *x, zf_tensor *out, const zf_opts *o) {
    ZF_TRY(zf_check_float("copy", "x", x));
    ZF_TRY(zf_check_float("copy", "out", out));
    if (x->ndim != out->ndim)
        return zf_error(ZF_ERR_SHAPE, "[copy] x has %d axes but out has %d", x->ndim, out->ndim);
    for (int i = 0; i < x->ndim; i++)
        if (x->shape[i] != out->shape[i])
            return zf_error(ZF_ERR_SHAPE, "[copy] x and out differ in axis %d (%lld vs %lld)", i,
                            (long long)x->shape[i], (long long)out->shape[i]);
    if (x->device != out->device)
        return zf_error(ZF_ERR_INVALID_ARG, "[copy] x and out are on different devices; use zf_memcpy");
    if (x->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[copy] tensor is on a device with no backend loaded here");
    if (zf_tensors_overlap(out, x)) return zf_error(ZF_ERR_ALIAS, "[copy] out overlaps x; it needs its own memory");
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_COPY, ZF_DEVICE_CPU, o ? o->fidelity : ZF_FIDELITY_AUTO, &v));
    /* leading axes padded to three, the last is the contiguous row */
    int64_t shape[3] = {1, 1, 1}, xs[3] = {0, 0, 0}, os[3] = {0, 0, 0};
    int lead = x->ndim - 1;
    for (int i = 0; i < lead; i++) {
        shape[3 - lead + i] = x->shape[i];
        xs[3 - lead + i] = x->stride[i];
        os[3 - lead + i] = out->stride[i];
    }
    int64_t cols = x->shape[x->ndim - 1];
    size_t ex = zf_dtype_size(x->dtype), eo = zf_dtype_size(out->dtype);
    for (int64_t a = 0; a < shape[0]; a++)
        for (int64_t b = 0; b < shape[1]; b++)
            for (int64_t c = 0; c < shape[2]; c++) {
                const char *src = (const char *)x->data + (size_t)(a * xs[0] + b * xs[1] + c * xs[2]) * ex;
                char *dst = (char *)out->data + (size_t)(a * os[0] + b * os[1] + c * os[2]) * eo;
                if (x->dtype == out->dtype) memcpy(dst, src, (size_t)cols * ex);
                else for (int64_t e = 0; e < cols; e++) zf_store(out->dtype, dst, e, zf_load(x->dtype, src, e));
            }
    return ZF_OK;
}
