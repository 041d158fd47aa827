#!/usr/bin/env bash
# The GPU machine's image lacks cJSON and PCRE2 and cannot reach a package
# registry: this unpacks their Debian packages into .gpudeps/ (ignored by
# git), which scripts/gpu-check.sh picks up. Pass `carry: [".gpudeps"]` to
# the device run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download libcjson1 libcjson-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 \
    libpcre2-posix3 libpcre2-dev >/dev/null)
rm -rf "$root/.gpudeps"
mkdir -p "$root/.gpudeps"
for f in "$tmp"/*.deb; do dpkg -x "$f" "$root/.gpudeps"; done
exclude=$root/.git/info/exclude
grep -qx '/.gpudeps/' "$exclude" 2>/dev/null || echo '/.gpudeps/' >>"$exclude"
echo "unpacked into $root/.gpudeps"
