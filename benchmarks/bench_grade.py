"""How fast the batch grader goes: grade N copies of an exercise notebook with the CLI.

    python benchmarks/bench_grade.py                        # 100 copies of exercises/ex04, --jobs 2
    python benchmarks/bench_grade.py --n 100 --jobs 2 --source solutions --json out.json

The target (issue "Exercises, instant feedback and a batch grader") is at least one graded
submission per second with ``--jobs 2`` on a 2-core machine.  Every question runs in its own
sandboxed process, so the cost is mostly interpreter start-up (Python + numpy) per question.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100, help="copies to grade (default 100)")
    p.add_argument("--jobs", type=int, default=2, help="--jobs for the grader (default 2)")
    p.add_argument("--exercise", default="ex04", help="which exercise notebook (default ex04)")
    p.add_argument("--source", choices=("exercises", "solutions"), default="exercises",
                   help="copy the unsolved exercise (default) or the solution")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto")
    p.add_argument("--json", help="also write the result as JSON here")
    args = p.parse_args(argv)
    if args.n < 1 or args.jobs < 1:
        p.error("--n and --jobs must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    notebook = next((ROOT / args.source).glob(f"{args.exercise}_*.ipynb"))
    work = Path(tempfile.mkdtemp(prefix="bench-grade-"))
    try:
        subs = work / "submissions"
        subs.mkdir()
        for i in range(args.n):
            shutil.copyfile(notebook, subs / f"student{i:04d}_{notebook.name}")
        cmd = [sys.executable, "-m", "bpcourse.grade", str(subs), "--jobs", str(args.jobs), "--sandbox", args.sandbox,
               "--out", str(work / "grades.csv"), "--quiet"]
        start = time.perf_counter()
        r = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if r.returncode != 0:
            raise SystemExit(f"the grader failed ({r.returncode}):\n{r.stderr}")
        with open(work / "grades.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        statuses = sorted({row["status"] for row in rows})
        questions = sum(1 for k in rows[0] if k.startswith("q"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"submissions": len(rows), "questions_each": questions, "jobs": args.jobs, "seconds": round(seconds, 2),
              "submissions_per_second": round(len(rows) / seconds, 2),
              "processes_per_second": round(len(rows) * questions / seconds, 2),
              "statuses": statuses, "notebook": f"{args.source}/{notebook.name}",
              "sandbox": "bubblewrap" if "WITHOUT a filesystem sandbox" not in r.stderr and args.sandbox != "none"
              else "none", "cores": os.cpu_count(), "python": platform.python_version(),
              "load_average_1min": round(os.getloadavg()[0], 2)}
    print(f"graded {result['submissions']} copies of {result['notebook']} ({questions} questions each) with "
          f"--jobs {args.jobs} in {seconds:.1f} s: {result['submissions_per_second']} submissions/s "
          f"({result['processes_per_second']} sandboxed processes/s; sandbox {result['sandbox']}; "
          f"{result['cores']} cores, load {result['load_average_1min']}; statuses {', '.join(statuses)})")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
