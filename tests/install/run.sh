#!/bin/sh
# Installs the zfast build in BUILD_DIR into a temporary prefix, then builds
# the consumer program with pkg-config and with find_package, and runs it.
#   tests/install/run.sh BUILD_DIR
set -eu
build=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
pc=$(find "$prefix" -name zfast.pc)
[ -n "$pc" ] || { echo "no zfast.pc installed"; exit 1; }

echo "== pkg-config (shared)"
export PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
${CC:-cc} -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$tmp/consumer_pc" $(pkg-config --cflags --libs zfast)
LD_LIBRARY_PATH="$(pkg-config --variable=libdir zfast)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/consumer_pc"

echo "== pkg-config --static"
${CC:-cc} -std=c11 "$here/consumer.c" -o "$tmp/consumer_pc_static" $(pkg-config --cflags zfast) \
    "$(pkg-config --variable=libdir zfast)/libzfast.a" $(pkg-config --static --libs-only-other --libs-only-l zfast | sed 's/-lzfast//')
"$tmp/consumer_pc_static"

echo "== find_package (zfast::zfast, zfast::zfast_static)"
cmake -S "$here" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/build" >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
"$tmp/build/consumer_shared"
"$tmp/build/consumer_static"
