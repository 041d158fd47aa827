/* Status + thread-local error message. */
#ifndef ZF_CORE_ERROR_H
#define ZF_CORE_ERROR_H

#include "zfast.h"

#if defined(__GNUC__)
#define ZF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ZF_PRINTF(a, b)
#endif

/* Records the message for zf_last_error() and returns s. Messages start with
 * the op's name in brackets: "[swiglu] gate and up differ in shape ...". */
zf_status zf_error(zf_status s, const char *fmt, ...) ZF_PRINTF(2, 3);
void zf_clear_error(void);

/* Propagate a failed status. */
#define ZF_TRY(expr)                                                           \
    do {                                                                       \
        zf_status zf_try_s_ = (expr);                                          \
        if (zf_try_s_ != ZF_OK) return zf_try_s_;                              \
    } while (0)

#endif
