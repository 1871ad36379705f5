"""Generate the learner's ``exercises/`` from ``solutions/`` (the single source).

    python -m bpcourse.exercises            # write exercises/exNN_*.ipynb
    python -m bpcourse.exercises --check    # exit 1 if exercises/ is not what this would write

Every code region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers)
becomes ``raise NotImplementedError()`` at the indentation of the BEGIN line; outputs and
execution counts are cleared.  Everything else — markdown, tags, metadata, cell ids — is kept.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

__all__ = ["BEGIN", "END", "strip_solutions", "exercise_notebook", "generate", "main"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "raise NotImplementedError()"


class SolutionMarkerError(ValueError):
    """Unbalanced or nested solution markers."""


def strip_solutions(source, where="cell"):
    """Replace each marked solution region of ``source`` by ``raise NotImplementedError()``."""
    out, inside = [], False
    for n, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise SolutionMarkerError(f"{where}, line {n}: {BEGIN} inside another solution region")
            inside = True
            out.append(line[:len(line) - len(line.lstrip())] + STUB)
        elif marker == END:
            if not inside:
                raise SolutionMarkerError(f"{where}, line {n}: {END} without a {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise SolutionMarkerError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def exercise_notebook(nb, name="notebook"):
    """The learner's version of a solution notebook (a new object; ``nb`` is not changed)."""
    ex = copy.deepcopy(nb)
    for i, cell in enumerate(ex.cells):
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, where=f"{name} cell {i}")
            cell.outputs = []
            cell.execution_count = None
        elif BEGIN in cell.source or END in cell.source:
            raise SolutionMarkerError(f"{name} cell {i}: solution markers are only allowed in code cells")
    return ex


def _render(nb):
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def generate(solutions="solutions", exercises="exercises", check=False):
    """Write (or with ``check=True`` only compare) every ``exNN_*.ipynb``; returns the paths that
    differ from what is on disk (all written ones when ``check`` is false)."""
    src_dir, dst_dir = Path(solutions), Path(exercises)
    sources = sorted(src_dir.glob("ex[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no solution notebooks (exNN_*.ipynb) in {src_dir}/")
    differ = []
    expected_names = {p.name for p in sources}
    for path in sources:
        nb = nbformat.read(str(path), as_version=4)
        text = _render(exercise_notebook(nb, name=path.name))
        target = dst_dir / path.name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            differ.append(target)
            if not check:
                dst_dir.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    stale = sorted(p for p in dst_dir.glob("ex[0-9][0-9]_*.ipynb") if p.name not in expected_names)
    differ += stale
    if not check:
        for p in stale:
            p.unlink()
    return differ


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bpcourse.exercises", description=__doc__.split("\n\n")[0])
    p.add_argument("--solutions", default="solutions", help="source folder (default: solutions)")
    p.add_argument("--exercises", default="exercises", help="target folder (default: exercises)")
    p.add_argument("--check", action="store_true", help="only report whether exercises/ is up to date")
    args = p.parse_args(argv)
    try:
        differ = generate(args.solutions, args.exercises, check=args.check)
    except (FileNotFoundError, SolutionMarkerError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check:
        if differ:
            print("exercises/ is out of date; run `python -m bpcourse.exercises`:\n  "
                  + "\n  ".join(map(str, differ)), file=sys.stderr)
            return 1
        print("exercises/ is up to date")
        return 0
    print(f"wrote {len(differ)} notebook(s)" + ("" if not differ else ":\n  " + "\n  ".join(map(str, differ))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
