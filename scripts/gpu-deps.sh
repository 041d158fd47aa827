#!/usr/bin/env bash
# The GPU machine's image lacks cJSON and PCRE2 (and may lack OpenSSL's
# headers) and cannot reach a package registry: this unpacks their Debian
# packages into .gpudeps/ (ignored by
# git), which scripts/gpu-check.sh picks up. Pass `carry: [".gpudeps"]` to
# the device run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download libcjson1 libcjson-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 \
    libpcre2-posix3 libpcre2-dev libssl3 libssl-dev >/dev/null)
rm -rf "$root/.gpudeps"
mkdir -p "$root/.gpudeps"
for f in "$tmp"/*.deb; do dpkg -x "$f" "$root/.gpudeps"; done
# the build links libcjson, libpcre2-8 and libcrypto, shared: the rest
# (static archives, docs, OpenSSL's engines and libssl, the 16- and 32-bit
# PCRE2) would only weigh on the device call's 64 MiB carry, which the
# real SmolLM2 (in two halves of 49 MB) shares
lib=$root/.gpudeps/usr/lib/x86_64-linux-gnu
rm -rf "$root/.gpudeps/usr/share" "$lib/"*.a "$lib/engines-3" "$lib/ossl-modules" "$lib/"libssl.so* \
    "$lib/"libpcre2-16.so* "$lib/"libpcre2-32.so*
exclude=$root/.git/info/exclude
grep -qx '/.gpudeps/' "$exclude" 2>/dev/null || echo '/.gpudeps/' >>"$exclude"
echo "unpacked into $root/.gpudeps"
