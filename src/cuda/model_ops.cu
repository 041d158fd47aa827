/* Helpers the model-op entry points share (src/cuda/model_ops.cuh). */
#include "cuda/model_ops.cuh"

zf_status zf_cu_on_device(const char *op, const char *arg, const zf_tensor *t) {
    if (t->device != ZF_DEVICE_CUDA)
        return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] %s is not on the CUDA device; every operand must be", op, arg);
    return ZF_OK;
}

zf_status zf_cu_pick(zf_op id, const zf_opts *o, const zf_variant **v) {
    return zf_cu_host->pick(id, ZF_DEVICE_CUDA, zf_cu_fidelity(o), v);
}
