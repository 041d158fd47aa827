/* Decode attention on the CPU: one query against t cached positions, the
 * AVX2 kernel against the scalar one (the baseline, same bits) in the same
 * process, with the K/V caches of enough layers rotated that every call
 * reads them from beyond the last-level cache, as a decode step does.
 * Reports µs per call, the K and V bytes a call reads, their rate and its
 * fraction of the read bandwidth measured in the same run.
 *
 *   cpu_attention [-t T[,T...]] [-r REPS] [--threads N] [--isa avx2|avx512]
 *
 * Shapes: SmolLM2-135M (9 q heads over 3 kv heads, head_dim 64) and
 * Qwen3-30B-A3B (32 over 4, head_dim 128), f32 K/V, at T positions
 * (default 129,1024,4096). Medians and ranges over REPS (default 9)
 * repetitions, each timing both kernels over every layer, interleaved;
 * wall time. Before timing, the two kernels' outputs are compared bit for
 * bit. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bandwidth.h"
#include "zfast.h"

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct shape {
    const char *name;
    int64_t hq, hk, d;
} shape;

/* Mean µs per call over all layers, with this ISA cap. */
static double time_layers(zf_cpu_isa isa, zf_tensor *q, zf_tensor *k, zf_tensor *v, zf_tensor *out, int layers,
                          size_t kv_elems) {
    if (zf_set_cpu_isa(isa) != ZF_OK) return -1;
    float *k0 = k->data, *v0 = v->data;
    double t0 = now_us();
    for (int l = 0; l < layers; l++) {
        k->data = k0 + (size_t)l * kv_elems;
        v->data = v0 + (size_t)l * kv_elems;
        if (zf_attention(q, k, v, 0.125f, out, NULL) != ZF_OK) return -1;
    }
    double us = (now_us() - t0) / layers;
    k->data = k0;
    v->data = v0;
    return us;
}

static zf_cpu_isa g_isa; /* the kernel timed against the scalar one */

static int run(const shape *s, int64_t t, int reps, double bw_gbps) {
    const int64_t hq = s->hq, hk = s->hk, d = s->d;
    const size_t kv_elems = (size_t)(hk * t * d), layer_bytes = 2 * kv_elems * sizeof(float);
    int layers = (int)((2 * zf_cpu_llc_bytes()) / layer_bytes + 1);
    if (layers < 4) layers = 4;
    float *K = malloc((size_t)layers * kv_elems * sizeof *K), *V = malloc((size_t)layers * kv_elems * sizeof *V);
    float *q = malloc((size_t)(hq * d) * sizeof *q), *o1 = malloc((size_t)(hq * d) * 4), *o2 = malloc((size_t)(hq * d) * 4);
    if (!K || !V || !q || !o1 || !o2) {
        fprintf(stderr, "cpu_attention: no memory for %d layers of %zu bytes\n", layers, layer_bytes);
        return 1;
    }
    uint64_t r = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < (size_t)layers * kv_elems; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        K[i] = (float)((r >> 40) & 0xffff) / 65536.0f - 0.5f;
        V[i] = (float)((r >> 20) & 0xffff) / 65536.0f - 0.5f;
    }
    for (int64_t i = 0; i < hq * d; i++) q[i] = (float)(i % 29) / 29.0f - 0.5f;
    const int64_t qs[3] = {1, hq, d}, ks[3] = {hk, t, d};
    zf_tensor tq = zf_tensor_nd(q, ZF_DTYPE_F32, 3, qs), tk = zf_tensor_nd(K, ZF_DTYPE_F32, 3, ks),
              tv = zf_tensor_nd(V, ZF_DTYPE_F32, 3, ks), t1 = zf_tensor_nd(o1, ZF_DTYPE_F32, 3, qs),
              t2 = zf_tensor_nd(o2, ZF_DTYPE_F32, 3, qs);
    const zf_cpu_isa best = g_isa;
    int rc = 0;
    if (zf_set_cpu_isa(ZF_CPU_ISA_SCALAR) != ZF_OK || zf_attention(&tq, &tk, &tv, 0.125f, &t1, NULL) != ZF_OK ||
        zf_set_cpu_isa(best) != ZF_OK || zf_attention(&tq, &tk, &tv, 0.125f, &t2, NULL) != ZF_OK) {
        fprintf(stderr, "cpu_attention: %s\n", zf_last_error());
        rc = 1;
    } else if (memcmp(o1, o2, (size_t)(hq * d) * 4) != 0) {
        fprintf(stderr, "cpu_attention: %s t %lld: the %s kernel's output differs from the scalar one\n", s->name,
                (long long)t, zf_cpu_isa_name(best));
        rc = 1;
    }
    double *ts = malloc((size_t)reps * sizeof *ts), *tb = malloc((size_t)reps * sizeof *tb);
    for (int i = 0; !rc && i < reps; i++) {
        ts[i] = time_layers(ZF_CPU_ISA_SCALAR, &tq, &tk, &tv, &t1, layers, kv_elems);
        tb[i] = time_layers(best, &tq, &tk, &tv, &t2, layers, kv_elems);
        rc = ts[i] < 0 || tb[i] < 0;
    }
    if (!rc) {
        qsort(ts, (size_t)reps, sizeof *ts, cmp_d);
        qsort(tb, (size_t)reps, sizeof *tb, cmp_d);
        const double ms = ts[reps / 2], mb = tb[reps / 2], gb = (double)layer_bytes / (mb * 1e3);
        printf("%-8s %5lld %6.1f %8.2f (%.2f-%.2f) %8.2f (%.2f-%.2f) %6.2fx %7.1f %5.0f%%\n", s->name, (long long)t,
               layer_bytes / 1024.0, mb, tb[0], tb[reps - 1], ms, ts[0], ts[reps - 1], ms / mb, gb,
               100.0 * gb / bw_gbps);
    }
    zf_set_cpu_isa(zf_cpu_isa_detected());
    free(ts), free(tb), free(K), free(V), free(q), free(o1), free(o2);
    return rc;
}

int main(int argc, char **argv) {
    int64_t ts[8] = {129, 1024, 4096};
    int nt = 3, reps = 9;
    g_isa = zf_cpu_isa_detected();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            nt = 0;
            for (char *p = argv[++i]; *p && nt < 8; p += *p == ',') ts[nt++] = strtoll(p, &p, 10);
        } else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (zf_set_num_threads(atoi(argv[++i])) != ZF_OK) {
                fprintf(stderr, "cpu_attention: %s\n", zf_last_error());
                return 2;
            }
        } else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
            const char *n = argv[++i];
            g_isa = !strcmp(n, "avx512") ? ZF_CPU_ISA_AVX512 : !strcmp(n, "avx2") ? ZF_CPU_ISA_AVX2 : ZF_CPU_ISA_COUNT;
            if (g_isa == ZF_CPU_ISA_COUNT || g_isa > zf_cpu_isa_detected()) {
                fprintf(stderr, "cpu_attention: --isa %s: expected avx2 or avx512, at most what the machine has\n", n);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: cpu_attention [-t T[,T...]] [-r REPS] [--threads N] [--isa avx2|avx512]\n");
            return 2;
        }
    }
    for (int i = 0; i < nt; i++)
        if (ts[i] < 1) {
            fprintf(stderr, "cpu_attention: positions must be >= 1\n");
            return 2;
        }
    if (reps < 1) reps = 1;
    zf_gate_bw bw;
    char msg[256];
    if (zf_cpu_bandwidth(1, 0, (size_t)128 << 20, 5, &bw, msg, sizeof msg) != 0) {
        fprintf(stderr, "cpu_attention: bandwidth probe: %s\n", msg);
        return 1;
    }
    printf("threads %d, kernel ISA %s, read bandwidth %.1f GB/s (%s)\n", zf_get_num_threads(),
           zf_cpu_isa_name(g_isa), bw.gbps, bw.pattern);
    printf("%-8s %5s %6s %-24s %-24s %7s %7s %6s\n", "shape", "t", "KV KiB", "kernel us (range)", "scalar us (range)",
           "speedup", "GB/s", "of bw");
    const shape shapes[] = {{"smollm2", 9, 3, 64}, {"qwen3", 32, 4, 128}};
    int rc = 0;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < nt; i++) rc |= run(&shapes[s], ts[i], reps, bw.gbps);
    return rc;
}
