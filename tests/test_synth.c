/* zf synth: every arch × format writes a model that the loaders open with
 * the preset's configuration; the same seed gives the same bytes; bad
 * options are errors that write nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/dtype.h"
#include "harness.h"
#include "model/gguf.h"
#include "model/model_file.h"
#include "model/synth.h"

static char g_dir[256];

static int same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* The header of a written MLX directory's safetensors file: an 8-byte
 * length, a multiple of 8, then JSON whose __metadata__ names the format
 * (MLX's loader reads it; zfast's own skips it, so only this sees it). */
static void check_mlx_header(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t n = 0;
    char *f = zt_read_file(path, &n);
    uint64_t len = 0;
    for (int i = 0; f && n >= 8 && i < 8; i++) len |= (uint64_t)(unsigned char)f[i] << (8 * i);
    ZT_CHECK(f && n >= 8 && len > 0 && len % 8 == 0 && len <= n - 8, "%s: header length %llu", path,
             (unsigned long long)len);
    if (f && n >= 8 && len > 0 && len <= n - 8) {
        cJSON *h = cJSON_ParseWithLength(f + 8, (size_t)len);
        const char *fmt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(h, "__metadata__"), "format"));
        ZT_CHECK(fmt && strcmp(fmt, "mlx") == 0, "%s: __metadata__.format is %s", path, fmt ? fmt : "absent");
        cJSON_Delete(h);
    }
    free(f);
}

/* The synth file's definition restated, as the oracle for its bytes: a
 * tensor's key is mix(seed ^ FNV-1a(name)); a Q4_0 block b holds an f16
 * scale d = amp/8 * jitter (jitter in [0.5, 1), amp 1 for the embedding)
 * and 16 code bytes, word j of them mix(key ^ mix(64 b + j)). */
static uint64_t oracle_mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Every Q4_0 block of token_embd.weight in a GGUF written with `seed`,
 * including the one that straddles the writer's 4 MiB chunks (the tensor
 * must be larger than that for the check to mean anything). */
static void check_q4_0_blocks(const char *path, uint64_t seed) {
    size_t n = 0;
    char *f = zt_read_file(path, &n);
    zf_gguf g;
    memset(&g, 0, sizeof g);
    ZT_CHECK(f && zf_gguf_parse(f, n, &g) == ZF_OK, "%s: parse: %s", path, zf_last_error());
    const char *name = "token_embd.weight";
    const zf_gguf_tinfo *t = NULL;
    for (int64_t i = 0; i < g.n_tensors; i++)
        if (g.tensors[i].name.len == strlen(name) && !memcmp(g.tensors[i].name.s, name, strlen(name))) t = &g.tensors[i];
    ZT_CHECK(t && t->type == ZF_GGML_Q4_0 && t->bytes > (4u << 20), "%s: %s is not a Q4_0 tensor over 4 MiB", path, name);
    if (t && t->type == ZF_GGML_Q4_0) {
        uint64_t h = 1469598103934665603ull;
        for (const char *c = name; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
        uint64_t key = oracle_mix(seed ^ h);
        int64_t bad = -1, blocks = (int64_t)(t->bytes / 18);
        for (int64_t b = 0; b < blocks && bad < 0; b++) {
            const unsigned char *o = (const unsigned char *)f + t->data_off + 18 * b;
            uint16_t dh = (uint16_t)(o[0] | o[1] << 8);
            float d = zf_cvt_f16_f32(dh);
            unsigned char want[16];
            for (int j = 0; j < 16; j += 8) {
                uint64_t r = oracle_mix(key ^ oracle_mix((uint64_t)b * 64 + (uint64_t)j));
                memcpy(want + j, &r, 8);
            }
            if (!(d >= 1.0f / 16 && d <= 1.0f / 8) || memcmp(o + 2, want, 16)) bad = b;
        }
        ZT_CHECK(bad < 0, "%s: Q4_0 block %lld of %lld (bytes %lld..) is not the generator's (4 MiB chunk at block %lld)",
                 path, (long long)bad, (long long)blocks, (long long)(18 * bad), (long long)((4 << 20) / 18));
    }
    zf_gguf_free(&g);
    free(f);
}

static void check_model(const char *path, const char *arch, int moe) {
    zf_model_file *f = NULL;
    zf_status s = zf_model_file_open(path, NULL, NULL, &f);
    ZT_CHECK(s == ZF_OK, "open %s: %s", path, zf_last_error());
    if (s != ZF_OK) return;
    const zf_model_config *c = zf_model_file_config(f);
    ZT_CHECK(c->hidden == 64 && c->layers == 2 && c->heads == 4 && c->kv_heads == 2 && c->head_dim == 16,
             "%s: config hidden %lld layers %lld heads %lld/%lld head_dim %lld", path, (long long)c->hidden,
             (long long)c->layers, (long long)c->heads, (long long)c->kv_heads, (long long)c->head_dim);
    ZT_CHECK(c->vocab == 512, "%s: vocab %lld", path, (long long)c->vocab);
    ZT_CHECK(c->is_moe == moe, "%s: is_moe %d (arch %s)", path, c->is_moe, arch);
    if (moe) ZT_CHECK(c->experts == 8 && c->experts_used == 2 && c->expert_ffn == 64, "%s: experts", path);
    const char *names[] = {"token_embd.weight", "output_norm.weight", "blk.1.attn_q.weight",
                           moe ? "blk.1.ffn_down_exps.weight" : "blk.1.ffn_down.weight"};
    for (int i = 0; i < 4; i++) {
        zf_weight w;
        ZT_CHECK(zf_model_file_weight(f, names[i], &w) == ZF_OK, "%s: weight %s: %s", path, names[i], zf_last_error());
    }
    zf_vocab_data v;
    ZT_CHECK(zf_model_file_vocab(f, &v) == ZF_OK && v.n_tokens == 512, "%s: vocab data", path);
    zf_model_file_close(f);
}

int main(void) {
    zt_init("test_synth");
    snprintf(g_dir, sizeof g_dir, "/tmp/zf_test_synth_%d", (int)getpid());
    char cmd[600], a[300], b[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", g_dir);
    if (system(cmd) != 0) return 2;

    const char *quants[] = {"q4_0", "q4_1", "q8_0", "f16", "f32"};
    for (int q = 0; q < 5; q++) {
        snprintf(a, sizeof a, "%s/llama-%s.gguf", g_dir, quants[q]);
        zf_synth_opts o = {.arch = "llama", .preset = "tiny", .format = "gguf", .quant = quants[q], .seed = 7, .out = a};
        ZT_OK(zf_synth_write(&o));
        check_model(a, "llama", 0);
    }
    snprintf(a, sizeof a, "%s/moe.gguf", g_dir);
    zf_synth_opts om = {.arch = "qwen3_moe", .preset = "tiny", .format = "gguf", .quant = "q4_1", .seed = 7, .out = a};
    ZT_OK(zf_synth_write(&om));
    check_model(a, "qwen3_moe", 1);
    for (int moe = 0; moe < 2; moe++) {
        snprintf(a, sizeof a, "%s/mlx-%d", g_dir, moe);
        zf_synth_opts o = {.arch = moe ? "qwen3_moe" : "llama", .preset = "tiny", .format = "mlx", .seed = 7, .out = a};
        ZT_OK(zf_synth_write(&o));
        check_model(a, o.arch, moe);
        check_mlx_header(a);
    }

    /* an embedding over 4 MiB (vocab 131072 x 64 in Q4_0: 4.5 MiB), so one
     * block straddles two of the writer's chunks */
    snprintf(a, sizeof a, "%s/big-vocab.gguf", g_dir);
    zf_synth_opts ov = {.arch = "llama", .preset = "tiny", .vocab = 131072, .format = "gguf", .seed = 5, .out = a};
    ZT_OK(zf_synth_write(&ov));
    check_q4_0_blocks(a, 5);

    /* determinism: same seed, same bytes; another seed, other bytes */
    snprintf(a, sizeof a, "%s/s1.gguf", g_dir);
    snprintf(b, sizeof b, "%s/s2.gguf", g_dir);
    zf_synth_opts o1 = {.arch = "llama", .preset = "tiny", .format = "gguf", .seed = 11, .out = a};
    zf_synth_opts o2 = o1;
    o2.out = b;
    ZT_OK(zf_synth_write(&o1));
    ZT_OK(zf_synth_write(&o2));
    ZT_CHECK(same_file(a, b), "same seed gave different files");
    o2.seed = 12;
    ZT_OK(zf_synth_write(&o2));
    ZT_CHECK(!same_file(a, b), "different seeds gave the same file");

    /* bad options */
    snprintf(a, sizeof a, "%s/bad.gguf", g_dir);
    zf_synth_opts bad = {.arch = "llama", .preset = "huge", .format = "gguf", .out = a};
    ZT_CHECK(zf_synth_write(&bad) == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), "tiny"), "unknown preset: %s",
             zf_last_error());
    bad.preset = "tiny";
    bad.arch = "gpt5";
    ZT_CHECK(zf_synth_write(&bad) == ZF_ERR_INVALID_ARG, "unknown arch");
    bad.arch = "llama";
    bad.quant = "q3_k";
    ZT_CHECK(zf_synth_write(&bad) == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), "q3_k"), "unknown quant");
    bad.quant = NULL;
    bad.format = "onnx";
    ZT_CHECK(zf_synth_write(&bad) == ZF_ERR_INVALID_ARG, "unknown format");
    ZT_CHECK(access(a, F_OK) != 0, "a failed synth left a file behind");
    bad.format = "mlx";
    bad.group_size = 128; /* tiny's widths (64) are not multiples of 128 */
    snprintf(b, sizeof b, "%s/bad-mlx", g_dir);
    bad.out = b;
    ZT_CHECK(zf_synth_write(&bad) == ZF_ERR_INVALID_ARG && strstr(zf_last_error(), "group size"), "gs 128: %s",
             zf_last_error());

    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return zt_finish();
}
