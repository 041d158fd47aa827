/* RoPE frequency scaling (zf_rope_table_scaled): linear, Llama 3 and
 * per-frequency divisors against a float64 transcription of HF transformers'
 * formulas with libm; the three Llama 3 bands against the unscaled and
 * linear tables bit for bit; llama.cpp's rope_freqs divisors against the
 * llama3 type; bad parameters change nothing. docs/NUMERICS.md §9.2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rope_ref.h"

static int quick(void) { return getenv("ZF_TEST_QUICK") != NULL; }

static float *table(float theta, int64_t dims, const zf_rope_scaling *s, int64_t p0, int64_t npos) {
    float *cs = malloc((size_t)(npos * dims) * 4);
    int64_t shape[3] = {npos, dims / 2, 2};
    zf_tensor t = zf_tensor_nd(cs, ZF_DTYPE_F32, 3, shape);
    ZT_OK(zf_rope_table_scaled(theta, dims, s, p0, &t));
    return cs;
}

/* Every entry within 1 f32 ulp of libm's cos/sin of the reference angle. */
static void check_against_float64(const char *what, float theta, int64_t dims, const zf_rope_scaling *s, int64_t p0,
                                  int64_t npos) {
    float *cs = table(theta, dims, s, p0, npos);
    int64_t h = dims / 2, beyond = 0;
    for (int64_t p = 0; p < npos; p++)
        for (int64_t i = 0; i < h; i++) {
            double a = (double)(p0 + p) * ref_rope_freq(theta, dims, i, s), ref[2] = {cos(a), sin(a)};
            for (int k = 0; k < 2; k++) {
                double ulp = ldexp(1.0, ilogb(fabs(ref[k]) > 1e-30 ? ref[k] : 1e-30) - 23);
                beyond += fabs(cs[(p * h + i) * 2 + k] - ref[k]) > ulp;
            }
        }
    ZT_CHECK(beyond == 0, "%s: %lld of %lld values beyond 1 ulp of float64", what, (long long)beyond,
             (long long)(npos * dims));
    free(cs);
}

static void test_reference(void) {
    int64_t npos = quick() ? 512 : 8192;
    /* Llama 3.1 8B: theta 5e5, head_dim 128, factor 8, bands at wavelengths 2048 and 8192 */
    zf_rope_scaling l31 = {.type = ZF_ROPE_SCALING_LLAMA3, .factor = 8, .low_freq_factor = 1, .high_freq_factor = 4,
                           .original_max_position = 8192};
    check_against_float64("llama3 (Llama 3.1 8B)", 500000.0f, 128, &l31, 0, npos);
    /* Llama 3.2 1B: factor 32, head_dim 64, far positions */
    zf_rope_scaling l32 = l31;
    l32.factor = 32;
    check_against_float64("llama3 (factor 32, p0 9000)", 500000.0f, 64, &l32, 9000, 256);
    zf_rope_scaling lin = {.type = ZF_ROPE_SCALING_LINEAR, .factor = 4};
    check_against_float64("linear 4", 10000.0f, 96, &lin, 3, npos);
    lin.factor = 0.75; /* a factor below 1 is unusual but well defined */
    check_against_float64("linear 0.75", 10000.0f, 6, &lin, 0, 300);
    float div[32];
    for (int i = 0; i < 32; i++) div[i] = 1.0f + (float)zt_uniform(0, 7);
    zf_rope_scaling dv = {.type = ZF_ROPE_SCALING_NONE, .freq_divisors = div};
    check_against_float64("divisors", 10000.0f, 64, &dv, 0, 300);
    zf_rope_scaling both = l31;
    both.freq_divisors = div;
    check_against_float64("llama3 and divisors", 500000.0f, 64, &both, 7, 300);
}

/* The bands: high frequencies keep the unscaled bits, low ones equal the
 * linear table's, the ones between lie strictly between the two. */
static void test_llama3_bands(void) {
    const int64_t D = 128, h = D / 2, npos = 64;
    zf_rope_scaling s = {.type = ZF_ROPE_SCALING_LLAMA3, .factor = 8, .low_freq_factor = 1, .high_freq_factor = 4,
                         .original_max_position = 8192};
    zf_rope_scaling lin = {.type = ZF_ROPE_SCALING_LINEAR, .factor = 8};
    float *sc = table(500000.0f, D, &s, 0, npos), *plain = table(500000.0f, D, NULL, 0, npos);
    float *lt = table(500000.0f, D, &lin, 0, npos);
    int bands[3] = {0, 0, 0}, bad = 0;
    for (int64_t i = 0; i < h; i++) {
        double wavelen = 2 * M_PI * pow(500000.0, 2.0 * (double)i / (double)D);
        int band = wavelen < 2048 ? 0 : wavelen > 8192 ? 2 : 1;
        bands[band]++;
        /* position 1: the angle is the frequency itself (cos/sin of it pin it down) */
        float got = sc[(1 * h + i) * 2 + 1];
        if (band == 0) bad += got != plain[(h + i) * 2 + 1];
        if (band == 2) bad += got != lt[(h + i) * 2 + 1];
        if (band == 1) bad += !(got > lt[(h + i) * 2 + 1] && got < plain[(h + i) * 2 + 1]);
        for (int64_t p = 0; p < npos && band != 1; p++) {
            const float *want = band == 0 ? plain : lt;
            bad += memcmp(sc + (p * h + i) * 2, want + (p * h + i) * 2, 8) != 0;
        }
    }
    ZT_CHECK(bands[0] > 0 && bands[1] > 0 && bands[2] > 0, "llama3 bands %d/%d/%d: expected all three", bands[0],
             bands[1], bands[2]);
    ZT_CHECK(bad == 0, "llama3 bands: %d frequencies outside their band's rule", bad);
    free(sc);
    free(plain);
    free(lt);
}

/* llama.cpp's converter stores Llama 3 scaling as per-frequency divisors
 * (computed in f32 there): dividing by them reproduces the llama3 type within
 * the divisors' f32 rounding. */
static void test_divisors_match_llama3(void) {
    const int64_t D = 128, h = D / 2, npos = 512;
    const double ctx = 8192, factor = 8, lo = 1, hi = 4;
    float div[64];
    for (int64_t i = 0; i < h; i++) {
        float f = (float)(1.0 / pow(500000.0, (double)(2 * i) / (double)D));
        double wavelen = 2 * M_PI / f;
        double smooth = (ctx / wavelen - lo) / (hi - lo);
        div[i] = wavelen < ctx / hi   ? 1.0f
                 : wavelen > ctx / lo ? (float)factor
                                      : (float)(1 / ((1 - smooth) / factor + smooth));
    }
    zf_rope_scaling s = {.type = ZF_ROPE_SCALING_LLAMA3, .factor = factor, .low_freq_factor = lo,
                         .high_freq_factor = hi, .original_max_position = (int64_t)ctx};
    zf_rope_scaling d = {.type = ZF_ROPE_SCALING_NONE, .freq_divisors = div};
    float *a = table(500000.0f, D, &s, 0, npos), *b = table(500000.0f, D, &d, 0, npos);
    double worst = 0;
    for (int64_t k = 0; k < npos * D; k++) worst = fmax(worst, fabs((double)a[k] - (double)b[k]));
    ZT_CHECK(worst < 2e-5, "rope_freqs divisors vs llama3 type: max difference %g", worst);
    free(a);
    free(b);
}

static void test_bad_input(void) {
    float cs[16], poison[16];
    int64_t shape[3] = {2, 4, 2};
    zf_tensor t = zf_tensor_nd(cs, ZF_DTYPE_F32, 3, shape);
    memset(cs, 0x7f, sizeof cs);
    memcpy(poison, cs, sizeof cs);
    zf_rope_scaling good = {.type = ZF_ROPE_SCALING_LLAMA3, .factor = 8, .low_freq_factor = 1, .high_freq_factor = 4,
                            .original_max_position = 8192};
    float zero_div[4] = {1, 2, 0, 1}, nan_div[4] = {1, NAN, 1, 1}, tiny_div[4] = {1, 1, 1, 1e-30f};
    struct { zf_rope_scaling s; const char *what, *msg; } cases[] = {
        {{.type = (zf_rope_scaling_type)7}, "unknown type", "scaling type 7"},
        {{.type = ZF_ROPE_SCALING_LINEAR, .factor = 0}, "linear factor 0", "factor 0"},
        {{.type = ZF_ROPE_SCALING_LINEAR, .factor = NAN}, "linear factor NaN", "factor nan"},
        {{.type = ZF_ROPE_SCALING_LINEAR, .factor = INFINITY}, "linear factor inf", "factor inf"},
        {{.type = ZF_ROPE_SCALING_LINEAR, .factor = 1e-6}, "frequency above 1024", "scaled frequency 0"},
        {{.type = ZF_ROPE_SCALING_LLAMA3, .factor = 8, .low_freq_factor = 4, .high_freq_factor = 4,
          .original_max_position = 8192}, "llama3 low = high", "low_freq_factor 4"},
        {{.type = ZF_ROPE_SCALING_LLAMA3, .factor = 8, .low_freq_factor = 0, .high_freq_factor = 4,
          .original_max_position = 8192}, "llama3 low 0", "low_freq_factor 0"},
        {{.type = ZF_ROPE_SCALING_LLAMA3, .factor = 8, .low_freq_factor = 1, .high_freq_factor = 4,
          .original_max_position = 0}, "llama3 context 0", "original_max_position 0"},
        {{.type = ZF_ROPE_SCALING_NONE, .freq_divisors = zero_div}, "divisor 0", "freq_divisors[2] = 0"},
        {{.type = ZF_ROPE_SCALING_NONE, .freq_divisors = nan_div}, "divisor NaN", "freq_divisors[1] = nan"},
        {{.type = ZF_ROPE_SCALING_NONE, .freq_divisors = tiny_div}, "divisor 1e-30", "scaled frequency 3"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        zf_status st = zf_rope_table_scaled(1e4f, 8, &cases[c].s, 0, &t);
        ZT_CHECK(st == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), cases[c].msg), "%s: status %d, message '%s'",
                 cases[c].what, (int)st, zf_last_error());
        ZT_CHECK(memcmp(cs, poison, sizeof cs) == 0, "%s: the table was written", cases[c].what);
    }
    ZT_OK(zf_rope_table_scaled(1e4f, 8, &good, 0, &t));
    /* dims: even, 2 .. 1024 (the frequencies' stack array), the table untouched outside */
    {
        enum { MAXD = 1024 };
        const size_t bytes = sizeof(float) * (MAXD + 2) * 2; /* two rows of the widest refused table */
        float *big = malloc(bytes), *big0 = malloc(bytes);
        ZT_CHECK(big && big0, "no memory");
        if (big && big0) {
            memset(big, 0x7f, bytes);
            memcpy(big0, big, bytes);
            const int64_t bad_dims[] = {MAXD + 2, 0, 7};
            for (size_t i = 0; i < sizeof bad_dims / sizeof *bad_dims; i++) {
                int64_t sb[3] = {2, bad_dims[i] / 2, 2};
                zf_tensor tbig = zf_tensor_nd(big, ZF_DTYPE_F32, 3, sb);
                zf_status st = zf_rope_table(1e4f, bad_dims[i], 0, &tbig);
                ZT_CHECK(st == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), "dims"), "dims %lld: status %d, '%s'",
                         (long long)bad_dims[i], (int)st, zf_last_error());
                ZT_CHECK(memcmp(big, big0, bytes) == 0, "dims %lld: the table was written",
                         (long long)bad_dims[i]);
            }
            int64_t sm[3] = {2, MAXD / 2, 2};
            zf_tensor tmax = zf_tensor_nd(big, ZF_DTYPE_F32, 3, sm);
            ZT_OK(zf_rope_table(1e4f, MAXD, 0, &tmax)); /* the largest accepted */
        }
        free(big);
        free(big0);
    }
    /* type NONE and NULL both give zf_rope_table's bits */
    float a[16], b[16];
    zf_tensor ta = zf_tensor_nd(a, ZF_DTYPE_F32, 3, shape), tb = zf_tensor_nd(b, ZF_DTYPE_F32, 3, shape);
    zf_rope_scaling none = {.type = ZF_ROPE_SCALING_NONE, .factor = 123};
    ZT_OK(zf_rope_table(1e4f, 8, 5, &ta));
    ZT_OK(zf_rope_table_scaled(1e4f, 8, &none, 5, &tb));
    ZT_CHECK(memcmp(a, b, sizeof a) == 0, "type NONE differs from zf_rope_table");
}

int main(void) {
    zt_init("test_rope_scaling");
    test_reference();
    test_llama3_bands();
    test_divisors_match_llama3();
    test_bad_input();
    return zt_finish();
}
