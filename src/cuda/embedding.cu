/* Token embedding on CUDA: rows of a float table (converted to out's dtype,
 * the bits copied when they match) or of an affine-quantized table,
 * w = T(scale * q + bias): a product, then a sum, no fma (src/cpu/embedding.c). */
#include <math.h>

#include "cuda/model_ops.cuh"
#include "cuda/qmm.cuh"

/* q of element j of a row packed LSB-first into little-endian u32 words. */
__device__ __forceinline__ uint32_t unpack_q(const uint32_t *row, int64_t j, int bits) {
    int64_t bit = j * bits;
    int64_t w = bit >> 5;
    int sh = (int)(bit & 31);
    uint64_t v = row[w] >> sh;
    if (sh + bits > 32) v |= (uint64_t)row[w + 1] << (32 - sh);
    return (uint32_t)v & ((1u << bits) - 1u);
}

/* DT: the table's dtype, or -1 for an affine table. Block per output row. */
template <int DT, int DO> __global__ void embed_kernel(const zf_cu_embed_args a) {
    zf_cu_wait_prior();
    for (int64_t i = blockIdx.x; i < a.m; i += gridDim.x) {
        int64_t id = a.ids[i];
        char *dst = (char *)a.out + (size_t)(i * a.out_stride) * sizeof(typename zf_cu_elem<DO>::type);
        bool ok = id >= 0 && id < a.vocab;
        for (int64_t c = threadIdx.x; c < a.dim; c += blockDim.x) {
            if (!ok) {
                zf_cu_store<DO>(dst, c, NAN);
            } else if constexpr (DT < 0) {
                int64_t words = a.dim * a.bits / 32, g = id * (a.dim / a.group_size) + c / a.group_size;
                float s = zf_cu_load_any(a.st, a.scales, g), b = zf_cu_load_any(a.st, a.biases, g);
                float q = (float)unpack_q(a.packed + id * words, c, a.bits);
                zf_cu_store<DO>(dst, c, __fadd_rn(__fmul_rn(s, q), b));
            } else if constexpr (DT == DO) {
                typedef typename zf_cu_elem<DT>::type E;
                ((E *)dst)[c] = ((const E *)a.table)[id * a.table_stride + c];
            } else {
                zf_cu_store<DO>(dst, c, zf_cu_load<DT>(a.table, id * a.table_stride + c));
            }
        }
    }
}

template <int DT> static cudaError_t embed_to(const zf_cu_embed_args *a, cudaStream_t s) {
    dim3 g((unsigned)(a->m < 65535 ? a->m : 65535)), b(a->dim >= 256 ? 256 : 64);
    switch (a->to) {
    case ZF_DTYPE_F32: return zf_cu_launch(embed_kernel<DT, 0>, g, b, 0, s, *a);
    case ZF_DTYPE_F16: return zf_cu_launch(embed_kernel<DT, 1>, g, b, 0, s, *a);
    case ZF_DTYPE_BF16: return zf_cu_launch(embed_kernel<DT, 2>, g, b, 0, s, *a);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t zf_cu_embedding(const zf_cu_embed_args *a, cudaStream_t s) {
    if (a->packed) return embed_to<-1>(a, s);
    switch (a->tt) {
    case ZF_DTYPE_F32: return embed_to<0>(a, s);
    case ZF_DTYPE_F16: return embed_to<1>(a, s);
    case ZF_DTYPE_BF16: return embed_to<2>(a, s);
    default: return cudaErrorInvalidValue;
    }
}

/* ---- checked entry points ----------------------------------------------------- */

static zf_status check_ids_out(const zf_tensor *ids, const zf_tensor *out, int64_t dim, zf_rows *r) {
    const zf_cuda_host *H = zf_cu_host;
    if (!ids) return ZF_ERR(ZF_ERR_INVALID_ARG, "[embedding] ids is NULL");
    if (ids->dtype != ZF_DTYPE_I32)
        return ZF_ERR(ZF_ERR_DTYPE, "[embedding] ids has dtype %s; expected i32", zf_cu_dtype_name(ids->dtype));
    if (ids->ndim != 1 || ids->shape[0] < 1 || ids->stride[0] != 1 || !ids->data)
        return ZF_ERR(ZF_ERR_SHAPE, "[embedding] ids must be a contiguous i32 vector [tokens] of at least 1");
    ZF_TRY(zf_cu_on_device("embedding", "ids", ids));
    ZF_TRY(H->check_float("embedding", "out", out));
    ZF_TRY(zf_cu_on_device("embedding", "out", out));
    ZF_TRY(H->as_rows("embedding", "out", out, r));
    if (r->rows != ids->shape[0] || r->cols != dim)
        return ZF_ERR(ZF_ERR_SHAPE, "[embedding] out is %lld x %lld; expected %lld x %lld (tokens x dim)",
                      (long long)r->rows, (long long)r->cols, (long long)ids->shape[0], (long long)dim);
    return ZF_OK;
}

typedef cudaError_t (*embed_fn)(const zf_cu_embed_args *, cudaStream_t);

static zf_status launch(const zf_cu_embed_args *a, const zf_opts *o) {
    const zf_variant *v;
    ZF_TRY(zf_cu_pick(ZF_OP_EMBEDDING, o, &v));
    cudaError_t e = ((embed_fn)v->fn)(a, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail("embedding", v->name, e);
}

static zf_status float_args(const zf_tensor *table, const zf_tensor *ids, zf_tensor *out, zf_cu_embed_args *a) {
    const zf_cuda_host *H = zf_cu_host;
    ZF_TRY(H->check_float("embedding", "table", table));
    if (table->ndim != 2)
        return ZF_ERR(ZF_ERR_SHAPE, "[embedding] table has %d axes; expected 2 ([vocab, dim])", table->ndim);
    ZF_TRY(zf_cu_on_device("embedding", "table", table));
    zf_rows r;
    ZF_TRY(check_ids_out(ids, out, table->shape[1], &r));
    ZF_TRY(H->check_alias("embedding", "out", out, "table", table));
    *a = zf_cu_embed_args{};
    a->table = table->data;
    a->tt = table->dtype;
    a->table_stride = table->stride[0];
    a->ids = (const int32_t *)ids->data;
    a->m = r.rows;
    a->vocab = table->shape[0];
    a->dim = r.cols;
    a->out = r.data;
    a->to = out->dtype;
    a->out_stride = r.row_stride;
    return ZF_OK;
}

static zf_status quant_args(const zf_qweight *w, const zf_tensor *ids, zf_tensor *out, zf_cu_embed_args *a) {
    ZF_TRY(zf_cu_check_qweight("embedding", "table", w));
    if (w->experts != 1)
        return ZF_ERR(ZF_ERR_SHAPE, "[embedding] table has %lld experts; expected 1", (long long)w->experts);
    zf_rows r;
    ZF_TRY(check_ids_out(ids, out, w->k, &r));
    *a = zf_cu_embed_args{};
    a->packed = w->packed;
    a->scales = w->scales;
    a->biases = w->biases;
    a->st = w->scale_dtype;
    a->bits = w->bits;
    a->group_size = w->group_size;
    a->ids = (const int32_t *)ids->data;
    a->m = r.rows;
    a->vocab = w->n;
    a->dim = r.cols;
    a->out = r.data;
    a->to = out->dtype;
    a->out_stride = r.row_stride;
    return ZF_OK;
}

zf_status zf_cuda_embedding(const zf_tensor *table, const zf_tensor *ids, zf_tensor *out, const zf_opts *o) {
    zf_cu_embed_args a;
    ZF_TRY(float_args(table, ids, out, &a));
    return launch(&a, o);
}

zf_status zf_cuda_embedding_q(const zf_qweight *w, const zf_tensor *ids, zf_tensor *out, const zf_opts *o) {
    zf_cu_embed_args a;
    ZF_TRY(quant_args(w, ids, out, &a));
    return launch(&a, o);
}

/* Float tables of each dtype into each dtype, then 3-, 4- and 6-bit tables
 * with f16 scales; 11 rows of 64, 5 ids with repeats. */
int zf_cu_selftest_embedding(const zf_variant *v, char *msg, size_t size) {
    uint64_t rng = 0x13198a2e03707344ull;
    const int64_t ts[2] = {11, 64}, is[1] = {5}, os[2] = {5, 64};
    const zf_backend_ops *cpu = zf_cu_host->cpu;
    zf_opts stock = {ZF_FIDELITY_STOCK, NULL};
    int fail = 0;
    for (int c = 0; c < 12 && !fail; c++) {
        int quant = c >= 9, tt = quant ? 0 : c / 3, to = quant ? c - 9 : c % 3, bits = c == 9 ? 3 : c == 10 ? 4 : 6;
        zf_cu_st_buf tab = {}, ids = {}, out = {}, packed = {}, sc = {}, bi = {};
        fail = zf_cu_st_make(&tab, (zf_dtype)tt, 2, ts, 3.0f, &rng, msg, size) ||
               zf_cu_st_make(&ids, ZF_DTYPE_I32, 1, is, 11.0f, &rng, msg, size) ||
               zf_cu_st_make(&out, (zf_dtype)to, 2, os, 0.0f, &rng, msg, size);
        zf_qweight qh = {}, qd = {};
        if (!fail && quant) {
            const int64_t ps[1] = {11 * 64 * bits / 32}, gs[1] = {11 * 64 / 32};
            fail = zf_cu_st_make(&packed, ZF_DTYPE_U32, 1, ps, 0.0f, &rng, msg, size) ||
                   zf_cu_st_make(&sc, ZF_DTYPE_F16, 1, gs, 0.0f, &rng, msg, size) ||
                   zf_cu_st_make(&bi, ZF_DTYPE_F16, 1, gs, 0.0f, &rng, msg, size);
            qh = {(const uint32_t *)packed.host.data, sc.host.data, bi.host.data, ZF_DTYPE_F16, bits, 32, 1, 11, 64,
                  ZF_DEVICE_CPU};
            if (!fail && cpu->quantize(&tab.host, &qh) != ZF_OK) {
                snprintf(msg, size, "CPU quantize failed");
                fail = 1;
            }
            for (zf_cu_st_buf *b : {&packed, &sc, &bi})
                if (!fail && cudaMemcpy(b->dev.data, b->host.data, b->bytes, cudaMemcpyHostToDevice) != cudaSuccess)
                    fail = 1;
            qd = qh;
            qd.packed = (const uint32_t *)packed.dev.data;
            qd.scales = sc.dev.data;
            qd.biases = bi.dev.data;
            qd.device = ZF_DEVICE_CUDA;
        }
        zf_cu_embed_args a;
        zf_status st = ZF_OK;
        if (!fail) {
            st = quant ? cpu->embedding_q(&qh, &ids.host, &out.host, &stock)
                       : cpu->embedding(&tab.host, &ids.host, &out.host, &stock);
            if (st == ZF_OK) st = quant ? quant_args(&qd, &ids.dev, &out.dev, &a) : float_args(&tab.dev, &ids.dev, &out.dev, &a);
            if (st != ZF_OK) {
                snprintf(msg, size, "the CPU embedding or the argument check failed");
                fail = 1;
            }
        }
        cudaError_t e = fail ? cudaSuccess : ((embed_fn)v->fn)(&a, 0);
        if (e != cudaSuccess) { snprintf(msg, size, "launch: %s", cudaGetErrorName(e)); fail = 1; }
        if (!fail) fail = zf_cu_st_compare(&out, quant ? "quantized table out" : "out", msg, size);
        for (zf_cu_st_buf *b : {&tab, &ids, &out, &packed, &sc, &bi}) zf_cu_st_free(b);
    }
    return fail;
}
