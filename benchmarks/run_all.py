"""Run every benchmark (each one ``--runs`` times) and print a Markdown report for the README.

    python benchmarks/run_all.py                     # with the interpreter that runs this script
    python benchmarks/run_all.py --runs 2 --threads 1 > benchmarks/results/report.md

Each benchmark runs in its own fresh process (so thread settings and the garbage collector's
heap are not shared between them) and writes JSON under ``benchmarks/results/<timestamp>/``.
The children's progress goes to stderr; the Markdown report goes to stdout and to
``report.md`` next to the JSON files.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _harness as H  # noqa: E402
import bench_mlp  # noqa: E402  (neither imports numpy at module level)
import bench_scalar  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=2, help="times to run each benchmark (default 2: the machine is shared)")
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads for bench_mlp (default 1)")
    p.add_argument("--activation", choices=["sigmoid", "relu"], default="sigmoid", help="bench_mlp hidden activation")
    p.add_argument("--heaps", default="bare,notebook",
                   help="comma-separated bench_scalar heaps to run (default bare,notebook)")
    p.add_argument("--quick", action="store_true", help="pass --quick to every benchmark (smoke test only)")
    p.add_argument("--out", default=None, help="folder for the JSON files (default benchmarks/results/<timestamp>)")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error(f"--runs must be >= 1, got {args.runs}")
    heaps = [h for h in args.heaps.split(",") if h]
    bad = [h for h in heaps if h not in ("bare", "notebook")]
    if bad or not heaps:
        p.error(f"--heaps: valid values are bare, notebook; got {args.heaps!r}")
    args.heaps = heaps
    return args


def run_child(script, extra, json_path):
    """Run one benchmark in a fresh interpreter; its output goes to our stderr.  Returns its JSON."""
    cmd = [sys.executable, os.path.join(HERE, script), *extra, "--json", json_path]
    print(f"$ {' '.join(cmd)}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"{script} failed with exit code {proc.returncode}; command: {' '.join(cmd)}")
    with open(json_path) as f:
        return json.load(f)


def machine_section(mlp_machine, args):
    m = mlp_machine
    return "\n".join([
        f"- Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['cores_usable']} usable), "
        f"{m['platform']}; 1-min load average at start {m.get('loadavg_1min', '?')} (a shared machine)",
        f"- Python {m['python']}, numpy {m['numpy']} with BLAS {m['numpy_blas']}, "
        f"torch {m['torch']}, micrograd {m['micrograd']}",
        f"- Threads for bench_mlp: {args.threads} (numpy BLAS: {m['blas_threads']}; "
        f"torch.set_num_threads({args.threads})); bench_scalar is single-threaded Python",
    ])


def mlp_section(runs, args):
    lines = [f"### MLP training step (float64, hidden {args.activation}, SoftmaxCrossEntropy, SGD)", "",
             "Median time per step over timed rounds (IQR in brackets); ratios are medians of per-round "
             "ratios. `loop` = per-example column-vector "
             "loop written in the script; `A@B` = the plain matrix products the step needs "
             "(forward, dW, and dA_prev for all but the first layer) on contiguous arrays.", ""]
    for i, run in enumerate(runs, start=1):
        lines.append(bench_mlp.table(run["results"], run=i, head=i == 1))
    return "\n".join(lines)


def scalar_section(runs):
    lines = ["### Scalar engine: MLP(2, [16, 16, 1]) on 100 points, one full step", "",
             "Same Python model code for both engines (only `Value` differs); `micrograd.nn.MLP` is "
             "micrograd's own classes with the same weights.  *bare*: only what the benchmark needs "
             "is imported; *notebook*: matplotlib, ipywidgets and IPython are imported too, as in a "
             "course notebook's kernel, so the garbage collector walks a realistic heap.  "
             "*in gc*: share of the time spent in Python's garbage collector.", ""]
    first = True
    verdicts = []
    for i, run in runs:
        lines.append(bench_scalar.table(run["result"], run=i, head=first, verdict=False))
        verdicts.append(f"- run {i}: " + bench_scalar.verdict_line(run["result"]))
        first = False
    return "\n".join(lines + [""] + verdicts)


def targets_section(mlp_runs, scalar_runs):
    lines = ["### Targets", "", "| target | " + " | ".join(f"run {i}" for i in range(1, len(mlp_runs) + 1)) + " |",
             "|---|" + "---|" * len(mlp_runs)]
    show = {True: "met", False: "**missed**", None: "n/a"}
    for k, r in enumerate(mlp_runs[0]["results"]):
        cells = []
        for run in mlp_runs:
            x = run["results"][k]
            value = (f"{x['torch_ratio']:.2f} x torch" if x["batch"] <= 128 and x["torch_ratio"] is not None
                     else f"{100 * x['matmul_fraction']:.0f} % of A@B" if x["batch"] > 128 else "torch not installed")
            cells.append(f"{show[x['met']]} ({value})")
        lines.append(f"| {r['sizes']} batch {r['batch']}: {r['target']} | " + " | ".join(cells) + " |")
    by_heap = {}
    for _i, run in scalar_runs:
        by_heap.setdefault(run["result"]["heap"], []).append(run["result"])
    for heap, results in by_heap.items():
        cells = [f"{show[x['met']]} ({x['speedup']:.2f}x)" if x["speedup"] else "micrograd not installed"
                 for x in results]
        lines.append(f"| scalar, {heap} heap: {results[0]['target']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    out = args.out or os.path.join(HERE, "results", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    quick = ["--quick"] if args.quick else []
    mlp_runs, scalar_runs = [], []
    for i in range(1, args.runs + 1):
        mlp_runs.append(run_child("bench_mlp.py", ["--threads", str(args.threads), "--activation", args.activation,
                                                   *quick], os.path.join(out, f"mlp_run{i}.json")))
        for heap in args.heaps:
            scalar_runs.append((i, run_child("bench_scalar.py", ["--heap", heap, *quick],
                                             os.path.join(out, f"scalar_{heap}_run{i}.json"))))
    report = "\n".join([
        f"## Benchmarks ({time.strftime('%Y-%m-%d')}, {args.runs} run(s) of each"
        + (", --quick: NOT a measurement" if args.quick else "") + ")", "",
        f"Command: `{H.command_line()}`", "",
        machine_section(mlp_runs[0]["machine"], args), "",
        mlp_section(mlp_runs, args), "",
        scalar_section(scalar_runs), "",
        targets_section(mlp_runs, scalar_runs), "",
    ])
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(report)
    print(report)
    print(f"(JSON and report.md in {os.path.relpath(out)})", file=sys.stderr)


if __name__ == "__main__":
    main()
