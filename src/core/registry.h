/* Kernel registry: every variant of every op, with its fidelity, tier and
 * required features, self-tested on this machine before first use.
 *
 * An op's entry point checks its arguments, then asks zf_pick() for the
 * variant to run. Variants of one op share a kernel signature (declared by
 * the op family, e.g. src/cpu/kernels.h); `fn` holds it, cast at the call. */
#ifndef ZF_CORE_REGISTRY_H
#define ZF_CORE_REGISTRY_H

#include <stddef.h>

#include "zfast.h"

typedef enum zf_op {
    ZF_OP_ADD = 0,
    ZF_OP_MUL,
    ZF_OP_SILU,
    ZF_OP_SILU_VJP,
    ZF_OP_RMS_NORM,
    ZF_OP_RMS_NORM_VJP,
    ZF_OP_SWIGLU,
    ZF_OP_SWIGLU_VJP,
    ZF_OP_ADD_RMS_NORM,
    ZF_OP_ADD_RMS_NORM_VJP,
    ZF_OP_EMBEDDING,
    ZF_OP_ROPE,
    ZF_OP_SOFTMAX,
    ZF_OP_ATTENTION,
    ZF_OP_QMM,
    ZF_OP_GATHER_QMM,
    ZF_OP_MOE_ROUTE,
    ZF_OP_GATHER_QMM_SWIGLU,
    ZF_OP_GATHER_QMM_COMBINE,
    ZF_OP_MATMUL,
    ZF_OP_COPY,
    ZF_OP_ATTENTION_DECODE,
    ZF_OP_COUNT
} zf_op;

typedef struct zf_variant zf_variant;

/* Runs the variant on a small fresh input and compares it with the stock
 * path (bit for bit for stock/exact, within the stated bound for fast).
 * Returns 0 on pass; on failure writes the reason into msg. */
typedef int (*zf_selftest_fn)(const zf_variant *v, char *msg, size_t msg_size);

struct zf_variant {
    const char *name;        /* "cpu.avx2.swiglu.exact": backend.path.op.fidelity */
    zf_op op;
    zf_device backend;
    zf_fidelity fidelity;    /* STOCK, EXACT or FAST */
    zf_tier tier;            /* lowest tier allowed to use it */
    zf_cpu_isa isa;          /* CPU variants: ISA it needs */
    void (*fn)(void);        /* op-specific kernel signature */
    zf_selftest_fn selftest;
    const char *evidence;    /* capsule id that earned a fast variant its tier, or NULL */
    const char *note;        /* one line: what this variant does differently */
};

const char *zf_op_name(zf_op op);

/* Whether a fidelity keeps the stock composition's rounding points (stock,
 * exact: intermediates stored in T) rather than f32 intermediates (fast,
 * approx); the fused MoE ops pick their epilogues by it. */
static inline int zf_rounds_like_stock(zf_fidelity f) { return f == ZF_FIDELITY_STOCK || f == ZF_FIDELITY_EXACT; }

/* Registers a table of variants (called by backends at load). */
void zf_registry_add(const zf_variant *v, int n);

/* The variant to run for (op, backend, fidelity) under the current tier and
 * ISA cap, self-tested. AUTO resolves by tier (stable: exact; fast/edge: the
 * fastest allowed, fast before exact). Falls back along fast -> exact ->
 * stock when nothing trusted is left. Returns ZF_OK and *out, or an error. */
zf_status zf_pick(zf_op op, zf_device backend, zf_fidelity want, const zf_variant **out);

/* For caps: what zf_pick would choose under `tier` and the current ISA cap,
 * and a reason. Never runs a kernel that has not been self-tested: it tests. */
const zf_variant *zf_pick_explain(zf_op op, zf_device backend, zf_tier tier, char *why, size_t why_size);

/* Self-test state of a variant: 0 untested, 1 passed, -1 failed (+ reason). */
int zf_variant_state(const zf_variant *v, const char **reason);

/* Iterate all registered variants. */
int zf_registry_count(void);
const zf_variant *zf_registry_at(int i);

zf_status zf_tier_current(zf_tier *out);

/* Backend registration hooks (each backend defines its table). */
void zf_cpu_register(void);
void zf_registry_init(void);

#endif
