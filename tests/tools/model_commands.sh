#!/usr/bin/env bash
# zf synth / validate / ppl end to end on synthetic models of both
# architectures and formats, and on the real SmolLM2 file when present.
#   model_commands.sh ZF_BINARY REPO_DIR
set -uo pipefail
zf=$1
repo=$2
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
has() { grep -q "$2" "$dir/$1" || { echo "FAIL: '$2' not in $1"; cat "$dir/$1"; fail=1; }; }

check "synth llama gguf" 0 "$zf" synth --arch llama --preset tiny --format gguf --quant q4_0 -o "$dir/llama.gguf"
check "synth llama mlx" 0 "$zf" synth --arch llama --preset tiny --format mlx -o "$dir/llama-mlx"
check "synth qwen3_moe gguf" 0 "$zf" synth --arch qwen3_moe --preset tiny --format gguf --quant q8_0 -o "$dir/moe.gguf"
check "synth qwen3_moe mlx" 0 "$zf" synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o "$dir/moe-mlx"
for m in llama.gguf llama-mlx moe.gguf moe-mlx; do
    check "validate $m" 0 "$zf" validate "$dir/$m" -n 16 --runs 2 -o "$dir/$m.capsule.json"
    has out "PASS"
    check "capsule show $m" 0 "$zf" capsule show "$dir/$m.capsule.json"
done
printf 'The quick brown fox jumps over the lazy dog. 0123456789\n%.0s' {1..20} >"$dir/text.txt"
check "ppl llama" 0 "$zf" ppl "$dir/llama.gguf" "$dir/text.txt" -c 64
has out "perplexity"

# bad input: clear errors, exit codes 1 (work failed) or 2 (usage)
check "validate missing model" 1 "$zf" validate "$dir/nope.gguf"
check "validate bad -n" 2 "$zf" validate "$dir/llama.gguf" -n zero
check "validate unknown option" 2 "$zf" validate "$dir/llama.gguf" --frobnicate
check "validate missing prompts file" 2 "$zf" validate "$dir/llama.gguf" --prompts "$dir/none.txt"
head -c 1000 "$dir/llama.gguf" >"$dir/truncated.gguf"
check "validate truncated gguf" 1 "$zf" validate "$dir/truncated.gguf"
has err "gguf"
check "synth unknown preset" 1 "$zf" synth --arch llama --preset huge --format gguf -o "$dir/x.gguf"
has err "tiny"

real="$repo/models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$real" ] && [ -z "${ZF_TEST_QUICK:-}" ]; then
    check "validate SmolLM2 stable" 0 "$zf" validate "$real" -n 32 --runs 1 -o "$dir/smol.json"
    has out "PASS"
fi
exit $fail
