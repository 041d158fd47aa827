/* ZF_PROFILE=1: the time each public op takes, per op and device, printed
 * at exit (stderr). Every entry point in ops.c goes through one site of
 * this; off (the default), a site costs one load and a branch.
 *
 * A call's time excludes the zf ops it calls itself (attention_decode's CPU
 * composition calls rms_norm and copy, which are counted as theirs). On a
 * CUDA tensor the time is the host's, enqueueing: GPU time is what
 * `STEPS=profile scripts/gpu-check.sh` measures. */
#ifndef ZF_CORE_PROFILE_H
#define ZF_CORE_PROFILE_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "zfast.h"

typedef struct zf_prof_site {
    const char *name; /* the op's */
    _Atomic uint64_t calls[2], ns[2]; /* [0] CPU tensors, [1] CUDA tensors */
    _Atomic int listed;               /* 1 once on the list the report walks */
    struct zf_prof_site *next;
} zf_prof_site;

/* 1 when ZF_PROFILE enables the profile, 0 when not, -1 before it is read */
extern _Atomic int zf_prof_state;
/* Reads ZF_PROFILE (once: the first caller's reading stands) into the state. */
int zf_prof_read(void);
/* 1 when ZF_PROFILE enables the profile: the entry points' one load and branch */
static inline int zf_prof_on(void) {
    const int s = atomic_load_explicit(&zf_prof_state, memory_order_relaxed);
    return s >= 0 ? s : zf_prof_read();
}
/* A call's start: its clock, the time of the calls it makes set aside. */
uint64_t zf_prof_begin(uint64_t *saved_child_ns);
/* A call's end: its time less its nested calls' into the site. */
void zf_prof_end(zf_prof_site *site, zf_device dev, uint64_t t0, uint64_t saved_child_ns);
/* The table: one row per (op, device) called, most time first. */
void zf_prof_report(FILE *f);
/* Zeros every site (tests). */
void zf_prof_reset(void);

#endif
