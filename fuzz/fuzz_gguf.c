/* libFuzzer entry: any bytes as a GGUF image, through the whole loader
 * (parse, config, tokenizer, conversion). Must never crash or leak. */
#include <stddef.h>
#include <stdint.h>

#include "model/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    zf_model_file *f = NULL;
    if (zf_model_file_open_gguf_memory(data, size, NULL, NULL, &f) == ZF_OK) {
        zf_vocab_data v;
        char hex[65];
        (void)zf_model_file_vocab(f, &v);
        (void)zf_model_file_sha256(f, hex);
        zf_model_file_close(f);
    }
    return 0;
}
