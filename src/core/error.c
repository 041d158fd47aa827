#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char g_msg[1024];

zf_status zf_error(zf_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return s;
}

void zf_clear_error(void) { g_msg[0] = '\0'; }

const char *zf_last_error(void) { return g_msg; }

const char *zf_status_name(zf_status s) {
    static const char *const names[ZF_STATUS_COUNT] = {
        "ok", "invalid argument", "shape mismatch", "unsupported dtype", "aliasing",
        "unsupported", "out of memory", "backend error", "i/o error", "malformed file",
        "self-test failed",
    };
    return (s >= 0 && s < ZF_STATUS_COUNT) ? names[s] : "unknown status";
}
