/* Elementwise ops on CUDA: add, mul, silu (+ VJP) and the fused swiglu
 * (+ VJP). One kernel template over (dtype, op): 16-byte vectors where
 * every operand's rows are 16-byte aligned, single elements for the row
 * tails (and for unaligned operands). The per-element math is
 * src/cpu/elementwise.c's scalar kernels, operation for operation. */
#include "cuda/check.cuh"
#include "cuda/dtype.cuh"
#include "cuda/kernels.cuh"
#include "cuda/zmath.cuh"

/* ---- per-element math ---------------------------------------------------- */

struct op_add {
    enum { n_in = 2, n_out = 1, heavy = 0 };
    template <int DT> __device__ static void f(const float *a, float *o) { o[0] = __fadd_rn(a[0], a[1]); }
};
struct op_mul {
    enum { n_in = 2, n_out = 1, heavy = 0 };
    template <int DT> __device__ static void f(const float *a, float *o) { o[0] = __fmul_rn(a[0], a[1]); }
};
struct op_silu {
    enum { n_in = 1, n_out = 1, heavy = 1 };
    template <int DT> __device__ static void f(const float *a, float *o) { o[0] = zf_cu_silu(a[0]); }
};
struct op_silu_vjp { /* a = (x, d_out) */
    enum { n_in = 2, n_out = 1, heavy = 1 };
    template <int DT> __device__ static void f(const float *a, float *o) {
        o[0] = __fmul_rn(a[1], zf_cu_silu_grad(a[0]));
    }
};
struct op_swiglu_exact { /* T(T(silu(g)) * u) */
    enum { n_in = 2, n_out = 1, heavy = 1 };
    template <int DT> __device__ static void f(const float *a, float *o) {
        o[0] = __fmul_rn(zf_cu_round<DT, ZF_CU_COMPUTED>(zf_cu_silu(a[0])), a[1]);
    }
};
struct op_swiglu_fast { /* T(silu(g) * u) */
    enum { n_in = 2, n_out = 1, heavy = 1 };
    template <int DT> __device__ static void f(const float *a, float *o) { o[0] = __fmul_rn(zf_cu_silu(a[0]), a[1]); }
};
struct op_swiglu_vjp_exact { /* a = (g, u, d); o = (d_gate, d_up) */
    enum { n_in = 3, n_out = 2, heavy = 1 };
    template <int DT> __device__ static void f(const float *a, float *o) {
        float s = zf_cu_round<DT, ZF_CU_COMPUTED>(zf_cu_silu(a[0]));
        float ds = zf_cu_round<DT, ZF_CU_COMPUTED>(__fmul_rn(a[2], a[1]));
        o[1] = __fmul_rn(a[2], s);
        o[0] = __fmul_rn(ds, zf_cu_silu_grad(a[0]));
    }
};
struct op_swiglu_vjp_fast {
    enum { n_in = 3, n_out = 2, heavy = 1 };
    template <int DT> __device__ static void f(const float *a, float *o) {
        o[1] = __fmul_rn(a[2], zf_cu_silu(a[0]));
        o[0] = __fmul_rn(__fmul_rn(a[2], a[1]), zf_cu_silu_grad(a[0]));
    }
};

/* ---- the kernel ------------------------------------------------------------ */

/* One 16-byte vector through Op: unpack, per-element math, pack. */
template <int DT, class Op> __device__ __forceinline__ void ew_vec(const uint4 *q, uint4 *r) {
    constexpr int V = zf_cu_vec<DT>::n;
    float a[Op::n_in][V], o[Op::n_out][V];
#pragma unroll
    for (int k = 0; k < Op::n_in; k++) zf_cu_load_vec<DT>(&q[k], 0, a[k]);
#pragma unroll
    for (int e = 0; e < V; e++) {
        float ai[Op::n_in], oi[Op::n_out];
#pragma unroll
        for (int k = 0; k < Op::n_in; k++) ai[k] = a[k][e];
        Op::template f<DT>(ai, oi);
#pragma unroll
        for (int k = 0; k < Op::n_out; k++) o[k][e] = oi[k];
    }
#pragma unroll
    for (int k = 0; k < Op::n_out; k++) zf_cu_store_vec<DT, ZF_CU_COMPUTED>(&r[k], 0, o[k]);
}

/* Work items per row: nvec 16-byte vectors, then single elements to the
 * row's end. Grid: y over rows, x over tiles of U * blockDim items; thread t
 * takes items t, t + blockDim, ... of a tile, so each load instruction is
 * coalesced and a full tile issues all U loads per operand before any math.
 * STREAM: data touched once (large calls), loads and stores evict first. */
template <int DT, class Op, int U, bool STREAM>
__global__ void __launch_bounds__(ZF_CU_THREADS) ew_kernel(const zf_ew_view v, int64_t nvec, int64_t items) {
    constexpr int V = zf_cu_vec<DT>::n;
    constexpr size_t es = sizeof(typename zf_cu_elem<DT>::type);
    zf_cu_wait_prior();
    zf_cu_release_next(); /* the next kernel's wait still covers all of this grid */
    const int64_t nt = blockDim.x, tile = nt * U;
    for (int64_t row = blockIdx.y; row < v.rows; row += gridDim.y) {
        const char *in[Op::n_in];
        char *out[Op::n_out];
#pragma unroll
        for (int k = 0; k < Op::n_in; k++) in[k] = (const char *)v.in[k] + (size_t)(row * v.in_stride[k]) * es;
#pragma unroll
        for (int k = 0; k < Op::n_out; k++) out[k] = (char *)v.out[k] + (size_t)(row * v.out_stride[k]) * es;
        for (int64_t t0 = blockIdx.x * tile + threadIdx.x; t0 < items; t0 += (int64_t)gridDim.x * tile) {
            if (t0 + (U - 1) * nt < nvec) {
                uint4 q[U][Op::n_in], r[U][Op::n_out];
#pragma unroll
                for (int u = 0; u < U; u++)
#pragma unroll
                    for (int k = 0; k < Op::n_in; k++) {
                        const uint4 *p = (const uint4 *)in[k] + t0 + u * nt;
                        q[u][k] = STREAM ? __ldcs(p) : *p;
                    }
#pragma unroll
                for (int u = 0; u < U; u++) {
                    ew_vec<DT, Op>(q[u], r[u]);
#pragma unroll
                    for (int k = 0; k < Op::n_out; k++) {
                        uint4 *p = (uint4 *)out[k] + t0 + u * nt;
                        if (STREAM) __stcs(p, r[u][k]);
                        else *p = r[u][k];
                    }
                }
                continue;
            }
            for (int u = 0; u < U; u++) { /* the last tile: vectors, then single elements */
                const int64_t it = t0 + u * nt;
                if (it < nvec) {
                    uint4 q[Op::n_in], r[Op::n_out];
#pragma unroll
                    for (int k = 0; k < Op::n_in; k++) q[k] = ((const uint4 *)in[k])[it];
                    ew_vec<DT, Op>(q, r);
#pragma unroll
                    for (int k = 0; k < Op::n_out; k++) ((uint4 *)out[k])[it] = r[k];
                } else if (it < items) {
                    int64_t j = nvec * V + (it - nvec);
                    float ai[Op::n_in], oi[Op::n_out];
#pragma unroll
                    for (int k = 0; k < Op::n_in; k++) ai[k] = zf_cu_load<DT>(in[k], j);
                    Op::template f<DT>(ai, oi);
#pragma unroll
                    for (int k = 0; k < Op::n_out; k++) zf_cu_store<DT, ZF_CU_COMPUTED>(out[k], j, oi[k]);
                }
            }
        }
    }
}

/* Decode-sized calls: one 32-bit word per thread (two f16/bf16 elements or
 * one f32), so a row's per-element math (silu: exp and an IEEE division)
 * is spread over as many threads and SMs as it can be, and each thread's
 * dependent chain is one or two elements long. One row per grid row, no
 * row loop: on an H100 a grid-stride row loop around the same body cost
 * 0.15-0.4 us per one-row call (docs/CUDA.md). */
template <int DT, class Op> __global__ void __launch_bounds__(64) ew_word_kernel(const zf_ew_view v, int64_t words) {
    constexpr int N = DT == 0 ? 1 : 2;
    constexpr size_t es = sizeof(typename zf_cu_elem<DT>::type);
    zf_cu_wait_prior();
    zf_cu_release_next(); /* the next kernel's wait still covers all of this grid */
    const int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (t >= words) return;
    /* one row per grid row (decode calls have rows <= 32768 < 65536) */
    const int64_t row = blockIdx.y;
    uint32_t q[Op::n_in];
#pragma unroll
    for (int k = 0; k < Op::n_in; k++) q[k] = ((const uint32_t *)((const char *)v.in[k] + (size_t)(row * v.in_stride[k]) * es))[t];
    float o[Op::n_out][N];
#pragma unroll
    for (int e = 0; e < N; e++) {
        float ai[Op::n_in], oi[Op::n_out];
#pragma unroll
        for (int k = 0; k < Op::n_in; k++)
            ai[k] = DT == 0 ? __uint_as_float(q[k]) : zf_cu_from_bits((uint16_t)(q[k] >> (16 * e)), DT);
        Op::template f<DT>(ai, oi);
#pragma unroll
        for (int k = 0; k < Op::n_out; k++) o[k][e] = oi[k];
    }
#pragma unroll
    for (int k = 0; k < Op::n_out; k++) {
        uint32_t *p = (uint32_t *)((char *)v.out[k] + (size_t)(row * v.out_stride[k]) * es);
        if constexpr (DT == 0) p[t] = __float_as_uint(o[k][0]);
        else p[t] = zf_cu_pack2<DT, ZF_CU_COMPUTED>(o[k][0], o[k][N - 1]);
    }
}

/* Decode-sized f16/bf16 calls of the ops with an exp and an IEEE division
 * per element (Op::heavy: silu, swiglu and their VJPs): one element per
 * thread, so each thread's dependent chain is one element long. Measured
 * on an H100 (one-row bf16 swiglu, 100-call graph): 1.12-1.19 us per call
 * against 1.26-1.33 us with a word per thread (docs/CUDA.md). */
template <int DT, class Op> __global__ void __launch_bounds__(128) ew_elem_kernel(const zf_ew_view v) {
    constexpr size_t es = sizeof(typename zf_cu_elem<DT>::type);
    zf_cu_wait_prior();
    zf_cu_release_next();
    const int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (t >= v.cols) return;
    /* one row per grid row, as in ew_word_kernel */
    const int64_t row = blockIdx.y;
    float ai[Op::n_in], oi[Op::n_out];
#pragma unroll
    for (int k = 0; k < Op::n_in; k++) ai[k] = zf_cu_load<DT>((const char *)v.in[k] + (size_t)(row * v.in_stride[k]) * es, t);
    Op::template f<DT>(ai, oi);
#pragma unroll
    for (int k = 0; k < Op::n_out; k++) zf_cu_store<DT, ZF_CU_COMPUTED>((char *)v.out[k] + (size_t)(row * v.out_stride[k]) * es, t, oi[k]);
}

/* Blocks of 32 .. 128 threads, about 128 elements of the call per block
 * (the fastest of 32, 64 and 128 at each width 2048 .. 14336 measured). */
template <int DT, class Op> static cudaError_t ew_elem_go(const zf_ew_view *v, cudaStream_t s) {
    const int64_t per = v->rows * v->cols / 128;
    const unsigned nt = per <= 32 ? 32 : per <= 64 ? 64 : 128;
    dim3 grid((unsigned)((v->cols + nt - 1) / nt), (unsigned)v->rows);
    return zf_cu_launch(ew_elem_kernel<DT, Op>, grid, dim3(nt), 0, s, *v);
}

static bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

template <int DT, class Op, int U, bool STREAM>
static cudaError_t ew_start(const zf_ew_view *v, int64_t nvec, int64_t items, unsigned nt, cudaStream_t s) {
    int64_t bx = (items + nt * U - 1) / (nt * U);
    dim3 grid((unsigned)(bx < 0x7fffffff ? bx : 0x7fffffff), (unsigned)(v->rows < 65535 ? v->rows : 65535));
    return zf_cu_launch(ew_kernel<DT, Op, U, STREAM>, grid, dim3(nt), 0, s, *v, nvec, items);
}

/* Rows that follow each other in every operand are one long row, so the
 * grid covers elements rather than rows x each row's tiles (a narrow row
 * otherwise leaves most of a block's threads idle; on its own this did not
 * move the [4096, 576] bf16 swiglu on an H100, the one-vector rule below
 * did). */
static bool dense_rows(const zf_ew_view *v, int n_in, int n_out) {
    bool d = v->rows > 1;
    for (int k = 0; k < n_in; k++) d = d && v->in_stride[k] == v->cols;
    for (int k = 0; k < n_out; k++) d = d && v->out_stride[k] == v->cols;
    return d;
}

template <int DT, class Op> static cudaError_t ew_go(const zf_ew_view *v_in, cudaStream_t s) {
    constexpr int V = zf_cu_vec<DT>::n;
    constexpr int64_t es = (int64_t)sizeof(typename zf_cu_elem<DT>::type);
    zf_ew_view flat = *v_in;
    if (dense_rows(v_in, Op::n_in, Op::n_out)) {
        flat.cols = v_in->rows * v_in->cols;
        flat.rows = 1;
        for (int k = 0; k < Op::n_in; k++) flat.in_stride[k] = flat.cols;
        for (int k = 0; k < Op::n_out; k++) flat.out_stride[k] = flat.cols;
    }
    const zf_ew_view *v = &flat;
    bool vec = true;
    for (int k = 0; k < Op::n_in; k++)
        vec = vec && aligned16(v->in[k]) && (v->rows == 1 || (v->in_stride[k] * es) % 16 == 0);
    for (int k = 0; k < Op::n_out; k++)
        vec = vec && aligned16(v->out[k]) && (v->rows == 1 || (v->out_stride[k] * es) % 16 == 0);
    int64_t nvec = vec ? v->cols / V : 0;
    int64_t items = nvec + (v->cols - nvec * V);
    /* Decode-sized calls: one element per thread for f16/bf16 ops with an
     * exp, a 32-bit word per thread where every operand's rows allow it,
     * else a vector per thread; blocks of 64 threads spread
     * the per-element math over more SMs. Large calls: 4 (VJP: 2) vectors
     * per thread in flight, 1 for mid-sized calls of ops with an exp. */
    if (v->rows * items <= 32768) {
        if (DT != 0 && Op::heavy) return ew_elem_go<DT, Op>(v, s);
        bool word = (v->cols * es) % 4 == 0;
        for (int k = 0; k < Op::n_in; k++) word = word && ((uintptr_t)v->in[k] & 3u) == 0 && (v->in_stride[k] * es) % 4 == 0;
        for (int k = 0; k < Op::n_out; k++) word = word && ((uintptr_t)v->out[k] & 3u) == 0 && (v->out_stride[k] * es) % 4 == 0;
        if (word) {
            const int64_t words = v->cols * es / 4;
            dim3 grid((unsigned)((words + 63) / 64), (unsigned)v->rows);
            return zf_cu_launch(ew_word_kernel<DT, Op>, grid, dim3(64), 0, s, *v, words);
        }
        return ew_start<DT, Op, 1, false>(v, nvec, items, 64, s);
    }
    /* Ops with an exp per element up to 2^20 vectors: one vector per thread,
     * so a grid of about one wave is not bound by each thread's chain of
     * U * 8 silus (H100, [4096, 576] bf16 swiglu: 8.4 us instead of 13.3) */
    if (Op::heavy && v->rows * items <= ((int64_t)1 << 20)) return ew_start<DT, Op, 1, true>(v, nvec, items, ZF_CU_THREADS, s);
    return ew_start<DT, Op, Op::n_in == 3 ? 2 : 4, true>(v, nvec, items, ZF_CU_THREADS, s);
}

template <class Op> static cudaError_t ew_launch(zf_dtype t, const zf_ew_view *v, cudaStream_t s) {
    switch (t) {
    case ZF_DTYPE_F32: return ew_go<0, Op>(v, s);
    case ZF_DTYPE_F16: return ew_go<1, Op>(v, s);
    case ZF_DTYPE_BF16: return ew_go<2, Op>(v, s);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t zf_cu_add(zf_dtype t, const zf_ew_view *v, cudaStream_t s) { return ew_launch<op_add>(t, v, s); }
cudaError_t zf_cu_mul(zf_dtype t, const zf_ew_view *v, cudaStream_t s) { return ew_launch<op_mul>(t, v, s); }
cudaError_t zf_cu_silu(zf_dtype t, const zf_ew_view *v, cudaStream_t s) { return ew_launch<op_silu>(t, v, s); }
cudaError_t zf_cu_silu_vjp(zf_dtype t, const zf_ew_view *v, cudaStream_t s) {
    return ew_launch<op_silu_vjp>(t, v, s);
}
cudaError_t zf_cu_swiglu_exact(zf_dtype t, const zf_ew_view *v, cudaStream_t s) {
    return ew_launch<op_swiglu_exact>(t, v, s);
}
cudaError_t zf_cu_swiglu_fast(zf_dtype t, const zf_ew_view *v, cudaStream_t s) {
    return ew_launch<op_swiglu_fast>(t, v, s);
}
cudaError_t zf_cu_swiglu_vjp_exact(zf_dtype t, const zf_ew_view *v, cudaStream_t s) {
    return ew_launch<op_swiglu_vjp_exact>(t, v, s);
}
cudaError_t zf_cu_swiglu_vjp_fast(zf_dtype t, const zf_ew_view *v, cudaStream_t s) {
    return ew_launch<op_swiglu_vjp_fast>(t, v, s);
}

/* ---- stock compositions (fallback and oracle) ------------------------------ */

/* A contiguous stream-ordered intermediate shaped like the view's rows. */
static zf_ew_view one_op(const zf_ew_view *v, const void *a, int64_t as, const void *b, int64_t bs, void *o,
                         int64_t os) {
    zf_ew_view w = {};
    w.rows = v->rows;
    w.cols = v->cols;
    w.in[0] = a; w.in_stride[0] = as;
    w.in[1] = b; w.in_stride[1] = bs;
    w.out[0] = o; w.out_stride[0] = os;
    return w;
}

/* swiglu = mul(silu(gate), up), through a T intermediate */
cudaError_t zf_cu_swiglu_stock(zf_dtype t, const zf_ew_view *v, cudaStream_t s) {
    void *tmp;
    cudaError_t e = cudaMallocAsync(&tmp, (size_t)(v->rows * v->cols) * zf_cu_dtype_size(t), s);
    if (e != cudaSuccess) return e;
    zf_ew_view a = one_op(v, v->in[0], v->in_stride[0], NULL, 0, tmp, v->cols);
    zf_ew_view b = one_op(v, tmp, v->cols, v->in[1], v->in_stride[1], v->out[0], v->out_stride[0]);
    e = zf_cu_silu(t, &a, s);
    if (e == cudaSuccess) e = zf_cu_mul(t, &b, s);
    cudaError_t f = cudaFreeAsync(tmp, s);
    return e != cudaSuccess ? e : f;
}

/* s = silu(g); d_s = mul(d, u); d_up = mul(d, s); d_gate = silu_vjp(g, d_s) */
cudaError_t zf_cu_swiglu_vjp_stock(zf_dtype t, const zf_ew_view *v, cudaStream_t s) {
    size_t bytes = (size_t)(v->rows * v->cols) * zf_cu_dtype_size(t);
    char *tmp;
    cudaError_t e = cudaMallocAsync((void **)&tmp, 2 * bytes, s);
    if (e != cudaSuccess) return e;
    void *sg = tmp, *ds = tmp + bytes;
    const void *g = v->in[0], *u = v->in[1], *d = v->in[2];
    int64_t gs = v->in_stride[0], us = v->in_stride[1], dst = v->in_stride[2], c = v->cols;
    zf_ew_view k1 = one_op(v, g, gs, NULL, 0, sg, c);
    zf_ew_view k2 = one_op(v, d, dst, u, us, ds, c);
    zf_ew_view k3 = one_op(v, d, dst, sg, c, v->out[1], v->out_stride[1]);
    zf_ew_view k4 = one_op(v, g, gs, ds, c, v->out[0], v->out_stride[0]);
    e = zf_cu_silu(t, &k1, s);
    if (e == cudaSuccess) e = zf_cu_mul(t, &k2, s);
    if (e == cudaSuccess) e = zf_cu_mul(t, &k3, s);
    if (e == cudaSuccess) e = zf_cu_silu_vjp(t, &k4, s);
    cudaError_t f = cudaFreeAsync(tmp, s);
    return e != cudaSuccess ? e : f;
}

/* ---- f32 -> T (tests read the kernels' conversion bits through this) ------- */

template <int DT> __global__ void cast_kernel(const float *src, void *dst, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        zf_cu_store<DT>(dst, i, src[i]);
}

cudaError_t zf_cu_cast_from_f32(zf_dtype t, const float *src, void *dst, int64_t n, cudaStream_t s) {
    int64_t b = (n + ZF_CU_THREADS - 1) / ZF_CU_THREADS;
    unsigned grid = (unsigned)(b < 65535 ? b : 65535);
    switch (t) {
    case ZF_DTYPE_F32: cast_kernel<0><<<grid, ZF_CU_THREADS, 0, s>>>(src, dst, n); break;
    case ZF_DTYPE_F16: cast_kernel<1><<<grid, ZF_CU_THREADS, 0, s>>>(src, dst, n); break;
    case ZF_DTYPE_BF16: cast_kernel<2><<<grid, ZF_CU_THREADS, 0, s>>>(src, dst, n); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

/* ---- checked entry points -------------------------------------------------- */

static zf_fidelity fidelity_of(const zf_opts *o) { return o ? o->fidelity : ZF_FIDELITY_AUTO; }

/* As the CPU backend: valid float tensors of one dtype, device and shape;
 * each output is one of the inputs exactly (in place) or disjoint; the two
 * outputs of a VJP never overlap. Then the operands as rows. */
static zf_status check_and_view(const char *op, const char *const *in_names, const zf_tensor *const *ins, int n_in,
                                const char *const *out_names, zf_tensor *const *outs, int n_out, zf_ew_view *v) {
    const zf_cuda_host *H = zf_cu_host;
    for (int k = 0; k < n_in; k++) ZF_TRY(H->check_float(op, in_names[k], ins[k]));
    for (int k = 0; k < n_out; k++) ZF_TRY(H->check_float(op, out_names[k], outs[k]));
    for (int k = 1; k < n_in; k++) ZF_TRY(H->check_same(op, in_names[0], ins[0], in_names[k], ins[k]));
    for (int k = 0; k < n_out; k++) ZF_TRY(H->check_same(op, in_names[0], ins[0], out_names[k], outs[k]));
    if (ins[0]->device != ZF_DEVICE_CUDA)
        return ZF_ERR(ZF_ERR_INVALID_ARG, "[%s] %s is not on the CUDA device", op, in_names[0]);
    for (int k = 0; k < n_out; k++)
        for (int i = 0; i < n_in; i++) ZF_TRY(H->check_alias(op, out_names[k], outs[k], in_names[i], ins[i]));
    if (n_out == 2) {
        if (outs[0]->data == outs[1]->data)
            return ZF_ERR(ZF_ERR_ALIAS, "[%s] %s and %s overlap; the two outputs need separate memory", op,
                          out_names[0], out_names[1]);
        ZF_TRY(H->check_alias(op, out_names[0], outs[0], out_names[1], outs[1]));
    }
    zf_rows r[5];
    int contiguous = 1;
    for (int k = 0; k < n_in; k++) {
        ZF_TRY(H->as_rows(op, in_names[k], ins[k], &r[k]));
        contiguous &= r[k].row_stride == r[k].cols;
    }
    for (int k = 0; k < n_out; k++) {
        ZF_TRY(H->as_rows(op, out_names[k], outs[k], &r[n_in + k]));
        contiguous &= r[n_in + k].row_stride == r[n_in + k].cols;
    }
    *v = zf_ew_view{};
    v->rows = contiguous ? 1 : r[0].rows;
    v->cols = contiguous ? r[0].rows * r[0].cols : r[0].cols;
    for (int k = 0; k < n_in; k++) { v->in[k] = r[k].data; v->in_stride[k] = contiguous ? v->cols : r[k].row_stride; }
    for (int k = 0; k < n_out; k++) {
        v->out[k] = r[n_in + k].data;
        v->out_stride[k] = contiguous ? v->cols : r[n_in + k].row_stride;
    }
    return ZF_OK;
}

static zf_status run(const char *op, zf_op id, zf_dtype t, const zf_ew_view *v, const zf_opts *o) {
    const zf_variant *var;
    ZF_TRY(zf_cu_host->pick(id, ZF_DEVICE_CUDA, fidelity_of(o), &var));
    cudaError_t e = ((zf_cu_ew_fn)var->fn)(t, v, zf_cu_stream(o));
    return e == cudaSuccess ? ZF_OK : zf_cu_fail(op, var->name, e);
}

static zf_status binary(const char *op, zf_op id, const zf_tensor *a, const zf_tensor *b, zf_tensor *out,
                        const zf_opts *o, const char *an, const char *bn) {
    const char *in_names[2] = {an, bn}, *out_names[1] = {"out"};
    const zf_tensor *ins[2] = {a, b};
    zf_tensor *outs[1] = {out};
    zf_ew_view v;
    ZF_TRY(check_and_view(op, in_names, ins, 2, out_names, outs, 1, &v));
    return run(op, id, a->dtype, &v, o);
}

zf_status zf_cuda_add(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o) {
    return binary("add", ZF_OP_ADD, a, b, out, o, "a", "b");
}
zf_status zf_cuda_mul(const zf_tensor *a, const zf_tensor *b, zf_tensor *out, const zf_opts *o) {
    return binary("mul", ZF_OP_MUL, a, b, out, o, "a", "b");
}
zf_status zf_cuda_silu_vjp(const zf_tensor *x, const zf_tensor *d_out, zf_tensor *d_x, const zf_opts *o) {
    return binary("silu_vjp", ZF_OP_SILU_VJP, x, d_out, d_x, o, "x", "d_out");
}
zf_status zf_cuda_swiglu(const zf_tensor *gate, const zf_tensor *up, zf_tensor *out, const zf_opts *o) {
    return binary("swiglu", ZF_OP_SWIGLU, gate, up, out, o, "gate", "up");
}

zf_status zf_cuda_silu(const zf_tensor *x, zf_tensor *out, const zf_opts *o) {
    const char *in_names[1] = {"x"}, *out_names[1] = {"out"};
    const zf_tensor *ins[1] = {x};
    zf_tensor *outs[1] = {out};
    zf_ew_view v;
    ZF_TRY(check_and_view("silu", in_names, ins, 1, out_names, outs, 1, &v));
    return run("silu", ZF_OP_SILU, x->dtype, &v, o);
}

zf_status zf_cuda_swiglu_vjp(const zf_tensor *gate, const zf_tensor *up, const zf_tensor *d_out, zf_tensor *d_gate,
                             zf_tensor *d_up, const zf_opts *o) {
    const char *in_names[3] = {"gate", "up", "d_out"}, *out_names[2] = {"d_gate", "d_up"};
    const zf_tensor *ins[3] = {gate, up, d_out};
    zf_tensor *outs[2] = {d_gate, d_up};
    zf_ew_view v;
    ZF_TRY(check_and_view("swiglu_vjp", in_names, ins, 3, out_names, outs, 2, &v));
    /* the stock order writes d_up before it reads gate the last time */
    if (d_up->data == gate->data)
        return ZF_ERR(ZF_ERR_ALIAS, "[swiglu_vjp] d_up may not be gate (in place); d_gate may");
    return run("swiglu_vjp", ZF_OP_SWIGLU_VJP, gate->dtype, &v, o);
}
