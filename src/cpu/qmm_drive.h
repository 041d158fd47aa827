/* The driver the SIMD canonical-dot kernels share (qmm_avx2.c,
 * qmm_avx512.c): the x rows in groups of up to ZF_QTILE_NX; a group's
 * weight rows in tiles of R rows, R x NX = 4 accumulator chains ((4 rows,
 * 1 x row), (2, 2), (1, 3), (1, 4)), then single rows; one function per bit
 * width, so that `bits` is a constant inside the always-inlined tile.
 * Include it after the kernel's own
 *   INLINE void tile(w, r0, xf, xs, out, bits, R, NX)
 * and, where one x row takes a walk of its own, with QDRIVE_ROWS_1 defined
 * as the name of
 *   INLINE void rows_1(w, xf, xs, out, bits).
 * It defines `static void qdrive(w, nx, xf, xs, out)`, which picks by
 * w->bits. */
#ifndef ZF_CPU_QMM_DRIVE_H
#define ZF_CPU_QMM_DRIVE_H

/* Every row for NX x rows: tiles of R rows, then single rows. */
INLINE void rows_nx(const zf_qrows *w, const float *const *xf, const float *const *xs, float *out, const int bits,
                    const int R, const int NX) {
    int64_t r = 0;
    for (; r + R <= w->rows; r += R) tile(w, r, xf, xs, out, bits, R, NX);
    for (; r < w->rows; r++) tile(w, r, xf, xs, out, bits, 1, NX);
}

INLINE void drive_bits(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out,
                       const int bits) {
#ifdef QDRIVE_ROWS_1
    if (nx == 1) {
        QDRIVE_ROWS_1(w, xf[0], xs[0], out, bits);
        return;
    }
#endif
    for (int i0 = 0; i0 < nx;) {
        const int n = nx - i0 < ZF_QTILE_NX ? nx - i0 : ZF_QTILE_NX;
        float *o = out + (int64_t)i0 * w->rows;
        switch (n) {
        case 1: rows_nx(w, xf + i0, xs + i0, o, bits, 4, 1); break;
        case 2: rows_nx(w, xf + i0, xs + i0, o, bits, 2, 2); break;
        case 3: rows_nx(w, xf + i0, xs + i0, o, bits, 1, 3); break;
        default: rows_nx(w, xf + i0, xs + i0, o, bits, 1, 4); break;
        }
        i0 += n;
    }
}

#define QDRIVE_BITS(B)                                                                                         \
    static void drive_##B(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out) { \
        drive_bits(w, nx, xf, xs, out, B);                                                                    \
    }
QDRIVE_BITS(2)
QDRIVE_BITS(3)
QDRIVE_BITS(4)
QDRIVE_BITS(5)
QDRIVE_BITS(6)
QDRIVE_BITS(8)
#undef QDRIVE_BITS

static void qdrive(const zf_qrows *w, int nx, const float *const *xf, const float *const *xs, float *out) {
    switch (w->bits) {
    case 2: drive_2(w, nx, xf, xs, out); break;
    case 3: drive_3(w, nx, xf, xs, out); break;
    case 4: drive_4(w, nx, xf, xs, out); break;
    case 5: drive_5(w, nx, xf, xs, out); break;
    case 6: drive_6(w, nx, xf, xs, out); break;
    default: drive_8(w, nx, xf, xs, out); break;
    }
}

#endif
