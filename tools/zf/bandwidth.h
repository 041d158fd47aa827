/* The CPU memory-bandwidth probe of zf gate: a stream that reads and writes
 * whole buffers like the fused ops do, on the library's thread pool. */
#ifndef ZF_TOOL_BANDWIDTH_H
#define ZF_TOOL_BANDWIDTH_H

#include <stddef.h>

#include "gate.h"

/* Last-level cache size from sysfs (32 MiB when it cannot be read). */
size_t zf_cpu_llc_bytes(void);

/* Streams `reads` (1 or 2) buffers into `writes` (0..2) buffers of
 * buffer_bytes each, `reps` timed passes after one warm-up, with
 * zf_get_num_threads() threads. 0, or -1 with the reason in msg. */
int zf_cpu_bandwidth(int reads, int writes, size_t buffer_bytes, int reps, zf_gate_bw *out, char *msg,
                     size_t msg_size);

#endif
