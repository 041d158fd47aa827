#!/usr/bin/env bash
# scripts/ncu_steps.py on session 24's recorded ncu CSV of an 8-layer Qwen3-shaped decode (f32, edge): the
# steps are cut at the decode embedding (not at its self-tests), each layer kernel counted 8 times a step, the
# output head once, the figures those of the file (checked against a sum made here with awk); bad input: exit 1.
#   tests/tools/ncu_steps.sh SOURCE_DIR
. "$(dirname "$0")/check.sh"
src=${1:?usage: ncu_steps.sh SOURCE_DIR}
py=$src/scripts/ncu_steps.py
csv=$src/docs/cuda-run/h100-session24/run3/ncu-qwen8-f32.csv.gz

check "table of the recorded step" 0 python3 "$py" "$csv" --title qwen8
has out "^## qwen8$"
has out "^5 decode steps, 562.3 us of kernels a step"
has out "^| route_warp_kernel<4> | (1, 1, 1) | (128, 1, 1) | 8 | 4.08 | 0.017 | 4 |$"
has out "^| qi8_swiglu_kernel<2, (int)-1> | (48, 8, 1) | (256, 1, 1) | 8 | 10.02 | 14.210 | 1418 |$"
has out "^| qi8_qmm_kernel<4, 2> | (9496, 1, 1) | (256, 1, 1) | 1 | 68.85 | 175.147 | 2544 |$"
has out "^| embed_kernel<(int)-1, 0> | (1, 1, 1) | (256, 1, 1) | 1 |"
if grep -q "^| embed_kernel.* | (5, 1, 1) |" "$dir/out"; then echo "FAIL: a self-test's embedding counted"; fail=1; fi

# the rows' time a step adds up to the header's figure
awk -F'|' '/^\| [a-z]/ { t += $5 * $6 } /decode steps/ { want = $0 }
    END { sub(/.*steps, /, "", want); sub(/ us.*/, "", want); d = t - want; if (d < 0) d = -d
          if (d > 0.5) { print "FAIL: rows sum to " t " us, header " want; exit 1 } }' "$dir/out" || fail=1

# -o writes the same table to a file
cp "$dir/out" "$dir/stdout.md"
check "table into a file" 0 python3 "$py" "$csv" --title qwen8 -o "$dir/table.md"
cmp -s "$dir/table.md" "$dir/stdout.md" || { echo "FAIL: -o wrote another table"; fail=1; }

# the same launches cut at a marker that never starts a step, and files that are no ncu CSV
check "no step marker" 1 python3 "$py" "$csv" --marker no_such_kernel
has err "0 step starts"
printf 'not a csv\n' >"$dir/bad.csv"
check "no CSV header" 1 python3 "$py" "$dir/bad.csv"
has err "no ncu CSV header"
check "missing file" 1 python3 "$py" "$dir/none.csv"
has err "No such file"
exit $fail
