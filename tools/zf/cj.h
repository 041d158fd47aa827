/* Reading a capsule's fields: what the printers (gate_report.c,
 * capsule_report.c) and the header code use, apart from the rest of the
 * tool so that the capsule fuzzer links them alone. */
#ifndef ZF_TOOL_CJ_H
#define ZF_TOOL_CJ_H

#include <cjson/cJSON.h>

/* A field of object o: its string or "-", its number or NAN, when absent
 * or of another type (o may be NULL or not an object). */
const char *zf_cj_str(const cJSON *o, const char *key);
double zf_cj_num(const cJSON *o, const char *key);

#endif
