"""``python -m bpcourse.grade SUBMISSIONS... --out grades.csv`` — the command line."""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter

from ..checks import EXERCISE_KEYS
from .report import write_csv, write_feedback, write_gradescope
from .runner import GRADE_SEED, discover, grade
from .sandbox import Limits, _under


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


MAX_TIMEOUT_S = 24 * 3600
MAX_MEMORY_MB = 1 << 22          # 4 TiB: more than any machine, less than setrlimit refuses


def _usage_problem(args):
    """What is wrong with the options, before anything is graded (None: nothing)."""
    if args.jobs < 1:
        return f"--jobs must be at least 1, got {args.jobs}"
    if not (math.isfinite(args.timeout) and 0 < args.timeout <= MAX_TIMEOUT_S):
        return f"--timeout must be a number of seconds in (0, {MAX_TIMEOUT_S}], got {args.timeout:g}"
    if not 256 <= args.memory <= MAX_MEMORY_MB:
        return f"--memory must be between 256 and {MAX_MEMORY_MB} MB, got {args.memory}"
    if args.seed < 0:
        return f"--seed must be a non-negative integer, got {args.seed}"
    return None


def _output_problem(args, submissions):
    """An output that cannot be written, or that would overwrite or hide a submission."""
    subs = {os.path.realpath(p) for p in submissions}
    wanted = [("--out", args.out, "file"), ("--feedback", args.feedback, "folder"),
              ("--gradescope", args.gradescope, "either")]
    for option, path, kind in wanted:
        if not path:
            continue
        real = os.path.realpath(path)
        if any(_under(s, real) for s in subs):
            return f"{option} {path} is (or holds) a submission; write the outputs somewhere else"
        if kind == "file" and os.path.isdir(path):
            return f"{option} {path} is a folder; give the gradebook's file name, e.g. {os.path.join(path, 'grades.csv')}"
        several = kind == "either" and len(submissions) > 1 and not args.one_submission
        if (kind == "folder" or several) and os.path.exists(path) and not os.path.isdir(path):
            return f"{option} {path} exists and is not a folder (one file per submission goes there)"
        parent = os.path.dirname(os.path.abspath(path.rstrip("/") or "/"))
        existing = path if os.path.isdir(path) else parent
        if not os.path.isdir(existing):
            return f"{option} {path}: the folder {existing} does not exist"
        if not os.access(existing, os.W_OK | os.X_OK):
            return f"{option} {path}: the folder {existing} is not writable"
    return None


def main(argv=None):
    args = build_parser().parse_args(argv)
    problem = _usage_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    limits = Limits(timeout=args.timeout, memory_mb=args.memory)
    outputs = [p for p in (args.out, args.feedback, args.gradescope) if p]
    found = [path for _, path, _ in discover(args.submissions) if path]       # outputs not excluded here
    problem = _output_problem(args, found)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    start = time.monotonic()
    try:
        subs = grade(args.submissions, exercise=args.exercise, jobs=args.jobs, limits=limits, seed=args.seed,
                     sandbox=args.sandbox, progress=not args.quiet, hide=args.hide, outputs=outputs,
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
