/* zf validate MODEL: the stock (unfused) path against a tier, greedy, on
 * several prompts, every token compared; timings of both; a capsule.
 * --backend cuda runs both on the GPU; --compare cpu,cuda runs the tier on
 * the CPU and on the GPU instead and compares those the same way.
 * Exit 0 only when every token of every run is identical. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "args.h"
#include "capsule.h"
#include "commands.h"
#include "model/chat.h"
#include "model/sampler.h"
#include "model_load.h"
#include "validate_compare.h"
#include "zfast.h"

#define MAX_PROMPTS 64

static const char *const k_builtin_prompts[] = {
    "What is the capital of France?",
    "Write a Python function that returns the n-th Fibonacci number.",
    "Explain in two sentences why the sky is blue.",
    "List three prime numbers greater than 100 and say how you know they are prime.",
};

typedef struct gen {
    int32_t *tokens;
    float *margins;   /* top-1 minus top-2 logit at each step */
    int64_t count;    /* tokens generated */
    int64_t prompt_len;
    double prefill_s, decode_s;
    int64_t decode_steps; /* forward calls after the prefill */
} gen;

static int generate(zf_model *m, const int32_t *prompt, int64_t plen, int64_t n, int32_t stop1, int32_t stop2,
                    float *logits, gen *g) {
    int64_t vocab = zf_model_cfg(m)->vocab;
    zf_model_reset(m);
    g->count = g->decode_steps = 0;
    g->prompt_len = plen;
    double t0 = zf_now();
    if (zf_model_forward(m, prompt, plen, 0, logits) != ZF_OK) return -1;
    double t1 = zf_now();
    g->prefill_s = t1 - t0;
    for (int64_t i = 0; i < n; i++) {
        int32_t tok = (int32_t)zf_argmax(logits, vocab);
        g->tokens[i] = tok;
        g->margins[i] = zf_top2_margin(logits, vocab, tok);
        g->count = i + 1;
        if (tok == stop1 || tok == stop2 || i + 1 == n) break;
        if (zf_model_pos(m) >= zf_model_max_ctx(m)) break;
        if (zf_model_forward(m, &tok, 1, 0, logits) != ZF_OK) return -1;
        g->decode_steps++;
    }
    g->decode_s = zf_now() - t1;
    return 0;
}

/* One side of the comparison: a model and how its ops are picked. */
typedef struct side {
    zf_model *model;
    zf_tier tier;
    zf_fidelity fidelity;
    zf_device device;
    char name[32];
} side;

/* "--compare cpu,cuda" (or "cuda,cpu"): the two backends, first the reference. */
static int parse_compare(const char *s, zf_device dev[2]) {
    const char *comma = strchr(s, ',');
    char a[16];
    if (!comma || (size_t)(comma - s) >= sizeof a) return -1;
    memcpy(a, s, (size_t)(comma - s));
    a[comma - s] = '\0';
    if (zf_backend_parse(a, &dev[0]) || zf_backend_parse(comma + 1, &dev[1]) || dev[0] == dev[1]) return -1;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct stat3 { double median, min, max; } stat3;

static stat3 stats(double *v, int n) {
    stat3 s = {NAN, NAN, NAN};
    if (n == 0) return s;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    s.min = v[0];
    s.max = v[n - 1];
    s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return s;
}

static int load_prompts(const char *path, char **out, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "zf: cannot read prompts file %s\n", path);
        return 2;
    }
    char line[8192];
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (len == 0) continue;
        if (*n == MAX_PROMPTS) {
            fprintf(stderr, "zf: %s has more than %d prompts\n", path, MAX_PROMPTS);
            fclose(f);
            return 2;
        }
        out[(*n)++] = strdup(line);
    }
    fclose(f);
    if (*n == 0) {
        fprintf(stderr, "zf: %s holds no prompt (one per line)\n", path);
        return 2;
    }
    return 0;
}

/* Prompt text -> ids, as a chat turn when chat is set. */
static int encode_prompt(zf_tokenizer *tok, const char *text, int chat, int32_t **ids, int64_t *n) {
    char *formatted = NULL;
    int64_t len = (int64_t)strlen(text);
    unsigned flags = 0;
    if (chat) {
        zf_chat_message msg = {"user", text};
        if (zf_chat_format(&msg, 1, NULL, 1, &formatted, &len) != ZF_OK) return -1;
        text = formatted;
        flags = ZF_TOK_PARSE_SPECIAL;
    }
    zf_status s = zf_tokenizer_encode(tok, text, len, flags, ids, n);
    free(formatted);
    return s == ZF_OK && *n > 0 ? 0 : -1;
}

static cJSON *ids_json(const int32_t *ids, int64_t n) {
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
    return a;
}

static void weight_desc(const zf_model_file *f, const char *name, char *buf, size_t size) {
    zf_weight w;
    if (zf_model_file_weight(f, name, &w) != ZF_OK) {
        snprintf(buf, size, "absent");
    } else if (w.kind == ZF_WEIGHT_AFFINE) {
        snprintf(buf, size, "affine %d-bit group %d, %s scales", w.q.bits, w.q.group_size,
                 zf_dtype_name(w.q.scale_dtype));
    } else {
        snprintf(buf, size, "%s", zf_dtype_name(w.t.dtype));
    }
}

int zf_cmd_validate(int argc, char **argv) {
    static const char usage[] =
        "zf validate MODEL [--tier stable|fast|edge | --fidelity exact|fast|approx] [--backend cpu|cuda | --compare "
        "cpu,cuda] [--prompts FILE] [-n TOKENS] [--runs R] [-t THREADS] [--dtype f32|bf16|f16] [--no-chat] [-o CAPSULE]";
    const char *tier_s = NULL, *prompts_s = NULL, *n_s = NULL, *runs_s = NULL, *threads_s = NULL, *out_s = NULL,
               *dtype_s = NULL, *backend_s = NULL, *compare_s = NULL, *fid_s = NULL;
    int no_chat = 0;
    const zf_opt opts[] = {
        {"--tier", "stable|fast|edge", "the tier checked against the stock path (default stable)", &tier_s, NULL},
        {"--fidelity", "exact|fast|approx",
         "instead of a tier: the variants of that fidelity, whatever their tier (how a fast kernel earns the "
         "evidence that lets it into the fast tier)",
         &fid_s, NULL},
        {"--backend", "cpu|cuda", "where both paths run (default cpu)", &backend_s, NULL},
        {"--compare", "cpu,cuda", "instead of stock vs tier: the tier on both backends, every token compared",
         &compare_s, NULL},
        {"--prompts", "FILE", "prompts, one per line (default: 4 built-in)", &prompts_s, NULL},
        {"-n", "TOKENS", "tokens to generate per prompt (default 200)", &n_s, NULL},
        {"--runs", "R", "interleaved stock/tier repetitions (default 3)", &runs_s, NULL},
        {"-t", "THREADS", "CPU threads (default: one per core)", &threads_s, NULL},
        {"--dtype", "f32|bf16|f16", "activation and KV-cache dtype (default f32)", &dtype_s, NULL},
        {"--no-chat", NULL, "feed prompts as raw text even when the model has a chat format", NULL, &no_chat},
        {"-o", "CAPSULE", "capsule path (default capsules/validate-<time>.json)", &out_s, NULL},
    };
    const char *pos[1];
    int n_pos, rc = zf_parse_args(usage, argc, argv, opts, (int)(sizeof opts / sizeof *opts), pos, 1, &n_pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (n_pos != 1) return zf_usage_error(usage, "expected one MODEL (a .gguf file or a safetensors directory)");
    zf_tier tier = ZF_TIER_STABLE;
    if (tier_s && zf_tier_parse(tier_s, &tier) != ZF_OK) return zf_usage_error(usage, "%s", zf_last_error());
    zf_fidelity fid = ZF_FIDELITY_AUTO; /* AUTO: the tier's choice */
    if (fid_s) {
        static const zf_fidelity checkable[3] = {ZF_FIDELITY_EXACT, ZF_FIDELITY_FAST, ZF_FIDELITY_APPROX};
        for (int i = 0; i < 3 && fid == ZF_FIDELITY_AUTO; i++)
            if (strcmp(fid_s, zf_fidelity_name(checkable[i])) == 0) fid = checkable[i];
        if (fid == ZF_FIDELITY_AUTO)
            return zf_usage_error(usage, "--fidelity '%s': expected exact, fast or approx", fid_s);
        if (tier_s) return zf_usage_error(usage, "--fidelity replaces --tier; give one of them");
    }
    zf_device devs[2] = {ZF_DEVICE_CPU, ZF_DEVICE_CPU};
    int compare = compare_s != NULL;
    if (compare && backend_s)
        return zf_usage_error(usage, "--compare names both backends; leave out --backend");
    if (compare && parse_compare(compare_s, devs))
        return zf_usage_error(usage, "--compare '%s': expected two different backends, cpu,cuda", compare_s);
    if (backend_s && zf_backend_parse(backend_s, &devs[0]))
        return zf_usage_error(usage, "--backend '%s': expected cpu or cuda", backend_s);
    if (!compare) devs[1] = devs[0];
    long n_tokens = 200, runs = 3, threads = 0;
    if ((rc = zf_arg_long(usage, "-n", n_s, 1, 100000, &n_tokens)) ||
        (rc = zf_arg_long(usage, "--runs", runs_s, 1, 100, &runs)) ||
        (rc = zf_arg_long(usage, "-t", threads_s, 1, 256, &threads)))
        return rc;
    if (threads && zf_set_num_threads((int)threads) != ZF_OK) return zf_usage_error(usage, "%s", zf_last_error());

    char *prompts[MAX_PROMPTS];
    int n_prompts = 0;
    if (prompts_s) {
        if ((rc = load_prompts(prompts_s, prompts, &n_prompts))) return rc;
    } else {
        for (size_t i = 0; i < sizeof k_builtin_prompts / sizeof *k_builtin_prompts; i++)
            prompts[n_prompts++] = strdup(k_builtin_prompts[i]);
    }

    zf_loaded_model lm;
    zf_model_opts mo = zf_model_opts_default();
    if (dtype_s && zf_model_dtype_parse(dtype_s, &mo)) {
        for (int i = 0; i < n_prompts; i++) free(prompts[i]);
        return zf_usage_error(usage, "--dtype '%s': expected f32, bf16 or f16", dtype_s);
    }
    mo.device = devs[0];
    if (zf_load_model(pos[0], 1, &mo, &lm)) {
        for (int i = 0; i < n_prompts; i++) free(prompts[i]);
        return 1;
    }
    /* side 0 is the reference: the stock path, or the first backend of --compare */
    side sides[2] = {{lm.model, compare ? tier : ZF_TIER_STABLE, compare ? ZF_FIDELITY_AUTO : ZF_FIDELITY_STOCK,
                      devs[0], ""},
                     {lm.model, tier, fid, devs[1], ""}};
    if (compare) sides[0].fidelity = fid;
    for (int k = 0; k < 2; k++)
        if (compare) snprintf(sides[k].name, sizeof sides[k].name, "%s", zf_backend_name(devs[k]));
        else snprintf(sides[k].name, sizeof sides[k].name, "%s", !k ? "stock" : fid_s ? fid_s : zf_tier_name(tier));
    if (compare) {
        zf_model_opts mo2 = mo;
        mo2.device = devs[1];
        if (zf_load_another_model(&lm, &mo2, &sides[1].model)) {
            for (int i = 0; i < n_prompts; i++) free(prompts[i]);
            zf_unload_model(&lm);
            return 1;
        }
    }
    int chat = !no_chat && zf_tokenizer_find(lm.tok, "<|im_start|>", 12) >= 0;
    int32_t eos = zf_tokenizer_eos(lm.tok), im_end = zf_tokenizer_find(lm.tok, "<|im_end|>", 10);
    int64_t vocab = zf_model_cfg(lm.model)->vocab;

    /* results[r][p][side]: side 0 = the reference (stock, or the first backend), 1 = the other */
    int n_results = (int)runs * n_prompts * 2;
    gen *res = calloc((size_t)n_results, sizeof *res);
    zf_token_run *seqs = malloc((size_t)n_results * sizeof *seqs);
    int32_t **prompt_ids = calloc((size_t)n_prompts, sizeof *prompt_ids);
    int64_t *prompt_len = calloc((size_t)n_prompts, sizeof *prompt_len);
    float *logits = malloc((size_t)vocab * sizeof *logits);
    int status = 1;
    if (!res || !seqs || !prompt_ids || !prompt_len || !logits) {
        fprintf(stderr, "zf: out of memory\n");
        goto done;
    }
    for (int p = 0; p < n_prompts; p++)
        if (encode_prompt(lm.tok, prompts[p], chat, &prompt_ids[p], &prompt_len[p])) {
            fprintf(stderr, "zf: cannot encode prompt %d: %s\n", p + 1, zf_last_error());
            goto done;
        }
    for (int i = 0; i < n_results; i++) {
        res[i].tokens = malloc((size_t)n_tokens * sizeof(int32_t));
        res[i].margins = malloc((size_t)n_tokens * sizeof(float));
        if (!res[i].tokens || !res[i].margins) {
            fprintf(stderr, "zf: out of memory\n");
            goto done;
        }
    }

    fprintf(stderr, "zf validate: %s vs %s, %d prompts x %ld runs, up to %ld tokens each%s\n", sides[0].name,
            sides[1].name, n_prompts, runs, n_tokens, chat ? " (chat format)" : "");
    for (int r = 0; r < runs; r++)
        for (int p = 0; p < n_prompts; p++)
            for (int k = 0; k < 2; k++) {
                /* alternate which side goes first, so drift favours neither */
                int side = (r + p + k) % 2;
                gen *g = &res[(r * n_prompts + p) * 2 + side];
                zf_set_tier(sides[side].tier);
                zf_set_default_fidelity(sides[side].fidelity);
                if (generate(sides[side].model, prompt_ids[p], prompt_len[p], n_tokens, eos, im_end, logits, g)) {
                    fprintf(stderr, "zf: generation failed on %s: %s\n", sides[side].name, zf_last_error());
                    goto done;
                }
                fprintf(stderr, "\rrun %d/%ld prompt %d/%d %s: %lld tokens    ", r + 1, runs, p + 1, n_prompts,
                        sides[side].name, (long long)g->count);
            }
    fputc('\n', stderr);
    zf_set_default_fidelity(ZF_FIDELITY_AUTO);
    zf_set_tier(tier);

    /* compare: every run of side 1 against the first run of side 0, and side 0's runs among themselves */
    for (int i = 0; i < n_results; i++) seqs[i] = (zf_token_run){res[i].tokens, res[i].count};
    zf_runs_cmp vc = zf_compare_runs(seqs, (int)runs, n_prompts);
    int64_t compared = vc.compared, mismatched_runs = vc.mismatched, first_pos = vc.first_pos;
    int first_p = vc.first_prompt, first_r = vc.first_run, first_side = vc.first_side;
    int pass = mismatched_runs == 0;

    double *v = malloc(sizeof(double) * (size_t)(runs * n_prompts));
    stat3 prefill[2], decode[2];
    for (int side = 0; side < 2; side++) {
        int k = 0;
        for (int i = 0; i < runs * n_prompts; i++) {
            const gen *g = &res[i * 2 + side];
            v[k++] = (double)g->prompt_len / g->prefill_s;
        }
        prefill[side] = stats(v, k);
        k = 0;
        for (int i = 0; i < runs * n_prompts; i++) {
            const gen *g = &res[i * 2 + side];
            if (g->decode_steps > 0) v[k++] = (double)g->decode_steps / g->decode_s;
        }
        decode[side] = stats(v, k);
    }
    free(v);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak_mib = (double)ru.ru_maxrss / 1024.0;

    char sha[65] = "", wq[96], wffn[96];
    zf_model_file_sha256(lm.file, sha);
    const zf_model_config *cfg = zf_model_cfg(lm.model);
    weight_desc(lm.file, "blk.0.attn_q.weight", wq, sizeof wq);
    weight_desc(lm.file, cfg->is_moe ? "blk.0.ffn_gate_exps.weight" : "blk.0.ffn_gate.weight", wffn, sizeof wffn);

    printf("model     %s (%s, %lld layers, sha256 %.16s...)\n", pos[0], cfg->arch, (long long)cfg->layers, sha);
    printf("weights   attention %s; ffn %s; activations %s\n", wq, wffn, zf_dtype_name(mo.act_dtype));
    printf("compared  %s vs %s%s%s: %d prompts x %ld runs, %lld token pairs\n", sides[0].name, sides[1].name,
           compare ? ", tier " : "", compare ? zf_tier_name(tier) : "", n_prompts, runs, (long long)compared);
    if (pass) {
        printf("verdict   PASS: every token identical\n");
    } else {
        const gen *a = &res[first_p * 2], *b = &res[(first_r * n_prompts + first_p) * 2 + first_side];
        printf("verdict   FAIL: %lld of %ld runs differ; first at prompt %d, run %d, token %lld: %s %d vs %s %d",
               (long long)mismatched_runs, runs * n_prompts * 2 - 1, first_p + 1, first_r + 1, (long long)first_pos,
               sides[0].name, first_pos < a->count ? a->tokens[first_pos] : -1, sides[first_side].name,
               first_pos < b->count ? b->tokens[first_pos] : -1);
        if (first_pos < a->count && first_pos < b->count)
            printf(" (top-2 logit margin there: %s %.4g, %s %.4g)", sides[0].name, a->margins[first_pos],
                   sides[first_side].name, b->margins[first_pos]);
        printf("\n");
    }
    char head0[40];
    snprintf(head0, sizeof head0, "%s [min..max]", sides[0].name);
    printf("%-16s %22s %22s %8s\n", "tok/s median", head0, sides[1].name, "speedup");
    printf("%-16s %8.1f [%5.1f..%5.1f] %8.1f [%5.1f..%5.1f] %7.3fx\n", "prefill", prefill[0].median, prefill[0].min,
           prefill[0].max, prefill[1].median, prefill[1].min, prefill[1].max, prefill[1].median / prefill[0].median);
    printf("%-16s %8.1f [%5.1f..%5.1f] %8.1f [%5.1f..%5.1f] %7.3fx\n", "decode", decode[0].median, decode[0].min,
           decode[0].max, decode[1].median, decode[1].min, decode[1].max, decode[1].median / decode[0].median);
    printf("peak memory %.0f MiB, load %.2f s\n", peak_mib, lm.load_seconds);

    /* capsule */
    cJSON *cap = zf_capsule_new("validate");
    if (cap) {
        cJSON *model = cJSON_AddObjectToObject(cap, "model");
        cJSON_AddStringToObject(model, "path", pos[0]);
        cJSON_AddStringToObject(model, "sha256", sha);
        cJSON_AddStringToObject(model, "arch", cfg->arch);
        cJSON_AddNumberToObject(model, "layers", (double)cfg->layers);
        cJSON_AddStringToObject(model, "attention_weights", wq);
        cJSON_AddStringToObject(model, "ffn_weights", wffn);
        cJSON_AddNumberToObject(model, "weight_bytes_per_token", (double)zf_model_weight_bytes_per_token(lm.model));
        cJSON_AddStringToObject(cap, "checked_tier", zf_tier_name(tier));
        if (fid_s) cJSON_AddStringToObject(cap, "checked_fidelity", fid_s);
        char backends[16];
        snprintf(backends, sizeof backends, compare ? "%s,%s" : "%s", zf_backend_name(devs[0]), zf_backend_name(devs[1]));
        cJSON_AddStringToObject(cap, "backend", backends);
        cJSON *cmp = cJSON_AddArrayToObject(cap, "compared");
        for (int k = 0; k < 2; k++) {
            cJSON_AddItemToArray(cmp, cJSON_CreateString(sides[k].name));
            for (int op = 0; op < ZF_OP_COUNT; op++)
                zf_capsule_add_kernel(cap, (zf_op)op, sides[k].device, sides[k].fidelity);
        }
        cJSON *settings = cJSON_AddObjectToObject(cap, "settings");
        cJSON_AddNumberToObject(settings, "max_tokens", (double)n_tokens);
        cJSON_AddNumberToObject(settings, "runs", (double)runs);
        cJSON_AddNumberToObject(settings, "threads", zf_get_num_threads());
        cJSON_AddBoolToObject(settings, "chat", chat);
        cJSON_AddStringToObject(settings, "activation_dtype", zf_dtype_name(mo.act_dtype));
        cJSON_AddStringToObject(settings, "decoding", "greedy");
        for (int k = 0; k < 2; k++)
            if (sides[k].device == ZF_DEVICE_CUDA) {
                cJSON_AddBoolToObject(settings, "cuda_graphs", zf_model_decode_graphed(sides[k].model));
                break;
            }
        cJSON *pa = cJSON_AddArrayToObject(cap, "prompts");
        for (int p = 0; p < n_prompts; p++) {
            cJSON *po = cJSON_CreateObject();
            cJSON_AddStringToObject(po, "text", prompts[p]);
            cJSON_AddItemToObject(po, "prompt_ids", ids_json(prompt_ids[p], prompt_len[p]));
            char key[48];
            snprintf(key, sizeof key, "%s_tokens", sides[0].name);
            cJSON_AddItemToObject(po, key, ids_json(res[p * 2].tokens, res[p * 2].count));
            cJSON_AddItemToArray(pa, po);
        }
        cJSON *runs_a = cJSON_AddArrayToObject(cap, "runs");
        for (int r = 0; r < runs; r++)
            for (int p = 0; p < n_prompts; p++)
                for (int side = 0; side < 2; side++) {
                    const gen *g = &res[(r * n_prompts + p) * 2 + side];
                    cJSON *ro = cJSON_CreateObject();
                    cJSON_AddNumberToObject(ro, "run", r);
                    cJSON_AddNumberToObject(ro, "prompt", p);
                    cJSON_AddStringToObject(ro, "path", sides[side].name);
                    cJSON_AddNumberToObject(ro, "prompt_tokens", (double)g->prompt_len);
                    cJSON_AddNumberToObject(ro, "generated", (double)g->count);
                    cJSON_AddNumberToObject(ro, "prefill_s", g->prefill_s);
                    cJSON_AddNumberToObject(ro, "decode_s", g->decode_s);
                    cJSON_AddNumberToObject(ro, "decode_steps", (double)g->decode_steps);
                    if (side) cJSON_AddItemToObject(ro, "tokens", ids_json(g->tokens, g->count));
                    cJSON_AddItemToArray(runs_a, ro);
                }
        cJSON *med = cJSON_AddObjectToObject(cap, "medians");
        for (int side = 0; side < 2; side++) {
            cJSON *m = cJSON_AddObjectToObject(med, sides[side].name);
            cJSON_AddNumberToObject(m, "prefill_tok_s", prefill[side].median);
            cJSON_AddNumberToObject(m, "prefill_tok_s_min", prefill[side].min);
            cJSON_AddNumberToObject(m, "prefill_tok_s_max", prefill[side].max);
            cJSON_AddNumberToObject(m, "decode_tok_s", decode[side].median);
            cJSON_AddNumberToObject(m, "decode_tok_s_min", decode[side].min);
            cJSON_AddNumberToObject(m, "decode_tok_s_max", decode[side].max);
        }
        cJSON_AddNumberToObject(cap, "decode_speedup", decode[1].median / decode[0].median);
        cJSON_AddNumberToObject(cap, "peak_memory_mib", peak_mib);
        cJSON *verdict = cJSON_AddObjectToObject(cap, "verdict");
        cJSON_AddStringToObject(verdict, "result", pass ? "pass" : "fail");
        cJSON_AddNumberToObject(verdict, "token_pairs_compared", (double)compared);
        cJSON_AddNumberToObject(verdict, "mismatched_runs", (double)mismatched_runs);
        if (!pass) {
            const gen *a = &res[first_p * 2];
            cJSON *fd = cJSON_AddObjectToObject(verdict, "first_divergence");
            cJSON_AddNumberToObject(fd, "prompt", first_p);
            cJSON_AddNumberToObject(fd, "run", first_r);
            cJSON_AddNumberToObject(fd, "position", (double)first_pos);
            char key[48];
            snprintf(key, sizeof key, "%s_top2_margin", sides[0].name);
            if (first_pos < a->count) cJSON_AddNumberToObject(fd, key, a->margins[first_pos]);
        }
        char path[512], iso[32], compact[32], err[256];
        zf_capsule_timestamps(iso, compact);
        if (!out_s)
            snprintf(path, sizeof path, "capsules/validate-%s%s-%s.json", compare ? "compare-" : "",
                     fid_s ? fid_s : zf_tier_name(tier), compact);
        else snprintf(path, sizeof path, "%s", out_s);
        if (zf_capsule_seal(cap) != 0)
            fprintf(stderr, "zf: capsule not written: out of memory\n");
        else if (zf_capsule_write(cap, path, err, sizeof err) != 0)
            fprintf(stderr, "zf: capsule not written: %s\n", err);
        else
            printf("capsule   %s\n", path);
        cJSON_Delete(cap);
    }
    status = pass ? 0 : 1;

done:
    if (res)
        for (int i = 0; i < n_results; i++) { free(res[i].tokens); free(res[i].margins); }
    free(res);
    free(seqs);
    if (prompt_ids)
        for (int p = 0; p < n_prompts; p++) free(prompt_ids[p]);
    free(prompt_ids);
    free(prompt_len);
    free(logits);
    for (int i = 0; i < n_prompts; i++) free(prompts[i]);
    if (compare) zf_model_destroy(sides[1].model);
    zf_unload_model(&lm);
    return status;
}
