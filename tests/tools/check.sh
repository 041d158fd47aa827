# shellcheck shell=bash
# shellcheck disable=SC2034 # $fail is read by the scripts that source this file
# Shared by the zf command tests (source it): a scratch $dir removed at exit,
# a $fail flag, check (exit code of a command) and has (text in its output).
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
check() { # description, expected exit code, command...
    local what=$1 want=$2
    shift 2
    "$@" >"$dir/out" 2>"$dir/err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL: $what: exit $rc, expected $want"; cat "$dir/out" "$dir/err"; fail=1
    else
        echo "ok: $what"
    fi
}
has() { grep -q -e "$2" "$dir/$1" || { echo "FAIL: '$2' not in $1"; cat "$dir/$1"; fail=1; }; }
