/* The thread pool: every task runs exactly once for any thread count; a
 * parallel_for issued from inside a task runs inline (no deadlock); two
 * application threads may call into the pool at the same time; many short
 * jobs back to back, jobs that find the workers asleep and jobs the caller
 * must sleep through all count exactly once; no worker is still inside a job
 * when its call returns, workers that arrive after the gate closed included;
 * an idle pool burns no core. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
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

/* One job's record: tasks inside it now, and how often each task ran. */
#define GATE_TASKS 24
typedef struct gate_job {
    atomic_int inside;
    atomic_int ran[GATE_TASKS];
} gate_job;

static void enter_exit(void *ctx, int64_t i) {
    gate_job *j = ctx;
    atomic_fetch_add(&j->inside, 1);
    atomic_fetch_add(&j->ran[i], 1);
    for (volatile int spin = 0; spin < 200; spin++) {} /* a window for a stray worker to be caught inside */
    atomic_fetch_sub(&j->inside, 1);
}

static int job_clean(gate_job *j, int n) {
    int ok = atomic_load(&j->inside) == 0;
    for (int i = 0; i < GATE_TASKS; i++) ok &= atomic_load(&j->ran[i]) == (i < n);
    return ok;
}

static void on_watchdog(int sig) {
    (void)sig;
    static const char msg[] = "FAIL test_threadpool: gate_closed_stays_out: a parallel_for of microseconds did not "
                              "return within 5 s (a worker counted into a job it did not enter?)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

/* Thousands of jobs back to back with more tasks than threads, the pool
 * size changing from job to job up to more threads than cores (workers
 * that sleep, and wake after the caller has run out of tasks): a worker
 * must enter only a job whose gate is open, or it runs uncounted, the
 * caller returns while it (or a worker its count stands in for) is still
 * inside, or its late count leaves a caller waiting for ever, which the
 * watchdog turns into a failure. Each job's record is checked when its
 * call returns and again RING jobs later: no task of it ran after. */
static void gate_closed_stays_out(void) {
    enum { RING = 4 };
    static gate_job ring[RING];
    static const int sizes[] = {2, 3, 4, 8};
    const int jobs = getenv("ZF_TEST_QUICK") ? 10000 : 40000;
    int ring_n[RING] = {0};
    struct sigaction sa = {.sa_handler = on_watchdog}, old;
    sigaction(SIGALRM, &sa, &old);
    unsigned budget = alarm(0); /* main's deadline, set again after */
    memset(ring, 0, sizeof ring);
    for (int r = 0; r < jobs; r++) {
        gate_job *j = &ring[r % RING];
        int untouched = job_clean(j, ring_n[r % RING]);
        ZT_CHECK(untouched, "job %d was touched after its call returned", r - RING);
        int threads = sizes[zt_rand() % 4], n = threads + 1 + (int)(zt_rand() % (uint64_t)(GATE_TASKS - threads));
        ZT_OK(zf_set_num_threads(threads));
        memset(j, 0, sizeof *j);
        ring_n[r % RING] = n;
        alarm(5); /* a job here takes microseconds */
        zf_parallel_for(n, enter_exit, j);
        int clean = job_clean(j, n);
        ZT_CHECK(clean, "%d threads, job %d of %d tasks: at return %d tasks inside, task 0 ran %d times", threads, r,
                 n, atomic_load(&j->inside), atomic_load(&j->ran[0]));
        if (!untouched || !clean) break;
    }
    sigaction(SIGALRM, &old, NULL);
    alarm(budget);
    zf_set_num_threads(0);
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
    gate_closed_stays_out();
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
    /* the limits: 1 means one thread (not "one per core"), 256 is allowed, 257 is not */
    ZT_OK(zf_set_num_threads(1));
    ZT_CHECK(zf_get_num_threads() == 1, "1 thread requested, %d reported", zf_get_num_threads());
    ZT_OK(zf_set_num_threads(256));
    ZT_CHECK(zf_get_num_threads() == 256, "256 threads requested, %d reported", zf_get_num_threads());
    ZT_CHECK(zf_set_num_threads(257) == ZF_ERR_INVALID_ARG, "257 threads accepted");
    ZT_OK(zf_set_num_threads(0));
    /* tasks per byte count: one per whole 32 KiB, at least 1, at most max_tasks */
    static const struct { int64_t bytes, max, want; } tb[] = {
        {0, 4, 1}, {32767, 4, 1}, {65535, 4, 1}, {65536, 4, 2}, {98303, 8, 2}, {98304, 8, 3}, {1 << 30, 4, 4}};
    for (size_t i = 0; i < sizeof tb / sizeof *tb; i++)
        ZT_CHECK(zf_tasks_for_bytes(tb[i].bytes, tb[i].max) == tb[i].want, "zf_tasks_for_bytes(%lld, %lld) = %lld; expected %lld",
                 (long long)tb[i].bytes, (long long)tb[i].max, (long long)zf_tasks_for_bytes(tb[i].bytes, tb[i].max),
                 (long long)tb[i].want);
    return zt_finish();
}
