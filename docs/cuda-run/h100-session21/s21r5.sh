#!/usr/bin/env bash
# session 21 run 5: carry [".gpudeps"]. The GPU check of the session's last tree (every step but the real
# model, which run 3 covered; no CUDA source changed since run 4, the CUDA tests' CMake did), with the
# check's new exit status.
export ZF_COMMIT=${ZF_COMMIT:-unknown}
ZF_CHECK_BUDGET=${ZF_CHECK_BUDGET:-540} bash scripts/gpu-check.sh $OUT/check > $OUT/check.txt 2>&1
echo "gpu-check rc=$?"; grep -A3 "^## failures" $OUT/check.txt; grep -E "^\| (test_|memcheck|ctest|compare_|validate_)" $OUT/check.txt
tar -czf $OUT/check.tgz -C $OUT check && rm -rf $OUT/check
