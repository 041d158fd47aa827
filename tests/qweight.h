/* Test helpers for affine-quantized weights: random packed words with
 * scales and biases in given ranges, and the float64 reference dot product
 * of one weight row (tests/test_qmm.c, tests/test_moe.c). */
#ifndef ZF_TEST_QWEIGHT_H
#define ZF_TEST_QWEIGHT_H

#include <math.h>

#include "cpu/quant.h"
#include "harness.h"

typedef struct qw {
    zt_buf p, s, b;
    zf_qweight w;
} qw;

/* Fresh random weights [E, n, k]: scales of random sign with magnitude in
 * [s_lo, s_hi), biases in [b_lo, b_hi). */
static inline qw make_qw_ranged(int bits, int gs, zf_dtype st, int64_t E, int64_t n, int64_t k, double s_lo,
                                double s_hi, double b_lo, double b_hi) {
    qw q;
    int64_t words = E * n * k * bits / 32, ng = E * n * k / gs;
    q.p = zt_alloc(ZF_DTYPE_U32, words), q.s = zt_alloc(st, ng), q.b = zt_alloc(st, ng);
    for (int64_t i = 0; i < words; i++) ((uint32_t *)q.p.p)[i] = (uint32_t)zt_rand();
    for (int64_t i = 0; i < ng; i++) {
        zt_set(st, q.s.p, i, (float)zt_uniform(s_lo, s_hi) * (zt_rand() & 1 ? 1.0f : -1.0f));
        zt_set(st, q.b.p, i, (float)zt_uniform(b_lo, b_hi));
    }
    q.w = (zf_qweight){q.p.p, q.s.p, q.b.p, st, bits, gs, E, n, k, ZF_DEVICE_CPU};
    return q;
}

static inline void free_qw(qw *q) { zt_free(&q->p), zt_free(&q->s), zt_free(&q->b); }

/* float64 dot of x with row r of expert e; *mag gets sum |x_i w_i|. */
static inline double ref_dot(const zf_qweight *w, int64_t e, int64_t r, zf_dtype xt, const void *x, double *mag) {
    int64_t row = e * w->n + r, words = w->k * w->bits / 32, groups = w->k / w->group_size;
    double s = 0, a = 0;
    for (int64_t i = 0; i < w->k; i++) {
        double sc = zt_get(w->scale_dtype, w->scales, row * groups + i / w->group_size);
        double bi = zt_get(w->scale_dtype, w->biases, row * groups + i / w->group_size);
        double wv = sc * zf_q_get(w->packed + row * words, w->bits, i) + bi, xv = zt_get(xt, x, i);
        s += xv * wv, a += fabs(xv * wv);
    }
    *mag = a;
    return s;
}

#endif
