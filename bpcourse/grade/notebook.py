"""Reading submitted notebooks defensively, and choosing which cells a question runs.

Nothing here executes learner code: a notebook is read as bytes, parsed as JSON, validated
as nbformat 4, and its code cells are analysed with ``ast`` only.
"""
from __future__ import annotations

import json
import os
import re
import stat

from ..notebook_source import top_level_names
from .status import Status

__all__ = ["NotebookError", "Cell", "read_notebook", "code_cells", "exercise_key", "plan_question",
           "MAX_NOTEBOOK_BYTES"]

MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
SKIP_TAGS = {"check", "raises-exception", "grader-skip"}
_EXERCISE_IN_NAME = re.compile(rb"ex(\d{2})")


class NotebookError(Exception):
    """A submission that cannot be graded; ``status`` is ``invalid_notebook`` or ``missing``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Cell:
    __slots__ = ("index", "source", "tags")

    def __init__(self, index, source, tags):
        self.index, self.source, self.tags = index, source, tags

    @property
    def skipped(self):
        """Check cells and cells that use a solved exercise are not run by the grader."""
        return bool(self.tags & SKIP_TAGS) or self.source.lstrip().startswith("check.")


def read_notebook(path):
    """The parsed notebook at ``path`` (str or bytes); raises NotebookError with a clear reason."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise NotebookError(Status.MISSING, "the file does not exist") from None
    except OSError as e:
        raise NotebookError(Status.INVALID_NOTEBOOK, f"cannot be read ({e.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise NotebookError(Status.INVALID_NOTEBOOK, "is a symbolic link; submit the notebook file itself")
    if not stat.S_ISREG(st.st_mode):
        raise NotebookError(Status.INVALID_NOTEBOOK, "is not a regular file")
    if st.st_size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(Status.INVALID_NOTEBOOK, f"is {st.st_size / 2**20:.0f} MB, more than the "
                                                f"{MAX_NOTEBOOK_BYTES // 2**20} MB limit; clear its outputs")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            raw = f.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as e:
        raise NotebookError(Status.INVALID_NOTEBOOK, f"cannot be read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NotebookError(Status.INVALID_NOTEBOOK, f"is not UTF-8 text (byte {e.start})") from None
    try:
        nb = json.loads(text)
    except ValueError as e:
        raise NotebookError(Status.INVALID_NOTEBOOK, f"is not valid JSON ({str(e)[:120]})") from None
    except RecursionError:
        raise NotebookError(Status.INVALID_NOTEBOOK, "is not valid notebook JSON (nested too deeply)") from None
    if not isinstance(nb, dict):
        raise NotebookError(Status.INVALID_NOTEBOOK, "is JSON but not a notebook")
    version = nb.get("nbformat")
    if version != 4:
        hint = ("; open it in Jupyter and save it to upgrade" if isinstance(version, int) and version < 4
                else "")
        raise NotebookError(Status.INVALID_NOTEBOOK, f"has nbformat {version!r}, expected 4{hint}")
    if not isinstance(nb.get("cells"), list):
        raise NotebookError(Status.INVALID_NOTEBOOK, "has no list of cells")
    return nb


def code_cells(nb):
    """The notebook's code cells as ``Cell`` objects (index = position among all cells)."""
    cells = []
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise NotebookError(Status.INVALID_NOTEBOOK, f"cell {i} is malformed")
        if cell["cell_type"] != "code":
            continue
        src = cell.get("source", "")
        if isinstance(src, list) and all(isinstance(s, str) for s in src):
            src = "".join(src)
        if not isinstance(src, str):
            raise NotebookError(Status.INVALID_NOTEBOOK, f"cell {i} has a malformed source")
        meta = cell.get("metadata")
        tags = meta.get("tags", []) if isinstance(meta, dict) else []
        tags = {t for t in tags if isinstance(t, str)} if isinstance(tags, list) else set()
        cells.append(Cell(i, src, tags))
    return cells


def exercise_key(nb, filename):
    """``"ex04"`` from the notebook's metadata (``bpcourse.exercise``) or its file name, else None."""
    meta = nb.get("metadata")
    tagged = meta.get("bpcourse", {}).get("exercise") if isinstance(meta, dict) and \
        isinstance(meta.get("bpcourse"), dict) else None
    if isinstance(tagged, str) and re.fullmatch(r"ex\d{2}", tagged):
        return tagged
    m = _EXERCISE_IN_NAME.search(os.fsencode(os.path.basename(filename)))
    return "ex" + m.group(1).decode() if m else None


def plan_question(cells, funcs):
    """Which cells one question runs: ``("run", cells)`` or ``("missing", message)``.

    A question runs every runnable cell up to the last one that defines one of its functions,
    so a runaway cell *after* it cannot cost it.  When no cell defines a function and every
    cell parses, the function is missing and no process is started.
    """
    runnable = [c for c in cells if not c.skipped]
    names = [top_level_names(c.source) for c in runnable]
    last = {}
    for pos, defined in enumerate(names):
        for f in funcs:
            if defined and f in defined:
                last[f] = pos
    undefined = [f for f in funcs if f not in last]
    if undefined:
        if all(n is not None for n in names):
            which = ", ".join(f"`{f}`" for f in undefined)
            return Status.MISSING, (f"no cell defines {which} (was the cell deleted, or the function renamed? "
                               f"graded functions must keep their names and be defined at the top level)")
        return "run", runnable
    return "run", runnable[:max(last.values()) + 1]
