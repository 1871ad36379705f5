"""The instructor's batch grader.

    python -m bpcourse.grade submissions/ --out grades.csv --feedback feedback/ --jobs 4

Each question of each submission runs in its own sandboxed process (see ``sandbox``); the
grading process judges the plain numbers that come back (see ``bpcourse.checks``).
``grade(...)`` is the same thing as a function; ``docs/grading.md`` is the instructor's guide.
"""
from __future__ import annotations

__all__ = ["grade", "main"]


def grade(*args, **kwargs):
    """See ``bpcourse.grade.runner.grade``."""
    from .runner import grade as _grade
    return _grade(*args, **kwargs)


def main(argv=None):
    from .cli import main as _main
    return _main(argv)
