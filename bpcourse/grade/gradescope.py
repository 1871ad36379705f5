"""Build a Gradescope autograder bundle for one exercise.

    python -m bpcourse.grade.gradescope --exercise ex04 --out autograder_ex04.zip

Upload the zip as a "Zip file upload" autograder.  It holds ``setup.sh`` (installs Python,
bubblewrap and this package on Gradescope's Ubuntu image), ``run_autograder`` (grades
``/autograder/submission`` and writes ``/autograder/results/results.json``) and the package
source.  The reference solutions are not included: the checks do not need them.
"""
from __future__ import annotations

import argparse
import stat
import sys
import zipfile
from pathlib import Path

from ..checks import EXERCISE_KEYS

__all__ = ["build_bundle", "SETUP_SH", "RUN_AUTOGRADER"]

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet /autograder/source/bpcourse_src
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; the paths can be overridden to test it locally.
set -uo pipefail
AUTOGRADER="${{AUTOGRADER:-/autograder}}"
PYTHON="${{PYTHON:-$AUTOGRADER/venv/bin/python}}"
mkdir -p "$AUTOGRADER/results"
cd "$AUTOGRADER/results"
"$PYTHON" -m bpcourse.grade "$AUTOGRADER/submission" --one-submission --exercise {exercise} \\
    --jobs {jobs} --timeout {timeout:g} \\
    --quiet --out "$AUTOGRADER/results/grades.csv" --feedback "$AUTOGRADER/results/feedback" \\
    --gradescope "$AUTOGRADER/results/results.json"
"""

_SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}


def _package_files(root):
    pkg = root / "bpcourse"
    for path in sorted(pkg.rglob("*")):
        if path.is_file() and not (_SKIP_PARTS & set(path.parts)) and path.suffix not in (".pyc", ".pyo"):
            yield path


def _add(zf, name, data, executable=False):
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build_bundle(out, exercise, jobs=1, timeout=60.0, root=None):
    """Write the autograder zip for ``exercise`` to ``out``; returns the list of names in it."""
    if exercise not in EXERCISE_KEYS:
        raise ValueError(f"unknown exercise {exercise!r}; valid: {', '.join(EXERCISE_KEYS)}")
    root = Path(root) if root else Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise FileNotFoundError(f"{pyproject} not found: build the bundle from a checkout of the course")
    readme = root / "README.md"
    names = []
    with zipfile.ZipFile(out, "w") as zf:
        _add(zf, "setup.sh", SETUP_SH, executable=True)
        _add(zf, "run_autograder", RUN_AUTOGRADER.format(exercise=exercise, jobs=jobs, timeout=timeout),
             executable=True)
        _add(zf, "bpcourse_src/pyproject.toml", pyproject.read_bytes())
        _add(zf, "bpcourse_src/README.md", readme.read_bytes() if readme.is_file()
             else b"# bpcourse\n\nThe backpropagation course package (autograder copy).\n")
        for path in _package_files(root):
            _add(zf, "bpcourse_src/" + path.relative_to(root).as_posix(), path.read_bytes())
        names = zf.namelist()
    return names


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bpcourse.grade.gradescope", description=__doc__.split("\n\n")[0])
    p.add_argument("--exercise", required=True, choices=EXERCISE_KEYS)
    p.add_argument("--out", default=None, help="the zip to write (default: autograder_<exercise>.zip)")
    p.add_argument("--jobs", type=int, default=1, help="questions graded in parallel on Gradescope (default 1)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per question (default 60)")
    args = p.parse_args(argv)
    out = args.out or f"autograder_{args.exercise}.zip"
    names = build_bundle(out, args.exercise, jobs=args.jobs, timeout=args.timeout)
    print(f"wrote {out} ({len(names)} files): upload it as the autograder of the {args.exercise} assignment")
    return 0


if __name__ == "__main__":
    sys.exit(main())
