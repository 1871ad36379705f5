"""Explorers of deep networks: gradient flow, initialisation, remedies, regularisation (08-10, 12).

Every number is measured on a real network of ``bp.nn`` / ``bp.layers`` modules with a real
forward and backward pass; the seeds are fixed, so moving a control changes only what it names.
"""
from __future__ import annotations

import math

import ipywidgets as W
import numpy as np
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator

from .. import activations, data, diagnostics, layers, losses, nn, optim, regularization, train
from ..validate import choice, int_in_range, real
from ._base import (
    BLUE,
    FONT,
    GREEN,
    ORANGE,
    RED,
    Widget,
    dropdown,
    int_slider,
    log_slider,
    log_ylim,
    nice_ceiling,
    no_minor_ticks,
    selection_slider,
    set_title,
    sticky_limit,
    style_axes,
)

__all__ = ["GradientFlowExplorer", "InitExplorer", "RemediesExplorer", "RegularizationExplorer"]

ACTIVATION_NAMES = tuple(activations.ACTIVATIONS)


def _log_bars(ax, n, color):
    """n bars on a log y axis, created once; unused ones are hidden."""
    bars = list(ax.bar(np.arange(1, n + 1), np.ones(n), bottom=1e-30, color=color))
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    no_minor_ticks(ax)
    ax.tick_params(labelsize=FONT["tick"])
    return bars


def _set_bars(bars, values, floor=1e-30):
    """Heights from values (hidden beyond len(values)); returns the range (lo, hi) to show."""
    for i, bar in enumerate(bars):
        bar.set_visible(i < len(values))
        if i < len(values):
            bar.set_height(max(values[i], floor))
    pos = [v for v in values if 0 < v < math.inf] or [1e-12]
    return min(pos) / 2, max(pos) * 2


def _bar_slots(n):
    """Room for n bars, rounded up to a multiple of 5: stepping the depth moves the axis (and
    redraws the background) only every fifth layer."""
    return 5 * math.ceil(n / 5)


def _ratio(first, last):
    """‖∂C/∂W‖ of the first hidden layer over the last hidden one (inf if the last is 0)."""
    return first / last if last > 0 else math.inf


def _binary_batch(n_in, N=64, seed=0):
    """A fixed random batch: X (N, n_in) standard normal, y (N,) labels in {0, 1}."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, n_in)), rng.integers(0, 2, N).astype(float)


def _backprop(model, X, y):
    """One BCE-from-logits forward and backward pass; returns (loss, ‖dW‖ list, ‖db‖ list)."""
    model.zero_grad()
    loss = losses.BCE(from_logits=True)
    with np.errstate(all="ignore"):
        L = loss(model(X), y.reshape(-1, 1))
        model.backward(loss.backward())
    return (L, list(diagnostics.grad_norms(model).values()), list(diagnostics.delta_norms(model).values()))


# ==============================================================================================
# 08 — gradient flow: depth x activation x weight scale
# ==============================================================================================

class GradientFlowExplorer(Widget):
    """Per-layer ‖∂C/∂W‖ (bars) and ‖∂C/∂b‖ = ‖Σδˡ‖ (dots), log scale, for ``depth`` hidden
    layers of ``width`` units with weights drawn from N(0, weight_scale²/width).  Backprop
    multiplies δ by Wᵀ and by f′(z) once per layer (BP2), so with the sigmoid (f′ ≤ ¼) the
    early layers' gradients shrink geometrically; with large weights they can grow instead."""

    figsize = (6.8, 3.2)
    MAX_DEPTH = 30

    def __init__(self, depth=6, activation="sigmoid", weight_scale=1.0, width=30):
        own = "GradientFlowExplorer"
        int_in_range(depth, "depth", own, 1, self.MAX_DEPTH)
        choice(activation, ACTIVATION_NAMES, "activation", own)
        real(weight_scale, "weight_scale", own, low=0.1, high=10)
        int_in_range(width, "width", own, 2, 100)
        super().__init__()
        c = self.controls
        c["depth"] = int_slider("hidden layers", depth, 1, self.MAX_DEPTH)
        c["activation"] = dropdown("activation", activation, ACTIVATION_NAMES)
        c["weight_scale"] = log_slider("weight scale", weight_scale, 0.1, 10.0, ".2f")
        c["width"] = int_slider("width", width, 2, 100)
        self._finish()

    def _build_figure(self):
        ax = self.ax = self.figure.add_axes((0.1, 0.15, 0.87, 0.68))
        self._bars = _log_bars(ax, self.MAX_DEPTH + 1, GREEN)
        self._dots, = ax.plot([], [], "o", color=ORANGE, ms=4, label="‖∂C/∂b‖")
        style_axes(ax, title="‖∂C/∂W‖ per layer (bars), ‖∂C/∂b‖ (dots)",
                   xlabel="layer (1 = next to the input)")
        self._text = self.figure.text(0.5, 0.97, "", ha="center", va="top", fontsize=FONT["text"])
        self._animate(*self._bars, self._dots, self._text)

    def _compute(self):
        c = self.controls
        depth, act, scale, width = (c[k].value for k in ("depth", "activation", "weight_scale", "width"))
        net = nn.MLP([width] * (depth + 1) + [1], activation=act, init="normal", std=scale / math.sqrt(width),
                     seed=0)
        X, y = _binary_batch(width)
        L, dW, db = _backprop(net, X, y)
        self._s = {"depth": depth, "activation": act, "weight_scale": scale, "width": width, "loss": L,
                   "grad_norms": dW, "delta_norms": db, "first_over_last": _ratio(dW[0], dW[depth - 1])}

    def _draw(self):
        s = self._s
        n = len(s["grad_norms"])
        lo, hi = _set_bars(self._bars, s["grad_norms"])
        db = np.array(s["delta_norms"])
        self._dots.set_data(np.arange(1, n + 1), np.maximum(db, 1e-30))
        pos = db[(db > 0) & np.isfinite(db)]
        log_ylim(self.ax, min(lo, pos.min() / 2) if pos.size else lo, max(hi, pos.max() * 2) if pos.size else hi)
        self.ax.set_xlim(0.4, _bar_slots(n) + 0.6)
        finite = all(map(math.isfinite, s["grad_norms"]))
        self._text.set_text(f"{s['depth']} × {s['activation']}, W ~ N(0, {s['weight_scale']:.2f}²/{s['width']}):"
                            f"   ‖∂C/∂W‖ layer 1 / layer {s['depth']} = {s['first_over_last']:.2g}"
                            + ("" if finite else "   (overflow: some norms are inf)"))

    def state(self):
        s = dict(self._s)
        s["bars"] = [b.get_height() for b in self._bars if b.get_visible()]
        return s


# ==============================================================================================
# 09 — initialisation: activation and gradient histograms per layer
# ==============================================================================================

INIT_CHOICES = (("Xavier (Glorot) uniform", "xavier"), ("Xavier normal", "xavier_normal"), ("He normal", "he"),
                ("LeCun normal", "lecun"), ("N(0, 0.01²)", "normal_0.01"), ("N(0, 1)", "normal_1"))


class InitExplorer(Widget):
    """Push a batch of standard-normal inputs through ``depth`` layers of ``width`` units and
    backpropagate a random gradient: per-layer histograms of the activations A and of the
    gradients δ = ∂C/∂Z, and their standard deviations.  Glorot & Bengio (2010): keep
    Var[W] = 2/(n_in + n_out) for tanh; He et al. (2015): Var[W] = 2/n_in for ReLU.

    The layers are ``bp.nn.Linear`` (bias 0) and ``bp.nn`` activation layers; the backward pass
    runs the activations' own ``backward`` (δ = dA ⊙ f′(Z)) and BP2 through the weights
    (dA = δ W).  The weight gradients are not shown, so they are not computed.
    """

    figsize = (8.6, 3.7)
    MAX_DEPTH = 30
    N = 128
    BINS = 41

    def __init__(self, init="xavier", activation="tanh", depth=10, width=100):
        own = "InitExplorer"
        choice(init, tuple(v for _, v in INIT_CHOICES), "init", own)
        choice(activation, ACTIVATION_NAMES, "activation", own)
        int_in_range(depth, "depth", own, 1, self.MAX_DEPTH)
        int_in_range(width, "width", own, 10, 300)
        super().__init__()
        self._weights = None         # {"key": (init, width), "rng": ..., "layers": [Linear, ...]}
        self._spans = {}             # panel -> current sticky axis limit
        c = self.controls
        c["init"] = dropdown("init", init, INIT_CHOICES)
        c["activation"] = dropdown("activation", activation, ACTIVATION_NAMES)
        c["depth"] = int_slider("layers", depth, 1, self.MAX_DEPTH)
        c["width"] = int_slider("width", width, 10, 300, 10)
        self._finish()

    def _build_figure(self):
        self.figure.subplots_adjust(left=0.075, right=0.985, bottom=0.15, top=0.76, wspace=0.34)
        self.ax_a, self.ax_d, self.ax_s = self.figure.subplots(1, 3)
        self._cmap = colormaps["viridis"]
        # one LineCollection per panel (a curve per layer): one artist to blit instead of thirty
        self._a_lines = self.ax_a.add_collection(LineCollection([], linewidths=1))
        self._d_lines = self.ax_d.add_collection(LineCollection([], linewidths=1))
        self._std_a, = self.ax_s.semilogy([], [], "o-", color=BLUE, ms=3)
        self._std_d, = self.ax_s.semilogy([], [], "s-", color=RED, ms=3)
        style_axes(self.ax_a, title="activations A", xlabel="A", ylabel="fraction of values")
        style_axes(self.ax_d, title="gradients δ = ∂C/∂Z", xlabel="δ")
        style_axes(self.ax_s, xlabel="layer")
        set_title(self.ax_s, "std of A ●", loc="left", color=BLUE)       # the legend, in the title line
        set_title(self.ax_s, "std of δ ■", loc="right", color=RED)
        self.ax_s.set_xlim(0.5, self.MAX_DEPTH + 0.5)        # fixed: a deeper net is a longer curve
        self.ax_s.set_xticks([1, 10, 20, 30])              # few tick labels: text is most of a full redraw
        no_minor_ticks(self.ax_s)
        for ax in (self.ax_a, self.ax_d):
            ax.xaxis.set_major_locator(MaxNLocator(4, steps=[1, 2, 5, 10]))
            ax.yaxis.set_major_locator(MaxNLocator(3))
        self._text = self.figure.text(0.5, 0.975, "", ha="center", va="top", fontsize=FONT["text"], linespacing=1.5)
        self._animate(self._a_lines, self._d_lines, self._std_a, self._std_d, self._text)

    def _linears(self, init, width, depth):
        """The first ``depth`` Linear(width, width) layers for this init (seed 0), made once and kept:
        changing the depth or the activation reuses them, and deeper layers are drawn on demand."""
        key = (init, width)
        if self._weights is None or self._weights["key"] != key:
            self._weights = {"key": key, "rng": np.random.default_rng(0), "layers": []}
        w = self._weights
        kwargs = dict(init="normal", std=float(init[7:])) if init.startswith("normal_") else dict(init=init)
        while len(w["layers"]) < depth:
            w["layers"].append(nn.Linear(width, width, seed=w["rng"], name=f"Linear{len(w['layers']) + 1}", **kwargs))
        return w["layers"][:depth]

    def _compute(self):
        c = self.controls
        init, act, depth, width = (c[k].value for k in ("init", "activation", "depth", "width"))
        linears = self._linears(init, width, depth)
        acts = [nn.make_activation(act) for _ in range(depth)]
        rng = np.random.default_rng(0)
        A = rng.standard_normal((self.N, width))
        A_list, deltas = [], []
        with np.errstate(all="ignore"):
            for lin, f in zip(linears, acts):
                A = f(lin(A))
                A_list.append(A)
            dA = rng.standard_normal(A.shape) / self.N        # a random upstream gradient at the top
            for lin, f in zip(reversed(linears), reversed(acts)):
                delta = f.backward(dA)                        # BP1/BP2: δ = dA ⊙ f′(Z), this layer's ∂C/∂Z
                deltas.insert(0, delta)
                dA = delta @ lin.W.data                       # BP2: into the layer below
        zeros = act == "relu"
        act_std, delta_std = [float(np.std(a)) for a in A_list], [float(np.std(d)) for d in deltas]
        self._s = {"init": init, "activation": act, "depth": depth, "width": width,
                   "act_std": act_std, "delta_std": delta_std,
                   "act_hist": self._histograms(A_list, self._range("A", A_list, act_std, act, zeros), zeros),
                   "delta_hist": self._histograms(deltas, self._range("d", deltas, delta_std, act, False), False)}

    def _range(self, panel, arrays, stds, act, zeros):
        """The histogram range of a panel: fixed for tanh and sigmoid activations, otherwise a sticky
        limit around the 99.5th percentile of |values| (so it changes only when the data leave it)."""
        if panel == "A" and act == "tanh":
            return -1.0, 1.0
        if panel == "A" and act == "sigmoid":
            return 0.0, 1.0
        widest = arrays[int(np.argmax([s if math.isfinite(s) else math.inf for s in stds]))]   # sets the range
        widest = np.abs(widest[np.isfinite(widest) & (widest != 0)])
        big = float(np.percentile(widest, 99.5)) if widest.size else 0.0
        key = (panel, "half" if zeros else "both")
        self._spans[key] = sticky_limit(self._spans.get(key), big if big > 0 else 1.0)
        return (0.0, self._spans[key]) if zeros else (-self._spans[key], self._spans[key])

    def _histograms(self, arrays, span, zeros):
        """(bin centres, [fraction per bin for each layer], zeros left out) on the common range ``span``.

        Values outside the range count in the end bins; the fraction is of all values (so with ReLU
        the exact zeros, left out, are what is missing from 1)."""
        lo, hi = span
        edges = np.linspace(lo, hi, self.BINS + 1)
        hists = []
        for a in arrays:
            vals = a[np.isfinite(a)]
            if zeros:
                vals = vals[vals != 0]
            idx = np.minimum(((np.clip(vals, lo, hi) - lo) * (self.BINS / (hi - lo))).astype(np.int64), self.BINS - 1)
            hists.append(np.bincount(idx, minlength=self.BINS) / max(a.size, 1))
        return (edges[:-1] + edges[1:]) / 2, hists, zeros

    def _draw(self):
        s = self._s
        depth = s["depth"]
        colours = [self._cmap(i / max(depth - 1, 1)) for i in range(depth)]
        for ax, lines, (centres, hists, _zeros), panel in ((self.ax_a, self._a_lines, s["act_hist"], "A"),
                                                          (self.ax_d, self._d_lines, s["delta_hist"], "d")):
            lines.set_segments([np.column_stack([centres, h]) for h in hists])
            lines.set_color(colours)
            step = centres[1] - centres[0]
            ax.set_xlim(centres[0] - step, centres[-1] + step)
            top = max(float(h.max()) for h in hists) if hists else 1.0
            limit = sticky_limit(self._spans.get(("top", panel)), 1.08 * max(top, 1e-3), shrink=4.0)
            self._spans["top", panel] = min(nice_ceiling(limit), 1.05)     # 0.1, 0.2, 0.5, 1: rarely moves
            ax.set_ylim(0, self._spans["top", panel])
        layers_ = np.arange(1, depth + 1)
        self._std_a.set_data(layers_, np.maximum(s["act_std"], 1e-30))
        self._std_d.set_data(layers_, np.maximum(s["delta_std"], 1e-30))
        both = np.array(s["act_std"] + s["delta_std"])
        both = both[np.isfinite(both) & (both > 0)]
        log_ylim(self.ax_s, *((both.min() / 2, both.max() * 2) if both.size else (1e-3, 1)))

        label = dict((v, k) for k, v in INIT_CHOICES)[s["init"]]
        note = ";  zeros of inactive ReLUs left out" if s["act_hist"][2] else ""
        self._text.set_text(f"{label}, {s['activation']}, {depth} layers × {s['width']}: std of A from "
                            f"{s['act_std'][0]:.2g} (layer 1) to {s['act_std'][-1]:.2g} (layer {depth})\n"
                            f"one curve per layer: layer 1 purple → layer {depth} yellow{note}")

    def state(self):
        s = dict(self._s)
        s["std_plotted"] = {"A": list(self._std_a.get_ydata()), "delta": list(self._std_d.get_ydata())}
        s["hist_plotted"] = {"A": [seg[:, 1].copy() for seg in self._a_lines.get_segments()],
                             "delta": [seg[:, 1].copy() for seg in self._d_lines.get_segments()]}
        return s


# ==============================================================================================
# 10 — remedies: skip connections and normalisation
# ==============================================================================================

class RemediesExplorer(Widget):
    """Per-layer ‖∂C/∂W‖ of a deep stack of Linear → [norm] → activation blocks, optionally each
    wrapped in a residual connection Y = X + block(X).  The skip path adds dY unchanged to every
    block's input gradient, so the gradient reaches the first layers however deep the stack."""

    figsize = (6.8, 3.2)
    MAX_DEPTH = 50
    NORMS = ("none", "batch", "layer")

    def __init__(self, depth=20, skip=False, norm="none", activation="sigmoid", width=32):
        own = "RemediesExplorer"
        int_in_range(depth, "depth", own, 2, self.MAX_DEPTH)
        choice(norm, self.NORMS, "norm", own)
        choice(activation, ACTIVATION_NAMES, "activation", own)
        int_in_range(width, "width", own, 4, 128)
        if not isinstance(skip, (bool, np.bool_)):
            raise ValueError(f"{own}: skip must be True or False, got {skip!r}")
        self.width = width
        super().__init__()
        c = self.controls
        c["depth"] = int_slider("blocks", depth, 2, self.MAX_DEPTH)
        c["skip"] = W.Checkbox(value=bool(skip), description="skip connections (residual)", indent=False)
        c["norm"] = dropdown("normalisation", norm, self.NORMS)
        c["activation"] = dropdown("activation", activation, ACTIVATION_NAMES)
        self._finish()

    def build(self, depth, skip, norm, activation):
        """The network: Linear(width→width) blocks with optional norm and skip, then Linear(width→1)."""
        rng = np.random.default_rng(0)
        w = self.width
        mods = []
        for i in range(depth):
            block = [nn.Linear(w, w, init="xavier", seed=rng, name=f"Linear{i + 1}")]
            if norm == "batch":
                block.append(layers.BatchNorm(w))
            elif norm == "layer":
                block.append(layers.LayerNorm(w))
            block.append(nn.make_activation(activation))
            seq = nn.Sequential(*block, name=f"block{i + 1}")
            mods.append(layers.Residual(seq) if skip else seq)
        mods.append(nn.Linear(w, 1, init="xavier", seed=rng, name=f"Linear{depth + 1}"))
        return nn.Sequential(*mods, name="Net")

    def _build_figure(self):
        ax = self.ax = self.figure.add_axes((0.1, 0.15, 0.87, 0.68))
        self._bars = _log_bars(ax, self.MAX_DEPTH + 1, GREEN)
        style_axes(ax, title="‖∂C/∂W‖ per Linear layer (log scale)", xlabel="layer (1 = next to the input)")
        self._text = self.figure.text(0.5, 0.97, "", ha="center", va="top", fontsize=FONT["text"])
        self._animate(*self._bars, self._text)

    def _compute(self):
        c = self.controls
        depth, skip, norm, act = (c[k].value for k in ("depth", "skip", "norm", "activation"))
        net = self.build(depth, skip, norm, act)
        X, y = _binary_batch(self.width)
        L, dW, _ = _backprop(net, X, y)
        self._s = {"depth": depth, "skip": skip, "norm": norm, "activation": act, "loss": L, "grad_norms": dW,
                   "first_over_last": _ratio(dW[0], dW[depth - 1])}

    def _draw(self):
        s = self._s
        log_ylim(self.ax, *_set_bars(self._bars, s["grad_norms"]))
        self.ax.set_xlim(0.4, _bar_slots(len(s["grad_norms"])) + 0.6)
        how = ("residual " if s["skip"] else "plain ") + (f"+ {s['norm']} norm " if s["norm"] != "none" else "")
        self._text.set_text(f"{s['depth']} {how}blocks of {s['activation']}:   ‖∂C/∂W‖ layer 1 / layer {s['depth']} = "
                            f"{s['first_over_last']:.2g}")

    def state(self):
        s = dict(self._s)
        s["bars"] = [b.get_height() for b in self._bars if b.get_visible()]
        return s


# ==============================================================================================
# 12 — regularisation: L2 and dropout on a small noisy training set
# ==============================================================================================

L2_RATES = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3)
DROPOUT_RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


class RegularizationExplorer(Widget):
    """Train a 2-64-64-1 ReLU net on 30 noisy "moons" points (test set: 400 points) with L2 weight
    decay and dropout; shows train/test loss curves and the decision map.  Without regularisation
    the train loss goes to ~0 while the test loss climbs (overfitting); L2 or dropout shrink the gap.
    Each setting is trained when first chosen (full batch, Adam with learning rate 0.02, 150 steps:
    about 40 ms) and cached; the constructor trains only the initial setting."""

    figsize = (7.6, 3.5)
    STEPS, EVERY, GRID, LR = 150, 5, 45, 0.02

    def __init__(self, l2=0.0, dropout=0.0):
        own = "RegularizationExplorer"
        real(l2, "l2", own, low=0.0, high=1.0)
        real(dropout, "dropout", own, low=0.0, high=0.9)
        super().__init__()
        self._cache = {}
        X, y = data.moons(n=430, noise=0.3, seed=1)
        Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_fraction=400 / 430, seed=0)
        self.data = {"X_train": Xtr, "y_train": ytr, "X_test": Xte, "y_test": yte}
        self.extent = (-1.8, 2.8, -1.4, 1.9)
        gx, gy = np.meshgrid(np.linspace(*self.extent[:2], self.GRID), np.linspace(*self.extent[2:], self.GRID))
        self._grid = np.column_stack([gx.ravel(), gy.ravel()])
        self.controls["l2"] = selection_slider("L2 rate λ", float(l2), tuple(sorted(set(L2_RATES) | {float(l2)})),
                                               wide=False)
        self.controls["dropout"] = selection_slider("dropout p", float(dropout),
                                                    tuple(sorted(set(DROPOUT_RATES) | {float(dropout)})), wide=False)
        self._finish()

    def _train(self, l2, p):
        """Full-batch Adam with L2 on the weights and dropout after each hidden layer; cached."""
        if (l2, p) in self._cache:
            return self._cache[l2, p]
        rng = np.random.default_rng(0)
        net = nn.Sequential(nn.Linear(2, 64, init="he", seed=rng), nn.ReLU(), layers.Dropout(p, seed=1),
                            nn.Linear(64, 64, init="he", seed=rng), nn.ReLU(), layers.Dropout(p, seed=2),
                            nn.Linear(64, 1, init="xavier", seed=rng))
        opt = optim.Adam(net.parameters(), lr=self.LR)
        loss = losses.BCE(from_logits=True)
        d = self.data
        ytr, yte = d["y_train"].reshape(-1, 1).astype(float), d["y_test"].reshape(-1, 1).astype(float)
        steps, train_curve, test_curve = [], [], []
        for t in range(self.STEPS + 1):
            if t % self.EVERY == 0:
                net.eval()
                steps.append(t)
                train_curve.append(loss(net(d["X_train"]), ytr))
                test_curve.append(loss(net(d["X_test"]), yte))
                net.train()
            if t == self.STEPS:
                break
            train.train_step(net, loss, opt, d["X_train"], ytr,
                             regularization.Regularization("l2", l2) if l2 > 0 else None)
        net.eval()
        P = activations.sigmoid(net(self._grid)[:, 0]).reshape(self.GRID, self.GRID)
        result = {"steps": steps, "train_loss": train_curve, "test_loss": test_curve, "decision": P}
        self._cache[l2, p] = result
        return result

    def _build_figure(self):
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.82, wspace=0.25)
        self.ax_L, self.ax_map = self.figure.subplots(1, 2)
        self._train_line, = self.ax_L.semilogy([], [], color=BLUE, label="train")
        self._test_line, = self.ax_L.semilogy([], [], "--", color=ORANGE, label="test")
        self.ax_L.set_xlim(0, self.STEPS)
        style_axes(self.ax_L, title="loss (BCE, without the penalty)", xlabel="step")
        self.ax_L.legend(fontsize=FONT["legend"], loc="lower left")
        no_minor_ticks(self.ax_L)
        self._map = self.ax_map.imshow(np.zeros((self.GRID, self.GRID)), origin="lower", extent=self.extent,
                                       cmap="PuOr", vmin=0, vmax=1, aspect="auto", interpolation="bilinear")
        d, norm = self.data, Normalize(-0.25, 1.25)
        self._test_pts = self.ax_map.scatter(d["X_test"][:, 0], d["X_test"][:, 1], c=d["y_test"], cmap="PuOr",
                                             norm=norm, s=4, alpha=0.5, linewidths=0)
        self._train_pts = self.ax_map.scatter(d["X_train"][:, 0], d["X_train"][:, 1], c=d["y_train"], cmap="PuOr",
                                              norm=norm, s=30, edgecolors="black", linewidths=0.8)
        style_axes(self.ax_map, title="decision map (● train, · test)")
        self._text = self.figure.text(0.5, 0.97, "", ha="center", va="top", fontsize=FONT["text"])
        self._animate(self._train_line, self._test_line, self._map, self._test_pts, self._train_pts, self._text)

    def _compute(self):
        l2, p = self.controls["l2"].value, self.controls["dropout"].value
        r = self._train(l2, p)
        self._s = dict(r, l2=l2, dropout=p, final_train=r["train_loss"][-1], final_test=r["test_loss"][-1],
                       gap=r["test_loss"][-1] - r["train_loss"][-1])

    def _draw(self):
        s = self._s
        self._train_line.set_data(s["steps"], s["train_loss"])
        self._test_line.set_data(s["steps"], s["test_loss"])
        log_ylim(self.ax_L, min(s["train_loss"] + s["test_loss"]), max(s["train_loss"] + s["test_loss"]))
        self._map.set_data(s["decision"])
        self._text.set_text(f"λ = {s['l2']:g}, dropout p = {s['dropout']:g}:   final train loss {s['final_train']:.3f},"
                            f"  test loss {s['final_test']:.3f},  gap {s['gap']:.3f}")

    def state(self):
        s = dict(self._s)
        s["train_plotted"] = list(self._train_line.get_ydata())
        s["test_plotted"] = list(self._test_line.get_ydata())
        s["decision_plotted"] = np.array(self._map.get_array())
        return s
