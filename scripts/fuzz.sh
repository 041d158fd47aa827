#!/usr/bin/env bash
# Builds the GGUF, safetensors, tokenizer and capsule fuzzers (libFuzzer + ASan +
# UBSan, clang) and runs each for SECONDS (default 60) from the committed seed
# corpus in fuzz/corpus/<name>. New inputs go to a scratch corpus; a crash leaves its
# reproducer in $ZF_FUZZ_OUT (default build-fuzz/) and fails the script.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
out=${ZF_FUZZ_OUT:-$here/build-fuzz}
cc=${CC_FUZZ:-clang}
mkdir -p "$out"
src="src/core/error.c src/core/dtype.c src/core/tensor.c src/model/model_file.c src/model/gguf.c
     src/model/gguf_load.c src/model/gguf_convert.c src/model/safetensors.c src/model/safetensors_model.c
     src/model/safetensors_vocab.c src/model/sha256.c"
# the tokenizer's target: its sources, PCRE2, and the committed vocabulary extract
tok_src="src/model/tokenizer.c src/model/tokenizer_bpe.c src/model/tokenizer_pre.c"
tok_flags="-I$here/tests -DZF_FUZZ_VOCAB=\"$here/tests/data/tokenizer/smollm2_vocab.txt\""
# the capsule printers' target: `zf capsule show` / `diff` alone (tools/zf)
cap_src="tools/zf/cj.c tools/zf/capsule_report.c tools/zf/gate_report.c"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -ffp-contract=off
       -I$here/include -I$here/src"
status=0
for name in gguf safetensors tokenizer capsule; do
    extra="" extra_src=$src
    if [ "$name" = tokenizer ]; then extra=$tok_flags extra_src="$src $tok_src"; fi
    if [ "$name" = capsule ]; then extra="-I$here/tools/zf" extra_src=$cap_src; fi
    # shellcheck disable=SC2086 # the flag and source lists are meant to split
    (cd "$here" && $cc $flags $extra -o "$out/fuzz_$name" fuzz/fuzz_$name.c $extra_src -lpcre2-8 -lcjson -lcrypto -lm)
    scratch="$out/corpus_$name"
    mkdir -p "$scratch"
    echo "fuzz_$name: ${secs}s" >&2
    if ! "$out/fuzz_$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$out/${name}_" -print_final_stats=1 "$scratch" "$here/fuzz/corpus/$name" \
        2> "$out/fuzz_$name.log"; then
        echo "fuzz_$name FAILED: see $out/fuzz_$name.log and $out/${name}_*" >&2
        tail -40 "$out/fuzz_$name.log" >&2
        status=1
    else
        grep -E "stat::number_of_executed_units|cov:" "$out/fuzz_$name.log" | tail -2 >&2
    fi
done
exit $status
