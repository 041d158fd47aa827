/* The CPU backend: its op table and every CPU kernel variant. */
#include "core/backend.h"
#include "core/registry.h"
#include "cpu/elementwise.h"
#include "cpu/matmul.h"
#include "cpu/moe.h"
#include "cpu/qmm.h"
#include "cpu/quant.h"
#include "cpu/model_ops.h"
#include "cpu/norm.h"
#include "cpu/selftest.h"

const zf_backend_ops zf_cpu_backend = {
    .add = zf_cpu_add,
    .mul = zf_cpu_mul,
    .silu = zf_cpu_silu,
    .silu_vjp = zf_cpu_silu_vjp,
    .swiglu = zf_cpu_swiglu,
    .swiglu_vjp = zf_cpu_swiglu_vjp,
    .rms_norm = zf_cpu_rms_norm,
    .rms_norm_vjp = zf_cpu_rms_norm_vjp,
    .add_rms_norm = zf_cpu_add_rms_norm,
    .add_rms_norm_vjp = zf_cpu_add_rms_norm_vjp,
    .embedding = zf_cpu_embedding,
    .embedding_q = zf_cpu_embedding_q,
    .rope = zf_cpu_rope,
    .softmax = zf_cpu_softmax,
    .attention = zf_cpu_attention,
    .quantize = zf_cpu_quantize,
    .dequantize = zf_cpu_dequantize,
    .qmm = zf_cpu_qmm,
    .gather_qmm = zf_cpu_gather_qmm,
    .moe_route = zf_cpu_moe_route,
    .gather_qmm_swiglu = zf_cpu_gather_qmm_swiglu,
    .gather_qmm_combine = zf_cpu_gather_qmm_combine,
    .moe_experts = zf_cpu_moe_experts,
    .matmul = zf_cpu_matmul,
    .copy = zf_cpu_copy,
    .attention_decode = zf_cpu_attention_decode,
};

#define FN(f) ((void (*)(void))(f))
#define EW zf_cpu_selftest_elementwise

/* name, op, backend, fidelity, tier, isa, fn, selftest, evidence, note */
#define STOCK_EW(isa, ISA, op, OP)                                                                     \
    {"cpu." #isa "." #op, ZF_OP_##OP, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_##ISA, \
     FN(zf_##isa##_##op), EW, NULL, "stock"}
#define FUSED_EW(isa, ISA, op, OP, fid, FID, TIER, note)                                                      \
    {"cpu." #isa "." #op "." #fid, ZF_OP_##OP, ZF_DEVICE_CPU, ZF_FIDELITY_##FID, ZF_TIER_##TIER,             \
     ZF_CPU_ISA_##ISA, FN(zf_##isa##_##op##_##fid), EW, NULL, note}
#define EW_VARIANTS(isa, ISA)                                                                               \
    STOCK_EW(isa, ISA, add, ADD), STOCK_EW(isa, ISA, mul, MUL), STOCK_EW(isa, ISA, silu, SILU),             \
        STOCK_EW(isa, ISA, silu_vjp, SILU_VJP),                                                             \
        FUSED_EW(isa, ISA, swiglu, SWIGLU, exact, EXACT, STABLE, "one pass; rounds silu to T like the stock path"), \
        FUSED_EW(isa, ISA, swiglu, SWIGLU, fast, FAST, EDGE, "one pass; silu kept in f32 (awaiting validate evidence)"), \
        FUSED_EW(isa, ISA, swiglu_vjp, SWIGLU_VJP, exact, EXACT, STABLE, "one pass; stock rounding points"), \
        FUSED_EW(isa, ISA, swiglu_vjp, SWIGLU_VJP, fast, FAST, EDGE, "one pass; f32 intermediates (awaiting validate evidence)")

#define NORM zf_cpu_selftest_norm
#define NORM_VARIANT(isa, ISA, name, OP, FID, TIER, kernel, note)                                              \
    {"cpu." #isa "." name, ZF_OP_##OP, ZF_DEVICE_CPU, ZF_FIDELITY_##FID, ZF_TIER_##TIER, ZF_CPU_ISA_##ISA,    \
     FN(zf_##isa##_##kernel), NORM, NULL, note}
#define NORM_VARIANTS(isa, ISA)                                                                                 \
    NORM_VARIANT(isa, ISA, "rms_norm", RMS_NORM, STOCK, STABLE, rms_norm, "stock"),                             \
        NORM_VARIANT(isa, ISA, "rms_norm_vjp", RMS_NORM_VJP, STOCK, STABLE, rms_norm_vjp, "stock"),             \
        NORM_VARIANT(isa, ISA, "add_rms_norm.exact", ADD_RMS_NORM, EXACT, STABLE, add_rms_norm_exact,           \
                     "one pass over x and r; h rounded to T before the norm, like the stock path"),             \
        NORM_VARIANT(isa, ISA, "add_rms_norm.fast", ADD_RMS_NORM, FAST, EDGE, add_rms_norm_fast,                \
                     "norm of the unrounded f32 sum, no T rounding of x*inv (awaiting validate evidence)"),     \
        NORM_VARIANT(isa, ISA, "add_rms_norm_vjp.exact", ADD_RMS_NORM_VJP, EXACT, STABLE, rms_norm_vjp,         \
                     "rms_norm_vjp with the d_h add in the same pass; stock rounding points"),                  \
        NORM_VARIANT(isa, ISA, "add_rms_norm_vjp.fast", ADD_RMS_NORM_VJP, FAST, EDGE, add_rms_norm_vjp_fast,    \
                     "d_h added before the one rounding (awaiting validate evidence)")

/* quantized matmul and MoE: every variant is a canonical-dot kernel (fn);
 * the fused ones differ from each other only in their rounding points */
#define QDOT zf_cpu_selftest_qdot
#define Q_STOCK(isa, ISA, op, OP)                                                                          \
    {"cpu." #isa "." #op, ZF_OP_##OP, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_##ISA,   \
     FN(zf_##isa##_qdot), QDOT, NULL, "canonical blocked dot"}
#define Q_FUSED(isa, ISA, op, OP, fid, FID, TIER, note)                                                    \
    {"cpu." #isa "." #op "." #fid, ZF_OP_##OP, ZF_DEVICE_CPU, ZF_FIDELITY_##FID, ZF_TIER_##TIER,          \
     ZF_CPU_ISA_##ISA, FN(zf_##isa##_qdot), QDOT, NULL, note}
#define Q_VARIANTS(isa, ISA)                                                                               \
    Q_STOCK(isa, ISA, qmm, QMM), Q_STOCK(isa, ISA, gather_qmm, GATHER_QMM),                                \
        Q_FUSED(isa, ISA, gather_qmm_swiglu, GATHER_QMM_SWIGLU, exact, EXACT, STABLE,                      \
                "one pass over gate+up rows; g, u and silu rounded to T like the stock path"),             \
        Q_FUSED(isa, ISA, gather_qmm_swiglu, GATHER_QMM_SWIGLU, fast, FAST, EDGE,                          \
                "one pass; g, u, silu kept in f32 (awaiting validate evidence)"),                          \
        Q_FUSED(isa, ISA, gather_qmm_combine, GATHER_QMM_COMBINE, exact, EXACT, STABLE,                    \
                "one call; y_s, products and running sum rounded to T like the stock path"),               \
        Q_FUSED(isa, ISA, gather_qmm_combine, GATHER_QMM_COMBINE, fast, FAST, EDGE,                        \
                "one call; weighted sum kept in f32 (awaiting validate evidence)")

#define Q_INT8(isa, ISA, op, OP, note)                                                                     \
    {"cpu." #isa "." #op ".int8", ZF_OP_##OP, ZF_DEVICE_CPU, ZF_FIDELITY_APPROX, ZF_TIER_EDGE, ZF_CPU_ISA_##ISA, \
     FN(zf_##isa##_qdot_i8), zf_cpu_selftest_qdot_i8, NULL, "x as int8: " note}
#define Q_INT8_VARIANTS(isa, ISA)                                                                              \
    Q_INT8(isa, ISA, qmm, QMM, "integer block dots; 4/8-bit, other widths exact (awaiting validate evidence)"),  \
        Q_INT8(isa, ISA, gather_qmm, GATHER_QMM,                                                               \
               "integer block dots; 4/8-bit, other widths exact (awaiting validate evidence)"),                \
        Q_INT8(isa, ISA, gather_qmm_swiglu, GATHER_QMM_SWIGLU,                                                 \
               "one pass over gate+up rows, integer block dots; g, u, silu in f32"),                           \
        Q_INT8(isa, ISA, gather_qmm_combine, GATHER_QMM_COMBINE, "one call, integer block dots; weighted sum in f32")

static const zf_variant k_cpu_variants[] = {
    /* approx: x quantized to int8 per 32-block, integer block dots (§8.7);
     * the AVX-512 walk gives the AVX2 one's bits */
    Q_INT8_VARIANTS(avx2, AVX2),
    Q_INT8_VARIANTS(avx512, AVX512),
    {"cpu.gather_qmm_swiglu.stock", ZF_OP_GATHER_QMM_SWIGLU, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE,
     ZF_CPU_ISA_SCALAR, NULL, NULL, NULL, "gather_qmm (gate), gather_qmm (up), swiglu as stock ops"},
    {"cpu.gather_qmm_combine.stock", ZF_OP_GATHER_QMM_COMBINE, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE,
     ZF_CPU_ISA_SCALAR, NULL, NULL, NULL, "gather_qmm, then mul by weights and add over slots in T"},
    {"cpu.scalar.moe_route", ZF_OP_MOE_ROUTE, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR,
     NULL, NULL, NULL, "softmax in f32 (L256 sum), top-k ties to lower id"},
    Q_VARIANTS(scalar, SCALAR),
    Q_VARIANTS(avx2, AVX2),
    Q_VARIANTS(avx512, AVX512),
    /* the stock compositions of the fused ops: fallback and oracle */
    {"cpu.swiglu.stock", ZF_OP_SWIGLU, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR, NULL,
     NULL, NULL, "silu then mul, as two stock ops"},
    {"cpu.swiglu_vjp.stock", ZF_OP_SWIGLU_VJP, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR,
     NULL, NULL, NULL, "silu, mul, mul, silu_vjp as stock ops"},
    {"cpu.add_rms_norm.stock", ZF_OP_ADD_RMS_NORM, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE,
     ZF_CPU_ISA_SCALAR, NULL, NULL, NULL, "add then rms_norm, as two stock ops"},
    {"cpu.add_rms_norm_vjp.stock", ZF_OP_ADD_RMS_NORM_VJP, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE,
     ZF_CPU_ISA_SCALAR, NULL, NULL, NULL, "rms_norm_vjp then add d_h, as two stock ops"},
    /* model ops (src/cpu/{embedding,rope,softmax,attention}.c) */
    {"cpu.embedding", ZF_OP_EMBEDDING, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR, NULL,
     NULL, NULL, "row copy, or dequant scale*q + bias"},
    {"cpu.scalar.rope", ZF_OP_ROPE, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR,
     FN(zf_scalar_rope), NULL, NULL, "stock"},
    {"cpu.scalar.softmax", ZF_OP_SOFTMAX, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR,
     FN(zf_scalar_softmax), NULL, NULL, "stock"},
    {"cpu.scalar.attention", ZF_OP_ATTENTION, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR,
     FN(zf_scalar_attention), NULL, NULL, "stock"},
    {"cpu.avx2.attention", ZF_OP_ATTENTION, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_AVX2,
     FN(zf_avx2_attention), zf_cpu_selftest_attention, NULL, "stock; 8 L256 lanes and 8 output columns per step"},
    {"cpu.avx512.attention", ZF_OP_ATTENTION, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_AVX512,
     FN(zf_avx512_attention), zf_cpu_selftest_attention, NULL,
     "stock; the q heads of a kv head in one pass, 16 L256 lanes and 16 output columns per register"},
    /* float weights (src/cpu/matmul.c) */
    {"cpu.scalar.matmul", ZF_OP_MATMUL, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR,
     FN(zf_scalar_matmul), NULL, NULL, "stock; one L256 dot per output"},
    {"cpu.avx2.matmul", ZF_OP_MATMUL, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_AVX2,
     FN(zf_avx2_matmul), zf_cpu_selftest_matmul, NULL, "stock; 8 L256 lanes per step, a W row shared by 4 x rows"},
    {"cpu.copy", ZF_OP_COPY, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR, NULL, NULL, NULL,
     "row copy, or element-wise conversion to out's dtype"},
    {"cpu.attention_decode", ZF_OP_ATTENTION_DECODE, ZF_DEVICE_CPU, ZF_FIDELITY_STOCK, ZF_TIER_STABLE,
     ZF_CPU_ISA_SCALAR, NULL, NULL, NULL, "rope, copy and attention as stock ops (src/cpu/attention_decode.c)"},
    EW_VARIANTS(scalar, SCALAR),
    NORM_VARIANTS(scalar, SCALAR),
    NORM_VARIANTS(avx2, AVX2),
    NORM_VARIANTS(avx512, AVX512),
    EW_VARIANTS(avx2, AVX2),
    EW_VARIANTS(avx512, AVX512),
};

void zf_cpu_register(void) { zf_registry_add(k_cpu_variants, (int)(sizeof k_cpu_variants / sizeof *k_cpu_variants)); }
