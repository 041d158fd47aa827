/* zf synth: write a model with seeded random weights (src/model/synth.h). */
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "commands.h"
#include "model/synth.h"
#include "zfast.h"

static void show_progress(int64_t done, int64_t total, void *ctx) {
    (void)ctx;
    fprintf(stderr, "\rzf synth: %.1f / %.1f MiB", (double)done / 1048576.0, (double)total / 1048576.0);
    if (done >= total) fputc('\n', stderr);
}

static int parse_int(const char *usage, const char *name, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return zf_usage_error(usage, "%s '%s': expected an integer in %lld..%lld", name, s, lo, hi);
    *out = v;
    return 0;
}

int zf_cmd_synth(int argc, char **argv) {
    static const char usage[] =
        "zf synth --arch llama|qwen3_moe --preset NAME [--layers N] [--vocab N] --format gguf|mlx "
        "[--quant q4_0|q4_1|q8_0|f16|f32] [--bits B] [--group-size G] [--seed S] -o PATH";
    const char *arch = NULL, *preset = NULL, *layers = NULL, *vocab = NULL, *format = NULL, *quant = NULL,
               *bits = NULL, *gs = NULL, *seed = NULL, *out = NULL;
    const zf_opt opts[] = {
        {"--arch", "llama|qwen3_moe", "architecture", &arch, NULL},
        {"--preset", "NAME", "shape preset (tiny, smollm2-135m, llama-340m, qwen3-30b-a3b)", &preset, NULL},
        {"--layers", "N", "number of layers (default: the preset's)", &layers, NULL},
        {"--vocab", "N", "vocabulary size (default: the preset's)", &vocab, NULL},
        {"--format", "gguf|mlx", "GGUF file or mlx-community safetensors directory", &format, NULL},
        {"--quant", "TYPE", "GGUF weight type (default q4_0)", &quant, NULL},
        {"--bits", "B", "MLX bits (default 4)", &bits, NULL},
        {"--group-size", "G", "MLX group size (default 64)", &gs, NULL},
        {"--seed", "S", "random seed (default 1)", &seed, NULL},
        {"-o", "PATH", "output file (gguf) or directory (mlx)", &out, NULL},
    };
    const char *pos[1];
    int n_pos, rc = zf_parse_args(usage, argc, argv, opts, (int)(sizeof opts / sizeof *opts), pos, 0, &n_pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (!arch || !preset || !format || !out) return zf_usage_error(usage, "--arch, --preset, --format and -o are required");
    long long v = 0;
    zf_synth_opts o = {.arch = arch, .preset = preset, .format = format, .quant = quant, .seed = 1, .out = out,
                       .progress = show_progress};
    if (layers) { if (parse_int(usage, "--layers", layers, 1, 1000, &v)) return 2; o.layers = v; }
    if (vocab) { if (parse_int(usage, "--vocab", vocab, 259, 1 << 20, &v)) return 2; o.vocab = v; }
    if (bits) { if (parse_int(usage, "--bits", bits, 2, 8, &v)) return 2; o.bits = (int)v; }
    if (gs) { if (parse_int(usage, "--group-size", gs, 32, 128, &v)) return 2; o.group_size = (int)v; }
    if (seed) { if (parse_int(usage, "--seed", seed, 0, (long long)1 << 62, &v)) return 2; o.seed = (uint64_t)v; }
    if (zf_synth_write(&o) != ZF_OK) {
        fprintf(stderr, "zf: %s\n", zf_last_error());
        return 1;
    }
    fprintf(stderr, "zf synth: wrote %s\n", out);
    return 0;
}
