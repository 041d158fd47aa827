#!/usr/bin/env bash
# The main job: with zfast built in BUILD_DIR and the default model fetched,
# show what this machine runs, measure the fusions, then run the model and
# validate that the default tier changes no token.
#   scripts/demo.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
zf=$build/zf
model=$("$here/scripts/fetch-model.sh")
has() { grep -qE "^  $1 " <<<"$("$zf" --help 2>&1)"; } # no pipe: grep -q would SIGPIPE zf under pipefail

echo "== zf caps"
"$zf" caps
echo "== zf gate swiglu (bf16, quick sweep)"
"$zf" gate swiglu --dtype bf16 --quick
echo "== zf gate add_rms_norm (bf16, quick sweep)"
"$zf" gate add_rms_norm --dtype bf16 --quick
if has run; then
    echo "== zf run $model"
    "$zf" run "$model" --chat -p "What is the capital of France?" -n 48
fi
if has validate; then
    echo "== zf validate $model"
    "$zf" validate "$model" -n 64 --runs 1
fi
