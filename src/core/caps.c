/* The capability report: the machine, the backends and, per op and tier,
 * which kernel variant runs and why. One cJSON tree is built; the JSON form
 * prints it and the human form is rendered from it, so both say the same. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cpu_features.h"
#include "core/cuda_loader.h"
#include "core/error.h"
#include "core/registry.h"

void zf_free(void *p) { free(p); }

/* ---- the tree -------------------------------------------------------------- */

static cJSON *cpu_json(void) {
    const zf_cpu_info *c = zf_cpu_info_get();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "brand", c->brand);
    cJSON_AddNumberToObject(o, "cores", c->cores);
    cJSON *f = cJSON_AddObjectToObject(o, "features");
    zf_cpu_feature feats[ZF_CPU_FEATURE_COUNT];
    zf_cpu_features(feats);
    for (int i = 0; i < ZF_CPU_FEATURE_COUNT; i++) cJSON_AddBoolToObject(f, feats[i].name, feats[i].on);
    cJSON_AddStringToObject(o, "isa_detected", zf_cpu_isa_name(zf_cpu_isa_detected()));
    cJSON_AddStringToObject(o, "isa_cap", zf_cpu_isa_name(zf_get_cpu_isa()));
    const char *env = getenv("ZF_CPU_ISA");
    if (env && *env) cJSON_AddStringToObject(o, "isa_env", env);
    else cJSON_AddNullToObject(o, "isa_env");
    return o;
}

/* Tier in force, where ZF_TIER stands, and any environment problem. */
static cJSON *tier_json(void) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "current", zf_tier_name(zf_get_tier()));
    const char *env = getenv("ZF_TIER");
    if (env && *env) cJSON_AddStringToObject(o, "env", env);
    else cJSON_AddNullToObject(o, "env");
    if (zf_env_check() == ZF_OK) cJSON_AddNullToObject(o, "error");
    else cJSON_AddStringToObject(o, "error", zf_last_error());
    return o;
}

/* The first plugin path that exists, or NULL: "built" means a plugin file is there. */
static const char *cuda_plugin_file(void) {
    static const char *const paths[] = {ZF_CUDA_LIB_BUILD_PATH, ZF_CUDA_LIB_INSTALL_PATH};
    const char *env = getenv("ZF_CUDA_LIB");
    if (env && *env && access(env, R_OK) == 0) return env;
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (*paths[i] && access(paths[i], R_OK) == 0) return paths[i];
    return NULL;
}

static cJSON *cuda_json(int *usable) {
    cJSON *o = cJSON_CreateObject();
    const char *why = "";
    const zf_cuda_plugin *p = zf_cuda_plugin_loaded(&why);
    const char *file = cuda_plugin_file();
    cJSON_AddBoolToObject(o, "built", file != NULL || p != NULL);
    if (file) cJSON_AddStringToObject(o, "plugin", file);
    else cJSON_AddNullToObject(o, "plugin");
    cJSON_AddBoolToObject(o, "loadable", p != NULL);
    *usable = p && p->ready;
    cJSON_AddBoolToObject(o, "device", *usable);
    cJSON_AddStringToObject(o, "status", why);
    if (p && p->describe_json) {
        char buf[2048] = "";
        p->describe_json(buf, sizeof buf);
        cJSON *d = cJSON_Parse(buf);
        cJSON_AddItemToObject(o, "describe", d ? d : cJSON_CreateString(buf));
    } else {
        cJSON_AddNullToObject(o, "describe");
    }
    return o;
}

static int registered(zf_op op, zf_device be) {
    int n = 0;
    for (int i = 0; i < zf_registry_count(); i++) {
        const zf_variant *v = zf_registry_at(i);
        n += v->op == op && v->backend == be;
    }
    return n;
}

/* Per op: the variant each tier would run on `be`, and why. */
static cJSON *picks_json(zf_device be) {
    cJSON *ops = cJSON_CreateArray();
    for (int op = 0; op < ZF_OP_COUNT; op++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "op", zf_op_name((zf_op)op));
        cJSON *tiers = cJSON_AddObjectToObject(o, "tiers");
        int n = registered((zf_op)op, be);
        for (int t = 0; t < ZF_TIER_COUNT; t++) {
            cJSON *pick = cJSON_AddObjectToObject(tiers, zf_tier_name((zf_tier)t));
            char why[320] = "no variant registered on this backend";
            const zf_variant *v = n ? zf_pick_explain((zf_op)op, be, (zf_tier)t, why, sizeof why) : NULL;
            if (v) cJSON_AddStringToObject(pick, "variant", v->name);
            else cJSON_AddNullToObject(pick, "variant");
            cJSON_AddStringToObject(pick, "why", why);
        }
        cJSON_AddItemToArray(ops, o);
    }
    return ops;
}

static const char *state_name(int s) { return s > 0 ? "passed" : s < 0 ? "failed" : "untested"; }

static cJSON *variants_json(void) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < zf_registry_count(); i++) {
        const zf_variant *v = zf_registry_at(i);
        const char *reason = "";
        int st = zf_variant_state(v, &reason);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", v->name);
        cJSON_AddStringToObject(o, "op", zf_op_name(v->op));
        cJSON_AddStringToObject(o, "backend", v->backend == ZF_DEVICE_CPU ? "cpu" : "cuda");
        cJSON_AddStringToObject(o, "fidelity", zf_fidelity_name(v->fidelity));
        cJSON_AddStringToObject(o, "tier", zf_tier_name(v->tier));
        cJSON_AddStringToObject(o, "isa", v->backend == ZF_DEVICE_CPU ? zf_cpu_isa_name(v->isa) : "");
        cJSON_AddStringToObject(o, "selftest", state_name(st));
        cJSON_AddStringToObject(o, "reason", st ? reason : "");
        if (v->evidence) cJSON_AddStringToObject(o, "evidence", v->evidence);
        else cJSON_AddNullToObject(o, "evidence");
        cJSON_AddStringToObject(o, "note", v->note ? v->note : "");
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *report_tree(void) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "version", zf_version());
    cJSON_AddStringToObject(r, "build", zf_build_info());
    cJSON_AddItemToObject(r, "cpu", cpu_json());
    cJSON_AddNumberToObject(r, "threads", zf_get_num_threads());
    cJSON_AddItemToObject(r, "tier", tier_json());
    int cuda_ok = 0;
    cJSON_AddItemToObject(r, "cuda", cuda_json(&cuda_ok));
    cJSON *be = cJSON_AddObjectToObject(r, "backends");
    cJSON_AddItemToObject(be, "cpu", picks_json(ZF_DEVICE_CPU));
    if (cuda_ok) cJSON_AddItemToObject(be, "cuda", picks_json(ZF_DEVICE_CUDA));
    /* last, so the self-test states reflect the picks made above */
    cJSON_AddItemToObject(r, "variants", variants_json());
    return r;
}

/* ---- human text ------------------------------------------------------------ */

typedef struct sbuf { char *p; size_t len, cap; int oom; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) ZF_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { b->oom = 1; return; }
        if (b->p && b->len + (size_t)n < b->cap) { b->len += (size_t)n; return; }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *q = realloc(b->p, cap);
        if (!q) { b->oom = 1; return; }
        b->p = q;
        b->cap = cap;
    }
}

static const char *str(const cJSON *o, const char *key) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? s : "-";
}

static int yes(const cJSON *o, const char *key) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key)); }

static void render_text(const cJSON *r, sbuf *b) {
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(r, "cpu");
    const cJSON *tier = cJSON_GetObjectItemCaseSensitive(r, "tier");
    const cJSON *cuda = cJSON_GetObjectItemCaseSensitive(r, "cuda");
    sb_printf(b, "zfast %s\n  build    %s\n", str(r, "version"), str(r, "build"));
    sb_printf(b, "CPU        %s, %d cores\n", str(cpu, "brand"),
              (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cpu, "cores")));
    sb_printf(b, "features  ");
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(cpu, "features")) if (cJSON_IsTrue(f)) sb_printf(b, " %s", f->string);
    sb_printf(b, "\n  absent  ");
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(cpu, "features")) if (!cJSON_IsTrue(f)) sb_printf(b, " %s", f->string);
    int isa_env = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cpu, "isa_env"));
    sb_printf(b, "\nISA        detected %s, kernels capped at %s (ZF_CPU_ISA %s)\n", str(cpu, "isa_detected"),
              str(cpu, "isa_cap"), isa_env ? str(cpu, "isa_env") : "unset");
    sb_printf(b, "threads    %d\n", (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "threads")));
    sb_printf(b, "tier       %s (ZF_TIER %s)\n", str(tier, "current"),
              cJSON_IsString(cJSON_GetObjectItemCaseSensitive(tier, "env")) ? str(tier, "env") : "unset");
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(tier, "error")))
        sb_printf(b, "  ERROR    %s: every op fails until this is fixed\n", str(tier, "error"));
    sb_printf(b, "CUDA       built %s, loadable %s, device %s: %s\n", yes(cuda, "built") ? "yes" : "no",
              yes(cuda, "loadable") ? "yes" : "no", yes(cuda, "device") ? "yes" : "no", str(cuda, "status"));
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cuda, "describe");
    if (d && !cJSON_IsNull(d)) {
        char *s = cJSON_PrintUnformatted(d);
        sb_printf(b, "  device   %s\n", s ? s : "?");
        free(s);
    }
    const cJSON *be;
    cJSON_ArrayForEach(be, cJSON_GetObjectItemCaseSensitive(r, "backends")) {
        sb_printf(b, "\n%s backend: the variant each tier runs, and why\n", be->string);
        const cJSON *op;
        cJSON_ArrayForEach(op, be) {
            sb_printf(b, "  %s\n", str(op, "op"));
            const cJSON *t;
            cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(op, "tiers"))
                sb_printf(b, "    %-7s %-36s %s\n", t->string, str(t, "variant"), str(t, "why"));
        }
    }
    sb_printf(b, "\nregistered variants (self-test state after the picks above)\n");
    sb_printf(b, "  %-34s %-8s %-7s %-7s %-9s %s\n", "name", "fidelity", "tier", "isa", "self-test", "note / reason");
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(r, "variants")) {
        const char *st = str(v, "selftest");
        sb_printf(b, "  %-34s %-8s %-7s %-7s %-9s %s", str(v, "name"), str(v, "fidelity"), str(v, "tier"), str(v, "isa"),
                  st, str(v, "note"));
        if (strcmp(st, "failed") == 0) sb_printf(b, " | DISABLED: %s", str(v, "reason"));
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "evidence"))) sb_printf(b, " | evidence %s", str(v, "evidence"));
        sb_printf(b, "\n");
    }
}

zf_status zf_caps_report(int json, char **out) {
    if (!out) return zf_error(ZF_ERR_INVALID_ARG, "[caps] out is NULL; expected a char ** to receive the report");
    if (json != 0 && json != 1)
        return zf_error(ZF_ERR_INVALID_ARG, "[caps] json is %d; expected 0 (text) or 1 (JSON)", json);
    cJSON *r = report_tree();
    if (!r) return zf_error(ZF_ERR_NO_MEMORY, "[caps] no memory for the report");
    char *s = NULL;
    if (json) {
        s = cJSON_Print(r);
    } else {
        sbuf b = {0};
        render_text(r, &b);
        if (b.oom) free(b.p);
        else s = b.p;
    }
    cJSON_Delete(r);
    if (!s) return zf_error(ZF_ERR_NO_MEMORY, "[caps] no memory for the report");
    *out = s;
    return ZF_OK;
}
