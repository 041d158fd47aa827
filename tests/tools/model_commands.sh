#!/usr/bin/env bash
# zf synth / validate / ppl / run / bench end to end on synthetic models of both
# architectures and formats, and on the real SmolLM2 file when present.
#   model_commands.sh ZF_BINARY REPO_DIR
set -uo pipefail
zf=$1
repo=$2
. "$(dirname "$0")/check.sh"

# A validate capsule's verdict against its own runs: the token pairs compared
# are every run but the reference's first, each against that first run of its
# prompt, over the shorter of the two; a pass means every run's tokens equal
# the reference's, and the count is > 0. The "compared" line says the same.
# With an exit status, that must be the verdict's (0 pass, 1 fail), and a
# fail's first divergence and count of differing runs must be the tokens'.
# Each side's medians, minima and maxima are those of its own runs' rates.
check_validate_capsule() { # capsule path [exit status] (the run's stdout is $dir/out)
    python3 - "$1" "$dir/out" "${2:-}" <<'PY' || { echo "FAIL: validate capsule $1"; fail=1; }
import json, re, sys
c = json.load(open(sys.argv[1]))
out = open(sys.argv[2]).read()
v, s, prompts, runs = c["verdict"], c["settings"], c["prompts"], c["runs"]
R, P, N = s["runs"], len(prompts), s["max_tokens"]
assert P > 0 and len(runs) == R * P * 2, (R, P, len(runs))
ref_name, other = c["compared"]
ref = [prompts[p][ref_name + "_tokens"] for p in range(P)]
want, mismatched, first = 0, 0, None
for i, ro in enumerate(runs):
    r, p, side = i // (2 * P), (i // 2) % P, i % 2
    assert (ro["run"], ro["prompt"], ro["path"]) == (r, p, [ref_name, other][side]), (i, ro)
    assert 0 < ro["generated"] <= N, ro["generated"]
    if r == 0 and side == 0:
        assert ro["generated"] == len(ref[p]), (ro["generated"], len(ref[p]))
        continue
    want += min(len(ref[p]), ro["generated"])
    if side == 1:
        assert len(ro["tokens"]) == ro["generated"], ro
        if ro["tokens"] != ref[p]:
            mismatched += 1
            if first is None:
                t, n = ro["tokens"], min(len(ro["tokens"]), len(ref[p]))
                first = (p, r, next((i for i in range(n) if t[i] != ref[p][i]), n))
assert want > 0, want
assert v["token_pairs_compared"] == want, ("token_pairs_compared", v["token_pairs_compared"], "expected", want)
if mismatched or R == 1:  # with more runs the reference's reruns may differ too: their tokens are not kept
    assert v["result"] == ("pass" if mismatched == 0 else "fail"), (v["result"], mismatched)
if sys.argv[3]:
    assert int(sys.argv[3]) == (0 if v["result"] == "pass" else 1), ("exit", sys.argv[3], v["result"])
if v["result"] == "fail":
    print("validate: the FAIL path ran:", v)
    assert re.search(r"^verdict   FAIL: %d of %d runs differ" % (v["mismatched_runs"], 2 * R * P - 1), out, re.M), out
    fd = v["first_divergence"]
    if R == 1:
        assert v["mismatched_runs"] == mismatched, (v["mismatched_runs"], mismatched)
        assert (fd["prompt"], fd["run"], fd["position"]) == first, (fd, first)
if v["result"] == "pass":
    assert v["mismatched_runs"] == 0 and "first_divergence" not in v, v
    # every run generated as many tokens as the reference: (2 runs - 1) per prompt
    assert want == (2 * R - 1) * sum(len(t) for t in ref), (want, R, [len(t) for t in ref])
m = re.search(r"^compared .*: (\d+) prompts x (\d+) runs, (\d+) token pairs$", out, re.M)
assert m and tuple(map(int, m.groups())) == (P, R, want), (m and m.groups(), (P, R, want))
# prefill: prompt tokens / prefill_s of every run of the side; decode: decode
# steps / decode_s of those that decoded; an even count's median is the mean
# of the middle two (R x P is even with the 4 built-in prompts)
def stat(v):
    v, n = sorted(v), len(v)
    return {"": v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2]), "_min": v[0], "_max": v[-1]}
for side, name in enumerate(c["compared"]):
    mine = runs[side::2]
    for k, rates in (("prefill_tok_s", [ro["prompt_tokens"] / ro["prefill_s"] for ro in mine]),
                     ("decode_tok_s", [ro["decode_steps"] / ro["decode_s"] for ro in mine if ro["decode_steps"] > 0])):
        for suffix, want in (stat(rates) if rates else {}).items():
            got = c["medians"][name][k + suffix]
            assert abs(got - want) <= 1e-12 * abs(want), (name, k + suffix, got, "expected", want, sorted(rates))
PY
}
# A bench capsule's roofline from its own fields: the bound is the best
# bandwidth over the weight bytes a decoded token reads (the KV cache's bytes
# are not in it), the decode rate is those bytes at the median tok/s, and the
# fraction and each run's paired fraction are their ratios.
check_bench_capsule() { # capsule path
    python3 - "$1" <<'PY' || { echo "FAIL: bench capsule $1"; fail=1; }
import json, sys
c = json.load(open(sys.argv[1]))
w, kv = c["model"]["weight_bytes_per_token"], c["model"]["kv_bytes_per_token"]
gbps, tok_s, roof = c["bandwidth"]["gbps"], c["medians"]["decode_tok_s"], c["roofline"]
assert w > 0 and kv > 0 and gbps > 0 and tok_s > 0, (w, kv, gbps, tok_s)
def close(name, got, want):
    assert abs(got - want) <= 1e-9 * abs(want), (name, got, "expected", want)
close("decode_tok_s_bound", roof["decode_tok_s_bound"], gbps * 1e9 / w)
close("decode_gbps", roof["decode_gbps"], w * tok_s / 1e9)
close("fraction", roof["fraction"], roof["decode_gbps"] / gbps)
close("fraction (from the weights)", roof["fraction"], w * tok_s / 1e9 / gbps)
n = c["settings"]["decode_tokens"]
fr = []
for ro in c["runs"]:
    fr.append(ro["roofline_fraction"])
    close("run roofline_fraction", ro["roofline_fraction"], w * (n / ro["decode_s"]) / 1e9 / ro["bandwidth_gbps"])
    assert ro["bandwidth_gbps"] <= gbps, (ro["bandwidth_gbps"], gbps)
assert len(fr) == c["settings"]["reps"], (len(fr), c["settings"]["reps"])
assert max(ro["bandwidth_gbps"] for ro in c["runs"]) == gbps, gbps
close("paired_fraction_min", roof["paired_fraction_min"], min(fr))
close("paired_fraction_max", roof["paired_fraction_max"], max(fr))
PY
}
# A CPU bench capsule's CPU time per decoded token against the decode's wall
# time: the process's CPU seconds over the wall seconds of the decode steps,
# at least a tenth of a core (a median of the runs: one may be preempted; a
# loaded machine gave 0.28 with 4 busy loops on 2 cores) and at most the
# threads. Run with -p much larger than -n, so that a time per prompt token
# instead of per decoded token falls below the tenth even at every thread busy.
check_bench_cpu_time() { # capsule path
    python3 - "$1" <<'PY' || { echo "FAIL: bench capsule CPU time $1"; fail=1; }
import json, statistics, sys
c = json.load(open(sys.argv[1]))
s = c["settings"]
n, p, threads = s["decode_tokens"], s["prompt_tokens"], s["threads"]
lo, hi = 0.1, threads + 0.5
assert c["backend"] == "cpu" and hi * n / p < lo, ("-p too small against -n to tell them apart", c["backend"], p, n)
cores = [ro["decode_cpu_ms_per_token"] * n / 1e3 / ro["decode_s"] for ro in c["runs"]]
assert lo <= statistics.median(cores) and max(cores) <= hi, ("CPU s per wall s", cores, threads)
PY
}

# zf run's report (its stderr, $dir/err): the decode steps (one fewer than the
# tokens generated when -n stops it, as the last one needs no forward pass),
# where it stopped, and each rate its tokens over its seconds; the seconds are
# printed to the ms, so the bounds allow half a ms either way, and times under
# 2 ms are too coarse to check
check_run_report() { # decode steps ("": any), stopped at
    python3 - "$dir/err" "$1" "$2" <<'PY' || { echo "FAIL: run's report"; cat "$dir/err"; fail=1; }
import re, sys
err, want_n, want_stop = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
m = re.search(r"^prefill (\d+) tokens in ([\d.]+) s \(([\d.]+) tok/s\); decode (\d+) tokens in ([\d.]+) s "
              r"\(([\d.]+) tok/s\); stopped at ([^;]+);", err, re.M)
assert m, "no report line"
pn, ps, pr, dn, ds, dr = (float(g) for g in m.groups()[:6])
assert want_n == "" or dn == int(want_n), ("decode steps", dn, "expected", want_n)
assert m.group(7) == want_stop, ("stopped at", m.group(7), "expected", want_stop)
for what, n, s, r in (("prefill", pn, ps, pr), ("decode", dn, ds, dr)):
    if s >= 0.002:
        lo, hi = n / (s + 0.0005) - 0.05, n / (s - 0.0005) + 0.05
        assert lo <= r <= hi, (what, "tokens", n, "seconds", s, "tok/s", r, "expected in", lo, hi)
PY
}

check "synth llama gguf" 0 "$zf" synth --arch llama --preset tiny --format gguf --quant q4_0 -o "$dir/llama.gguf"
check "synth llama mlx" 0 "$zf" synth --arch llama --preset tiny --format mlx -o "$dir/llama-mlx"
check "synth qwen3_moe gguf" 0 "$zf" synth --arch qwen3_moe --preset tiny --format gguf --quant q8_0 -o "$dir/moe.gguf"
check "synth qwen3_moe mlx" 0 "$zf" synth --arch qwen3_moe --preset tiny --format mlx --bits 4 -o "$dir/moe-mlx"
# many layers: the tensor plan grows past 1024 entries (its realloc once left a dangling name)
check "synth qwen3_moe mlx 64 layers" 0 "$zf" synth --arch qwen3_moe --preset tiny --layers 64 --format mlx -o "$dir/moe64"
for m in llama.gguf llama-mlx moe.gguf moe-mlx; do
    check "validate $m" 0 "$zf" validate "$dir/$m" -n 16 --runs 2 -o "$dir/$m.capsule.json"
    has out "PASS"
    check_validate_capsule "$dir/$m.capsule.json"
    check "capsule show $m" 0 "$zf" capsule show "$dir/$m.capsule.json"
    has out "^verdict   PASS: every token identical"
    has out "^decode  "
    # bf16 activations: every exact fusion must still give the stock tokens
    check "validate $m bf16" 0 "$zf" validate "$dir/$m" -n 16 --runs 1 --dtype bf16 -o "$dir/$m.bf16.json"
    has out "PASS"
    check_validate_capsule "$dir/$m.bf16.json"
done
# a lowered ISA cap is what the capsule records as the cap, beside what the machine has
check "validate under ZF_CPU_ISA=scalar" 0 env ZF_CPU_ISA=scalar "$zf" validate "$dir/llama.gguf" -n 8 --runs 1 \
    -o "$dir/scalar.json"
"$zf" caps --json >"$dir/caps.json" 2>/dev/null
python3 - "$dir/scalar.json" "$dir/caps.json" <<'PY' || { echo "FAIL: the capsule's ISA cap"; fail=1; }
import json, sys
m, cpu = json.load(open(sys.argv[1]))["machine"], json.load(open(sys.argv[2]))["cpu"]
assert m["isa_cap"] == "scalar", m["isa_cap"]
assert m["isa_detected"] == cpu["isa_detected"], (m["isa_detected"], cpu["isa_detected"])
# the machine's features are the ones it has, whatever the cap
assert m["features"] == [f for f, on in cpu["features"].items() if on], (m["features"], cpu["features"])
PY
# --tier edge: its inexact kernels may change a near-tie token of the MoE model
# (they do with the AVX2 and AVX-512 kernels, not with the scalar ones); either
# way the exit status is the verdict's, and the verdict is what the tokens say
"$zf" validate "$dir/moe-mlx" --tier edge -n 32 --runs 1 -o "$dir/edge.json" >"$dir/out" 2>"$dir/err"
rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then
    echo "ok: validate moe-mlx --tier edge (exit $rc)"
    check_validate_capsule "$dir/edge.json" "$rc"
    python3 -c 'import json,sys; t = json.load(open(sys.argv[1]))["tier"]; assert t == "edge", t' "$dir/edge.json" ||
        { echo "FAIL: the edge capsule's tier"; fail=1; }
else
    echo "FAIL: validate moe-mlx --tier edge: exit $rc"; cat "$dir/err"; fail=1
fi
# --fidelity fast: the fast variants against the stock path whatever their tier
# (bf16, where they differ from exact); the verdict is the tokens', the capsule
# names the fidelity and the fast variants that ran
"$zf" validate "$dir/llama.gguf" --fidelity fast --dtype bf16 -n 16 --runs 1 -o "$dir/fast.json" >"$dir/out" 2>"$dir/err"
rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then
    echo "ok: validate llama --fidelity fast (exit $rc)"
    check_validate_capsule "$dir/fast.json" "$rc"
    python3 - "$dir/fast.json" <<'PY' || { echo "FAIL: --fidelity fast capsule"; fail=1; }
import json, sys
c = json.load(open(sys.argv[1]))
assert c["checked_fidelity"] == "fast" and c["compared"] == ["stock", "fast"], (c.get("checked_fidelity"), c["compared"])
k = c["kernels"]
assert k["swiglu.fast"].endswith("swiglu.fast") and k["add_rms_norm.fast"].endswith("add_rms_norm.fast"), k
assert k["swiglu.stock"].endswith(".stock") and k["add_rms_norm.stock"].endswith(".stock"), k
PY
else
    echo "FAIL: validate llama --fidelity fast: exit $rc"; cat "$dir/err"; fail=1
fi
# a divergence every machine gives: in bf16 the fast variants round once where
# stock rounds twice, and on the synthetic MoE GGUF that moves a near-tie token
# of the built-in prompts (the third, at position 28); every path, ISA and thread
# count gives the same bits (docs/NUMERICS.md), so this fails everywhere, and
# the exit status must say so
check "validate moe.gguf --fidelity fast bf16 (diverges)" 1 "$zf" validate "$dir/moe.gguf" --fidelity fast \
    --dtype bf16 -n 32 --runs 1 -o "$dir/diverging.json"
has out "^verdict   FAIL: "
check_validate_capsule "$dir/diverging.json" 1
# capsule diff of validate capsules: what was run (dtype, fidelity) and the verdict's change, from a
# passing stable capsule to a copy whose verdict says fail
check "capsule show --fidelity fast" 0 "$zf" capsule show "$dir/fast.json"
has out "checked: fidelity fast"
python3 - "$dir/llama.gguf.capsule.json" "$dir/failed.json" <<'PY' || { echo "FAIL: cannot edit a capsule"; fail=1; }
import json, sys
c = json.load(open(sys.argv[1]))
c["verdict"].update(result="fail", mismatched_runs=1, first_divergence={"prompt": 1, "run": 0, "position": 3})
json.dump(c, open(sys.argv[2], "w"))
PY
check "capsule diff validate" 0 "$zf" capsule diff "$dir/llama.gguf.capsule.json" "$dir/failed.json"
has out "^verdict   pass -> fail$"
python3 - "$dir/llama.gguf.capsule.json" "$dir/out" <<'PY' || { echo "FAIL: capsule diff validate figures"; fail=1; }
import json, sys
c = json.load(open(sys.argv[1]))
out = open(sys.argv[2]).read()
for side in c["compared"]:  # the copy's medians are the same: each line says so
    v = c["medians"][side]["decode_tok_s"]
    assert "  %-16s %.1f tok/s (same)" % (side + " decode", v) in out, (side, v, out)
PY
check "capsule diff validate, fidelity" 0 "$zf" capsule diff "$dir/llama.gguf.bf16.json" "$dir/fast.json"
has out "^  checked          tier stable -> fidelity fast$"
# a setting both capsules lack is no difference (NaN on both sides)
python3 - "$dir/llama.gguf.capsule.json" "$dir/no-max-a.json" "$dir/no-max-b.json" <<'PY' || { echo "FAIL: cannot edit a capsule"; fail=1; }
import json, sys
c = json.load(open(sys.argv[1]))
del c["settings"]["max_tokens"]
for path in sys.argv[2:]:
    json.dump(c, open(path, "w"))
PY
check "capsule diff validate, max_tokens absent from both" 0 "$zf" capsule diff "$dir/no-max-a.json" "$dir/no-max-b.json"
has out "^differences in what was run:$"
has out "^  none$"
if grep -q "max tokens" "$dir/out"; then echo "FAIL: capsule diff reports a max_tokens both lack"; cat "$dir/out"; fail=1; fi
check "capsule show failed" 0 "$zf" capsule show "$dir/failed.json"
has out "^verdict   FAIL: 1 runs differ .*; first at prompt 2, run 1, token 3$"
check "validate bad --fidelity" 2 "$zf" validate "$dir/llama.gguf" --fidelity stock
has err "expected exact, fast or approx"
check "validate --fidelity with --tier" 2 "$zf" validate "$dir/llama.gguf" --fidelity fast --tier edge
has err "replaces --tier"
check "validate bad --dtype" 2 "$zf" validate "$dir/llama.gguf" --dtype u32
# run: streams text, timings on stderr; a seed replays a sampled run
for m in llama.gguf moe-mlx; do
    check "run $m" 0 "$zf" run "$dir/$m" -p "Hello there" -n 8
    check_run_report 7 "the -n limit"
    check "run $m sampled" 0 "$zf" run "$dir/$m" -p "Hello" -n 8 --temp 0.8 --top-k 20 --top-p 0.9 --seed 7
    has err "^sampling: temperature 0.8, top-k 20, top-p 0.9, seed 7$"
    cp "$dir/out" "$dir/sampled1"
    check "run $m sampled again" 0 "$zf" run "$dir/$m" -p "Hello" -n 8 --temp 0.8 --top-k 20 --top-p 0.9 --seed 7
    cmp -s "$dir/out" "$dir/sampled1" || { echo "FAIL: run $m: the same seed gave another text"; fail=1; }
done
check "run --chat moe.gguf" 0 "$zf" run "$dir/moe.gguf" --chat -p "Hi" -n 4
# a model whose end-of-text token is not <|im_end|> (the synthetic vocabularies' EOS): <|endoftext|>,
# by config.json's eos_token_id; sampling all but uniformly, this seed draws it 33rd (and <|im_end|>
# only 398th), so the run stops there, before -n
mkdir -p "$dir/eos-mlx"
ln -s "$dir/llama-mlx/model.safetensors" "$dir/llama-mlx/tokenizer.json" "$dir/eos-mlx/"
python3 - "$dir/llama-mlx/config.json" "$dir/eos-mlx/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["eos_token_id"] = 256
json.dump(c, open(sys.argv[2], "w"))
PY
check "run to <|endoftext|>" 0 "$zf" run "$dir/eos-mlx" -p "Hello" -n 100 --temp 1000000 --seed 17
check_run_report "" "end of text"
# a model slow enough (ms per token on one thread) for the decode rate to tell 5 tokens from 6
check "synth smollm2-135m 12 layers" 0 "$zf" synth --arch llama --preset smollm2-135m --layers 12 --vocab 512 \
    --format gguf --quant q4_0 -o "$dir/smol12.gguf"
check "run smol12 -n 6" 0 "$zf" run "$dir/smol12.gguf" -p "Hello" -n 6 -t 1
check_run_report 5 "the -n limit"
check "run without -p" 2 "$zf" run "$dir/llama.gguf"
check "run bad --top-p" 2 "$zf" run "$dir/llama.gguf" -p "x" --top-p 0
check "run missing model" 1 "$zf" run "$dir/nope.gguf" -p "x"
# bench: medians, roofline, capsule; --json is one object
for m in llama.gguf moe.gguf; do
    check "bench $m" 0 "$zf" bench "$dir/$m" -p 16 -n 8 -r 2 -o "$dir/$m.bench.json"
    has out "roofline"
    has out "each run against the probe after it"
    has out "kv cache  .* MB read per decoded token at 20.5 keys"
    check "capsule show bench $m" 0 "$zf" capsule show "$dir/$m.bench.json"
    has out "^decode    [0-9.]* tok/s median"
    has out "^roofline  decode moves"
    check_bench_capsule "$dir/$m.bench.json"
done
# capsule diff of two bench runs: what was run, then the speeds
check "capsule diff bench" 0 "$zf" capsule diff "$dir/llama.gguf.bench.json" "$dir/moe.gguf.bench.json"
has out "^  model sha256 "
# the lines carry A's figure, then B's, as the capsules hold them
python3 - "$dir/llama.gguf.bench.json" "$dir/moe.gguf.bench.json" "$dir/out" <<'PY' || { echo "FAIL: capsule diff bench figures"; fail=1; }
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
out = open(sys.argv[3]).read()
for k in ("prefill", "decode"):
    va, vb = a["medians"][k + "_tok_s"], b["medians"][k + "_tok_s"]
    want = "  %-16s %.1f -> %.1f tok/s (%+.1f%%)" % (k, va, vb, 100 * (vb / va - 1))
    assert want in out, (want, out)
fa, fb = 100 * a["roofline"]["fraction"], 100 * b["roofline"]["fraction"]
assert "  roofline         %.0f%% -> %.0f%% of the bandwidth" % (fa, fb) in out, out
PY
# capsules of two kinds: an error, nothing compared
check "capsule diff validate vs bench" 2 "$zf" capsule diff "$dir/llama.gguf.capsule.json" "$dir/llama.gguf.bench.json"
has err "cannot compare a validate capsule with a bench capsule"
# CPU time per decoded token: one thread, 32 prompt tokens per decoded one
check "bench -t 1 -p 2048 -n 64" 0 "$zf" bench "$dir/llama.gguf" -p 2048 -n 64 -r 3 -t 1 -o "$dir/cpu-time.json"
check_bench_cpu_time "$dir/cpu-time.json"
# a GPU run with programmatic launch against one without (ZF_CUDA_PDL=0): the setup names the change
python3 - "$dir/llama.gguf.bench.json" "$dir/pdl-on.json" "$dir/pdl-off.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
for path, v in ((sys.argv[2], "on"), (sys.argv[3], "off (ZF_CUDA_PDL=0)")):
    c["machine"]["gpu"] = {"name": "NVIDIA H100 80GB HBM3", "programmatic_launch": v}
    json.dump(c, open(path, "w"))
PY
check "capsule diff: programmatic launch" 0 "$zf" capsule diff "$dir/pdl-on.json" "$dir/pdl-off.json"
has out "^  gpu launch       on -> off (ZF_CUDA_PDL=0)$"
check "bench --json" 0 "$zf" bench "$dir/llama-mlx" -p 8 -n 4 -r 1 --json -o "$dir/b.json"
has out '"kind":	"bench"'
has out '"decode_tok_s"'
has out '"paired_fraction"'
has out '"bandwidth_gbps"'
# 2 layers x 2 kv heads x head_dim 16 x (k, v) x 4 bytes (f32 cache) x 10.5 keys (8 + (4 + 1) / 2)
has out '"kv_bytes_per_token":	5376'
cp "$dir/out" "$dir/b.stdout.json"
check_bench_capsule "$dir/b.stdout.json"
check_bench_capsule "$dir/b.json"
# the capsule's model hash is the file's sha256 (a GGUF; an MLX directory's one weight file)
while read -r f cap; do
    want=$(sha256sum "$dir/$f" | cut -d' ' -f1)
    grep -q "\"sha256\":.*\"$want\"" "$dir/$cap" || { echo "FAIL: $cap lacks the sha256 of $f ($want)"; fail=1; }
done <<EOF
llama.gguf llama.gguf.bench.json
llama-mlx/model.safetensors b.json
EOF
check "bench bad -r" 2 "$zf" bench "$dir/llama.gguf" -r 0
has err "-r '0': expected 1\.\.100"
# integer options: range, trailing junk, a sign, the ends of the range
check "bench bad -p" 2 "$zf" bench "$dir/llama.gguf" -p 65537
has err "-p '65537': expected 1\.\.65536"
check "bench bad -n" 2 "$zf" bench "$dir/llama.gguf" -n 8x
has err "-n '8x': expected 1\.\.65536"
check "bench bad -t" 2 "$zf" bench "$dir/llama.gguf" -t -1
check "ppl bad -c" 2 "$zf" ppl "$dir/llama.gguf" "$repo/README.md" -c 1
has err "-c '1': expected 2\.\.1048576"
check "validate bad --runs" 2 "$zf" validate "$dir/llama.gguf" --runs 101
has err "--runs '101': expected 1\.\.100"
check "bench -p 1 -r 1 (the range's low end)" 0 "$zf" bench "$dir/llama.gguf" -p 1 -n 1 -r 1 -o "$dir/b1.json"
# --dtype: activations and the KV cache (half the cache bytes in f16)
check "bench --dtype f16" 0 "$zf" bench "$dir/llama-mlx" -p 8 -n 4 -r 1 --dtype f16 --json -o "$dir/b16.json"
has out '"kv_bytes_per_token":	2688'
has out '"activation_dtype":	"f16"'
check_bench_capsule "$dir/b16.json"
check "bench bad --dtype" 2 "$zf" bench "$dir/llama.gguf" --dtype f64
check "run --dtype bf16" 0 "$zf" run "$dir/llama.gguf" -p "Hello" -n 4 --dtype bf16
check "run bad --dtype" 2 "$zf" run "$dir/llama.gguf" -p "Hello" --dtype int8

printf 'The quick brown fox jumps over the lazy dog. 0123456789\n%.0s' {1..20} >"$dir/text.txt"
check "ppl llama" 0 "$zf" ppl "$dir/llama.gguf" "$dir/text.txt" -c 64
has out "perplexity"
check "ppl llama --dtype bf16" 0 "$zf" ppl "$dir/llama.gguf" "$dir/text.txt" -c 64 --dtype bf16
has out "perplexity"
check "ppl bad --dtype" 2 "$zf" ppl "$dir/llama.gguf" "$dir/text.txt" --dtype f8

# bad input: clear errors, exit codes 1 (work failed) or 2 (usage)
check "validate missing model" 1 "$zf" validate "$dir/nope.gguf"
check "validate bad -n" 2 "$zf" validate "$dir/llama.gguf" -n zero
check "validate unknown option" 2 "$zf" validate "$dir/llama.gguf" --frobnicate
check "validate missing prompts file" 2 "$zf" validate "$dir/llama.gguf" --prompts "$dir/none.txt"
head -c 1000 "$dir/llama.gguf" >"$dir/truncated.gguf"
check "validate truncated gguf" 1 "$zf" validate "$dir/truncated.gguf"
has err "gguf"
check "synth unknown preset" 1 "$zf" synth --arch llama --preset huge --format gguf -o "$dir/x.gguf"
has err "tiny"
check "synth mlx into a missing parent" 1 "$zf" synth --arch llama --preset tiny --format mlx -o "$dir/no/such/dir"
has err "parent must exist"

real="$repo/models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$real" ] && [ -z "${ZF_TEST_QUICK:-}" ]; then
    check "validate SmolLM2 stable" 0 "$zf" validate "$real" -n 32 --runs 1 -o "$dir/smol.json"
    has out "PASS"
    check "run SmolLM2 chat" 0 "$zf" run "$real" --chat -p "What is the capital of France?" -n 24
    has out "Paris"
fi
exit $fail
