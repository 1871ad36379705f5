"""Writing what the grader found: the gradebook CSV, one feedback file per submission, and
Gradescope's ``results.json``.  Every writer is deterministic (sorted, no timings, no
addresses), so grading the same folder twice gives byte-identical files."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile

from ..checks import get_exercise
from ..checks._core import CORRECT
from .runner import scrub
from .status import Status

__all__ = ["write_csv", "write_feedback", "write_gradescope", "gradescope_result", "feedback_text",
           "safe_name"]


def _fmt(x):
    return f"{x:g}"


def _spreadsheet_safe(text):
    """A cell a spreadsheet will not run as a formula (a file name could start with '=')."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _atomic_write(path, data):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".grade-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8"))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _columns(subs):
    exercises = sorted({s.exercise for s in subs if s.exercise})
    single = len(exercises) <= 1
    return [(ex, q.name, q.name if single else f"{ex}.{q.name}")
            for ex in exercises for q in get_exercise(ex).questions]


def write_csv(subs, path):
    """One row per submission (sorted), one column per question, then total, max, status."""
    cols = _columns(subs)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["submission", "exercise", *(c for _, _, c in cols), "total", "max", "status"])
    for s in sorted(subs, key=lambda s: s.id):
        scores = {(s.exercise, q.name): q.score for q in s.questions}
        row = [_spreadsheet_safe(s.id), s.exercise or ""]
        row += [_fmt(scores[(ex, q)]) if (ex, q) in scores else "" for ex, q, _ in cols]
        row += [_fmt(s.total), _fmt(s.max) if s.exercise else "", s.status]
        w.writerow(row)
    _atomic_write(path, buf.getvalue())


def safe_name(sid):
    """A file name for a submission id: letters and digits of any script, '.', '_' and '-' only,
    at most 120 characters and 200 bytes of UTF-8 (file systems allow 255)."""
    name = re.sub(r"[^\w.-]+", "_", sid.replace(os.sep, "__")).strip("._") or "submission"
    name = name[:120]
    while len(name.encode("utf-8")) > 200:
        name = name[:-1]
    return name


def _unique_names(subs):
    """A file name per submission: its id without the folder all ids share, made safe and unique."""
    dirs = [os.path.dirname(s.id) for s in subs]
    common = os.path.commonpath(dirs) if dirs and all(dirs) and len({d.startswith("/") for d in dirs}) == 1 else ""
    names, used = {}, set()
    for s in sorted(subs, key=lambda s: s.id):
        name = safe_name(os.path.relpath(s.id, common) if common else s.id)
        if name in used:
            name = f"{name}-{hashlib.sha256(s.id.encode('utf-8', 'backslashreplace')).hexdigest()[:8]}"
        used.add(name)
        names[s.id] = name
    return names


def _state(q):
    """'correct', 'incorrect (status: memory)', 'timeout', or 'not graded' for a question never run."""
    if q.verdict:
        return q.verdict + (f" (status: {q.status})" if q.status != Status.OK else "")
    return "not graded" if q.status == Status.OK else q.status


def feedback_text(s):
    """A readable report for one submission (Markdown)."""
    lines = [f"# Feedback for {s.id}", ""]
    if s.exercise:
        ex = get_exercise(s.exercise)
        lines += [f"Exercise: {ex.key} — {ex.title}", f"Score: {_fmt(s.total)} / {_fmt(s.max)}"]
    lines += [f"Status: {s.status}", ""]
    if s.message:
        lines += [scrub(s.message), ""]
    hints = {}
    if s.exercise:
        hints = {q.name: (q.hints[0] if q.hints else "") for q in get_exercise(s.exercise).questions}
    for q in s.questions:
        state = _state(q)
        lines.append(f"## {q.name} {q.label} — {_fmt(q.score)} / {_fmt(q.points)}: {state}")
        if q.message:
            lines.append(scrub(q.message))
        if q.verdict not in (CORRECT, "") and hints.get(q.name):
            lines.append(f"Hint: {hints[q.name]}")
        lines.append("")
    if s.cell_errors:
        lines += ["## Errors while running your notebook's cells", ""]
        for _, first, line, err, msg in s.cell_errors:
            at = f"the cell starting `{first}`" + (f", line {line}" if line else "")
            lines.append(f"- {at}: {err}" + (f": {scrub(msg)}" if msg else ""))
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def write_feedback(subs, folder):
    """``folder/<submission>.md`` for every submission; returns {id: path}."""
    os.makedirs(folder, exist_ok=True)
    names = _unique_names(subs)
    paths = {}
    for s in subs:
        path = os.path.join(folder, names[s.id] + ".md")
        _atomic_write(path, feedback_text(s))
        paths[s.id] = path
    return paths


def gradescope_result(s):
    """One submission in Gradescope's autograder ``results.json`` format."""
    tests = []
    for i, q in enumerate(s.questions, start=1):
        out = [_state(q)]
        if q.message:
            out.append(scrub(q.message))
        tests.append({"name": f"{q.name} {q.label}", "number": str(i), "score": q.score, "max_score": q.points,
                      "status": "passed" if q.verdict == CORRECT else "failed", "output": "\n".join(out),
                      "visibility": "visible"})
    summary = [f"Status: {s.status}"] + ([scrub(s.message)] if s.message else [])
    summary += [f"the cell starting `{first}`{f', line {ln}' if ln else ''}: {e}: {scrub(m)}"
                for _, first, ln, e, m in s.cell_errors]
    return {"score": s.total, "output": "\n".join(summary), "tests": tests, "visibility": "visible",
            "stdout_visibility": "hidden"}


def write_gradescope(subs, path):
    """One submission: ``path`` is the results.json file, unless it names a folder (it exists as
    one, or ends in a slash).  Several: ``path`` is a folder holding ``<submission>.json`` for each."""
    dump = lambda obj: json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    as_folder = os.path.isdir(path) or os.fspath(path).endswith(("/", os.sep))
    if len(subs) == 1 and not as_folder:
        _atomic_write(path, dump(gradescope_result(subs[0])))
        return [os.fspath(path)]
    os.makedirs(path, exist_ok=True)
    names = _unique_names(subs)
    written = []
    for s in subs:
        p = os.path.join(path, names[s.id] + ".json")
        _atomic_write(p, dump(gradescope_result(s)))
        written.append(p)
    return written
