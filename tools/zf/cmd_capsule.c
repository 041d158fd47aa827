/* zf capsule show FILE | zf capsule diff A B */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "capsule.h"
#include "capsule_report.h"
#include "commands.h"
#include "gate.h"

static const char k_usage[] = "zf capsule show FILE | zf capsule diff A B";

/* How each kind is shown and compared (gate_report.c, capsule_report.c);
 * a kind without an entry is shown as JSON and compared by its header. */
typedef struct capsule_kind {
    const char *kind;
    void (*show)(const cJSON *cap, FILE *f);
    void (*diff)(const cJSON *a, const cJSON *b, FILE *f);
} capsule_kind;

static const capsule_kind k_kinds[] = {
    {"gate", zf_gate_print, zf_gate_diff},
    {"validate", zf_validate_print, zf_validate_diff},
    {"bench", zf_bench_print, zf_bench_diff},
};

static const capsule_kind *kind_of(const cJSON *cap) {
    const char *k = zf_cj_str(cap, "kind");
    for (size_t i = 0; i < sizeof k_kinds / sizeof *k_kinds; i++)
        if (strcmp(k, k_kinds[i].kind) == 0) return &k_kinds[i];
    return NULL;
}

static int show(const char *path) {
    char err[512];
    cJSON *cap = zf_capsule_read(path, err, sizeof err);
    if (!cap) { fprintf(stderr, "zf: %s\n", err); return 1; }
    zf_capsule_print_header(cap, stdout);
    printf("\n");
    const capsule_kind *k = kind_of(cap);
    if (k) {
        k->show(cap, stdout);
    } else {
        char *s = cJSON_Print(cap);
        printf("%s\n", s ? s : "");
        free(s);
    }
    cJSON_Delete(cap);
    return 0;
}

static int diff(const char *pa, const char *pb) {
    char err[512];
    cJSON *a = zf_capsule_read(pa, err, sizeof err), *b = a ? zf_capsule_read(pb, err, sizeof err) : NULL;
    if (!a || !b) {
        fprintf(stderr, "zf: %s\n", err);
        cJSON_Delete(a);
        return 1;
    }
    int rc = 0;
    if (strcmp(zf_cj_str(a, "kind"), zf_cj_str(b, "kind")) != 0) {
        fprintf(stderr, "zf: cannot compare a %s capsule with a %s capsule\n", zf_cj_str(a, "kind"), zf_cj_str(b, "kind"));
        rc = 2;
    } else {
        zf_capsule_diff_header(a, b, stdout);
        const capsule_kind *k = kind_of(a);
        if (k) {
            printf("\n");
            k->diff(a, b, stdout);
        }
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    return rc;
}

int zf_cmd_capsule(int argc, char **argv) {
    const char *pos[3];
    int n_pos, rc = zf_parse_args(k_usage, argc, argv, NULL, 0, pos, 3, &n_pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (n_pos == 2 && strcmp(pos[0], "show") == 0) return show(pos[1]);
    if (n_pos == 3 && strcmp(pos[0], "diff") == 0) return diff(pos[1], pos[2]);
    if (n_pos == 0) return zf_usage_error(k_usage, "show or diff?");
    return zf_usage_error(k_usage, "expected 'show FILE' or 'diff A B'");
}
