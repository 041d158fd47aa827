/* libFuzzer entry: any bytes as text through the byte-level BPE tokenizer
 * built from SmolLM2's vocabulary (the committed extract, ZF_FUZZ_VOCAB),
 * under each pre-tokenizer regex family. The first byte picks the family
 * and whether control-token texts are parsed; the rest is the text. Must
 * never crash or leak, and decoding the ids must give back the text's bytes
 * (less the bytes the vocabulary has no token for, which are dropped). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer.h"
#include "vocab_file.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const PRES[] = {"smollm", "gpt2", "qwen2", "llama-bpe"};
enum { N_PRES = 4 };
static zf_tokenizer *g_tok[N_PRES];
static unsigned char g_kept[256]; /* bytes with a token of their own */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    vocab_file vf;
    if (!load_vocab(ZF_FUZZ_VOCAB, &vf)) abort(); /* the harness is broken, not the input */
    for (int p = 0; p < N_PRES; p++) {
        vf.v.pre = PRES[p];
        if (zf_tokenizer_create(&vf.v, &g_tok[p]) != ZF_OK) abort();
    }
    free_vocab(&vf);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        g_kept[b] = zf_tokenizer_find(g_tok[0], &c, 1) >= 0;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    zf_tokenizer *tok = g_tok[data[0] % N_PRES];
    const unsigned flags = data[0] & 0x80 ? ZF_TOK_PARSE_SPECIAL : 0;
    const char *text = (const char *)data + 1;
    const size_t len = size - 1;
    int32_t *ids = NULL;
    int64_t n = 0;
    if (zf_tokenizer_encode(tok, text, (int64_t)len, flags, &ids, &n) != ZF_OK) abort(); /* any bytes encode */
    char *got = malloc(len + 1);
    size_t ng = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t k = 0;
        if (zf_tokenizer_decode_token(tok, ids[i], ZF_TOK_DECODE_SPECIAL, got + ng, len + 1 - ng, &k) != ZF_OK)
            abort(); /* more bytes out than went in */
        ng += k;
    }
    size_t ne = 0;
    for (size_t i = 0; i < len; i++)
        if (g_kept[(unsigned char)text[i]]) {
            if (ne >= ng || got[ne] != text[i]) abort(); /* decode(encode(text)) lost or changed a byte */
            ne++;
        }
    if (ne != ng) abort();
    free(got);
    free(ids);
    return 0;
}
