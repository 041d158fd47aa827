/* The CUDA backend's one-wave occupancy arithmetic (src/cuda/occupancy.h),
 * which needs no GPU: the padded shared memory lets exactly `cap` CTAs fit
 * an SM and cap + 1 not, is the least size that does so, never shrinks what
 * a kernel asked for; the cap follows the grid (one wave with room to
 * spare) and leaves full or multi-wave grids alone. */
#include "cuda/occupancy.h"
#include "harness.h"

/* CTAs of `bytes` dynamic shared memory (plus the reserve) that fit an SM */
static int64_t fit(size_t sm, size_t reserved, size_t bytes) { return (int64_t)(sm / (bytes + reserved)); }

static void test_smem_for_cap(void) {
    /* H100/H200 (228 KiB an SM, 1 KiB reserved), A100 (164 KiB), and odd sizes */
    const size_t sms[][2] = {{233472, 1024}, {167936, 1024}, {102400, 0}, {65536, 512}, {233471, 1023}};
    for (size_t c = 0; c < sizeof sms / sizeof sms[0]; c++) {
        const size_t sm = sms[c][0], res = sms[c][1];
        for (int cap = 1; cap <= 8; cap++)
            for (int i = 0; i < 200; i++) {
                const size_t bytes = i < 3 ? (size_t)i : (size_t)(zt_rand() % (sm / 2));
                const size_t got = zf_cu_smem_for_cap(sm, res, bytes, cap);
                ZT_CHECK(got >= bytes, "sm %zu cap %d: %zu shrank to %zu", sm, cap, bytes, got);
                if (got == bytes) { /* no pad: cap + 1 already overflow */
                    ZT_CHECK(fit(sm, res, bytes) <= cap, "sm %zu cap %d bytes %zu: %lld fit unpadded", sm, cap, bytes,
                             (long long)fit(sm, res, bytes));
                    continue;
                }
                ZT_CHECK(fit(sm, res, got) == cap, "sm %zu cap %d bytes %zu -> %zu: %lld fit", sm, cap, bytes, got,
                         (long long)fit(sm, res, got));
                ZT_CHECK(fit(sm, res, got - 1) > cap, "sm %zu cap %d: %zu is not the least pad", sm, cap, got);
            }
    }
    /* the int8 swiglu at the Qwen3 shape on an H100: 43,520 bytes, 5 fit; 3 and 4 after the pad */
    ZT_CHECK(fit(233472, 1024, 43520) == 5, "5 CTAs of the swiglu fit unpadded");
    ZT_CHECK(fit(233472, 1024, zf_cu_smem_for_cap(233472, 1024, 43520, 3)) == 3, "cap 3");
    ZT_CHECK(fit(233472, 1024, zf_cu_smem_for_cap(233472, 1024, 43520, 4)) == 4, "cap 4");
    /* unknown SM, no cap: as asked */
    ZT_CHECK(zf_cu_smem_for_cap(0, 1024, 4096, 3) == 4096, "unknown SM");
    ZT_CHECK(zf_cu_smem_for_cap(233472, 1024, 4096, 0) == 4096, "cap 0");
    ZT_CHECK(zf_cu_smem_for_cap(233472, 1024, 4096, -1) == 4096, "cap -1");
}

static void test_wave_cap(void) {
    ZT_CHECK(zf_cu_wave_cap(384, 132, 5, 0) == 3, "one token, alone: 3 an SM");
    ZT_CHECK(zf_cu_wave_cap(384, 132, 5, 1) == 4, "one token, chained: 4");
    ZT_CHECK(zf_cu_wave_cap(1536, 132, 5, 0) == 0, "4 tokens: several waves, no cap");
    ZT_CHECK(zf_cu_wave_cap(660, 132, 5, 0) == 0, "a full wave: no cap");
    ZT_CHECK(zf_cu_wave_cap(528, 132, 5, 1) == 5, "4 an SM chained: the natural 5");
    ZT_CHECK(zf_cu_wave_cap(1, 132, 5, 0) == 1, "one CTA");
    ZT_CHECK(zf_cu_wave_cap(133, 132, 5, 0) == 2, "one past the SMs");
    ZT_CHECK(zf_cu_wave_cap(384, 0, 5, 0) == 0, "unknown SM count");
    ZT_CHECK(zf_cu_wave_cap(0, 132, 5, 0) == 0, "empty grid");
    for (int i = 0; i < 1000; i++) { /* the cap holds the grid in one wave */
        const int sms = 1 + (int)(zt_rand() % 200), natural = 1 + (int)(zt_rand() % 8);
        const int64_t ctas = 1 + (int64_t)(zt_rand() % (uint64_t)(sms * 10));
        const int cap = zf_cu_wave_cap(ctas, sms, natural, 0);
        if (cap) ZT_CHECK((int64_t)cap * sms >= ctas && (int64_t)(cap - 1) * sms < ctas && cap < natural,
                          "ctas %lld sms %d natural %d -> %d", (long long)ctas, sms, natural, cap);
        else ZT_CHECK((ctas + sms - 1) / sms >= natural, "ctas %lld sms %d natural %d: no cap", (long long)ctas, sms, natural);
    }
}

int main(void) {
    zt_init("test_occupancy");
    test_smem_for_cap();
    test_wave_cap();
    return zt_finish();
}
