#!/usr/bin/env bash
# Installs what building and testing zfast needs, when it is missing:
# Debian packages (apt-get) and Python packages (pip). Idempotent and quiet
# when everything is there.
set -euo pipefail
apt_pkgs=()
need() { dpkg -s "$1" >/dev/null 2>&1 || apt_pkgs+=("$1"); }
for p in build-essential cmake pkg-config git patch libcjson-dev libpcre2-dev libssl-dev clang libclang-rt-14-dev; do need "$p"; done
if [ ${#apt_pkgs[@]} -gt 0 ]; then
    echo "installing Debian packages: ${apt_pkgs[*]}" >&2
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -q "${apt_pkgs[@]}" >/dev/null 2>&1 ||
        { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${apt_pkgs[@]}" >/dev/null; }
fi
# Python: the tokenizer golden check compares with the `tokenizers` library.
if ! python3 -c "import tokenizers" >/dev/null 2>&1; then
    python3 -m pip install --quiet tokenizers >&2 || echo "note: tokenizers not installed; its live check is skipped" >&2
fi
