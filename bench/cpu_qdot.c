/* The CPU canonical quantized dot (docs/NUMERICS.md §8.2) on one core:
 * ns per weight row and GB/s of weight bytes, for rows that stay in cache
 * and for rows rotated over more than the LLC (so they come from DRAM).
 *
 *   cpu_qdot [-b BITS] [-g GROUP] [-k K] [-s f16|bf16|f32] [-n ROWS] [-x NX]
 *            [-r REPS] [--isa avx2|avx512|scalar|i8|i8x512]
 *
 * ROWS is the rows of one kernel call (the engine's chunk: 16-64 at decode),
 * NX the x rows per call (1 = decode). Every repetition times each kernel
 * once, interleaved; medians and ranges over the repetitions, in thread CPU
 * time (the machine is shared). GHz is estimated from a chain of dependent
 * f32 adds (3 cycles each on Zen 3) so ns can be read as cycles. Before timing,
 * each kernel's outputs are checked against zf_scalar_qdot: bit for bit, or
 * for i8 and i8x512 (the edge int8 kernel on AVX2 and on AVX-512, not the
 * canonical dot) within its §8.7 bound.
 *
 * Side by side with an older kernel: configure with
 * -DZF_QDOT_BASE_SRC=/path/to/old/src/cpu/qmm_avx2.c and the bench also
 * times that file's zf_avx2_qdot (renamed zf_avx2_qdot_base), interleaved
 * with the current one in the same process. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dtype.h"
#include "cpu/qmm.h"

void zf_avx2_qdot_base(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out)
    __attribute__((weak));

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}
static float unif(float lo, float hi) { return lo + (hi - lo) * (float)((next() >> 40) * 0x1p-24); }

/* thread CPU time: the VM is shared, and time slices lost to other
 * processes would otherwise count */
static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Whether got is within the int8 kernel's stated bound (§8.7) of float64. */
static int i8_ok(const zf_qrows *w, int64_t r, const float *x, float got) {
    double ref, b = zf_qdot_i8_bound(w, r, x, &ref);
    return fabs(got - ref) <= b + 0x1p-24 * fabs(ref);
}

typedef struct kern {
    const char *name;
    zf_qdot_fn fn;
} kern;

int main(int argc, char **argv) {
    int bits = 4, gs = 64, nrows = 64, nx = 1, reps = 15;
    int64_t k = 2048;
    zf_dtype sdt = ZF_DTYPE_F16;
    const char *isa = "avx2";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "%s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "-b")) bits = atoi(v);
        else if (!strcmp(a, "-g")) gs = atoi(v);
        else if (!strcmp(a, "-k")) k = atoll(v);
        else if (!strcmp(a, "-n")) nrows = atoi(v);
        else if (!strcmp(a, "-x")) nx = atoi(v);
        else if (!strcmp(a, "-r")) reps = atoi(v);
        else if (!strcmp(a, "--isa")) isa = v;
        else if (!strcmp(a, "-s")) sdt = !strcmp(v, "bf16") ? ZF_DTYPE_BF16 : !strcmp(v, "f32") ? ZF_DTYPE_F32 : ZF_DTYPE_F16;
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (k % gs || (gs != 32 && gs != 64 && gs != 128) || nx < 1 || nx > ZF_QNX || nrows < 1) {
        fprintf(stderr, "bad shape\n");
        return 2;
    }
    /* each --isa: its kernel, the ISA level its instructions need, and
     * whether it is the int8 approximation (checked against its bound) */
    static const struct {
        const char *name;
        zf_qdot_fn fn;
        zf_cpu_isa need;
        int approx;
    } isas[] = {
        {"scalar", zf_scalar_qdot, ZF_CPU_ISA_SCALAR, 0}, {"avx2", zf_avx2_qdot, ZF_CPU_ISA_AVX2, 0},
        {"avx512", zf_avx512_qdot, ZF_CPU_ISA_AVX512, 0}, {"i8", zf_avx2_qdot_i8, ZF_CPU_ISA_AVX2, 1},
        {"i8x512", zf_avx512_qdot_i8, ZF_CPU_ISA_AVX512, 1},
    };
    int known = -1;
    for (int i = 0; i < (int)(sizeof isas / sizeof *isas); i++)
        if (!strcmp(isa, isas[i].name)) known = i;
    if (known < 0) {
        fprintf(stderr, "unknown --isa %s (scalar, avx2, avx512, i8 or i8x512)\n", isa);
        return 2;
    }
    if (zf_cpu_isa_detected() < isas[known].need) {
        fprintf(stderr, "--isa %s needs %s; this CPU offers %s\n", isa, zf_cpu_isa_name(isas[known].need),
                zf_cpu_isa_name(zf_cpu_isa_detected()));
        return 77;
    }
    kern ks[2];
    int nk = 0;
    const int approx = isas[known].approx;
    ks[nk++] = (kern){isa, isas[known].fn};
    if (zf_avx2_qdot_base) ks[nk++] = (kern){"base", zf_avx2_qdot_base};

    int64_t words = k * bits / 32, groups = k / gs;
    size_t ss = zf_dtype_size(sdt), row_bytes = (size_t)words * 4 + 2 * (size_t)groups * ss;
    /* DRAM set: > 512 MiB of rows, whole calls */
    int64_t calls_dram = ((int64_t)(512u << 20) / (int64_t)row_bytes) / nrows + 1, total = calls_dram * nrows;
    uint32_t *packed = aligned_alloc(64, (size_t)(total * words * 4 + 64));
    char *scales = aligned_alloc(64, (size_t)(total * groups) * ss + 64), *biases = aligned_alloc(64, (size_t)(total * groups) * ss + 64);
    for (int64_t i = 0; i < total * words; i++) packed[i] = (uint32_t)next();
    for (int64_t i = 0; i < total * groups; i++) {
        zf_store(sdt, scales, i, unif(0.005f, 0.04f) * (next() & 1 ? 1.0f : -1.0f));
        zf_store(sdt, biases, i, unif(-0.2f, 0.2f));
    }
    float *xf[ZF_QNX], *xs[ZF_QNX];
    for (int i = 0; i < nx; i++) {
        xf[i] = aligned_alloc(64, (size_t)k * 4), xs[i] = aligned_alloc(64, (size_t)k);
        for (int64_t j = 0; j < k; j++) { /* bf16 values, as a bf16 model's activations */
            uint16_t h;
            zf_store(ZF_DTYPE_BF16, &h, 0, unif(-2, 2));
            xf[i][j] = zf_load(ZF_DTYPE_BF16, &h, 0);
        }
        zf_qx_prepare(ZF_DTYPE_F32, xf[i], k, xf[i], xs[i]);
    }
    float *out = malloc((size_t)nx * nrows * 4), *want = malloc((size_t)nx * nrows * 4);
#define QROWS(c) \
    ((zf_qrows){packed + (c) * nrows * words, scales + (size_t)((c) * nrows * groups) * ss, \
                biases + (size_t)((c) * nrows * groups) * ss, sdt, bits, gs, k, words, groups, nrows})
    /* bit for bit against the scalar definition, on a few calls */
    for (int64_t c = 0; c < calls_dram; c += calls_dram / 7 + 1) {
        zf_qrows w = QROWS(c);
        zf_scalar_qdot(&w, nx, (const float *const *)xf, (const float *const *)xs, want);
        for (int t = 0; t < nk; t++) {
            memset(out, 0xff, (size_t)nx * nrows * 4);
            ks[t].fn(&w, nx, (const float *const *)xf, (const float *const *)xs, out);
            for (int i = 0; i < nx * nrows; i++)
                if (approx ? !i8_ok(&w, i % nrows, xf[i / nrows], out[i])
                           : zf_f32_bits(out[i]) != zf_f32_bits(want[i])) {
                    fprintf(stderr, "%s: call %lld out[%d] = %.9g, scalar %.9g\n", ks[t].name, (long long)c, i, out[i],
                            want[i]);
                    return 1;
                }
        }
    }
    /* clock: dependent adds */
    double ghz = 0;
    {
        volatile float seed = 1.0f;
        float a = seed;
        double t0 = now_ns();
        for (int i = 0; i < 20000000; i++) __asm__ volatile("vaddss %0, %0, %0" : "+x"(a));
        ghz = 3.0 * 20000000 / (now_ns() - t0);
        (void)a;
    }
    double load[3] = {0};
    if (getloadavg(load, 3) < 0) load[0] = -1;
    printf("bits %d gs %d k %lld scales %s rows/call %d nx %d: %zu weight bytes/row; load %.2f; ~%.2f GHz\n", bits, gs,
           (long long)k, zf_dtype_name(sdt), nrows, nx, row_bytes, load[0], ghz);
    /* cache: the same call again and again (nrows rows stay in L1/L2) */
    int64_t cache_calls = (int64_t)(2e7 / (double)(k * nrows * nx)) + 1;
    for (int mode = 0; mode < 2; mode++) {
        double t[2][256];
        int64_t c_dram = 0;
        for (int rep = 0; rep < reps && rep < 256; rep++)
            for (int kt = 0; kt < nk; kt++) {
                int64_t n = mode == 0 ? cache_calls : calls_dram / 4;
                zf_qrows w0 = QROWS(0);
                ks[kt].fn(&w0, nx, (const float *const *)xf, (const float *const *)xs, out); /* warm */
                double t0 = now_ns();
                for (int64_t c = 0; c < n; c++) {
                    zf_qrows w = mode == 0 ? w0 : QROWS(c_dram);
                    if (mode == 1 && ++c_dram == calls_dram) c_dram = 0;
                    ks[kt].fn(&w, nx, (const float *const *)xf, (const float *const *)xs, out);
                }
                t[kt][rep] = (now_ns() - t0) / (double)(n * nrows);
            }
        for (int kt = 0; kt < nk; kt++) {
            double s[256];
            int n = reps < 256 ? reps : 256;
            memcpy(s, t[kt], (size_t)n * sizeof *s);
            qsort(s, (size_t)n, sizeof *s, cmp_d);
            double med = s[n / 2];
            printf("  %-5s %-6s %8.1f ns/row [%.1f .. %.1f]  %6.2f GB/s  %6.2f G weights/s x %d  %5.2f cycles/block\n",
                   mode == 0 ? "cache" : "dram", ks[kt].name, med, s[0], s[n - 1], (double)row_bytes / med,
                   (double)k / med, nx, med * ghz / (double)(k / ZF_QBLOCK));
        }
        if (nk == 2) { /* paired: each repetition's ratio, robust to drifts of the shared machine */
            double q[256];
            int n = reps < 256 ? reps : 256;
            for (int i = 0; i < n; i++) q[i] = t[0][i] / t[1][i];
            qsort(q, (size_t)n, sizeof *q, cmp_d);
            printf("  %-5s %s/base time ratio: median %.3f [%.3f .. %.3f], quartiles %.3f .. %.3f\n",
                   mode == 0 ? "cache" : "dram", ks[0].name, q[n / 2], q[0], q[n - 1], q[n / 4], q[(3 * n) / 4]);
        }
    }
    if (getloadavg(load, 3) >= 0) printf("  load after %.2f\n", load[0]);
    return 0;
}
