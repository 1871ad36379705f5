"""How instant is the instant feedback?  Time every exercise check on its reference solution.

    .venv/bin/python benchmarks/bench_checks.py [--repeat 5] [--json out.json]

Each question's check (all of its cases, judged as the notebook's check cell judges them) runs
``--repeat`` times on the function from ``solutions/``; the table gives the median and the worst
time per question.  Target: every check answers within one second (the exercises issue), so a learner
never waits on a verdict.  The test suite checks the verdicts; the times live here because the
machine is shared and a timed assertion would be noise.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _harness as H  # noqa: E402  (no numpy import yet: threads are pinned first)

TARGET_S = 1.0


def time_checks(repeat, only=None):
    from bpcourse.checks import EXERCISE_KEYS, get_exercise
    from bpcourse.checks._core import CORRECT
    sys.path.insert(0, str(HERE.parent / "tests"))
    from test_checks import SOLVED  # each solution notebook's definitions, run once
    rows = []
    for key in EXERCISE_KEYS:
        if only and key not in only:
            continue
        ns = SOLVED[key]
        for q in get_exercise(key).questions:
            funcs = [ns[f] for f in q.funcs]
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                verdict = q.verdict(*funcs)
                times.append(time.perf_counter() - t0)
                if verdict.state != CORRECT:
                    raise RuntimeError(f"{key} {q.name}: the reference solution is not correct: {verdict.message}")
            times.sort()
            rows.append({"exercise": key, "question": q.name, "median_s": times[len(times) // 2],
                         "max_s": times[-1]})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=5, help="timed verdicts per question (default 5)")
    p.add_argument("--only", nargs="+", metavar="EXERCISE", help="only these exercises, e.g. ex04 ex06")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error(f"--repeat must be >= 1, got {args.repeat}")
    H.pin_threads(1)
    print(f"$ {H.command_line()}", file=sys.stderr)
    rows = time_checks(args.repeat, args.only)
    worst = max(rows, key=lambda r: r["max_s"])
    lines = ["| exercise | question | median | worst |", "|---|---|---:|---:|"]
    lines += [f"| {r['exercise']} | {r['question']} | {r['median_s'] * 1e3:.0f} ms | {r['max_s'] * 1e3:.0f} ms |"
              for r in rows]
    met = worst["max_s"] <= TARGET_S
    lines += ["", f"Slowest check: {worst['exercise']} {worst['question']}, {worst['max_s'] * 1e3:.0f} ms worst of "
                  f"{args.repeat}; target ≤ {TARGET_S:g} s per check: **{'met' if met else 'missed'}**."]
    return H.finish_report(lines, args.json, rows, TARGET_S, met)


if __name__ == "__main__":
    sys.exit(main())
