"""The playground: train a small MLP on a 2-D toy dataset and watch backprop at work (notebook 06).

In the spirit of TensorFlow Playground, plus what a backprop course needs: per-layer
gradient-norm bars on a log scale, activation saturation, several losses, initialisers and
optimisers, and depth up to 10 hidden layers (enough to watch gradients vanish).

    pg = bp.widgets.Playground(dataset="xor", hidden=(4,), lr=0.1)
    pg                      # the live view (play / step / reset)
    pg.step(500)            # or drive it from Python ...
    pg.controls["lr"].value = 0.3      # ... changing only the learning rate never resets training
    pg.state()["grad_norms"]           # the numbers in the bars

This module is the view: controls, layout and figure.  What is trained (configuration, data,
model, the step, the rollback after a divergence) is a ``bpcourse.playground_session.PlaygroundSession``,
``pg.session``, which runs without any widget.
"""
from __future__ import annotations

import html
import time

import ipywidgets as W
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator

from ..playground_session import (
    ACTIVATIONS,
    DATASETS,
    GRID,
    INITS,
    LOSSES,
    MAX_BATCH,
    MAX_LAYERS,
    MAX_WIDTH,
    OPTIMIZERS,
    PRESETS,
    REGULARIZATIONS,
    PlaygroundSession,
    resolve_config,
)
from ..plotting import sign_cmap
from ..validate import choice, int_in_range
from ._base import (
    FONT,
    OKABE_ITO,
    Widget,
    dropdown,
    float_slider,
    int_slider,
    log_slider,
    log_ylim,
    nice_ceiling,
    no_minor_ticks,
    selection_slider,
    set_title,
    style_axes,
)

__all__ = ["Playground", "PRESETS", "DATASETS", "LOSSES", "OPTIMIZERS", "ACTIVATIONS", "INITS"]
REG_RATES = (0.0, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
LR_RANGE = (1e-5, 10.0)   # the learning-rate slider's range (the session itself takes any lr > 0)
MAX_CURVE_POINTS = 1500   # loss curves are thinned to this many points before drawing
PLAY_INTERVAL = 120       # ms between ticks while playing (raised automatically on a slow machine)
MIN_WEIGHT_SLOTS = 5      # the weights row is laid out for at least this many layers (few stay narrow)
WEIGHT_XMAX = float(MAX_LAYERS + 1)   # the weights row's fixed x range: one unit per layer at full depth
# weights: blue < 0 < vermillion (Okabe & Ito), white at 0; colour limits ±max|W| per layer
WEIGHT_CMAP = sign_cmap()
# the settings whose controls carry the session's value as is
_PLAIN = ("dataset", "activation", "init", "loss", "optimizer", "lr", "batch_size", "noise", "train_fraction",
          "regularization")


def _weight_scale(W):
    """max|W| over the finite entries of W (n_out, n_in), or 1 when there are none; a
    tiny floor keeps symmetric colour limits ±scale valid for an all-zero W."""
    finite = np.abs(W[np.isfinite(W)])
    return max(float(finite.max()), 1e-12) if finite.size else 1.0


def _from_session(name, doc):
    return property(lambda self: getattr(self.session, name), doc=doc)


class Playground(Widget):
    """Train an MLP on a 2-D dataset, live: decision map, loss curves, gradient norms, saturation,
    and a heat map of every Linear layer's W (n_out rows x n_in columns; blue < 0 < vermillion,
    colour limits ±max|W| of that layer, redrawn every tick).

    Arguments (all keywords; each is also a control in ``.controls``):
      dataset        one of "circles" "xor" "moons" "spirals" "gaussians" (2 classes)
      hidden         hidden layer widths, e.g. (8, 8); 0-10 layers of width 1-64
      activation     "tanh" "relu" "sigmoid" "leaky_relu" "identity" "gelu"
      init           "xavier" "xavier_normal" "he" "he_uniform" "lecun" "normal" "constant"
      loss           "bce" (1 logit, BCE from logits), "cross_entropy" (2 logits), "mse" (1 output)
      optimizer      "sgd", "momentum" (SGD with momentum 0.9), "adam"
      lr             learning rate, 1e-5 ... 10 (log slider)
      batch_size     mini-batch size (clipped to the training-set size)
      noise          dataset noise (0 ... 0.5)
      train_fraction share of the points used for training (the rest is the test set)
      regularization "none", "l1" or "l2" (on weights, not biases), with strength ``reg_rate``
      seed           seeds data, weights and mini-batch order
      preset         a scenario from ``PRESETS`` (e.g. "deep_sigmoid"); arguments you set away from
                     their defaults override the preset's

    Controls that only change how training proceeds (lr, batch size, regularisation, steps per
    tick, optimiser) keep the weights; those that change the data or the network reset it.
    ``.tick()`` runs ``steps_per_tick`` mini-batch steps and redraws (what "play" does).
    The training itself is ``.session`` (a ``PlaygroundSession``); ``model``, ``optimizer``,
    ``loss_fn``, ``data``, ``history``, ``step_count``, ``diverged_at``, ``hidden`` and ``seed`` read it.
    """

    figsize = (8.0, 7.0)

    model = _from_session("model", "The MLP being trained (``bp.nn.MLP``).")
    linears = _from_session("linears", "Its Linear layers, input first.")
    optimizer = _from_session("optimizer", "The optimiser (a new one after a divergence or an optimiser change).")
    loss_fn = _from_session("loss_fn", "The loss object.")
    data = _from_session("data", "Dict X_train (N, 2), y_train (N,), X_test, y_test.")
    extent = _from_session("extent", "The decision map's (x0, x1, y0, y1).")
    history = _from_session("history", "Lists step, train_loss, test_loss, train_acc, test_acc.")
    step_count = _from_session("step_count", "Mini-batch steps since the last reset.")
    diverged_at = _from_session("diverged_at", "The step that diverged (weights rolled back), or None.")
    hidden = _from_session("hidden", "Hidden layer widths (tuple).")
    seed = _from_session("seed", "Seeds data, weights and mini-batch order.")

    def __init__(self, dataset="circles", hidden=(8, 8), activation="tanh", init="xavier", loss="bce",
                 optimizer="sgd", lr=0.03, batch_size=16, noise=0.1, train_fraction=0.7,
                 regularization="none", reg_rate=0.0, seed=0, preset=None, steps_per_tick=20):
        super().__init__()
        given = dict(dataset=dataset, hidden=hidden, activation=activation, init=init, loss=loss,
                     optimizer=optimizer, lr=lr, batch_size=batch_size, noise=noise,
                     train_fraction=train_fraction, regularization=regularization, reg_rate=reg_rate,
                     seed=seed)
        cfg = resolve_config(given, preset, "Playground", lr_range=LR_RANGE)
        self.steps_per_tick = int_in_range(steps_per_tick, "steps_per_tick", "Playground", 1, 1000)
        self.session = PlaygroundSession(**cfg)
        self.session.preset = preset
        self.tick_times = []
        self.note = W.HTML(html.escape(PRESETS[preset]["description"]) if preset else "")
        self._make_controls(cfg, preset)
        self._finish()

    # ---- controls and layout --------------------------------------------------------------------
    def _make_controls(self, cfg, preset):
        rates = tuple(sorted(set(REG_RATES) | {cfg["reg_rate"]}))
        c = self.controls
        c["play"] = W.Play(value=0, min=0, max=10**9, step=1, interval=PLAY_INTERVAL, show_repeat=False,
                           description="play")
        c["step"] = W.Button(description="step", tooltip="one tick: steps_per_tick updates",
                             layout=W.Layout(width="70px"))
        c["reset"] = W.Button(description="reset", tooltip="new weights, same settings",
                              layout=W.Layout(width="70px"))
        c["steps_per_tick"] = int_slider("steps/tick", self.steps_per_tick, 1, 100)
        c["preset"] = dropdown("preset", preset or "custom", ("custom",) + tuple(PRESETS))
        c["dataset"] = dropdown("dataset", cfg["dataset"], DATASETS)
        c["noise"] = float_slider("noise", cfg["noise"], 0.0, 0.5, 0.01)
        c["train_fraction"] = float_slider("train fraction", cfg["train_fraction"], 0.1, 0.9, 0.05)
        c["hidden_layers"] = int_slider("hidden layers", len(cfg["hidden"]), 0, MAX_LAYERS)
        c["width"] = int_slider("width", max(cfg["hidden"], default=8), 1, MAX_WIDTH)
        c["activation"] = dropdown("activation", cfg["activation"], ACTIVATIONS)
        c["init"] = dropdown("init", cfg["init"], INITS)
        c["loss"] = dropdown("loss", cfg["loss"], LOSSES)
        c["optimizer"] = dropdown("optimizer", cfg["optimizer"], OPTIMIZERS)
        c["lr"] = log_slider("learning rate", cfg["lr"], *LR_RANGE, fmt=".1e")
        c["batch_size"] = int_slider("batch size", cfg["batch_size"], 1, MAX_BATCH)
        c["regularization"] = dropdown("regularization", cfg["regularization"], REGULARIZATIONS)
        c["reg_rate"] = selection_slider("reg. rate", cfg["reg_rate"], rates)
        c["step"].on_click(lambda _: self._button(self.tick))
        c["reset"].on_click(lambda _: self._button(self.reset))

    def _layout(self):
        c = self.controls
        top = W.VBox([W.HBox([c["play"], c["step"], c["reset"], c["steps_per_tick"], c["preset"]]), self.note])
        left = W.VBox([W.HTML("<b>data</b>"), c["dataset"], c["noise"], c["train_fraction"],
                       W.HTML("<b>network</b>"), c["hidden_layers"], c["width"], c["activation"], c["init"],
                       W.HTML("<b>training</b>"), c["loss"], c["optimizer"], c["lr"], c["batch_size"],
                       c["regularization"], c["reg_rate"]], layout=W.Layout(flex="0 0 auto"))
        # as in Widget._layout: the figure shrinks, the controls keep their width (squeezed, the column
        # scrolled sideways and hid every readout and menu in JupyterLab with the file browser open)
        right = W.VBox([self.image, self.status], layout=W.Layout(flex="1 1 auto", min_width="0"))
        return W.VBox([top, W.HBox([left, right])])

    def _button(self, action):
        try:
            action()
            self.last_error = None
        except Exception as exc:   # never leave a broken view
            self.last_error = exc
            self._show_error(f"{type(exc).__name__}: {exc}")

    # ---- control changes ------------------------------------------------------------------------
    def _value(self, name):
        return self.controls[name].value

    def _on_change(self, name, change):
        if name == "play":
            dt = self.tick()
            play = self.controls["play"]
            ms = dt * 1000                        # a slow machine: slow the frontend's clock down rather
            if ms > 0.8 * play.interval or (play.interval > PLAY_INTERVAL and ms < 0.3 * play.interval):
                play.interval = int(min(2000, max(PLAY_INTERVAL, 1.5 * ms)))   # than queue ticks up
            return
        if name == "preset":
            if change["new"] != "custom":
                self.apply_preset(change["new"])
            return
        self._set("preset", "custom")
        if name == "steps_per_tick":
            self.steps_per_tick = change["new"]
            rebuilt = False
        elif name in ("hidden_layers", "width"):
            rebuilt = self.session.configure(hidden=(self._value("width"),) * self._value("hidden_layers"))
        else:                                      # lr and the optimiser keep the weights, the data and
            rebuilt = self.session.configure(**{name: change["new"]})     # the network's settings reset
        if rebuilt:
            self._set("play", 0)
        self._draw()                               # the session evaluated a rebuilt network already
        self.render()

    def _after_hold(self):
        """The controls changed inside ``hold``: one reconfiguration of the session and one redraw (the network
        is rebuilt at most once, however many of its settings changed); an error is shown, as for a button."""
        self._button(self._sync_session)

    def _sync_session(self):
        """Give the session every setting whose control now differs from it; redraw."""
        wanted = {key: self._value(key) for key in _PLAIN}
        wanted["reg_rate"] = self._value("reg_rate")
        wanted["hidden"] = (self._value("width"),) * self._value("hidden_layers")
        changed = {key: value for key, value in wanted.items() if self.session.config[key] != value}
        self.steps_per_tick = self._value("steps_per_tick")
        if changed:
            self._set("preset", "custom")
            if self.session.configure(**changed):
                self._set("play", 0)
        self._draw()
        self.render()

    def apply_preset(self, name):
        """Set the controls to a scenario from PRESETS and reset (one redraw)."""
        choice(name, tuple(PRESETS), "preset", "Playground")
        self.session.apply_preset(name)
        cfg = self.session.config
        self._hold += 1
        try:
            for key in _PLAIN:
                self.controls[key].value = cfg[key]
            if cfg["reg_rate"] not in self.controls["reg_rate"].options:
                self.controls["reg_rate"].options = tuple(sorted(set(self.controls["reg_rate"].options)
                                                                 | {cfg["reg_rate"]}))
            self.controls["reg_rate"].value = cfg["reg_rate"]
            self.controls["hidden_layers"].value = len(cfg["hidden"])
            self.controls["width"].value = max(cfg["hidden"], default=8)
            self.controls["preset"].value = name
            self.note.value = html.escape(PRESETS[name]["description"])
            self.controls["play"].value = 0
        finally:
            self._hold -= 1
        self._draw()
        self.render()

    def reset(self):
        """New weights (same seed), fresh optimiser state, empty history; redraw."""
        self.session.reset()
        self._set("play", 0)
        self._draw()
        self.render()
        return self

    # ---- training -------------------------------------------------------------------------------
    def step(self, n=1):
        """Run ``n`` mini-batch steps (history recorded every ``steps_per_tick`` steps), then redraw.

        Returns self.  A divergence (non-finite loss or weights) stops early: see ``diverged_at``.
        """
        n = int_in_range(n, "n", "Playground.step", 0, 10**7)
        if not self.session.train(n, self.steps_per_tick):
            self.controls["play"].playing = False
        self._draw()
        self.render()
        return self

    def tick(self):
        """One animation frame: ``steps_per_tick`` steps, evaluation, redraw.  Returns seconds taken."""
        t0 = time.perf_counter()
        if not self.session.step(self.steps_per_tick):
            self.controls["play"].playing = False          # pause on a divergence
        t1 = time.perf_counter()
        self._draw()
        t2 = time.perf_counter()
        self.render()
        dt = time.perf_counter() - t0
        self.timings.update(train=t1 - t0, draw=t2 - t1)     # render: set by render()
        self.tick_times.append(dt)
        return dt

    # ---- figure ------------------------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.01, top=0.95, wspace=0.26, hspace=0.5)
        grid = fig.add_gridspec(3, 2, height_ratios=(1.0, 1.0, 0.62))
        self.ax_map, self.ax_loss = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
        self.ax_grad, self.ax_sat = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
        self.ax_w = fig.add_subplot(grid[2, :])
        box = self.ax_w.get_position()           # no y ticks: the heat maps may use the full width
        self.ax_w.set_position([0.015, box.y0, 0.97, box.height])
        ax = self.ax_map
        self._map = ax.imshow(np.full((GRID, GRID), 0.5), origin="lower", extent=self.extent, cmap="PuOr",
                              vmin=0.0, vmax=1.0, interpolation="bilinear", aspect="auto")
        style = dict(cmap="PuOr", norm=Normalize(-0.25, 1.25), s=14, linewidths=0.7)
        self._train_pts = ax.scatter([0], [0], c=[0.0], edgecolors="white", label="train", **style)
        self._test_pts = ax.scatter([0], [0], c=[0.0], edgecolors="black", marker="s", label="test", **style)
        style_axes(ax, title="decision map: P(class 1);  ○ train, □ test")
        ax = self.ax_loss
        self._train_line, = ax.plot([], [], color=OKABE_ITO["blue"], label="train")
        self._test_line, = ax.plot([], [], color=OKABE_ITO["orange"], label="test", linestyle="--")
        self._loss_text = ax.text(0.02, 0.04, "", transform=ax.transAxes, fontsize=FONT["small"])
        ax.set_yscale("log")
        style_axes(ax, title="loss (mean over the set, no regulariser)", xlabel="step")
        ax.legend(fontsize=FONT["legend"], loc="upper right")
        no_minor_ticks(ax)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax = self.ax_grad
        self._grad_bars = list(ax.bar(np.arange(MAX_LAYERS + 1) + 1, np.ones(MAX_LAYERS + 1), bottom=1e-30,
                                      color=OKABE_ITO["green"]))
        ax.set_yscale("log")
        style_axes(ax, title="‖∂C/∂W‖ per layer (input → output)", xlabel="layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        no_minor_ticks(ax)
        ax = self.ax_sat
        self._sat_bars = list(ax.bar(np.arange(MAX_LAYERS) + 1, np.zeros(MAX_LAYERS), color=OKABE_ITO["vermillion"]))
        ax.set_ylim(0, 1.0)
        style_axes(ax, xlabel="hidden layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        self._msg = fig.text(0.5, 0.5, "", ha="center", va="center", fontsize=13, color="white", weight="bold",
                             bbox=dict(facecolor=OKABE_ITO["vermillion"], edgecolor="none", pad=8), visible=False)
        ax = self.ax_w
        style_axes(ax, title="weights W per layer (rows: units out, columns: inputs; "
                   "blue < 0 < vermillion, scale ±max|W| above each)")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlim(0.0, WEIGHT_XMAX)            # fixed: a new architecture leaves the background alone
        ax.set_ylim(-0.2, 1.2)
        for side in ("left", "right", "top", "bottom"):
            ax.spines[side].set_visible(False)
        self._weight_images, self._weight_texts, self._weight_names, self._weights_for = [], [], [], None
        self._animate(self._map, self._train_pts, self._test_pts, self._train_line, self._test_line,
                      self._loss_text, *self._grad_bars, *self._sat_bars, self._msg)

    def _compute(self):
        """Full refresh: evaluate the current weights (recorded unless this step already is)."""
        self.session.evaluate()

    def _draw(self):
        p = self.session.evaluation
        self._draw_points()
        self._draw_weights()
        if p is not None:
            self._map.set_data(p["P"])
            self._draw_bars(self._grad_bars, p["grad_norms"], log=True)
            self._draw_bars(self._sat_bars, p["saturation"], log=False)
        self._map.set_extent(self.extent)
        self.ax_map.set_xlim(self.extent[:2])
        self.ax_map.set_ylim(self.extent[2:])
        self._draw_curves()
        act = self.session.config["activation"]
        set_title(self.ax_sat, {"relu": "dead units (z ≤ 0 on every train input)",
                               "leaky_relu": "units with z ≤ 0 on every train input",
                               "identity": "identity never saturates",
                               "tanh": "saturated share: |tanh(z)| > 0.99",
                               "sigmoid": "saturated share: σ(z) outside [0.01, 0.99]"}.get(
                                   act, f"{act}: no saturation measure (bars at 0)"))
        for ax, n in ((self.ax_sat, max(len(self.hidden), 1)), (self.ax_grad, len(self.linears))):
            ax.set_xlim(0.4, n + 0.6)
            ax.set_xticks(range(1, n + 1))
        if self.diverged_at is not None:
            self._msg.set_text(f"diverged at step {self.diverged_at} — lower the learning rate\n"
                               "(or press reset)")
        self._msg.set_visible(self.diverged_at is not None)
        self._draw_status()

    def _draw_points(self):
        d = self.data
        for pts, part in ((self._train_pts, "train"), (self._test_pts, "test")):
            pts.set_offsets(d["X_" + part])
            pts.set_array(d["y_" + part].astype(float))

    @staticmethod
    def _draw_bars(bars, values, log):
        for i, bar in enumerate(bars):
            visible = i < len(values)
            bar.set_visible(visible)
            if visible:
                bar.set_height(max(values[i], 1e-30) if log else values[i])
        if log and len(values):
            pos = [v for v in values if v > 0] or [1e-12]
            log_ylim(bars[0].axes, min(pos) / 2, max(pos) * 2)

    def _build_weights(self):
        """One heat map, one ±max|W| label above it and one name/shape label below it per Linear
        layer of the current model; called when the model is (re)built, never per tick.

        The axes' limits stay fixed (x in [0, 11]); n layers share it in max(n, 5) equal slots,
        centred, each image filling 94 % of its slot: at 11 layers about 64 px wide, one pixel
        column per input of a width-64 layer.  All of it is animated, so the static background
        does not change with the architecture.
        """
        ax = self.ax_w
        for artist in self._weight_images + self._weight_texts + self._weight_names:
            self.animated.remove(artist)
            artist.remove()
        self._weight_images, self._weight_texts, self._weight_names = [], [], []
        n = len(self.linears)
        slot = WEIGHT_XMAX / max(n, MIN_WEIGHT_SLOTS)
        x0 = (WEIGHT_XMAX - n * slot) / 2
        small = FONT["small"] if n <= 6 else FONT["small"] - 2
        for i, layer in enumerate(self.linears):
            left, mid = x0 + i * slot, x0 + (i + 0.5) * slot
            im = ax.imshow(np.zeros(layer.W.data.shape), cmap=WEIGHT_CMAP, vmin=-1.0, vmax=1.0, origin="upper",
                           extent=(left + 0.03 * slot, left + 0.97 * slot, 0.0, 1.0), interpolation="nearest",
                           aspect="auto")
            scale = ax.text(mid, 1.04, "", ha="center", va="bottom", fontsize=FONT["small"])
            name = ax.text(mid, -0.04, f"W{i + 1}  {layer.W.data.shape[0]}×{layer.W.data.shape[1]}",
                           ha="center", va="top", fontsize=small)
            self._weight_images.append(self._animate(im))
            self._weight_texts.append(self._animate(scale))
            self._animate(name)
            self._weight_names.append(name)
        ax.set_xlim(0.0, WEIGHT_XMAX)            # imshow may have autoscaled: back to the fixed limits
        ax.set_ylim(-0.2, 1.2)
        self._weights_for = self.linears

    def _draw_weights(self):
        """Push every layer's current W into its heat map, with colour limits ±max|W|."""
        if self._weights_for is not self.linears:
            self._build_weights()
        for layer, im, text in zip(self.linears, self._weight_images, self._weight_texts):
            scale = _weight_scale(layer.W.data)
            im.set_data(layer.W.data)
            im.set_clim(-scale, scale)
            text.set_text(f"±{scale:.2g}")

    def _draw_curves(self):
        h = self.history
        x = np.asarray(h["step"], dtype=float)
        stride = max(1, len(x) // MAX_CURVE_POINTS)
        self._train_line.set_data(x[::stride], np.asarray(h["train_loss"])[::stride])
        self._test_line.set_data(x[::stride], np.asarray(h["test_loss"])[::stride])
        ax = self.ax_loss
        if len(x):
            ys = np.concatenate([h["train_loss"], h["test_loss"]])
            ys = ys[ys > 0]
            log_ylim(ax, *((ys.min(), ys.max()) if ys.size else (1e-3, 1.0)))
            ax.set_xlim(0, nice_ceiling(max(x[-1], 50)))
            self._loss_text.set_text(f"step {self.step_count}:  train {h['train_loss'][-1]:.3g}   "
                                     f"test {h['test_loss'][-1]:.3g}")

    def _draw_status(self):
        h = self.history
        if self.diverged_at is not None:
            self.status.value = (f'<span style="color:#D55E00"><b>diverged at step {self.diverged_at} — lower the '
                                 f'learning rate</b> (weights rolled back to step {self.step_count})</span>')
        elif h["step"]:
            self.status.value = html.escape(
                f"step {self.step_count} · train loss {h['train_loss'][-1]:.4f} · test loss "
                f"{h['test_loss'][-1]:.4f} · test accuracy {100 * h['test_acc'][-1]:.1f}% · "
                f"lr {self.optimizer.lr:.2g}")

    # ---- reading back --------------------------------------------------------------------------
    def state(self):
        """The numbers currently plotted (read from the artists) and the training state."""
        def bars(bs):
            return [float(b.get_height()) for b in bs if b.get_visible()]
        return {
            "step": self.step_count,
            "lr": self.optimizer.lr,
            "hidden": self.hidden,
            "sizes": list(self.model.sizes),
            "train_loss": self.history["train_loss"][-1] if self.history["train_loss"] else None,
            "test_loss": self.history["test_loss"][-1] if self.history["test_loss"] else None,
            "test_acc": self.history["test_acc"][-1] if self.history["test_acc"] else None,
            "decision": np.array(self._map.get_array()),
            "train_points": np.array(self._train_pts.get_offsets()),
            "test_points": np.array(self._test_pts.get_offsets()),
            "loss_curve": {"step": self._train_line.get_xdata().tolist(),
                           "train": self._train_line.get_ydata().tolist(),
                           "test": self._test_line.get_ydata().tolist()},
            "grad_norms": bars(self._grad_bars),
            "saturation": bars(self._sat_bars),
            "weights": [{"W": np.array(im.get_array()), "shape": tuple(im.get_array().shape),
                         "clim": im.get_clim(), "max_abs": im.get_clim()[1], "label": t.get_text(),
                         "name": name.get_text()}
                        for im, t, name in zip(self._weight_images, self._weight_texts, self._weight_names)],
            "diverged_at": self.diverged_at,
            "message": self._msg.get_text() if self._msg.get_visible() else "",
        }

    def _plain_text(self):
        s = self.state()
        loss = "untrained" if s["train_loss"] is None else f"train loss {s['train_loss']:.4f}"
        cfg = self.session.config
        return (f"<Playground {cfg['dataset']}, MLP {s['sizes']} {cfg['activation']}, "
                f"{cfg['optimizer']} lr={s['lr']:.2g}; step {s['step']}, {loss}>")
