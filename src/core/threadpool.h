/* A small persistent thread pool for CPU ops.
 *
 * zf_parallel_for(n, fn, ctx) runs fn(ctx, i) for i in [0, n) on up to
 * zf_get_num_threads() threads and returns when all are done. The split of
 * tasks over threads never changes results: kernels give each task a fixed
 * piece of work whose result does not depend on which thread runs it.
 * Called from inside a task, it runs its tasks inline on that thread. */
#ifndef ZF_CORE_THREADPOOL_H
#define ZF_CORE_THREADPOOL_H

#include <stdint.h>

typedef void (*zf_task_fn)(void *ctx, int64_t task);

void zf_parallel_for(int64_t n_tasks, zf_task_fn fn, void *ctx);

/* Threads worth using for `work` units (e.g. bytes) of memory-bound work:
 * 1 below a threshold, so decode-sized calls stay on the calling thread. */
int64_t zf_tasks_for_bytes(int64_t bytes, int64_t max_tasks);

#endif
