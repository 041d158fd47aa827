/* zf gate: times a fused op against its stock composition over a shape
 * sweep, beside this machine's measured memory bandwidth.
 *
 * The sweep, the interleaving and the statistics (gate.c) and the verdict
 * (gate_verdict.c) do not know where memory lives: a backend is the small
 * table below. The CPU one is gate_cpu.c. A CUDA one (gate_cuda.c) fills
 * the same table:
 *   - alloc/release/fill: device memory (cudaMalloc; fill by a kernel or a
 *     host buffer copied over), tensors get `device` = ZF_DEVICE_CUDA;
 *   - stream(): the zf_stream the ops are enqueued on (zf_opts.stream);
 *   - time_calls(): CUDA events around the n calls on that stream, then a
 *     synchronize; seconds of device time;
 *   - bandwidth(): a device copy/stream kernel measured in the same run;
 *   - cache_bytes(): the L2 size, so large shapes rotate among enough buffer
 *     sets that every call reads from HBM (or flush the L2 in time_calls'
 *     caller via `flush`, which the gate calls before each timed batch).
 * and registers itself in zf_gate_backends() (gate.c). */
#ifndef ZF_TOOL_GATE_H
#define ZF_TOOL_GATE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zfast.h"

/* One timed call: run the op on buffer set `set`. */
typedef zf_status (*zf_gate_call_fn)(void *ctx, int set);

/* A measured stream bandwidth. */
typedef struct zf_gate_bw {
    double gbps;          /* best of the repetitions, bytes read + written per second / 1e9 */
    double median_gbps;
    int reps;
    size_t buffer_bytes;  /* size of each buffer */
    int threads;
    char pattern[96];     /* what was measured, in words */
} zf_gate_bw;

typedef struct zf_gate_backend {
    const char *name;   /* the --backend value */
    zf_device device;   /* where the gate's tensors live */
    /* 0 when usable; else why not in msg (the command exits 2) */
    int (*open)(char *msg, size_t msg_size);
    size_t (*cache_bytes)(void);
    void *(*alloc)(size_t bytes);   /* NULL on failure */
    void (*release)(void *p);
    /* n fresh pseudo-random values of dtype t in [-4, 4) from seed (never all zero) */
    int (*fill)(void *p, zf_dtype t, int64_t n, uint64_t seed);
    /* bandwidth of a stream that reads `reads` buffers and writes `writes`
     * (each >= 4x cache_bytes); 0, or -1 with the reason in msg */
    int (*bandwidth)(int reads, int writes, int quick, zf_gate_bw *out, char *msg, size_t msg_size);
    /* calls call(ctx, i % sets) for i in [0, n); elapsed seconds in *seconds;
     * a failing call stops it and its status is returned */
    zf_status (*time_calls)(zf_gate_call_fn call, void *ctx, int n, int sets, double *seconds);
    zf_stream *(*stream)(void);     /* for zf_opts; NULL on the CPU */
    void (*flush)(void);            /* evict caches before a timed batch; NULL: rotation only */
} zf_gate_backend;

extern const zf_gate_backend zf_gate_cpu;

/* The backend named `name` (built into this zf), or NULL. */
const zf_gate_backend *zf_gate_backend_find(const char *name);

typedef struct zf_gate_request {
    const char *op;     /* "swiglu" or "add_rms_norm" */
    zf_dtype dtype;
    int quick;          /* small sweep for CI */
} zf_gate_request;

/* Runs the gate; adds its fields (op, backend, dtype, bandwidth, rows,
 * verdict, ...) to `cap`, a capsule of kind "gate". Returns 0, 1 when the
 * measurement failed (message in msg), 2 for a bad request. */
int zf_gate_run(const zf_gate_backend *be, const zf_gate_request *req, cJSON *cap, char *msg, size_t msg_size);

/* The timing method every gate shares (gate.c), so other gates (gate_moe.c)
 * measure and judge exactly the same way. */
typedef struct zf_gate_plan {
    int reps;           /* interleaved repetitions (<= 15) */
    double min_batch_s; /* a timed batch lasts at least this */
} zf_gate_plan;

zf_gate_plan zf_gate_plan_for(int quick);

/* A fused call and its stock composition, each called as call(ctx, set)
 * for set in [0, sets). */
typedef struct zf_gate_pair {
    zf_gate_call_fn fused, stock;
    void *fused_ctx, *stock_ctx;
    int sets;
    int bw_reads, bw_writes; /* the roofline's stream, probed again around this shape */
} zf_gate_pair;

/* Warm-up, then plan->reps batches of fused and stock interleaved A B A B;
 * adds to `row` bytes, buffer_sets, calls_per_rep, the fused and stock
 * median/min/max in us, the speedup and its spread, GB/s for `bytes` per
 * call and its fraction of bw_gbps, and the shape's verdict and reason;
 * then the bandwidth of the pair's stream probed just before and just
 * after the shape (the better of the two) and the fused GB/s over it: on a
 * shared machine the bandwidth drifts between the sweep's start and a
 * shape. 0, or -1 with the reason in msg. */
int zf_gate_time_pair(const zf_gate_backend *be, const zf_gate_pair *p, const zf_gate_plan *plan, double bytes,
                      double bw_gbps, cJSON *row, char *msg, size_t msg_size);

/* Adds "method" (the plan, the order, the spread and `rotation`: how the
 * gate keeps its operands out of the cache). */
void zf_gate_add_method(cJSON *cap, const zf_gate_plan *plan, const char *rotation);
/* The capsule fields every gate shares: op, backend, dtype, quick, the two
 * variants, and the roofline `bw` (reported) beside the read-only stream `rd`. */
void zf_gate_describe(cJSON *cap, const char *op, const zf_gate_backend *be, const zf_gate_request *req,
                      const char *fused_v, const char *stock_v, const zf_gate_bw *bw, const zf_gate_bw *rd);

/* Adds the overall verdict over cap's "rows" (verdict, verdict_reason,
 * verdict_rule). */
void zf_gate_verdict(cJSON *cap, const char *fused_v, const char *stock_v);

/* Human-readable report of a gate capsule, and the diff of two. */
void zf_gate_print(const cJSON *cap, FILE *f);
void zf_gate_diff(const cJSON *a, const cJSON *b, FILE *f);

#endif
