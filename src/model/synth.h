/* Synthetic models: seeded random weights in the shape of a real
 * architecture, written as GGUF or as an mlx-community safetensors
 * directory, with a small byte-level BPE vocabulary, so tests and benchmarks
 * exercise the real loading paths at any size. */
#ifndef ZF_MODEL_SYNTH_H
#define ZF_MODEL_SYNTH_H

#include <stdint.h>

#include "zfast.h"

typedef struct zf_synth_opts {
    const char *arch;    /* "llama" or "qwen3_moe" */
    const char *preset;  /* "tiny", "smollm2-135m", "llama-340m", "qwen3-30b-a3b" */
    int64_t layers;      /* 0: the preset's */
    int64_t vocab;       /* 0: the preset's */
    const char *format;  /* "gguf" or "mlx" */
    const char *quant;   /* gguf: "q4_0", "q4_1", "q8_0", "f16", "f32" (NULL: q4_0) */
    int bits;            /* mlx: 2..8 (0: 4) */
    int group_size;      /* mlx: 32, 64, 128 (0: 64) */
    uint64_t seed;
    const char *out;     /* gguf: file path; mlx: directory (created) */
    void (*progress)(int64_t done, int64_t total, void *ctx);
    void *ctx;
} zf_synth_opts;

/* Lists the presets of an arch into buf (comma-separated). */
void zf_synth_presets(const char *arch, char *buf, size_t size);
zf_status zf_synth_write(const zf_synth_opts *o);

#endif
