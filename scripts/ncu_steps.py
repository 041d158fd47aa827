#!/usr/bin/env python3
"""Where a decode step's time goes, from Nsight Compute's CSV.

Reads `ncu --csv --metrics gpu__time_duration.sum,dram__bytes_read.sum` output
of a `zf bench` run (plain or .gz; ncu's own log lines before the CSV are
skipped), cuts it into steps at each launch of the marker kernel (the token
embedding by default; with the grid and block of its last launch, so that
its self-tests do not count), keeps the whole steps after the first (the prefill),
and prints one markdown row per distinct kernel (name, grid, block): its
launches per step, time per launch, DRAM bytes per launch and their rate,
then the step's sum. Kernels after the last marker (self-tests at exit, an
unfinished step) are not counted.

    scripts/ncu_steps.py FILE [--marker REGEX] [--title TEXT] [-o OUT.md]

Each kernel runs alone under ncu, so the sum is the step without the
overlap that programmatic launch gives it in the replayed graph.
"""
import argparse
import csv
import gzip
import io
import re
import sys
from collections import OrderedDict


def read_rows(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", errors="replace") as f:
        lines = f.read().splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith('"ID"')), None)
    if start is None:
        raise ValueError(f"{path}: no ncu CSV header (a line starting with \"ID\")")
    return list(csv.DictReader(io.StringIO("\n".join(lines[start:]))))


def kernels(rows):
    """One dict per launch, in launch order: name, grid, block and the metrics."""
    launches = OrderedDict()
    for r in rows:
        k = launches.setdefault(int(r["ID"]), {"name": r["Kernel Name"], "grid": r["Grid Size"],
                                               "block": r["Block Size"]})
        try:
            k[r["Metric Name"]] = float(r["Metric Value"].replace(",", ""))
        except ValueError:
            pass  # "n/a" and the like
    return list(launches.values())


def short(name):
    """'void qi8_qmm_kernel<4, 2>(zf_cu_qargs, int)' -> 'qi8_qmm_kernel<4, 2>'"""
    name = re.sub(r"^void ", "", name)
    depth, out = 0, []
    for ch in name:  # drop the parameter list, keep the template arguments
        if ch == "(" and depth == 0:
            break
        depth += ch == "<"
        depth -= ch == ">"
        out.append(ch)
    return "".join(out)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--marker", default="embed", help="regex of the kernel that starts a step (default: embed)")
    ap.add_argument("--title", default=None)
    ap.add_argument("-o", dest="out", default=None, help="write the table here (default: stdout)")
    a = ap.parse_args(argv)
    try:
        ks = kernels(read_rows(a.file))
    except (OSError, ValueError, KeyError) as e:
        print(f"ncu_steps: {e}", file=sys.stderr)
        return 1
    # the marker's launches with the last one's name, grid and block: self-tests
    # of the same kernel (other shapes, at first use) do not start steps
    hits = [k for k in ks if re.search(a.marker, k["name"])]
    sig = (hits[-1]["name"], hits[-1]["grid"], hits[-1]["block"]) if hits else None
    marks = [i for i, k in enumerate(ks) if (k["name"], k["grid"], k["block"]) == sig]
    if len(marks) < 3:
        print(f"ncu_steps: {len(marks)} step starts (/{a.marker}/); need the prefill's and two more", file=sys.stderr)
        return 1
    steps = len(marks) - 2  # whole steps after the prefill's
    table = OrderedDict()
    for k in ks[marks[1]:marks[-1]]:
        t = table.setdefault((short(k["name"]), k["grid"], k["block"]), [0, 0.0, 0.0])
        t[0] += 1
        t[1] += k.get("gpu__time_duration.sum", 0.0)
        t[2] += k.get("dram__bytes_read.sum", 0.0)
    total = sum(t[1] for t in table.values()) / steps
    out = [f"## {a.title or a.file}\n", f"{steps} decode steps, {total / 1000:.1f} us of kernels a step (each alone under ncu)\n",
           "| kernel | grid | block | a step | us each | MB read each | GB/s |", "|---|---|---|---|---|---|---|"]
    for (name, grid, block), (n, ns, by) in table.items():
        rate = by / ns if ns else 0.0
        out.append(f"| {name} | {grid} | {block} | {n / steps:g} | {ns / n / 1000:.2f} | {by / n / 1e6:.3f} | {rate:.0f} |")
    text = "\n".join(out) + "\n"
    if a.out:
        try:
            with open(a.out, "w") as f:
                f.write(text)
        except OSError as e:
            print(f"ncu_steps: {e}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
