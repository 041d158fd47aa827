/* zf caps [--json]: the capability report (src/core/caps.c). */
#include <stdio.h>

#include "args.h"
#include "commands.h"
#include "zfast.h"

int zf_cmd_caps(int argc, char **argv) {
    static const char usage[] = "zf caps [--json]";
    int json = 0;
    const zf_opt opts[] = {{"--json", NULL, "one JSON object instead of text", NULL, &json}};
    const char *pos[1];
    int n_pos, rc = zf_parse_args(usage, argc, argv, opts, 1, pos, 0, &n_pos);
    if (rc) return rc == 1 ? 0 : rc;
    char *report = NULL;
    if (zf_caps_report(json, &report) != ZF_OK) {
        fprintf(stderr, "zf: %s\n", zf_last_error());
        return 1;
    }
    fputs(report, stdout);
    if (json) fputc('\n', stdout);
    zf_free(report);
    return 0;
}
