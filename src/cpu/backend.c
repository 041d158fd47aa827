/* The CPU backend: its op table and every CPU kernel variant. */
#include "core/backend.h"
#include "core/registry.h"
#include "cpu/elementwise.h"
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

static const zf_variant k_cpu_variants[] = {
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
    EW_VARIANTS(scalar, SCALAR),
    NORM_VARIANTS(scalar, SCALAR),
};

void zf_cpu_register(void) { zf_registry_add(k_cpu_variants, (int)(sizeof k_cpu_variants / sizeof *k_cpu_variants)); }
