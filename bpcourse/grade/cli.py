"""``python -m bpcourse.grade SUBMISSIONS... --out grades.csv`` — the command line."""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from ..checks import EXERCISE_KEYS
from .report import write_csv, write_feedback, write_gradescope
from .runner import GRADE_SEED, grade
from .sandbox import Limits


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m bpcourse.grade",
        description="Grade submitted exercise notebooks. Each question runs in its own sandboxed process; "
                    "a broken submission never stops the batch and never changes the files it came from.",
        epilog="Statuses: ok, timeout, crash, memory, invalid_notebook, missing. See docs/grading.md.")
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                   help="a notebook, or a folder of notebooks and/or one subfolder per student")
    p.add_argument("--out", default="grades.csv", help="the gradebook CSV to write (default: grades.csv)")
    p.add_argument("--exercise", choices=EXERCISE_KEYS,
                   help="grade every notebook as this exercise (default: from notebook metadata or file name)")
    p.add_argument("--feedback", metavar="DIR", help="write one feedback file per submission into DIR")
    p.add_argument("--gradescope", metavar="PATH",
                   help="write Gradescope results.json (a folder of <submission>.json for several submissions)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="questions graded in parallel (default 1)")
    p.add_argument("--timeout", type=float, default=Limits.timeout,
                   help=f"wall-clock seconds per question (default {Limits.timeout:g})")
    p.add_argument("--memory", type=int, default=Limits.memory_mb, metavar="MB",
                   help=f"address-space limit per question (default {Limits.memory_mb})")
    p.add_argument("--seed", type=int, default=GRADE_SEED, help="seed for the grader's test cases")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                   help="auto: bubblewrap when it works, else resource limits only (default); "
                        "bwrap: require it; none: limits only")
    p.add_argument("--hide", action="append", default=[], metavar="DIR",
                   help="another folder graded code must not see (repeatable)")
    p.add_argument("--one-submission", action="store_true",
                   help="everything given is ONE student's upload: grade its notebook for --exercise "
                        "(as on Gradescope)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.jobs < 1 or args.timeout <= 0 or args.memory < 256:
        print("error: --jobs must be >= 1, --timeout > 0 and --memory >= 256 MB", file=sys.stderr)
        return 2
    limits = Limits(timeout=args.timeout, memory_mb=args.memory)
    outputs = [p for p in (args.out, args.feedback, args.gradescope) if p]
    start = time.monotonic()
    try:
        subs = grade(args.submissions, exercise=args.exercise, jobs=args.jobs, limits=limits, seed=args.seed,
                     sandbox=args.sandbox, progress=not args.quiet, hide=[*args.hide, *outputs],
                     one_submission=args.one_submission)
    except (RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_csv(subs, args.out)
    if args.feedback:
        write_feedback(subs, args.feedback)
    if args.gradescope:
        write_gradescope(subs, args.gradescope)
    if not args.quiet:
        counts = Counter(s.status for s in subs)
        took = time.monotonic() - start
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        print(f"graded {len(subs)} submission(s) in {took:.1f} s ({summary}) -> {args.out}", file=sys.stderr)
    return 0
