"""Build the course website: ``python docs/site.py`` (what ``make site`` runs).

1. Stage the sources into ``_build/site-src``: a generated front page (the course map), every
   ``notebooks/*.ipynb``, every ``exercises/*.ipynb`` (the learner versions; ``solutions/`` is never
   copied, and staging fails if a solution marker slips through), ``docs/grading.md`` and
   ``docs/teaching.md``, the Sphinx configuration, and MathJax from the ``jupyter-server-mathjax``
   wheel.  Relative links are rewritten for the site: a link to a folder with a page becomes a link to
   that page, ``README.md`` becomes the front page, and a link to anything the site does not publish
   (solutions, package source) keeps its text and loses the link.
2. Run Sphinx (myst-nb) on it into ``_build/site``.  Notebooks are executed through jupyter-cache
   (``_build/jupyter_cache``), so a rebuild re-runs only the notebooks whose code changed; any cell
   error fails the build, and so does any Sphinx warning (``-W``).

Open ``_build/site/index.html`` in a browser; nothing on it loads anything from outside.
"""
from __future__ import annotations

import argparse
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
BUILD = REPO / "_build"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
GUIDES = ("docs/notation.md", "docs/teaching.md", "docs/grading.md")
LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\(([^)\s]+)\)")
MAP_ROW = re.compile(r"^\|\s*(\d\d)\s*\|\s*\[[^\]]*\]\([^)]*\)\s*\|\s*(.*?)\s*\|\s*$")


# ---- what the site holds ------------------------------------------------------------------------
def lessons(repo: Path = REPO) -> list[Path]:
    return sorted((repo / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def exercises(repo: Path = REPO) -> list[Path]:
    return sorted((repo / "exercises").glob("ex[0-9][0-9]_*.ipynb"))


def guides(repo: Path = REPO) -> list[str]:
    return [g for g in GUIDES if (repo / g).exists()]


def notebook_title(path: Path) -> str:
    """The first Markdown heading of a notebook, without the leading '#'."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def readme_insights(repo: Path = REPO) -> dict[str, str]:
    """Notebook number -> 'the key insight' column of the README's course map."""
    out = {}
    for line in (repo / "README.md").read_text(encoding="utf-8").splitlines():
        m = MAP_ROW.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


# ---- the generated pages ------------------------------------------------------------------------
def front_page(repo: Path = REPO) -> str:
    insights = readme_insights(repo)
    ex_by_number = {p.name[2:4]: p for p in exercises(repo)}
    rows = []
    for nb in lessons(repo):
        num = nb.name[:2]
        title = notebook_title(nb)
        title = re.sub(r"^\d\d\s*·\s*", "", title)
        ex = ex_by_number.get(num)
        ex_link = f"[ex{num}](exercises/{ex.stem})" if ex else ""
        rows.append(f"| {num} | [{title}](notebooks/{nb.stem}) | {insights.get(num, '')} | {ex_link} |")
    guide_lines = []
    if "docs/teaching.md" in guides(repo):
        guide_lines.append("- [The instructor's guide](docs/teaching): twelve 90-minute sessions and a "
                           "three-session workshop, live demos, misconceptions, exercises.")
    if "docs/grading.md" in guides(repo):
        guide_lines.append("- [Grading a class](docs/grading): the sandboxed batch grader, its options and "
                           "its threat model.")
    if "docs/notation.md" in guides(repo):
        guide_lines.append("- [Notation](docs/notation): every symbol of the course, with its shape and its "
                           "name in the code.")
    toc_guides = "\n".join(g[:-3] for g in guides(repo))
    return f"""# bpcourse: how backpropagation really works

A hands-on course on backpropagation in Jupyter notebooks, with a tested companion package. Every
derivation is checked by code, every gradient is proven right against finite differences, and every
exercise answers at once. This site shows every lesson as it runs: each notebook was executed to build
it, so every number, figure and formula below is the real output.

To run the notebooks yourself and move the widgets' sliders, clone the repository and type `make lab`
(it creates `.venv` and opens JupyterLab); `make test` runs the whole test suite.

## The course map

| # | lesson | the key insight | exercise |
|---|---|---|---|
{chr(10).join(rows)}

[The exercises](exercises/index) are the learner versions, with check cells that answer *correct*,
*not attempted yet* or *incorrect* with the case that failed. Their worked solutions are not published
on this site.

## For instructors

{chr(10).join(guide_lines)}

```{{toctree}}
:hidden:
:caption: Lessons
:glob:

notebooks/*
```

```{{toctree}}
:hidden:
:caption: Exercises
:glob:

exercises/index
exercises/ex*
```

```{{toctree}}
:hidden:
:caption: Guides

{toc_guides}
```
"""


def exercises_page(repo: Path = REPO) -> str:
    lesson_by_number = {p.name[:2]: p for p in lessons(repo)}
    rows = []
    for ex in exercises(repo):
        num = ex.name[2:4]
        nb = lesson_by_number.get(num)
        taught = f"[{notebook_title(nb)}](../notebooks/{nb.stem})" if nb else ""
        rows.append(f"| [{notebook_title(ex)}]({ex.stem}) | {taught} |")
    return f"""# Exercises

Each exercise notebook has short graded questions. Under each answer cell a check cell prints one
verdict: *correct*, *not attempted yet*, or *incorrect* with the case that failed; `check.hint(n)`
gives a hint. The pages below show the notebooks as a learner receives them, executed unsolved, so
every check says *not attempted yet*. Download the repository and open them with `make lab` to work
on them. The worked solutions are not published on this site; `docs/grading.md` explains how an
instructor grades a class's submissions.

| exercise | practises |
|---|---|
{chr(10).join(rows)}
"""


# ---- staging ------------------------------------------------------------------------------------
def rewrite_links(text: str, where: str, published: set[str], index_of: dict[str, str]) -> str:
    """Rewrite the relative Markdown links of a page staged at repo path ``where``.

    published: repo paths the site holds; index_of: repo folder -> its page on the site.
    """
    def fix(m: re.Match) -> str:
        label, target = m.group(1), m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "/")):
            return m.group(0)
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(where), path)) if path else where
        resolved = resolved.rstrip("/")
        if resolved == "README.md":
            resolved = "index.md"
        elif resolved in index_of:
            resolved = index_of[resolved]
        if resolved not in published:
            return label                                   # not on the site: keep the text only
        new = posixpath.relpath(resolved, posixpath.dirname(where) or ".")
        return f"[{label}]({new}{'#' + anchor if anchor else ''})"
    return LINK.sub(fix, text)


def _write_if_changed(path: Path, text: str) -> None:
    """Write only when the content differs, so Sphinx re-reads only what changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _check_no_solution(text: str, where: str) -> None:
    for marker in SOLUTION_MARKERS:
        if marker in text:
            raise SystemExit(f"site: {where} contains the solution marker {marker!r}; the site must not publish "
                             "solutions")


def mathjax_dir() -> Path:
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise SystemExit("site: the 'site' extra is not installed (pip install -e '.[site]'; `make site` does it)")
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def stage(src: Path, repo: Path = REPO) -> list[str]:
    """Lay out the Sphinx source folder; returns the staged document paths (repo-relative)."""
    nbs, exs, gds = lessons(repo), exercises(repo), guides(repo)
    docs = ([f"notebooks/{p.name}" for p in nbs] + [f"exercises/{p.name}" for p in exs] + gds
            + ["index.md", "exercises/index.md"])
    published = set(docs)
    index_of = {"exercises": "exercises/index.md", "notebooks": "index.md", ".": "index.md", "": "index.md"}
    # drop what is no longer in the repository (a renamed notebook must not linger on the site)
    if src.exists():
        for old in list(src.rglob("*.ipynb")) + list(src.rglob("*.md")):
            if old.relative_to(src).as_posix() not in published:
                old.unlink()
    for rel in docs:
        if rel in ("index.md", "exercises/index.md"):
            continue
        text = (repo / rel).read_text(encoding="utf-8")
        if rel.endswith(".ipynb"):
            nb = json.loads(text)
            for cell in nb["cells"]:
                source = "".join(cell["source"])
                if cell["cell_type"] == "code":
                    _check_no_solution(source, rel)
                if cell["cell_type"] == "markdown":
                    cell["source"] = rewrite_links(source, rel, published, index_of)
            text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        else:
            text = rewrite_links(text, rel, published, index_of)
        _write_if_changed(src / rel, text)
    _write_if_changed(src / "index.md", front_page(repo))
    _write_if_changed(src / "exercises" / "index.md", exercises_page(repo))
    _write_if_changed(src / "conf.py", (DOCS / "conf.py").read_text(encoding="utf-8"))
    static = src / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copy2(DOCS / "site.css", static / "bpcourse-site.css")
    mj = static / "mathjax"
    if not (mj / "MathJax.js").exists():
        shutil.copytree(mathjax_dir(), mj, ignore=shutil.ignore_patterns("localization", "SVG", "__pycache__"),
                        dirs_exist_ok=True)
    return docs


def build(out: Path, jobs: str = "1", quiet: bool = False) -> int:
    src = BUILD / "site-src"
    docs = stage(src)
    print(f"site: staged {len(docs)} pages in {src.relative_to(REPO)}", flush=True)
    env = dict(os.environ, BPCOURSE_SITE_CACHE=str(BUILD / "jupyter_cache"), PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env.setdefault("MPLBACKEND", "agg")
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-j", jobs,
           "-d", str(BUILD / "site-doctrees"), str(src), str(out)]
    if quiet:
        cmd.insert(3, "-q")
    t0 = time.monotonic()
    rc = subprocess.call(cmd, cwd=REPO, env=env)
    took = time.monotonic() - t0
    if rc == 0:
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        print(f"site: built {out.relative_to(REPO) if out.is_relative_to(REPO) else out} in {took:.0f} s, "
              f"{size / 1e6:.1f} MB; open {out / 'index.html'}")
    else:
        print(f"site: the build FAILED (exit {rc}) after {took:.0f} s", file=sys.stderr)
    return rc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=BUILD / "site", help="output folder (default _build/site)")
    ap.add_argument("--jobs", default="1", help="Sphinx processes reading (and executing) notebooks in parallel")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    return build(args.out.resolve(), args.jobs, args.quiet)


if __name__ == "__main__":
    sys.exit(main())
