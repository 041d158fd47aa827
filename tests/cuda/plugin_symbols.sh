#!/usr/bin/env bash
# The CUDA plugin is opened with dlopen by libzfast's loader and reaches the
# library only through the host table it is handed: it must not need any zf_
# symbol at load time (a core function called from plugin code links fine,
# then fails the load on every machine with a GPU).
#   tests/cuda/plugin_symbols.sh libzfast_cuda.so
set -u
lib=${1:?usage: plugin_symbols.sh libzfast_cuda.so}
command -v nm >/dev/null || { echo "plugin_symbols: nm not found (binutils)"; exit 77; }
und=$(nm -D --undefined-only "$lib" | awk '{print $NF}' | grep '^zf_')
if [ -n "$und" ]; then
    echo "plugin_symbols: $lib needs symbols of libzfast, which it cannot link to:"
    echo "$und"
    exit 1
fi
echo "plugin_symbols: no undefined zf_ symbols in $lib"
