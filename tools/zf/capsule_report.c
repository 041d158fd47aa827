/* Validate and bench capsules in words: what `zf capsule show` prints for
 * them, and what `zf capsule diff` compares (the verdict and the speeds;
 * the setup is capsule.c's header diff). Gate capsules have their own
 * (gate_report.c). */
#include "capsule_report.h"

#include <string.h>

#include "cj.h"

static const cJSON *obj(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* "path (arch, N layers, sha256 0123456789abcdef...)" */
static void print_model(const cJSON *cap, FILE *f) {
    const cJSON *m = obj(cap, "model");
    fprintf(f, "model     %s (%s, %.0f layers, sha256 %.16s...)\n", zf_cj_str(m, "path"), zf_cj_str(m, "arch"),
            zf_cj_num(m, "layers"), zf_cj_str(m, "sha256"));
}

/* "a -> b (+x.x%)", or "a (same)", with `digits` decimals */
static void print_change(FILE *f, const char *label, double a, double b, int digits, const char *unit) {
    if (a == b) fprintf(f, "  %-16s %.*f%s (same)\n", label, digits, a, unit);
    else fprintf(f, "  %-16s %.*f -> %.*f%s (%+.1f%%)\n", label, digits, a, digits, b, unit, 100.0 * (b / a - 1.0));
}

void zf_capsule_diff_str(FILE *f, const char *label, const char *a, const char *b, int *n) {
    if (strcmp(a, b) == 0) return;
    fprintf(f, "  %-16s %s -> %s\n", label, a, b);
    ++*n;
}
static void diff_num(FILE *f, const char *label, double a, double b, int *n) {
    if (a == b || (a != a && b != b)) return;
    fprintf(f, "  %-16s %g -> %g\n", label, a, b);
    ++*n;
}

/* "differences in what was run:" and the lines both kinds have (model,
 * backend, activations); returns how many differed */
static int diff_run_start(const cJSON *a, const cJSON *b, FILE *f) {
    int n = 0;
    fprintf(f, "differences in what was run:\n");
    zf_capsule_diff_str(f, "model sha256", zf_cj_str(obj(a, "model"), "sha256"), zf_cj_str(obj(b, "model"), "sha256"), &n);
    zf_capsule_diff_str(f, "backend", zf_cj_str(a, "backend"), zf_cj_str(b, "backend"), &n);
    zf_capsule_diff_str(f, "activations", zf_cj_str(obj(a, "settings"), "activation_dtype"),
             zf_cj_str(obj(b, "settings"), "activation_dtype"), &n);
    return n;
}

/* ---- validate ------------------------------------------------------------------ */

/* what was checked against the reference: "tier stable", "fidelity fast" */
static void checked(const cJSON *cap, char *buf, size_t size) {
    const char *fid = cJSON_GetStringValue(obj(cap, "checked_fidelity")); /* absent: a tier was checked */
    if (fid) snprintf(buf, size, "fidelity %s", fid);
    else snprintf(buf, size, "tier %s", zf_cj_str(cap, "checked_tier"));
}

void zf_validate_print(const cJSON *cap, FILE *f) {
    const cJSON *cmp = obj(cap, "compared"), *s = obj(cap, "settings"), *v = obj(cap, "verdict");
    const char *ref = cJSON_GetStringValue(cJSON_GetArrayItem(cmp, 0)), *other = cJSON_GetStringValue(cJSON_GetArrayItem(cmp, 1));
    ref = ref ? ref : "?", other = other ? other : "?";
    char what[64];
    checked(cap, what, sizeof what);
    fprintf(f, "zf validate  %s vs %s  backend %s  (checked: %s)\n", ref, other, zf_cj_str(cap, "backend"), what);
    print_model(cap, f);
    const cJSON *m = obj(cap, "model");
    fprintf(f, "weights   attention %s; ffn %s; activations %s\n", zf_cj_str(m, "attention_weights"),
            zf_cj_str(m, "ffn_weights"), zf_cj_str(s, "activation_dtype"));
    fprintf(f, "runs      %d prompts x %.0f runs, up to %.0f tokens each, %.0f threads%s\n",
            cJSON_GetArraySize(obj(cap, "prompts")), zf_cj_num(s, "runs"), zf_cj_num(s, "max_tokens"),
            zf_cj_num(s, "threads"), cJSON_IsTrue(obj(s, "chat")) ? ", chat format" : "");
    if (strcmp(zf_cj_str(v, "result"), "pass") == 0) {
        fprintf(f, "verdict   PASS: every token identical (%.0f token pairs)\n", zf_cj_num(v, "token_pairs_compared"));
    } else {
        const cJSON *fd = obj(v, "first_divergence");
        char key[48];
        snprintf(key, sizeof key, "%s_top2_margin", ref);
        fprintf(f, "verdict   FAIL: %.0f runs differ (%.0f token pairs); first at prompt %.0f, run %.0f, token %.0f",
                zf_cj_num(v, "mismatched_runs"), zf_cj_num(v, "token_pairs_compared"), zf_cj_num(fd, "prompt") + 1,
                zf_cj_num(fd, "run") + 1, zf_cj_num(fd, "position"));
        double margin = zf_cj_num(fd, key);
        if (margin == margin) fprintf(f, " (%s top-2 logit margin there %.5g)", ref, margin);
        fprintf(f, "\n");
    }
    const cJSON *med = obj(cap, "medians"), *ma = obj(med, ref), *mb = obj(med, other);
    fprintf(f, "tok/s median     %-28s %-28s speedup\n", ref, other);
    static const char *const phases[2] = {"prefill", "decode"};
    for (int p = 0; p < 2; p++) {
        char k[32], kmin[40], kmax[40], ca[64], cb[64];
        snprintf(k, sizeof k, "%s_tok_s", phases[p]);
        snprintf(kmin, sizeof kmin, "%s_min", k);
        snprintf(kmax, sizeof kmax, "%s_max", k);
        snprintf(ca, sizeof ca, "%.1f [%.1f..%.1f]", zf_cj_num(ma, k), zf_cj_num(ma, kmin), zf_cj_num(ma, kmax));
        snprintf(cb, sizeof cb, "%.1f [%.1f..%.1f]", zf_cj_num(mb, k), zf_cj_num(mb, kmin), zf_cj_num(mb, kmax));
        fprintf(f, "%-16s %-28s %-28s %.3fx\n", phases[p], ca, cb, zf_cj_num(mb, k) / zf_cj_num(ma, k));
    }
    fprintf(f, "peak memory %.0f MiB\n", zf_cj_num(cap, "peak_memory_mib"));
}

void zf_validate_diff(const cJSON *a, const cJSON *b, FILE *f) {
    const cJSON *sa = obj(a, "settings"), *sb = obj(b, "settings");
    char ca[64], cb[64];
    checked(a, ca, sizeof ca);
    checked(b, cb, sizeof cb);
    int n = diff_run_start(a, b, f);
    zf_capsule_diff_str(f, "checked", ca, cb, &n);
    diff_num(f, "max tokens", zf_cj_num(sa, "max_tokens"), zf_cj_num(sb, "max_tokens"), &n);
    diff_num(f, "runs", zf_cj_num(sa, "runs"), zf_cj_num(sb, "runs"), &n);
    diff_num(f, "prompts", cJSON_GetArraySize(obj(a, "prompts")), cJSON_GetArraySize(obj(b, "prompts")), &n);
    if (n == 0) fprintf(f, "  none\n");
    const char *va = zf_cj_str(obj(a, "verdict"), "result"), *vb = zf_cj_str(obj(b, "verdict"), "result");
    fprintf(f, "\nverdict   %s%s%s\n", va, strcmp(va, vb) ? " -> " : " (same)", strcmp(va, vb) ? vb : "");
    fprintf(f, "speeds (medians):\n");
    print_change(f, "decode speedup", zf_cj_num(a, "decode_speedup"), zf_cj_num(b, "decode_speedup"), 3, "x");
    /* each side both capsules name: its prefill and decode tok/s */
    const cJSON *side;
    cJSON_ArrayForEach(side, obj(a, "compared")) {
        const char *name = cJSON_GetStringValue(side);
        const cJSON *ma = obj(obj(a, "medians"), name ? name : ""), *mb = obj(obj(b, "medians"), name ? name : "");
        if (!name || !ma || !mb) continue;
        char label[48];
        snprintf(label, sizeof label, "%s prefill", name);
        print_change(f, label, zf_cj_num(ma, "prefill_tok_s"), zf_cj_num(mb, "prefill_tok_s"), 1, " tok/s");
        snprintf(label, sizeof label, "%s decode", name);
        print_change(f, label, zf_cj_num(ma, "decode_tok_s"), zf_cj_num(mb, "decode_tok_s"), 1, " tok/s");
    }
}

/* ---- bench ------------------------------------------------------------------- */

void zf_bench_print(const cJSON *cap, FILE *f) {
    const cJSON *s = obj(cap, "settings"), *m = obj(cap, "model"), *med = obj(cap, "medians");
    const cJSON *bw = obj(cap, "bandwidth"), *r = obj(cap, "roofline");
    fprintf(f, "zf bench  backend %s  tier %s\n", zf_cj_str(cap, "backend"), zf_cj_str(cap, "tier"));
    print_model(cap, f);
    const cJSON *graphs = obj(s, "cuda_graphs");
    fprintf(f, "settings  -p %.0f -n %.0f, %.0f repetitions, %.0f threads, activations %s%s\n",
            zf_cj_num(s, "prompt_tokens"), zf_cj_num(s, "decode_tokens"), zf_cj_num(s, "reps"), zf_cj_num(s, "threads"),
            zf_cj_str(s, "activation_dtype"), graphs ? cJSON_IsTrue(graphs) ? ", CUDA graphs" : ", no CUDA graphs" : "");
    fprintf(f, "prefill   %.1f tok/s median [%.1f .. %.1f]\n", zf_cj_num(med, "prefill_tok_s"),
            zf_cj_num(med, "prefill_tok_s_min"), zf_cj_num(med, "prefill_tok_s_max"));
    fprintf(f, "decode    %.1f tok/s median [%.1f .. %.1f]\n", zf_cj_num(med, "decode_tok_s"),
            zf_cj_num(med, "decode_tok_s_min"), zf_cj_num(med, "decode_tok_s_max"));
    fprintf(f, "weights   %.2f MB read per decoded token\n", zf_cj_num(m, "weight_bytes_per_token") / 1e6);
    fprintf(f, "bandwidth %.1f GB/s (best; median %.1f) for %s\n", zf_cj_num(bw, "gbps"), zf_cj_num(bw, "median_gbps"),
            zf_cj_str(bw, "pattern"));
    fprintf(f, "roofline  decode moves %.1f GB/s of weights = %.0f%% of the best bandwidth (bound %.1f tok/s)",
            zf_cj_num(r, "decode_gbps"), 100.0 * zf_cj_num(r, "fraction"), zf_cj_num(r, "decode_tok_s_bound"));
    double paired = zf_cj_num(r, "paired_fraction");
    if (paired == paired)
        fprintf(f, "; each run against the probe after it %.0f%% [%.0f%% .. %.0f%%]", 100.0 * paired,
                100.0 * zf_cj_num(r, "paired_fraction_min"), 100.0 * zf_cj_num(r, "paired_fraction_max"));
    fprintf(f, "\n");
}

void zf_bench_diff(const cJSON *a, const cJSON *b, FILE *f) {
    const cJSON *sa = obj(a, "settings"), *sb = obj(b, "settings");
    int n = diff_run_start(a, b, f);
    diff_num(f, "prompt tokens", zf_cj_num(sa, "prompt_tokens"), zf_cj_num(sb, "prompt_tokens"), &n);
    diff_num(f, "decode tokens", zf_cj_num(sa, "decode_tokens"), zf_cj_num(sb, "decode_tokens"), &n);
    diff_num(f, "repetitions", zf_cj_num(sa, "reps"), zf_cj_num(sb, "reps"), &n);
    if (n == 0) fprintf(f, "  none\n");
    const cJSON *ma = obj(a, "medians"), *mb = obj(b, "medians"), *ra = obj(a, "roofline"), *rb = obj(b, "roofline");
    fprintf(f, "\nspeeds (medians):\n");
    print_change(f, "prefill", zf_cj_num(ma, "prefill_tok_s"), zf_cj_num(mb, "prefill_tok_s"), 1, " tok/s");
    print_change(f, "decode", zf_cj_num(ma, "decode_tok_s"), zf_cj_num(mb, "decode_tok_s"), 1, " tok/s");
    print_change(f, "bandwidth", zf_cj_num(obj(a, "bandwidth"), "gbps"), zf_cj_num(obj(b, "bandwidth"), "gbps"), 1,
                 " GB/s");
    const double fa = 100.0 * zf_cj_num(ra, "fraction"), fb = 100.0 * zf_cj_num(rb, "fraction");
    fprintf(f, "  %-16s %.0f%% -> %.0f%% of the bandwidth measured beside it (%+.0f points)\n", "roofline", fa, fb,
            fb - fa);
}
