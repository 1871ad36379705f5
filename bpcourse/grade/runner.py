"""Grading a batch: find the submissions, read them, run every question in its own sandboxed
process, judge the plain numbers that come back, and collect one result per submission."""
from __future__ import annotations

import os
import queue
import re
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from ..checks import EXERCISE_KEYS, RENUMBERED, get_exercise
from ..checks._core import CORRECT, judge_case, solutions_dir
from .notebook import NotebookError, code_cells, exercise_identity, exercise_key, plan_question, read_notebook
from .sandbox import Limits, Sandbox, _under, run_child

__all__ = ["QuestionResult", "Submission", "discover", "grade", "GRADE_SEED", "STATUS_ORDER"]

GRADE_SEED = 20240917        # the grader's cases differ from the ones the notebooks check
# the most serious status of any question becomes the submission's status
STATUS_ORDER = ("invalid_notebook", "timeout", "memory", "crash", "missing", "ok")


@dataclass
class QuestionResult:
    name: str
    label: str
    points: float
    score: float = 0.0
    status: str = "ok"         # ok | timeout | crash | memory | missing
    verdict: str = ""          # correct | not attempted yet | incorrect | "" when it did not run
    message: str = ""


@dataclass
class Submission:
    id: str                    # printable name: path relative to the argument it came from
    path: str | None
    exercise: str | None = None
    status: str = "ok"         # ok | timeout | crash | memory | invalid_notebook | missing
    message: str = ""
    questions: list = field(default_factory=list)
    cell_errors: list = field(default_factory=list)

    @property
    def total(self):
        return float(sum(q.score for q in self.questions))

    @property
    def max(self):
        return get_exercise(self.exercise).max_score if self.exercise else 0.0


def printable(path):
    """A path as text, with undecodable bytes of a non-UTF-8 file name shown as \\xNN."""
    s = os.fsdecode(path)
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _is_hidden(name):
    return name.startswith(".") or name == "__pycache__"


def _notebooks_under(folder):
    """Every ``*.ipynb`` below ``folder`` (symlinks included, never followed), sorted."""
    found = []
    for top, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not _is_hidden(d) and not os.path.islink(os.path.join(top, d)))
        found += [os.path.join(top, f) for f in sorted(files) if f.endswith(".ipynb") and not _is_hidden(f)]
    return found


def discover(args, exclude=()):
    """``[(id, path or None, group)]``: one entry per notebook; a folder argument holds
    notebooks (one submission each) and/or one subfolder per student; ``path=None`` marks a
    student folder (or argument) with no notebook at all.  A folder named in ``args`` may be a
    symbolic link (the instructor chose it); links inside it are refused later.  Anything at or
    under a path in ``exclude`` (the grader's own outputs) is not a submission."""
    entries, seen = [], set()
    excluded = [os.path.realpath(os.fsdecode(p)) for p in exclude]
    skip = lambda p: any(_under(os.path.realpath(p), e) for e in excluded)
    for arg in args:
        arg = os.fsdecode(arg)
        base = arg.rstrip("/") or "/"
        if not os.path.isdir(base):
            entries.append((printable(base), base if os.path.lexists(base) else None, None))
            continue
        top_level = sorted(e for e in os.listdir(base) if not _is_hidden(e))
        found_any = False
        for name in top_level:
            path = os.path.join(base, name)
            if skip(path):
                continue
            if name.endswith(".ipynb") and (os.path.islink(path) or os.path.isfile(path)):
                entries.append((printable(path), path, None))
                found_any = True
            elif os.path.islink(path) and os.path.isdir(path):
                entries.append((printable(path), path, None))       # refused later: a symlink
                found_any = True
            elif os.path.isdir(path):
                found = _notebooks_under(path)
                entries += [(printable(p), p, printable(path)) for p in found]
                if not found:
                    entries.append((printable(path), None, printable(path)))
                found_any = True
        if not found_any:
            entries.append((printable(base), None, None))
    unique = []
    for entry in entries:
        key = os.path.realpath(entry[1]) if entry[1] and not os.path.islink(entry[1]) else entry[0]
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    return unique


def pick_one(paths, exercise):
    """For one student's upload (Gradescope): the notebook to grade among everything under
    ``paths`` — one of the right exercise, preferably under its usual file name; ``None`` if
    there is no notebook at all."""
    candidates = []
    for arg in map(os.fsdecode, paths):
        candidates += _notebooks_under(arg) if os.path.isdir(arg) and not os.path.islink(arg) else [arg]
    usual = get_exercise(exercise).notebook if exercise else None
    ranked = []
    for path in candidates:
        try:
            key = exercise_key(read_notebook(path), path)
        except NotebookError:
            ranked.append((3, path))
            continue
        if exercise and key not in (None, exercise):
            ranked.append((2, path))
        else:
            ranked.append((0 if os.path.basename(path) == usual else 1, path))
    return min(ranked)[1] if ranked else None


def _load(entries, exercise, warn=None):
    """Read every notebook up front (so nothing a job does later can change what is graded).
    ``warn`` hears, once, about notebooks that say they are another exercise than ``exercise``."""
    subs, cells_of, groups_kept, other, renumbered = [], {}, set(), Counter(), Counter()
    rank, group_of = {}, {}            # for one notebook per student and exercise (see below)
    for sid, path, group in entries:
        sub = Submission(sid, path)
        group_of[sid] = group
        if path is None:
            sub.status, sub.message = "missing", "no notebook was submitted"
            sub.exercise = exercise
            subs.append(sub)
            continue
        try:
            nb = read_notebook(path)
            key, old = exercise_identity(nb, path)
            if old and exercise == RENUMBERED[old][0] != key:
                sub.exercise = exercise        # never score it against the questions now under that number
                raise NotebookError("invalid_notebook", f"is the old {old} notebook, from before the exercises "
                                    f"were renumbered: {exercise} is another exercise now, and this one is "
                                    f"{key}; grade it with --exercise {key}")
            if old and key == (exercise or key):
                renumbered[f"{old} → {key}"] += 1
            if exercise and key and key != exercise and group is not None:
                continue                       # another exercise's notebook in a student folder
            if exercise and key and key != exercise:
                other[key] += 1
            usual = key in EXERCISE_KEYS and os.path.basename(path) == get_exercise(key).notebook
            rank[sid] = 0 if usual else 1 if key else 2
            key = exercise or key
            if key not in EXERCISE_KEYS:
                sub.exercise = None
                raise NotebookError("invalid_notebook", "cannot tell which exercise this is (no "
                                    "`bpcourse.exercise` metadata, no exNN in the file name); pass --exercise")
            sub.exercise = key
            cells_of[sid] = code_cells(nb)
        except NotebookError as e:
            sub.status, sub.message = e.status, f"{sub.id} {e}"
            sub.exercise = sub.exercise or exercise or exercise_key({}, path)
            if sub.exercise not in EXERCISE_KEYS:
                sub.exercise = None
        groups_kept.add(group)
        subs.append(sub)
    # one notebook per student and exercise: in a student folder holding several (a stray
    # Untitled.ipynb, a copy), grade the one that says it is that exercise, under its usual name
    contenders = [((group_of[sub.id], sub.exercise), sub) for sub in subs
                  if group_of.get(sub.id) is not None and sub.path is not None and sub.exercise]
    best = {}
    for k, sub in contenders:
        if k not in best or (rank.get(sub.id, 3), sub.id) < (rank.get(best[k].id, 3), best[k].id):
            best[k] = sub
    for k, sub in contenders:
        if best[k] is not sub:
            subs.remove(sub)
            cells_of.pop(sub.id, None)
            if warn:
                warn(f"bpcourse.grade: {k[0]}: graded {best[k].id}, not {sub.id} "
                     f"(one notebook per student and exercise)")
    # a student folder whose notebooks all belonged to other exercises counts as missing
    for sid, path, group in entries:
        if group is not None and group not in groups_kept and path is not None:
            groups_kept.add(group)
            subs.append(Submission(group, None, exercise, "missing", f"no {exercise} notebook was submitted"))
    for sub in subs:
        if sub.exercise and not sub.questions:
            sub.questions = [QuestionResult(q.name, q.label, float(q.points))
                             for q in get_exercise(sub.exercise).questions]
    subs.sort(key=lambda s: s.id)
    if renumbered and warn:
        seen = ", ".join(f"{n} × {k}" for k, n in sorted(renumbered.items()))
        warn(f"bpcourse.grade: graded notebooks from before the exercises were renumbered under their new "
             f"numbers ({seen}).")
    if other and warn:
        seen = ", ".join(f"{n} × {k}" for k, n in sorted(other.items()))
        warn(f"bpcourse.grade: graded as {exercise} (--exercise), but by their metadata or file names some "
             f"notebooks are another exercise ({seen}); check --exercise if scores look wrong.")
    return subs, cells_of


def _cases(exercise, question, seed):
    rng = np.random.default_rng([seed, int(exercise[2:]), question.number])
    return question.cases(rng)


def _first_line(source):
    line = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def _valid_cell_errors(payload, cells):
    """(cell index, first line of the cell, line, error, message) for each failing cell."""
    first = {c.index: _first_line(c.source) for c in cells}
    out = []
    errors = payload.get("cell_errors")
    for e in errors if isinstance(errors, list) else []:
        if isinstance(e, dict) and type(e.get("cell")) is int and e["cell"] in first:
            line = e.get("line") if type(e.get("line")) is int else None
            out.append((e["cell"], first[e["cell"]], line, str(e.get("error", "?"))[:60],
                        str(e.get("message", ""))[:300]))
    return out[:20]


def _run_question(sub, q, planned, cases, sandbox, limits, slots):
    """Grade one question of one submission; ``planned`` is ``plan_question``'s answer (made in
    the calling thread); returns (QuestionResult, cell errors)."""
    result = QuestionResult(q.name, q.label, float(q.points))
    plan, detail = planned
    if plan == "error":
        raise detail
    if plan == "missing":
        result.status, result.message = "missing", detail
        return result, []
    job = {"exercise": sub.exercise, "question": q.name, "cases": cases,
           "cells": [{"index": c.index, "source": c.source} for c in detail]}
    slot = slots.get()
    try:
        outcome = run_child(sandbox, job, limits, slot=slot, timeout=limits.timeout * q.timeout_factor)
    finally:
        slots.put(slot)
    if outcome.payload is None:
        result.status, result.message = outcome.status, outcome.message
        return result, []
    payload = outcome.payload
    errors = _valid_cell_errors(payload, detail)
    result.status = outcome.status
    undefined = payload.get("undefined")
    if undefined:
        names = ", ".join(f"`{n}`" for n in (undefined if isinstance(undefined, list) else [])[:5]
                          if isinstance(n, str) and n in q.funcs) or "a graded function"
        raised = [f"the cell starting `{first}` raised {err}" for _, first, _, err, _ in errors]
        why = f" ({'; '.join(raised[:3])})" if raised else ""
        result.verdict = "not defined"
        result.message = f"{names} is not defined after running the notebook's cells{why}"
        return result, errors
    verdict = judge_case(q, cases, payload.get("results"))
    result.verdict, result.message = verdict.state, verdict.message
    result.score = float(q.points) if verdict.state == CORRECT else 0.0
    if outcome.status == "memory" and "MemoryError" not in result.message:
        result.message = (result.message + "; " if result.message else "") + "a cell ran out of memory (MemoryError)"
    return result, errors


def _plan(cells, q):
    """``plan_question`` in the calling thread; an unexpected failure becomes ("error", exception),
    which the question's task re-raises so that it costs that question only."""
    try:
        return plan_question(cells, q.funcs)
    except Exception as e:
        return "error", e


def _internal_error(sub, q, error, log):
    """The result of a question the grader itself failed on: status crash, zero points, and a
    loud message (on stderr and in the feedback) asking for a bug report."""
    what = f"{type(error).__name__}: {error}"[:300]
    log(f"bpcourse.grade: INTERNAL ERROR grading {sub.id} {q.name} ({what}); that question is marked "
        f"'crash' and the batch goes on. Please report this with the submission.")
    result = QuestionResult(q.name, q.label, float(q.points))
    result.status = "crash"
    result.message = f"the grader failed on this question (internal error, {what}); not the learner's fault"
    return result


def grade(paths, exercise=None, jobs=1, limits=None, seed=GRADE_SEED, sandbox="auto", progress=False,
          hide=(), log=None, one_submission=False, outputs=()):
    """Grade every submission found in ``paths``; returns a list of ``Submission``, sorted by id.

    ``sandbox`` is ``"auto"`` (bubblewrap when it works, else limits only), ``"bwrap"`` (required)
    or ``"none"``; ``hide`` lists extra folders the jobs must not see (submissions, the
    solutions folder and ``outputs`` are always hidden); ``outputs`` (the gradebook, feedback and
    Gradescope paths) are never taken for submissions.  ``one_submission=True``
    treats everything in ``paths`` as one student's upload and grades the best-matching notebook.
    """
    if exercise is not None and exercise not in EXERCISE_KEYS:
        raise ValueError(f"unknown exercise {exercise!r}; valid: {', '.join(EXERCISE_KEYS)}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    limits = limits or Limits()
    if one_submission:
        chosen = pick_one(paths, exercise)
        entries = [(printable(chosen) if chosen else printable(os.fsdecode(paths[0]).rstrip("/")), chosen, None)]
    else:
        entries = discover(paths, exclude=outputs)
    subs, cells_of = _load(entries, exercise, warn=log or (lambda msg: print(msg, file=sys.stderr)))
    box = sandbox if isinstance(sandbox, Sandbox) else Sandbox(
        sandbox, hide=[*paths, solutions_dir(), *hide, *outputs], log=log, limits=limits)
    slots = queue.Queue()
    for k in range(jobs):
        slots.put(k)
    case_cache = {}
    tasks = []
    for sub in subs:
        if sub.id not in cells_of:
            continue
        for i, q in enumerate(get_exercise(sub.exercise).questions):
            key = (sub.exercise, q.name)
            if key not in case_cache:
                case_cache[key] = _cases(sub.exercise, q, seed)
            tasks.append((sub, i, q, case_cache[key]))
    remaining = Counter(sub.id for sub, _, _, _ in tasks)
    bar = tqdm(total=len(subs), unit="submission", file=sys.stderr, dynamic_ncols=True, desc="grading",
               disable=not progress)
    bar.update(len(subs) - len(remaining))          # nothing to run: invalid or missing
    errors_of = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_run_question, sub, q, _plan(cells_of[sub.id], q), cases, box, limits, slots):
                   (sub, i, q) for sub, i, q, cases in tasks}
        for fut in as_completed(futures):
            sub, i, q = futures[fut]
            try:
                sub.questions[i], errors = fut.result()
            except Exception as e:              # a grader bug costs one question, not the batch
                sub.questions[i], errors = _internal_error(sub, q, e, box.log), []
            errors_of.setdefault(sub.id, set()).update(errors)
            remaining[sub.id] -= 1
            if remaining[sub.id] == 0:
                bar.update(1)
    bar.close()
    for sub in subs:
        sub.cell_errors = sorted(errors_of.get(sub.id, ()), key=lambda e: (e[0], e[2] or 0, e[3], e[4]))[:10]
        if sub.status == "ok":
            sub.status = min((q.status for q in sub.questions), key=STATUS_ORDER.index, default="ok")
    return subs


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def scrub(text):
    """Remove run-to-run noise (memory addresses) so reruns write identical files."""
    return _ADDRESS.sub("0x…", text)
