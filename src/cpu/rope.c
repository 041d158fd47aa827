/* RoPE on the CPU: the rotation op (the cos/sin table is rope_table.c).
 * docs/NUMERICS.md §9.2. */
#include <stdint.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "cpu/model_ops.h"

void zf_scalar_rope(zf_dtype t, const void *x, const float *cs, int neox, void *out, int64_t n) {
    int64_t h = n / 2;
    for (int64_t i = 0; i < h; i++) {
        int64_t ia = neox ? i : 2 * i, ib = neox ? i + h : 2 * i + 1;
        float a = zf_load(t, x, ia), b = zf_load(t, x, ib), c = cs[2 * i], s = cs[2 * i + 1];
        zf_store(t, out, ia, a * c - b * s);
        zf_store(t, out, ib, a * s + b * c);
    }
}

typedef struct rope_job {
    const zf_tensor *x, *cs;
    zf_tensor *out;
    zf_rope_fn fn;
    int neox;
} rope_job;

static void rope_task(void *ctx, int64_t row) {
    rope_job *j = ctx;
    int64_t heads = j->x->shape[1], i = row / heads, h = row % heads;
    size_t es = zf_dtype_size(j->x->dtype);
    const char *xp = (const char *)j->x->data + (size_t)(i * j->x->stride[0] + h * j->x->stride[1]) * es;
    char *op = (char *)j->out->data + (size_t)(i * j->out->stride[0] + h * j->out->stride[1]) * es;
    j->fn(j->x->dtype, xp, (const float *)j->cs->data + i * j->cs->stride[0], j->neox, op, j->x->shape[2]);
}

zf_status zf_cpu_rope(const zf_tensor *x, const zf_tensor *cs, int neox, zf_tensor *out, const zf_opts *o) {
    ZF_TRY(zf_check_float("rope", "x", x));
    ZF_TRY(zf_check_float("rope", "out", out));
    ZF_TRY(zf_check_tensor("rope", "cs", cs));
    if (x->ndim != 3)
        return zf_error(ZF_ERR_SHAPE, "[rope] x has %d axes; expected [tokens, heads, head_dim]", x->ndim);
    if (x->shape[2] % 2)
        return zf_error(ZF_ERR_SHAPE, "[rope] head_dim %lld is odd; expected an even size", (long long)x->shape[2]);
    ZF_TRY(zf_check_same("rope", "x", x, "out", out));
    ZF_TRY(zf_check_alias("rope", "out", out, "x", x));
    if (cs->dtype != ZF_DTYPE_F32 || cs->device != x->device || cs->ndim != 3 || cs->shape[0] != x->shape[0] ||
        cs->shape[1] != x->shape[2] / 2 || cs->shape[2] != 2 || cs->stride[1] != 2)
        return zf_error(ZF_ERR_SHAPE, "[rope] cs must be f32 [%lld, %lld, 2] (one table row per token, from "
                        "zf_rope_table) on x's device", (long long)x->shape[0], (long long)(x->shape[2] / 2));
    if (neox != 0 && neox != 1)
        return zf_error(ZF_ERR_INVALID_ARG, "[rope] neox = %d; expected 0 (adjacent pairs) or 1 (halves)", neox);
    if (x->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[rope] tensor is on a device with no backend loaded here");
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_ROPE, ZF_DEVICE_CPU, o ? o->fidelity : ZF_FIDELITY_AUTO, &v));
    rope_job j = {.x = x, .cs = cs, .out = out, .fn = (zf_rope_fn)v->fn, .neox = neox};
    int64_t rows = x->shape[0] * x->shape[1];
    int64_t bytes = zf_tensor_numel(x) * (int64_t)zf_dtype_size(x->dtype) * 3;
    if (zf_tasks_for_bytes(bytes, 2) == 1)
        for (int64_t r = 0; r < rows; r++) rope_task(&j, r);
    else
        zf_parallel_for(rows, rope_task, &j);
    return ZF_OK;
}
