#include "core/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

#define ZF_MAX_THREADS 256
/* How long a worker (or the caller) polls for the next event before it
 * sleeps. Decode issues a parallel region every few tens of microseconds;
 * polling across those gaps saves a futex wake-up per region, while a pool
 * idle for longer than this costs no CPU. With more threads than cores a
 * poller would hold the core the thread it waits for needs: no polling. */
#define ZF_SPIN_NS 200000

/* A job is announced by one atomic word, `job` = (sequence << 16) |
 * helpers, read once by a worker, so it never combines one job's sequence
 * with another's helper count. Workers with index < helpers then try to
 * enter the job through `gate` = (sequence << 32) | closed bit | entered;
 * once the caller has run out of tasks it closes the gate and waits only
 * for the workers that entered: a worker the OS has not scheduled yet
 * (a busy machine) costs the caller nothing, and a late worker finds the
 * gate closed or belonging to a newer job and stays out. */
#define JOB_HELPERS(w) ((int)((w) & 0xffff))
#define GATE_CLOSED ((uint64_t)1 << 31)
#define GATE_ENTERED(g) ((int)((g) & (GATE_CLOSED - 1)))

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_t th[ZF_MAX_THREADS];
    int n_workers;             /* started helper threads */
    atomic_uint_fast64_t job;  /* stored under mu */
    atomic_uint_fast64_t gate;
    atomic_int left;           /* entered workers that have finished */
    atomic_int spin_ns;        /* polling budget: ZF_SPIN_NS, or 0 when oversubscribed */
    int sleepers;              /* workers blocked on `wake` (under mu) */
    atomic_int caller_sleeps;  /* the caller is blocked on `done` */
    /* current job */
    zf_task_fn fn;
    void *ctx;
    int64_t n_tasks;
    atomic_int_fast64_t next;
} pool;

static pool g_pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
                      .wake = PTHREAD_COND_INITIALIZER,
                      .done = PTHREAD_COND_INITIALIZER};
static pthread_mutex_t g_call_mu = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static int g_threads_wanted = 0;                               /* 0: cores */
/* Set while this thread runs pool tasks: a zf_parallel_for issued from a
 * task runs inline instead of waiting for the pool it is part of. */
static _Thread_local int g_in_pool;

/* The online core count, read once: glibc's sysconf opens and reads
 * /sys/devices/system/cpu/online on every call, and decode asks on every
 * parallel region (~150 a token for SmolLM2: ~5 ms of syscalls per token
 * on the 2-core VM, while the other thread waited). */
static int g_cores;
static pthread_once_t g_cores_once = PTHREAD_ONCE_INIT;
static void read_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    g_cores = n < 1 ? 1 : (n > ZF_MAX_THREADS ? ZF_MAX_THREADS : (int)n);
}
static int cores(void) {
    pthread_once(&g_cores_once, read_cores);
    return g_cores;
}

int zf_get_num_threads(void) {
    int n = __atomic_load_n(&g_threads_wanted, __ATOMIC_RELAXED);
    return n > 0 ? n : cores();
}

zf_status zf_set_num_threads(int n) {
    if (n < 0 || n > ZF_MAX_THREADS)
        return zf_error(ZF_ERR_INVALID_ARG, "[threads] %d threads requested; expected 0 (one per core) to %d",
                        n, ZF_MAX_THREADS);
    __atomic_store_n(&g_threads_wanted, n, __ATOMIC_RELAXED);
    return ZF_OK;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Polls `done(p, arg)` for up to ZF_SPIN_NS; 1 if it became true. */
static int spin_for(const pool *p, int (*done)(const pool *, uint64_t), uint64_t arg) {
    int64_t start = now_ns(), budget = atomic_load_explicit(&p->spin_ns, memory_order_relaxed);
    for (int i = 1;; i++) {
        if (done(p, arg)) return 1;
        if (budget == 0) return 0;
        cpu_relax();
        if (i % 64 == 0 && now_ns() - start > budget) return 0;
    }
}

static int job_changed(const pool *p, uint64_t seen) {
    return atomic_load_explicit(&p->job, memory_order_acquire) != seen;
}
/* arg: the number of workers that entered */
static int workers_left(const pool *p, uint64_t entered) { return (uint64_t)atomic_load(&p->left) == entered; }

/* Enters job `seq` unless it is closed or no longer current. */
static int enter(pool *p, uint64_t seq) {
    uint64_t g = atomic_load(&p->gate);
    while ((g >> 32) == seq && !(g & GATE_CLOSED))
        if (atomic_compare_exchange_weak(&p->gate, &g, g + 1)) return 1;
    return 0;
}

static void run_tasks(pool *p) {
    g_in_pool = 1;
    for (;;) {
        int64_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n_tasks) break;
        p->fn(p->ctx, i);
    }
    g_in_pool = 0;
}

typedef struct worker_arg { pool *p; int index; } worker_arg;
static worker_arg g_args[ZF_MAX_THREADS];

static void *worker(void *arg) {
    pool *p = ((worker_arg *)arg)->p;
    int index = ((worker_arg *)arg)->index;
    uint64_t seen = 0;
    for (;;) {
        if (!spin_for(p, job_changed, seen)) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while (!job_changed(p, seen)) pthread_cond_wait(&p->wake, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
        }
        seen = atomic_load_explicit(&p->job, memory_order_acquire);
        if (index >= JOB_HELPERS(seen) || !enter(p, seen >> 16)) continue;
        run_tasks(p);
        atomic_fetch_add(&p->left, 1);
        if (atomic_load(&p->caller_sleeps)) { /* seq_cst with the caller's store: one of us sees the other */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

void zf_parallel_for(int64_t n_tasks, zf_task_fn fn, void *ctx) {
    int want = zf_get_num_threads();
    if (n_tasks <= 1 || want <= 1 || g_in_pool) {
        for (int64_t i = 0; i < n_tasks; i++) fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&g_call_mu);
    pool *p = &g_pool;
    int helpers = (int)(n_tasks < want ? n_tasks : want) - 1;
    pthread_mutex_lock(&p->mu);
    while (p->n_workers < helpers) {
        /* a thread that cannot start just means fewer helpers */
        g_args[p->n_workers] = (worker_arg){p, p->n_workers};
        if (pthread_create(&p->th[p->n_workers], NULL, worker, &g_args[p->n_workers]) != 0) break;
        pthread_detach(p->th[p->n_workers]);
        p->n_workers++;
    }
    if (helpers > p->n_workers) helpers = p->n_workers;
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    atomic_store(&p->left, 0);
    atomic_store_explicit(&p->spin_ns, want <= cores() ? ZF_SPIN_NS : 0, memory_order_relaxed);
    uint64_t seq = (atomic_load(&p->job) >> 16) + 1;
    atomic_store(&p->gate, seq << 32);
    atomic_store(&p->job, seq << 16 | (uint64_t)helpers);
    if (p->sleepers > 0) pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    run_tasks(p);

    uint64_t entered = (uint64_t)GATE_ENTERED(atomic_fetch_or(&p->gate, GATE_CLOSED));
    if (!spin_for(p, workers_left, entered)) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_sleeps, 1);
        while (!workers_left(p, entered)) pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->caller_sleeps, 0);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&g_call_mu);
}

int64_t zf_tasks_for_bytes(int64_t bytes, int64_t max_tasks) {
    /* below ~64 KiB a hand-off to a polling worker costs more than it saves */
    const int64_t per_task = 32 * 1024;
    int64_t t = bytes / per_task;
    if (t < 1) t = 1;
    return t > max_tasks ? max_tasks : t;
}
