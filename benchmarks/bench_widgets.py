"""Latency of the live widgets, driven headless exactly as the frontend drives them.

* Playground, one "play" tick at the default size: ``steps_per_tick`` mini-batch steps, the
  evaluation (train/test loss, 40x40 decision map, gradient norms, saturation), the in-place
  artist updates and the PNG encode — what ``.tick()`` does when the Play control advances.
* Every control of every explorer (and the playground's main ones), one change at a time: set
  ``control.value`` (what a slider move sends) and wait for the handler to finish (recompute +
  redraw + PNG), which runs synchronously in the kernel.

Each update is timed on its own (no batching), so the table reports its median, 95th percentile
and maximum.  Not included: the websocket round trip and the browser decoding the PNG.
The target (README, "Live widgets"): median ≤ 100 ms for the playground tick at default size and for
every control change (the browser adds the round trip and the PNG decode, ~30-50 ms).

    python benchmarks/bench_widgets.py                    # BLAS threads as in a notebook kernel
    python benchmarks/bench_widgets.py --threads 1 --ticks 300 --json benchmarks/results/widgets.json
    python benchmarks/bench_widgets.py --threads 1 --only InitExplorer RNNExplorer   # some widgets only
    python benchmarks/bench_widgets.py --browser 12       # in JupyterLab + headless Chromium (below)

``--browser N`` measures what a learner sees instead: ``make lab`` serves a notebook with the
explorers (started as in tests/ui, in a throw-away folder), headless Chromium runs it, focuses a
slider handle and presses an arrow key N times per slider; each time is from the key press to the
new PNG decoded in the <img> (``performance.now()`` in the page), so it includes the websocket
round trip, the kernel's handler and the image decode.  Needs the Debian ``chromium`` package.
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as H  # noqa: E402  (no numpy import yet: threads may be pinned first)

TARGET_MS = 100.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ticks", type=int, default=200, help="playground ticks to time (default 200)")
    p.add_argument("--changes", type=int, default=30, help="control changes to time per widget (default 30)")
    p.add_argument("--threads", type=int, default=None,
                   help="pin BLAS threads (default: leave them as a notebook kernel would)")
    p.add_argument("--quick", action="store_true", help="a few updates only (smoke test, not a measurement)")
    p.add_argument("--json", default=None, help="also write the results as JSON to this path")
    p.add_argument("--only", nargs="+", default=None, metavar="WIDGET",
                   help="time only these widgets (class names); the playground tick always runs")
    p.add_argument("--no-kept", action="store_true",
                   help="keep no earlier backgrounds (every change of the static part redraws it): the cost of "
                        "a first visit to each setting")
    p.add_argument("--browser", type=int, default=None, metavar="N",
                   help="instead: key press to new image in JupyterLab + headless Chromium, N presses per slider")
    args = p.parse_args(argv)
    if args.ticks < 5 or args.changes < 3:
        p.error("--ticks must be >= 5 and --changes >= 3")
    if args.browser is not None and args.browser < 3:
        p.error("--browser needs at least 3 key presses per slider")
    if args.quick:
        args.ticks, args.changes = 10, 4
    known = {name for name, *_ in CHANGES} | {name for name, *_ in BROWSER_SLIDERS}
    unknown = sorted(set(args.only or ()) - known)
    if unknown:
        p.error(f"--only: unknown widget(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    return args


def stats(times):
    import numpy as np
    t = np.asarray(times) * 1e3
    return {"n": int(t.size), "median_ms": float(np.median(t)), "p95_ms": float(np.percentile(t, 95)),
            "max_ms": float(t.max()), "mean_ms": float(t.mean())}


def time_ticks(n):
    """Default Playground: warm up 5 ticks, then time n ticks, with a per-part breakdown."""
    import bpcourse.widgets as bw
    pg = bw.Playground()
    for _ in range(5):
        pg.tick()
    full0, partial0 = pg.full_redraws, pg.partial_redraws
    total, parts = [], {"train": [], "draw": [], "render": []}
    for _ in range(n):
        total.append(pg.tick())
        for k in parts:
            parts[k].append(pg.timings[k])
    row = stats(total)
    row.update(widget="Playground", update=f"tick ({pg.steps_per_tick} steps + eval + redraw + PNG)",
               png_kb=len(pg.png) / 1024, full_redraws=pg.full_redraws - full0,
               partial_redraws=pg.partial_redraws - partial0,
               parts={k: stats(v)["median_ms"] for k, v in parts.items()},
               diverged=pg.diverged_at is not None, step=pg.step_count)
    return row


# widget, constructor kwargs, control, values cycled through (each set is one timed update).
# Every control of every explorer, and the playground's controls that a learner moves most.
CHANGES = [
    ("Playground", {}, "lr", [0.01, 0.03, 0.1, 0.3]),
    ("Playground", {}, "activation", ["relu", "tanh", "sigmoid"]),
    ("Playground", {}, "dataset", ["xor", "moons", "circles"]),
    ("Playground", {}, "hidden_layers", [1, 3, 2]),
    ("Playground", {}, "width", [4, 16, 8]),
    ("Playground", {}, "optimizer", ["adam", "momentum", "sgd"]),
    ("Playground", {}, "batch_size", [8, 32, 16]),
    ("Playground", {}, "init", ["he", "normal", "xavier"]),
    ("CircuitExplorer", {}, "x", [-3.0, -2.0, 1.5, 4.0]),
    ("CircuitExplorer", {}, "z", [-4.0, 2.0, 0.5]),
    ("ActivationExplorer", {}, "z", [-2.0, 0.0, 1.0, 3.5]),
    ("ActivationExplorer", {}, "activation", ["tanh", "relu", "sigmoid"]),
    ("LayerShapeExplorer", {}, "batch", [3, 5, 8, 12]),
    ("LayerShapeExplorer", {}, "size1", [6, 2, 3]),
    ("SoftmaxExplorer", {}, "z0", [-1.0, 0.5, 2.0, 4.0]),
    ("SoftmaxExplorer", {}, "target", [1, 2, 0]),
    ("SoftmaxExplorer", {}, "loss", ["mse", "cross_entropy"]),
    ("FiniteDifferenceExplorer", {}, "h", [1e-9, 1e-6, 1e-4, 1e-2]),
    ("FiniteDifferenceExplorer", {}, "dtype", ["float32", "float64"]),
    ("FiniteDifferenceExplorer", {}, "function", ["sigmoid", "exp", "tanh"]),
    ("LearningRateExplorer", {}, "lr", [0.05, 0.1, 0.5, 1.5]),
    ("LearningRateExplorer", {"dims": 2}, "lr", [0.05, 0.1, 0.5, 1.5]),
    ("LearningRateExplorer", {}, "momentum", [0.5, 0.9, 0.0]),
    ("LearningRateExplorer", {}, "curvature", [0.5, 2.0, 1.0]),
    ("LearningRateExplorer", {}, "steps", [60, 200, 30]),
    ("LearningRateExplorer", {}, "dims", [2, 1]),
    ("OptimizerExplorer", {}, "lr", [0.002, 0.005, 0.01, 0.02]),
    ("OptimizerExplorer", {}, "optimizer", ["adam", "rmsprop", "sgd", "momentum"]),
    ("OptimizerExplorer", {}, "beta", [0.5, 0.99, 0.9]),
    ("OptimizerExplorer", {}, "steps", [300, 50, 100]),
    ("GradientFlowExplorer", {}, "depth", [4, 6, 10, 20]),
    ("GradientFlowExplorer", {}, "activation", ["tanh", "relu", "sigmoid"]),
    ("GradientFlowExplorer", {}, "weight_scale", [0.5, 3.0, 1.0]),
    ("GradientFlowExplorer", {}, "width", [10, 100, 30]),
    ("InitExplorer", {}, "init", ["xavier", "he", "lecun", "normal_0.01"]),
    ("InitExplorer", {}, "activation", ["relu", "sigmoid", "tanh"]),
    ("InitExplorer", {}, "depth", [5, 20, 30, 10]),
    ("InitExplorer", {}, "width", [50, 200, 300, 100]),
    ("RemediesExplorer", {}, "skip", [True, False]),
    ("RemediesExplorer", {}, "norm", ["batch", "layer", "none"]),
    ("RemediesExplorer", {}, "depth", [10, 50, 20]),
    ("RemediesExplorer", {}, "activation", ["tanh", "relu", "sigmoid"]),
    ("RegularizationExplorer", {}, "l2", [1e-4, 1e-3, 0.01, 0.1]),   # after the first cycle: cached
    ("RegularizationExplorer", {}, "dropout", [0.2, 0.5, 0.0]),
    ("RNNExplorer", {}, "rho", [0.8, 1.2, 1.5, 0.9]),
    ("RNNExplorer", {}, "length", [10, 60, 100, 30]),
    ("RNNExplorer", {}, "activation", ["identity", "tanh"]),
    ("RNNExplorer", {}, "clip", [0.1, 1.0, 10.0, float("inf")]),
    ("AdversarialExplorer", {}, "eps", [0.05, 0.1, 0.2, 0.3]),
    ("AdversarialExplorer", {}, "digit", [3, 100, 250, 448]),
    ("AdversarialExplorer", {}, "attack", ["random signs", "FGSM"]),
    ("GateExplorer", {}, "length", [30, 120, 150, 80]),
    ("GateExplorer", {}, "forget_bias", [0.0, 3.0, -1.0, 1.0]),
    ("GateExplorer", {}, "cell", ["RNN", "GRU", "LSTM"]),
    ("GateExplorer", {}, "truncate", [10, 20, 0]),


    ("ConvExplorer", {}, "digit", [1, 5, 8, 0]),
    ("ConvExplorer", {}, "preset", ["blur", "sharpen", "horizontal edge", "vertical edge"]),
    ("ConvExplorer", {}, "w11", [1.0, -0.5, 2.0, 0.0]),
    ("ConvExplorer", {}, "i", [0, 5, 7, 3]),
    ("ConvExplorer", {}, "j", [0, 6, 7, 2]),


    ("AdversarialExplorer", {}, "model", ["CNN", "MLP"]),
    ("AdversarialExplorer", {"model": "CNN"}, "eps", [0.05, 0.1, 0.2, 0.3]),


    ("AttentionExplorer", {}, "head", [2, 3, 4, 1]),
    ("AttentionExplorer", {}, "layer", [2, 1]),
    ("AttentionExplorer", {}, "temperature", [0.5, 1.2, 0.8]),      # after the first cycle: cached samples
    ("AttentionExplorer", {}, "prompt", ["To be, or not to be", "ROMEO:\nBut soft, what light"]),
]


def time_first_visits():
    """RegularizationExplorer trains once per (l2, dropout) setting: time the uncached visits."""
    import bpcourse.widgets as bw
    from bpcourse.widgets.deep import DROPOUT_RATES, L2_RATES
    w = bw.RegularizationExplorer()
    times, redraws, partial, kept = [], w.full_redraws, w.partial_redraws, w.cached_redraws
    for name, values in (("l2", L2_RATES[1:]), ("dropout", DROPOUT_RATES[1:])):
        for v in values:
            t0 = time.perf_counter()
            w.controls[name].value = v
            times.append(time.perf_counter() - t0)
        w.controls[name].value = 0.0
    row = stats(times)
    row.update(widget="RegularizationExplorer", update=f"l2 or dropout, first visit (trains {w.STEPS} steps)",
               png_kb=len(w.png) / 1024, full_redraws=w.full_redraws - redraws,
               partial_redraws=w.partial_redraws - partial, kept_redraws=w.cached_redraws - kept)
    return row


def time_changes(name, kwargs, control, values, n):
    """Time n changes of one control (values cycled; the first value set is not timed)."""
    import bpcourse.widgets as bw
    w = getattr(bw, name)(**kwargs)
    c = w.controls[control]
    cycle = itertools.cycle(values)
    c.value = next(cycle)                                  # warm-up (and leave the start value)
    first, times, redraws, partial, kept = None, [], w.full_redraws, w.partial_redraws, w.cached_redraws
    for _ in range(n):
        v = next(cycle)
        t0 = time.perf_counter()
        c.value = v                                        # runs the handler: recompute + redraw + PNG
        dt = time.perf_counter() - t0
        if w.last_error is not None:
            raise SystemExit(f"{name}: setting {control} = {v!r} raised {w.last_error!r}")
        times.append(dt)
        first = dt if first is None else first
    row = stats(times)
    label = f"{control} = " + ", ".join(map(str, values))
    if kwargs:
        label += "  (" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")"
    row.update(widget=name, update=label, png_kb=len(w.png) / 1024, full_redraws=w.full_redraws - redraws,
               partial_redraws=w.partial_redraws - partial, kept_redraws=w.cached_redraws - kept)
    return row


def table(rows):
    out = ["| widget | update | n | median | p95 | max | background: redrawn whole / some axes / kept | PNG |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['widget']} | {r['update']} | {r['n']} | {r['median_ms']:.1f} ms | {r['p95_ms']:.1f} ms | "
                   f"{r['max_ms']:.1f} ms | {r['full_redraws']} / {r['partial_redraws']} / {r.get('kept_redraws', 0)} | "
                   f"{r['png_kb']:.0f} KB |")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# --browser: key press to new image, in a real frontend
# ---------------------------------------------------------------------------------------------

# widget, constructor call, [(slider position among the widget's sliders, label, first key)]
BROWSER_SLIDERS = [
    ("InitExplorer", "bp.widgets.InitExplorer()", [(0, "layers", "ArrowRight"), (1, "width", "ArrowRight")]),
    ("RegularizationExplorer", "bp.widgets.RegularizationExplorer()", [(0, "l2", "ArrowRight")]),
    ("RemediesExplorer", "bp.widgets.RemediesExplorer()", [(0, "blocks", "ArrowRight")]),
    ("GradientFlowExplorer", "bp.widgets.GradientFlowExplorer()", [(0, "hidden layers", "ArrowRight")]),
    ("OptimizerExplorer", "bp.widgets.OptimizerExplorer()", [(0, "lr", "ArrowRight")]),
    ("LearningRateExplorer", "bp.widgets.LearningRateExplorer(curvature=1.0, lr=0.5, momentum=0.9)",
     [(0, "lr", "ArrowRight")]),
    ("GateExplorer", "bp.widgets.GateExplorer()", [(0, "length", "ArrowRight"), (1, "forget bias", "ArrowRight")]),
    ("RNNExplorer", "bp.widgets.RNNExplorer()", [(0, "rho", "ArrowRight"), (1, "length", "ArrowRight"),
                                                 (2, "clip", "ArrowLeft")]),     # clip starts at "off", the right end
    ("AdversarialExplorer", "bp.widgets.AdversarialExplorer()", [(0, "digit", "ArrowRight"), (1, "eps", "ArrowRight")]),


    ("AttentionExplorer", "bp.widgets.AttentionExplorer()", [(0, "temperature", "ArrowRight")]),
]

# arm: resolve window.__done with the ms from window.__t0 (set just before the key press) to the
# moment the <img> has a new src and has decoded it, or with -1 if no new image came in 10 s
_JS_ARM = """(img) => { window.__done = new Promise(res => {
    const obs = new MutationObserver(async () => { obs.disconnect();
        try { await img.decode(); } catch (e) {} res(performance.now() - window.__t0); });
    obs.observe(img, {attributes: true, attributeFilter: ['src']});
    setTimeout(() => { obs.disconnect(); res(-1); }, 10000); }); }"""


def _exit_on_termination():
    """Turn SIGTERM/SIGHUP (e.g. from `timeout`) into SystemExit, so `finally` stops JupyterLab:
    it runs in its own session and would not get the signal itself."""
    import signal

    def stop(signum, frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def time_browser(presses, only=None):
    """Rows of key-press-to-image times (seconds) per slider, measured in headless Chromium."""
    import tempfile
    from pathlib import Path

    import nbformat
    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo / "tests" / "ui"))
    from playwright.sync_api import sync_playwright

    import conftest as ui  # make lab in a throw-away folder, Chromium's path, Run All, kernel idle

    chosen = [w for w in BROWSER_SLIDERS if not only or w[0] in only]
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3 (ipykernel)"}})
    nb.cells = [nbformat.v4.new_code_cell("import bpcourse as bp\nimport bpcourse.widgets")]
    nb.cells += [nbformat.v4.new_code_cell(call) for _, call, _ in chosen]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        server = ui.LabServer(Path(tmp))
        prepare = server.prepare

        def prepare_with_notebook():
            dirs = prepare()
            nbformat.write(nb, dirs["root"] / "latency.ipynb")
            return dirs
        server.prepare = prepare_with_notebook
        _exit_on_termination()
        server.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=ui.find_chromium(), headless=True, args=ui.CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
                page.set_default_timeout(120_000)
                page.goto(f"{server.url}/lab/tree/latency.ipynb")
                page.wait_for_selector(".jp-NotebookPanel .jp-Notebook")
                ui.wait_kernel_idle(page)
                ui.run_all_cells(page)
                views = page.locator(".jp-OutputArea-output .bp-widget")
                views.nth(len(chosen) - 1).wait_for(state="visible", timeout=300_000)
                ui.wait_kernel_idle(page)
                for i, (name, _, sliders) in enumerate(chosen):
                    view = views.nth(i)
                    view.scroll_into_view_if_needed()
                    img = view.locator("img.bp-figure")
                    for j, label, first in sliders:
                        other = "ArrowLeft" if first == "ArrowRight" else "ArrowRight"
                        view.locator(".widget-slider .noUi-handle").nth(j).focus()
                        times = []
                        for k in range(presses):           # two steps one way, two back, ...
                            img.evaluate(_JS_ARM)
                            page.evaluate("() => { window.__t0 = performance.now(); }")
                            key = first if (k // 2) % 2 == 0 else other
                            page.keyboard.press(key)
                            ms = page.evaluate("() => window.__done")
                            if ms < 0:
                                raise RuntimeError(f"{name} {label}: no new image within 10 s of pressing {key}")
                            times.append(ms / 1e3)
                            time.sleep(0.3)                 # let the kernel go idle between presses
                        row = stats(times)
                        row.update(widget=name, update=label)
                        rows.append(row)
                        print(f"{name}.{label}: median {row['median_ms']:.0f} ms", file=sys.stderr)
                browser.close()
        finally:
            server.stop()
    return rows


def main_browser(args):
    machine = H.machine_info(0)
    print(f"$ {H.command_line()}", file=sys.stderr)
    rows = time_browser(args.browser, args.only)
    slow = [r for r in rows if r["median_ms"] > 1.5 * TARGET_MS]
    print("\n".join([
        f"## Widget latency in the browser ({time.strftime('%Y-%m-%d')})", "",
        f"Command: `{H.command_line()}`" + (" (no earlier backgrounds kept)" if args.no_kept else ""), "",
        f"- Machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs, 1-min load average "
        f"{machine.get('loadavg_1min', '?')} (shared); JupyterLab served by `make lab` (one BLAS thread), "
        "headless Chromium", "",
        "| widget | slider (arrow key → decoded image) | n | median | p95 | max |", "|---|---|---:|---:|---:|---:|",
        *(f"| {r['widget']} | {r['update']} | {r['n']} | {r['median_ms']:.0f} ms | {r['p95_ms']:.0f} ms | "
          f"{r['max_ms']:.0f} ms |" for r in rows), "",
        f"Browser target ≲ {1.5 * TARGET_MS:.0f} ms median: **{'met' if not slow else 'missed'}**.", ""]))
    H.write_json(args.json, {"machine": machine, "args": vars(args), "rows": rows, "target_met": not slow})
    return 0 if not slow else 1


def main(argv=None):
    args = parse_args(argv)
    if args.browser is not None:
        return main_browser(args)
    if args.threads is not None:
        H.pin_threads(args.threads)
    import matplotlib
    matplotlib.use("Agg")
    import numpy as np  # noqa: F401  (after the thread pinning)

    if args.no_kept:
        from bpcourse.widgets._base import Widget
        Widget.KEPT_BACKGROUNDS = 1                   # only the current one: no reuse of earlier settings
    machine = H.machine_info(args.threads or 0)
    print(f"$ {H.command_line()}", file=sys.stderr)
    tick = time_ticks(args.ticks)
    print(f"playground tick: median {tick['median_ms']:.1f} ms", file=sys.stderr)
    rows = [tick]
    for name, kwargs, control, values in CHANGES:
        if args.only and name not in args.only:
            continue
        rows.append(time_changes(name, kwargs, control, values, args.changes))
        print(f"{name}.{control}: median {rows[-1]['median_ms']:.1f} ms", file=sys.stderr)
    if not args.only or "RegularizationExplorer" in args.only:
        rows.append(time_first_visits())
    slow = [r for r in rows[1:] if r["median_ms"] > TARGET_MS]
    met = tick["median_ms"] <= TARGET_MS and not slow
    parts = ", ".join(f"{k} {v:.1f} ms" for k, v in tick["parts"].items())
    verdict = ("every row's median is within it" if not slow else
               "missed by " + "; ".join(f"{r['widget']} {r['update'].split(' =')[0]} ({r['median_ms']:.0f} ms)"
                                        for r in slow))
    report = "\n".join([
        f"## Widget latency ({time.strftime('%Y-%m-%d')}{', --quick: NOT a measurement' if args.quick else ''})", "",
        f"Command: `{H.command_line()}`", "",
        f"- Machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs, 1-min load average "
        f"{machine.get('loadavg_1min', '?')} (shared); numpy {machine['numpy']} ({machine['numpy_blas']}), "
        f"BLAS threads: {machine['blas_threads'] if args.threads else 'not pinned (as in a kernel)'}", "",
        table(rows), "",
        f"Playground tick at default size: median {tick['median_ms']:.1f} ms, p95 {tick['p95_ms']:.1f} ms "
        f"(medians of its parts: {parts}); {tick['full_redraws']} of {tick['n']} ticks redrew the whole static "
        f"background and {tick['partial_redraws']} that of some axes (axis limits changed).", "",
        f"Target: median ≤ {TARGET_MS:.0f} ms for the tick and for every control change: "
        f"**{'met' if met else 'missed'}** ({verdict}).",
        "",
    ])
    print(report)
    H.write_json(args.json, {"machine": machine, "args": vars(args), "rows": rows, "target_met": met})
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
