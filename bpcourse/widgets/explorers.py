"""Small explorers, one idea each (notebooks 01, 03, 04, 05, 07, 11).

Each is a :class:`~bpcourse.widgets._base.Widget`: ``.controls``, ``.figure``, ``.view``,
``.update()``, ``.state()``; the numbers come from the course's own engine (``bp.Value``,
``bp.activations``, ``bp.nn``, ``bp.losses``, ``bp.optim``), never from a separate formula.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from .. import activations, losses, nn, optim
from ..gradcheck import relative_error
from ..scalar import Value
from ..validate import choice, int_in_range, real
from ._base import (
    BLUE,
    FONT,
    GREEN,
    GREY,
    ORANGE,
    RED,
    Widget,
    dropdown,
    float_slider,
    int_slider,
    log_slider,
    no_minor_ticks,
    set_title,
    style_axes,
    toggle,
)

__all__ = ["CircuitExplorer", "ActivationExplorer", "LayerShapeExplorer", "SoftmaxExplorer",
           "FiniteDifferenceExplorer", "LearningRateExplorer", "OptimizerExplorer"]

ACTIVATION_NAMES = tuple(activations.ACTIVATIONS)


# ==============================================================================================
# 01 — the circuit f = (x + y) z
# ==============================================================================================

class CircuitExplorer(Widget):
    """Sliders x, y, z for f = (x + y)·z (CS231n's circuit); forward values above the wires,
    gradients ∂f/∂· below, computed by ``bp.Value`` (the add gate copies the gradient to both
    inputs, the multiply gate swaps its inputs).  At (−2, 5, −4): f = −12, grads (−4, −4, 3)."""

    figsize = (6.4, 2.8)

    def __init__(self, x=-2.0, y=5.0, z=-4.0):
        super().__init__()
        own = "CircuitExplorer"
        for name, v in (("x", x), ("y", y), ("z", z)):
            self.controls[name] = float_slider(name, real(v, name, own, low=-10, high=10), -10.0, 10.0, 0.5, ".1f")
        self._finish()

    # node positions in data coordinates
    _POS = {"x": (0.0, 2.3), "y": (0.0, 0.9), "z": (0.0, -0.2), "+": (1.7, 1.6), "*": (3.3, 0.7), "f": (4.7, 0.7)}

    def _build_figure(self):
        ax = self.ax = self.figure.add_axes((0.02, 0.02, 0.96, 0.85))
        ax.set_xlim(-0.4, 5.1)
        ax.set_ylim(-0.6, 2.7)
        ax.axis("off")
        set_title(ax, "f = (x + y)·z:   values above the wires,  ∂f/∂· below (red)")
        P = self._POS
        wires = {"x": ("x", "+"), "y": ("y", "+"), "q": ("+", "*"), "z": ("z", "*"), "f": ("*", "f")}
        self._value_text, self._grad_text = {}, {}
        for name, (a, b) in wires.items():
            (x0, y0), (x1, y1) = P[a], P[b]
            ax.add_patch(FancyArrowPatch((x0 + 0.15, y0), (x1 - 0.2, y1), arrowstyle="-|>", mutation_scale=10,
                                         color=GREY, lw=1.2))
            mx, my = x0 + 0.4 * (x1 - x0), y0 + 0.4 * (y1 - y0)
            self._value_text[name] = ax.text(mx, my + 0.12, "", ha="center", va="bottom", fontsize=10,
                                             color=BLUE, weight="bold")
            self._grad_text[name] = ax.text(mx, my - 0.12, "", ha="center", va="top", fontsize=10, color=RED)
        for name in ("x", "y", "z"):
            ax.text(*P[name], name, ha="center", va="center", fontsize=12, weight="bold")
        for gate in ("+", "*"):
            ax.add_patch(Circle(P[gate], 0.22, facecolor="white", edgecolor="black", lw=1.2))
            ax.text(*P[gate], "+" if gate == "+" else "×", ha="center", va="center", fontsize=13)
        ax.text(*P["f"], "f", ha="center", va="center", fontsize=12, weight="bold")
        self._animate(*self._value_text.values(), *self._grad_text.values())

    def _compute(self):
        x, y, z = (Value(self.controls[k].value) for k in ("x", "y", "z"))
        q = x + y
        f = q * z
        f.backward()
        self._numbers = {"x": x.data, "y": y.data, "z": z.data, "q": q.data, "f": f.data,
                         "dfdx": x.grad, "dfdy": y.grad, "dfdz": z.grad, "dfdq": q.grad, "dfdf": f.grad}

    def _draw(self):
        n = self._numbers
        for wire in ("x", "y", "z", "q", "f"):
            label = "f" if wire == "f" else wire
            self._value_text[wire].set_text(f"{label} = {n[wire]:g}")
            self._grad_text[wire].set_text(f"∂f/∂{label} = {n['dfd' + wire]:g}")

    def state(self):
        return dict(self._numbers)


# ==============================================================================================
# 05, 08 — an activation and its derivative
# ==============================================================================================

class ActivationExplorer(Widget):
    """f and f′ on z ∈ [−6, 6] with the tangent at a chosen z; the dashed line marks max f′
    (¼ for the sigmoid: each sigmoid layer scales the backward signal by at most ¼)."""

    figsize = (6.4, 3.0)
    Z = np.linspace(-6.0, 6.0, 241)

    def __init__(self, activation="sigmoid", z=1.0):
        super().__init__()
        choice(activation, ACTIVATION_NAMES, "activation", "ActivationExplorer")
        self.controls["activation"] = dropdown("activation", activation, ACTIVATION_NAMES)
        self.controls["z"] = float_slider("z", real(z, "z", "ActivationExplorer", low=-6, high=6), -6.0, 6.0, 0.1, ".1f")
        self._finish()

    def _build_figure(self):
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.8, wspace=0.25)
        self.ax_f, self.ax_d = self.figure.subplots(1, 2)
        self._f_line, = self.ax_f.plot(self.Z, self.Z, color=BLUE)
        self._tangent, = self.ax_f.plot([], [], color=ORANGE, lw=1.2)
        self._f_dot, = self.ax_f.plot([], [], "o", color=ORANGE)
        self._d_line, = self.ax_d.plot(self.Z, self.Z, color=GREEN)
        self._d_dot, = self.ax_d.plot([], [], "o", color=ORANGE)
        self._d_max = self.ax_d.axhline(0.0, color=GREY, ls="--", lw=1)
        self._text = self.figure.text(0.5, 0.97, "", ha="center", va="top", fontsize=FONT["text"])
        for ax in (self.ax_f, self.ax_d):
            ax.axhline(0, color="black", lw=0.5)
            ax.axvline(0, color="black", lw=0.5)
            style_axes(ax, xlabel="z")
        self._animate(self._f_line, self._tangent, self._f_dot, self._d_line, self._d_dot, self._d_max, self._text)

    def _compute(self):
        name, z0 = self.controls["activation"].value, self.controls["z"].value
        f, fprime = activations.get_activation(name)
        self._s = {"activation": name, "z": self.Z, "f": f(self.Z), "fprime": fprime(self.Z), "z0": z0,
                   "f0": float(f(np.array([z0]))[0]), "fprime0": float(fprime(np.array([z0]))[0])}
        self._s["max_fprime"] = float(self._s["fprime"].max())

    def _draw(self):
        s = self._s
        self._f_line.set_ydata(s["f"])
        self._d_line.set_ydata(s["fprime"])
        z0, f0, d0 = s["z0"], s["f0"], s["fprime0"]
        self._f_dot.set_data([z0], [f0])
        self._d_dot.set_data([z0], [d0])
        zt = np.array([z0 - 1.5, z0 + 1.5])
        self._tangent.set_data(zt, f0 + d0 * (zt - z0))
        self._d_max.set_ydata([s["max_fprime"]] * 2)
        self._text.set_text(f"z = {z0:.1f}:   f(z) = {f0:.3g},   f′(z) = {d0:.3g}   (max f′ = {s['max_fprime']:.3g},"
                            " dashed)")
        name = s["activation"]
        set_title(self.ax_f, f"{name}(z) and its tangent")
        set_title(self.ax_d, f"{name}′(z)")
        for ax, y in ((self.ax_f, s["f"]), (self.ax_d, s["fprime"])):
            lo, hi = min(y.min(), 0.0), max(y.max(), 0.0)
            pad = 0.12 * (hi - lo or 1.0)
            ax.set_ylim(lo - pad, hi + pad)

    def state(self):
        s = dict(self._s)
        s["f_plotted"] = np.array(self._f_line.get_ydata())
        s["fprime_plotted"] = np.array(self._d_line.get_ydata())
        return s


# ==============================================================================================
# 04 — shapes of the matrices in the forward and backward pass
# ==============================================================================================

class LayerShapeExplorer(Widget):
    """Sliders for the layer sizes and the batch size; draws, per layer l, the shapes of
    A^{l-1} (N×n_in), W (n_out×n_in), Z = A^{l-1}Wᵀ + b (N×n_out), δ (N×n_out) and
    dW = δᵀA^{l-1} (n_out×n_in).  The shapes are read from a real forward and backward pass
    of ``bp.nn.MLP(sizes)`` on a batch of N rows."""

    MAX_SIZE, MAX_BATCH = 12, 16
    BLOCKS = ("A_prev", "W", "Z", "delta", "dW")
    COLOURS = {"A_prev": BLUE, "W": GREY, "Z": ORANGE, "delta": RED, "dW": GREEN}

    def __init__(self, sizes=(4, 3, 2), batch=5):
        own = "LayerShapeExplorer"
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise ValueError(f"{own}: sizes must be a tuple of layer sizes, got {sizes!r}") from None
        if not 2 <= len(sizes) <= 5:
            raise ValueError(f"{own}: sizes needs 2 to 5 entries (input, hidden..., output), got {len(sizes)}")
        sizes = tuple(int_in_range(s, f"sizes[{i}]", own, 1, self.MAX_SIZE) for i, s in enumerate(sizes))
        self.n_layers = len(sizes) - 1
        self.figsize = (7.2, 1.0 + 1.45 * self.n_layers)
        super().__init__()
        self.controls["batch"] = int_slider("batch N", int_in_range(batch, "batch", own, 1, self.MAX_BATCH), 1,
                                            self.MAX_BATCH)
        for i, s in enumerate(sizes):
            label = "n_in (input)" if i == 0 else ("n_out (output)" if i == len(sizes) - 1 else f"layer {i} size")
            self.controls[f"size{i}"] = int_slider(label, s, 1, self.MAX_SIZE)
        self._finish()

    def _build_figure(self):
        ax = self.ax = self.figure.add_axes((0.0, 0.0, 1.0, 0.93))
        self.figure.suptitle("forward: Z = A·Wᵀ + b      backward: δ = ∂C/∂Z,  dW = δᵀA",
                             fontsize=FONT["title"])
        ax.axis("off")
        self._slot = self.MAX_SIZE + 3.0           # width reserved per block, in cells
        ax.set_xlim(0, 5 * self._slot + 2.5)
        ax.set_ylim(-(self.MAX_BATCH * 0.6 + 3.0) * self.n_layers, 0.5)
        self._rects, self._grids, self._labels, self._row_titles = {}, {}, {}, []
        for l in range(1, self.n_layers + 1):
            for name in self.BLOCKS:
                r = Rectangle((0, 0), 1, 1, facecolor=self.COLOURS[name], alpha=0.35, edgecolor="black", lw=0.8)
                ax.add_patch(r)
                g = LineCollection([], colors="black", linewidths=0.3, alpha=0.6)
                ax.add_collection(g)
                t = ax.text(0, 0, "", ha="left", va="top", fontsize=FONT["small"])
                self._rects[l, name], self._grids[l, name], self._labels[l, name] = r, g, t
                self._animate(r, g, t)
            self._row_titles.append(self._animate(ax.text(0.2, 0, f"layer {l}", fontsize=FONT["label"], weight="bold",
                                                          va="top")))

    def _compute(self):
        """Run a real forward and backward pass and record every array's shape."""
        N = self.controls["batch"].value
        sizes = [self.controls[f"size{i}"].value for i in range(self.n_layers + 1)]
        net = nn.MLP(sizes, activation="sigmoid", seed=0)
        X = np.random.default_rng(0).standard_normal((N, sizes[0]))
        inputs, Zs = [], []
        A = X
        for layer in net.layers:
            if isinstance(layer, nn.Linear):
                inputs.append(A)
            A = layer(A)
            if isinstance(layer, nn.Linear):
                Zs.append(A)
        deltas = []
        dY = np.ones_like(A)
        net.zero_grad()
        for layer in reversed(net.layers):
            if isinstance(layer, nn.Linear):
                deltas.insert(0, dY)
            dY = layer.backward(dY)
        shapes = {"X": X.shape}
        for l, layer in enumerate(net.linear_layers(), start=1):
            shapes.update({f"A{l - 1}": inputs[l - 1].shape, f"W{l}": layer.W.data.shape, f"b{l}": layer.b.data.shape,
                           f"Z{l}": Zs[l - 1].shape, f"delta{l}": deltas[l - 1].shape,
                           f"dW{l}": layer.W.grad.shape, f"db{l}": layer.b.grad.shape})
        self._shapes, self._sizes, self._N = shapes, sizes, N

    def _draw(self):
        S = self._shapes
        biggest = max(max(self._sizes), self._N)
        cell = self._cell = min(self.MAX_SIZE * 0.6 * 1.4, self.MAX_BATCH * 0.6) / biggest
        y = 0.0
        for l in range(1, self.n_layers + 1):
            names = {"A_prev": (f"A{l - 1}", f"A{l - 1}" if l > 1 else "X = A0"), "W": (f"W{l}", f"W{l}"),
                     "Z": (f"Z{l}", f"Z{l}"), "delta": (f"delta{l}", f"δ{l}"), "dW": (f"dW{l}", f"dW{l}")}
            self._row_titles[l - 1].set_position((0.2, y - 0.1))
            top = y - 1.2
            for j, block in enumerate(self.BLOCKS):
                key, label = names[block]
                rows, cols = S[key]
                x0 = 1.5 + j * self._slot
                w, h = cols * cell * 1.0, rows * cell
                self._rects[l, block].set_bounds(x0, top - h, w, h)
                segs = [[(x0 + c * cell, top), (x0 + c * cell, top - h)] for c in range(1, cols)]
                segs += [[(x0, top - r * cell), (x0 + w, top - r * cell)] for r in range(1, rows)]
                self._grids[l, block].set_segments(segs)
                self._labels[l, block].set_position((x0, top - h - 0.25))
                self._labels[l, block].set_text(f"{label}  {rows}×{cols}")
            y -= self.MAX_BATCH * 0.6 + 3.0

    def state(self):
        drawn = {f"{name}{l}": (round(self._rects[l, name].get_height() / self._cell),
                                round(self._rects[l, name].get_width() / self._cell))
                 for l in range(1, self.n_layers + 1) for name in self.BLOCKS}
        return {"batch": self._N, "sizes": list(self._sizes), "shapes": dict(self._shapes), "drawn": drawn}


# ==============================================================================================
# 05 — logits -> softmax -> loss, and dC/dz
# ==============================================================================================

class SoftmaxExplorer(Widget):
    """Logit sliders -> softmax probabilities and the gradient ∂C/∂z.  With cross-entropy the
    gradient is p − onehot(y) (the softmax Jacobian cancels); with MSE on the probabilities it is
    Jᵀ(2(p − y)/C), which vanishes when the softmax saturates."""

    figsize = (6.6, 3.0)
    LOSS_NAMES = ("cross_entropy", "mse")

    def __init__(self, n_classes=3, logits=None, target=0, loss="cross_entropy"):
        own = "SoftmaxExplorer"
        C = int_in_range(n_classes, "n_classes", own, 2, 8)
        if logits is None:
            logits = [2.0, 1.0, 0.1, -1.0, 0.5, -0.5, 1.5, 0.0][:C]
        logits = [real(z, "logit", own, low=-10, high=10) for z in logits]
        if len(logits) != C:
            raise ValueError(f"{own}: expected {C} logits, got {len(logits)}")
        choice(loss, self.LOSS_NAMES, "loss", own)
        self.n_classes = C
        super().__init__()
        for i, z in enumerate(logits):
            self.controls[f"z{i}"] = float_slider(f"z{i}", z, -10.0, 10.0, 0.1, ".1f")
        self.controls["target"] = int_slider("target class", int_in_range(target, "target", own, 0, C - 1), 0, C - 1)
        self.controls["loss"] = dropdown("loss", loss, self.LOSS_NAMES)
        self._finish()

    def _build_figure(self):
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.8, wspace=0.3)
        self.ax_p, self.ax_g = self.figure.subplots(1, 2)
        k = np.arange(self.n_classes)
        self._p_bars = list(self.ax_p.bar(k, np.zeros(self.n_classes), color=BLUE))
        self._g_bars = list(self.ax_g.bar(k, np.zeros(self.n_classes), color=RED))
        self.ax_p.set_ylim(0, 1)
        set_title(self.ax_p, "softmax probabilities p")
        set_title(self.ax_g, "gradient ∂C/∂z")
        self.ax_g.axhline(0, color="black", lw=0.6)
        self.ax_g.set_ylim(-1.05, 1.05)
        for ax in (self.ax_p, self.ax_g):
            ax.set_xticks(k)
            style_axes(ax, xlabel="class")
        self._text = self.figure.text(0.5, 0.97, "", ha="center", va="top", fontsize=FONT["text"])
        self._animate(*self._p_bars, *self._g_bars, self._text)

    def _compute(self):
        z = np.array([self.controls[f"z{i}"].value for i in range(self.n_classes)])
        t = self.controls["target"].value
        p = activations.softmax(z)
        if self.controls["loss"].value == "cross_entropy":
            fn = losses.SoftmaxCrossEntropy()
            L = fn(z[None, :], np.array([t]))
            grad = fn.backward()[0]
        else:
            fn = losses.MSE()
            onehot = np.eye(self.n_classes)[t]
            L = fn(p[None, :], onehot[None, :])
            dp = fn.backward()[0]
            J = np.diag(p) - np.outer(p, p)        # ∂p_i/∂z_j, symmetric
            grad = J.T @ dp
        self._s = {"logits": z, "probs": p, "target": t, "loss": float(L), "grad": grad,
                   "loss_name": self.controls["loss"].value}

    def _draw(self):
        s = self._s
        for i, (pb, gb) in enumerate(zip(self._p_bars, self._g_bars)):
            pb.set_height(s["probs"][i])
            pb.set_color(ORANGE if i == s["target"] else BLUE)
            gb.set_height(s["grad"][i])
        self._text.set_text(f"{s['loss_name']} loss C = {s['loss']:.4f}    (target class {s['target']}; "
                            f"ln C = {math.log(self.n_classes):.3f})")

    def state(self):
        s = dict(self._s)
        s["probs_plotted"] = [b.get_height() for b in self._p_bars]
        s["grad_plotted"] = [b.get_height() for b in self._g_bars]
        return s


# ==============================================================================================
# 07 — finite differences: step size h and floating-point precision
# ==============================================================================================

class FiniteDifferenceExplorer(Widget):
    """Relative error of forward and central differences of f at x, against h, in float64 or
    float32.  Large h: truncation error (O(h) forward, O(h²) central).  Small h: round-off,
    about ε/h (ε = 2.2e-16 in float64, 1.2e-7 in float32), so each curve is a V with its best h
    near ε^(1/2) (forward) or ε^(1/3) (central)."""

    figsize = (6.4, 3.2)
    H = np.logspace(-15, 0, 91)
    FUNCTIONS = {
        "tanh": (np.tanh, lambda x: 1.0 - np.tanh(x) ** 2),
        "sigmoid": (activations.sigmoid, activations.sigmoid_prime),
        "exp": (np.exp, np.exp),
    }

    def __init__(self, h=1e-6, dtype="float64", function="tanh", x=0.5):
        own = "FiniteDifferenceExplorer"
        real(h, "h", own, low=1e-15, high=1.0)
        choice(dtype, ("float64", "float32"), "dtype", own)
        choice(function, tuple(self.FUNCTIONS), "function", own)
        self.x = real(x, "x", own, low=-3, high=3)
        super().__init__()
        self.controls["h"] = log_slider("step h", h, 1e-15, 1.0)     # .1e: each tenth-of-a-decade step reads apart
        self.controls["dtype"] = toggle("dtype", dtype, ("float64", "float32"))
        self.controls["function"] = dropdown("f", function, tuple(self.FUNCTIONS))
        self._finish()

    def _errors(self, h, dtype, fn):
        """Relative errors (forward, central) of the differences at step(s) h, computed in dtype."""
        f, fprime = self.FUNCTIONS[fn]
        dt = np.dtype(dtype)
        x = dt.type(self.x)
        h = np.asarray(h, dtype=dt)
        with np.errstate(all="ignore"):
            fx = f(np.asarray(x, dtype=dt)).astype(dt)
            fp = f(np.asarray(x + h, dtype=dt)).astype(dt)
            fm = f(np.asarray(x - h, dtype=dt)).astype(dt)
            forward = ((fp - fx) / h).astype(np.float64)
            central = ((fp - fm) / (dt.type(2) * h)).astype(np.float64)
        exact = float(fprime(np.float64(self.x)))
        rel = np.vectorize(lambda a: relative_error(np.array([a]), np.array([exact])))
        return np.maximum(rel(forward), 1e-17), np.maximum(rel(central), 1e-17)

    def _build_figure(self):
        ax = self.ax = self.figure.add_axes((0.12, 0.16, 0.84, 0.72))
        self._fwd_line, = ax.loglog(self.H, self.H, color=ORANGE, label="forward  (f(x+h) − f(x)) / h")
        self._cen_line, = ax.loglog(self.H, self.H, color=BLUE, label="central  (f(x+h) − f(x−h)) / 2h")
        self._fwd_dot, = ax.loglog([], [], "o", color=ORANGE)
        self._cen_dot, = ax.loglog([], [], "o", color=BLUE)
        self._h_line = ax.axvline(1e-6, color=GREY, ls="--", lw=1)
        self._text = ax.text(0.02, 0.04, "", transform=ax.transAxes, fontsize=FONT["small"],
                             bbox=dict(facecolor="white", edgecolor="none", pad=2))
        ax.set_xlim(1e-15, 1)
        ax.set_ylim(1e-17, 10)
        style_axes(ax, title="finite differences against the exact derivative", xlabel="step h",
                   ylabel="relative error")      # function and dtype: in the text below (not redrawn)
        ax.legend(fontsize=FONT["legend"], loc="upper center")
        no_minor_ticks(ax, "both")
        self._animate(self._fwd_line, self._cen_line, self._fwd_dot, self._cen_dot, self._h_line, self._text)

    def _compute(self):
        h, dtype, fn = (self.controls[k].value for k in ("h", "dtype", "function"))
        fwd, cen = self._errors(self.H, dtype, fn)
        fwd_h, cen_h = self._errors(np.array([h]), dtype, fn)
        self._s = {"h": h, "dtype": dtype, "function": fn, "x": self.x, "h_grid": self.H, "forward": fwd,
                   "central": cen, "forward_at_h": float(fwd_h[0]), "central_at_h": float(cen_h[0]),
                   "best_h_forward": float(self.H[np.argmin(fwd)]), "best_h_central": float(self.H[np.argmin(cen)])}

    def _draw(self):
        s = self._s
        self._fwd_line.set_ydata(s["forward"])
        self._cen_line.set_ydata(s["central"])
        self._fwd_dot.set_data([s["h"]], [s["forward_at_h"]])
        self._cen_dot.set_data([s["h"]], [s["central_at_h"]])
        self._h_line.set_xdata([s["h"]] * 2)
        self._text.set_text(f"{s['function']}′({s['x']:g}) in {s['dtype']}:  h = {s['h']:.1e}   forward error "
                            f"{s['forward_at_h']:.1e}   central error {s['central_at_h']:.1e}\n"
                            f"best h: forward {s['best_h_forward']:.0e}, central {s['best_h_central']:.0e}")

    def state(self):
        s = dict(self._s)
        s["central_plotted"] = np.array(self._cen_line.get_ydata())
        s["forward_plotted"] = np.array(self._fwd_line.get_ydata())
        return s


# ==============================================================================================
# 03, 11 — gradient descent (with momentum) on a quadratic
# ==============================================================================================

def _quadratic(curvatures, angle=0.0):
    """H = R diag(λ) Rᵀ (R a rotation by ``angle`` radians); C(w) = ½ wᵀHw, ∇C = Hw."""
    lam = np.asarray(curvatures, dtype=float)
    if lam.size == 1:
        return lam.reshape(1, 1)
    c, s = math.cos(angle), math.sin(angle)
    R = np.array([[c, -s], [s, c]])
    return R @ np.diag(lam) @ R.T


def _descend(H, w0, name, lr, beta, steps, limit=1e100):
    """Run a ``bp.optim`` optimiser on C(w) = ½ wᵀHw from w0.

    Returns (path (k+1, d), losses (k+1,), diverged) with k <= steps; stops when |w| > limit.
    """
    w = nn.Parameter(np.array(w0, dtype=float), "w")
    beta_kw = {"momentum": {"momentum": beta}, "adam": {"betas": (beta, 0.999)}, "rmsprop": {"rho": beta}}
    opt = optim.make_optimizer(name, [w], lr, **beta_kw.get(name, {}))
    path = [w.data.copy()]
    diverged = False
    with np.errstate(all="ignore"):
        for _ in range(steps):
            w.grad[...] = H @ w.data
            opt.step()
            if not np.all(np.abs(w.data) < limit):
                diverged = True
                break
            path.append(w.data.copy())
    path = np.array(path)
    loss = 0.5 * np.einsum("ki,ij,kj->k", path, H, path)
    return path, loss, diverged


def _momentum_rate(alpha_lambda, beta):
    """Spectral radius of heavy-ball momentum on one eigen-direction: the largest |root| of
    r² − (1 + β − ηλ) r + β = 0.  Converges iff it is < 1, i.e. 0 < ηλ < 2 + 2β (β = 0: plain GD)."""
    roots = np.roots([1.0, -(1.0 + beta - alpha_lambda), beta])
    return float(np.max(np.abs(roots)))


def _ellipses(H, levels, n=120):
    """Level sets ½ wᵀHw = c of a 2-D quadratic, as (n, 2) point arrays."""
    lam, V = np.linalg.eigh(H)
    t = np.linspace(0, 2 * np.pi, n)
    return [(V @ np.vstack([np.sqrt(2 * c / lam[0]) * np.cos(t), np.sqrt(2 * c / lam[1]) * np.sin(t)])).T
            for c in levels]


class LearningRateExplorer(Widget):
    """Gradient descent (optionally with momentum) on C(w) = ½λw² (dims=1) or on a 2-D quadratic
    with curvatures λ and λ/condition (dims=2).  Plain GD multiplies the error by (1 − ηλ) per
    step, so it converges iff 0 < ηλ < 2; with momentum β the bound is ηλ < 2 + 2β."""

    figsize = (7.2, 3.2)
    BOX = 1.6
    LOSS_RANGE = (1e-16, 1e4)      # fixed, so moving a slider never rescales the axis

    def __init__(self, curvature=1.0, lr=0.1, momentum=0.0, dims=1, steps=30, condition=10.0):
        own = "LearningRateExplorer"
        real(curvature, "curvature", own, low=0.1, high=10)
        real(lr, "lr", own, low=1e-3, high=10)
        real(momentum, "momentum", own, low=0.0, high=0.99)
        choice(dims, (1, 2), "dims", own)
        int_in_range(steps, "steps", own, 1, 200)
        self.condition = real(condition, "condition", own, low=1, high=1000)
        super().__init__()
        c = self.controls
        c["lr"] = log_slider("learning rate η", lr, 1e-3, 10.0, ".3g")
        c["momentum"] = float_slider("momentum β", momentum, 0.0, 0.99, 0.01)
        c["curvature"] = log_slider("curvature λ", curvature, 0.1, 10.0, ".3g")
        c["steps"] = int_slider("steps", steps, 1, 200)
        c["dims"] = toggle("dims", dims, (1, 2))
        self._finish()

    def _build_figure(self):
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.8, wspace=0.28)
        self.ax_w, self.ax_L = self.figure.subplots(1, 2)
        ax = self.ax_w
        self._curve, = ax.plot([], [], color=GREY)
        self._levels = [ax.plot([], [], color=GREY, lw=0.7)[0] for _ in range(6)]
        self._path, = ax.plot([], [], "o-", color=ORANGE, ms=3, lw=1)
        self._start, = ax.plot([], [], "o", color=BLUE, ms=6)
        self._loss, = self.ax_L.semilogy([], [], "o-", color=ORANGE, ms=2, lw=1)
        self._text = self.figure.text(0.5, 0.97, "", ha="center", va="top", fontsize=FONT["text"])
        style_axes(self.ax_L, title="loss f(w_k)  (fixed scale)", xlabel="step")
        self.ax_L.set_ylim(*self.LOSS_RANGE)
        no_minor_ticks(self.ax_L)
        style_axes(self.ax_w)
        self._animate(self._curve, *self._levels, self._path, self._start, self._loss, self._text)

    def _compute(self):
        c = self.controls
        lr, beta, lam, steps, dims = (c[k].value for k in ("lr", "momentum", "curvature", "steps", "dims"))
        curv = (lam,) if dims == 1 else (lam, lam / self.condition)
        H = _quadratic(curv, angle=0.0)
        w0 = [1.0] if dims == 1 else [1.0, 1.0]
        path, loss, diverged = _descend(H, w0, "momentum" if beta > 0 else "sgd", lr, beta, steps)
        rates = [_momentum_rate(lr * l, beta) for l in curv]
        self._s = {"path": path, "loss": loss, "diverged": diverged or bool(loss[-1] > loss[0] * 1e3),
                   "alpha_lambda": lr * max(curv), "rate": max(rates), "converges": max(rates) < 1.0,
                   "curvatures": curv, "H": H, "dims": dims, "lr": lr, "momentum": beta, "steps": steps}

    def _draw(self):
        s = self._s
        B = self.BOX
        path = np.clip(s["path"], -1e6, 1e6)
        if s["dims"] == 1:
            lam = s["curvatures"][0]
            w = np.linspace(-B, B, 161)
            self._curve.set_data(w, 0.5 * lam * w ** 2)
            for line in self._levels:
                line.set_data([], [])
            self._path.set_data(path[:, 0], 0.5 * lam * path[:, 0] ** 2)
            self._start.set_data(path[:1, 0], 0.5 * lam * path[:1, 0] ** 2)
            self.ax_w.set_xlim(-B, B)
            self.ax_w.set_ylim(-0.05 * lam * B * B, 0.55 * lam * B * B)
            self.ax_w.set_xlabel("w", fontsize=FONT["label"])
            set_title(self.ax_w, "C(w) = ½λw² and the GD path")
        else:
            self._curve.set_data([], [])
            f0 = 0.5 * float(path[0] @ s["H"] @ path[0])
            for line, pts in zip(self._levels, _ellipses(s["H"], f0 * np.geomspace(2.0, 0.02, len(self._levels)))):
                line.set_data(pts[:, 0], pts[:, 1])
            self._path.set_data(path[:, 0], path[:, 1])
            self._start.set_data(path[:1, 0], path[:1, 1])
            self.ax_w.set_xlim(-B, B)
            self.ax_w.set_ylim(-B, B)
            self.ax_w.set_xlabel("w₁  (steep: λ)      w₂: λ/%g" % self.condition, fontsize=FONT["label"])
            set_title(self.ax_w, "level sets and the GD path")
        loss = np.maximum(s["loss"], 1e-300)
        self._loss.set_data(np.arange(len(loss)), loss)
        self.ax_L.set_xlim(0, s["steps"])

        verdict = "converges" if s["converges"] else "DIVERGES"
        bound = "2" if s["momentum"] == 0 else f"2 + 2β = {2 + 2 * s['momentum']:.2f}"
        self._text.set_text(f"ηλ_max = {s['alpha_lambda']:.3g}  (bound {bound}):  {verdict},  error × "
                            f"{s['rate']:.3g} per step")
        self._text.set_color("black" if s["converges"] else RED)

    def state(self):
        s = {k: v for k, v in self._s.items() if k != "H"}
        s["path_plotted"] = np.column_stack(self._path.get_data())
        s["loss_plotted"] = np.array(self._loss.get_ydata())
        return s


class OptimizerExplorer(Widget):
    """Optimiser paths on an ill-conditioned 2-D quadratic (curvatures 100 and 1, rotated 30°),
    against plain gradient descent at the same learning rate (grey).  For momentum, theory says
    the iteration converges iff ηλ_max < 2 + 2β (Goh, "Why Momentum Really Works", Distill 2017)."""

    figsize = (7.2, 3.6)
    NAMES = ("sgd", "momentum", "adam", "rmsprop")
    CURVATURES = (100.0, 1.0)
    W0 = (-1.0, 0.9)
    BOX = 1.5

    def __init__(self, optimizer="momentum", lr=0.01, beta=0.9, steps=100):
        own = "OptimizerExplorer"
        choice(optimizer, self.NAMES, "optimizer", own)
        real(lr, "lr", own, low=1e-4, high=1)
        real(beta, "beta", own, low=0, high=0.999)
        int_in_range(steps, "steps", own, 5, 500)
        super().__init__()
        c = self.controls
        c["optimizer"] = dropdown("optimizer", optimizer, self.NAMES)
        c["lr"] = log_slider("learning rate η", lr, 1e-4, 1.0, ".3g")
        c["beta"] = float_slider("β (momentum / β₁ / ρ)", beta, 0.0, 0.999, 0.001, ".3f")
        c["steps"] = int_slider("steps", steps, 5, 500, 5)
        self.H = _quadratic(self.CURVATURES, angle=math.radians(30))
        self._finish()

    def _build_figure(self):
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.78, wspace=0.25)
        self.ax_w, self.ax_L = self.figure.subplots(1, 2)
        f0 = 0.5 * np.array(self.W0) @ self.H @ np.array(self.W0)
        for pts in _ellipses(self.H, f0 * np.geomspace(1.5, 0.003, 7)):
            self.ax_w.plot(pts[:, 0], pts[:, 1], color="#c8c8c8", lw=0.6)
        self.ax_w.plot([0], [0], "+", color="black")
        self.ax_w.set_xlim(-self.BOX, self.BOX)
        self.ax_w.set_ylim(-self.BOX, self.BOX)
        self.ax_w.set_aspect("equal")
        self._gd_path, = self.ax_w.plot([], [], "s--", color="#666666", ms=2, lw=1)
        self._path, = self.ax_w.plot([], [], "o-", color=ORANGE, ms=2, lw=1)
        self._gd_loss, = self.ax_L.semilogy([], [], "--", color="#666666", lw=1, label="plain GD (same η, grey)")
        self._loss, = self.ax_L.semilogy([], [], color=ORANGE, lw=1.3, label="chosen optimiser")
        self.ax_L.legend(fontsize=FONT["legend"], loc="lower left")
        style_axes(self.ax_L, title="loss  (fixed scale)", xlabel="step")
        self.ax_L.set_ylim(1e-16, 1e4)
        no_minor_ticks(self.ax_L)
        self._text = self.figure.text(0.5, 0.97, "", ha="center", va="top", fontsize=FONT["text"],
                                      linespacing=1.4)
        style_axes(self.ax_w, title="path in the (w₁, w₂) plane")
        self._animate(self._gd_path, self._path, self._gd_loss, self._loss, self._text)

    def _compute(self):
        c = self.controls
        name, lr, beta, steps = (c[k].value for k in ("optimizer", "lr", "beta", "steps"))
        path, loss, div = _descend(self.H, self.W0, name, lr, beta, steps)
        gd_path, gd_loss, gd_div = _descend(self.H, self.W0, "sgd", lr, 0.0, steps)
        lam_max = max(self.CURVATURES)
        self._s = {"optimizer": name, "lr": lr, "beta": beta, "steps": steps, "path": path, "loss": loss,
                   "diverged": div, "gd_path": gd_path, "gd_loss": gd_loss, "gd_diverged": gd_div,
                   "alpha_lambda": lr * lam_max}
        if name in ("sgd", "momentum"):
            b = beta if name == "momentum" else 0.0
            rate = max(_momentum_rate(lr * lam, b) for lam in self.CURVATURES)
            self._s.update(rate=rate, converges=rate < 1.0, bound=2 + 2 * b)

    def _draw(self):
        s = self._s
        for line, path in ((self._path, s["path"]), (self._gd_path, s["gd_path"])):
            p = np.clip(path, -1e6, 1e6)
            line.set_data(p[:, 0], p[:, 1])
        for line, loss in ((self._loss, s["loss"]), (self._gd_loss, s["gd_loss"])):
            line.set_data(np.arange(len(loss)), np.maximum(loss, 1e-300))
        self.ax_L.set_xlim(0, s["steps"])

        text = f"{s['optimizer']}: final loss {s['loss'][-1]:.2e}  (plain GD {s['gd_loss'][-1]:.2e})"
        if "rate" in s:
            text += (f"\nηλ_max = {s['alpha_lambda']:.3g} vs bound {s['bound']:.2f}: "
                     f"{'converges' if s['converges'] else 'DIVERGES'}  (error × {s['rate']:.3f} per step)")
        elif s["diverged"]:
            text += "\nDIVERGED"
        else:
            text += "\n(per-coordinate step sizes: the ηλ < 2 + 2β bound does not apply)"
        self._text.set_text(text)
        self._path.set_label(s["optimizer"])

    def state(self):
        s = dict(self._s)
        s["path_plotted"] = np.column_stack(self._path.get_data())
        s["loss_plotted"] = np.array(self._loss.get_ydata())
        return s
