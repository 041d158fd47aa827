#!/usr/bin/env bash
# --backend and --compare of zf run / validate / bench: argument errors
# everywhere; without a usable GPU, --backend cuda and --compare cpu,cuda
# fail with a clear reason (exit 1); with one, they run and --compare
# finds every token identical. Capsules name the backend(s).
#   backend.sh ZF_BINARY
set -uo pipefail
zf=$1
. "$(dirname "$0")/check.sh"

check "synth llama" 0 "$zf" synth --arch llama --preset tiny --format gguf --quant q4_0 -o "$dir/l.gguf"
check "synth qwen3_moe" 0 "$zf" synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o "$dir/moe"

# argument errors: exit 2 with the reason, GPU or not
check "run --backend gpu" 2 "$zf" run "$dir/l.gguf" -p x --backend gpu
has err "expected cpu or cuda"
check "bench --backend gpu" 2 "$zf" bench "$dir/l.gguf" --backend gpu
printf 'The quick brown fox jumps over the lazy dog. 0123456789\n%.0s' {1..12} >"$dir/text.txt"
check "ppl --backend gpu" 2 "$zf" ppl "$dir/l.gguf" "$dir/text.txt" --backend gpu
check "validate --backend gpu" 2 "$zf" validate "$dir/l.gguf" --backend gpu
check "validate --compare cpu" 2 "$zf" validate "$dir/l.gguf" --compare cpu
has err "two different backends"
check "validate --compare cpu,cpu" 2 "$zf" validate "$dir/l.gguf" --compare cpu,cpu
check "validate --compare cpu,tpu" 2 "$zf" validate "$dir/l.gguf" --compare cpu,tpu
check "validate --compare with --backend" 2 "$zf" validate "$dir/l.gguf" --compare cpu,cuda --backend cuda
has err "leave out --backend"

check "validate --backend cpu" 0 "$zf" validate "$dir/l.gguf" -n 4 --runs 1 --backend cpu -o "$dir/cpu.json"
grep -q '"backend":[[:space:]]*"cpu"' "$dir/cpu.json" || { echo "FAIL: capsule lacks backend cpu"; fail=1; }

# caps first, then grep: with pipefail, grep -q closing the pipe early can
# fail the pipeline (SIGPIPE in zf) and take the no-GPU branch on a GPU
caps=$("$zf" caps --json)
if grep -q '"device":[[:space:]]*true' <<<"$caps"; then
    for m in l.gguf moe; do
        check "run $m --backend cuda" 0 "$zf" run "$dir/$m" -p "Hello" -n 6 --backend cuda
        has err "on the GPU"
        check "validate $m --backend cuda" 0 "$zf" validate "$dir/$m" -n 12 --runs 1 --backend cuda -o "$dir/$m.cuda.json"
        has out "PASS"
        check "validate $m --compare cpu,cuda" 0 "$zf" validate "$dir/$m" -n 12 --runs 1 --compare cpu,cuda \
            -o "$dir/$m.cmp.json"
        has out "cpu vs cuda"
        has out "PASS"
        grep -q '"backend":[[:space:]]*"cpu,cuda"' "$dir/$m.cmp.json" || { echo "FAIL: capsule lacks cpu,cuda"; fail=1; }
        check "ppl $m --backend cuda" 0 "$zf" ppl "$dir/$m" "$dir/text.txt" -c 48 --backend cuda
        cp "$dir/out" "$dir/ppl-cuda"
        check "ppl $m cpu" 0 "$zf" ppl "$dir/$m" "$dir/text.txt" -c 48
        # the same logits bits give the same perplexity digits (the timing differs)
        [ "$(cut -d' ' -f1-2 "$dir/out")" = "$(cut -d' ' -f1-2 "$dir/ppl-cuda")" ] ||
            { echo "FAIL: ppl $m: cpu and cuda differ"; cat "$dir/out" "$dir/ppl-cuda"; fail=1; }
        check "bench $m --backend cuda" 0 "$zf" bench "$dir/$m" -p 8 -n 4 -r 1 --backend cuda -o "$dir/$m.bench.json"
        has out "on the GPU"
        # without programmatic launch every kernel waits for the whole one before: the same tokens
        check "validate $m --compare cpu,cuda, ZF_CUDA_PDL=0" 0 env ZF_CUDA_PDL=0 "$zf" validate "$dir/$m" -n 12 \
            --runs 1 --compare cpu,cuda -o "$dir/$m.nopdl.json"
        has out "PASS"
    done
    grep -q '"programmatic_launch":[[:space:]]*"\(on\|unsupported\)' <<<"$caps" ||
        { echo "FAIL: caps: programmatic launch neither on nor unsupported by default"; fail=1; }
    check "caps with ZF_CUDA_PDL=0" 0 env ZF_CUDA_PDL=0 "$zf" caps
    has out "off (ZF_CUDA_PDL=0)"
    check "caps with ZF_CUDA_PDL=2" 0 env ZF_CUDA_PDL=2 "$zf" caps
    has out "ZF_CUDA_PDL='2'; expected 0"
else
    check "run --backend cuda without a GPU" 1 "$zf" run "$dir/l.gguf" -p x --backend cuda
    has err "cannot run on CUDA"
    check "validate --backend cuda without a GPU" 1 "$zf" validate "$dir/l.gguf" --backend cuda
    has err "cannot run on CUDA"
    check "validate --compare without a GPU" 1 "$zf" validate "$dir/l.gguf" --compare cpu,cuda
    has err "cannot run on CUDA"
    check "bench --backend cuda without a GPU" 1 "$zf" bench "$dir/l.gguf" --backend cuda
    has err "cannot run on CUDA"
    check "ppl --backend cuda without a GPU" 1 "$zf" ppl "$dir/l.gguf" "$dir/text.txt" --backend cuda
    has err "cannot run on CUDA"
fi
exit $fail
