/* The committed extract of SmolLM2's GGUF vocabulary
 * (tests/data/tokenizer/smollm2_vocab.txt; format: scripts/tokenizer_golden.py)
 * as a zf_vocab_data. Shared by tests/test_tokenizer.c and the tokenizer
 * fuzzer (fuzz/fuzz_tokenizer.c), so it reads the file itself. */
#ifndef ZF_TESTS_VOCAB_FILE_H
#define ZF_TESTS_VOCAB_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_file.h"

/* Strings of v point into text. */
typedef struct vocab_file {
    char *text;
    char **lines;
    const char **tokens;
    int32_t *types;
    zf_vocab_data v;
} vocab_file;

static inline void free_vocab(vocab_file *vf) {
    free(vf->text);
    free(vf->lines);
    free(vf->tokens);
    free(vf->types);
    memset(vf, 0, sizeof *vf);
}

/* Splits s in place into lines; returns their count. */
static inline int64_t vocab_split_lines(char *s, char ***lines) {
    int64_t n = 0, cap = 1024;
    *lines = malloc((size_t)cap * sizeof **lines);
    for (char *p = s; *p;) {
        if (n == cap) *lines = realloc(*lines, (size_t)(cap *= 2) * sizeof **lines);
        (*lines)[n++] = p;
        char *e = strchr(p, '\n');
        if (!e) break;
        *e = '\0';
        p = e + 1;
    }
    return n;
}

/* 1 when path held a whole extract (vf filled), else 0 (vf empty). */
static inline int load_vocab(const char *path, vocab_file *vf) {
    memset(vf, 0, sizeof *vf);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    vf->text = size > 0 ? malloc((size_t)size + 1) : NULL;
    int ok = vf->text && fread(vf->text, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    if (!ok) return free_vocab(vf), 0;
    vf->text[size] = '\0';
    int64_t nl = vocab_split_lines(vf->text, &vf->lines);
    if (nl < 7 || strcmp(vf->lines[0], "zf-vocab 1") != 0) return free_vocab(vf), 0;
    int64_t n = atoll(vf->lines[5] + strlen("tokens "));
    if (n < 1 || nl < 7 + n) return free_vocab(vf), 0;
    int64_t nm = atoll(vf->lines[6 + n] + strlen("merges "));
    if (nm < 0 || nl < 7 + n + nm) return free_vocab(vf), 0;
    vf->tokens = malloc((size_t)n * sizeof *vf->tokens);
    vf->types = malloc((size_t)n * sizeof *vf->types);
    for (int64_t i = 0; i < n; i++) {
        char *sp = strchr(vf->lines[6 + i], ' ');
        if (!sp) return free_vocab(vf), 0;
        vf->types[i] = atoi(vf->lines[6 + i]);
        vf->tokens[i] = sp + 1;
    }
    vf->v = (zf_vocab_data){.model = vf->lines[1] + 6, .pre = vf->lines[2] + 4, .n_tokens = n,
                            .tokens = vf->tokens, .token_type = vf->types, .n_merges = nm,
                            .merges = (const char *const *)vf->lines + 7 + n,
                            .bos_id = atoi(vf->lines[3] + 4), .eos_id = atoi(vf->lines[4] + 4)};
    return 1;
}

#endif
