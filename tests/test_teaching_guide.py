"""docs/teaching.md, the instructor's guide: every notebook, exercise and section it links to exists,
every widget setting it tells the instructor to show can be built, and it covers every lesson.

A section reference is a link with an anchor, ``../notebooks/08_vanishing_exploding.ipynb#2--a-chain-of-one-neuron-layers``:
the anchor must be the GitHub-style slug (the one myst-parser gives the course website) of a heading in
that notebook.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "teaching.md"
LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\(([^)\s]+)\)")
WIDGET = re.compile(r"bp\.widgets\.(\w+)\(([^()]*(?:\([^()]*\)[^()]*)*)\)")
SLUG_CLEAN = re.compile(r"[^\w\u4e00-\u9fff\- ]")

def slug(title: str) -> str:
    """GitHub-style heading slug, as myst_parser.slugs.github_slugify (the site's heading anchors)."""
    return SLUG_CLEAN.sub("", title.lower().replace(" ", "-"))


def heading_slugs(path: Path) -> set[str]:
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return {slug(m.group(1).replace("`", "").strip()) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def guide_links() -> list[tuple[str, str, str]]:
    """(label, repo path, anchor) of every relative link in the guide."""
    out = []
    for label, target in LINK.findall(GUIDE.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue
        path, _, anchor = target.partition("#")
        resolved = (GUIDE.parent / path).resolve() if path else GUIDE
        out.append((label, resolved.relative_to(ROOT).as_posix(), anchor))
    return out


def test_the_guide_exists_and_links_grading():
    assert GUIDE.exists()
    assert any(path == "docs/grading.md" for _, path, _ in guide_links()), "the guide must link docs/grading.md"


def test_every_linked_file_and_section_exists():
    problems = []
    links = guide_links()
    assert len(links) > 100, "the guide should reference notebooks, sections and exercises throughout"
    for label, path, anchor in links:
        target = ROOT / path
        if not target.exists():
            problems.append(f"[{label}] -> {path}: no such file")
            continue
        if anchor and anchor not in heading_slugs(target):
            problems.append(f"[{label}] -> {path}#{anchor}: no heading with that anchor "
                            f"(headings: {sorted(heading_slugs(target))})")
    assert not problems, "\n".join(problems)


def test_every_lesson_is_in_the_plan():
    linked = {path for _, path, _ in guide_links()}
    lessons = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    missing = [nb for nb in lessons if nb not in linked]
    assert not missing, f"teaching.md does not plan a session for {missing}"


def test_twelve_sessions_and_a_three_session_workshop():
    text = GUIDE.read_text(encoding="utf-8")
    sessions = re.findall(r"^### Session (\d+) ", text, re.M)
    assert sessions == [str(i) for i in range(1, 13)], sessions
    assert re.findall(r"^\*\*Session ([ABC]) ", text, re.M) == ["A", "B", "C"]
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        if block.startswith("Session"):
            for part in ("**Live demo", "**Misconceptions:**", "**Exercise"):
                assert part in block, f"{block.splitlines()[0]}: no {part}"
            assert re.search(r"about \d+ (minutes|hours)", block), f"{block.splitlines()[0]}: no exercise duration"


def widget_references() -> list[tuple[str, dict]]:
    out = []
    for name, args in WIDGET.findall(GUIDE.read_text(encoding="utf-8")):
        call = ast.parse(f"f({args})", mode="eval").body
        assert not call.args, f"bp.widgets.{name}({args}): use keyword arguments"
        out.append((name, {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}))
    return out


def test_every_widget_demo_can_be_built_with_its_settings():
    """Each demo `bp.widgets.Name(setting=value)` builds (an unknown setting or choice raises) and the
    explorer is one a lesson notebook shows."""
    pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    import bpcourse.widgets as widgets

    refs = widget_references()
    assert len(refs) >= 10
    shown = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "notebooks").glob("*.ipynb"))
    for name, kwargs in refs:
        cls = getattr(widgets, name, None)
        assert cls is not None, f"bp.widgets has no {name}"
        assert f"widgets.{name}(" in shown, f"no lesson shows {name}"
        w = cls(**kwargs)
        for key, value in kwargs.items():
            if key in getattr(w, "controls", {}) and not isinstance(value, (tuple, list)):
                got = w.controls[key].value
                assert got == value or got == pytest.approx(value), f"{name}: {key} is {got!r}, not {value!r}"
        close = getattr(w, "close", None)
        if close:
            close()
