"""The grading statuses: one Enum whose members are the words the gradebook CSV has always used."""
from __future__ import annotations

from enum import Enum

__all__ = ["Status", "STATUS_ORDER"]


class Status(str, Enum):
    """What happened to a submission or one of its questions (``str(Status.OK) == "ok"``).

    Members compare equal to their words (``Status.OK == "ok"``), and print, format and
    serialise (csv, json) as them, so the CSV and the feedback files are unchanged.
    """

    OK = "ok"
    TIMEOUT = "timeout"
    CRASH = "crash"
    MEMORY = "memory"
    INVALID_NOTEBOOK = "invalid_notebook"
    MISSING = "missing"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# the worst status first: a submission's status is the worst of its questions'
STATUS_ORDER = (Status.INVALID_NOTEBOOK, Status.TIMEOUT, Status.MEMORY, Status.CRASH, Status.MISSING, Status.OK)
