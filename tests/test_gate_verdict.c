/* zf gate's overall verdict (tools/zf/gate_verdict.c) on hand-built rows:
 * enable when the fused op wins beyond the spread on at least half the
 * shapes, loses beyond it on none, and the tier's choice is not the stock
 * variant itself. Timing decides which rows a real gate produces, so the
 * edges of the rule are only reachable here. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <string.h>

#include "gate.h"
#include "harness.h"

#define WIN "enable", "fused faster beyond the spread"
#define TIE "not worth it", "the difference is within the spread"
#define LOSS "not worth it", "fused slower beyond the spread"

/* rows: n pairs of (verdict, reason) */
static void expect(const char *what, const char *fused_v, const char *stock_v, const char *want, int n, ...) {
    cJSON *cap = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(cap, "rows");
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "verdict", va_arg(ap, const char *));
        cJSON_AddStringToObject(r, "reason", va_arg(ap, const char *));
        cJSON_AddItemToArray(rows, r);
    }
    va_end(ap);
    zf_gate_verdict(cap, fused_v, stock_v);
    const char *got = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cap, "verdict"));
    ZT_CHECK(got && strcmp(got, want) == 0, "%s: verdict %s, expected %s", what, got ? got : "(none)", want);
    ZT_CHECK(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cap, "verdict_reason")) &&
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cap, "verdict_rule")),
             "%s: no verdict_reason or verdict_rule", what);
    cJSON_Delete(cap);
}

int main(void) {
    zt_init("test_gate_verdict");
    const char *f = "cpu.avx2.swiglu.exact", *s = "cpu.avx2.swiglu.stock";
    expect("every shape wins", f, s, "enable", 3, WIN, WIN, WIN);
    expect("exactly half win, the rest tie", f, s, "enable", 2, WIN, TIE);
    expect("half win of four", f, s, "enable", 4, TIE, WIN, TIE, WIN);
    expect("under half win", f, s, "not worth it", 3, WIN, TIE, TIE);
    expect("one loss among wins", f, s, "not worth it", 3, WIN, WIN, LOSS);
    expect("the tier runs the stock variant", s, s, "not worth it", 2, WIN, WIN);
    expect("every shape ties", f, s, "not worth it", 2, TIE, TIE);
    return zt_finish();
}
