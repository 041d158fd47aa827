#!/usr/bin/env bash
# zf synth / validate / ppl / run / bench end to end on synthetic models of both
# architectures and formats, and on the real SmolLM2 file when present.
#   model_commands.sh ZF_BINARY REPO_DIR
set -uo pipefail
zf=$1
repo=$2
. "$(dirname "$0")/check.sh"

check "synth llama gguf" 0 "$zf" synth --arch llama --preset tiny --format gguf --quant q4_0 -o "$dir/llama.gguf"
check "synth llama mlx" 0 "$zf" synth --arch llama --preset tiny --format mlx -o "$dir/llama-mlx"
check "synth qwen3_moe gguf" 0 "$zf" synth --arch qwen3_moe --preset tiny --format gguf --quant q8_0 -o "$dir/moe.gguf"
check "synth qwen3_moe mlx" 0 "$zf" synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o "$dir/moe-mlx"
# many layers: the tensor plan grows past 1024 entries (its realloc once left a dangling name)
check "synth qwen3_moe mlx 64 layers" 0 "$zf" synth --arch qwen3_moe --preset tiny --layers 64 --format mlx -o "$dir/moe64"
for m in llama.gguf llama-mlx moe.gguf moe-mlx; do
    check "validate $m" 0 "$zf" validate "$dir/$m" -n 16 --runs 2 -o "$dir/$m.capsule.json"
    has out "PASS"
    check "capsule show $m" 0 "$zf" capsule show "$dir/$m.capsule.json"
    # bf16 activations: every exact fusion must still give the stock tokens
    check "validate $m bf16" 0 "$zf" validate "$dir/$m" -n 16 --runs 1 --dtype bf16 -o "$dir/$m.bf16.json"
    has out "PASS"
done
check "validate bad --dtype" 2 "$zf" validate "$dir/llama.gguf" --dtype u32
# run: streams text, timings on stderr; a seed replays a sampled run
for m in llama.gguf moe-mlx; do
    check "run $m" 0 "$zf" run "$dir/$m" -p "Hello there" -n 8
    has err "decode"
    check "run $m sampled" 0 "$zf" run "$dir/$m" -p "Hello" -n 8 --temp 0.8 --top-k 20 --top-p 0.9 --seed 7
    cp "$dir/out" "$dir/sampled1"
    check "run $m sampled again" 0 "$zf" run "$dir/$m" -p "Hello" -n 8 --temp 0.8 --top-k 20 --top-p 0.9 --seed 7
    cmp -s "$dir/out" "$dir/sampled1" || { echo "FAIL: run $m: the same seed gave another text"; fail=1; }
done
check "run --chat moe.gguf" 0 "$zf" run "$dir/moe.gguf" --chat -p "Hi" -n 4
check "run without -p" 2 "$zf" run "$dir/llama.gguf"
check "run bad --top-p" 2 "$zf" run "$dir/llama.gguf" -p "x" --top-p 0
check "run missing model" 1 "$zf" run "$dir/nope.gguf" -p "x"
# bench: medians, roofline, capsule; --json is one object
for m in llama.gguf moe.gguf; do
    check "bench $m" 0 "$zf" bench "$dir/$m" -p 16 -n 8 -r 2 -o "$dir/$m.bench.json"
    has out "roofline"
    has out "each run against the probe after it"
    has out "kv cache  .* MB read per decoded token at 20.5 keys"
    check "capsule show bench $m" 0 "$zf" capsule show "$dir/$m.bench.json"
done
check "bench --json" 0 "$zf" bench "$dir/llama-mlx" -p 8 -n 4 -r 1 --json -o "$dir/b.json"
has out '"kind":	"bench"'
has out '"decode_tok_s"'
has out '"paired_fraction"'
has out '"bandwidth_gbps"'
# 2 layers x 2 kv heads x head_dim 16 x (k, v) x 4 bytes (f32 cache) x 10.5 keys (8 + (4 + 1) / 2)
has out '"kv_bytes_per_token":	5376'
# the capsule's model hash is the file's sha256 (a GGUF; an MLX directory's one weight file)
while read -r f cap; do
    want=$(sha256sum "$dir/$f" | cut -d' ' -f1)
    grep -q "\"sha256\":.*\"$want\"" "$dir/$cap" || { echo "FAIL: $cap lacks the sha256 of $f ($want)"; fail=1; }
done <<EOF
llama.gguf llama.gguf.bench.json
llama-mlx/model.safetensors b.json
EOF
check "bench bad -r" 2 "$zf" bench "$dir/llama.gguf" -r 0
has err "-r '0': expected 1\.\.100"
# integer options: range, trailing junk, a sign, the ends of the range
check "bench bad -p" 2 "$zf" bench "$dir/llama.gguf" -p 65537
has err "-p '65537': expected 1\.\.65536"
check "bench bad -n" 2 "$zf" bench "$dir/llama.gguf" -n 8x
has err "-n '8x': expected 1\.\.65536"
check "bench bad -t" 2 "$zf" bench "$dir/llama.gguf" -t -1
check "ppl bad -c" 2 "$zf" ppl "$dir/llama.gguf" "$repo/README.md" -c 1
has err "-c '1': expected 2\.\.1048576"
check "validate bad --runs" 2 "$zf" validate "$dir/llama.gguf" --runs 101
has err "--runs '101': expected 1\.\.100"
check "bench -p 1 -r 1 (the range's low end)" 0 "$zf" bench "$dir/llama.gguf" -p 1 -n 1 -r 1 -o "$dir/b1.json"
# --dtype: activations and the KV cache (half the cache bytes in f16)
check "bench --dtype f16" 0 "$zf" bench "$dir/llama-mlx" -p 8 -n 4 -r 1 --dtype f16 --json -o "$dir/b16.json"
has out '"kv_bytes_per_token":	2688'
has out '"activation_dtype":	"f16"'
check "bench bad --dtype" 2 "$zf" bench "$dir/llama.gguf" --dtype f64
check "run --dtype bf16" 0 "$zf" run "$dir/llama.gguf" -p "Hello" -n 4 --dtype bf16
check "run bad --dtype" 2 "$zf" run "$dir/llama.gguf" -p "Hello" --dtype int8

printf 'The quick brown fox jumps over the lazy dog. 0123456789\n%.0s' {1..20} >"$dir/text.txt"
check "ppl llama" 0 "$zf" ppl "$dir/llama.gguf" "$dir/text.txt" -c 64
has out "perplexity"
check "ppl llama --dtype bf16" 0 "$zf" ppl "$dir/llama.gguf" "$dir/text.txt" -c 64 --dtype bf16
has out "perplexity"
check "ppl bad --dtype" 2 "$zf" ppl "$dir/llama.gguf" "$dir/text.txt" --dtype f8

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
check "synth mlx into a missing parent" 1 "$zf" synth --arch llama --preset tiny --format mlx -o "$dir/no/such/dir"
has err "parent must exist"

real="$repo/models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$real" ] && [ -z "${ZF_TEST_QUICK:-}" ]; then
    check "validate SmolLM2 stable" 0 "$zf" validate "$real" -n 32 --runs 1 -o "$dir/smol.json"
    has out "PASS"
    check "run SmolLM2 chat" 0 "$zf" run "$real" --chat -p "What is the capital of France?" -n 24
    has out "Paris"
fi
exit $fail
