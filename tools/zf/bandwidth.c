/* Memory bandwidth as the fused ops see it: whole buffers streamed once per
 * pass, reads and writes in the op's proportion, on the same thread pool
 * the ops use. Integer work so the loop is load/store bound, never FP bound. */
#include "bandwidth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/threadpool.h"

#define CHUNK_WORDS (64 * 1024) /* 512 KiB per task */

size_t zf_cpu_llc_bytes(void) {
    size_t best = 0;
    for (int i = 0; i < 8; i++) {
        char path[96], buf[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) {
            char *end;
            unsigned long long v = strtoull(buf, &end, 10);
            if (*end == 'K') v <<= 10;
            else if (*end == 'M') v <<= 20;
            if (v > best) best = (size_t)v;
        }
        fclose(f);
    }
    return best >= (1u << 20) ? best : (size_t)32 << 20;
}

typedef struct bw_job {
    const uint64_t *a, *b;
    uint64_t *c, *d;
    size_t words;
    uint64_t *sink; /* read-only passes leave one sum per task here */
} bw_job;

static void bw_task(void *ctx, int64_t task) {
    bw_job *j = ctx;
    size_t lo = (size_t)task * CHUNK_WORDS, hi = lo + CHUNK_WORDS < j->words ? lo + CHUNK_WORDS : j->words;
    const uint64_t *restrict a = j->a, *restrict b = j->b;
    uint64_t *restrict c = j->c, *restrict d = j->d;
    if (!c) {
        uint64_t acc = 0;
        for (size_t i = lo; i < hi; i++) acc += a[i] ^ b[i];
        j->sink[task] += acc;
    } else if (!d) {
        for (size_t i = lo; i < hi; i++) c[i] = a[i] + b[i];
    } else {
        for (size_t i = lo; i < hi; i++) {
            c[i] = a[i] + b[i];
            d[i] = a[i] ^ b[i];
        }
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int zf_cpu_bandwidth(int reads, int writes, size_t buffer_bytes, int reps, zf_gate_bw *out, char *msg,
                     size_t msg_size) {
    if (reads < 1 || reads > 2 || writes < 0 || writes > 2 || reps < 1 || reps > 64) {
        snprintf(msg, msg_size, "bandwidth probe: %d reads, %d writes, %d reps not supported", reads, writes, reps);
        return -1;
    }
    size_t words = buffer_bytes / 8;
    uint64_t *buf[4] = {0};
    int n = reads + writes, ok = 1;
    uint64_t *base[4] = {0};
    for (int k = 0; k < n && ok; k++) {
        /* page-aligned buffers would all map to the same cache sets and 4 KiB
         * alias; stagger them by k * 1088 bytes as independent allocations are */
        base[k] = aligned_alloc(64, words * 8 + 4096);
        ok = base[k] != NULL;
        if (ok) buf[k] = base[k] + (size_t)k * 136;
        /* touch every page and give the reads non-trivial data */
        for (size_t i = 0; ok && i < words; i++) buf[k][i] = (i * 0x9e3779b97f4a7c15ull) ^ (uint64_t)k;
    }
    int64_t tasks = (int64_t)((words + CHUNK_WORDS - 1) / CHUNK_WORDS);
    bw_job *j = calloc(1, sizeof *j);
    uint64_t *sink = calloc((size_t)tasks, sizeof *sink);
    if (!ok || !j || !sink) {
        for (int k = 0; k < n; k++) free(base[k]);
        free(j);
        free(sink);
        snprintf(msg, msg_size, "bandwidth probe: no memory for %d buffers of %zu MiB", n, buffer_bytes >> 20);
        return -1;
    }
    j->a = buf[0];
    j->b = reads > 1 ? buf[1] : buf[0];
    j->c = writes > 0 ? buf[reads] : NULL;
    j->d = writes > 1 ? buf[reads + 1] : NULL;
    j->words = words;
    j->sink = sink;
    double gbps[64];
    zf_parallel_for(tasks, bw_task, j); /* warm-up: threads started, TLBs warm */
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        zf_parallel_for(tasks, bw_task, j);
        double dt = now_s() - t0;
        gbps[r] = (double)words * 8.0 * (reads + writes) / dt / 1e9;
    }
    qsort(gbps, (size_t)reps, sizeof *gbps, cmp_double);
    out->gbps = gbps[reps - 1];
    out->median_gbps = gbps[reps / 2];
    out->reps = reps;
    out->buffer_bytes = words * 8;
    out->threads = zf_get_num_threads();
    snprintf(out->pattern, sizeof out->pattern, "read %d + write %d buffers of %zu MiB, %d threads", reads, writes,
             out->buffer_bytes >> 20, out->threads);
    for (int k = 0; k < n; k++) free(base[k]);
    free(j);
    free(sink);
    return 0;
}
