/* libFuzzer entry: any bytes as a capsule's JSON through what `zf capsule
 * show` and `zf capsule diff` print for every kind (gate, validate, bench):
 * a capsule is a file users pass around, so a malformed one (wrong types,
 * missing or odd fields, huge strings) must print something and never
 * crash. The text up to the first NUL is capsule A, the rest capsule B;
 * each is shown and each pair diffed, kinds regardless. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capsule_report.h"
#include "gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *g_null;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_null && !(g_null = fopen("/dev/null", "w"))) return 0;
    const uint8_t *nul = memchr(data, 0, size);
    const size_t na = nul ? (size_t)(nul - data) : size;
    cJSON *a = cJSON_ParseWithLength((const char *)data, na);
    cJSON *b = nul ? cJSON_ParseWithLength((const char *)nul + 1, size - na - 1) : NULL;
    const cJSON *caps[2] = {a, b ? b : a};
    for (int i = 0; i < 2 && caps[i]; i++) {
        zf_gate_print(caps[i], g_null);
        zf_validate_print(caps[i], g_null);
        zf_bench_print(caps[i], g_null);
    }
    if (a) {
        zf_gate_diff(caps[0], caps[1], g_null);
        zf_validate_diff(caps[0], caps[1], g_null);
        zf_bench_diff(caps[0], caps[1], g_null);
        zf_gate_diff(caps[1], caps[0], g_null);
        zf_validate_diff(caps[1], caps[0], g_null);
        zf_bench_diff(caps[1], caps[0], g_null);
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    return 0;
}
