/* Self-tests of the CUDA qmm / gather_qmm / router / fused MoE variants:
 * small fresh inputs (odd n, duplicate expert ids, every bit width, both the
 * per-pair and the grouped path), the variant run on the device, the CPU
 * path of the same fidelity (stock, or fast for fast variants) on the same
 * bits; results must match bit for bit (any NaN equals any NaN). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/check.cuh"
#include "cuda/kernels.cuh"
#include "cuda/qmm.cuh"

extern "C" {
#include "core/approx_close.h"
#include "core/dtype.h"
#include "core/registry.h"
}

namespace {

uint64_t rnd(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}
float uni(uint64_t *s) { return (float)((rnd(s) >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f; }

struct hd { /* a host buffer and its device twin */
    void *h = nullptr, *d = nullptr;
    size_t bytes = 0;
};

cudaError_t make(hd *b, size_t bytes, cudaStream_t s) {
    b->bytes = bytes;
    b->h = calloc(1, bytes);
    cudaError_t e = cudaMalloc(&b->d, bytes);
    if (e == cudaSuccess) e = cudaMemsetAsync(b->d, 0x7f, bytes, s);
    return b->h ? e : cudaErrorMemoryAllocation;
}
cudaError_t upload(hd *b, cudaStream_t s) { return cudaMemcpyAsync(b->d, b->h, b->bytes, cudaMemcpyHostToDevice, s); }
void drop(hd *b) { free(b->h); cudaFree(b->d); }

void fill(zf_dtype t, void *p, int64_t n, float scale, uint64_t *s) {
    for (int64_t i = 0; i < n; i++) zf_store(t, p, i, uni(s) * scale);
}

/* bits of n elements equal (NaN == NaN) */
int same(zf_dtype t, const void *a, const void *b, int64_t n, int64_t *at) {
    for (int64_t i = 0; i < n; i++) {
        float x = zf_load(t, a, i), y = zf_load(t, b, i);
        if (zf_f32_bits(x) != zf_f32_bits(y) && !(x != x && y != y)) { *at = i; return 0; }
    }
    return 1;
}

/* A contiguous host tensor (the plugin links nothing of libzfast). */
zf_tensor ht(void *p, zf_dtype t, int nd, int64_t a, int64_t b, int64_t c = 1) {
    zf_tensor x = {};
    x.data = p;
    x.dtype = t;
    x.device = ZF_DEVICE_CPU;
    x.ndim = nd;
    const int64_t sh[3] = {a, b, c};
    int64_t st = 1;
    for (int i = nd - 1; i >= 0; i--) {
        x.shape[i] = sh[i];
        x.stride[i] = st;
        st *= sh[i];
    }
    return x;
}

int fail(char *msg, size_t size, const char *what, cudaError_t e) {
    snprintf(msg, size, "%s: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
    return 1;
}

/* One gathered case: E = 3 experts of [37, k = 3 * gs unless given], m
 * tokens, 2 slots (qmm: 1 expert, 1 slot), duplicate ids in token 0. */
int qcase(const zf_variant *v, int bits, int gs, zf_dtype t, zf_dtype sdt, int64_t m, uint64_t *rng, cudaStream_t s,
          char *msg, size_t size, int64_t k_given = 0) {
    const zf_op op = v->op;
    const bool qmm = op == ZF_OP_QMM, comb = op == ZF_OP_GATHER_QMM_COMBINE;
    const int nw = op == ZF_OP_GATHER_QMM_SWIGLU ? 2 : 1;
    /* approx: 16 experts, so 4 tokens of 2 slots stay per pair (the int8 kernels) */
    const int64_t E = qmm ? 1 : v->fidelity == ZF_FIDELITY_APPROX ? 16 : 3, n = 37, k = k_given ? k_given : 3 * gs, slots = qmm ? 1 : 2, words = k * bits / 32, groups = k / gs;
    const size_t es = zf_cu_dtype_size(t), ss = zf_cu_dtype_size(sdt);
    const int64_t xrows = comb ? m * slots : m, orows = comb || qmm ? m : m * slots;
    hd pk[2], sc[2], bi[2], x, ids, wts, out;
    cudaError_t e = cudaSuccess;
    for (int w = 0; w < nw && e == cudaSuccess; w++) {
        e = make(&pk[w], (size_t)(E * n * words) * 4, s);
        if (e == cudaSuccess) e = make(&sc[w], (size_t)(E * n * groups) * ss, s);
        if (e == cudaSuccess) e = make(&bi[w], (size_t)(E * n * groups) * ss, s);
        if (e != cudaSuccess) break;
        for (int64_t i = 0; i < E * n * words; i++) ((uint32_t *)pk[w].h)[i] = (uint32_t)rnd(rng);
        fill(sdt, sc[w].h, E * n * groups, 0.05f, rng);
        fill(sdt, bi[w].h, E * n * groups, 0.5f, rng);
        if ((e = upload(&pk[w], s)) == cudaSuccess && (e = upload(&sc[w], s)) == cudaSuccess) e = upload(&bi[w], s);
    }
    if (e == cudaSuccess) e = make(&x, (size_t)(xrows * k) * es, s);
    if (e == cudaSuccess) e = make(&ids, (size_t)(m * slots) * 4, s);
    if (e == cudaSuccess) e = make(&wts, (size_t)(m * slots) * es, s);
    if (e == cudaSuccess) e = make(&out, (size_t)(orows * n) * es, s);
    if (e != cudaSuccess) {
        for (int w = 0; w < 2; w++) drop(&pk[w]), drop(&sc[w]), drop(&bi[w]);
        drop(&x), drop(&ids), drop(&wts), drop(&out);
        return fail(msg, size, "buffers", e);
    }
    fill(t, x.h, xrows * k, 2.0f, rng);
    fill(t, wts.h, m * slots, 1.0f, rng);
    int32_t *id = (int32_t *)ids.h;
    for (int64_t i = 0; i < m * slots; i++) id[i] = (int32_t)(rnd(rng) % (uint64_t)E);
    if (slots > 1) id[1] = id[0]; /* a duplicate expert */
    upload(&x, s), upload(&ids, s), upload(&wts, s);

    zf_cu_qargs a = {};
    for (int w = 0; w < nw; w++)
        a.w[w] = zf_cu_qw{(const uint32_t *)pk[w].d, sc[w].d, bi[w].d, sdt, bits, gs, E, n, k};
    a.nw = nw;
    a.xt = t;
    a.x = x.d;
    a.x_row_stride = k;
    a.x_per_slot = comb;
    a.m = m;
    a.slots = slots;
    a.ids = qmm ? nullptr : (const int32_t *)ids.d;
    a.ids_stride = slots;
    a.out = out.d;
    a.out_row_stride = n;
    a.weights = wts.d;
    a.wt = t;
    a.weights_stride = slots;
    a.exact = zf_rounds_like_stock(v->fidelity);
    /* approx runs the int8 kernels where they fit (checked against the CPU's
     * int8 variant within core/approx_close.h's rule), else the fast path (bit for bit) */
    const bool i8 = v->fidelity == ZF_FIDELITY_APPROX &&
                    (qmm ? zf_cu_qi8_qmm_fits(&a)
                         : (op == ZF_OP_GATHER_QMM_SWIGLU || comb) && zf_cu_i8_path_of(comb, &a) != ZF_CU_I8_NONE);
    const zf_fidelity cf = i8 ? ZF_FIDELITY_APPROX
                           : v->fidelity == ZF_FIDELITY_FAST || v->fidelity == ZF_FIDELITY_APPROX ? ZF_FIDELITY_FAST
                                                                                                  : ZF_FIDELITY_STOCK;
    const zf_variant *cv = nullptr;
    const bool noref = i8 && (zf_cu_host->pick(op, ZF_DEVICE_CPU, ZF_FIDELITY_APPROX, &cv) != ZF_OK || cv->fidelity != cf);
    if (noref) snprintf(msg, size, "%s: no CPU int8 variant here to check it against", v->name);
    else e = ((zf_cu_qfn)v->fn)(&a, s);
    void *got = malloc(out.bytes);
    if (e == cudaSuccess) e = cudaMemcpyAsync(got, out.d, out.bytes, cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    int bad = noref ? 1 : e != cudaSuccess ? fail(msg, size, v->name, e) : 0;
    if (!bad) {
        zf_qweight hw[2];
        for (int w = 0; w < nw; w++)
            hw[w] = zf_qweight{(const uint32_t *)pk[w].h, sc[w].h, bi[w].h, sdt, bits, gs, E, n, k, ZF_DEVICE_CPU};
        zf_tensor hx = comb ? ht(x.h, t, 3, m, slots, k) : ht(x.h, t, 2, m, k), hids = ht(ids.h, ZF_DTYPE_I32, 2, m, slots);
        zf_tensor hwt = ht(wts.h, t, 2, m, slots);
        zf_tensor ho = qmm || comb ? ht(out.h, t, 2, m, n) : ht(out.h, t, 3, m, slots, n);
        zf_opts o = {cf, nullptr};
        const zf_backend_ops *c = zf_cu_host->cpu;
        zf_status st = op == ZF_OP_QMM                 ? c->qmm(&hx, &hw[0], &ho, &o)
                       : op == ZF_OP_GATHER_QMM        ? c->gather_qmm(&hx, &hw[0], &hids, &ho, &o)
                       : op == ZF_OP_GATHER_QMM_SWIGLU ? c->gather_qmm_swiglu(&hx, &hw[0], &hw[1], &hids, &ho, &o)
                                                       : c->gather_qmm_combine(&hx, &hw[0], &hids, &hwt, &ho, &o);
        int64_t at = 0;
        if (st != ZF_OK) {
            snprintf(msg, size, "CPU path for %s failed (status %d)", v->name, (int)st);
            bad = 1;
        } else if (i8 ? (at = zf_approx_first_far(t, got, out.h, orows * n)) >= 0 : !same(t, got, out.h, orows * n, &at)) {
            snprintf(msg, size, "bits %d gs %d %s scales %s m %lld out[%lld]: cuda %.9g, cpu %.9g", bits, gs,
                     zf_cu_dtype_name(t), zf_cu_dtype_name(sdt), (long long)m, (long long)at, zf_load(t, got, at),
                     zf_load(t, out.h, at));
            bad = 1;
        }
    }
    free(got);
    for (int w = 0; w < 2; w++) drop(&pk[w]), drop(&sc[w]), drop(&bi[w]);
    drop(&x), drop(&ids), drop(&wts), drop(&out);
    return bad;
}

/* m = 3 rows of E logits, top-k (k <= 40) */
int route_case(const zf_variant *v, zf_dtype t, zf_dtype wt, int norm, int64_t E, int k, uint64_t *rng, cudaStream_t s,
               char *msg, size_t size) {
    const int64_t m = 3;
    hd l, ids, w;
    cudaError_t e = make(&l, (size_t)(m * E) * zf_cu_dtype_size(t), s);
    if (e == cudaSuccess) e = make(&ids, (size_t)(m * k) * 4, s);
    if (e == cudaSuccess) e = make(&w, (size_t)(m * k) * zf_cu_dtype_size(wt), s);
    int bad = 0;
    if (e == cudaSuccess) {
        fill(t, l.h, m * E, 4.0f, rng);
        zf_store(t, l.h, 3, zf_load(t, l.h, 7)); /* a tie */
        e = upload(&l, s);
    }
    zf_cu_route_args a = {l.d, t, E, m, E, k, norm, (int32_t *)ids.d, k, w.d, wt, k};
    if (e == cudaSuccess) e = ((zf_cu_route_fn)v->fn)(&a, s);
    int32_t gi[3 * 40];
    float gw[3 * 40];
    if (e == cudaSuccess) e = cudaMemcpyAsync(gi, ids.d, ids.bytes, cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaMemcpyAsync(gw, w.d, w.bytes, cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    if (e != cudaSuccess) bad = fail(msg, size, v->name, e);
    if (!bad) {
        zf_tensor hl = ht(l.h, t, 2, m, E), hi = ht(ids.h, ZF_DTYPE_I32, 2, m, k), hw = ht(w.h, wt, 2, m, k);
        zf_opts o = {ZF_FIDELITY_STOCK, nullptr};
        int64_t at = 0;
        if (zf_cu_host->cpu->moe_route(&hl, k, norm, &hi, &hw, &o) != ZF_OK) {
            snprintf(msg, size, "CPU router failed");
            bad = 1;
        } else if (memcmp(gi, ids.h, ids.bytes) != 0) {
            snprintf(msg, size, "%s ids differ from the CPU's", zf_cu_dtype_name(t));
            bad = 1;
        } else if (!same(wt, gw, w.h, m * k, &at)) {
            snprintf(msg, size, "%s weights[%lld]: cuda %.9g, cpu %.9g", zf_cu_dtype_name(t), (long long)at,
                     zf_load(wt, gw, at), zf_load(wt, w.h, at));
            bad = 1;
        }
    }
    drop(&l), drop(&ids), drop(&w);
    return bad;
}

} // namespace

int zf_cu_selftest_moe(const zf_variant *v, char *msg, size_t msg_size) {
    static const int bits_list[] = {2, 3, 4, 5, 6, 8};
    static const int gs_list[] = {32, 64, 128};
    cudaStream_t s;
    cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    if (e != cudaSuccess) return fail(msg, msg_size, "stream", e);
    uint64_t rng = 0x2545f4914f6cdd1dull ^ ((uint64_t)v->op << 8) ^ (uint64_t)v->fidelity;
    int bad = 0;
    if (v->op == ZF_OP_MOE_ROUTE) {
        for (int dt = 0; dt < 3 && !bad; dt++) /* E = 37: the warp kernel; 300 experts, top-40: the CTA one */
            for (int c = 0; c < 2 && !bad; c++)
                bad = route_case(v, (zf_dtype)dt, dt == 1 ? ZF_DTYPE_F32 : (zf_dtype)dt, dt != 2, c ? 300 : 37,
                                 c ? 40 : 5, &rng, s, msg, msg_size);
    } else {
        for (int b = 0; b < 6 && !bad; b++)
            for (int64_t m = 1; m <= 5 && !bad; m += 4) /* m = 5: 10 pairs, the grouped path */
                bad = qcase(v, bits_list[b], gs_list[(b + m) % 3], (zf_dtype)(b % 3), (zf_dtype)((b + 1 + m) % 3), m,
                            &rng, s, msg, msg_size);
        /* one token, 4-bit, bf16 x with bf16 scales, k = 256 (the int8 kernels' too): the decode
         * kernels' own code for those dtypes (zf_cu_spec_kernel), which the cases above miss */
        if (!bad && v->op != ZF_OP_QMM) bad = qcase(v, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 1, &rng, s, msg, msg_size, 256);
        /* approx: 8 tokens of 2 slots over 16 experts, k = 256: the tensor-core kernel */
        if (!bad && v->fidelity == ZF_FIDELITY_APPROX && v->op != ZF_OP_QMM && v->op != ZF_OP_GATHER_QMM)
            bad = qcase(v, 4, 64, ZF_DTYPE_BF16, ZF_DTYPE_F16, 8, &rng, s, msg, msg_size, 256);
        /* approx qmm: one x row on 4- and 8-bit weights, k = 256: the int8 kernel (the cases above
         * with 4-byte scale rows are few) */
        for (int b = 4; b <= 8 && !bad && v->fidelity == ZF_FIDELITY_APPROX && v->op == ZF_OP_QMM; b += 4)
            bad = qcase(v, b, 64, ZF_DTYPE_BF16, ZF_DTYPE_BF16, 1, &rng, s, msg, msg_size, 256);
    }
    cudaStreamDestroy(s);
    return bad;
}
