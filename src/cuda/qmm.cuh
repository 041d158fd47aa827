/* Quantized matmul and MoE on CUDA: the launcher layer shared by qmm.cu
 * (qmm, gather_qmm, the gathered-dot kernels, grouping by expert) and
 * moe.cu (router, gather_qmm_swiglu, gather_qmm_combine). Every dot follows
 * docs/NUMERICS.md §8.2 exactly, so all variants match the CPU bits. */
#ifndef ZF_CUDA_QMM_CUH
#define ZF_CUDA_QMM_CUH

#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "zfast.h"
}

/* A quantized weight on the device (the checked zf_qweight, flattened). */
typedef struct zf_cu_qw {
    const uint32_t *packed;
    const void *scales, *biases;
    zf_dtype sdt;
    int bits, group_size;
    int64_t experts, n, k;
} zf_cu_qw;

/* What the gathered kernels write per (pair, row). */
typedef enum zf_cu_qepi {
    ZF_QEPI_STORE = 0, /* out[pair] = T(dot)                          (qmm, gather_qmm) */
    ZF_QEPI_SWIGLU,    /* out[pair] = swiglu(dot_g, dot_u), exact or fast */
    ZF_QEPI_DOTS,      /* f32 dots[pair * n + row]                    (combine, many tokens) */
} zf_cu_qepi;

/* One gathered projection. Pair p = token * slots + slot reads x row
 * (x_per_slot ? p : token) and expert ids[token * ids_stride + slot]
 * (expert 0 when ids is NULL: qmm). Outputs are rows of n: pair p at
 * out + p * out_row_stride (combine: token m at m * out_row_stride). */
typedef struct zf_cu_qargs {
    zf_cu_qw w[2];
    int nw;                /* 2: gate and up (swiglu); else 1 */
    zf_dtype xt;
    const void *x;
    int64_t x_row_stride;
    int x_per_slot;
    int64_t m, slots;
    const int32_t *ids;
    int64_t ids_stride;
    void *out;
    int64_t out_row_stride;
    const void *weights;   /* combine: [m, slots] in wt */
    zf_dtype wt;
    int64_t weights_stride;
    int exact;             /* swiglu / combine: stock rounding points (1) or f32 intermediates (0) */
    /* Set by moe_experts (one token). swiglu: the few-token kernels let the
     * next grid launch only after their own PDL wait, as the many-token
     * ones and the stock composition's last kernel already do, so a kernel
     * launched after this call starts after all earlier ones have finished.
     * combine (the call right after that swiglu): ids and the weights are
     * final at launch, so the one-launch decode kernel reads them and
     * starts its weight copies before its PDL wait. */
    int chained;
} zf_cu_qargs;

/* The variant signature for qmm, gather_qmm and both fused ops. */
typedef cudaError_t (*zf_cu_qfn)(const zf_cu_qargs *a, cudaStream_t s);

/* Runs the gathered dots with epilogue `epi` into a->out: one CTA per pair
 * (few tokens), or pairs grouped by expert on the device first (many
 * tokens: each weight row serves all pairs of its expert, or up to 4 pairs
 * when k is too large to stage). An id outside [0, experts)
 * never reads memory: its pair's dots are NaN. */
cudaError_t zf_cu_qgather(const zf_cu_qargs *a, zf_cu_qepi epi, cudaStream_t s);

/* Pairs per CTA of the grouped path's batch kernel (k too large for
 * qexpert.cu). */
#define ZF_CU_QNX 4

/* The grouped path pays off once pairs repeat experts. */
static inline int zf_cu_qgrouped(const zf_cu_qargs *a) {
    return a->ids && a->m * a->slots >= a->w[0].experts && a->m * a->slots >= 2 * ZF_CU_QNX;
}

/* Pairs grouped by expert on the device (one CTA, no host sync), in
 * scratch of zf_cu_qgroup_bytes(a) bytes (256-byte aligned): sorted holds
 * the pair indices expert by expert, ends[e] the end of expert e's pairs
 * (ends[E]: the pairs whose id is out of range), batches the cuts of each
 * expert into batches of <= ZF_CU_QNX pairs ({first, count, expert or -1}),
 * *n_batches of at most max_batches. */
typedef struct zf_cu_qgroups {
    int4 *batches;
    int32_t *sorted, *ends, *n_batches;
    int64_t max_batches;
} zf_cu_qgroups;
size_t zf_cu_qgroup_bytes(const zf_cu_qargs *a);
cudaError_t zf_cu_qgroup(const zf_cu_qargs *a, void *scratch, zf_cu_qgroups *g, cudaStream_t s);

/* The grouped path when an expert's chunk of x rows fits in shared memory
 * (qexpert.cu): a CTA per (expert, 32 weight rows) computes every pair of
 * that expert. sorted: pair indices grouped by expert; ends[e]: the end of
 * expert e's pairs in sorted (ends[E]: pairs with ids out of range). */
bool zf_cu_qexpert_fits(const zf_cu_qargs *a);
cudaError_t zf_cu_qexpert(const zf_cu_qargs *a, zf_cu_qepi epi, const int32_t *sorted, const int32_t *ends,
                          bool xvec, bool wide, cudaStream_t s);

/* Combine of per-pair dots (f32, or T when dots_t is T: the stock path)
 * into y, slot order ascending, exact or fast rounding (a->exact). */
cudaError_t zf_cu_combine_finish(const zf_cu_qargs *a, const void *dots, zf_dtype dots_t, cudaStream_t s);
/* Combine in one launch for few tokens: a CTA = 4 rows x 8 slots. */
cudaError_t zf_cu_combine_direct(const zf_cu_qargs *a, cudaStream_t s);

/* Decode kernels (qdecode.cu): x staged once per CTA in shared memory.
 * The pair path of zf_cu_qgather when k fits, and the one-launch combine
 * when slots * k fits; otherwise the kernels above run. */
bool zf_cu_qdecode_fits(const zf_cu_qargs *a);
/* qmm (no ids: every row uses expert 0) takes the decode kernel up to this
 * many x rows; from there the 4-rows-per-read kernel reads less. */
#define ZF_CU_QDECODE_ROWS 2
cudaError_t zf_cu_qdecode_pairs(const zf_cu_qargs *a, zf_cu_qepi epi, cudaStream_t s);
bool zf_cu_combine_decode_fits(const zf_cu_qargs *a);
cudaError_t zf_cu_combine_decode(const zf_cu_qargs *a, cudaStream_t s);

/* Edge-tier int8 kernels (qdecode_i8.cu, fidelity approx): few tokens,
 * 4-bit weights (qmm: 4 or 8); the approx variants run the fast path (qmm:
 * stock) where they do not fit. */
bool zf_cu_qi8_qmm_fits(const zf_cu_qargs *a); /* one weight, no ids, <= ZF_CU_QDECODE_ROWS x rows, 4 or 8 bits */
bool zf_cu_qi8_swiglu_fits(const zf_cu_qargs *a);
bool zf_cu_qi8_combine_fits(const zf_cu_qargs *a);
cudaError_t zf_cu_qi8_qmm(const zf_cu_qargs *a, cudaStream_t s);
cudaError_t zf_cu_qi8_swiglu(const zf_cu_qargs *a, cudaStream_t s);
cudaError_t zf_cu_qi8_combine(const zf_cu_qargs *a, cudaStream_t s);
/* Many tokens (the grouped case), 4-bit weights, k a multiple of 256
 * (qexpert_i8.cu): pairs grouped by expert, x quantized once, the block
 * dots on the tensor cores; epi SWIGLU (approx rounding) or DOTS. */
bool zf_cu_qxi8_fits(const zf_cu_qargs *a);
cudaError_t zf_cu_qxi8(const zf_cu_qargs *a, zf_cu_qepi epi, cudaStream_t s);
/* The int8 kernel an approx variant runs for a (moe.cu; its self-test
 * asks the same): the tensor-core kernel, a decode kernel, or none (the
 * fast path, bit for bit the fast variant). */
typedef enum { ZF_CU_I8_NONE, ZF_CU_I8_GROUPED, ZF_CU_I8_DECODE } zf_cu_i8_path;
zf_cu_i8_path zf_cu_i8_path_of(bool combine, const zf_cu_qargs *a);
/* The int8 combine beats the fast path from this many tokens (H100, Qwen3
 * shapes: 24.4 vs 26.4 us at 4 tokens, 9.4 vs 8.2 us at one). */
#define ZF_CU_QI8_COMBINE_MIN_M 4

/* Router arguments: logits [m, E] rows, ids i32 and weights [m, k] rows. */
typedef struct zf_cu_route_args {
    const void *logits;
    zf_dtype lt;
    int64_t l_stride, m, E;
    int k, norm;
    int32_t *ids;
    int64_t ids_stride;
    void *weights;
    zf_dtype wt;
    int64_t w_stride;
} zf_cu_route_args;

typedef cudaError_t (*zf_cu_route_fn)(const zf_cu_route_args *a, cudaStream_t s);

/* Variants (the registry's fn). */
cudaError_t zf_cu_qmm(const zf_cu_qargs *a, cudaStream_t s);
cudaError_t zf_cu_qmm_i8(const zf_cu_qargs *a, cudaStream_t s);
cudaError_t zf_cu_gather_qmm(const zf_cu_qargs *a, cudaStream_t s);
cudaError_t zf_cu_gather_qmm_swiglu_stock(const zf_cu_qargs *a, cudaStream_t s);
cudaError_t zf_cu_gather_qmm_swiglu_fused(const zf_cu_qargs *a, cudaStream_t s);
cudaError_t zf_cu_gather_qmm_combine_stock(const zf_cu_qargs *a, cudaStream_t s);
cudaError_t zf_cu_gather_qmm_combine_fused(const zf_cu_qargs *a, cudaStream_t s);
cudaError_t zf_cu_gather_qmm_swiglu_i8(const zf_cu_qargs *a, cudaStream_t s);
cudaError_t zf_cu_gather_qmm_combine_i8(const zf_cu_qargs *a, cudaStream_t s);
cudaError_t zf_cu_moe_route(const zf_cu_route_args *a, cudaStream_t s);

/* Checked entry points (the plugin's op table). */
zf_status zf_cuda_qmm(const zf_tensor *x, const zf_qweight *w, zf_tensor *y, const zf_opts *o);
zf_status zf_cuda_gather_qmm(const zf_tensor *x, const zf_qweight *w, const zf_tensor *ids, zf_tensor *y,
                             const zf_opts *o);
zf_status zf_cuda_moe_route(const zf_tensor *logits, int k, int norm_topk_prob, zf_tensor *ids, zf_tensor *weights,
                            const zf_opts *o);
zf_status zf_cuda_gather_qmm_swiglu(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu,
                                    const zf_tensor *ids, zf_tensor *out, const zf_opts *o);
zf_status zf_cuda_gather_qmm_combine(const zf_tensor *a, const zf_qweight *wd, const zf_tensor *ids,
                                     const zf_tensor *weights, zf_tensor *y, const zf_opts *o);
zf_status zf_cuda_moe_experts(const zf_tensor *x, const zf_qweight *wg, const zf_qweight *wu, const zf_qweight *wd,
                              const zf_tensor *ids, const zf_tensor *weights, zf_tensor *act, zf_tensor *y,
                              const zf_opts *o);

/* Host-side checks shared by qmm.cu and moe.cu (nothing is read from the
 * device: ids values are not checked here, see zf_cu_qgather). */
zf_status zf_cu_check_qweight(const char *op, const char *arg, const zf_qweight *w);
zf_status zf_cu_check_gather(const char *op, const zf_tensor *x, const char *xname, const zf_qweight *w,
                             const char *wname, const zf_tensor *ids, zf_cu_qargs *a);
zf_cu_qw zf_cu_qw_of(const zf_qweight *w);
zf_status zf_cu_on_cuda(const char *op, const char *arg, const zf_tensor *t);
/* t is a [m, slots] i32 view with contiguous rows on the device (ndim checked by the caller) */
zf_status zf_cu_check_i32(const char *op, const char *arg, const zf_tensor *t);

/* Self-test of the MoE-family variants against the CPU stock path (moe_selftest.cu). */
struct zf_variant;
int zf_cu_selftest_moe(const struct zf_variant *v, char *msg, size_t msg_size);

#endif
