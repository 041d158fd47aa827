/* zf synth: write a model with seeded random weights (src/model/synth.h). */
#include <stdio.h>

#include "args.h"
#include "commands.h"
#include "model/synth.h"
#include "zfast.h"

static void show_progress(int64_t done, int64_t total, void *ctx) {
    (void)ctx;
    fprintf(stderr, "\rzf synth: %.1f / %.1f MiB", (double)done / 1048576.0, (double)total / 1048576.0);
    if (done >= total) fputc('\n', stderr);
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
    long n_layers = 0, n_vocab = 0, n_bits = 0, n_gs = 0, n_seed = 1; /* 0: the preset's or the format's */
    if ((rc = zf_arg_long(usage, "--layers", layers, 1, 1000, &n_layers)) ||
        (rc = zf_arg_long(usage, "--vocab", vocab, 259, 1 << 20, &n_vocab)) ||
        (rc = zf_arg_long(usage, "--bits", bits, 2, 8, &n_bits)) ||
        (rc = zf_arg_long(usage, "--group-size", gs, 32, 128, &n_gs)) ||
        (rc = zf_arg_long(usage, "--seed", seed, 0, 1L << 62, &n_seed)))
        return rc;
    zf_synth_opts o = {.arch = arch, .preset = preset, .format = format, .quant = quant, .seed = (uint64_t)n_seed,
                       .out = out, .progress = show_progress, .layers = n_layers, .vocab = n_vocab,
                       .bits = (int)n_bits, .group_size = (int)n_gs};
    if (zf_synth_write(&o) != ZF_OK) {
        fprintf(stderr, "zf: %s\n", zf_last_error());
        return 1;
    }
    fprintf(stderr, "zf synth: wrote %s\n", out);
    return 0;
}
