# shellcheck shell=bash
# Sourced by the GPU scripts (gpu-check.sh, gpu-ab.sh): the libraries a
# bare GPU image may lack (cJSON, PCRE2, OpenSSL), carried as unpacked .debs in
# .gpudeps/ (scripts/gpu-deps.sh makes it; the device run carries it).
# Needs ROOT, the repository root.
if [ -d "$ROOT/.gpudeps/usr" ]; then
    export CMAKE_PREFIX_PATH=$ROOT/.gpudeps/usr
    export LD_LIBRARY_PATH=$ROOT/.gpudeps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
    export PKG_CONFIG_PATH=$ROOT/.gpudeps/usr/lib/x86_64-linux-gnu/pkgconfig:${PKG_CONFIG_PATH:-}
    export CPATH=$ROOT/.gpudeps/usr/include:${CPATH:-}
    export LIBRARY_PATH=$ROOT/.gpudeps/usr/lib/x86_64-linux-gnu:${LIBRARY_PATH:-}
fi
