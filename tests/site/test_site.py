"""The built website in a real browser: every page of ``_build/site`` is served on loopback and opened in
headless Chromium with every other request blocked.  Each page must load without console errors and
without asking for anything outside, typeset every formula (no raw ``$…$`` or ``\\(…\\)`` left), show
every figure as an image that loaded, link only to pages and anchors that exist, and show no solution
code.  Run by ``make site-test`` (which builds the site first) and by ``.ci/run``.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = [pytest.mark.site, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("BPCOURSE_SITE_DIR", REPO / "_build" / "site")).resolve()
STAGED = SITE.parent / "site-src"                  # what docs/site.py gave Sphinx, beside _build/site
CACHE = SITE.parent / "jupyter_cache"               # the executed notebooks (jupyter-cache), likewise
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def _pages() -> list[str]:
    if not (SITE / "index.html").exists():
        return ["index.html"]            # the site_dir fixture then fails with "run make site first"
    return sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
                  if not p.relative_to(SITE).parts[0].startswith("_"))


def _norm(line: str) -> str:
    return re.sub(r"\s+", " ", line.strip())


def solution_regions() -> list[tuple[str, list[str]]]:
    """(where, code lines) of every marked solution region of solutions/*.ipynb; comments and blank
    lines dropped, whitespace collapsed."""
    out = []
    for path in sorted((REPO / "solutions").glob("ex*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            for m in re.finditer(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), "".join(cell["source"]), re.S):
                lines = [_norm(line) for line in m.group(1).splitlines()]
                lines = [line for line in lines if line and not line.startswith("#")]
                if lines:
                    out.append((f"{path.name} cell {i}", lines))
    return out


def source_text(page: str) -> str:
    """The normalised text of the repository file a page was built from ('' for generated pages)."""
    stem = page[:-len(".html")]
    for candidate in (REPO / f"{stem}.ipynb", REPO / f"{stem}.md"):
        if candidate.exists():
            if candidate.suffix == ".ipynb":
                nb = json.loads(candidate.read_text(encoding="utf-8"))
                text = "\n".join("".join(c["source"]) for c in nb["cells"])
            else:
                text = candidate.read_text(encoding="utf-8")
            return "\n".join(_norm(line) for line in text.splitlines())
    return ""


def leaked_solution_lines(page_text: str, allowed_text: str, regions) -> list[str]:
    """Solution lines shown on a page that its own source does not contain.

    A lesson may teach the very line an exercise asks for (notebook 02 builds the Value engine that
    ex02 asks for), so a line counts as leaked only when the page's source file (the lesson, or the
    learner version of the exercise) does not hold it: that catches a published solution notebook,
    an output that prints a solution (``check.solution(n)`` run while building) and an exercise page
    built from a solved notebook.
    """
    page = "\n".join(_norm(line) for line in page_text.splitlines())
    return [f"{where}: {line}" for where, lines in regions for line in lines
            if line in page and line not in allowed_text]


def test_the_solution_detector_can_fail():
    """Sanity check of the detector the page test relies on: it finds every region in the solution
    notebook itself, and none in the learner version generated from it."""
    regions = solution_regions()
    assert len(regions) >= 9, "expected solution regions in solutions/*.ipynb"
    for path in sorted((REPO / "solutions").glob("ex*.ipynb")):
        mine = [r for r in regions if r[0].startswith(path.name + " ")]
        nb = json.loads(path.read_text(encoding="utf-8"))
        solved = "\n".join("".join(c["source"]) for c in nb["cells"])
        found = leaked_solution_lines(solved, "", mine)
        assert len(found) == sum(len(lines) for _, lines in mine), path.name
        learner = REPO / "exercises" / path.name
        if learner.exists():
            text = learner.read_text(encoding="utf-8")
            learner_src = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
            # the learner version holds no complete solution region
            for where, lines in mine:
                assert not all(line in learner_src for line in lines if len(line) > 12) or \
                    all(len(line) <= 12 for line in lines), where


def test_site_holds_every_lesson_and_exercise_and_no_solution(site_dir):
    lessons = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    exercises = sorted(p.stem for p in (REPO / "exercises").glob("ex[0-9][0-9]_*.ipynb"))
    for stem in lessons:
        assert (site_dir / "notebooks" / f"{stem}.html").exists(), f"lesson {stem} has no page"
    for stem in exercises:
        assert (site_dir / "exercises" / f"{stem}.html").exists(), f"exercise {stem} has no page"
    assert not (site_dir / "solutions").exists(), "the site publishes solutions/"
    assert not list(site_dir.rglob("*.ipynb")), "the site ships notebook files (solutions could hide there)"
    front = (site_dir / "index.html").read_text(encoding="utf-8")
    for stem in lessons:                           # the front page is the course map: it links every lesson
        assert f'href="notebooks/{stem}.html"' in front, f"the course map on the front page misses {stem}"
    for guide in ("docs/grading", "docs/teaching"):
        if (REPO / f"{guide}.md").exists():
            assert (site_dir / f"{guide}.html").exists(), f"{guide}.md has no page"


# ---- every page in the browser -----------------------------------------------------------------
# MathJax 2 is loaded (async) only on pages with math; done when its queue is empty and every formula
# has been replaced (a formula it cannot handle keeps the wait from ending: that page then fails)
MATH_DONE = """() => {
    const math = document.querySelectorAll('.math.notranslate');
    if (!math.length) return true;
    if (!(window.MathJax && MathJax.isReady && MathJax.Hub.queue)) return false;
    const q = MathJax.Hub.queue;
    return q.pending === 0 && q.running === 0 &&
           document.querySelectorAll('.math.notranslate script[type^="math/tex"]').length >= math.length;
}"""

PAGE_FACTS = """() => {
    const math = Array.from(document.querySelectorAll('.math.notranslate'));
    const untypeset = math.filter(m => !m.querySelector('script[type^="math/tex"]') ||
                                       !m.querySelector('.MathJax, .MathJax_Display'))
                          .map(m => m.textContent.slice(0, 80));
    const errors = Array.from(document.querySelectorAll('.merror, .noError, .MathJax_Error'))
                        .map(e => e.textContent.slice(0, 80));
    const article = document.querySelector('article') || document.body;
    const clone = article.cloneNode(true);
    clone.querySelectorAll('pre, code, script, style, .MathJax, .MathJax_Display, .MathJax_Preview, ' +
                           '.highlight, .cell_output').forEach(e => e.remove());
    const prose = clone.textContent;
    const imgs = Array.from(document.images).map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0,
                                                         output: !!i.closest('.cell_output')}));
    const links = Array.from(document.querySelectorAll('a[href]')).map(a => a.href);
    const outputs = Array.from(document.querySelectorAll('.cell_output')).map(o => o.innerText);
    const notes = Array.from(document.querySelectorAll('.bp-widget-note')).map(n => {
        const prev = n.previousElementSibling;
        return !!(prev && (prev.tagName === 'IMG' || prev.querySelector('img')));
    });
    return {nmath: math.length, untypeset, errors, prose, imgs, links, outputs, notes,
            text: document.body.innerText};
}"""

RAW_MATH = re.compile(r"\$[^$\s][^$\n]*\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\frac\{")


def _executed_pngs(page: str) -> int | None:
    """How many image outputs the executed notebook behind a page has, read from the build's execution
    cache (None for a page that is not a notebook)."""
    staged = STAGED / (page[:-len(".html")] + ".ipynb")
    if not staged.exists():
        return None
    from jupyter_cache import get_cache

    _, nb = get_cache(str(CACHE)).merge_match_into_file(str(staged))
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if any(k.startswith("image/") for k in o.get("data", {})))


def _ids(html_path: Path) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', html_path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def context(browser, site_url):
    """One browser context for all pages; every request that is not to the site's server is aborted
    and recorded per page."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.blocked = []

    def route(r):
        if r.request.url.startswith(site_url + "/") or r.request.url == site_url:
            r.continue_()
        else:
            ctx.blocked.append(r.request.url)
            r.abort()
    ctx.route("**/*", route)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def regions():
    return solution_regions()


@pytest.mark.parametrize("page_path", _pages())
def test_page(page_path, site_dir, site_url, context, regions):
    problems = []
    context.blocked.clear()
    page = context.new_page()
    console, failed = [], []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(f"uncaught: {e}"))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: failed.append(f"{r.failure} {r.url}")
            if r.url.startswith(site_url) else None)
    page.set_default_timeout(60_000)
    page.goto(f"{site_url}/{page_path}", wait_until="load")
    try:
        page.wait_for_function(MATH_DONE, timeout=60_000, polling=100)
        math_state = "typeset"
    except PlaywrightTimeout:
        math_state = "MathJax did not finish within 60 s"
    page.wait_for_load_state("networkidle")
    facts = page.evaluate(PAGE_FACTS)
    page.close()

    if context.blocked:
        problems.append(f"asked for outside resources: {context.blocked}")
    if console:
        problems.append(f"console errors: {console}")
    if failed:
        problems.append(f"failed requests: {failed}")
    # formulas
    if facts["nmath"] and math_state != "typeset":
        problems.append(f"math not typeset: {math_state}")
    if facts["untypeset"]:
        problems.append(f"{len(facts['untypeset'])} formulas left untypeset, e.g. {facts['untypeset'][:3]}")
    if facts["errors"]:
        problems.append(f"MathJax errors: {facts['errors'][:3]}")
    raw = RAW_MATH.findall(facts["prose"])
    if raw:
        i = RAW_MATH.search(facts["prose"]).start()
        problems.append(f"raw TeX left in the text: {raw[:5]} near {facts['prose'][max(0, i - 60):i + 60]!r}")
    # figures
    broken = [i["src"] for i in facts["imgs"] if not i["ok"]]
    if broken:
        problems.append(f"images that did not load: {broken}")
    as_text = [o[:80] for o in facts["outputs"] if re.search(r"<Figure size \d+x\d+|<matplotlib\.", o)]
    if as_text:
        problems.append(f"figures shown as text instead of images: {as_text}")
    expected = _executed_pngs(page_path)
    shown = sum(1 for i in facts["imgs"] if i["output"])
    if expected is not None and shown != expected:
        problems.append(f"{expected} image outputs in the executed notebook, {shown} images on the page")
    if not all(facts["notes"]):
        problems.append("a 'live widget' note that does not follow a widget's image")
    # links
    for href in facts["links"]:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != site_url:
            continue
        target = site_dir / unquote(parts.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            problems.append(f"broken link: {href}")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _ids(target):
            problems.append(f"link to a missing anchor: {href}")
    # solutions
    leaked = leaked_solution_lines(facts["text"], source_text(page_path), regions)
    if leaked:
        problems.append(f"solution code on the page: {leaked[:5]}")
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)
