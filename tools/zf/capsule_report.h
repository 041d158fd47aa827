/* How `zf capsule show` prints validate and bench capsules, and what
 * `zf capsule diff` compares between two of a kind (after the setup). */
#ifndef ZF_TOOL_CAPSULE_REPORT_H
#define ZF_TOOL_CAPSULE_REPORT_H

#include <stdio.h>

#include <cjson/cJSON.h>

void zf_validate_print(const cJSON *cap, FILE *f);
/* What was run, then the verdict ("pass -> fail") and the medians' changes. */
void zf_validate_diff(const cJSON *a, const cJSON *b, FILE *f);
void zf_bench_print(const cJSON *cap, FILE *f);
/* What was run, then prefill, decode, bandwidth and roofline changes. */
void zf_bench_diff(const cJSON *a, const cJSON *b, FILE *f);

#endif
