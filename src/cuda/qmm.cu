/* Quantized matmul on CUDA: the gathered-dot kernel behind qmm, gather_qmm
 * and the fused MoE ops, the device-side grouping of (token, slot) pairs by
 * expert, and the qmm / gather_qmm entry points.
 *
 * A CTA is 256 threads = 32 thread groups of 8, one weight row each
 * (qdot.cuh). Few tokens: one CTA row-tile per pair. Many tokens: a
 * one-CTA kernel sorts the pairs by expert; then a CTA per (expert, row
 * tile) computes all of the expert's pairs (qexpert.cu), or, when k is too
 * large to stage x, batches of <= 4 pairs each read the weight rows once.
 * Every dot is the canonical one, so the
 * grouping changes no bit. ids are never checked on the host (that would
 * need a sync): a pair whose id is outside [0, experts) reads no weight and
 * gets NaN outputs. */
#include "cuda/check.cuh"
#include "cuda/divmod.cuh"
#include "cuda/kernels.cuh"
#include "cuda/qdot.cuh"
#include "cuda/zmath.cuh"

#define QG_THREADS 256
#define QG_ROWS (QG_THREADS / 8)

enum { ITEM_PAIR, ITEM_ROWS, ITEM_BATCH };

struct qg_ctx {
    zf_cu_qargs a;
    zf_cu_qepi epi;
    int item_mode;
    int64_t n_items;        /* PAIR / ROWS; BATCH reads *n_batches */
    const int4 *batches;    /* {first, count, expert (-1: invalid ids), 0} */
    const int32_t *sorted;  /* pair indices grouped by expert */
    const int32_t *n_batches;
    bool xvec, wide;
};

__device__ __forceinline__ int64_t expert_of(const zf_cu_qargs &a, int64_t p) {
    if (!a.ids) return 0;
    int s;
    const int64_t t = zf_cu_divmod64(p, (int)a.slots, &s); /* token t, slot s */
    const int64_t e = a.ids[t * a.ids_stride + s];
    return e >= 0 && e < a.w[0].experts ? e : -1;
}

template <int BITS, int NX, int NW> __global__ void __launch_bounds__(QG_THREADS) qg_kernel(const qg_ctx c) {
    const zf_cu_qargs &a = c.a;
    const int g = threadIdx.x / 8, lane = threadIdx.x % 8;
    const int64_t row = (int64_t)blockIdx.x * QG_ROWS + g, n = a.w[0].n;
    const size_t xes = a.xt == ZF_DTYPE_F32 ? 4 : 2;
    zf_cu_wait_prior();
    const int64_t items = c.item_mode == ITEM_BATCH ? *c.n_batches : c.n_items;
    for (int64_t item = blockIdx.y; item < items; item += gridDim.y) {
        int64_t pair[NX], e;
        int nx;
        if (c.item_mode == ITEM_PAIR) {
            pair[0] = item, nx = 1, e = expert_of(a, item);
        } else if (c.item_mode == ITEM_ROWS) {
            nx = (int)(a.m - item * NX < NX ? a.m - item * NX : NX);
            for (int i = 0; i < NX; i++) pair[i] = item * NX + (i < nx ? i : 0);
            e = 0;
        } else {
            const int4 b = c.batches[item];
            nx = b.y, e = b.z;
            for (int i = 0; i < NX; i++) pair[i] = c.sorted[b.x + (i < nx ? i : 0)];
        }
        const void *xrow[NX];
        for (int i = 0; i < NX; i++) {
            const int64_t xr = a.x_per_slot ? pair[i] : zf_cu_div64(pair[i], (int)a.slots);
            xrow[i] = (const char *)a.x + (size_t)(xr * a.x_row_stride) * xes;
        }
        const bool active = row < n && e >= 0;
        zf_cu_wrow wr[NW];
        for (int m = 0; m < NW; m++) wr[m] = zf_cu_wrow_of(a.w[m], active ? e : 0, active ? row : 0);
        float d[NW][NX];
        zf_cu_tg_dot<BITS, NX, NW>(a.w, wr, xrow, nx, a.xt, c.xvec, c.wide, lane, active, d);
        if (row >= n) continue;
#pragma unroll
        for (int i = 0; i < NX; i++) {
            if (i != lane || i >= nx) continue; /* thread i of the TG writes pair i */
            zf_cu_qstore(a, c.epi, pair[i], row, e >= 0 ? d[0][i] : zf_cu_nan(), e >= 0 ? d[NW - 1][i] : zf_cu_nan());
        }
    }
    zf_cu_release_next();
}

/* Exclusive prefix sums of v.x and v.y over the CTA's threads (whole
 * warps, up to 1024), and their totals: a shuffle scan per warp, then one
 * over the warps' sums. */
__device__ int2 block_exclusive_sum2(int2 v, int2 *total) {
    __shared__ int2 warp_sum[32];
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
    int2 inc = v;
    for (int o = 1; o < 32; o *= 2) {
        const int x = __shfl_up_sync(0xffffffffu, inc.x, o), y = __shfl_up_sync(0xffffffffu, inc.y, o);
        if (lane >= o) inc.x += x, inc.y += y;
    }
    if (lane == 31) warp_sum[w] = inc;
    __syncthreads();
    if (w == 0) {
        int2 t = lane < nw ? warp_sum[lane] : make_int2(0, 0);
        for (int o = 1; o < 32; o *= 2) {
            const int x = __shfl_up_sync(0xffffffffu, t.x, o), y = __shfl_up_sync(0xffffffffu, t.y, o);
            if (lane >= o) t.x += x, t.y += y;
        }
        if (lane < nw) warp_sum[lane] = t; /* now inclusive over warps */
    }
    __syncthreads();
    const int2 base = w ? warp_sum[w - 1] : make_int2(0, 0);
    *total = warp_sum[nw - 1];
    return make_int2(base.x + inc.x - v.x, base.y + inc.y - v.y);
}

/* One CTA: pairs counted per expert (invalid ids in an extra bucket E),
 * cut into batches of <= NX, then scattered into `sorted`; on return
 * start[e] is the end of bucket e. The order of pairs inside an expert
 * varies from run to run; no result depends on it. */
__global__ void __launch_bounds__(1024) group_kernel(const int32_t *ids, int64_t ids_stride, int64_t m, int64_t slots,
                                                      int64_t E, int32_t *count, int32_t *start, int4 *batches,
                                                      int32_t *n_batches, int32_t *sorted) {
    const int64_t np = m * slots;
    zf_cu_wait_prior();
    for (int64_t e = threadIdx.x; e <= E; e += blockDim.x) count[e] = 0;
    __syncthreads();
    for (int64_t p = threadIdx.x; p < np; p += blockDim.x) {
        int s;
        const int64_t t = zf_cu_divmod64(p, (int)slots, &s), e = ids[t * ids_stride + s];
        atomicAdd(&count[e >= 0 && e < E ? e : E], 1);
    }
    __syncthreads();
    { /* pair and batch offsets per bucket: thread i takes buckets [i per, (i + 1) per) */
        const int64_t per = (E + blockDim.x) / blockDim.x, b0 = threadIdx.x * per, b1 = b0 + per < E + 1 ? b0 + per : E + 1;
        int2 mine = make_int2(0, 0), total;
        for (int64_t e = b0; e < b1; e++) {
            const int32_t k = __ldcg(count + e);
            mine.x += k, mine.y += (k + ZF_CU_QNX - 1) / ZF_CU_QNX;
        }
        const int2 before = block_exclusive_sum2(mine, &total);
        int32_t pos = before.x, nb = before.y;
        for (int64_t e = b0; e < b1; e++) {
            const int32_t k = __ldcg(count + e);
            start[e] = pos;
            count[e] = nb; /* now: first batch of bucket e */
            pos += k;
            nb += (k + ZF_CU_QNX - 1) / ZF_CU_QNX;
        }
        if (threadIdx.x == 0) *n_batches = total.y;
    }
    __syncthreads();
    for (int64_t e = threadIdx.x; e <= E; e += blockDim.x) {
        int32_t first = start[e], k = (e < E ? start[e + 1] : (int32_t)np) - first;
        for (int32_t f = 0; f < k; f += ZF_CU_QNX)
            batches[count[e] + f / ZF_CU_QNX] =
                make_int4(first + f, k - f < ZF_CU_QNX ? k - f : ZF_CU_QNX, e < E ? (int)e : -1, 0);
    }
    __syncthreads();
    for (int64_t p = threadIdx.x; p < np; p += blockDim.x) {
        int s;
        const int64_t t = zf_cu_divmod64(p, (int)slots, &s), e = ids[t * ids_stride + s];
        sorted[atomicAdd(&start[e >= 0 && e < E ? e : E], 1)] = (int32_t)p;
    }
    zf_cu_release_next();
}

template <int NX, int NW> static cudaError_t qg_launch_bits(const qg_ctx &c, int bits, dim3 grid, cudaStream_t s) {
    switch (bits) {
    case 2: return zf_cu_launch(qg_kernel<2, NX, NW>, grid, dim3(QG_THREADS), 0, s, c);
    case 3: return zf_cu_launch(qg_kernel<3, NX, NW>, grid, dim3(QG_THREADS), 0, s, c);
    case 4: return zf_cu_launch(qg_kernel<4, NX, NW>, grid, dim3(QG_THREADS), 0, s, c);
    case 5: return zf_cu_launch(qg_kernel<5, NX, NW>, grid, dim3(QG_THREADS), 0, s, c);
    case 6: return zf_cu_launch(qg_kernel<6, NX, NW>, grid, dim3(QG_THREADS), 0, s, c);
    case 8: return zf_cu_launch(qg_kernel<8, NX, NW>, grid, dim3(QG_THREADS), 0, s, c);
    default: return cudaErrorInvalidValue;
    }
}

static int64_t max_batches_of(const zf_cu_qargs *a) {
    const int64_t np = a->m * a->slots, E = a->w[0].experts;
    return np / ZF_CU_QNX + (E + 1 < np ? E + 1 : np);
}

size_t zf_cu_qgroup_bytes(const zf_cu_qargs *a) {
    const int64_t E = a->w[0].experts, np = a->m * a->slots;
    return (size_t)(2 * (E + 1) + 1 + np) * 4 + (size_t)max_batches_of(a) * 16 + 16;
}

cudaError_t zf_cu_qgroup(const zf_cu_qargs *a, void *scratch, zf_cu_qgroups *g, cudaStream_t s) {
    const int64_t E = a->w[0].experts;
    g->max_batches = max_batches_of(a);
    g->batches = (int4 *)scratch; /* 16-byte aligned: cudaMallocAsync memory is 256-byte aligned */
    int32_t *count = (int32_t *)(g->batches + g->max_batches);
    g->ends = count + E + 1;
    g->n_batches = g->ends + E + 1;
    g->sorted = g->n_batches + 1;
    return zf_cu_launch(group_kernel, dim3(1), dim3(1024), 0, s, a->ids, a->ids_stride, a->m, a->slots, E, count, g->ends,
                        g->batches, g->n_batches, g->sorted);
}

static bool aligned(const void *p, size_t b) { return ((uintptr_t)p % b) == 0; }

cudaError_t zf_cu_qgather(const zf_cu_qargs *a, zf_cu_qepi epi, cudaStream_t s) {
    qg_ctx c = {};
    c.a = *a;
    c.epi = epi;
    const size_t xes = a->xt == ZF_DTYPE_F32 ? 4 : 2;
    c.xvec = aligned(a->x, 16) && (a->x_row_stride * (int64_t)xes) % 16 == 0;
    c.wide = aligned(a->w[0].packed, 16) && (a->nw < 2 || aligned(a->w[1].packed, 16));
    const int64_t np = a->m * a->slots, n = a->w[0].n;
    const unsigned gx = (unsigned)((n + QG_ROWS - 1) / QG_ROWS);
    const bool two = a->nw == 2;
    if (!a->ids && a->m <= ZF_CU_QDECODE_ROWS && zf_cu_qdecode_fits(a)) /* decode qmm: x staged once per CTA */
        return zf_cu_qdecode_pairs(a, epi, s);
    if (!a->ids) { /* qmm: consecutive x rows share expert 0 */
        c.item_mode = ITEM_ROWS;
        c.n_items = (a->m + ZF_CU_QNX - 1) / ZF_CU_QNX;
        dim3 grid(gx, (unsigned)(c.n_items < 65535 ? c.n_items : 65535));
        return two ? qg_launch_bits<ZF_CU_QNX, 2>(c, a->w[0].bits, grid, s)
                   : qg_launch_bits<ZF_CU_QNX, 1>(c, a->w[0].bits, grid, s);
    }
    if (!zf_cu_qgrouped(a)) {
        if (zf_cu_qdecode_fits(a)) return zf_cu_qdecode_pairs(a, epi, s);
        c.item_mode = ITEM_PAIR;
        c.n_items = np;
        dim3 grid(gx, (unsigned)(np < 65535 ? np : 65535));
        return two ? qg_launch_bits<1, 2>(c, a->w[0].bits, grid, s) : qg_launch_bits<1, 1>(c, a->w[0].bits, grid, s);
    }
    /* grouped: pairs sorted by expert, then a CTA per expert and row tile */
    char *scr;
    cudaError_t err = cudaMallocAsync((void **)&scr, zf_cu_qgroup_bytes(a), s);
    if (err != cudaSuccess) return err;
    zf_cu_qgroups gr;
    err = zf_cu_qgroup(a, scr, &gr, s);
    if (err == cudaSuccess && zf_cu_qexpert_fits(a)) {
        err = zf_cu_qexpert(a, epi, gr.sorted, gr.ends, c.xvec, c.wide, s);
    } else if (err == cudaSuccess) {
        c.item_mode = ITEM_BATCH;
        c.batches = gr.batches;
        c.sorted = gr.sorted;
        c.n_batches = gr.n_batches;
        dim3 grid(gx, (unsigned)(gr.max_batches < 65535 ? gr.max_batches : 65535));
        err = two ? qg_launch_bits<ZF_CU_QNX, 2>(c, a->w[0].bits, grid, s)
                  : qg_launch_bits<ZF_CU_QNX, 1>(c, a->w[0].bits, grid, s);
    }
    cudaError_t f = cudaFreeAsync(scr, s);
    return err != cudaSuccess ? err : f;
}

cudaError_t zf_cu_qmm(const zf_cu_qargs *a, cudaStream_t s) { return zf_cu_qgather(a, ZF_QEPI_STORE, s); }

/* approx (edge): the int8 decode kernel where it fits, else the stock path (qmm has no fast variant) */
cudaError_t zf_cu_qmm_i8(const zf_cu_qargs *a, cudaStream_t s) {
    return zf_cu_qi8_qmm_fits(a) ? zf_cu_qi8_qmm(a, s) : zf_cu_qmm(a, s);
}
cudaError_t zf_cu_gather_qmm(const zf_cu_qargs *a, cudaStream_t s) { return zf_cu_qgather(a, ZF_QEPI_STORE, s); }

/* ---- checks (host) ------------------------------------------------------------ */

zf_status zf_cu_check_qweight(const char *op, const char *arg, const zf_qweight *w) {
    ZF_TRY(zf_cu_host->check_qlayout(op, arg, w));
    if (w->device != ZF_DEVICE_CUDA)
        return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] %s is not on the CUDA device; every operand must be", op, arg);
    if (!aligned(w->packed, 4) || !aligned(w->scales, zf_cu_dtype_size(w->scale_dtype)) ||
        !aligned(w->biases, zf_cu_dtype_size(w->scale_dtype)))
        return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] %s has a misaligned packed, scales or biases pointer", op, arg);
    return ZF_OK;
}

zf_cu_qw zf_cu_qw_of(const zf_qweight *w) {
    zf_cu_qw q = {w->packed, w->scales, w->biases, w->scale_dtype, w->bits, w->group_size, w->experts, w->n, w->k};
    return q;
}

zf_status zf_cu_on_cuda(const char *op, const char *arg, const zf_tensor *t) {
    if (t->device != ZF_DEVICE_CUDA)
        return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] %s is not on the CUDA device; every operand must be", op, arg);
    return ZF_OK;
}

zf_status zf_cu_check_i32(const char *op, const char *arg, const zf_tensor *t) {
    if (t->shape[0] < 1 || t->shape[1] < 1 || t->stride[0] < 0 || t->stride[1] != 1)
        return ZF_ERR(ZF_ERR_SHAPE, "[%s] %s must be [m, slots] with m, slots >= 1 and contiguous rows", op, arg);
    if (!t->data) return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] %s has a NULL data pointer", op, arg);
    ZF_TRY(zf_cu_on_cuda(op, arg, t));
    if (!aligned(t->data, 4)) return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] %s is not 4-byte aligned", op, arg);
    return ZF_OK;
}

zf_status zf_cu_check_gather(const char *op, const zf_tensor *x, const char *xname, const zf_qweight *w,
                             const char *wname, const zf_tensor *ids, zf_cu_qargs *a) {
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(zf_cu_check_qweight(op, wname, w));
    ZF_TRY(H->check_float(op, xname, x));
    ZF_TRY(zf_cu_on_cuda(op, xname, x));
    if (!ids) return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] ids is NULL", op);
    if (ids->ndim != 2) return ZF_ERR(ZF_ERR_SHAPE, "[%s] ids has %d dims; expected [m, slots]", op, ids->ndim);
    if (ids->dtype != ZF_DTYPE_I32)
        return ZF_ERR(ZF_ERR_DTYPE, "[%s] ids has dtype %s; expected i32", op, zf_cu_dtype_name(ids->dtype));
    ZF_TRY(zf_cu_check_i32(op, "ids", ids));
    zf_rows ir;
    ZF_TRY(H->as_rows(op, "ids", ids, &ir));
    const int64_t m = ids->shape[0], slots = ids->shape[1];
    int xps;
    if (x->ndim == 2 && x->shape[0] == m && x->shape[1] == w->k) {
        xps = 0;
    } else if (x->ndim == 3 && x->shape[0] == m && x->shape[1] == slots && x->shape[2] == w->k) {
        xps = 1;
    } else {
        return ZF_ERR(ZF_ERR_SHAPE, "[%s] %s must be [m, k] = [%lld, %lld] or [m, slots, k] = [%lld, %lld, %lld]", op,
                      xname, (long long)m, (long long)w->k, (long long)m, (long long)slots, (long long)w->k);
    }
    if (m * slots > INT32_MAX)
        return ZF_ERR(ZF_ERR_SHAPE, "[%s] ids has %lld pairs; at most 2^31 - 1", op, (long long)(m * slots));
    zf_rows xr;
    ZF_TRY(H->as_rows(op, xname, x, &xr));
    if (!aligned(x->data, zf_cu_dtype_size(x->dtype)))
        return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] %s is misaligned for its dtype", op, xname);
    *a = zf_cu_qargs{};
    a->w[0] = zf_cu_qw_of(w);
    a->nw = 1;
    a->xt = x->dtype;
    a->x = x->data;
    a->x_row_stride = xr.row_stride;
    a->x_per_slot = xps;
    a->m = m;
    a->slots = slots;
    a->ids = (const int32_t *)ids->data;
    a->ids_stride = ir.row_stride;
    return ZF_OK;
}

/* y [m, slots, n] (gather) or [m, n] (qmm) of x's dtype, on the device, not
 * overlapping x; its rows into a. */
static zf_status check_out(const char *op, const zf_tensor *y, const zf_tensor *x, int64_t slots, int ndim,
                           zf_cu_qargs *a) {
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(H->check_float(op, "y", y));
    if (y->dtype != x->dtype)
        return ZF_ERR(ZF_ERR_DTYPE, "[%s] y is %s but x is %s; expected one dtype", op, zf_cu_dtype_name(y->dtype),
                      zf_cu_dtype_name(x->dtype));
    const int64_t m = a->m, n = a->w[0].n;
    bool ok = y->ndim == ndim && y->shape[0] == m && y->shape[ndim - 1] == n && (ndim == 2 || y->shape[1] == slots);
    if (!ok)
        return ndim == 2 ? ZF_ERR(ZF_ERR_SHAPE, "[%s] y must be [m, n] = [%lld, %lld]", op, (long long)m, (long long)n)
                         : ZF_ERR(ZF_ERR_SHAPE, "[%s] y must be [m, slots, n] = [%lld, %lld, %lld]", op,
                                  (long long)m, (long long)slots, (long long)n);
    ZF_TRY(zf_cu_on_cuda(op, "y", y));
    if (y->data == x->data) return ZF_ERR(ZF_ERR_ALIAS, "[%s] y overlaps x; it needs its own memory", op);
    ZF_TRY(H->check_alias(op, "y", y, "x", x));
    zf_rows yr;
    ZF_TRY(H->as_rows(op, "y", y, &yr));
    a->out = yr.data;
    a->out_row_stride = yr.row_stride;
    return ZF_OK;
}

static zf_status run(const char *op, zf_op id, const zf_cu_qargs *a, const zf_opts *o) {
    const zf_variant *v;
    ZF_TRY(zf_cu_host->pick(id, ZF_DEVICE_CUDA, o ? o->fidelity : ZF_FIDELITY_AUTO, &v));
    cudaError_t e = ((zf_cu_qfn)v->fn)(a, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail(op, v->name, e);
}

zf_status zf_cuda_qmm(const zf_tensor *x, const zf_qweight *w, zf_tensor *y, const zf_opts *o) {
    const char *op = "qmm";
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(zf_cu_check_qweight(op, "w", w));
    ZF_TRY(H->check_float(op, "x", x));
    if (x->ndim != 2 || x->shape[1] != w->k)
        return ZF_ERR(ZF_ERR_SHAPE, "[qmm] x must be [m, k] with k = %lld (w's k)", (long long)w->k);
    ZF_TRY(zf_cu_on_cuda(op, "x", x));
    zf_rows xr;
    ZF_TRY(H->as_rows(op, "x", x, &xr));
    if (!aligned(x->data, zf_cu_dtype_size(x->dtype)))
        return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] x is misaligned for its dtype", op);
    zf_cu_qargs a = {};
    a.w[0] = zf_cu_qw_of(w);
    a.nw = 1;
    a.xt = x->dtype;
    a.x = x->data;
    a.x_row_stride = xr.row_stride;
    a.m = x->shape[0];
    a.slots = 1;
    ZF_TRY(check_out(op, y, x, 1, 2, &a));
    return run(op, ZF_OP_QMM, &a, o);
}

zf_status zf_cuda_gather_qmm(const zf_tensor *x, const zf_qweight *w, const zf_tensor *ids, zf_tensor *y,
                             const zf_opts *o) {
    const char *op = "gather_qmm";
    zf_cu_qargs a;
    ZF_TRY(zf_cu_check_gather(op, x, "x", w, "w", ids, &a));
    ZF_TRY(check_out(op, y, x, a.slots, 3, &a));
    return run(op, ZF_OP_GATHER_QMM, &a, o);
}
