/* LD_PRELOAD shim for `make test-cores`: sysconf() reports ZF_FAKE_CORES
 * online cores, so the thread pool's default (one thread per core) runs at
 * a core count this machine does not have. The CI machine has 2 cores; the
 * GPU host that found the streamed-head overflow (docs/PERF-CPU.md,
 * session 21) has 16, and task splits, chunk tails and per-thread ranges
 * differ with the count. Test-only: nothing in the library reads it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

long sysconf(int name) {
    static long (*real)(int);
    if (!real) real = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
    if (name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF) {
        const char *e = getenv("ZF_FAKE_CORES");
        long n = e ? atol(e) : 0;
        if (n > 0) return n;
    }
    return real(name);
}
