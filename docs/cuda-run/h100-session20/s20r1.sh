#!/usr/bin/env bash
# session 20 run 1 (prepared in session 19): HEAD's tests on the GPU (72bf390 moved the one-wave occupancy
# arithmetic into cuda/occupancy.h: host code, not yet run on a GPU), then where a decode step's time goes
# outside the MoE block. ncu's isolated duration of every kernel of a few one-token steps (no graph, no PDL
# overlap under ncu: an upper bound per kernel, but the ranking and the sum per layer are what to read),
# for the 8-layer Qwen3 shape (edge) and the SmolLM2 shape (stable). Summary: $OUT/kernels-*.txt.
# carry [".gpudeps"].
export ZF_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo s19)+s20r1
. scripts/gpu-lab.sh
lab_build_b "zf zfast_cuda test_cuda test_cuda_moe test_cuda_model" || exit 1
lab_tests test_cuda_moe test_cuda_model
lab_models qwen8 smol
for mt in qwen8:edge:3 smol.gguf:stable:2; do IFS=: read mod tier n <<< "$mt"
  ZF_CUDA_GRAPHS=0 timeout 200 ncu --csv --metrics gpu__time_duration.sum --cache-control none --clock-control none \
    --launch-count 1500 "$LAB_B/zf" bench "$LAB_M/$mod" -p 1 -n $n -r 1 --backend cuda --tier $tier \
    > $OUT/ncu-$mod.csv 2> $OUT/ncu-$mod.err
  echo "ncu $mod rc=$? $(lab_elapsed) s, $(grep -c gpu__time_duration $OUT/ncu-$mod.csv) kernels"
  python3 - "$OUT/ncu-$mod.csv" > $OUT/kernels-$mod.txt <<'PY'
import csv, sys, re, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
head, rows = rows[0], rows[1:]
ki, vi, ui = head.index("Kernel Name"), head.index("Metric Value"), head.index("Metric Unit")
def us(r):
    v = float(r[vi].replace(",", ""))
    return v / 1000 if r[ui] == "nsecond" else v * 1000 if r[ui] == "msecond" else v
def short(n):
    return re.sub(r"\(.*", "", n).replace("void ", "")[:60]
tot, cnt = collections.Counter(), collections.Counter()
for r in rows:
    tot[short(r[ki])] += us(r); cnt[short(r[ki])] += 1
print("kernel | calls | total us | mean us")
for k, t in tot.most_common():
    print(f"{k} | {cnt[k]} | {t:.1f} | {t / cnt[k]:.2f}")
print(f"all | {sum(cnt.values())} | {sum(tot.values()):.1f} |")
print("\nthe last 40 kernels in order (us):")
for r in rows[-40:]:
    print(f"{us(r):8.2f}  {short(r[ki])}")
PY
  head -25 $OUT/kernels-$mod.txt
done
echo "total $(lab_elapsed) s"
