#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build (Release, CUDA on), run the CUDA
# tests, compute-sanitizer memcheck on the CUDA test binary, the benchmark
# (gate shapes, decode graphs), the PyTorch baseline and the CUDA gates, whole
# models on the GPU (CUDA == CPU token for token, bench), then every CTest;
# write logs, a summary and capsules into OUTDIR.
#   scripts/gpu-check.sh OUTDIR        (STEPS="build test moe bench torch sanitizer gate ctest model" to pick;
#                                       "profile" adds per-kernel tables of a decode step under ncu)
# ZF_SMOLLM2=FILE: the real SmolLM2 GGUF where models/ does not hold it (a
# device call's carry is under its size: it travels in parts, joined there);
# STEPS="build smollm2" runs only its steps (the model step includes them).
# ZF_CHECK_BUDGET=SECONDS: a step starts only while the budget lasts (its
# timeout cut to what is left) and the rest are listed as skipped, so a run
# under a wall-clock limit (the lent device's 10-minute call) still ends with
# its summary. The whole models come last: the 48-layer synth and benches are
# the longest steps.
# ZF_COMMIT=<hash> names the tree's commit where the copy's .git does not
# describe it (binaries, capsules and the summary then carry that name).
# ZF_CHECK_PACK=FILE.tgz: at the end, OUTDIR packed into that one file (a
# device call returns at most 8 files: OUTDIR in /tmp, FILE under $OUT).
# Exit status: 0 only when every step that ran exited 0 (the summary names
# the others under "failures").
set -u
OUT=${1:?usage: scripts/gpu-check.sh OUTDIR}
STEPS=${STEPS:-"build test moe bench torch sanitizer gate ctest model"}
BUDGET=${ZF_CHECK_BUDGET:-0} # 0: no budget
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build-gpu
mkdir -p "$OUT"
LOG=$OUT/logs.txt
SUM=$OUT/summary.md
: >"$LOG"
has() { [[ " $STEPS " == *" $1 "* ]]; }
step() { # name, timeout seconds, command...
    local name=$1 t=$2; shift 2
    if [ "$BUDGET" -gt 0 ]; then
        local left=$((BUDGET - SECONDS))
        if [ "$left" -lt 10 ]; then
            echo "=== $name: skipped, the ${BUDGET} s budget is spent" >>"$LOG"
            echo "| $name | skipped: budget spent | - |" >>"$SUM"
            return 0
        fi
        [ "$left" -lt "$t" ] && t=$left
    fi
    echo "=== $name: $*" >>"$LOG"
    local t0=$SECONDS
    timeout "$t" "$@" >>"$LOG" 2>&1
    local rc=$?
    echo "=== $name: exit $rc in $((SECONDS - t0)) s" >>"$LOG"
    echo "| $name | exit $rc | $((SECONDS - t0)) s |" >>"$SUM"
    [ "$rc" -eq 0 ] || FAILED="$FAILED $name"
    return $rc
}
FAILED="" # steps that exited non-zero: listed under "failures", and the script's exit status

{
    echo "# zfast GPU check"
    echo
    echo "commit ${ZF_COMMIT:-$(git -C "$ROOT" rev-parse --short=12 HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src include || echo -dirty)}, $(date -u +%FT%TZ)"
    echo
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/GPU: /'
    echo "nvcc: $(nvcc --version | tail -1)"
    echo
    echo "| step | result | time |"
    echo "|---|---|---|"
} >"$SUM"

. "$ROOT/scripts/gpu-env.sh"
if has build; then
    step configure 120 cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON || exit 1
    step build_cuda 400 cmake --build "$B" -j "$(nproc)" --target zfast_cuda test_cuda zf_cuda_bench test_cuda_moe zf_cuda_moe_bench \
        test_cuda_model zf || exit 1
    step build_all 400 cmake --build "$B" -j "$(nproc)" -- -k 0 # keep going past others' broken files
fi
if has test; then step test_cuda 300 "$B/tests/cuda/test_cuda"; fi
if has moe; then # the MoE family: CUDA == CPU, memcheck, Qwen3-30B-A3B layer timings
    step test_cuda_moe 400 "$B/tests/cuda/test_cuda_moe"
    step memcheck_moe 300 env ZF_TEST_QUICK=1 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 \
        "$B/tests/cuda/test_cuda_moe"
    step moe_bench 300 "$B/zf_cuda_moe_bench" --json "$OUT/moe_bench.jsonl"
fi
if has bench; then step bench 200 "$B/zf_cuda_bench" --json "$OUT/bench.jsonl"; fi
if has torch; then step torch_baseline 300 env PYTHONUNBUFFERED=1 python3 "$ROOT/scripts/torch_baseline.py" --json "$OUT/torch.jsonl"; fi
if has sanitizer; then
    step memcheck 300 env ZF_TEST_QUICK=1 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 \
        "$B/tests/cuda/test_cuda"
fi
if has gate; then
    step gate_swiglu 200 "$B/zf" gate swiglu --backend cuda --dtype bf16 -o "$OUT/gate_swiglu.json"
    step gate_add_rms_norm 200 "$B/zf" gate add_rms_norm --backend cuda --dtype bf16 -o "$OUT/gate_add_rms_norm.json"
fi
if has ctest; then step ctest 400 ctest --test-dir "$B" --output-on-failure -j 8 -E '^test_cuda(_moe)?$'; fi
# The real SmolLM2 on the GPU: validate, CPU == CUDA token for token, a
# factual prompt, speed (part of the model step, or alone: STEPS=smollm2).
smollm2_steps() {
    local smol=${ZF_SMOLLM2:-$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf} M=$B/synth-models
    mkdir -p "$M"
    if [ -f "$smol" ]; then
        step smollm2_validate_cuda 300 "$B/zf" validate "$smol" -n 64 --runs 2 --backend cuda -o "$M/smollm2-cuda.json"
        step smollm2_compare 600 "$B/zf" validate "$smol" -n 64 --runs 1 --compare cpu,cuda -o "$OUT/compare-smollm2.json"
        step smollm2_run_cuda 120 "$B/zf" run "$smol" --chat -p "What is the capital of France?" -n 24 --backend cuda
        step smollm2_bench_cuda 300 "$B/zf" bench "$smol" -p 128 -n 64 -r 3 --backend cuda -o "$OUT/bench-smollm2-cuda.json"
    else
        echo "=== SmolLM2 not at $smol: its steps skipped" >>"$LOG"
    fi
}
if has model; then # whole models on the GPU: CUDA == CPU token for token, then speed
    step test_cuda_model 400 "$B/tests/cuda/test_cuda_model"
    step backend_cli 400 bash "$ROOT/tests/tools/backend.sh" "$B/zf"
    M=$B/synth-models
    mkdir -p "$M"
    step synth_llama_gguf 60 "$B/zf" synth --arch llama --preset tiny --format gguf --quant q4_1 -o "$M/llama.gguf"
    step synth_llama_mlx 60 "$B/zf" synth --arch llama --preset tiny --format mlx -o "$M/llama-mlx"
    step synth_moe_gguf 60 "$B/zf" synth --arch qwen3_moe --preset tiny --format gguf --quant q8_0 -o "$M/moe.gguf"
    step synth_moe_mlx 60 "$B/zf" synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o "$M/moe-mlx"
    for m in llama.gguf llama-mlx moe.gguf moe-mlx; do
        step "validate_cuda_$m" 300 "$B/zf" validate "$M/$m" -n 64 --runs 2 --backend cuda -o "$M/validate-cuda-$m.json"
        step "compare_$m" 300 "$B/zf" validate "$M/$m" -n 64 --runs 2 --compare cpu,cuda -o "$M/compare-$m.json"
    done
    smollm2_steps
    # Qwen3-30B-A3B shape, all 48 layers, 4-bit MLX (about 16 GB): synth time and size first
    q=$B/synth-models/qwen3-30b-a3b-48
    step synth_qwen3_30b 900 "$B/zf" synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 48 --format mlx --bits 4 -o "$q"
    echo "=== qwen3-30b-a3b synthetic: $(du -sh "$q" 2>/dev/null | cut -f1) on disk" >>"$LOG"
    step qwen3_30b_bench_cuda 600 "$B/zf" bench "$q" -p 16 -n 32 -r 3 --backend cuda -o "$OUT/bench-qwen3-30b-cuda.json"
    step qwen3_30b_bench_cuda_edge 600 "$B/zf" bench "$q" -p 16 -n 32 -r 3 --backend cuda --tier edge \
        -o "$OUT/bench-qwen3-30b-cuda-edge.json"
fi
if has smollm2 && ! has model; then smollm2_steps; fi
# profile (not among the default steps): every kernel of a few one-token steps under ncu, kernel by kernel,
# for the SmolLM2 and the 8-layer Qwen3 shapes (synthetic), tabled per step by scripts/ncu_steps.py
if has profile; then
    P=$B/synth-models
    mkdir -p "$P"
    step synth_smol_profile 120 "$B/zf" synth --arch llama --preset smollm2-135m --format gguf --quant q4_1 -o "$P/smol.gguf"
    step synth_qwen8_profile 300 "$B/zf" synth --arch qwen3_moe --preset qwen3-30b-a3b --layers 8 --format mlx --bits 4 \
        -o "$P/qwen8"
    for run in smol.gguf:stable qwen8:edge; do
        m=${run%%:*} tier=${run#*:}
        # as session 24's run 3 ran it: ncu's lines and its CSV into one file, which ncu_steps.py reads
        # shellcheck disable=SC2016 # $1 and $@ belong to the inner shell
        step "ncu_$m" 400 bash -c 'out=$1; shift; ZF_CUDA_GRAPHS=0 exec ncu --cache-control none --clock-control none \
            --csv --metrics gpu__time_duration.sum,dram__bytes_read.sum "$@" >"$out" 2>&1' ncu "$OUT/ncu-$m.csv" \
            "$B/zf" bench "$P/$m" -p 1 -n 3 -r 1 --backend cuda --tier "$tier"
        step "ncu_steps_$m" 60 python3 "$ROOT/scripts/ncu_steps.py" "$OUT/ncu-$m.csv" --title "$m, $tier, one token" \
            -o "$OUT/profile-$m.md"
        gzip -f "$OUT/ncu-$m.csv"
    done
fi

{
    echo
    echo "## zfast (zf_cuda_bench)"
    echo
    grep -h -A200 '^| what' "$LOG" | grep '^|' | awk '!seen[$0]++' | grep -v torch
    echo
    echo "## PyTorch, same run"
    echo
    grep -h '^| torch' "$LOG"
    echo
    echo "## failures"
    echo
    echo "steps that exited non-zero:${FAILED:- none}"
    echo
    grep -h -E '^FAIL|FAILED|ERROR SUMMARY|Failed|failed|Abort|corruption' "$LOG" | head -40
} >>"$SUM"
cat "$SUM"
# the device returns at most 8 files of a call: everything in one archive
if [ -n "${ZF_CHECK_PACK:-}" ] && ! tar czf "$ZF_CHECK_PACK" -C "$OUT" .; then
    echo "gpu-check: could not pack $OUT into $ZF_CHECK_PACK" >&2
    FAILED="$FAILED pack"
fi
[ -z "$FAILED" ] # a failed step fails the check
