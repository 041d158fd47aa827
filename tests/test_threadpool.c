/* The thread pool: every task runs exactly once for any thread count; a
 * parallel_for issued from inside a task runs inline (no deadlock); two
 * application threads may call into the pool at the same time. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "core/threadpool.h"
#include "harness.h"

#define N 1000

static atomic_int g_hits[N];

static void count(void *ctx, int64_t i) {
    (void)ctx;
    atomic_fetch_add(&g_hits[i], 1);
}

static void nested(void *ctx, int64_t i) {
    (void)ctx;
    zf_parallel_for(10, count, NULL); /* from inside a task */
    atomic_fetch_add(&g_hits[i], 1);
}

static int all_equal(int want, int n) {
    for (int i = 0; i < n; i++)
        if (atomic_load(&g_hits[i]) != want) return 0;
    return 1;
}

static void *app_thread(void *arg) {
    (void)arg;
    for (int r = 0; r < 50; r++) zf_parallel_for(N, count, NULL);
    return NULL;
}

int main(void) {
    zt_init("test_threadpool");
    alarm(60); /* a deadlock fails the test instead of hanging it */
    for (int threads = 1; threads <= 4; threads++) {
        ZT_OK(zf_set_num_threads(threads));
        memset(g_hits, 0, sizeof g_hits);
        zf_parallel_for(N, count, NULL);
        ZT_CHECK(all_equal(1, N), "%d threads: a task did not run exactly once", threads);

        memset(g_hits, 0, sizeof g_hits);
        zf_parallel_for(16, nested, NULL);
        /* tasks 0..9: once from the outer loop (i < 16) + 16 inner loops */
        int ok = 1;
        for (int i = 0; i < 16; i++) ok &= atomic_load(&g_hits[i]) == (i < 10 ? 17 : 1);
        ZT_CHECK(ok, "%d threads: nested parallel_for miscounted", threads);
    }
    ZT_OK(zf_set_num_threads(2));
    memset(g_hits, 0, sizeof g_hits);
    pthread_t a, b;
    pthread_create(&a, NULL, app_thread, NULL);
    pthread_create(&b, NULL, app_thread, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    ZT_CHECK(all_equal(100, N), "two application threads: tasks lost or repeated");
    ZT_CHECK(zf_set_num_threads(-1) == ZF_ERR_INVALID_ARG, "negative thread count accepted");
    ZT_CHECK(zf_set_num_threads(100000) == ZF_ERR_INVALID_ARG, "huge thread count accepted");
    return zt_finish();
}
