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

__all__ = ["EXERCISE_KEYS", "get_exercise"]

EXERCISE_KEYS = ("ex01", "ex02", "ex03", "ex04", "ex05", "ex06", "ex07", "ex08", "ex09", "ex17")


def get_exercise(key):
    """The ``Exercise`` object for ``"ex04"`` (its questions, hint, solution)."""
    if key not in EXERCISE_KEYS:
        raise ValueError(f"unknown exercise {key!r}; valid: {', '.join(EXERCISE_KEYS)}")
    return importlib.import_module(f"{__name__}.{key}").EXERCISE
