#include "capsule.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include "capsule_report.h"
#include "core/cpu_features.h"
#include "core/cuda_loader.h"
#include "core/version.h"
#include "model/sha256.h"

void zf_capsule_timestamps(char iso[32], char compact[32]) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(iso, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    strftime(compact, 32, "%Y%m%d-%H%M%S", &tm);
}

static cJSON *machine_json(void) {
    const zf_cpu_info *c = zf_cpu_info_get();
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "cpu", c->brand);
    cJSON_AddNumberToObject(m, "cores", c->cores);
    cJSON_AddNumberToObject(m, "threads", zf_get_num_threads());
    cJSON *f = cJSON_AddArrayToObject(m, "features");
    zf_cpu_feature feats[ZF_CPU_FEATURE_COUNT];
    zf_cpu_features(feats);
    for (int i = 0; i < ZF_CPU_FEATURE_COUNT; i++)
        if (feats[i].on) cJSON_AddItemToArray(f, cJSON_CreateString(feats[i].name));
    cJSON_AddStringToObject(m, "isa_detected", zf_cpu_isa_name(zf_cpu_isa_detected()));
    cJSON_AddStringToObject(m, "isa_cap", zf_cpu_isa_name(zf_get_cpu_isa()));
    struct utsname u;
    if (uname(&u) == 0) {
        char os[3 * sizeof u.sysname + 4];
        snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
        cJSON_AddStringToObject(m, "os", os);
    }
    /* other work on the machine makes timings noisy: record how busy it was */
    double load[3];
    if (getloadavg(load, 3) == 3) cJSON_AddNumberToObject(m, "load_average", load[0]);
    /* the GPU, when the CUDA plugin has a device: its own description */
    const zf_cuda_plugin *p = zf_cuda_plugin_loaded(NULL);
    cJSON *gpu = NULL;
    if (p && p->ready && p->describe_json) {
        char buf[2048] = "";
        p->describe_json(buf, sizeof buf);
        gpu = cJSON_Parse(buf);
        if (!gpu) gpu = cJSON_CreateString(buf);
    }
    cJSON_AddItemToObject(m, "gpu", gpu ? gpu : cJSON_CreateNull());
    return m;
}

cJSON *zf_capsule_new(const char *kind) {
    cJSON *c = cJSON_CreateObject();
    if (!c) return NULL;
    char iso[32], compact[32];
    zf_capsule_timestamps(iso, compact);
    cJSON_AddStringToObject(c, "schema", ZF_CAPSULE_SCHEMA);
    cJSON_AddStringToObject(c, "kind", kind);
    cJSON_AddStringToObject(c, "id", ""); /* set by zf_capsule_seal */
    cJSON_AddStringToObject(c, "created", iso);
    cJSON *tool = cJSON_AddObjectToObject(c, "tool");
    cJSON_AddStringToObject(tool, "name", "zf");
    cJSON_AddStringToObject(tool, "version", zf_version());
    cJSON_AddStringToObject(tool, "commit", zf_git_commit());
    cJSON_AddStringToObject(tool, "build", zf_build_info());
    cJSON_AddItemToObject(c, "machine", machine_json());
    cJSON_AddStringToObject(c, "tier", zf_tier_name(zf_get_tier()));
    cJSON_AddObjectToObject(c, "kernels");
    return c;
}

void zf_capsule_add_kernel(cJSON *cap, zf_op op, zf_device be, zf_fidelity fidelity) {
    cJSON *k = cJSON_GetObjectItemCaseSensitive(cap, "kernels");
    if (!k) return;
    char key[64];
    const char *dev = be == ZF_DEVICE_CUDA ? "cuda." : ""; /* CPU keys keep their original form */
    if (fidelity == ZF_FIDELITY_AUTO) snprintf(key, sizeof key, "%s%s", dev, zf_op_name(op));
    else snprintf(key, sizeof key, "%s%s.%s", dev, zf_op_name(op), zf_fidelity_name(fidelity));
    const zf_variant *v = NULL;
    if (zf_pick(op, be, fidelity, &v) != ZF_OK) v = NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(k, key);
    cJSON_AddStringToObject(k, key, v ? v->name : "none");
}

/* SHA-256 of the capsule printed without its id; 16 hex digits in out. */
static int content_id(const cJSON *cap, char out[17]) {
    cJSON *copy = cJSON_Duplicate(cap, 1);
    if (!copy) return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "id");
    char *s = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    if (!s) return -1;
    zf_sha256 h;
    char hex[65];
    const int bad = zf_sha256_init(&h) != 0;
    zf_sha256_update(&h, s, strlen(s));
    free(s);
    if (zf_sha256_final_hex(&h, hex) != 0 || bad) return -1;
    memcpy(out, hex, 16);
    out[16] = '\0';
    return 0;
}

int zf_capsule_seal(cJSON *cap) {
    char id[17];
    if (content_id(cap, id) != 0) return -1;
    cJSON *item = cJSON_CreateString(id);
    if (!item) return -1;
    /* replacing keeps the place zf_capsule_new gave it, near the top */
    if (cJSON_GetObjectItemCaseSensitive(cap, "id")) return cJSON_ReplaceItemInObjectCaseSensitive(cap, "id", item) ? 0 : -1;
    cJSON_AddItemToObject(cap, "id", item);
    return 0;
}

int zf_capsule_id_ok(const cJSON *cap) {
    const char *stored = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cap, "id"));
    char id[17];
    return stored && content_id(cap, id) == 0 && strcmp(stored, id) == 0;
}

static int make_parent_dir(const char *path, char *err, size_t err_size) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    char dir[1024];
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir) { snprintf(err, err_size, "path too long: %s", path); return -1; }
    memcpy(dir, path, n);
    dir[n] = '\0';
    for (char *p = dir + 1; *p; p++) { /* mkdir -p */
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) break;
        *p = '/';
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, err_size, "cannot create directory %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int zf_capsule_write(const cJSON *cap, const char *path, char *err, size_t err_size) {
    if (make_parent_dir(path, err, err_size) != 0) return -1;
    char *s = cJSON_Print(cap);
    if (!s) { snprintf(err, err_size, "out of memory printing the capsule"); return -1; }
    FILE *f = fopen(path, "w");
    int ok = f && fputs(s, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0) ok = 0;
    free(s);
    if (!ok) snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
    return ok ? 0 : -1;
}

cJSON *zf_capsule_read(const char *path, char *err, size_t err_size) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno)); return NULL; }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) { snprintf(err, err_size, "out of memory reading %s", path); return NULL; }
    buf[len] = '\0';
    cJSON *c = cJSON_Parse(buf);
    if (!c) {
        const char *at = cJSON_GetErrorPtr();
        snprintf(err, err_size, "%s is not valid JSON (near byte %ld)", path, at ? (long)(at - buf) : -1L);
        free(buf);
        return NULL;
    }
    free(buf);
    const char *schema = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "schema"));
    size_t plen = strlen(ZF_CAPSULE_SCHEMA_PREFIX);
    if (!cJSON_IsObject(c) || !schema || strncmp(schema, ZF_CAPSULE_SCHEMA_PREFIX, plen) != 0) {
        snprintf(err, err_size, "%s is not a zfast capsule (no \"schema\": \"%s\")", path, ZF_CAPSULE_SCHEMA);
        cJSON_Delete(c);
        return NULL;
    }
    if (atoi(schema + plen) != ZF_CAPSULE_MAJOR) {
        snprintf(err, err_size, "%s has schema %s; this zf reads %s", path, schema, ZF_CAPSULE_SCHEMA);
        cJSON_Delete(c);
        return NULL;
    }
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "kind"))) {
        snprintf(err, err_size, "%s has no \"kind\"", path);
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

static const char *gpu_name(const cJSON *machine) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(machine, "gpu");
    if (cJSON_IsString(g)) return g->valuestring;
    const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "name"));
    return n ? n : "none";
}

/* "on", "off (ZF_CUDA_PDL=0)", "unsupported ...", or "-" (no GPU, or a
 * capsule from before session 24) */
static const char *gpu_pdl(const cJSON *machine) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(machine, "gpu");
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "programmatic_launch"));
    return v ? v : "-";
}

void zf_capsule_print_header(const cJSON *cap, FILE *f) {
    const cJSON *tool = cJSON_GetObjectItemCaseSensitive(cap, "tool");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cap, "machine");
    fprintf(f, "capsule  %s  kind %s  id %s (%s)  created %s\n", zf_cj_str(cap, "schema"), zf_cj_str(cap, "kind"),
            zf_cj_str(cap, "id"), zf_capsule_id_ok(cap) ? "matches content" : "DOES NOT match content",
            zf_cj_str(cap, "created"));
    fprintf(f, "tool     zf %s commit %s\n", zf_cj_str(tool, "version"), zf_cj_str(tool, "commit"));
    fprintf(f, "machine  %s, %g cores, %g threads, ISA %s (cap %s), GPU %s\n", zf_cj_str(m, "cpu"),
            zf_cj_num(m, "cores"), zf_cj_num(m, "threads"), zf_cj_str(m, "isa_detected"), zf_cj_str(m, "isa_cap"),
            gpu_name(m));
    fprintf(f, "tier     %s\nkernels ", zf_cj_str(cap, "tier"));
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(cap, "kernels"))
        fprintf(f, " %s=%s", k->string, cJSON_IsString(k) ? k->valuestring : "?");
    fprintf(f, "\n");
}

void zf_capsule_diff_header(const cJSON *a, const cJSON *b, FILE *f) {
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(a, "tool"), *tb = cJSON_GetObjectItemCaseSensitive(b, "tool");
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(a, "machine"), *mb = cJSON_GetObjectItemCaseSensitive(b, "machine");
    char na[32], nb[32];
    int n = 0;
    fprintf(f, "A: id %s created %s\nB: id %s created %s\ndifferences in setup:\n", zf_cj_str(a, "id"),
            zf_cj_str(a, "created"), zf_cj_str(b, "id"), zf_cj_str(b, "created"));
    zf_capsule_diff_str(f, "version", zf_cj_str(ta, "version"), zf_cj_str(tb, "version"), &n);
    zf_capsule_diff_str(f, "commit", zf_cj_str(ta, "commit"), zf_cj_str(tb, "commit"), &n);
    zf_capsule_diff_str(f, "build", zf_cj_str(ta, "build"), zf_cj_str(tb, "build"), &n);
    zf_capsule_diff_str(f, "cpu", zf_cj_str(ma, "cpu"), zf_cj_str(mb, "cpu"), &n);
    snprintf(na, sizeof na, "%g", zf_cj_num(ma, "threads"));
    snprintf(nb, sizeof nb, "%g", zf_cj_num(mb, "threads"));
    zf_capsule_diff_str(f, "threads", na, nb, &n);
    zf_capsule_diff_str(f, "isa_cap", zf_cj_str(ma, "isa_cap"), zf_cj_str(mb, "isa_cap"), &n);
    zf_capsule_diff_str(f, "gpu", gpu_name(ma), gpu_name(mb), &n);
    zf_capsule_diff_str(f, "gpu launch", gpu_pdl(ma), gpu_pdl(mb), &n);
    zf_capsule_diff_str(f, "os", zf_cj_str(ma, "os"), zf_cj_str(mb, "os"), &n);
    snprintf(na, sizeof na, "%.1f", zf_cj_num(ma, "load_average"));
    snprintf(nb, sizeof nb, "%.1f", zf_cj_num(mb, "load_average"));
    zf_capsule_diff_str(f, "load", na, nb, &n);
    zf_capsule_diff_str(f, "tier", zf_cj_str(a, "tier"), zf_cj_str(b, "tier"), &n);
    const cJSON *ka = cJSON_GetObjectItemCaseSensitive(a, "kernels"), *kb = cJSON_GetObjectItemCaseSensitive(b, "kernels");
    const cJSON *k;
    cJSON_ArrayForEach(k, ka) {
        char label[80];
        snprintf(label, sizeof label, "kernel %s", k->string);
        zf_capsule_diff_str(f, label, zf_cj_str(ka, k->string), zf_cj_str(kb, k->string), &n);
    }
    cJSON_ArrayForEach(k, kb) {
        if (cJSON_GetObjectItemCaseSensitive(ka, k->string)) continue;
        char label[80];
        snprintf(label, sizeof label, "kernel %s", k->string);
        zf_capsule_diff_str(f, label, "-", zf_cj_str(kb, k->string), &n);
    }
    if (n == 0) fprintf(f, "  none (same commit, build, machine, tier and kernels)\n");
}
