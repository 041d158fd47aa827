/* What the CPU offers (cpuid + OS state), and the ISA cap kernels obey. */
#ifndef ZF_CORE_CPU_FEATURES_H
#define ZF_CORE_CPU_FEATURES_H

#include "zfast.h"

typedef struct zf_cpu_info {
    char brand[64];
    int avx, avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512bf16, avx512fp16;
    int cores;
} zf_cpu_info;

const zf_cpu_info *zf_cpu_info_get(void);

/* The ISA features `zf caps` and capsules report, in that order: name and
 * whether this CPU (and its OS) has it. */
typedef struct zf_cpu_feature {
    const char *name;
    int on;
} zf_cpu_feature;
enum { ZF_CPU_FEATURE_COUNT = 9 };
void zf_cpu_features(zf_cpu_feature out[ZF_CPU_FEATURE_COUNT]);

#endif
