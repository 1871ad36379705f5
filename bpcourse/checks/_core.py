"""The machinery shared by every exercise checker (``bpcourse.checks.exNN``).

A question is checked in three steps, and the same three functions serve the learner's
instant feedback (all in one process) and the batch grader (split across a trust boundary):

1. ``cases(rng)``   — small JSON recipes (seeds, shapes) chosen by the checker;
   ``inputs(case)`` — turns a recipe into arrays, the same way on both sides.
2. ``call(inputs, *learner_functions)`` — calls the learner's code and converts whatever it
   returns into plain JSON (``arr``/``num``).  In the grader this runs in the sandboxed child.
3. ``judge(case, inputs, out)`` — compares the plain numbers with what the checker computes
   itself (finite differences of a forward pass, invariants, small known cases).  In the
   grader this runs in the trusted parent, which never unpickles anything from the child.

Checks verify properties, so this package holds no copy of the reference solutions.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from ..notebook_source import cell_source, strip_magics, top_level_names

__all__ = ["Wrong", "BadReturn", "Question", "Exercise", "Verdict", "arr", "num", "unpack", "get_arr", "get_num",
           "close", "numeric_grad", "run_case", "judge_case", "top_level_names", "strip_magics", "CHECK_SEED",
           "CORRECT", "NOT_ATTEMPTED", "INCORRECT"]

CHECK_SEED = 0                 # the notebooks' own checks; the grader uses its own seed
CORRECT, NOT_ATTEMPTED, INCORRECT = "correct", "not attempted yet", "incorrect"
MAX_ELEMENTS = 1_000_000       # the largest array a learner's function may hand back
MAX_MESSAGE = 400              # characters kept of an exception message


class Wrong(Exception):
    """A failed expectation; its message is shown to the learner."""


class BadReturn(Exception):
    """A learner's return value that cannot be read as the numbers the question asks for."""


# ----------------------------------------------------------------------------------------
# converting learner values into plain JSON (runs next to learner code)
# ----------------------------------------------------------------------------------------

def arr(x, what):
    """A returned array -> ``{"shape": [...], "dtype": "float64", "data": [flat floats]}``.

    ``np.asarray(x, dtype=float64)`` happens here, before anything compares values, so a
    returned object's own ``__eq__`` or ndarray subclass never takes part in a verdict.
    """
    try:
        original = np.asarray(x)
        dtype = str(original.dtype)
        if original.dtype.kind not in "biuf":
            raise BadReturn(f"{what} is {_type_name(x)} with dtype {dtype}, not an array of numbers")
        a = np.asarray(original, dtype=np.float64)
    except BadReturn:
        raise
    except Exception:
        raise BadReturn(f"{what} is {_type_name(x)}, which numpy cannot read as an array of numbers") from None
    if a.size > MAX_ELEMENTS:
        raise BadReturn(f"{what} has {a.size} entries, more than the {MAX_ELEMENTS} any answer needs")
    return {"shape": [int(n) for n in a.shape], "dtype": dtype, "data": a.ravel().tolist()}


def num(x, what):
    """A returned scalar (Python or numpy number, or a size-1 array) -> ``{"dtype", "value"}``."""
    if isinstance(x, bool):
        raise BadReturn(f"{what} is a bool, not a number")
    try:
        a = np.asarray(x)
        dtype = str(a.dtype)
        if a.dtype.kind not in "iuf":
            raise BadReturn(f"{what} is {_type_name(x)} with dtype {dtype}, not a number")
        if a.size != 1:
            raise BadReturn(f"{what} should be a single number, got an array of shape {a.shape}")
        value = float(np.asarray(a, dtype=np.float64).reshape(-1)[0])
    except BadReturn:
        raise
    except Exception:
        raise BadReturn(f"{what} is {_type_name(x)}, not a number") from None
    return {"dtype": dtype, "value": value}


def unpack(result, names, func):
    """``a, b, c = result`` with a clear message when the learner returned something else."""
    n = len(names)
    try:
        items = tuple(result)
    except Exception:
        items = None
    if items is None or len(items) != n:
        got = f"{len(items)} values" if items is not None else _type_name(result)
        raise BadReturn(f"{func} should return {n} values ({', '.join(names)}), got {got}")
    return items


def _type_name(x):
    if isinstance(x, np.ndarray):
        return f"an ndarray of shape {x.shape}"
    return f"a {type(x).__name__}"


def digest(a):
    """A fingerprint of an input array, to notice learner code that changes its inputs."""
    a = np.ascontiguousarray(a)
    return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


def run_case(question, funcs, inputs, catch=Exception):
    """Call the learner's functions on one case; return a plain, JSON-ready dict.

    ``{"status": "returned", "out": {...}, "after": {input: digest}}``, or
    ``{"status": "not_attempted"}``, or ``{"status": "error", "error": "ValueError", "message": ...}``.
    """
    try:
        out = question.call(inputs, *funcs)
    except NotImplementedError:
        return {"status": "not_attempted"}
    except BadReturn as e:
        return {"status": "error", "error": "BadReturn", "message": str(e)[:MAX_MESSAGE]}
    except catch as e:  # noqa: B902 - the grader's child passes BaseException
        return {"status": "error", "error": type(e).__name__, "message": _safe_str(e)[:MAX_MESSAGE]}
    after = {k: digest(v) for k, v in inputs.items()
             if isinstance(v, np.ndarray) and k not in question.mutable}
    return {"status": "returned", "out": out, "after": after}


def _safe_str(e):
    try:
        return str(e)
    except Exception:
        return "(an exception whose message cannot be shown)"


# ----------------------------------------------------------------------------------------
# reading plain JSON back (runs in the trusted process; every field is validated)
# ----------------------------------------------------------------------------------------

def get_arr(out, key, shape=None, what=None, float64=True):
    """The array under ``out[key]`` as float64, after checking types, dtype and shape."""
    what = what or key
    item = out.get(key) if isinstance(out, dict) else None
    if not isinstance(item, dict):
        raise Wrong(f"no value for {what} came back")
    shp, dtype, data = item.get("shape"), item.get("dtype"), item.get("data")
    if (not isinstance(shp, list) or len(shp) > 8 or not all(type(n) is int and n >= 0 for n in shp)
            or not isinstance(dtype, str) or not isinstance(data, list)
            or len(data) != math.prod(shp) or not all(type(v) in (int, float) for v in data)):
        raise Wrong(f"{what} came back malformed")
    if float64 and dtype != "float64":
        raise Wrong(f"{what} has dtype {dtype}, expected float64 (keep computing in float64)")
    if shape is not None and tuple(shp) != tuple(shape):
        raise Wrong(f"{what} has shape {tuple(shp)}, expected {tuple(shape)}")
    a = np.array(data, dtype=np.float64).reshape(shp)
    return a


def get_num(out, key, what=None):
    what = what or key
    item = out.get(key) if isinstance(out, dict) else None
    if not isinstance(item, dict) or type(item.get("value")) not in (int, float) \
            or not isinstance(item.get("dtype"), str):
        raise Wrong(f"no number for {what} came back")
    return float(item["value"])


def close(got, expected, what, rtol=1e-6, atol=1e-9):
    """Raise ``Wrong`` naming the worst entry unless ``got`` matches ``expected``."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        raise Wrong(f"{what} has shape {got.shape}, expected {expected.shape}")
    if not np.all(np.isfinite(got)):
        why = "NaN or inf: an overflow in exp, or the log of 0?"
        if got.ndim == 0:
            raise Wrong(f"{what} is {float(got)}, expected {_fmt(expected)} ({why})")
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        raise Wrong(f"{what}[{', '.join(map(str, idx))}] is {got[idx]}, expected {_fmt(expected[idx])} ({why})")
    err = np.abs(got - expected)
    tol = atol + rtol * np.abs(expected)
    if np.all(err <= tol):
        return
    if err.ndim == 0:
        raise Wrong(f"{what} is {_fmt(got)}, expected {_fmt(expected)}")
    idx = tuple(int(i) for i in np.unravel_index(np.argmax(err - tol), err.shape))
    raise Wrong(f"{what}[{', '.join(map(str, idx))}] is {_fmt(got[idx])}, expected {_fmt(expected[idx])}")


def numeric_grad(f, x, h=1e-6):
    """Central-difference gradient of the scalar ``f(x)`` at a copy of ``x`` (the checker's reference)."""
    from ..gradcheck import numerical_gradient
    xc = np.array(x, dtype=np.float64)
    return numerical_gradient(lambda: f(xc), xc, h)


def _fmt(x):
    return f"{float(x):.6g}"


# ----------------------------------------------------------------------------------------
# questions, verdicts, exercises
# ----------------------------------------------------------------------------------------

class Verdict:
    """The outcome of checking one question: ``state`` is CORRECT, NOT_ATTEMPTED or INCORRECT."""

    def __init__(self, question, state, message="", n_cases=0):
        self.question, self.state, self.message, self.n_cases = question, state, message, n_cases

    @property
    def correct(self):
        return self.state == CORRECT

    @property
    def score(self):
        return float(self.question.points) if self.correct else 0.0

    def __str__(self):
        q = self.question
        head = f"{q.name} {q.label}: "
        if self.state == CORRECT:
            return head + f"correct ✓  ({self.n_cases} case{'s' if self.n_cases != 1 else ''} passed)"
        if self.state == NOT_ATTEMPTED:
            return head + ("not attempted yet — replace `raise NotImplementedError()` with your code"
                           + (f" ({self.message})" if self.message else ""))
        return head + f"incorrect ✗\n    {self.message}\n    (check.hint({q.number}) gives a hint)"

    __repr__ = __str__


class Question:
    """One graded question.  Subclasses set the attributes and override the four steps."""

    name = "q0"                 # "q1", "q2", ... (the CSV column)
    funcs = ()                  # names of the learner's functions/classes, in call order
    points = 1
    hints = ()                  # from gentle to almost-the-answer
    mutable = ()                # inputs the learner's code is allowed to change (e.g. parameters)
    timeout_factor = 1.0        # a slow question (training) gets a multiple of the grader's timeout
    approach = ""               # a one-paragraph description, shown by solution() without the notebook
    title = ""                  # a label for messages; defaults to the function names

    def __init__(self):
        self.exercise = None    # set by Exercise

    @property
    def number(self):
        return int(self.name.lstrip("q"))

    @property
    def label(self):
        return self.title or ", ".join(self.funcs)

    # --- the four steps (override) ---
    def cases(self, rng):
        raise NotImplementedError

    def inputs(self, case):
        raise NotImplementedError

    def call(self, inputs, *funcs):
        raise NotImplementedError

    def judge(self, case, inputs, out):
        raise NotImplementedError

    def describe(self, case, inputs):
        """A short description of a case for messages: the shapes of its array inputs."""
        parts = [f"{k} {v.shape}" for k, v in inputs.items() if isinstance(v, np.ndarray)]
        return ", ".join(parts)

    # --- the learner's entry point ---
    def verdict(self, *funcs, seed=CHECK_SEED):
        """Check the learner's functions in this process; returns a ``Verdict``."""
        self._check_arguments(funcs)
        cases = self.cases(np.random.default_rng(seed))
        results = []
        for case in cases:
            result = run_case(self, funcs, self.inputs(case))
            results.append(json.loads(json.dumps(result)))     # exactly what the grader's parent sees
            if result["status"] != "returned":
                break
        return judge_case(self, cases, results)

    def __call__(self, *funcs):
        print(self.verdict(*funcs))

    def _check_arguments(self, funcs):
        moved = self._renumbered_message(funcs)
        if moved:
            raise TypeError(moved)
        if len(funcs) != len(self.funcs):
            want = ", ".join(self.funcs)
            raise TypeError(f"check.{self.name} needs {len(self.funcs)} argument(s): {want}; "
                            f"got {len(funcs)}")
        for name, f in zip(self.funcs, funcs):
            if not callable(f):
                raise TypeError(f"check.{self.name}: {name} should be your function (or class), "
                                f"got {_type_name(f)}")


    def _renumbered_message(self, funcs):
        """A notebook from before the exercises were renumbered checks its functions with the old
        number's module (``from bpcourse.checks import ex08 as check`` in the old ex08_initialisation):
        say so, instead of judging them against the questions now under that number."""
        if self.exercise is None:
            return ""
        from . import RENUMBERED, get_exercise
        given = {getattr(f, "__name__", None) for f in funcs} - set(self.funcs)
        for old, (was, now) in RENUMBERED.items():
            if was == self.exercise.key and given & {f for q in get_exercise(now).questions for f in q.funcs}:
                return (f"{', '.join(sorted(given))} is graded in {now} now: this notebook is the old {old}, from "
                        f"before the exercises were renumbered ({was} is another exercise today). Change its import "
                        f"to `from bpcourse.checks import {now} as check` (or use exercises/{get_exercise(now).notebook}).")
        return ""


def judge_case(question, cases, results):
    """Turn the plain results of every case into one Verdict (trusted side)."""
    n = len(cases)
    if not isinstance(results, list):
        return Verdict(question, INCORRECT, "no results came back")
    for i, case in enumerate(cases):
        res = results[i] if i < len(results) else None
        status = res.get("status") if isinstance(res, dict) else None
        if status == "not_attempted":
            return Verdict(question, NOT_ATTEMPTED, f"case {i + 1} raised NotImplementedError" if i else "")
        inputs = question.inputs(case)
        where = f"case {i + 1} of {n} ({question.describe(case, inputs)})"
        if status == "error":
            err, msg = str(res.get("error", "?"))[:80], str(res.get("message", ""))[:MAX_MESSAGE]
            text = msg if err == "BadReturn" else f"raised {err}: {msg}" if msg else f"raised {err}"
            return Verdict(question, INCORRECT, f"{where}: {text}")
        if status != "returned":
            return Verdict(question, INCORRECT, f"{where}: no result came back")
        try:
            _check_unchanged(question, inputs, res.get("after"))
            question.judge(case, inputs, res.get("out"))
        except Wrong as w:
            return Verdict(question, INCORRECT, f"{where}: {w}")
        except Exception as e:          # a malformed result must never crash the trusted side
            return Verdict(question, INCORRECT, f"{where}: the result could not be read ({type(e).__name__})")
    return Verdict(question, CORRECT, n_cases=n)


def _check_unchanged(question, inputs, after):
    for k, v in inputs.items():
        if isinstance(v, np.ndarray) and k not in question.mutable:
            if not isinstance(after, dict) or after.get(k) != digest(v):
                raise Wrong(f"{', '.join(question.funcs)} changed its input `{k}` in place; "
                            f"compute new arrays instead (e.g. `{k} * m`, not `{k} *= m`), or put back "
                            f"exactly what you nudge (`old = {k}[i]` ... `{k}[i] = old`)")


class Exercise:
    """The questions of one exercise notebook, plus ``hint`` and ``solution`` for self-study."""

    def __init__(self, key, title, notebook, teaches, questions):
        self.key, self.title, self.notebook, self.teaches = key, title, notebook, teaches
        self.questions = list(questions)
        for q in self.questions:
            q.exercise = self
        self._hint_level = {}

    @property
    def max_score(self):
        return float(sum(q.points for q in self.questions))

    def question(self, which):
        """A question by number (2), name ("q2") or graded function name ("linear_backward")."""
        for q in self.questions:
            if which in (q.number, q.name) or (isinstance(which, str) and which in q.funcs):
                return q
        valid = ", ".join(q.name for q in self.questions)
        raise ValueError(f"{self.key} has no question {which!r}; valid: {valid}")

    def hint(self, which, level=None):
        """Print the next hint for a question (or hint number ``level``); hints get more specific."""
        q = self.question(which)
        if not q.hints:
            print(f"{q.name}: no hints for this one — reread the instructions above it.")
            return
        n = len(q.hints)
        level = self._hint_level.get(q.name, 0) + 1 if level is None else int(level)
        level = max(1, min(level, n))
        self._hint_level[q.name] = level
        more = f"  (call check.hint({q.number}) again for hint {level + 1})" if level < n else ""
        print(f"{q.name} hint {level} of {n}: {q.hints[level - 1]}{more}")

    def solution(self, which):
        """Print the reference code for a question when the solutions folder is on disk."""
        q = self.question(which)
        code = reference_code(self.notebook, q.funcs)
        if code:
            print(f"# Reference solution for {self.key} {q.name} (from solutions/{self.notebook}):\n")
            print(code)
        else:
            print(f"The reference solution for {self.key} {q.name} is not in this copy of the course "
                  f"(solutions/{self.notebook} was not found).\nThe approach: {q.approach or q.hints[-1]}")


def solutions_dir():
    """The repository's ``solutions/`` folder, when the package runs from a checkout."""
    return Path(__file__).resolve().parents[2] / "solutions"


def reference_code(notebook, names):
    """The code of the cells in ``solutions/<notebook>`` that define any of ``names``, or ''."""
    path = solutions_dir() / notebook
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    chunks = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = cell_source(cell)
        if (top_level_names(src) or set()) & set(names):
            chunks.append("\n".join(line for line in src.splitlines()
                                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")))
    return "\n\n".join(chunks)


# ----------------------------------------------------------------------------------------
# static analysis of notebook code: bpcourse.notebook_source (shared with the grader)
# ----------------------------------------------------------------------------------------
