"""Instant feedback for the exercise notebooks.

In a notebook::

    from bpcourse.checks import ex04 as check
    check.q2(linear_backward)     # prints: correct / not attempted yet / incorrect: what failed
    check.hint(2)                 # the next, more specific hint for question 2
    check.solution(2)             # the reference code, when the solutions folder is present

Each ``exNN`` module holds the questions of ``exercises/exNN_*.ipynb``; the batch grader
(``python -m bpcourse.grade``) uses the very same questions.
"""
from __future__ import annotations

import importlib

__all__ = ["EXERCISE_KEYS", "RENUMBERED", "get_exercise"]

EXERCISE_KEYS = ("ex01", "ex02", "ex03", "ex04", "ex05", "ex06",
                 "ex07", "ex08", "ex09", "ex10", "ex11", "ex12",
                 "ex13", "ex14", "ex15", "ex16", "ex17", "ex18")

# Exercises renumbered so that exNN practises notebook NN (issue 14): the old notebook's name ->
# (its old key, its key now).  A notebook handed out before the change still says the old key in
# its metadata (without the ``topic`` that current notebooks carry) or in its file name; the
# grader grades it under its new key, or refuses it when asked for the old number.
RENUMBERED = {"ex08_initialisation": ("ex08", "ex09"), "ex09_batchnorm": ("ex09", "ex10")}


def get_exercise(key):
    """The ``Exercise`` object for ``"ex04"`` (its questions, hint, solution)."""
    if key not in EXERCISE_KEYS:
        raise ValueError(f"unknown exercise {key!r}; valid: {', '.join(EXERCISE_KEYS)}")
    return importlib.import_module(f"{__name__}.{key}").EXERCISE
