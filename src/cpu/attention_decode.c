/* zf_attention_decode on the CPU: the stock composition itself (with a
 * norm, zf_rms_norm of q and k into scratch; rope of q and k into scratch,
 * the two cache rows by zf_copy, then zf_attention over positions 0..p), so
 * it is the reference the fused kernels are compared with bit for bit. The
 * arguments were checked by the entry point. */
#include <stdlib.h>

#include "core/error.h"
#include "cpu/model_ops.h"

static zf_tensor view3(void *data, zf_dtype t, int64_t a, int64_t b, int64_t c, int64_t s0, int64_t s1) {
    const int64_t shape[3] = {a, b, c};
    zf_tensor v = zf_tensor_nd(data, t, 3, shape);
    v.stride[0] = s0;
    v.stride[1] = s1;
    return v;
}

zf_status zf_cpu_attention_decode(const zf_tensor *q, const zf_tensor *k, const zf_tensor *v, const zf_qk_norm *norm,
                                  const zf_tensor *cs, int neox, const zf_tensor *pos, zf_tensor *kc, zf_tensor *vc,
                                  float scale, zf_tensor *out, const zf_opts *o) {
    if (q->device != ZF_DEVICE_CPU)
        return zf_error(ZF_ERR_UNSUPPORTED, "[attention_decode] tensor is on a device with no backend loaded here");
    const int64_t p = *(const int32_t *)pos->data, max_ctx = kc->shape[1];
    const int64_t rows = cs->shape[0] < max_ctx ? cs->shape[0] : max_ctx;
    if (p < 0 || p >= rows)
        return zf_error(ZF_ERR_INVALID_ARG, "[attention_decode] pos = %lld; expected 0 .. %lld (the cache and the "
                        "rope table)", (long long)p, (long long)(rows - 1));
    const int64_t hq = q->shape[1], hkv = k->shape[1], d = q->shape[2];
    const size_t es = zf_dtype_size(q->dtype);
    char *scratch = malloc((size_t)((hq + hkv) * d) * es);
    if (!scratch) return zf_error(ZF_ERR_NO_MEMORY, "[attention_decode] no memory for the rotated q and k");
    zf_tensor qr = view3(scratch, q->dtype, 1, hq, d, hq * d, d);
    zf_tensor kr = view3(scratch + (size_t)(hq * d) * es, q->dtype, 1, hkv, d, hkv * d, d);
    zf_tensor row = view3((char *)cs->data + (size_t)(p * cs->stride[0]) * sizeof(float), ZF_DTYPE_F32, 1, d / 2, 2,
                          cs->stride[0], 2);
    const size_t ec = zf_dtype_size(kc->dtype);
    const size_t at_p = (size_t)(p * kc->stride[1]) * ec, at_pv = (size_t)(p * vc->stride[1]) * ec;
    /* the token's rows as [hkv, 1, d] against the caches' row p */
    zf_tensor ksrc = view3(kr.data, q->dtype, hkv, 1, d, d, d);
    zf_tensor vsrc = view3(v->data, q->dtype, hkv, 1, d, v->stride[1], v->stride[1]);
    zf_tensor kdst = view3((char *)kc->data + at_p, kc->dtype, hkv, 1, d, kc->stride[0], kc->stride[1]);
    zf_tensor vdst = view3((char *)vc->data + at_pv, vc->dtype, hkv, 1, d, vc->stride[0], vc->stride[1]);
    zf_tensor keys = view3(kc->data, kc->dtype, hkv, p + 1, d, kc->stride[0], kc->stride[1]);
    zf_tensor vals = view3(vc->data, vc->dtype, hkv, p + 1, d, vc->stride[0], vc->stride[1]);
    zf_status st = ZF_OK;
    const zf_tensor *qin = q, *kin = k;
    if (norm) { /* normalized into the scratch, then rotated there in place */
        st = zf_rms_norm(q, norm->w_q, norm->eps, &qr, o);
        if (st == ZF_OK) st = zf_rms_norm(k, norm->w_k, norm->eps, &kr, o);
        qin = &qr;
        kin = &kr;
    }
    if (st == ZF_OK) st = zf_rope(qin, &row, neox, &qr, o);
    if (st == ZF_OK) st = zf_rope(kin, &row, neox, &kr, o);
    if (st == ZF_OK) st = zf_copy(&ksrc, &kdst, o);
    if (st == ZF_OK) st = zf_copy(&vsrc, &vdst, o);
    if (st == ZF_OK) st = zf_attention(&qr, &keys, &vals, scale, out, o);
    free(scratch);
    return st;
}
