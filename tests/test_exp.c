/* The library's exp / sigmoid / silu (src/core/zmath.h): error against
 * float64 over the whole f32 range (a strided sweep; ZF_TEST_FULL=1 takes
 * every f32), the special values, and the SIMD transcriptions: the silu and
 * silu_vjp kernels of every ISA path on this machine give the scalar bits. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/zmath.h"
#include "cpu/elementwise.h"
#include "harness.h"

/* Stated bounds (docs/NUMERICS.md quotes them), in ulp of the f32 result.
 * Measured over every f32 (all 2^32 inputs, float64 libm reference): exp max
 * 0.988 ulp (x = 0x1.da3336p+5); sigmoid 2.481 ulp (x = -0x1.0a2bd8p+4) for
 * x >= -87.3; silu 2.403 ulp (x = -0x1.0af0b8p+4) for x >= -88.7. Below those
 * limits the results leave the normal range: exp(-x) overflows to inf past
 * 88.72, so sigmoid is +0 (true value < 2^-125) and silu is -0 (true value
 * below 3e-37 in magnitude). */
#define EXP_MAX_ULP 1.0
#define SIGMOID_MAX_ULP 3.0
#define SILU_MAX_ULP 3.0
#define SIGMOID_LOW (-87.3)
#define SILU_LOW (-88.7)
#define SILU_TINY 3e-37 /* |silu(x)| for x < -88.72, where the library gives -0 */

static int env_on(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* ulp of the f32 nearest to v (v finite, |v| < 2^128) */
static double ulp_f32(double v) {
    double a = fabs(v);
    if (a < 0x1p-126) return 0x1p-149;
    int e;
    frexp(a, &e);
    return ldexp(1.0, e - 24);
}

/* Error of y against the exact value v in ulp of f32; INFINITY on a wrong
 * inf/NaN. v beyond the f32 range must give inf of its sign. */
static double ulp_err(float y, double v) {
    if (isnan(v)) return isnan(y) ? 0.0 : INFINITY;
    if (fabs(v) >= 0x1.ffffffp127) return (isinf(y) && (y > 0) == (v > 0)) ? 0.0 : INFINITY;
    if (!isfinite(y)) return INFINITY;
    return fabs((double)y - v) / ulp_f32(v);
}

static double ref_exp(double x) { return exp(x); }
static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double ref_silu(double x) { return x / (1.0 + exp(-x)); }

typedef struct worst {
    double ulp;
    float x;
} worst;

static void note(worst *w, double e, float x) {
    if (e > w->ulp) { w->ulp = e; w->x = x; }
}

/* Every stride-th f32 bit pattern from a fresh random offset. */
static void sweep_accuracy(uint64_t stride) {
    uint64_t start = zt_rand() % stride, count = 0;
    worst we = {0, 0}, ws = {0, 0}, wl = {0, 0};
    int bad_special = 0, bad_low = 0;
    for (uint64_t u = start; u < (1ull << 32); u += stride) {
        float x = zf_bits_f32((uint32_t)u);
        float y = zf_expf(x);
        count++;
        if (isnan(x)) {
            if (!isnan(y) || !isnan(zf_sigmoidf(x)) || !isnan(zf_siluf(x))) bad_special++;
            continue;
        }
        if (x < ZF_EXP_LO) { bad_special += zf_f32_bits(y) != 0u; }       /* +0 exactly */
        else if (x > ZF_EXP_HI) { bad_special += !(isinf(y) && y > 0); }  /* +inf */
        else { note(&we, ulp_err(y, ref_exp(x)), x); }
        if (x >= SIGMOID_LOW) note(&ws, ulp_err(zf_sigmoidf(x), ref_sigmoid(x)), x);
        else bad_low += !(zf_sigmoidf(x) >= 0.0f && zf_sigmoidf(x) < 0x1p-125f);
        if (x >= SILU_LOW) note(&wl, ulp_err(zf_siluf(x), ref_silu(x)), x);
        else if (isinf(x)) bad_low += !isnan(zf_siluf(x)); /* -inf / inf */
        else bad_low += !(fabs((double)zf_siluf(x) - ref_silu(x)) <= SILU_TINY);
    }
    printf("  %llu inputs (every %llu-th f32): exp max %.3f ulp (x = %a), sigmoid %.3f ulp (x = %a), "
           "silu %.3f ulp (x = %a)\n",
           (unsigned long long)count, (unsigned long long)stride, we.ulp, we.x, ws.ulp, ws.x, wl.ulp, wl.x);
    ZT_CHECK(bad_special == 0, "%d clamped or NaN inputs gave a wrong exp/sigmoid/silu", bad_special);
    ZT_CHECK(bad_low == 0, "%d inputs below the sigmoid/silu bound ranges were far from float64", bad_low);
    ZT_CHECK(we.ulp <= EXP_MAX_ULP, "exp error %.3f ulp at x = %a (bound %.2f)", we.ulp, we.x, EXP_MAX_ULP);
    ZT_CHECK(ws.ulp <= SIGMOID_MAX_ULP, "sigmoid error %.3f ulp at x = %a (bound %.2f)", ws.ulp, ws.x,
             SIGMOID_MAX_ULP);
    ZT_CHECK(wl.ulp <= SILU_MAX_ULP, "silu error %.3f ulp at x = %a (bound %.2f)", wl.ulp, wl.x, SILU_MAX_ULP);
}

static void check_exp_is(float x, float want) {
    float y = zf_expf(x);
    ZT_CHECK(zf_f32_bits(y) == zf_f32_bits(want) || (isnan(y) && isnan(want)), "exp(%a) = %a, want %a", x, y,
             want);
}

static void special_values(void) {
    check_exp_is(0.0f, 1.0f);
    check_exp_is(-0.0f, 1.0f);
    check_exp_is(INFINITY, INFINITY);
    check_exp_is(-INFINITY, 0.0f);
    check_exp_is(NAN, NAN);
    check_exp_is(-NAN, NAN);
    check_exp_is(0x1p-149f, 1.0f);
    check_exp_is(-0x1p-149f, 1.0f);
    check_exp_is(FLT_MAX, INFINITY);
    check_exp_is(-FLT_MAX, 0.0f);
    check_exp_is(88.8f, INFINITY);
    check_exp_is(89.0f, INFINITY);
    check_exp_is(1000.0f, INFINITY);
    check_exp_is(-104.0f, 0.0f);
    check_exp_is(-1000.0f, 0.0f);
    /* largest input with a finite result, and the first overflowing one */
    float top = 0x1.62e42ep+6f; /* 88.7228317 */
    ZT_CHECK(isfinite(zf_expf(top)) && zf_expf(top) > 0x1.fffp127f, "exp(%a) = %a", top, zf_expf(top));
    ZT_CHECK(isinf(zf_expf(nextafterf(top, INFINITY))), "exp just above ln(FLT_MAX) must overflow");
    /* gradual underflow: subnormal results, then +0 */
    ZT_CHECK(zf_expf(-100.0f) > 0.0f && zf_expf(-100.0f) < 0x1p-126f, "exp(-100) = %a", zf_expf(-100.0f));
    ZT_CHECK(zf_expf(-103.0f) > 0.0f, "exp(-103) = %a must be a subnormal", zf_expf(-103.0f));
    ZT_CHECK(zf_expf(-103.98f) == 0.0f, "exp(-103.98) = %a must round to 0", zf_expf(-103.98f));
    /* exp is monotone across the subnormal and overflow edges */
    float prev = 0.0f;
    int mono = 1;
    for (float x = -104.0f; x < 88.72f; x = nextafterf(x, INFINITY) + (x < 80.0f && x > -100.0f ? 0.01f : 0.0f)) {
        float y = zf_expf(x);
        if (y < prev) mono = 0;
        prev = y;
    }
    ZT_CHECK(mono, "exp is not monotone");
    /* sigmoid and silu at the ends */
    ZT_CHECK(zf_sigmoidf(0.0f) == 0.5f, "sigmoid(0) = %a", zf_sigmoidf(0.0f));
    ZT_CHECK(zf_sigmoidf(INFINITY) == 1.0f && zf_sigmoidf(-INFINITY) == 0.0f, "sigmoid(+-inf)");
    ZT_CHECK(zf_siluf(INFINITY) == INFINITY, "silu(inf) = %a", zf_siluf(INFINITY));
    ZT_CHECK(isnan(zf_siluf(-INFINITY)), "silu(-inf) = %a (-inf/inf is NaN)", zf_siluf(-INFINITY));
    ZT_CHECK(zf_f32_bits(zf_siluf(-0.0f)) == 0x80000000u, "silu(-0) = %a", zf_siluf(-0.0f));
    ZT_CHECK(zf_siluf(100.0f) == 100.0f, "silu(100) = %a", zf_siluf(100.0f));
    ZT_CHECK(zf_f32_bits(zf_siluf(-100.0f)) == 0x80000000u, "silu(-100) = %a", zf_siluf(-100.0f));
    /* the public functions are the inline ones */
    for (int i = 0; i < 1000; i++) {
        float x = (float)zt_uniform(-120.0, 120.0);
        ZT_CHECK(zf_f32_bits(zf_expf(x)) == zf_f32_bits(zf_exp_scalar(x)) &&
                     zf_f32_bits(zf_siluf(x)) == zf_f32_bits(zf_silu_scalar(x)),
                 "zf_expf / zf_siluf differ from zmath.h at %a", x);
    }
}

/* ---- SIMD paths against scalar ------------------------------------------- */

typedef struct isa_kernels {
    zf_cpu_isa isa;
    void (*silu)(zf_dtype, const void *, void *, int64_t, int);
    void (*silu_vjp)(zf_dtype, const void *, const void *, void *, int64_t, int);
} isa_kernels;

/* Same bits, NaN payloads included: x is the only operand that can be NaN
 * here, so every path returns its payload, quieted (the SIMD bf16 rounding
 * relies on that; see zf_avx2_bf16_top_arith). */
static int64_t first_mismatch(zf_dtype t, const void *a, const void *b, int64_t n) {
    size_t es = zf_dtype_size(t);
    for (int64_t i = 0; i < n; i++)
        if (memcmp((const char *)a + i * es, (const char *)b + i * es, es)) return i;
    return -1;
}

/* silu(x), silu_vjp(x, 1) (= silu'(x) exactly) and silu_vjp(x, d random);
 * the kernels also with non-temporal stores (stream = 1). */
static void compare_block(const isa_kernels *k, zf_dtype t, const void *x, void *d, void *got, void *want, int64_t n) {
    const char *isa = zf_cpu_isa_name(k->isa);
    int64_t i;
    zf_scalar_silu(t, x, want, n, 0);
    for (int stream = 0; stream < 2; stream++) {
        memset(got, 0x7f, (size_t)n * zf_dtype_size(t));
        k->silu(t, x, got, n, stream);
        i = first_mismatch(t, got, want, n);
        ZT_CHECK(i < 0, "%s silu %s (stream %d): x = %a gives %a, scalar %a", isa, zf_dtype_name(t), stream,
                 zf_load(t, x, i < 0 ? 0 : i), zf_load(t, got, i < 0 ? 0 : i), zf_load(t, want, i < 0 ? 0 : i));
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t j = 0; j < n; j++) zf_store(t, d, j, pass == 0 ? 1.0f : (float)zt_uniform(-4.0, 4.0));
        zf_scalar_silu_vjp(t, x, d, want, n, 0);
        k->silu_vjp(t, x, d, got, n, pass);
        i = first_mismatch(t, got, want, n);
        ZT_CHECK(i < 0, "%s silu_vjp %s: x = %a, d = %a gives %a, scalar %a", isa, zf_dtype_name(t),
                 zf_load(t, x, i < 0 ? 0 : i), zf_load(t, d, i < 0 ? 0 : i), zf_load(t, got, i < 0 ? 0 : i),
                 zf_load(t, want, i < 0 ? 0 : i));
    }
}

static void simd_vs_scalar(const isa_kernels *k, uint64_t stride) {
    enum { B = 1 << 16 };
    float *x = malloc(B * 4), *d = malloc(B * 4), *got = malloc(B * 4), *want = malloc(B * 4);
    /* f32: a strided sweep of every bit pattern (NaNs, infs, zeros and subnormals
     * included), plus the clamp edges and their neighbours */
    int64_t n = 0;
    for (uint64_t u = zt_rand() % stride; u < (1ull << 32); u += stride) {
        x[n++] = zf_bits_f32((uint32_t)u);
        if (n == B - 3) { /* an odd length: exercises the partial vector */
            compare_block(k, ZF_DTYPE_F32, x, d, got, want, n);
            n = 0;
        }
    }
    static const float edges[] = {-104.0f, 89.0f, 88.72283f, -88.72283f, 103.97f, -103.97f, 0.0f, -0.0f,
                                  INFINITY, -INFINITY, NAN, -NAN, 0x1p-149f, -0x1p-149f, 0x1p-126f, FLT_MAX,
                                  -FLT_MAX, 1e30f, -1e30f, 1.0f, -1.0f, -1.278464f};
    for (size_t e = 0; e < sizeof edges / sizeof *edges; e++)
        for (int s = -2; s <= 2; s++) {
            float v = edges[e];
            for (int m = 0; m < abs(s); m++) v = nextafterf(v, s > 0 ? INFINITY : -INFINITY);
            x[n++] = v;
        }
    compare_block(k, ZF_DTYPE_F32, x, d, got, want, n);
    /* dense random inputs where every |x| <= 86, the SIMD shortcut's range,
     * with 86 and its neighbours among them; then a band around it */
    for (int64_t j = 0; j < B - 5; j++) x[j] = (float)zt_uniform(-86.0, 86.0);
    for (int s = 0; s < 4; s++) x[(int64_t)(zt_rand() % (B - 5))] = s & 1 ? -86.0f : 86.0f;
    x[17] = nextafterf(86.0f, 0.0f);
    compare_block(k, ZF_DTYPE_F32, x, d, got, want, B - 5);
    for (int64_t j = 0; j < B - 5; j++) x[j] = (float)zt_uniform(-92.0, 92.0);
    compare_block(k, ZF_DTYPE_F32, x, d, got, want, B - 5);
    /* f16 and bf16: every bit pattern */
    for (int dt = ZF_DTYPE_F16; dt <= ZF_DTYPE_BF16; dt++) {
        uint16_t *h = (uint16_t *)x;
        for (int64_t j = 0; j < B; j++) h[j] = (uint16_t)j;
        compare_block(k, (zf_dtype)dt, h, d, got, want, B);
    }
    free(x);
    free(d);
    free(got);
    free(want);
}

/* The bits themselves, pinned: the accuracy bounds and the SIMD-vs-scalar
 * comparisons cannot see a change to the shared sequence (a constant of the
 * polynomial moves every path at once), and exact paths are promised
 * bit-identical across versions of this contract. A hash of exp, sigmoid
 * and silu over every 65537th f32 bit pattern, and three inputs that a
 * one-ulp change to a polynomial constant moves (docs/NUMERICS.md §3). */
#define PINNED_HASH 0xcd6fba3604b2233eull
static void pinned_bits(void) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the result words */
    for (uint64_t u = 0; u < (1ull << 32); u += 65537) {
        float x;
        uint32_t b = (uint32_t)u, r[3];
        memcpy(&x, &b, 4);
        r[0] = zf_f32_bits(zf_expf(x)), r[1] = zf_f32_bits(zf_sigmoid_scalar(x)), r[2] = zf_f32_bits(zf_silu_scalar(x));
        for (int i = 0; i < 3; i++) h = (h ^ r[i]) * 0x100000001b3ull;
    }
    ZT_CHECK(h == PINNED_HASH, "exp/sigmoid/silu bits changed: hash %#llx, pinned %#llx", (unsigned long long)h,
             (unsigned long long)PINNED_HASH);
    check_exp_is(-0x1.3fa5dap+3f, 0x1.810e6ap-15f);
    check_exp_is(-0x1.2bdd26p+3f, 0x1.65452cp-14f);
    check_exp_is(-0x1.13daaap+3f, 0x1.7a4902p-13f);
}

int main(void) {
    zt_init("test_exp");
    pinned_bits();
    uint64_t stride = env_on("ZF_TEST_FULL") ? 1 : env_on("ZF_TEST_QUICK") ? 4099 : 257;
    sweep_accuracy(stride);
    special_values();
    isa_kernels ks[] = {{ZF_CPU_ISA_AVX2, zf_avx2_silu, zf_avx2_silu_vjp},
                        {ZF_CPU_ISA_AVX512, zf_avx512_silu, zf_avx512_silu_vjp}};
    for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
        if (ks[i].isa > zf_cpu_isa_detected()) {
            printf("  %s: not on this CPU, skipped\n", zf_cpu_isa_name(ks[i].isa));
            continue;
        }
        simd_vs_scalar(&ks[i], env_on("ZF_TEST_QUICK") ? 20011 : 509);
        printf("  %s silu / silu_vjp: same bits as scalar\n", zf_cpu_isa_name(ks[i].isa));
    }
    return zt_finish();
}
