/* How many CTAs of a one-wave grid share an SM: pure arithmetic, C and
 * CUDA, so the host tests check it without a GPU (tests/test_occupancy.c).
 *
 * Why it matters (docs/CUDA.md, "Session 19"): under programmatic
 * dependent launch the next grid of a chain starts while this one runs,
 * in whatever slots the SMs have left. A grid that uses r CTAs of an SM
 * where more fit leaves free slots, the next grid lands in them unevenly,
 * and the SM that gets the most sets the time: a copy-only kernel of 384
 * CTAs (3 an SM) took 6.62 us where 5 fit and 5.50 where 3 or 6 did. */
#ifndef ZF_CUDA_OCCUPANCY_H
#define ZF_CUDA_OCCUPANCY_H

#include <stddef.h>
#include <stdint.h>

/* The dynamic shared memory, at least `bytes`, with which no more than
 * `cap` CTAs of a kernel without static shared memory fit an SM of
 * `sm_smem` bytes that reserves `reserved` bytes per CTA: the least size
 * at which cap + 1 overflow it (bytes itself when they already do, or when
 * sm_smem is unknown, 0, or cap < 1). */
static inline size_t zf_cu_smem_for_cap(size_t sm_smem, size_t reserved, size_t bytes, int cap) {
    if (cap < 1 || sm_smem == 0) return bytes;
    const size_t per = sm_smem / (size_t)(cap + 1) + 1; /* cap + 1 CTAs of this much overflow the SM */
    const size_t pad = per > reserved ? per - reserved : 0;
    return pad > bytes ? pad : bytes;
}

/* The CTAs an SM should hold for a grid of `ctas` on `sms` SMs when
 * `natural` would fit: r = ceil(ctas / sms) while r < natural (one wave
 * with room to spare), r + 1 where the next kernel of the chain must fit
 * beside it (`room_for_next`); 0 where the grid needs no cap (it fills the
 * SMs or takes several waves, or sms is unknown). */
static inline int zf_cu_wave_cap(int64_t ctas, int sms, int natural, int room_for_next) {
    if (sms <= 0 || ctas <= 0) return 0;
    const int64_t r = (ctas + sms - 1) / sms;
    return r < natural ? (int)r + (room_for_next ? 1 : 0) : 0;
}

#endif
