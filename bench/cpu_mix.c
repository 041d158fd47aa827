/* What one core sustains for the canonical dot's instruction mix
 * (docs/NUMERICS.md §8.2), with no dependencies between the instructions:
 * the ceiling a 4-bit qmm kernel can reach on this core whatever its
 * scheduling. Per block of 32 weights the AVX2 kernel executes
 *   unpack: 4 x (32-bit broadcast load, variable shift, mask, int->f32)
 *   dot:    1 mul + 3 fma with x from memory, 2 fma (scale, bias), 2 scale loads, 1 lane-sum load
 * and a shuffle variant (one 16-byte broadcast, 5 byte shuffles, 1 shift,
 * 1 mask, 4 converts) is timed too. Also single instruction kinds, to see
 * which execution ports they share. x86-64 with AVX2/FMA only.
 *
 *   cpu_mix [iterations]
 *
 * Cycles are estimated from a chain of dependent vaddss (3 cycles each on
 * Zen 3); thread CPU time. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static float buf[256] __attribute__((aligned(64)));

#define CLOB "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
             "xmm12", "xmm13", "xmm14", "xmm15", "memory"
#define TIME(name, per, body)                                                                    \
    do {                                                                                         \
        double t0 = now_ns();                                                                    \
        for (long i = 0; i < n; i++) __asm__ volatile(body ::"r"(buf) : CLOB);                   \
        printf("  %-44s %6.2f cycles per %s\n", name, (now_ns() - t0) * ghz / (double)n, per); \
    } while (0)

/* the AVX2 kernel's block (qmm_avx2.c stream_block with unpack()) */
#define OLD_BLOCK                                                                                     \
    "vpbroadcastd 0(%0), %%ymm0\n vpbroadcastd 4(%0), %%ymm1\n vpbroadcastd 8(%0), %%ymm2\n"           \
    "vpbroadcastd 12(%0), %%ymm3\n"                                                                    \
    "vpsrlvd %%ymm15, %%ymm0, %%ymm4\n vpsrlvd %%ymm15, %%ymm1, %%ymm5\n vpsrlvd %%ymm15, %%ymm2, %%ymm6\n" \
    "vpsrlvd %%ymm15, %%ymm3, %%ymm7\n"                                                               \
    "vpand %%ymm14, %%ymm4, %%ymm8\n vpand %%ymm14, %%ymm5, %%ymm9\n vpand %%ymm14, %%ymm6, %%ymm10\n"   \
    "vpand %%ymm14, %%ymm7, %%ymm11\n"                                                                \
    "vcvtdq2ps %%ymm8, %%ymm4\n vcvtdq2ps %%ymm9, %%ymm5\n vcvtdq2ps %%ymm10, %%ymm6\n"                \
    "vcvtdq2ps %%ymm11, %%ymm7\n"                                                                     \
    "vmulps 32(%0), %%ymm14, %%ymm12\n vmulps 64(%0), %%ymm14, %%ymm13\n vmulps 96(%0), %%ymm14, %%ymm0\n" \
    "vmulps 128(%0), %%ymm14, %%ymm1\n vmulps 160(%0), %%ymm14, %%ymm2\n vmulps %%ymm15, %%ymm14, %%ymm3\n" \
    "vbroadcastss 192(%0), %%ymm8\n vbroadcastss 196(%0), %%ymm9\n"
/* 16-byte broadcast + byte shuffles */
#define SHUF_BLOCK                                                                                    \
    "vbroadcasti128 0(%0), %%ymm0\n vpshufb %%ymm15, %%ymm0, %%ymm1\n vpsrlvd %%ymm15, %%ymm1, %%ymm2\n" \
    "vpand %%ymm14, %%ymm2, %%ymm3\n"                                                                  \
    "vpshufb %%ymm15, %%ymm3, %%ymm4\n vpshufb %%ymm14, %%ymm3, %%ymm5\n vpshufb %%ymm13, %%ymm3, %%ymm6\n" \
    "vpshufb %%ymm12, %%ymm3, %%ymm7\n"                                                               \
    "vcvtdq2ps %%ymm4, %%ymm8\n vcvtdq2ps %%ymm5, %%ymm9\n vcvtdq2ps %%ymm6, %%ymm10\n"                 \
    "vcvtdq2ps %%ymm7, %%ymm11\n"                                                                     \
    "vmulps 32(%0), %%ymm14, %%ymm0\n vmulps 64(%0), %%ymm14, %%ymm1\n vmulps 96(%0), %%ymm14, %%ymm2\n"  \
    "vmulps 128(%0), %%ymm14, %%ymm3\n vmulps 160(%0), %%ymm14, %%ymm4\n vmulps %%ymm15, %%ymm14, %%ymm5\n" \
    "vbroadcastss 192(%0), %%ymm6\n vbroadcastss 196(%0), %%ymm7\n"

#define X12(op) op op op op op op op op op op op op

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    float a = 1.0f;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) __asm__ volatile("vaddss %0, %0, %0" : "+x"(a));
    double ghz = 3.0 * (double)n / (now_ns() - t0);
    printf("~%.2f GHz (dependent vaddss)\n", ghz);
    TIME("kernel block mix (broadcast/shift/mask)", "2 blocks", OLD_BLOCK OLD_BLOCK);
    TIME("shuffle block mix (16-byte broadcast, pshufb)", "2 blocks", SHUF_BLOCK SHUF_BLOCK);
    TIME("12 vmulps (independent)", "12", X12("vmulps %%ymm15, %%ymm14, %%ymm0\n"));
    TIME("12 vcvtdq2ps", "12", X12("vcvtdq2ps %%ymm15, %%ymm0\n"));
    TIME("12 vpshufb", "12", X12("vpshufb %%ymm15, %%ymm14, %%ymm0\n"));
    TIME("12 vpsrlvd", "12", X12("vpsrlvd %%ymm15, %%ymm14, %%ymm0\n"));
    TIME("12 vpand", "12", X12("vpand %%ymm15, %%ymm14, %%ymm0\n"));
    TIME("12 ymm loads", "12", X12("vmovaps (%0), %%ymm0\n"));
    TIME("6 vmulps + 6 vcvtdq2ps", "12", "vmulps %%ymm15, %%ymm14, %%ymm0\n vcvtdq2ps %%ymm15, %%ymm1\n"
                                         "vmulps %%ymm15, %%ymm14, %%ymm2\n vcvtdq2ps %%ymm15, %%ymm3\n"
                                         "vmulps %%ymm15, %%ymm14, %%ymm4\n vcvtdq2ps %%ymm15, %%ymm5\n"
                                         "vmulps %%ymm15, %%ymm14, %%ymm6\n vcvtdq2ps %%ymm15, %%ymm7\n"
                                         "vmulps %%ymm15, %%ymm14, %%ymm8\n vcvtdq2ps %%ymm15, %%ymm9\n"
                                         "vmulps %%ymm15, %%ymm14, %%ymm10\n vcvtdq2ps %%ymm15, %%ymm11\n");
    TIME("6 vmulps + 6 vpshufb", "12", "vmulps %%ymm15, %%ymm14, %%ymm0\n vpshufb %%ymm15, %%ymm14, %%ymm1\n"
                                       "vmulps %%ymm15, %%ymm14, %%ymm2\n vpshufb %%ymm15, %%ymm14, %%ymm3\n"
                                       "vmulps %%ymm15, %%ymm14, %%ymm4\n vpshufb %%ymm15, %%ymm14, %%ymm5\n"
                                       "vmulps %%ymm15, %%ymm14, %%ymm6\n vpshufb %%ymm15, %%ymm14, %%ymm7\n"
                                       "vmulps %%ymm15, %%ymm14, %%ymm8\n vpshufb %%ymm15, %%ymm14, %%ymm9\n"
                                       "vmulps %%ymm15, %%ymm14, %%ymm10\n vpshufb %%ymm15, %%ymm14, %%ymm11\n");
    TIME("6 vmulps + 6 vpand", "12", "vmulps %%ymm15, %%ymm14, %%ymm0\n vpand %%ymm15, %%ymm14, %%ymm1\n"
                                     "vmulps %%ymm15, %%ymm14, %%ymm2\n vpand %%ymm15, %%ymm14, %%ymm3\n"
                                     "vmulps %%ymm15, %%ymm14, %%ymm4\n vpand %%ymm15, %%ymm14, %%ymm5\n"
                                     "vmulps %%ymm15, %%ymm14, %%ymm6\n vpand %%ymm15, %%ymm14, %%ymm7\n"
                                     "vmulps %%ymm15, %%ymm14, %%ymm8\n vpand %%ymm15, %%ymm14, %%ymm9\n"
                                     "vmulps %%ymm15, %%ymm14, %%ymm10\n vpand %%ymm15, %%ymm14, %%ymm11\n");
    (void)a;
    return 0;
}
