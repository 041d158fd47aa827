/* Per-op timing behind ZF_PROFILE (profile.h). */
#include "core/profile.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Atomic(zf_prof_site *) g_sites; /* every site called at least once */
static _Thread_local uint64_t tl_child; /* time of the finished calls nested in this thread's current one */

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void report_at_exit(void) { zf_prof_report(stderr); }

_Atomic int zf_prof_state = -1;

int zf_prof_read(void) {
    const char *e = getenv("ZF_PROFILE");
    const int s = e && strcmp(e, "0") != 0 && e[0] != '\0';
    int unread = -1;
    if (atomic_compare_exchange_strong(&zf_prof_state, &unread, s) && s) atexit(report_at_exit);
    return atomic_load(&zf_prof_state);
}

uint64_t zf_prof_begin(uint64_t *saved_child_ns) {
    *saved_child_ns = tl_child;
    tl_child = 0;
    return now_ns();
}

void zf_prof_end(zf_prof_site *site, zf_device dev, uint64_t t0, uint64_t saved_child_ns) {
    const uint64_t all = now_ns() - t0, own = all > tl_child ? all - tl_child : 0;
    tl_child = saved_child_ns + all; /* the caller's nested time now includes this call */
    const int d = dev == ZF_DEVICE_CUDA;
    atomic_fetch_add_explicit(&site->calls[d], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&site->ns[d], own, memory_order_relaxed);
    int unlisted = 0;
    if (atomic_compare_exchange_strong(&site->listed, &unlisted, 1)) {
        zf_prof_site *head = atomic_load(&g_sites);
        do site->next = head;
        while (!atomic_compare_exchange_weak(&g_sites, &head, site));
    }
}

typedef struct {
    const char *op;
    int dev;
    uint64_t calls, ns;
} prof_row;

static int by_time(const void *a, const void *b) {
    const prof_row *x = a, *y = b;
    if (x->ns != y->ns) return x->ns < y->ns ? 1 : -1;
    const int c = strcmp(x->op, y->op);
    return c ? c : x->dev - y->dev;
}

void zf_prof_report(FILE *f) {
    int n = 0;
    for (zf_prof_site *s = atomic_load(&g_sites); s; s = s->next) n += 2;
    prof_row *rows = n ? malloc((size_t)n * sizeof *rows) : NULL;
    if (n && !rows) return;
    uint64_t total = 0;
    n = 0;
    for (zf_prof_site *s = atomic_load(&g_sites); s; s = s->next)
        for (int d = 0; d < 2; d++) {
            const uint64_t c = atomic_load(&s->calls[d]), ns = atomic_load(&s->ns[d]);
            if (c == 0) continue;
            rows[n++] = (prof_row){s->name, d, c, ns};
            total += ns;
        }
    qsort(rows, (size_t)n, sizeof *rows, by_time);
    fprintf(f, "zfast profile (ZF_PROFILE): each op's time without the zf ops it calls; on CUDA tensors the host's "
               "time to enqueue\n");
    fprintf(f, "%-20s %-6s %10s %12s %12s %7s\n", "op", "device", "calls", "total ms", "us a call", "share");
    for (int i = 0; i < n; i++)
        fprintf(f, "%-20s %-6s %10llu %12.3f %12.3f %6.1f%%\n", rows[i].op, rows[i].dev ? "cuda" : "cpu",
                (unsigned long long)rows[i].calls, rows[i].ns / 1e6, rows[i].ns / 1e3 / (double)rows[i].calls,
                total ? 100.0 * (double)rows[i].ns / (double)total : 0.0);
    fprintf(f, "%-20s %-6s %10s %12.3f\n", "all", "", "", total / 1e6);
    free(rows);
}

void zf_prof_reset(void) {
    for (zf_prof_site *s = atomic_load(&g_sites); s; s = s->next)
        for (int d = 0; d < 2; d++) {
            atomic_store(&s->calls[d], 0);
            atomic_store(&s->ns[d], 0);
        }
}
