#!/usr/bin/env bash
# Session 24, run 3: where a Qwen3-30B-A3B-shaped decode step spends its time (8 layers, MLX 4-bit, edge).
# HEAD alone (lab_build_b). The step's tok/s with graphs at f32 and bf16 activations, then every kernel of a
# few kernel-by-kernel decode steps under ncu (gpu__time_duration, DRAM bytes; caches not flushed, clocks not
# locked, so a kernel's time is its own with warm L2 for what stays there). carry [".gpudeps"].
export ZF_COMMIT=${ZF_COMMIT:-unknown}
. scripts/gpu-lab.sh
lab_build_b "zf zfast_cuda" || exit 1
lab_models qwen8
for d in f32 bf16; do
  echo "bench $d: $(timeout 120 $LAB_B/zf bench $LAB_M/qwen8 -p 16 -n 32 -r 3 --backend cuda --tier edge --dtype $d 2>&1 | tr '\r' '\n' | grep -E '^(prefill|decode) ' | tr -s ' ' | tr '\n' ' ')"
done
for d in f32 bf16; do
  ZF_CUDA_GRAPHS=0 timeout 200 ncu --cache-control none --clock-control none --csv \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum \
    $LAB_B/zf bench $LAB_M/qwen8 -p 1 -n 3 -r 1 --backend cuda --tier edge --dtype $d > $OUT/ncu-qwen8-$d.csv 2>&1
  echo "ncu $d rc=$? lines $(wc -l < $OUT/ncu-qwen8-$d.csv) $(lab_elapsed) s"
done
gzip $OUT/ncu-*.csv
echo "total $(lab_elapsed) s"
