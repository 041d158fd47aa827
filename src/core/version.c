#include "core/version.h"

#include "zf_commit.h" /* generated at build time: ZF_GIT_COMMIT */

#ifndef ZF_BUILD_FLAGS
#define ZF_BUILD_FLAGS ""
#endif

const char *zf_version(void) { return ZF_VERSION_STRING; }

const char *zf_build_info(void) {
    return "zfast " ZF_VERSION_STRING " commit " ZF_GIT_COMMIT " cc " __VERSION__ " flags " ZF_BUILD_FLAGS;
}

const char *zf_git_commit(void) { return ZF_GIT_COMMIT; }
