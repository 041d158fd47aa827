#!/usr/bin/env bash
# zf gate gather_qmm_swiglu | gather_qmm_combine | moe --quick: each runs,
# writes a capsule whose rows add up (experts touched under the balanced
# routing, weight and activation bytes, rotation over > 4x the cache and the
# buffer sets of each shape, timing fields), and
# `zf capsule show` accepts it; usage errors exit 2.
#   gate_moe.sh ZF_BINARY
set -uo pipefail
zf=$1
. "$(dirname "$0")/check.sh"

for op in gather_qmm_swiglu gather_qmm_combine moe; do
    check "gate $op --quick --json" 0 "$zf" gate "$op" --quick --json -o "$dir/$op.json"
    python3 - "$dir/out" "$dir/$op.json" "$op" <<'PY' || fail=1
import json, math, sys
text, path, op = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
g = json.loads(text)
assert json.load(open(path))["id"] == g["id"], "capsule file differs from --json output"
assert g["op"] == op and g["kind"] == "gate" and g["quick"] is True, (g["op"], g["kind"])
m, bw = g["moe"], g["bandwidth"]
tensors = {"gather_qmm_swiglu": 2, "gather_qmm_combine": 1, "moe": 3}[op]
E, k = m["experts"], m["top_k"]
want_expert = m["expert_width"] * m["hidden"] * m["bits"] / 8 + 2 * m["expert_width"] * m["hidden"] / m["group_size"] * 2
assert m["expert_bytes"] == want_expert, (m["expert_bytes"], want_expert)
assert m["layers"] * E * tensors * m["expert_bytes"] > 4 * bw["cache_bytes"], "pool not > 4x the cache"
assert bw["gbps"] > 0.1 and bw["gbps"] >= bw["median_gbps"] > 0.1, bw  # best, then median
parts = g["fused_variant"].split(" + ")
assert len(parts) == (3 if op == "moe" else 1) and g["fused_variant"] != g["stock_variant"], g["fused_variant"]
rows = g["rows"]
assert [r["tokens"] for r in rows] == [1, 4], [r["tokens"] for r in rows]
es = {"f32": 4, "f16": 2, "bf16": 2}[g["dtype"]]
H, W = m["hidden"], m["expert_width"]
for r in rows:
    t = r["tokens"]
    assert r["experts_touched"] == min(k * t, E), (t, r["experts_touched"])
    assert r["weight_bytes"] == r["experts_touched"] * tensors * m["expert_bytes"], r
    # the block's inputs and outputs: x or a, i32 ids, routing weights or logits, y or h
    slots = t * k
    act = {"gather_qmm_swiglu": t * H * es + slots * 4 + slots * W * es,
           "gather_qmm_combine": slots * W * es + slots * (4 + es) + t * H * es,
           "moe": t * E * es + 2 * t * H * es}[op]
    assert r["bytes"] == r["weight_bytes"] + act, (r["bytes"], r["weight_bytes"], act)
    # rotation: one set per call until the permutation realigns, times the layers
    assert r["layers"] == m["layers"], (r["layers"], m["layers"])
    assert r["buffer_sets"] == E // math.gcd(E, k * t) * m["layers"], (t, r["buffer_sets"], E, m["layers"])
    assert r["fused_min_us"] <= r["fused_median_us"] <= r["fused_max_us"], r
    assert r["stock_min_us"] <= r["stock_median_us"] <= r["stock_max_us"], r
    assert abs(r["speedup"] - r["stock_median_us"] / r["fused_median_us"]) < 1e-9 * r["speedup"], r
    assert r["bandwidth_fraction"] > 0 and r["verdict"] in ("enable", "not worth it"), r
assert g["verdict"] in ("enable", "not worth it")
for key in ("gather_qmm", "gather_qmm_swiglu" if op != "gather_qmm_combine" else "gather_qmm_combine"):
    assert g["kernels"].get(key, "none") != "none", (key, g["kernels"])
PY
    check "capsule show $op" 0 "$zf" capsule show "$dir/$op.json"
    grep -q "matches content" "$dir/out" || { echo "FAIL: capsule show $op: id not confirmed"; fail=1; }
done
# capsule diff of two gates that differ in what was gated: the setup line names the key, A's value, then B's
python3 - "$dir/moe.json" "$dir/moe-f16.json" <<'PY' || fail=1
import json, sys
g = json.load(open(sys.argv[1]))
g["dtype"] = "f16" if g["dtype"] != "f16" else "f32"
json.dump(g, open(sys.argv[2], "w"))
PY
want=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); print("  %-16s %s -> %s" % ("dtype", a["dtype"], b["dtype"]))' "$dir/moe.json" "$dir/moe-f16.json")
check "capsule diff of two gates" 0 "$zf" capsule diff "$dir/moe.json" "$dir/moe-f16.json"
grep -qxF "$want" "$dir/out" || { echo "FAIL: capsule diff of two gates lacks '$want'"; cat "$dir/out"; fail=1; }
check "gate moe bad dtype" 2 "$zf" gate moe --dtype f64
check "gate unknown fusion" 2 "$zf" gate gather_qmm
grep -q "gather_qmm_combine or moe" "$dir/err" || { echo "FAIL: the usage error does not list the MoE gates"; fail=1; }
exit $fail
