#include "args.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zf_usage_error(const char *usage, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zf: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    return 2;
}

static void print_help(const char *usage, const zf_opt *opts, int n_opts) {
    printf("usage: %s\n", usage);
    for (int i = 0; i < n_opts; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        printf("  %-24s %s\n", left, opts[i].help);
    }
}

static const zf_opt *find(const zf_opt *opts, int n_opts, const char *arg, size_t len) {
    for (int i = 0; i < n_opts; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, arg, len) == 0) return &opts[i];
    return NULL;
}

int zf_parse_args(const char *usage, int argc, char **argv, const zf_opt *opts, int n_opts, const char **pos,
                  int max_pos, int *n_pos) {
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(usage, opts, n_opts);
            return 1;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (*n_pos >= max_pos) return zf_usage_error(usage, "unexpected argument '%s'", a);
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const zf_opt *o = find(opts, n_opts, a, len);
        if (!o) return zf_usage_error(usage, "unknown option '%.*s'", (int)len, a);
        if (!o->metavar) {
            if (eq) return zf_usage_error(usage, "option %s takes no value", o->name);
            *o->flag = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v || !*v) return zf_usage_error(usage, "option %s needs a value (%s)", o->name, o->metavar);
        *o->value = v;
    }
    return 0;
}

int zf_arg_long(const char *usage, const char *flag, const char *s, long lo, long hi, long *out) {
    if (!s) return 0;
    char *end;
    const long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return zf_usage_error(usage, "%s '%s': expected %ld..%ld", flag, s, lo, hi);
    *out = v;
    return 0;
}
