#!/usr/bin/env python3
"""PyTorch baseline for the CUDA gates, timed like zf_cuda_bench: CUDA events,
median of repeated runs, bf16. swiglu = silu(g) * u on [16384, 14336];
add + rms_norm on [16384, 4096] (eager and torch.compile); decode sizes
(1 row, widths 2048..14336) as the per-call time of a 100-call CUDA graph.
Effective bandwidth counts each input read once and each output written once."""
import argparse
import json
import statistics
import sys

import torch
import torch.nn.functional as F


def timed(fn, warm=3, reps=15):
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(warm):
        fn()
    ms = []
    for _ in range(reps):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        ms.append(start.elapsed_time(stop))
    return statistics.median(ms), min(ms)


def swiglu(g, u):
    return F.silu(g) * u


def add_rms_norm(x, r, w):
    h = x + r
    return F.rms_norm(h, (h.shape[-1],), w, 1e-6), h


def graph_per_call(fn, reps=21):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(100):
            fn()
    med, best = timed(g.replay, warm=3, reps=reps)
    return med * 1e3 / 100, best * 1e3 / 100


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write one JSON object per line here")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    out = open(args.json, "w") if args.json else None
    dev = torch.device("cuda")
    bf = torch.bfloat16
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    print("| what | time | rate |\n|---|---|---|")

    def emit(rec, line):
        print(line)
        if out:
            out.write(json.dumps(rec) + "\n")
            out.flush()

    rows = 2048 if args.quick else 16384
    g = torch.rand(rows, 14336, device=dev, dtype=bf) * 8 - 4
    u = torch.rand(rows, 14336, device=dev, dtype=bf) * 8 - 4
    nbytes = 3 * g.numel() * 2
    for mode, fn in (("eager", swiglu), ("compile", torch.compile(swiglu))):
        med, best = timed(lambda: fn(g, u))
        tbps = nbytes / (med * 1e-3) / 1e12
        emit({"kind": "large", "op": "swiglu", "impl": mode, "rows": rows, "n": 14336, "median_ms": med,
              "best_ms": best, "tbps": tbps},
             f"| torch {mode} swiglu bf16 [{rows}, 14336] | {med:.4f} ms (best {best:.4f}) | {tbps:.3f} TB/s |")
    del g, u
    x = torch.rand(rows, 4096, device=dev, dtype=bf) * 6 - 3
    r = torch.rand(rows, 4096, device=dev, dtype=bf) * 6 - 3
    w = torch.rand(4096, device=dev, dtype=bf) * 3 - 1.5
    nbytes = (4 * x.numel() + 4096) * 2
    for mode, fn in (("eager", add_rms_norm), ("compile", torch.compile(add_rms_norm))):
        med, best = timed(lambda: fn(x, r, w))
        tbps = nbytes / (med * 1e-3) / 1e12
        emit({"kind": "large", "op": "add_rms_norm", "impl": mode, "rows": rows, "n": 4096, "median_ms": med,
              "best_ms": best, "tbps": tbps},
             f"| torch {mode} add+rms_norm bf16 [{rows}, 4096] | {med:.4f} ms (best {best:.4f}) | {tbps:.3f} TB/s |")
    del x, r
    for n in (2048, 4096, 8192, 14336):
        a = torch.rand(1, n, device=dev, dtype=bf) * 8 - 4
        b = torch.rand(1, n, device=dev, dtype=bf) * 8 - 4
        wn = torch.rand(n, device=dev, dtype=bf)
        for op, fn in (("swiglu", lambda: swiglu(a, b)), ("add_rms_norm", lambda: add_rms_norm(a, b, wn))):
            us, best = graph_per_call(fn)
            emit({"kind": "decode", "op": op, "impl": "eager-graph", "n": n, "us_per_call": us, "best_us": best},
                 f"| torch decode {op} bf16 [1, {n}] (100-call graph) | {us:.3f} us/call (best {best:.3f}) | |")
    if out:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
