#include "core/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"

#define ZF_MAX_THREADS 256

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_t th[ZF_MAX_THREADS];
    int n_workers;           /* started helper threads */
    uint64_t generation;     /* bumped for each job */
    int active;              /* helpers still inside the current job */
    int helpers;             /* workers with index < helpers take part */
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

static int cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > ZF_MAX_THREADS ? ZF_MAX_THREADS : (int)n);
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
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        seen = p->generation;
        int take_part = index < p->helpers;
        pthread_mutex_unlock(&p->mu);
        if (take_part) run_tasks(p);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0) pthread_cond_signal(&p->done);
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
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    /* every started worker wakes for a generation; only the first `helpers` work */
    p->helpers = helpers;
    p->active = p->n_workers;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    run_tasks(p);

    pthread_mutex_lock(&p->mu);
    while (p->active > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&g_call_mu);
}

int64_t zf_tasks_for_bytes(int64_t bytes, int64_t max_tasks) {
    /* below ~256 KiB the wake-up costs more than a second core gains */
    const int64_t per_task = 128 * 1024;
    int64_t t = bytes / per_task;
    if (t < 1) t = 1;
    return t > max_tasks ? max_tasks : t;
}
