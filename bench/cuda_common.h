/* What the CUDA benchmarks share (cuda_bench.c, cuda_moe_bench.c): the
 * plugin and the stream they time on, their error check, event timing of
 * repeated calls, and the device copy bandwidth that both report their
 * rates against, measured the same way. */
#ifndef ZF_BENCH_CUDA_COMMON_H
#define ZF_BENCH_CUDA_COMMON_H

#include <stddef.h>

#include "core/cuda_loader.h"

extern const zf_cuda_plugin *P; /* set by bench_start */
extern zf_stream *S;

/* Exits with the failing expression and zf_last_error() unless ZF_OK. */
#define CHECK(expr)                                   \
    do {                                              \
        if ((expr) != ZF_OK) bench_fail(#expr);       \
    } while (0)
void bench_fail(const char *expr);

/* Names the program in messages; exits 77 (CTest's skip) without a usable
 * GPU; loads the plugin and creates S. */
void bench_start(const char *prog);

typedef zf_status (*bench_call_fn)(void *ctx);

/* `warm` untimed calls, then `reps` (at most 64) event-timed runs of `calls`
 * calls each: the median and the best, in ms per call. */
void bench_time(bench_call_fn f, void *ctx, int warm, int reps, int calls, float *median, float *best);

/* A bench_call_fn that replays the CUDA graph `graph` (a capture_end result) on S. */
zf_status bench_graph_launch(void *graph);

/* The device-to-device copy of `bytes` (read + write counted), median of
 * 15 timed copies after 3 untimed: GB/s, and the median and best in ms. */
double bench_copy_gbps(size_t bytes, float *median_ms, float *best_ms);

#endif
