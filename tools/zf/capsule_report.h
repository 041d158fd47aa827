/* How `zf capsule show` prints validate and bench capsules, and what
 * `zf capsule diff` compares between two of a kind (after the setup). */
#ifndef ZF_TOOL_CAPSULE_REPORT_H
#define ZF_TOOL_CAPSULE_REPORT_H

#include <stdio.h>

#include <cjson/cJSON.h>

/* One line "  label  a -> b" where the strings a and b differ, counted in *n;
 * nothing where they are equal. Every section of `zf capsule diff` uses it
 * (capsule.c's setup lines too). */
void zf_capsule_diff_str(FILE *f, const char *label, const char *a, const char *b, int *n);

void zf_validate_print(const cJSON *cap, FILE *f);
/* What was run, then the verdict ("pass -> fail") and the medians' changes. */
void zf_validate_diff(const cJSON *a, const cJSON *b, FILE *f);
void zf_bench_print(const cJSON *cap, FILE *f);
/* What was run, then prefill, decode, bandwidth and roofline changes. */
void zf_bench_diff(const cJSON *a, const cJSON *b, FILE *f);

#endif
