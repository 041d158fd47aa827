/* Build identity for records (capsules): the commit this library was
 * built from, stamped at build time. */
#ifndef ZF_CORE_VERSION_H
#define ZF_CORE_VERSION_H

#include "zfast.h"

/* Short commit id, "-dirty" when sources differed from it, or "unknown". */
const char *zf_git_commit(void);

#endif
