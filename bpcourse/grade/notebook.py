"""Reading submitted notebooks defensively, and choosing which cells a question runs.

Nothing here executes learner code: a notebook is read as bytes, parsed as JSON, validated
as nbformat 4, and its code cells are analysed with ``ast`` only.
"""
from __future__ import annotations

import json
import os
import re
import stat

from ..checks._core import top_level_names

__all__ = ["NotebookError", "Cell", "read_notebook", "code_cells", "exercise_key", "exercise_identity",
           "plan_question", "MAX_NOTEBOOK_BYTES"]

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
        raise NotebookError("missing", "the file does not exist") from None
    except OSError as e:
        raise NotebookError("invalid_notebook", f"cannot be read ({e.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise NotebookError("invalid_notebook", "is a symbolic link; submit the notebook file itself")
    if not stat.S_ISREG(st.st_mode):
        raise NotebookError("invalid_notebook", "is not a regular file")
    if st.st_size > MAX_NOTEBOOK_BYTES:
        raise NotebookError("invalid_notebook", f"is {st.st_size / 2**20:.0f} MB, more than the "
                                                f"{MAX_NOTEBOOK_BYTES // 2**20} MB limit; clear its outputs")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            raw = f.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as e:
        raise NotebookError("invalid_notebook", f"cannot be read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NotebookError("invalid_notebook", f"is not UTF-8 text (byte {e.start})") from None
    try:
        nb = json.loads(text)
    except ValueError as e:
        raise NotebookError("invalid_notebook", f"is not valid JSON ({str(e)[:120]})") from None
    except RecursionError:
        raise NotebookError("invalid_notebook", "is not valid notebook JSON (nested too deeply)") from None
    if not isinstance(nb, dict):
        raise NotebookError("invalid_notebook", "is JSON but not a notebook")
    version = nb.get("nbformat")
    if version != 4:
        hint = ("; open it in Jupyter and save it to upgrade" if isinstance(version, int) and version < 4
                else "")
        raise NotebookError("invalid_notebook", f"has nbformat {version!r}, expected 4{hint}")
    if not isinstance(nb.get("cells"), list):
        raise NotebookError("invalid_notebook", "has no list of cells")
    return nb


def code_cells(nb):
    """The notebook's code cells as ``Cell`` objects (index = position among all cells)."""
    cells = []
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise NotebookError("invalid_notebook", f"cell {i} is malformed")
        if cell["cell_type"] != "code":
            continue
        src = cell.get("source", "")
        if isinstance(src, list) and all(isinstance(s, str) for s in src):
            src = "".join(src)
        if not isinstance(src, str):
            raise NotebookError("invalid_notebook", f"cell {i} has a malformed source")
        meta = cell.get("metadata")
        tags = meta.get("tags", []) if isinstance(meta, dict) else []
        tags = {t for t in tags if isinstance(t, str)} if isinstance(tags, list) else set()
        cells.append(Cell(i, src, tags))
    return cells


def exercise_key(nb, filename):
    """``"ex04"`` from the notebook's metadata (``bpcourse.exercise``) or its file name, else None.

    A notebook from before the renumbering (``checks.RENUMBERED``) gets its key now."""
    return exercise_identity(nb, filename)[0]


def exercise_identity(nb, filename):
    """``(key, old)``: the exercise a notebook is, and, for a notebook handed out before the
    renumbering, its old name (``"ex08_initialisation"``; else None).

    Current notebooks carry ``{"bpcourse": {"exercise": "ex09", "topic": "initialisation"}}``.  An old
    one says ``ex08`` or ``ex09`` without a topic, or has the old name in its file name; a notebook
    known only by an ``ex08``/``ex09`` in its file name is old when it defines the renumbered
    exercise's graded functions and none of the current one's."""
    from ..checks import RENUMBERED
    meta = nb.get("metadata")
    info = meta.get("bpcourse") if isinstance(meta, dict) else None
    info = info if isinstance(info, dict) else {}
    tagged, topic = info.get("exercise"), info.get("topic")
    if isinstance(tagged, str) and re.fullmatch(r"ex\d{2}", tagged):
        if isinstance(topic, str):
            return tagged, None
        return _renumbered(tagged, RENUMBERED) or (tagged, None)
    name = os.fsencode(os.path.basename(filename))
    for old in RENUMBERED:
        if old.encode() in name:
            return RENUMBERED[old][1], old
    m = _EXERCISE_IN_NAME.search(name)
    if not m:
        return None, None
    key = "ex" + m.group(1).decode()
    legacy = _renumbered(key, RENUMBERED)
    if legacy and _defines_graded_functions(nb, legacy[0]) and not _defines_graded_functions(nb, key):
        return legacy
    return key, None


def _renumbered(old_key, renumbered):
    """(key now, old name) for an old key of a renumbered exercise, else None."""
    return next(((new, old) for old, (was, new) in renumbered.items() if was == old_key), None)


def _defines_graded_functions(nb, key):
    """Whether any code cell defines one of exercise ``key``'s graded functions (``ast`` only)."""
    from ..checks import EXERCISE_KEYS, get_exercise
    if key not in EXERCISE_KEYS:
        return False
    funcs = {f for q in get_exercise(key).questions for f in q.funcs}
    cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            src = cell.get("source", "")
            src = "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else src
            if isinstance(src, str) and (top_level_names(src) or set()) & funcs:
                return True
    return False


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
            return "missing", (f"no cell defines {which} (was the cell deleted, or the function renamed? "
                               f"graded functions must keep their names and be defined at the top level)")
        return "run", runnable
    return "run", runnable[:max(last.values()) + 1]
