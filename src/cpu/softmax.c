/* Row softmax on the CPU: y_i = T(e_i / S), e_i = exp(x_i - max), S = L256
 * sum of the e_i (docs/NUMERICS.md §9). */
#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "core/zmath.h"
#include "cpu/l256.h"
#include "cpu/model_ops.h"

void zf_scalar_softmax(zf_dtype t, const void *x, void *out, int64_t n) {
    float mx = zf_load(t, x, 0);
    for (int64_t i = 1; i < n; i++) {
        float v = zf_load(t, x, i);
        if (v > mx) mx = v;
    }
    /* L256 sum with the exps computed on the fly; the second pass recomputes
     * the same values, so no scratch is needed */
    float acc[256];
    int64_t m = n < 256 ? n : 256;
    for (int64_t l = 0; l < m; l++) acc[l] = 0.0f;
    for (int64_t i = 0; i < n; i++) acc[i & 255] = acc[i & 255] + zf_exp_scalar(zf_load(t, x, i) - mx);
    float s = zf_l256_fold(acc, m);
    for (int64_t i = 0; i < n; i++) zf_store(t, out, i, zf_exp_scalar(zf_load(t, x, i) - mx) / s);
}

typedef struct sm_job {
    zf_rows x, y;
    zf_softmax_fn fn;
    zf_dtype t;
} sm_job;

static void sm_task(void *ctx, int64_t r) {
    sm_job *j = ctx;
    size_t es = zf_dtype_size(j->t);
    j->fn(j->t, (const char *)j->x.data + (size_t)(r * j->x.row_stride) * es,
          (char *)j->y.data + (size_t)(r * j->y.row_stride) * es, j->x.cols);
}

zf_status zf_cpu_softmax(const zf_tensor *x, zf_tensor *out, const zf_opts *o) {
    ZF_TRY(zf_check_float("softmax", "x", x));
    ZF_TRY(zf_check_float("softmax", "out", out));
    ZF_TRY(zf_check_same("softmax", "x", x, "out", out));
    ZF_TRY(zf_check_alias("softmax", "out", out, "x", x));
    sm_job j = {.t = x->dtype};
    ZF_TRY(zf_as_rows("softmax", "x", x, &j.x));
    ZF_TRY(zf_as_rows("softmax", "out", out, &j.y));
    const zf_variant *v;
    ZF_TRY(zf_pick(ZF_OP_SOFTMAX, ZF_DEVICE_CPU, o ? o->fidelity : ZF_FIDELITY_AUTO, &v));
    j.fn = (zf_softmax_fn)v->fn;
    int64_t bytes = j.x.rows * j.x.cols * 8;
    if (zf_tasks_for_bytes(bytes, 2) == 1 || j.x.rows == 1)
        for (int64_t r = 0; r < j.x.rows; r++) sm_task(&j, r);
    else
        zf_parallel_for(j.x.rows, sm_task, &j);
    return ZF_OK;
}
