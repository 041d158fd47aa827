#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int zt_failures, zt_checks;
static uint64_t g_state;
static const char *g_name;

void zt_init(const char *name) {
    g_name = name;
    const char *env = getenv("ZF_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : ((uint64_t)time(NULL) * 2654435761u) ^ (uint64_t)clock();
    if (!seed) seed = 1;
    g_state = seed;
    printf("%s: seed %llu (ZF_TEST_SEED=%llu replays)\n", name, (unsigned long long)seed, (unsigned long long)seed);
}

int zt_finish(void) {
    printf("%s: %d checks, %d failures\n", g_name, zt_checks, zt_failures);
    return zt_failures ? 1 : 0;
}

uint64_t zt_rand(void) {
    uint64_t x = g_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return g_state = x;
}

double zt_uniform(double lo, double hi) { return lo + (hi - lo) * ((double)(zt_rand() >> 11) / 9007199254740992.0); }

void zt_set(zf_dtype t, void *p, int64_t i, float v) {
    if (t == ZF_DTYPE_F16) ((uint16_t *)p)[i] = zf_f32_to_f16(v);
    else if (t == ZF_DTYPE_BF16) ((uint16_t *)p)[i] = zf_f32_to_bf16(v);
    else ((float *)p)[i] = v;
}

float zt_get(zf_dtype t, const void *p, int64_t i) {
    if (t == ZF_DTYPE_F16) return zf_f16_to_f32(((const uint16_t *)p)[i]);
    if (t == ZF_DTYPE_BF16) return zf_bf16_to_f32(((const uint16_t *)p)[i]);
    return ((const float *)p)[i];
}

void zt_fill(zf_dtype t, void *p, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) {
        float v = (float)zt_uniform(-scale, scale);
        if (v == 0.0f) v = scale * 0.5f;
        zt_set(t, p, i, v);
    }
}

zt_buf zt_alloc(zf_dtype t, int64_t n) {
    zt_buf b;
    b.bytes = (size_t)n * zf_dtype_size(t);
    b.base = malloc(b.bytes + 128);
    if (!b.base) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memset(b.base, 0xa5, 64);
    memset(b.base + 64 + b.bytes, 0xa5, 64);
    b.p = b.base + 64;
    zt_poison(&b);
    return b;
}

void zt_poison(zt_buf *b) { memset(b->p, 0x7f, b->bytes); }

int zt_guards_ok(const zt_buf *b) {
    for (int i = 0; i < 64; i++)
        if (b->base[i] != 0xa5 || b->base[64 + b->bytes + i] != 0xa5) return 0;
    return 1;
}

void zt_free(zt_buf *b) {
    free(b->base);
    b->base = NULL;
    b->p = NULL;
}

int64_t zt_first_diff(zf_dtype t, const void *a, const void *b, int64_t n) {
    size_t es = zf_dtype_size(t);
    for (int64_t i = 0; i < n; i++)
        if (memcmp((const char *)a + i * es, (const char *)b + i * es, es) != 0) return i;
    return -1;
}

char *zt_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *s = n >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (!s) return NULL;
    s[n] = '\0';
    if (len) *len = (size_t)n;
    return s;
}

int zt_write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}
