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
                 "ex07", "ex08", "ex09", "ex10", "ex11", "ex14",
                 "ex15")
    return importlib.import_module(f"{__name__}.{key}").EXERCISE
