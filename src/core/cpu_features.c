#include "core/cpu_features.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static zf_cpu_info g_info;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_isa_cap = -1; /* -1: not set yet (env / detected) */

static void detect(void) {
    zf_cpu_info *c = &g_info;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->cores = n < 1 ? 1 : (int)n;
    strcpy(c->brand, "unknown");
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, cx, d;
    if (__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
        unsigned *w = (unsigned *)c->brand;
        for (unsigned leaf = 0; leaf < 3; leaf++) {
            __cpuid(0x80000002u + leaf, a, b, cx, d);
            w[leaf * 4 + 0] = a; w[leaf * 4 + 1] = b; w[leaf * 4 + 2] = cx; w[leaf * 4 + 3] = d;
        }
        c->brand[48] = '\0';
        char *s = c->brand; /* trim leading/trailing blanks */
        while (*s == ' ') s++;
        memmove(c->brand, s, strlen(s) + 1);
        for (size_t i = strlen(c->brand); i > 0 && c->brand[i - 1] == ' '; i--) c->brand[i - 1] = '\0';
    }
    if (!__get_cpuid(1, &a, &b, &cx, &d)) return;
    int osxsave = (cx >> 27) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_os = (xcr0 & 0x6) == 0x6;
    int zmm_os = (xcr0 & 0xe6) == 0xe6;
    c->avx = ((cx >> 28) & 1) && ymm_os;
    c->fma = ((cx >> 12) & 1) && ymm_os;
    c->f16c = ((cx >> 29) & 1) && ymm_os;
    if (__get_cpuid_count(7, 0, &a, &b, &cx, &d)) {
        c->avx2 = ((b >> 5) & 1) && ymm_os;
        c->avx512f = ((b >> 16) & 1) && zmm_os;
        c->avx512bw = ((b >> 30) & 1) && zmm_os;
        c->avx512vl = ((b >> 31) & 1) && zmm_os;
        c->avx512fp16 = ((d >> 23) & 1) && zmm_os;
    }
    if (__get_cpuid_count(7, 1, &a, &b, &cx, &d)) c->avx512bf16 = ((a >> 5) & 1) && zmm_os;
#endif
}

const zf_cpu_info *zf_cpu_info_get(void) {
    pthread_once(&g_once, detect);
    return &g_info;
}

void zf_cpu_features(zf_cpu_feature out[ZF_CPU_FEATURE_COUNT]) {
    const zf_cpu_info *c = zf_cpu_info_get();
    const zf_cpu_feature f[ZF_CPU_FEATURE_COUNT] = {
        {"avx", c->avx},           {"avx2", c->avx2},         {"fma", c->fma},
        {"f16c", c->f16c},         {"avx512f", c->avx512f},   {"avx512bw", c->avx512bw},
        {"avx512vl", c->avx512vl}, {"avx512bf16", c->avx512bf16}, {"avx512fp16", c->avx512fp16},
    };
    memcpy(out, f, sizeof f);
}

zf_cpu_isa zf_cpu_isa_detected(void) {
    const zf_cpu_info *c = zf_cpu_info_get();
    if (c->avx512f && c->avx512bw && c->avx512vl && c->fma && c->f16c) return ZF_CPU_ISA_AVX512;
    if (c->avx2 && c->fma && c->f16c) return ZF_CPU_ISA_AVX2;
    return ZF_CPU_ISA_SCALAR;
}

static const char *const k_isa_names[ZF_CPU_ISA_COUNT] = {"scalar", "avx2", "avx512"};

const char *zf_cpu_isa_name(zf_cpu_isa isa) {
    return (isa >= 0 && isa < ZF_CPU_ISA_COUNT) ? k_isa_names[isa] : "invalid";
}

zf_status zf_cpu_isa_parse(const char *s, zf_cpu_isa *out) {
    if (!s || !out) return zf_error(ZF_ERR_INVALID_ARG, "[cpu_isa] NULL argument");
    for (int i = 0; i < ZF_CPU_ISA_COUNT; i++)
        if (strcmp(s, k_isa_names[i]) == 0) { *out = (zf_cpu_isa)i; return ZF_OK; }
    return zf_error(ZF_ERR_INVALID_ARG, "[cpu_isa] unknown ISA '%s' (expected scalar, avx2 or avx512)", s);
}

zf_status zf_set_cpu_isa(zf_cpu_isa isa) {
    if (isa < 0 || isa >= ZF_CPU_ISA_COUNT)
        return zf_error(ZF_ERR_INVALID_ARG, "[cpu_isa] invalid ISA value %d", (int)isa);
    if (isa > zf_cpu_isa_detected())
        return zf_error(ZF_ERR_UNSUPPORTED, "[cpu_isa] '%s' requested but this CPU offers at most '%s'",
                        zf_cpu_isa_name(isa), zf_cpu_isa_name(zf_cpu_isa_detected()));
    __atomic_store_n(&g_isa_cap, (int)isa, __ATOMIC_RELAXED);
    return ZF_OK;
}

zf_cpu_isa zf_get_cpu_isa(void) {
    int cap = __atomic_load_n(&g_isa_cap, __ATOMIC_RELAXED);
    if (cap >= 0) return (zf_cpu_isa)cap;
    /* first use: ZF_CPU_ISA may lower the cap; a bad value keeps the detected one
     * (the zf tool reports it via zf_env_check) */
    zf_cpu_isa best = zf_cpu_isa_detected(), want;
    const char *env = getenv("ZF_CPU_ISA");
    if (env && *env && zf_cpu_isa_parse(env, &want) == ZF_OK && want <= best) best = want;
    __atomic_store_n(&g_isa_cap, (int)best, __ATOMIC_RELAXED);
    return best;
}
