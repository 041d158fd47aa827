/* zf gate's verdict from its rows (its own file so a unit test can link it):
 * per shape the row's verdict, overall the rule written into the capsule. */
#include <stdio.h>
#include <string.h>

#include "gate.h"

void zf_gate_verdict(cJSON *cap, const char *fused_v, const char *stock_v) {
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(cap, "rows");
    int n = 0, n_enable = 0, n_slower = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
        n++;
        n_enable += strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "verdict")), "enable") == 0;
        n_slower += strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "reason")), "fused slower beyond the spread") == 0;
    }
    int enable = n_slower == 0 && 2 * n_enable >= n && strcmp(fused_v, stock_v) != 0;
    char why[160];
    snprintf(why, sizeof why, "fused faster beyond the spread on %d of %d shapes, slower on %d", n_enable, n, n_slower);
    cJSON_AddStringToObject(cap, "verdict", enable ? "enable" : "not worth it");
    cJSON_AddStringToObject(cap, "verdict_reason", why);
    cJSON_AddStringToObject(cap, "verdict_rule",
                            "a shape: enable when the fused maximum is below the stock minimum; overall: enable when "
                            "that holds on at least half the shapes, the fused op is slower beyond the spread on none, and the "
                            "tier's choice is not the stock variant itself");
}
