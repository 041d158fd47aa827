/* zf run MODEL -p PROMPT: generates text, streamed to stdout as the tokens
 * come (their bytes as they are, so a UTF-8 character split over two tokens
 * joins on the terminal); stops at EOS or <|im_end|>. Load progress and the
 * prefill / decode speeds go to stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "commands.h"
#include "model/chat.h"
#include "model/sampler.h"
#include "model_load.h"
#include "zfast.h"

typedef struct run_opts {
    const char *prompt;
    long n, threads;
    int chat;
    zf_sampler_params sp;
    zf_tier tier;
    zf_device device;
    zf_model_opts mo; /* --dtype */
} run_opts;

static int parse_number(const char *usage, const char *name, const char *s, double lo, double hi, double *out) {
    char *end;
    *out = strtod(s, &end);
    if (end == s || *end || !(*out >= lo && *out <= hi))
        return zf_usage_error(usage, "%s '%s': expected a number in [%g, %g]", name, s, lo, hi);
    return 0;
}

static int parse(int argc, char **argv, const char *usage, const char **model, run_opts *ro) {
    const char *p = NULL, *n_s = NULL, *temp_s = NULL, *topk_s = NULL, *topp_s = NULL, *seed_s = NULL;
    const char *tier_s = NULL, *backend_s = NULL, *threads_s = NULL, *dtype_s = NULL;
    const zf_opt opts[] = {
        {"-p", "PROMPT", "the prompt (required)", &p, NULL},
        {"-n", "N", "tokens to generate at most (default 128)", &n_s, NULL},
        {"--chat", NULL, "wrap the prompt as a ChatML user turn (SmolLM2, Qwen)", NULL, &ro->chat},
        {"--temp", "T", "sampling temperature (default 0: greedy)", &temp_s, NULL},
        {"--top-k", "K", "sample among the K most likely tokens (default 0: all)", &topk_s, NULL},
        {"--top-p", "P", "sample within probability mass P (default 1)", &topp_s, NULL},
        {"--seed", "S", "sampling seed (default: from the clock, printed)", &seed_s, NULL},
        {"--tier", "stable|fast|edge", "kernel tier (default: ZF_TIER or stable)", &tier_s, NULL},
        {"--backend", "cpu|cuda", "where the model runs (default cpu)", &backend_s, NULL},
        {"--dtype", "f32|bf16|f16", "activation and KV-cache dtype (default f32)", &dtype_s, NULL},
        {"-t", "THREADS", "CPU threads (default: one per core)", &threads_s, NULL},
    };
    int n_pos, rc = zf_parse_args(usage, argc, argv, opts, (int)(sizeof opts / sizeof *opts), model, 1, &n_pos);
    if (rc) return rc == 1 ? -1 : rc;
    if (n_pos != 1) return zf_usage_error(usage, "expected one MODEL (a .gguf file or a safetensors directory)");
    if (!p) return zf_usage_error(usage, "-p PROMPT is required");
    ro->prompt = p;
    if (backend_s && zf_backend_parse(backend_s, &ro->device))
        return zf_usage_error(usage, "--backend '%s': expected cpu or cuda", backend_s);
    if (tier_s && zf_tier_parse(tier_s, &ro->tier) != ZF_OK) return zf_usage_error(usage, "%s", zf_last_error());
    if (dtype_s && zf_model_dtype_parse(dtype_s, &ro->mo))
        return zf_usage_error(usage, "--dtype '%s': expected f32, bf16 or f16", dtype_s);
    double v;
    ro->n = 128;
    if (n_s && (rc = parse_number(usage, "-n", n_s, 1, 1e6, &v))) return rc;
    if (n_s) ro->n = (long)v;
    if (threads_s && (rc = parse_number(usage, "-t", threads_s, 1, 256, &v))) return rc;
    ro->threads = threads_s ? (long)v : 0;
    ro->sp = (zf_sampler_params){.temperature = 0.0f, .top_k = 0, .top_p = 1.0f, .seed = (uint64_t)time(NULL)};
    if (temp_s && (rc = parse_number(usage, "--temp", temp_s, 0, 1e6, &v))) return rc;
    if (temp_s) ro->sp.temperature = (float)v;
    if (topk_s && (rc = parse_number(usage, "--top-k", topk_s, 0, 1e9, &v))) return rc;
    if (topk_s) ro->sp.top_k = (int32_t)v;
    if (topp_s && ((rc = parse_number(usage, "--top-p", topp_s, 0, 1, &v)) || !(v > 0)))
        return rc ? rc : zf_usage_error(usage, "--top-p '%s': expected a value in (0, 1]", topp_s);
    if (topp_s) ro->sp.top_p = (float)v;
    if (seed_s) {
        char *end;
        ro->sp.seed = strtoull(seed_s, &end, 10);
        if (*end || *seed_s == '-') return zf_usage_error(usage, "--seed '%s': expected an unsigned integer", seed_s);
    }
    return 0;
}

/* The prompt as token ids: a ChatML turn (with the template's default
 * system message, if any) or the raw text. */
static int encode(const zf_loaded_model *lm, const run_opts *ro, int32_t **ids, int64_t *n) {
    char *sys = NULL, *text = NULL;
    int64_t len = (int64_t)strlen(ro->prompt);
    unsigned flags = 0;
    if (ro->chat) {
        zf_vocab_data vd;
        if (zf_tokenizer_find(lm->tok, "<|im_start|>", 12) < 0) {
            fprintf(stderr, "zf: --chat: this model's vocabulary has no <|im_start|> token (not a ChatML model)\n");
            return 1;
        }
        if (zf_model_file_vocab(lm->file, &vd) == ZF_OK) zf_chat_template_default_system(vd.chat_template, &sys);
        zf_chat_message msg = {"user", ro->prompt};
        if (zf_chat_format(&msg, 1, sys, 1, &text, &len) != ZF_OK) {
            fprintf(stderr, "zf: %s\n", zf_last_error());
            free(sys);
            return 1;
        }
        flags = ZF_TOK_PARSE_SPECIAL;
    }
    zf_status st = zf_tokenizer_encode(lm->tok, text ? text : ro->prompt, len, flags, ids, n);
    free(sys);
    free(text);
    if (st != ZF_OK) {
        fprintf(stderr, "zf: cannot encode the prompt: %s\n", zf_last_error());
        return 1;
    }
    if (*n == 0) {
        fprintf(stderr, "zf: the prompt encodes to no tokens\n");
        return 1;
    }
    return 0;
}

static void emit(const zf_tokenizer *tok, int32_t id) {
    char buf[256];
    size_t len = 0;
    if (zf_tokenizer_decode_token(tok, id, 0, buf, sizeof buf, &len) == ZF_OK) {
        fwrite(buf, 1, len, stdout);
        fflush(stdout);
    }
}

int zf_cmd_run(int argc, char **argv) {
    static const char usage[] =
        "zf run MODEL -p PROMPT [-n N] [--chat] [--temp T --top-k K --top-p P --seed S] [--tier T] "
        "[--backend cpu|cuda] [--dtype f32|bf16|f16] [-t THREADS]";
    const char *model = NULL;
    run_opts ro = {.tier = zf_get_tier(), .mo = zf_model_opts_default()}; /* ZF_TIER was checked by main */
    int rc = parse(argc, argv, usage, &model, &ro);
    if (rc) return rc < 0 ? 0 : rc;
    if (ro.threads && zf_set_num_threads((int)ro.threads) != ZF_OK) return zf_usage_error(usage, "%s", zf_last_error());
    zf_set_tier(ro.tier);

    zf_loaded_model lm;
    zf_model_opts mo = ro.mo;
    mo.device = ro.device;
    if (zf_load_model(model, 1, &mo, &lm)) return 1;
    int status = 1;
    int32_t *ids = NULL;
    int64_t n_ids = 0, vocab = zf_model_cfg(lm.model)->vocab;
    float *logits = malloc((size_t)vocab * sizeof *logits);
    zf_sampler *sampler = NULL;
    if (!logits) {
        fprintf(stderr, "zf: out of memory\n");
        goto done;
    }
    if (zf_sampler_create(&ro.sp, vocab, &sampler) != ZF_OK) {
        fprintf(stderr, "zf: %s\n", zf_last_error());
        goto done;
    }
    if (encode(&lm, &ro, &ids, &n_ids)) goto done;
    if (n_ids >= zf_model_max_ctx(lm.model)) {
        fprintf(stderr, "zf: the prompt has %lld tokens; the context holds %lld\n", (long long)n_ids,
                (long long)zf_model_max_ctx(lm.model));
        goto done;
    }
    if (ro.sp.temperature > 0) fprintf(stderr, "sampling: temperature %g, top-k %d, top-p %g, seed %llu\n",
                                       (double)ro.sp.temperature, (int)ro.sp.top_k, (double)ro.sp.top_p,
                                       (unsigned long long)ro.sp.seed);
    int32_t eos = zf_tokenizer_eos(lm.tok), im_end = zf_tokenizer_find(lm.tok, "<|im_end|>", 10);
    double t0 = zf_now();
    if (zf_model_forward(lm.model, ids, n_ids, 0, logits) != ZF_OK) {
        fprintf(stderr, "zf: %s\n", zf_last_error());
        goto done;
    }
    double t1 = zf_now();
    long generated = 0, steps = 0;
    const char *stop = "the -n limit";
    for (;;) {
        int32_t tok;
        if (zf_sampler_sample(sampler, logits, &tok) != ZF_OK) {
            fprintf(stderr, "\nzf: %s\n", zf_last_error());
            goto done;
        }
        if (tok == eos || tok == im_end) {
            stop = "end of text";
            break;
        }
        emit(lm.tok, tok);
        if (++generated == ro.n) break;
        if (zf_model_pos(lm.model) >= zf_model_max_ctx(lm.model)) {
            stop = "the end of the context";
            break;
        }
        if (zf_model_forward(lm.model, &tok, 1, 0, logits) != ZF_OK) {
            fprintf(stderr, "\nzf: %s\n", zf_last_error());
            goto done;
        }
        steps++;
    }
    double t2 = zf_now();
    char where[32];
    if (ro.device == ZF_DEVICE_CUDA) snprintf(where, sizeof where, "on the GPU");
    else snprintf(where, sizeof where, "%d threads", zf_get_num_threads());
    printf("\n");
    fflush(stdout);
    fprintf(stderr, "\nprefill %lld tokens in %.3f s (%.1f tok/s); decode %ld tokens in %.3f s (%.1f tok/s); "
            "stopped at %s; tier %s, %s\n", (long long)n_ids, t1 - t0, (double)n_ids / (t1 - t0), steps, t2 - t1,
            steps > 0 ? (double)steps / (t2 - t1) : 0.0, stop, zf_tier_name(ro.tier), where);
    status = 0;
done:
    zf_sampler_destroy(sampler);
    free(logits);
    free(ids);
    zf_unload_model(&lm);
    return status;
}
