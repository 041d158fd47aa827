#include "zfast.h"

#ifndef ZF_GIT_COMMIT
#define ZF_GIT_COMMIT "unknown"
#endif
#ifndef ZF_BUILD_FLAGS
#define ZF_BUILD_FLAGS ""
#endif

const char *zf_version(void) { return ZF_VERSION_STRING; }

const char *zf_build_info(void) {
    return "zfast " ZF_VERSION_STRING " commit " ZF_GIT_COMMIT " cc " __VERSION__ " flags " ZF_BUILD_FLAGS;
}

