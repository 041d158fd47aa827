/* Tiers, the environment (ZF_TIER, ZF_CPU_ISA), the capability report, the
 * registry's handling of a variant that fails its self-test, and the zf
 * command (caps, gate, capsules, usage errors).
 *
 *   test_tier_caps                    in-process checks + environment cases
 *   test_tier_caps --env-case NAME    one environment case (run as a child
 *                                     with the variable set before first use)
 *   test_tier_caps --zf PATH          the zf command at PATH */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/registry.h"
#include "harness.h"

extern char **environ;

/* ---- running a program with extra environment, capturing its output ------ */

static char g_tmp[256];

/* Runs argv with `env_extra` ("NAME=value" or NULL) added; returns the exit
 * code and the output in *out / *err (caller frees). */
static int run(char *const argv[], const char *env_extra, char **out, char **err) {
    char po[300], pe[300];
    snprintf(po, sizeof po, "%s/out", g_tmp);
    snprintf(pe, sizeof pe, "%s/err", g_tmp);
    size_t n = 0;
    while (environ[n]) n++;
    char **envp = calloc(n + 2, sizeof *envp);
    size_t k = 0;
    size_t name_len = env_extra ? (size_t)(strchr(env_extra, '=') - env_extra) + 1 : 0;
    for (size_t i = 0; i < n; i++)
        if (!env_extra || strncmp(environ[i], env_extra, name_len) != 0) envp[k++] = environ[i];
    if (env_extra) envp[k++] = (char *)env_extra;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    if (rc != 0) {
        ZT_CHECK(0, "cannot start %s", argv[0]);
        return -1;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    *out = zt_read_file(po, NULL);
    *err = zt_read_file(pe, NULL);
    if (!*out) *out = strdup("");
    if (!*err) *err = strdup("");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- every op, on valid small inputs ---------------------------------------- */

#define ROWS 3
#define COLS 37

typedef struct op_bufs {
    zt_buf in[3], w, out[2], dw;
} op_bufs;

static void bufs_init(op_bufs *b) {
    for (int i = 0; i < 3; i++) {
        b->in[i] = zt_alloc(ZF_DTYPE_F32, ROWS * COLS);
        zt_fill(ZF_DTYPE_F32, b->in[i].p, ROWS * COLS, 2.0f);
    }
    b->w = zt_alloc(ZF_DTYPE_F32, COLS);
    zt_fill(ZF_DTYPE_F32, b->w.p, COLS, 1.0f);
    for (int i = 0; i < 2; i++) b->out[i] = zt_alloc(ZF_DTYPE_F32, ROWS * COLS);
    b->dw = zt_alloc(ZF_DTYPE_F32, COLS);
}

static void bufs_free(op_bufs *b) {
    for (int i = 0; i < 3; i++) zt_free(&b->in[i]);
    for (int i = 0; i < 2; i++) zt_free(&b->out[i]);
    zt_free(&b->w);
    zt_free(&b->dw);
}

#define N_OPS 10
static const char *const k_op_names[N_OPS] = {"add", "mul", "silu", "silu_vjp", "rms_norm", "rms_norm_vjp",
                                              "swiglu", "swiglu_vjp", "add_rms_norm", "add_rms_norm_vjp"};

static zf_status call_op(int op, op_bufs *b) {
    zf_tensor x = zf_tensor_2d(b->in[0].p, ZF_DTYPE_F32, ROWS, COLS), y = zf_tensor_2d(b->in[1].p, ZF_DTYPE_F32, ROWS, COLS);
    zf_tensor z = zf_tensor_2d(b->in[2].p, ZF_DTYPE_F32, ROWS, COLS), w = zf_tensor_1d(b->w.p, ZF_DTYPE_F32, COLS);
    zf_tensor o = zf_tensor_2d(b->out[0].p, ZF_DTYPE_F32, ROWS, COLS), o2 = zf_tensor_2d(b->out[1].p, ZF_DTYPE_F32, ROWS, COLS);
    zf_tensor dw = zf_tensor_1d(b->dw.p, ZF_DTYPE_F32, COLS);
    switch (op) {
    case 0: return zf_add(&x, &y, &o, NULL);
    case 1: return zf_mul(&x, &y, &o, NULL);
    case 2: return zf_silu(&x, &o, NULL);
    case 3: return zf_silu_vjp(&x, &y, &o, NULL);
    case 4: return zf_rms_norm(&x, &w, 1e-5f, &o, NULL);
    case 5: return zf_rms_norm_vjp(&x, &w, 1e-5f, &y, &o, &dw, NULL);
    case 6: return zf_swiglu(&x, &y, &o, NULL);
    case 7: return zf_swiglu_vjp(&x, &y, &z, &o, &o2, NULL);
    case 8: return zf_add_rms_norm(&x, &y, &w, 1e-5f, &o, &o2, NULL);
    default: return zf_add_rms_norm_vjp(&x, &w, 1e-5f, &y, &z, &o, &dw, NULL);
    }
}

static int untouched(const op_bufs *b) {
    for (int i = 0; i < 2; i++) {
        const unsigned char *p = b->out[i].p;
        for (size_t k = 0; k < b->out[i].bytes; k++)
            if (p[k] != 0x7f) return 0;
        if (!zt_guards_ok(&b->out[i])) return 0;
    }
    const unsigned char *p = b->dw.p;
    for (size_t k = 0; k < b->dw.bytes; k++)
        if (p[k] != 0x7f) return 0;
    return 1;
}

/* Every op fails, with a message containing `needle`, writing nothing. */
static void check_every_op_fails(const char *needle) {
    op_bufs b;
    bufs_init(&b);
    for (int op = 0; op < N_OPS; op++) {
        zf_status s = call_op(op, &b);
        ZT_CHECK(s != ZF_OK, "[%s] succeeded despite the bad environment", k_op_names[op]);
        ZT_CHECK(strstr(zf_last_error(), needle) != NULL, "[%s] message '%s' does not mention %s", k_op_names[op],
                 zf_last_error(), needle);
        ZT_CHECK(untouched(&b), "[%s] wrote its outputs although it failed", k_op_names[op]);
    }
    bufs_free(&b);
}

static void check_every_op_runs(void) {
    op_bufs b;
    bufs_init(&b);
    for (int op = 0; op < N_OPS; op++) ZT_CHECK(call_op(op, &b) == ZF_OK, "[%s] failed: %s", k_op_names[op], zf_last_error());
    bufs_free(&b);
}

/* ---- environment cases (each in its own process) ------------------------------- */

static int env_case(const char *name) {
    zt_init(name);
    if (strcmp(name, "tier_fast") == 0) {
        ZT_CHECK(zf_get_tier() == ZF_TIER_FAST, "ZF_TIER=fast gave tier %s", zf_tier_name(zf_get_tier()));
        ZT_OK(zf_env_check());
        check_every_op_runs();
    } else if (strcmp(name, "tier_bad") == 0) {
        ZT_CHECK(zf_env_check() != ZF_OK, "ZF_TIER=bogus passed the check");
        ZT_CHECK(strstr(zf_last_error(), "ZF_TIER") && strstr(zf_last_error(), "bogus"), "message: %s", zf_last_error());
        check_every_op_fails("ZF_TIER");
        /* the report still works and says what is wrong */
        char *s = NULL;
        ZT_OK(zf_caps_report(1, &s));
        cJSON *r = cJSON_Parse(s ? s : "");
        const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "tier"), "error"));
        ZT_CHECK(e && strstr(e, "ZF_TIER"), "caps tier.error is %s", e ? e : "absent");
        cJSON_Delete(r);
        zf_free(s);
        /* an explicit tier overrides the bad variable */
        ZT_OK(zf_set_tier(ZF_TIER_STABLE));
        check_every_op_runs();
    } else if (strcmp(name, "tier_empty") == 0) { /* an empty ZF_TIER is unset, not a bad tier */
        ZT_OK(zf_env_check());
        ZT_CHECK(zf_get_tier() == ZF_TIER_STABLE, "ZF_TIER= gave tier %s", zf_tier_name(zf_get_tier()));
        check_every_op_runs();
    } else if (strcmp(name, "isa_bad") == 0) {
        ZT_CHECK(zf_env_check() != ZF_OK, "ZF_CPU_ISA=avx9 passed the check");
        check_every_op_fails("avx9");
    } else if (strcmp(name, "isa_detected") == 0) { /* the machine's own level is not too high */
        ZT_OK(zf_env_check());
        ZT_CHECK(zf_get_cpu_isa() == zf_cpu_isa_detected(), "ZF_CPU_ISA=%s gave cap %s",
                 zf_cpu_isa_name(zf_cpu_isa_detected()), zf_cpu_isa_name(zf_get_cpu_isa()));
        check_every_op_runs();
    } else if (strcmp(name, "isa_too_high") == 0) {
        check_every_op_fails("ZF_CPU_ISA");
    } else if (strcmp(name, "isa_scalar") == 0) {
        ZT_CHECK(zf_get_cpu_isa() == ZF_CPU_ISA_SCALAR, "ZF_CPU_ISA=scalar gave cap %s", zf_cpu_isa_name(zf_get_cpu_isa()));
        const zf_variant *v = NULL;
        ZT_OK(zf_pick(ZF_OP_SWIGLU, ZF_DEVICE_CPU, ZF_FIDELITY_AUTO, &v));
        ZT_CHECK(v && v->isa == ZF_CPU_ISA_SCALAR, "picked %s under the scalar cap", v ? v->name : "nothing");
        check_every_op_runs();
    } else {
        ZT_CHECK(0, "unknown environment case %s", name);
    }
    return zt_finish();
}

static void run_env_case(const char *self, const char *name, const char *env) {
    char *argv[] = {(char *)self, "--env-case", (char *)name, NULL};
    char *out, *err;
    int rc = run(argv, env, &out, &err);
    ZT_CHECK(rc == 0, "environment case %s (%s) failed (rc %d):\n%s%s", name, env, rc, out, err);
    free(out);
    free(err);
}

/* ---- in-process checks ---------------------------------------------------------- */

static void check_tiers(void) {
    ZT_CHECK(zf_get_tier() == ZF_TIER_STABLE, "default tier is %s", zf_tier_name(zf_get_tier()));
    for (int t = 0; t < ZF_TIER_COUNT; t++) {
        zf_tier parsed;
        ZT_OK(zf_tier_parse(zf_tier_name((zf_tier)t), &parsed));
        ZT_CHECK(parsed == (zf_tier)t, "tier %d round trip", t);
        ZT_OK(zf_set_tier((zf_tier)t));
        ZT_CHECK(zf_get_tier() == (zf_tier)t, "set tier %d", t);
        /* what AUTO runs never belongs to a higher tier */
        for (int op = 0; op < ZF_OP_COUNT; op++) {
            const zf_variant *v = NULL;
            if (zf_pick((zf_op)op, ZF_DEVICE_CPU, ZF_FIDELITY_AUTO, &v) != ZF_OK) continue;
            ZT_CHECK(v->tier <= (zf_tier)t, "tier %s runs %s (tier %s)", zf_tier_name((zf_tier)t), v->name,
                     zf_tier_name(v->tier));
            if (t == ZF_TIER_STABLE)
                ZT_CHECK(v->fidelity != ZF_FIDELITY_FAST, "stable runs the fast variant %s", v->name);
        }
    }
    ZT_OK(zf_set_tier(ZF_TIER_EDGE));
    const int bad[] = {-1, ZF_TIER_COUNT, 99};
    for (int i = 0; i < 3; i++) {
        ZT_CHECK(zf_set_tier((zf_tier)bad[i]) == ZF_ERR_INVALID_ARG, "zf_set_tier(%d) accepted", bad[i]);
        ZT_CHECK(strstr(zf_last_error(), "[tier]") != NULL, "message: %s", zf_last_error());
        ZT_CHECK(zf_get_tier() == ZF_TIER_EDGE, "a rejected tier changed the tier");
    }
    zf_tier parsed = ZF_TIER_FAST;
    ZT_CHECK(zf_tier_parse("Stable", &parsed) == ZF_ERR_INVALID_ARG && parsed == ZF_TIER_FAST, "'Stable' parsed");
    ZT_CHECK(strstr(zf_last_error(), "Stable") != NULL, "message: %s", zf_last_error());
    ZT_CHECK(zf_tier_parse(NULL, &parsed) == ZF_ERR_INVALID_ARG, "NULL tier parsed");
    ZT_OK(zf_set_tier(ZF_TIER_STABLE));
}

/* A CUDA-backend variant that always fails its self-test, and a stock one
 * that passes: registered here, before anything else, so they come first. */
static int g_broken_tests;
static int broken_selftest(const zf_variant *v, char *msg, size_t n) {
    (void)v;
    g_broken_tests++;
    snprintf(msg, n, "deliberately broken (test)");
    return 1;
}
static int passing_selftest(const zf_variant *v, char *msg, size_t n) {
    (void)v;
    (void)msg;
    (void)n;
    return 0;
}
static const zf_variant k_fake[] = {
    {"test.broken.swiglu.exact", ZF_OP_SWIGLU, ZF_DEVICE_CUDA, ZF_FIDELITY_EXACT, ZF_TIER_STABLE, ZF_CPU_ISA_SCALAR,
     NULL, broken_selftest, NULL, "test: fails its self-test"},
    {"test.fallback.swiglu.stock", ZF_OP_SWIGLU, ZF_DEVICE_CUDA, ZF_FIDELITY_STOCK, ZF_TIER_STABLE,
     ZF_CPU_ISA_SCALAR, NULL, passing_selftest, NULL, "test: stock fallback"},
};

static void check_registry(void) {
    const zf_variant *v = NULL;
    for (int i = 0; i < 3; i++) {
        ZT_OK(zf_pick(ZF_OP_SWIGLU, ZF_DEVICE_CUDA, ZF_FIDELITY_EXACT, &v));
        ZT_CHECK(v != &k_fake[0], "the variant that failed its self-test was picked");
    }
    ZT_CHECK(g_broken_tests == 1, "the broken variant was self-tested %d times; expected once", g_broken_tests);
    const char *reason = NULL;
    ZT_CHECK(zf_variant_state(&k_fake[0], &reason) == -1, "broken variant not marked failed");
    ZT_CHECK(reason && strstr(reason, "deliberately broken"), "reason: %s", reason ? reason : "NULL");
    char why[320];
    for (int t = 0; t < ZF_TIER_COUNT; t++) {
        const zf_variant *e = zf_pick_explain(ZF_OP_SWIGLU, ZF_DEVICE_CUDA, (zf_tier)t, why, sizeof why);
        ZT_CHECK(e != &k_fake[0], "zf_pick_explain offers the failed variant in tier %d", t);
        /* the fake stock variant stands in for the failed exact one (a GPU's own variants may win instead) */
        if (e == &k_fake[1])
            ZT_CHECK(strstr(why, "fell back to stock") != NULL, "tier %d: the fallback not explained: %s", t, why);
    }
}

static const cJSON *get(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ZT_CHECK(v != NULL, "caps JSON lacks \"%s\"", key);
    return v;
}

/* Every CPU kernel this machine can run passes its self-test. A failing one
 * is only disabled at run time (the next one down runs instead), which the
 * family tests' comparisons with the stock path would not notice. */
static void check_cpu_selftests(void) {
    const zf_cpu_isa best = zf_cpu_isa_detected();
    for (int i = 0; i < zf_registry_count(); i++) {
        const zf_variant *v = zf_registry_at(i);
        if (v->backend != ZF_DEVICE_CPU || !v->selftest || v->isa > best) continue;
        char msg[256] = "";
        ZT_CHECK(v->selftest(v, msg, sizeof msg) == 0, "%s fails its self-test on this machine: %s", v->name, msg);
    }
}

/* ISA names: each level's round-trips through zf_cpu_isa_parse; a value out
 * of range is "invalid", not a read past the table. */
static void check_isa_names(void) {
    for (int i = 0; i < ZF_CPU_ISA_COUNT; i++) {
        const char *name = zf_cpu_isa_name((zf_cpu_isa)i);
        zf_cpu_isa back = (zf_cpu_isa)-1;
        ZT_CHECK(name && strcmp(name, "invalid") != 0, "ISA %d has no name", i);
        ZT_CHECK(name && zf_cpu_isa_parse(name, &back) == ZF_OK && back == (zf_cpu_isa)i, "ISA %d: '%s' parses to %d",
                 i, name ? name : "(null)", (int)back);
    }
    const zf_cpu_isa out[] = {ZF_CPU_ISA_COUNT, (zf_cpu_isa)(ZF_CPU_ISA_COUNT + 1), (zf_cpu_isa)-1};
    for (size_t i = 0; i < sizeof out / sizeof *out; i++) {
        const char *name = zf_cpu_isa_name(out[i]);
        ZT_CHECK(name && strcmp(name, "invalid") == 0, "ISA %d named '%s'", (int)out[i], name ? name : "(null)");
    }
}

/* The text report's "features" line lists the features the JSON says are
 * on, its "absent" line those it says are off, each exactly once. */
static int has_word(const char *line, size_t len, const char *word) {
    size_t n = strlen(word);
    for (const char *p = line; p + n <= line + len; p++)
        if ((p == line || p[-1] == ' ') && strncmp(p, word, n) == 0 && (p + n == line + len || p[n] == ' ')) return 1;
    return 0;
}

static void check_caps_features(void) {
    char *text = NULL, *json = NULL;
    ZT_OK(zf_caps_report(0, &text));
    ZT_OK(zf_caps_report(1, &json));
    cJSON *r = cJSON_Parse(json ? json : "");
    const char *on = text ? strstr(text, "\nfeatures  ") : NULL, *off = text ? strstr(text, "\n  absent  ") : NULL;
    ZT_CHECK(on && off && r, "text report lacks the features or absent line");
    if (on && off && r) {
        on += strlen("\nfeatures  ");
        off += strlen("\n  absent  ");
        size_t on_len = strcspn(on, "\n"), off_len = strcspn(off, "\n");
        const cJSON *f;
        int n = 0;
        cJSON_ArrayForEach(f, get(get(r, "cpu"), "features")) {
            int is_on = cJSON_IsTrue(f);
            n++;
            ZT_CHECK(has_word(on, on_len, f->string) == is_on && has_word(off, off_len, f->string) == !is_on,
                     "feature %s (%s) on the wrong text line:\nfeatures  %.*s\n  absent  %.*s", f->string,
                     is_on ? "on" : "off", (int)on_len, on, (int)off_len, off);
        }
        ZT_CHECK(n > 0, "no features in the JSON report");
    }
    cJSON_Delete(r);
    zf_free(text);
    zf_free(json);
}

static void check_caps(void) {
    char *s = (char *)&s; /* poison: a failed call must not touch it */
    ZT_CHECK(zf_caps_report(0, NULL) == ZF_ERR_INVALID_ARG, "NULL out accepted");
    ZT_CHECK(strstr(zf_last_error(), "[caps]") != NULL, "message: %s", zf_last_error());
    ZT_CHECK(zf_caps_report(2, &s) == ZF_ERR_INVALID_ARG && s == (char *)&s, "json=2 accepted or out touched");

    s = NULL;
    ZT_OK(zf_caps_report(0, &s));
    const char *words[] = {"CPU", "features", "ISA", "threads", "tier", "CUDA", "swiglu", "add_rms_norm",
                           "test.broken.swiglu.exact", "DISABLED: deliberately broken"};
    for (size_t i = 0; s && i < sizeof words / sizeof *words; i++)
        ZT_CHECK(strstr(s, words[i]) != NULL, "text report lacks '%s'", words[i]);
    zf_free(s);

    s = NULL;
    ZT_OK(zf_caps_report(1, &s));
    cJSON *r = cJSON_Parse(s ? s : "");
    ZT_CHECK(cJSON_IsObject(r), "JSON report does not parse as one object");
    zf_free(s);
    if (!cJSON_IsObject(r)) return;
    ZT_CHECK(strcmp(cJSON_GetStringValue(get(r, "version")), zf_version()) == 0, "version");
    ZT_CHECK(cJSON_IsString(get(r, "build")), "build");
    const cJSON *cpu = get(r, "cpu");
    ZT_CHECK(cJSON_IsString(get(cpu, "brand")) && cJSON_IsNumber(get(cpu, "cores")), "cpu brand/cores");
    ZT_CHECK(cJSON_IsBool(get(get(cpu, "features"), "avx2")), "cpu.features.avx2");
    ZT_CHECK(strcmp(cJSON_GetStringValue(get(cpu, "isa_detected")), zf_cpu_isa_name(zf_cpu_isa_detected())) == 0,
             "isa_detected");
    ZT_CHECK(strcmp(cJSON_GetStringValue(get(cpu, "isa_cap")), zf_cpu_isa_name(zf_get_cpu_isa())) == 0, "isa_cap");
    ZT_CHECK(get(r, "threads")->valuedouble == zf_get_num_threads(), "threads");
    ZT_CHECK(strcmp(cJSON_GetStringValue(get(get(r, "tier"), "current")), "stable") == 0, "tier.current");
    ZT_CHECK(cJSON_IsNull(get(get(r, "tier"), "error")), "tier.error set with a good environment");
    const cJSON *cuda = get(r, "cuda");
    ZT_CHECK(cJSON_IsBool(get(cuda, "built")) && cJSON_IsBool(get(cuda, "loadable")) && cJSON_IsBool(get(cuda, "device")) &&
                 cJSON_IsString(get(cuda, "status")),
             "cuda fields");
    const cJSON *ops = get(get(r, "backends"), "cpu");
    ZT_CHECK(cJSON_GetArraySize(ops) == ZF_OP_COUNT, "%d ops in the report; expected %d", cJSON_GetArraySize(ops),
             ZF_OP_COUNT);
    const cJSON *op;
    int i = 0;
    cJSON_ArrayForEach(op, ops) {
        ZT_CHECK(strcmp(cJSON_GetStringValue(get(op, "op")), zf_op_name((zf_op)i)) == 0, "op %d name", i);
        for (int t = 0; t < ZF_TIER_COUNT; t++) {
            const cJSON *pick = get(get(op, "tiers"), zf_tier_name((zf_tier)t));
            char why[320];
            const zf_variant *v = zf_pick_explain((zf_op)i, ZF_DEVICE_CPU, (zf_tier)t, why, sizeof why);
            const char *name = cJSON_GetStringValue(get(pick, "variant"));
            ZT_CHECK(v ? name && strcmp(name, v->name) == 0 : name == NULL, "op %s tier %d: report says %s, registry %s",
                     zf_op_name((zf_op)i), t, name ? name : "null", v ? v->name : "null");
            ZT_CHECK(cJSON_IsString(get(pick, "why")), "why");
        }
        i++;
    }
    const cJSON *vars = get(r, "variants");
    ZT_CHECK(cJSON_GetArraySize(vars) == zf_registry_count(), "%d variants listed, %d registered",
             cJSON_GetArraySize(vars), zf_registry_count());
    const cJSON *v;
    int seen_broken = 0;
    cJSON_ArrayForEach(v, vars) {
        const char *keys[] = {"name", "op", "backend", "fidelity", "tier", "isa", "selftest", "reason", "note"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) ZT_CHECK(cJSON_IsString(get(v, keys[k])), "variant %s", keys[k]);
        ZT_CHECK(get(v, "evidence") != NULL, "variant evidence");
        if (strcmp(cJSON_GetStringValue(get(v, "name")), "test.broken.swiglu.exact") == 0) {
            seen_broken = 1;
            ZT_CHECK(strcmp(cJSON_GetStringValue(get(v, "selftest")), "failed") == 0, "broken variant state");
            ZT_CHECK(strstr(cJSON_GetStringValue(get(v, "reason")), "deliberately") != NULL, "broken variant reason");
        } else if (strcmp(cJSON_GetStringValue(get(v, "selftest")), "failed") == 0) {
            /* a real kernel's defect belongs to its family's tests; here: reported, and never picked */
            const char *name = cJSON_GetStringValue(get(v, "name"));
            printf("warning: variant %s is disabled: %s\n", name, cJSON_GetStringValue(get(v, "reason")));
            const cJSON *be = get(get(r, "backends"), cJSON_GetStringValue(get(v, "backend"))), *o, *t;
            cJSON_ArrayForEach(o, be) cJSON_ArrayForEach(t, get(o, "tiers")) {
                const char *picked = cJSON_GetStringValue(get(t, "variant"));
                ZT_CHECK(!picked || strcmp(picked, name) != 0, "failed variant %s is picked", name);
            }
        }
    }
    ZT_CHECK(seen_broken, "the broken variant is not listed");
    cJSON_Delete(r);

    /* the ISA cap shows in the report and in the picks */
    ZT_OK(zf_set_cpu_isa(ZF_CPU_ISA_SCALAR));
    s = NULL;
    ZT_OK(zf_caps_report(1, &s));
    r = cJSON_Parse(s ? s : "");
    zf_free(s);
    ZT_CHECK(strcmp(cJSON_GetStringValue(get(get(r, "cpu"), "isa_cap")), "scalar") == 0, "isa_cap after zf_set_cpu_isa");
    cJSON_ArrayForEach(op, get(get(r, "backends"), "cpu")) {
        const char *name = cJSON_GetStringValue(get(get(get(op, "tiers"), "stable"), "variant"));
        ZT_CHECK(!name || !strstr(name, "avx"), "%s picked under the scalar cap", name);
    }
    cJSON_Delete(r);
    ZT_OK(zf_set_cpu_isa(zf_cpu_isa_detected()));
}

/* ---- the zf command ---------------------------------------------------------------- */

static const cJSON *jget(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static void expect_rc(const char *zf, char *const args[], const char *env, int want, const char *needle) {
    char *argv[12] = {(char *)zf};
    int n = 1;
    for (; args[n - 1] && n < 11; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    char *out, *err;
    int rc = run(argv, env, &out, &err);
    ZT_CHECK(rc == want, "zf %s%s%s: exit %d, expected %d\n%s", args[0] ? args[0] : "", args[0] && args[1] ? " " : "",
             args[0] && args[1] ? args[1] : "", rc, want, err);
    if (needle) ZT_CHECK(strstr(out, needle) || strstr(err, needle), "zf %s: output lacks '%s'", args[0] ? args[0] : "", needle);
    free(out);
    free(err);
}

/* The gate's JSON: one object, a row per shape with sane numbers. */
static void check_gate_json(const char *text, const char *file_path) {
    const char *end = NULL;
    cJSON *g = cJSON_ParseWithOpts(text, &end, 0);
    ZT_CHECK(cJSON_IsObject(g), "gate --json output is not a JSON object");
    if (!g) return;
    while (end && (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')) end++;
    ZT_CHECK(end && *end == '\0', "gate --json printed more than one object");
    ZT_CHECK(strcmp(cJSON_GetStringValue(jget(g, "schema")), "zfast.capsule/1") == 0, "schema");
    ZT_CHECK(strcmp(cJSON_GetStringValue(jget(g, "kind")), "gate") == 0, "kind");
    const char *id = cJSON_GetStringValue(jget(g, "id"));
    ZT_CHECK(id && strlen(id) == 16 && strspn(id, "0123456789abcdef") == 16, "id %s", id ? id : "NULL");
    ZT_CHECK(strcmp(cJSON_GetStringValue(jget(g, "op")), "swiglu") == 0, "op");
    ZT_CHECK(strcmp(cJSON_GetStringValue(jget(g, "dtype")), "bf16") == 0, "dtype");
    double bw = cJSON_GetNumberValue(jget(jget(g, "bandwidth"), "gbps"));
    double bw_med = cJSON_GetNumberValue(jget(jget(g, "bandwidth"), "median_gbps"));
    ZT_CHECK(bw > 0.1 && bw < 1e5, "bandwidth %g GB/s", bw);
    ZT_CHECK(bw >= bw_med && bw_med > 0.1, "best bandwidth %g GB/s below the median %g", bw, bw_med);
    const cJSON *rows = jget(g, "rows"), *r;
    ZT_CHECK(cJSON_GetArraySize(rows) >= 3, "%d rows", cJSON_GetArraySize(rows));
    int large = 0;
    cJSON_ArrayForEach(r, rows) {
        double nr = cJSON_GetNumberValue(jget(r, "rows")), nc = cJSON_GetNumberValue(jget(r, "cols"));
        ZT_CHECK(cJSON_GetNumberValue(jget(r, "bytes")) == nr * nc * 2 * 3, "bytes of %gx%g", nr, nc);
        double sp = cJSON_GetNumberValue(jget(r, "speedup")), fr = cJSON_GetNumberValue(jget(r, "bandwidth_fraction"));
        double med = cJSON_GetNumberValue(jget(r, "fused_median_us"));
        double smed = cJSON_GetNumberValue(jget(r, "stock_median_us"));
        ZT_CHECK(sp > 0 && isfinite(sp) && fabs(sp - smed / med) < 1e-9 * sp, "speedup %g", sp);
        ZT_CHECK(fr > 0 && isfinite(fr), "bandwidth_fraction %g", fr);
        ZT_CHECK(cJSON_GetNumberValue(jget(r, "fused_min_us")) <= med && med <= cJSON_GetNumberValue(jget(r, "fused_max_us")),
                 "fused min <= median <= max");
        const char *v = cJSON_GetStringValue(jget(r, "verdict"));
        ZT_CHECK(v && (strcmp(v, "enable") == 0 || strcmp(v, "not worth it") == 0), "verdict %s", v ? v : "NULL");
        if (strcmp(cJSON_GetStringValue(jget(r, "kind")), "large") == 0) {
            large++;
            /* rotation: the sets together exceed 4x the cache */
            double sets = cJSON_GetNumberValue(jget(r, "buffer_sets"));
            double cache = cJSON_GetNumberValue(jget(jget(g, "bandwidth"), "cache_bytes"));
            ZT_CHECK(sets * nr * nc * 6 >= 4 * cache || sets == 64, "large %gx%g rotates %g sets", nr, nc, sets);
        }
    }
    ZT_CHECK(large >= 1, "no large shape in the sweep");
    const char *verdict = cJSON_GetStringValue(jget(g, "verdict"));
    ZT_CHECK(verdict && (strcmp(verdict, "enable") == 0 || strcmp(verdict, "not worth it") == 0), "overall verdict");
    /* the capsule file holds the same record */
    char *file = zt_read_file(file_path, NULL);
    cJSON *c = cJSON_Parse(file ? file : "");
    ZT_CHECK(c && strcmp(cJSON_GetStringValue(jget(c, "id")), id) == 0, "capsule file differs from --json output");
    cJSON_Delete(c);
    free(file);
    cJSON_Delete(g);
}

/* zf capsule diff against a copy with one row's verdict flipped: one change,
 * named on that row as "A -> B" (the overall verdict is left as it was). */
static void check_diff_verdict_change(const char *zf, char *cap_a) {
    char cap_c[300];
    snprintf(cap_c, sizeof cap_c, "%s/c.json", g_tmp);
    char *text = zt_read_file(cap_a, NULL);
    cJSON *cap = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *row = cJSON_GetArrayItem(jget(cap, "rows"), 0);
    const char *v = cJSON_GetStringValue(jget(row, "verdict"));
    ZT_CHECK(v && (strcmp(v, "enable") == 0 || strcmp(v, "not worth it") == 0), "capsule row verdict '%s'",
             v ? v : "(none)");
    if (!v) {
        cJSON_Delete(cap);
        return;
    }
    char va[16]; /* a copy: the row's string goes with the replaced item */
    snprintf(va, sizeof va, "%s", v);
    const char *vb = strcmp(va, "enable") == 0 ? "not worth it" : "enable";
    char needle[80];
    snprintf(needle, sizeof needle, "%%  %s -> %s\n", va, vb);
    cJSON_ReplaceItemInObjectCaseSensitive(row, "verdict", cJSON_CreateString(vb));
    /* and row 0 twice as fast: its change reads +100% from A, -50% from the edited side */
    cJSON_ReplaceItemInObjectCaseSensitive(row, "speedup",
                                           cJSON_CreateNumber(2 * cJSON_GetNumberValue(jget(row, "speedup"))));
    char *edited = cJSON_Print(cap);
    const int written = edited && zt_write_file(cap_c, edited, strlen(edited));
    ZT_CHECK(written, "cannot write %s", cap_c);
    if (written) {
        expect_rc(zf, (char *[]){"capsule", "diff", cap_a, cap_c, NULL}, NULL, 0, "verdict changes on 1 shapes");
        expect_rc(zf, (char *[]){"capsule", "diff", cap_a, cap_c, NULL}, NULL, 0, needle);
        /* and back: the change is seen from either side */
        snprintf(needle, sizeof needle, "%%  %s -> %s\n", vb, va);
        expect_rc(zf, (char *[]){"capsule", "diff", cap_c, cap_a, NULL}, NULL, 0, needle);
        expect_rc(zf, (char *[]){"capsule", "diff", cap_a, cap_c, NULL}, NULL, 0, " +100.0% ");
        expect_rc(zf, (char *[]){"capsule", "diff", cap_c, cap_a, NULL}, NULL, 0, "  -50.0% ");
    }
    /* a capsule of another schema version is refused by name, by show and by diff */
    cJSON_ReplaceItemInObjectCaseSensitive(cap, "schema", cJSON_CreateString("zfast.capsule/2"));
    char *other = cJSON_Print(cap);
    if (other && zt_write_file(cap_c, other, strlen(other))) {
        expect_rc(zf, (char *[]){"capsule", "show", cap_c, NULL}, NULL, 1, "this zf reads zfast.capsule/1");
        expect_rc(zf, (char *[]){"capsule", "diff", cap_a, cap_c, NULL}, NULL, 1, "this zf reads zfast.capsule/1");
    } else {
        ZT_CHECK(0, "cannot write %s", cap_c);
    }
    cJSON_free(other);
    cJSON_free(edited);
    cJSON_Delete(cap);
}

/* zf capsule show prints a row's fused GB/s (not the stock one's), and zf
 * capsule diff counts the shapes only one side has, from either side. */
static void check_show_and_missing_row(const char *zf, const char *cap_a) {
    char cap_d[300];
    snprintf(cap_d, sizeof cap_d, "%s/d.json", g_tmp);
    char *text = zt_read_file(cap_a, NULL);
    cJSON *cap = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *rows = cJSON_GetObjectItemCaseSensitive(cap, "rows"), *row = cJSON_GetArrayItem(rows, 0);
    ZT_CHECK(row && cJSON_GetArraySize(rows) >= 2, "capsule rows");
    if (!row || cJSON_GetArraySize(rows) < 2) {
        cJSON_Delete(cap);
        return;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(row, "fused_gbps", cJSON_CreateNumber(123.4));
    cJSON_ReplaceItemInObjectCaseSensitive(row, "stock_gbps", cJSON_CreateNumber(567.8));
    char *edited = cJSON_Print(cap);
    if (edited && zt_write_file(cap_d, edited, strlen(edited))) {
        char *argv[] = {(char *)zf, "capsule", "show", cap_d, NULL}, *out, *err;
        int rc = run(argv, NULL, &out, &err);
        ZT_CHECK(rc == 0 && strstr(out, " 123.4 ") && !strstr(out, "567.8"),
                 "capsule show: the GB/s column is not the fused GB/s 123.4 (exit %d)\n%s%s", rc, out, err);
        free(out);
        free(err);
    } else {
        ZT_CHECK(0, "cannot write %s", cap_d);
    }
    cJSON_free(edited);
    /* the last shape only in A */
    cJSON_DeleteItemFromArray(rows, cJSON_GetArraySize(rows) - 1);
    edited = cJSON_Print(cap);
    if (edited && zt_write_file(cap_d, edited, strlen(edited))) {
        expect_rc(zf, (char *[]){"capsule", "diff", (char *)cap_a, cap_d, NULL}, NULL, 0,
                  "(1 shapes only in A, 0 only in B)");
        expect_rc(zf, (char *[]){"capsule", "diff", cap_d, (char *)cap_a, NULL}, NULL, 0,
                  "(0 shapes only in A, 1 only in B)");
    } else {
        ZT_CHECK(0, "cannot write %s", cap_d);
    }
    cJSON_free(edited);
    cJSON_Delete(cap);
}

static int check_zf(const char *zf) {
    zt_init("zf_cli");
    expect_rc(zf, (char *[]){"--help", NULL}, NULL, 0, "  caps ");
    expect_rc(zf, (char *[]){"version", NULL}, NULL, 0, zf_version());
    expect_rc(zf, (char *[]){"caps", NULL}, NULL, 0, "swiglu");
    expect_rc(zf, (char *[]){"nosuch", NULL}, NULL, 2, "unknown command");
    expect_rc(zf, (char *[]){"caps", "--bogus", NULL}, NULL, 2, "unknown option '--bogus'");
    expect_rc(zf, (char *[]){"caps", "extra", NULL}, NULL, 2, "unexpected argument");
    expect_rc(zf, (char *[]){"caps", "--json=1", NULL}, NULL, 2, "option --json takes no value");
    expect_rc(zf, (char *[]){"caps", NULL}, "ZF_TIER=bogus", 2, "ZF_TIER");
    expect_rc(zf, (char *[]){"caps", NULL}, "ZF_CPU_ISA=avx9", 2, "avx9");
    expect_rc(zf, (char *[]){"gate", NULL}, NULL, 2, "which fusion");
    expect_rc(zf, (char *[]){"gate", "gelu", NULL}, NULL, 2, "unknown fusion");
    expect_rc(zf, (char *[]){"gate", "swiglu", "--dtype", "f64", NULL}, NULL, 2, "--dtype");
    expect_rc(zf, (char *[]){"gate", "swiglu", "--dtype", NULL}, NULL, 2, "needs a value");
    expect_rc(zf, (char *[]){"gate", "swiglu", "--backend", "tpu", NULL}, NULL, 2, "unknown backend");
    expect_rc(zf, (char *[]){"capsule", NULL}, NULL, 2, "show or diff");
    expect_rc(zf, (char *[]){"capsule", "show", "/nonexistent/x.json", NULL}, NULL, 1, "cannot open");

    char *out, *err;
    char *argv[] = {(char *)zf, "caps", "--json", NULL};
    ZT_CHECK(run(argv, NULL, &out, &err) == 0, "zf caps --json failed: %s", err);
    cJSON *caps = cJSON_Parse(out);
    ZT_CHECK(cJSON_IsObject(caps) && jget(caps, "backends") && jget(caps, "variants"), "zf caps --json");
    /* without a CUDA gate backend, --backend cuda says so and exits 2 */
    if (!cJSON_IsTrue(jget(jget(caps, "cuda"), "device")))
        expect_rc(zf, (char *[]){"gate", "swiglu", "--backend", "cuda", "--quick", NULL}, NULL, 2, "CUDA");
    cJSON_Delete(caps);
    free(out);
    free(err);

    char cap_a[300], cap_b[300];
    snprintf(cap_a, sizeof cap_a, "%s/caps/a.json", g_tmp);
    snprintf(cap_b, sizeof cap_b, "%s/b.json", g_tmp);
    char *gate[] = {(char *)zf, "gate", "swiglu", "--quick", "--json", "-o", cap_a, NULL};
    int rc = run(gate, NULL, &out, &err);
    ZT_CHECK(rc == 0, "zf gate swiglu --quick --json: exit %d\n%s", rc, err);
    if (rc == 0) check_gate_json(out, cap_a);
    free(out);
    free(err);

    expect_rc(zf, (char *[]){"capsule", "show", cap_a, NULL}, NULL, 0, "matches content");
    expect_rc(zf, (char *[]){"capsule", "diff", cap_a, cap_a, NULL}, NULL, 0, "none (same commit");
    /* an edited capsule no longer matches its id; diff shows the change */
    char *text = zt_read_file(cap_a, NULL);
    char *p = text ? strstr(text, "\"speedup\":") : NULL;
    if (p) {
        p += strlen("\"speedup\":");
        while (*p == ' ' || *p == '\t') p++;
        *p = *p == '9' ? '1' : '9';
        ZT_CHECK(zt_write_file(cap_b, text, strlen(text)), "cannot write %s", cap_b);
        expect_rc(zf, (char *[]){"capsule", "show", cap_b, NULL}, NULL, 0, "DOES NOT match");
        expect_rc(zf, (char *[]){"capsule", "diff", cap_a, cap_b, NULL}, NULL, 0, "verdict changes on 0 shapes");
    }
    ZT_CHECK(p != NULL, "no speedup in the capsule file");
    free(text);
    expect_rc(zf, (char *[]){"capsule", "diff", cap_a, cap_a, NULL}, NULL, 0, "verdict changes on 0 shapes");
    check_diff_verdict_change(zf, cap_a);
    check_show_and_missing_row(zf, cap_a);
    return zt_finish();
}

/* Status names: each status has its own, anything outside the enum is
 * "unknown status"; zf_clear_error empties the last message. */
static void check_status_names(void) {
    ZT_CHECK(strcmp(zf_status_name(ZF_OK), "ok") == 0, "ZF_OK: %s", zf_status_name(ZF_OK));
    ZT_CHECK(strcmp(zf_status_name(ZF_ERR_SELFTEST), "self-test failed") == 0, "ZF_ERR_SELFTEST: %s",
             zf_status_name(ZF_ERR_SELFTEST));
    ZT_CHECK(strcmp(zf_status_name(ZF_STATUS_COUNT), "unknown status") == 0, "ZF_STATUS_COUNT has a name");
    ZT_CHECK(strcmp(zf_status_name((zf_status)-1), "unknown status") == 0, "status -1 has a name");
    ZT_CHECK(zf_set_num_threads(-1) == ZF_ERR_INVALID_ARG && zf_last_error()[0] != '\0', "no message");
    zf_clear_error();
    ZT_CHECK(zf_last_error()[0] == '\0', "zf_clear_error left \"%s\"", zf_last_error());
}

int main(int argc, char **argv) {
    int env_child = argc == 3 && strcmp(argv[1], "--env-case") == 0;
    if (!env_child) { /* this test owns the environment: start from the defaults */
        unsetenv("ZF_TIER");
        unsetenv("ZF_CPU_ISA");
    }
    snprintf(g_tmp, sizeof g_tmp, "%s/zf_tier_caps_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 2;
    }
    int rc;
    if (env_child) {
        rc = env_case(argv[2]);
    } else if (argc == 3 && strcmp(argv[1], "--zf") == 0) {
        rc = check_zf(argv[2]);
    } else {
        zf_registry_init();
        zf_registry_add(k_fake, 2);
        zt_init("test_tier_caps");
        check_tiers();
        check_registry();
        check_cpu_selftests();
        check_isa_names();
        check_status_names();
        check_caps();
        check_caps_features();
        check_every_op_runs();
        const char *self = "/proc/self/exe";
        char exe[512];
        ssize_t n = readlink(self, exe, sizeof exe - 1);
        if (n > 0) exe[n] = '\0';
        run_env_case(exe, "tier_fast", "ZF_TIER=fast");
        run_env_case(exe, "tier_bad", "ZF_TIER=bogus");
        run_env_case(exe, "tier_empty", "ZF_TIER=");
        run_env_case(exe, "isa_bad", "ZF_CPU_ISA=avx9");
        run_env_case(exe, "isa_scalar", "ZF_CPU_ISA=scalar");
        char isa_env[64];
        snprintf(isa_env, sizeof isa_env, "ZF_CPU_ISA=%s", zf_cpu_isa_name(zf_cpu_isa_detected()));
        run_env_case(exe, "isa_detected", isa_env);
        if (zf_cpu_isa_detected() < ZF_CPU_ISA_AVX512) run_env_case(exe, "isa_too_high", "ZF_CPU_ISA=avx512");
        rc = zt_finish();
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
    return rc;
}
