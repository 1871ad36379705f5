"""Real-browser tests: `make lab` serves JupyterLab, headless Chromium opens a notebook, runs it,
sees the widgets rendered as controls, moves a slider with the keyboard and sees the plot change.

These run in `make test` and in CI (which installs Debian's chromium); without Chromium they fail
with instructions rather than skip.
"""
import re
import time

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

NOTEBOOK = "ui_widgets.ipynb"


def test_make_lab_answers_without_token(lab):
    status, body = lab.get("/api/status")
    assert status == 200, body
    status, body = lab.get("/lab")
    assert status == 200 and "JupyterLab" in body, body[:500]
    status, body = lab.get(f"/api/contents/{NOTEBOOK}")
    assert status == 200 and '"type": "notebook"' in body.replace('":"', '": "')
    # make lab serves the folder it runs in, not notebooks/: 00's links to ../exercises resolve
    status, body = lab.get("/api/contents/exercises")
    assert status == 200 and "ex01_" in body, body[:500]


def _wait_kernel_idle(page, timeout=120_000):
    """The status bar goes 'No Kernel | Initializing' -> 'Python 3 (ipykernel) | Connecting' -> '| Idle'."""
    page.locator(".jp-StatusBar-Widget").get_by_text(re.compile(r"\(ipykernel\) \| Idle")).wait_for(timeout=timeout)
    page.wait_for_selector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=timeout)


def _run_all_cells(page):
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def _img_state(img):
    """The <img>'s src (a blob or data URL, new for every PNG) and a screenshot of its pixels."""
    return img.get_attribute("src"), img.screenshot()


def _wait_changed(img, before, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _img_state(img)
        if now[0] != before[0] and now[1] != before[1]:
            return now
        time.sleep(0.25)
    raise AssertionError("the plot did not change in the browser")


def test_notebook_widgets_render_and_react(lab, page):
    t0 = time.monotonic()
    page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=120_000)
    _wait_kernel_idle(page)
    _run_all_cells(page)

    # the two widgets render as live controls, not as their text/plain or PNG fallback
    widgets = page.locator(".jp-OutputArea-output .bp-widget")
    widgets.nth(1).wait_for(state="visible", timeout=180_000)
    _wait_kernel_idle(page)
    assert widgets.count() == 2
    playground, explorer = widgets.nth(0), widgets.nth(1)
    assert playground.locator(".widget-slider").count() >= 5
    assert playground.locator(".widget-play").count() == 1
    assert explorer.locator(".widget-slider").count() == 1 and explorer.locator(".widget-dropdown").count() == 1
    outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
    assert not any("<ActivationExplorer" in t or "<Playground" in t or "Error displaying widget" in t
                   for t in outputs), outputs

    # keyboard: focus the explorer's z slider handle and press ArrowRight -> new PNG in the <img>
    img = explorer.locator("img.bp-figure")
    img.wait_for(state="visible")
    before = _img_state(img)
    readout = explorer.locator(".widget-readout").first
    z0 = float(readout.inner_text())
    handle = explorer.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    after = _wait_changed(img, before)
    assert float(readout.inner_text()) == pytest.approx(z0 + 0.5)
    assert after[1] != before[1]

    # mouse: press play on the playground; the Play control's ticks train the net and redraw
    pimg = playground.locator("img.bp-figure")
    before = _img_state(pimg)
    playground.locator(".widget-play button").first.click()
    _wait_changed(pimg, before)
    playground.locator(".widget-play button").nth(1).click()          # pause
    print(f"\nbrowser test: notebook opened, run and driven in {time.monotonic() - t0:.1f} s")
