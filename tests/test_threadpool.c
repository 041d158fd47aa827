/* The thread pool: every task runs exactly once for any thread count; a
 * parallel_for issued from inside a task runs inline (no deadlock); two
 * application threads may call into the pool at the same time; many short
 * jobs back to back, jobs that find the workers asleep and jobs the caller
 * must sleep through all count exactly once; an idle pool burns no core. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
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

static void slow(void *ctx, int64_t i) {
    (void)ctx;
    usleep(2000); /* longer than the pool polls: whoever waits must sleep */
    atomic_fetch_add(&g_hits[i], 1);
}

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Back-to-back jobs of 2..5 tasks over 2..4 threads (the helper count
 * changes from job to job), then jobs separated by idle gaps long enough
 * for the workers to sleep. */
static void short_jobs(void) {
    memset(g_hits, 0, sizeof g_hits);
    int64_t want[5] = {0};
    for (int r = 0; r < 20000; r++) {
        ZT_OK(zf_set_num_threads(2 + r % 3));
        int n = 2 + (r * 7) % 4;
        zf_parallel_for(n, count, NULL);
        for (int i = 0; i < n; i++) want[i]++;
    }
    int ok = 1;
    for (int i = 0; i < 5; i++) ok &= atomic_load(&g_hits[i]) == want[i];
    ZT_CHECK(ok, "20000 short jobs: a task ran %d times, expected %lld", atomic_load(&g_hits[0]), (long long)want[0]);

    ZT_OK(zf_set_num_threads(3));
    memset(g_hits, 0, sizeof g_hits);
    for (int r = 0; r < 10; r++) {
        usleep(3000);
        zf_parallel_for(N, count, NULL);
    }
    ZT_CHECK(all_equal(10, N), "jobs after idle gaps: a task did not run exactly once per job");

    memset(g_hits, 0, sizeof g_hits);
    for (int r = 0; r < 5; r++) zf_parallel_for(3, slow, NULL);
    ZT_CHECK(all_equal(5, 3), "slow tasks: a task did not run exactly once per job");
}

/* Workers poll only briefly after a job: 200 ms idle costs far less CPU. */
static void idle_is_cheap(void) {
    ZT_OK(zf_set_num_threads(4));
    zf_parallel_for(N, count, NULL);
    double c0 = cpu_seconds();
    usleep(200000);
    double used = cpu_seconds() - c0;
    ZT_CHECK(used < 0.05, "an idle pool used %.3f s of CPU in 0.2 s", used);
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
    short_jobs();
    idle_is_cheap();
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
