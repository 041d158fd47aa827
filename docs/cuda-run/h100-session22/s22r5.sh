#!/usr/bin/env bash
# session 22 run 5 (right after run 4): carry [".gpudeps", ".smol2"]; joins the three parts (sha256 checked)
# and runs gpu-check.sh's real-model steps on them (build-gpu from run 3 is kept on the machine).
export ZF_COMMIT=${ZF_COMMIT:-unknown}
S=/tmp/smol.gguf
cat /tmp/smol.part0 /tmp/smol.part1 .smol2 > $S || exit 1
echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $S" | sha256sum -c || exit 1
ZF_SMOLLM2=$S STEPS="build smollm2" bash scripts/gpu-check.sh $OUT/smol > $OUT/smol.txt 2>&1
echo "smollm2 steps rc=$?"; grep -E "^=== " $OUT/smol/logs.txt | tail -12; grep -A3 -i "capital" $OUT/smol/logs.txt | head -8
grep -E "decode|prefill" $OUT/smol/logs.txt | tail -4
