/* Release tier: API setting, else ZF_TIER, else stable. A ZF_TIER value
 * that names no tier makes every op fail with a message (never a silent
 * default). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/registry.h"

static const char *const k_tier_names[ZF_TIER_COUNT] = {"stable", "fast", "edge"};
static int g_tier = -1;        /* -1: not resolved yet */
static int g_env_bad = 0;      /* ZF_TIER held a bad value */
static char g_env_val[64];

const char *zf_tier_name(zf_tier t) {
    return (t >= 0 && t < ZF_TIER_COUNT) ? k_tier_names[t] : "invalid";
}

zf_status zf_tier_parse(const char *s, zf_tier *out) {
    if (!s || !out) return zf_error(ZF_ERR_INVALID_ARG, "[tier] NULL argument");
    for (int i = 0; i < ZF_TIER_COUNT; i++)
        if (strcmp(s, k_tier_names[i]) == 0) { *out = (zf_tier)i; return ZF_OK; }
    return zf_error(ZF_ERR_INVALID_ARG, "[tier] unknown tier '%s' (expected stable, fast or edge)", s);
}

zf_status zf_set_tier(zf_tier t) {
    if (t < 0 || t >= ZF_TIER_COUNT) return zf_error(ZF_ERR_INVALID_ARG, "[tier] invalid tier value %d", (int)t);
    __atomic_store_n(&g_env_bad, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g_tier, (int)t, __ATOMIC_RELEASE);
    return ZF_OK;
}

static void resolve(void) {
    if (__atomic_load_n(&g_tier, __ATOMIC_ACQUIRE) >= 0) return;
    const char *env = getenv("ZF_TIER");
    zf_tier t = ZF_TIER_STABLE;
    if (env && *env) {
        for (int i = 0; i < ZF_TIER_COUNT; i++)
            if (strcmp(env, k_tier_names[i]) == 0) { t = (zf_tier)i; goto ok; }
        strncpy(g_env_val, env, sizeof g_env_val - 1);
        __atomic_store_n(&g_env_bad, 1, __ATOMIC_RELAXED);
    }
ok:;
    int expected = -1;
    __atomic_compare_exchange_n(&g_tier, &expected, (int)t, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

zf_tier zf_get_tier(void) {
    resolve();
    return (zf_tier)__atomic_load_n(&g_tier, __ATOMIC_ACQUIRE);
}

zf_status zf_tier_current(zf_tier *out) {
    resolve();
    if (__atomic_load_n(&g_env_bad, __ATOMIC_RELAXED))
        return zf_error(ZF_ERR_INVALID_ARG,
                        "[tier] ZF_TIER='%s' is not a tier (expected stable, fast or edge)", g_env_val);
    *out = (zf_tier)__atomic_load_n(&g_tier, __ATOMIC_ACQUIRE);
    return ZF_OK;
}

static zf_status env_check_uncached(void) {
    zf_tier t;
    ZF_TRY(zf_tier_current(&t));
    const char *isa = getenv("ZF_CPU_ISA");
    if (isa && *isa) {
        zf_cpu_isa want;
        ZF_TRY(zf_cpu_isa_parse(isa, &want));
        if (want > zf_cpu_isa_detected())
            return zf_error(ZF_ERR_UNSUPPORTED, "[cpu_isa] ZF_CPU_ISA='%s' but this CPU offers at most '%s'", isa,
                            zf_cpu_isa_name(zf_cpu_isa_detected()));
    }
    return ZF_OK;
}

/* The environment does not change under a running program: check it once
 * and replay the verdict (with its message) on every later call. */
zf_status zf_env_check(void) {
    static int checked;
    static zf_status verdict;
    static char msg[256];
    if (!__atomic_load_n(&checked, __ATOMIC_ACQUIRE)) {
        zf_status s = env_check_uncached();
        if (s != ZF_OK) snprintf(msg, sizeof msg, "%s", zf_last_error());
        verdict = s;
        __atomic_store_n(&checked, 1, __ATOMIC_RELEASE);
    }
    if (verdict != ZF_OK) {
        if (__atomic_load_n(&g_env_bad, __ATOMIC_RELAXED) == 0 && strstr(msg, "ZF_TIER")) return ZF_OK; /* zf_set_tier overrode it */
        return zf_error(verdict, "%s", msg);
    }
    return ZF_OK;
}

static const char *const k_fid_names[ZF_FIDELITY_COUNT] = {"auto", "stock", "exact", "fast", "approx"};

const char *zf_fidelity_name(zf_fidelity f) {
    return (f >= 0 && f < ZF_FIDELITY_COUNT) ? k_fid_names[f] : "invalid";
}
