#!/usr/bin/env bash
# session 21 run 1 (prepared in session 20). carry [".gpudeps", ".smol0"]: keeps the first third of
# SmolLM2-135M-Instruct Q4_1 (.smol0, 32,800,000 bytes; the parts are made here by
# `split -b 32800000 -d -a 1 models/SmolLM2-135M-Instruct.Q4_1.gguf .smol`) in /tmp, then the GPU check
# of HEAD (every step but the real model; ~560 s). Runs 2 and 3 follow at once (the machine is released
# after 30 s idle): run 2 carries .smol1, run 3 .smol2 and runs the real model's steps.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
cp .smol0 /tmp/smol.part0 && echo "part 0 kept: $(stat -c %s /tmp/smol.part0) bytes"
ZF_CHECK_BUDGET=${ZF_CHECK_BUDGET:-540} bash scripts/gpu-check.sh $OUT/check > $OUT/check.txt 2>&1
echo "gpu-check rc=$?"; tail -30 $OUT/check.txt
tar -czf $OUT/check.tgz -C $OUT check && rm -rf $OUT/check
