#include "core/registry.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

#define ZF_MAX_VARIANTS 512

typedef struct entry {
    const zf_variant *v;
    int state; /* 0 untested, 1 passed, -1 failed */
    char reason[240];
} entry;

static entry g_entries[ZF_MAX_VARIANTS];
static int g_count;
/* Bumped (under g_mu) whenever a pick could change: variants added, a
 * self-test failed. Picks are cached per (op, backend, fidelity, tier, ISA
 * cap) as (generation << 16 | entry index + 1), so a decode-sized call pays
 * two atomic loads instead of a registry scan. */
static uint64_t g_gen = 1;
static uint64_t g_pick_cache[ZF_OP_COUNT][ZF_DEVICE_COUNT][ZF_FIDELITY_COUNT][ZF_TIER_COUNT][ZF_CPU_ISA_COUNT];
static pthread_mutex_t g_mu;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static const char *const k_op_names[ZF_OP_COUNT] = {
    "add", "mul", "silu", "silu_vjp", "rms_norm", "rms_norm_vjp",
    "swiglu", "swiglu_vjp", "add_rms_norm", "add_rms_norm_vjp",
    "embedding", "rope", "softmax", "attention",
    "qmm", "gather_qmm", "moe_route", "gather_qmm_swiglu", "gather_qmm_combine",
    "matmul", "copy", "attention_decode",
};

const char *zf_op_name(zf_op op) { return (op >= 0 && op < ZF_OP_COUNT) ? k_op_names[op] : "invalid"; }

static int is_fused(zf_op op) {
    return op == ZF_OP_SWIGLU || op == ZF_OP_SWIGLU_VJP || op == ZF_OP_ADD_RMS_NORM ||
           op == ZF_OP_ADD_RMS_NORM_VJP || op == ZF_OP_GATHER_QMM_SWIGLU || op == ZF_OP_GATHER_QMM_COMBINE;
}

void zf_registry_add(const zf_variant *v, int n) {
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < n && g_count < ZF_MAX_VARIANTS; i++) g_entries[g_count++] = (entry){.v = &v[i]};
    __atomic_add_fetch(&g_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g_mu);
}

static void init_once(void) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE); /* self-tests may call ops */
    pthread_mutex_init(&g_mu, &a);
    pthread_mutexattr_destroy(&a);
    zf_cpu_register();
}

void zf_registry_init(void) { pthread_once(&g_once, init_once); }

int zf_registry_count(void) { zf_registry_init(); return g_count; }

const zf_variant *zf_registry_at(int i) {
    zf_registry_init();
    return (i >= 0 && i < g_count) ? g_entries[i].v : NULL;
}

static entry *find(const zf_variant *v) {
    for (int i = 0; i < g_count; i++)
        if (g_entries[i].v == v) return &g_entries[i];
    return NULL;
}

int zf_variant_state(const zf_variant *v, const char **reason) {
    zf_registry_init();
    pthread_mutex_lock(&g_mu);
    entry *e = find(v);
    int s = e ? e->state : -1;
    if (reason) *reason = e ? e->reason : "not registered";
    pthread_mutex_unlock(&g_mu);
    return s;
}

/* Runs the self-test once; returns the state. Caller holds g_mu. */
static int ensure_tested(entry *e) {
    if (e->state == 0) {
        char msg[sizeof e->reason] = "";
        int rc = e->v->selftest ? e->v->selftest(e->v, msg, sizeof msg) : 0;
        e->state = rc == 0 ? 1 : -1;
        if (rc != 0) __atomic_add_fetch(&g_gen, 1, __ATOMIC_RELEASE);
        snprintf(e->reason, sizeof e->reason, "%s", rc == 0 ? "self-test passed" : msg);
    }
    return e->state;
}

/* Best trusted variant of exactly this fidelity, or NULL. Caller holds g_mu. */
static const zf_variant *best_of(zf_op op, zf_device be, zf_fidelity f, zf_tier tier, int ignore_tier) {
    zf_cpu_isa cap = zf_get_cpu_isa();
    for (;;) {
        entry *best = NULL;
        for (int i = 0; i < g_count; i++) {
            entry *e = &g_entries[i];
            const zf_variant *v = e->v;
            if (v->op != op || v->backend != be || v->fidelity != f || e->state < 0) continue;
            if (!ignore_tier && v->tier > tier) continue;
            if (be == ZF_DEVICE_CPU && v->isa > cap) continue;
            if (!best || v->isa > best->v->isa) best = e;
        }
        if (!best) return NULL;
        if (ensure_tested(best) > 0) return best->v;
        /* failed: it is now excluded; look again */
    }
}

/* What a call gets, best first. AUTO follows the tier: stable wants EXACT,
 * fast FAST, edge APPROX. Each level falls back to the more exact ones below
 * it (APPROX -> FAST -> EXACT -> STOCK; a stock op has no EXACT level). */
static int fallback_chain(zf_op op, zf_fidelity want, zf_tier tier, zf_fidelity chain[4]) {
    if (want == ZF_FIDELITY_AUTO)
        want = tier == ZF_TIER_STABLE ? ZF_FIDELITY_EXACT : tier == ZF_TIER_FAST ? ZF_FIDELITY_FAST : ZF_FIDELITY_APPROX;
    int n = 0;
    if (want == ZF_FIDELITY_APPROX) chain[n++] = ZF_FIDELITY_APPROX;
    if (want == ZF_FIDELITY_APPROX || want == ZF_FIDELITY_FAST) chain[n++] = ZF_FIDELITY_FAST;
    if (is_fused(op) && want != ZF_FIDELITY_STOCK) chain[n++] = ZF_FIDELITY_EXACT;
    chain[n++] = ZF_FIDELITY_STOCK;
    return n;
}

static int g_default_fidelity = ZF_FIDELITY_AUTO;

zf_status zf_set_default_fidelity(zf_fidelity f) {
    if (f < 0 || f >= ZF_FIDELITY_COUNT)
        return zf_error(ZF_ERR_INVALID_ARG, "[fidelity] invalid fidelity value %d", (int)f);
    __atomic_store_n(&g_default_fidelity, (int)f, __ATOMIC_RELAXED);
    return ZF_OK;
}

zf_fidelity zf_get_default_fidelity(void) {
    return (zf_fidelity)__atomic_load_n(&g_default_fidelity, __ATOMIC_RELAXED);
}

zf_status zf_pick(zf_op op, zf_device backend, zf_fidelity want, const zf_variant **out) {
    zf_registry_init();
    if (want == ZF_FIDELITY_AUTO) want = zf_get_default_fidelity();
    zf_tier tier;
    ZF_TRY(zf_env_check());
    ZF_TRY(zf_tier_current(&tier));
    if (want < 0 || want >= ZF_FIDELITY_COUNT)
        return zf_error(ZF_ERR_INVALID_ARG, "[%s] invalid fidelity value %d", zf_op_name(op), (int)want);
    if (op < 0 || op >= ZF_OP_COUNT || backend < 0 || backend >= ZF_DEVICE_COUNT)
        return zf_error(ZF_ERR_INVALID_ARG, "[registry] invalid op %d or backend %d", (int)op, (int)backend);
    zf_cpu_isa isa = zf_get_cpu_isa();
    uint64_t *slot = &g_pick_cache[op][backend][want][tier][isa];
    uint64_t cached = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if ((cached & 0xffff) && cached >> 16 == __atomic_load_n(&g_gen, __ATOMIC_ACQUIRE)) {
        *out = g_entries[(cached & 0xffff) - 1].v;
        return ZF_OK;
    }
    zf_fidelity chain[4];
    int n = fallback_chain(op, want, tier, chain);
    /* an explicit fidelity is an explicit opt-in: the tier does not gate it */
    int ignore_tier = want != ZF_FIDELITY_AUTO;
    pthread_mutex_lock(&g_mu);
    const zf_variant *v = NULL;
    for (int i = 0; i < n && !v; i++) v = best_of(op, backend, chain[i], tier, ignore_tier);
    if (v) {
        uint64_t index = (uint64_t)(find(v) - g_entries) + 1;
        __atomic_store_n(slot, (__atomic_load_n(&g_gen, __ATOMIC_ACQUIRE) << 16) | index, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&g_mu);
    if (!v)
        return zf_error(ZF_ERR_SELFTEST, "[%s] no trusted %s variant on the %s backend (see `zf caps`)",
                        zf_op_name(op), zf_fidelity_name(want), backend == ZF_DEVICE_CPU ? "cpu" : "cuda");
    *out = v;
    return ZF_OK;
}

const zf_variant *zf_pick_explain(zf_op op, zf_device backend, zf_tier tier, char *why, size_t why_size) {
    zf_registry_init();
    zf_fidelity chain[4];
    int n = fallback_chain(op, ZF_FIDELITY_AUTO, tier, chain);
    pthread_mutex_lock(&g_mu);
    const zf_variant *v = NULL;
    int i = 0;
    for (; i < n && !v; i++) v = best_of(op, backend, chain[i], tier, 0);
    if (v) {
        zf_cpu_isa cap = zf_get_cpu_isa();
        const char *ev = v->evidence ? v->evidence : "";
        if (i > 1)
            snprintf(why, why_size, "no trusted %s variant allowed in tier %s; fell back to %s",
                     zf_fidelity_name(chain[0]), zf_tier_name(tier), zf_fidelity_name(v->fidelity));
        else if (backend == ZF_DEVICE_CPU)
            snprintf(why, why_size, "%s fidelity for tier %s; best ISA <= cap %s; self-test passed%s%s",
                     zf_fidelity_name(v->fidelity), zf_tier_name(tier), zf_cpu_isa_name(cap),
                     *ev ? "; evidence " : "", ev);
        else
            snprintf(why, why_size, "%s fidelity for tier %s; self-test passed%s%s", zf_fidelity_name(v->fidelity),
                     zf_tier_name(tier), *ev ? "; evidence " : "", ev);
    } else {
        snprintf(why, why_size, "no trusted variant");
    }
    pthread_mutex_unlock(&g_mu);
    return v;
}
