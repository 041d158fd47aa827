/* Weight fusion at load: the affine weights one layer applies to the same
 * input (q/k/v, gate/up) concatenated along their output rows, so one qmm
 * (one parallel region) computes them all. Each output element is still the
 * canonical dot of its own row (docs/NUMERICS.md §8.2): the bits do not
 * change. */
#ifndef ZF_MODEL_WEIGHT_FUSE_H
#define ZF_MODEL_WEIGHT_FUSE_H

#include <stddef.h>

#include "model/model.h"

/* CPU models: above this many bytes a projection takes long enough that
 * one parallel region more is noise, and the host copy that fusion keeps is
 * not worth it. CUDA models fuse at any size: there each projection costs a
 * kernel launch (several us of host time at one token, more than a decode
 * projection takes on the GPU), and the fused copy is uploaded in place of
 * its parts. */
#define ZF_FUSE_MAX_BYTES ((size_t)2 << 20)

/* Bytes of the concatenation of parts[0..n) when they can be fused
 * (plain affine matrices on the host with one k, bits, group size and
 * scale dtype, at most max_bytes together), else 0. */
size_t zf_fuse_bytes(const zf_weight *const *parts, int n, size_t max_bytes);

/* Writes the concatenation into mem (the bytes zf_fuse_bytes returned) and
 * describes it in *out: rows of parts[0], then parts[1], ... */
void zf_fuse(const zf_weight *const *parts, int n, void *mem, zf_weight *out);

/* y = x @ w^T for a fused w into scratch [rows, sum of outs' columns], then
 * each outs[i] (contiguous [rows, cols_i]) gets its columns. */
zf_status zf_fused_linear(const zf_tensor *x, const zf_weight *w, void *scratch, zf_tensor *const *outs, int n,
                          const zf_opts *o);

#endif
