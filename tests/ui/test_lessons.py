"""Part III's lessons in a real browser: `make lab` serves the course tree, headless Chromium opens each of
notebooks 14-17 as committed, runs all its cells, and checks that

* every code cell ran and none produced an error output (a cell tagged ``raises-exception`` may),
* the lesson's explorer rendered as live controls (``.bp-widget`` with sliders), not as its text or PNG
  fallback, and every control's value (slider readout, dropdown, text box) is in sight: not clipped by
  a squeezed column, not under the figure,
* one keyboard step on one of its sliders draws a new figure.

Each notebook's time in the browser (open, run all, drive the explorer) is printed (``-s`` shows it); no
time is asserted.  The notebooks are the issues' "runs in JupyterLab in a real browser with the explorer
answering" (issues 10-13).
"""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from conftest import REPO, img_state, run_all_cells, wait_changed, wait_kernel_idle

pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

# notebook -> (its explorer's class name, the label of the slider the test steps with ArrowRight)
LESSONS = {
    "14_gates.ipynb": ("GateExplorer", "sequence length T"),
    "15_convolution.ipynb": ("ConvExplorer", "digit"),
    "16_input_gradients.ipynb": ("AdversarialExplorer", "test digit"),
    "17_attention_gpt.ipynb": ("AttentionExplorer", "temperature τ"),
}
RUN_TIMEOUT = 300          # seconds for Run All; each lesson takes <= 30 s on a fresh kernel
PROMPT = re.compile(r"^\[\d+\]:$")          # a code cell that ran


def _prompts(page):
    """The input prompt of every code cell, in order: '[12]:' ran, '[*]:' queued or running, '[ ]:' not run."""
    return [t.strip() for t in page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_text_contents()]


def _wait_run_all(page, timeout=RUN_TIMEOUT):
    """Wait until Run All has finished or stopped: some cell has run and none is queued or running.

    Run All queues every code cell at once ('[*]'); a cell that raises clears the queue ('[ ]' again), so
    'no [*] left' means done either way.  The status bar must say Idle too.
    """
    deadline = time.monotonic() + timeout
    seen_queue = False
    while time.monotonic() < deadline:
        prompts = _prompts(page)
        if any(p == "[*]:" for p in prompts):
            seen_queue = True
        elif (seen_queue or any(PROMPT.match(p) for p in prompts)) and prompts:
            wait_kernel_idle(page)
            if not any(p == "[*]:" for p in _prompts(page)):
                return _prompts(page)
        time.sleep(0.5)
    raise AssertionError(f"Run All did not finish within {timeout} s; prompts: {_prompts(page)}")


def _save_and_read(page, lab, rel, attempts=4):
    """Save the notebook from the browser and read it back through the REST API: outputs and execution counts
    as the browser holds them.

    Saving is the toolbar's Save button (Ctrl+S on the next attempt if a click got lost); the file is read
    only once the browser's PUT has been answered: reading a notebook while the server writes it makes
    jupyter_server take it for corrupt and restore its backup under the writer (seen with notebook 17).
    """
    def is_save(response):
        return response.request.method == "PUT" and f"/api/contents/{rel}" in response.url

    for attempt in range(attempts):
        try:
            with page.expect_response(is_save, timeout=30_000) as saved:
                if attempt % 2 == 0:
                    page.locator('.jp-NotebookPanel:visible .jp-Toolbar [data-command="docmanager:save"]').first.click(
                        timeout=10_000)
                else:
                    page.locator(".jp-NotebookPanel:visible .jp-Notebook").first.focus()
                    page.keyboard.press("Control+s")
        except PlaywrightTimeout:
            continue
        response = saved.value
        assert response.ok, f"{rel}: the browser's save failed: HTTP {response.status} {response.text()[:300]}"
        if attempt:
            print(f"\n{rel}: saved at attempt {attempt + 1}")
        status, body = lab.get(f"/api/contents/{rel}?content=1", timeout=30)
        assert status == 200, f"{rel}: reading the saved notebook: HTTP {status} {body[:300]}"
        return json.loads(body)["content"]
    page.screenshot(path=str(lab.tmp / f"save-failed-{Path(rel).stem}.png"))
    raise AssertionError(f"{rel} was not saved by the browser in {attempts} attempts (screenshot in {lab.tmp})")


# Can the learner see this element?  False when a box between it and the output area clips it sideways
# (ipywidgets boxes scroll their overflow: a squeezed column of controls hides its readouts) or when
# something else (the figure) is drawn over its middle.  Nothing is scrolled: this is the view as opened.
SEEN = """el => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return false;
    for (let a = el.parentElement; a; a = a.parentElement) {
        const cs = getComputedStyle(a);
        if (cs.overflowX !== 'visible') {
            const b = a.getBoundingClientRect();
            if (r.left < b.left - 1 || r.right > b.right + 1) return false;
        }
        if (a.classList.contains('jp-OutputArea-output')) break;
    }
    const x = r.x + r.width / 2, y = r.y + r.height / 2;
    if (y < 0 || y > window.innerHeight) return true;        // off screen vertically: nothing to hit-test
    return el.contains(document.elementFromPoint(x, y));
}"""


def _hidden_controls(explorer):
    """The explorer's controls whose value (slider readout, dropdown, text box) the learner cannot see."""
    hidden = []
    for el in explorer.locator(".widget-readout, .widget-dropdown select, .widget-text input").all():
        if not el.evaluate(SEEN):
            hidden.append(el.locator("xpath=ancestor::*[contains(@class, 'widget-inline-hbox')][1]").inner_text())
    return hidden


def _errors(nb):
    """(cell index, 'Ename: evalue') of every error output in a cell not tagged raises-exception."""
    found = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue
        found += [(i, f"{o['ename']}: {o['evalue']}") for o in cell.get("outputs", []) if o["output_type"] == "error"]
    return found


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_part3_lesson_runs_and_its_explorer_answers(lab, page, lesson):
    explorer_name, slider_label = LESSONS[lesson]
    source = REPO / "notebooks" / lesson
    assert source.exists(), f"{source} is missing"
    (lab.root / "notebooks").mkdir(exist_ok=True)
    shutil.copy(source, lab.root / "notebooks" / lesson)
    rel = f"notebooks/{lesson}"
    try:
        t0 = time.monotonic()
        # a workspace of its own: the default one would reopen the previous lesson's tab beside this one
        page.goto(f"{lab.url}/lab/workspaces/{lesson[:2]}/tree/{rel}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=120_000)
        wait_kernel_idle(page)
        t_open = time.monotonic() - t0
        run_all_cells(page)
        prompts = _wait_run_all(page)
        t_run = time.monotonic() - t0 - t_open

        # every code cell ran, none raised (read from the notebook the browser saves: output types are exact)
        nb = _save_and_read(page, lab, rel)
        errors = _errors(nb)
        assert not errors, f"{lesson}: error outputs in the browser (cell, error): {errors}"
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        not_run = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and c["execution_count"] is None]
        assert not not_run, f"{lesson}: cells {not_run} did not run (prompts {prompts})"
        assert len(prompts) == len(code) and all(PROMPT.match(p) for p in prompts), prompts

        # the explorer: live controls, not the text/plain or image/png fallback
        widgets = page.locator(".jp-OutputArea-output .bp-widget")
        try:
            widgets.first.wait_for(state="visible", timeout=60_000)
        except PlaywrightTimeout:
            shown = [t for t in page.locator(".jp-OutputArea-output").all_text_contents() if explorer_name in t]
            raise AssertionError(f"{lesson}: no live {explorer_name} (.bp-widget) within 60 s; "
                                 f"outputs naming it: {shown}") from None
        assert widgets.count() == 1, f"{lesson}: {widgets.count()} bp-widgets rendered, expected its one explorer"
        explorer = widgets.first
        texts = page.locator(".jp-OutputArea-output").all_inner_texts()
        assert not any(f"<{explorer_name}" in t or "Error displaying widget" in t for t in texts), \
            f"{lesson}: the explorer shows its fallback: {[t for t in texts if explorer_name in t or 'Error' in t]}"
        assert explorer.locator(".widget-slider").count() >= 1
        img = explorer.locator("img.bp-figure")
        img.wait_for(state="visible")
        explorer.scroll_into_view_if_needed()
        hidden = _hidden_controls(explorer)
        assert not hidden, f"{lesson}: these controls' values are hidden (clipped or under the figure): {hidden}"

        # one keyboard step on a slider: its readout moves and the kernel draws a new figure
        t1 = time.monotonic()
        slider = explorer.locator(".widget-slider").filter(has_text=slider_label).first
        readout = slider.locator(".widget-readout")
        value0 = readout.inner_text()
        before = img_state(img)
        slider.locator(".noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        try:
            after = wait_changed(img, before, timeout=90.0)
        except AssertionError:
            raise AssertionError(f"{lesson}: {explorer_name}'s figure did not change within 90 s of one ArrowRight "
                                 f"on {slider_label!r} ({value0} -> {readout.inner_text()}); its status line: "
                                 f"{explorer.locator('.widget-html').all_text_contents()}") from None
        assert readout.inner_text() != value0, f"{lesson}: the {slider_label!r} slider did not move"
        assert after[1] != before[1]
        t_answer = time.monotonic() - t1
        print(f"\n{lesson}: opened {t_open:.1f} s, Run All {t_run:.1f} s, explorer answered in {t_answer:.1f} s "
              f"({slider_label} {value0} -> {readout.inner_text()}); {time.monotonic() - t0:.1f} s in the browser")
    except BaseException:
        shot = lab.tmp / f"failed-{Path(lesson).stem}.png"
        page.screenshot(path=str(shot))
        print(f"\n{lesson}: the browser at the failure: {shot}")
        raise
    finally:
        left = lab.shutdown_kernels()   # four trained models need not stay in memory
        assert not left, f"kernels {left} were not shut down"
