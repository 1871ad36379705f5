"""How long does each notebook take, top to bottom on a fresh kernel?  Target: ≤ 30 s each.

    .venv/bin/python benchmarks/bench_notebooks.py [--folders notebooks solutions exercises] [--json out.json]

Each notebook runs in its own new kernel (as "Restart Kernel and Run All Cells" does); the time
covers the cells only, from the first cell's start to the last cell's end — kernel start-up
(about a second) is reported separately.  Unsolved exercise notebooks stop at their
`NotImplementedError` cells (tagged raises-exception), so they run to the end too.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _harness as H  # noqa: E402

TARGET_S = 30.0


def time_notebook(path):
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    with client.setup_kernel():
        t1 = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        t2 = time.perf_counter()
    errors = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              and "raises-exception" not in c.get("metadata", {}).get("tags", [])
              and any(o.output_type == "error" for o in c.get("outputs", []))]
    return {"notebook": f"{path.parent.name}/{path.name}", "startup_s": t1 - t0, "cells_s": t2 - t1,
            "unexpected_errors": errors}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--folders", nargs="+", default=["notebooks"], help="folders to time (default: notebooks)")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    args = p.parse_args(argv)
    H.pin_threads(1)                      # as `make lab` and `make test` run the kernels
    print(f"$ {H.command_line()}", file=sys.stderr)
    rows = []
    for folder in args.folders:
        for path in sorted((HERE.parent / folder).glob("*.ipynb")):
            rows.append(time_notebook(path))
            print(f"{rows[-1]['notebook']}: {rows[-1]['cells_s']:.1f} s", file=sys.stderr)
    worst = max(rows, key=lambda r: r["cells_s"])
    broken = [r["notebook"] for r in rows if r["unexpected_errors"]]
    met = worst["cells_s"] <= TARGET_S and not broken
    lines = ["| notebook | cells | kernel start |", "|---|---:|---:|"]
    lines += [f"| {r['notebook']} | {r['cells_s']:.1f} s | {r['startup_s']:.1f} s |" for r in rows]
    lines += ["", f"Slowest: {worst['notebook']}, {worst['cells_s']:.1f} s; target ≤ {TARGET_S:g} s each"
                  f"{'; raised errors: ' + ', '.join(broken) if broken else ''}: **{'met' if met else 'missed'}**."]
    return H.finish_report(lines, args.json, rows, TARGET_S, met)


if __name__ == "__main__":
    sys.exit(main())
