#!/usr/bin/env bash
# session 22 run 3: carry [".gpudeps", ".smol0"]. Keeps the first third of the real SmolLM2 GGUF in /tmp,
# then the GPU check's whole-model step (synthetic llama / qwen3_moe validations and cpu-vs-cuda compares,
# the 48-layer Qwen3-30B-A3B synth and benches; SmolLM2 itself waits for runs 4-5) within the call.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
cp .smol0 /tmp/smol.part0 && echo "part 0 kept: $(stat -c %s /tmp/smol.part0) bytes"
ZF_SMOLLM2=/nonexistent ZF_CHECK_BUDGET=560 STEPS="build model" scripts/gpu-check.sh "$OUT/check"
echo "check rc=$?"; grep -E "^=== " "$OUT/check/logs.txt" | grep -v "^=== build\|configure" | tail -30
