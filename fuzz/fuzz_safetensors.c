/* libFuzzer entry for the safetensors reader: the input is
 * "config.json \0 tokenizer.json \0 safetensors image"; with fewer NULs the
 * missing leading parts take built-in defaults (an MLX qwen3_moe config, no
 * tokenizer). Header parse, config, name mapping, quantized layout checks,
 * expert stacking and tokenizer.json all see the fuzzed bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char DEFAULT_CONFIG[] =
    "{\"model_type\":\"qwen3_moe\",\"hidden_size\":128,\"num_hidden_layers\":1,\"num_attention_heads\":4,"
    "\"num_key_value_heads\":2,\"head_dim\":32,\"num_experts\":4,\"num_experts_per_tok\":2,"
    "\"moe_intermediate_size\":64,\"quantization\":{\"group_size\":64,\"bits\":4,"
    "\"model.layers.0.mlp.gate\":{\"group_size\":64,\"bits\":8},\"lm_head\":false}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *parts[3] = {DEFAULT_CONFIG, NULL, NULL};
    size_t lens[3] = {sizeof DEFAULT_CONFIG - 1, 0, 0};
    const uint8_t *nul1 = memchr(data, 0, size), *nul2 = nul1 ? memchr(nul1 + 1, 0, size - (size_t)(nul1 + 1 - data)) : NULL;
    const uint8_t *img = data;
    if (nul1) {
        parts[0] = (const char *)data;
        lens[0] = (size_t)(nul1 - data);
        img = nul1 + 1;
        if (nul2) {
            parts[1] = (const char *)(nul1 + 1);
            lens[1] = (size_t)(nul2 - nul1 - 1);
            img = nul2 + 1;
        }
    }
    size_t img_len = size - (size_t)(img - data);
    zf_model_file *f = zf_mf_new(NULL, NULL);
    if (!f) return 0;
    zf_st_list list = {0};
    zf_status s = zf_st_parse(f, "fuzz.safetensors", img, img_len, &list);
    if (s == ZF_OK) s = zf_st_build(f, parts[0], lens[0], &list);
    if (s == ZF_OK && parts[1]) s = zf_st_load_vocab(f, parts[1], lens[1], NULL, 0, parts[0], lens[0]);
    if (s == ZF_OK) s = zf_mf_finish(f, "safetensors");
    zf_st_list_free(&list);
    zf_model_file_close(f);
    return 0;
}
