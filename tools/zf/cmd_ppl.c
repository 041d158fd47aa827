/* zf ppl MODEL TEXTFILE [-c CTX]: perplexity of a text. The tokens are cut
 * into windows of CTX; each window runs from an empty cache and scores its
 * tokens 2..CTX (the first has no context). Log-softmax in double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "model_load.h"
#include "ppl_score.h"
#include "zfast.h"

static char *read_file(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (*len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)*len + 1)) && fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

int zf_cmd_ppl(int argc, char **argv) {
    static const char usage[] = "zf ppl MODEL TEXTFILE [-c CTX] [-t THREADS] [--backend cpu|cuda] [--dtype f32|bf16|f16]";
    const char *ctx_s = NULL, *threads_s = NULL, *backend_s = NULL, *dtype_s = NULL;
    const zf_opt opts[] = {
        {"-c", "CTX", "tokens per window (default 512)", &ctx_s, NULL},
        {"-t", "THREADS", "CPU threads (default: one per core)", &threads_s, NULL},
        {"--backend", "cpu|cuda", "where the model runs (default cpu)", &backend_s, NULL},
        {"--dtype", "f32|bf16|f16", "activation and KV-cache dtype (default f32)", &dtype_s, NULL},
    };
    const char *pos[2];
    int n_pos, rc = zf_parse_args(usage, argc, argv, opts, (int)(sizeof opts / sizeof *opts), pos, 2, &n_pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (n_pos != 2) return zf_usage_error(usage, "expected MODEL and TEXTFILE");
    long ctx = 512, threads = 0;
    if ((rc = zf_arg_long(usage, "-c", ctx_s, 2, 1L << 20, &ctx)) ||
        (rc = zf_arg_long(usage, "-t", threads_s, 1, 256, &threads)))
        return rc;
    if (threads && zf_set_num_threads((int)threads) != ZF_OK) return zf_usage_error(usage, "%s", zf_last_error());
    zf_device device = ZF_DEVICE_CPU;
    if (backend_s && zf_backend_parse(backend_s, &device))
        return zf_usage_error(usage, "--backend '%s': expected cpu or cuda", backend_s);
    zf_model_opts mo = zf_model_opts_default();
    if (dtype_s && zf_model_dtype_parse(dtype_s, &mo))
        return zf_usage_error(usage, "--dtype '%s': expected f32, bf16 or f16", dtype_s);
    long len = 0;
    char *text = read_file(pos[1], &len);
    if (!text) {
        fprintf(stderr, "zf: cannot read %s\n", pos[1]);
        return 2;
    }
    zf_loaded_model lm;
    mo.max_ctx = ctx;
    mo.device = device;
    if (zf_load_model(pos[0], 1, &mo, &lm)) {
        free(text);
        return 1;
    }
    int status = 1;
    int32_t *ids = NULL;
    int64_t n = 0, vocab = zf_model_cfg(lm.model)->vocab;
    float *logits = NULL;
    if (zf_model_max_ctx(lm.model) < ctx) {
        fprintf(stderr, "zf: -c %ld exceeds what the model holds (%lld)\n", ctx, (long long)zf_model_max_ctx(lm.model));
        goto done;
    }
    if (zf_tokenizer_encode(lm.tok, text, len, 0, &ids, &n) != ZF_OK) {
        fprintf(stderr, "zf: %s\n", zf_last_error());
        goto done;
    }
    if (n < 2) {
        fprintf(stderr, "zf: %s has fewer than 2 tokens\n", pos[1]);
        goto done;
    }
    logits = malloc((size_t)ctx * (size_t)vocab * sizeof *logits);
    if (!logits) {
        fprintf(stderr, "zf: out of memory for %ld x %lld logits\n", ctx, (long long)vocab);
        goto done;
    }
    double total = 0.0, t0 = zf_now();
    int64_t scored = 0;
    for (int64_t start = 0; start + 1 < n; start += ctx) {
        int64_t w = n - start < ctx ? n - start : ctx;
        zf_model_reset(lm.model);
        if (zf_model_forward(lm.model, ids + start, w, 1, logits) != ZF_OK) {
            fprintf(stderr, "zf: %s\n", zf_last_error());
            goto done;
        }
        zf_ppl_score_window(logits, vocab, ids + start, w, &total);
        scored += w - 1;
        fprintf(stderr, "\r%lld / %lld tokens, ppl so far %.4f", (long long)(start + w), (long long)n,
                exp(total / (double)scored));
    }
    fputc('\n', stderr);
    printf("perplexity %.4f over %lld tokens (windows of %ld, %lld tokens scored) in %.1f s\n",
           exp(total / (double)scored), (long long)n, ctx, (long long)scored, zf_now() - t0);
    status = 0;
done:
    free(logits);
    free(ids);
    free(text);
    zf_unload_model(&lm);
    return status;
}
