"""Figures used throughout the course, in one colour-blind-safe style.

The colours are the Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008), which
stays distinguishable under the common forms of colour blindness.  Every function draws into
the Axes you pass (or a new figure), returns what it drew into, and never calls ``plt.show()``,
so it works the same in a notebook, in a script and under the Agg backend in tests.

    use_style()                                  # once per notebook (optional)
    plot_history(history)                        # loss and accuracy per epoch
    plot_decision_map(net, X, y)                 # 2-D classifier regions
    plot_gradient_flow(diagnostics.grad_norms(net))
    plot_layer_histograms({"layer 1": A1, "layer 2": A2})
    plot_digits(X_test, y_test, pred=predictions)
    ax.imshow(W, cmap=sign_cmap(), vmin=-m, vmax=m)  # weights and gradients: blue < 0 < vermillion
"""
from __future__ import annotations

import math
import numbers
from collections import OrderedDict

import numpy as np

from .validate import int_in_range, positive_int

__all__ = ["PALETTE", "CYCLE", "STYLE", "use_style", "class_colors", "sign_cmap", "plot_history",
           "plot_decision_map", "plot_gradient_flow", "plot_layer_histograms", "plot_digits"]

PALETTE = OrderedDict([
    ("blue", "#0072B2"),
    ("orange", "#E69F00"),
    ("green", "#009E73"),          # "bluish green"
    ("vermillion", "#D55E00"),
    ("purple", "#CC79A7"),         # "reddish purple"
    ("sky", "#56B4E9"),            # "sky blue"
    ("yellow", "#F0E442"),
    ("black", "#000000"),
])
"""The eight Okabe-Ito colours by name."""

CYCLE = list(PALETTE.values())
"""Line/class colour order: blue, orange, green, vermillion, purple, sky, yellow, black."""

STYLE = {
    "axes.prop_cycle": None,       # filled in by use_style (needs cycler)
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "font.size": 11,
    "legend.frameon": False,
    "figure.figsize": (6.0, 4.0),
    "figure.dpi": 100,
    "image.cmap": "cividis",       # a colour-blind-safe sequential map
    "lines.linewidth": 2.0,
}

_MISTAKE = PALETTE["vermillion"]


def _plt():
    import matplotlib.pyplot as plt
    return plt


def use_style():
    """Apply the course style to matplotlib's rcParams (colours, spines, grid, sizes)."""
    import matplotlib as mpl
    from cycler import cycler
    rc = dict(STYLE)
    rc["axes.prop_cycle"] = cycler(color=CYCLE)
    mpl.rcParams.update(rc)
    return rc


_SIGN_CMAP = None


def sign_cmap():
    """The course's one colour map for signed quantities (weights, gradients): blue < 0 < vermillion.

    A ``LinearSegmentedColormap`` named "bp_sign" from Okabe-Ito blue through white (0) to vermillion,
    the same convention as ``draw.draw_network``'s edges and the Playground's weight maps.  Use it
    with symmetric limits, ``vmin=-m, vmax=m``, so that white means zero.
    """
    global _SIGN_CMAP
    if _SIGN_CMAP is None:
        from matplotlib.colors import LinearSegmentedColormap
        _SIGN_CMAP = LinearSegmentedColormap.from_list("bp_sign", [PALETTE["blue"], "#FFFFFF", PALETTE["vermillion"]])
    return _SIGN_CMAP


def class_colors(n):
    """``n`` RGB colours (n, 3) for classes 0..n-1, cycling through the palette."""
    from matplotlib.colors import to_rgb
    return np.array([to_rgb(CYCLE[i % len(CYCLE)]) for i in range(n)])


def _new_axes(ax, figsize):
    """(ax, created): the given Axes, or one on a new figure (which we may then lay out)."""
    if ax is not None:
        return ax, False
    _, ax = _plt().subplots(figsize=figsize)
    return ax, True


# --------------------------------------------------------------------------------------------
# training curves
# --------------------------------------------------------------------------------------------

def _field(history, name):
    if isinstance(history, dict):
        return list(history.get(name) or [])
    return list(getattr(history, name, None) or [])


def plot_history(history, ax=None):
    """Training (and validation) loss, and accuracy if measured, against the epoch.

    history: a ``bp.train.History`` or its ``as_dict()``.
    ax: None (a new figure with one panel per quantity), one Axes (the loss only), or a sequence
        of two Axes (loss, accuracy).  Returns the list of Axes drawn into.
    """
    epochs = _field(history, "epoch")
    loss = _field(history, "loss")
    if not loss:
        raise ValueError("plot_history: the history has no epochs to plot")
    if not epochs:
        epochs = list(range(1, len(loss) + 1))
    acc, val_loss, val_acc = (_field(history, k) for k in ("acc", "val_loss", "val_acc"))
    best = history.get("best_epoch") if isinstance(history, dict) else getattr(history, "best_epoch", None)
    panels = [("loss", loss, val_loss)] + ([("accuracy", acc, val_acc)] if acc or val_acc else [])
    if ax is None:
        _, axes = _plt().subplots(1, len(panels), figsize=(5.0 * len(panels), 3.5), squeeze=False)
        axes = list(axes[0])
    elif hasattr(ax, "plot"):
        axes = [ax]
    else:
        axes = list(ax)
    for a, (title, train, val) in zip(axes, panels):
        if train:
            a.plot(epochs[:len(train)], train, color=PALETTE["blue"], label="train")
        if val:
            a.plot(epochs[:len(val)], val, color=PALETTE["orange"], label="validation")
        if best is not None and val:
            a.axvline(best, color=PALETTE["black"], linestyle=":", linewidth=1, label=f"best epoch ({best})")
        a.set_xlabel("epoch")
        a.set_ylabel(title)
        a.set_title(title)
        if title == "accuracy":
            a.set_ylim(top=1.0)
        a.legend()
    if ax is None:
        axes[0].figure.tight_layout()
    return axes


# --------------------------------------------------------------------------------------------
# decision maps
# --------------------------------------------------------------------------------------------

def _class_probabilities(model, G):
    """(M, 2) inputs -> (M, K) class probabilities (K >= 2) from the model's outputs."""
    from .activations import sigmoid, softmax
    from .dense import Sigmoid
    from .train import predict

    out = np.asarray(predict(model, G))
    out = out.reshape(len(G), -1)
    last = model.layers[-1] if hasattr(model, "layers") and len(model.layers) else model
    if out.shape[1] == 1:
        p = out[:, 0] if isinstance(last, Sigmoid) else sigmoid(out[:, 0])
        return np.column_stack([1.0 - p, p])
    return softmax(out, axis=1)


def plot_decision_map(model, X, y=None, ax=None, resolution=150, proba=True):
    """The model's predicted class over the plane, with the data on top.

    model: maps (N, 2) -> (N, 1) logits (BCE; a final Sigmoid layer is recognised as
           probabilities) or (N, K) logits (softmax).
    X: (N, 2) points; y: (N,) class indices (or None).
    proba: shade by confidence (white where the model is unsure) rather than flat regions.
    The region image is ``ax.images[-1]``: an RGB array of shape (resolution, resolution, 3).
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_map: X must have shape (N, 2) (2-D data), got {X.shape}")
    resolution = int_in_range(resolution, "resolution", "plot_decision_map", 2)
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(X):
            raise ValueError(f"plot_decision_map: X has {len(X)} rows but y has {len(y)}")
    ax, created = _new_axes(ax, (5.0, 4.5))
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * np.maximum(hi - lo, 1e-9)
    lo, hi = lo - pad, hi + pad
    xs = np.linspace(lo[0], hi[0], resolution)
    ys = np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    P = _class_probabilities(model, np.column_stack([xx.ravel(), yy.ravel()]))
    C = P.shape[1]
    n_colors = max(C, int(y.max()) + 1 if y is not None and len(y) else 0)
    colors = class_colors(n_colors)
    label = P.argmax(axis=1)
    if proba:
        confidence = (P.max(axis=1) - 1.0 / C) / (1.0 - 1.0 / C)       # 0 = unsure, 1 = certain
        alpha = 0.65 * confidence[:, None]
    else:
        alpha = np.full((len(P), 1), 0.45)
    rgb = (1.0 - alpha) + alpha * colors[label]
    ax.imshow(rgb.reshape(resolution, resolution, 3), origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]),
              aspect="auto", interpolation="bilinear")
    if C == 2:
        ax.contour(xx, yy, P[:, 1].reshape(xx.shape), levels=[0.5], colors="k", linewidths=1.0)
    elif len(np.unique(label)) > 1:
        ax.contour(xx, yy, label.reshape(xx.shape), levels=np.arange(C - 1) + 0.5, colors="k",
                   linewidths=0.8)
    if y is None:
        ax.scatter(X[:, 0], X[:, 1], s=14, color=PALETTE["black"], edgecolors="white", linewidths=0.5)
    else:
        ax.scatter(X[:, 0], X[:, 1], s=16, c=colors[y.astype(int)], edgecolors="white", linewidths=0.5)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
    if created:
        ax.figure.tight_layout()
    return ax


# --------------------------------------------------------------------------------------------
# gradient flow and histograms
# --------------------------------------------------------------------------------------------

def _last(v):
    if isinstance(v, numbers.Real):
        return float(v)
    v = np.asarray(v, dtype=float).reshape(-1)
    if v.size == 0:
        raise ValueError("plot_gradient_flow: a layer has an empty list of norms")
    return float(v[-1])


def plot_gradient_flow(norms, ax=None, log=True, ylabel="gradient norm"):
    """One bar per layer, heights = the norms (e.g. ``diagnostics.grad_norms(net)``).

    norms: dict layer name -> number; a list of numbers per layer (as in ``History.grad_norms``)
           plots its last entry.  log: logarithmic y axis (vanishing gradients span decades).
    Returns the Axes; its bars are ``ax.patches`` in layer order.
    """
    if not isinstance(norms, dict) or not norms:
        raise ValueError("plot_gradient_flow: norms must be a non-empty dict layer name -> norm, "
                         f"got {type(norms).__name__}")
    names = list(norms)
    heights = [_last(norms[k]) for k in names]
    bad = [k for k, h in zip(names, heights) if not math.isfinite(h) or h < 0]
    if bad:
        raise ValueError(f"plot_gradient_flow: norms must be finite and >= 0; bad layers: {bad}")
    ax, created = _new_axes(ax, (max(4.0, 0.8 * len(names) + 1.5), 3.5))
    ax.bar(range(len(names)), heights, color=PALETTE["blue"], edgecolor=PALETTE["black"], linewidth=0.5)
    ax.set_xticks(range(len(names)))
    crowded = sum(len(str(k)) for k in names) > 6 * len(names) or len(names) > 6
    ax.set_xticklabels(names, rotation=30 if crowded else 0, ha="right" if crowded else "center")
    if log and any(h > 0 for h in heights):
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("layer (input side → output side)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.grid(False, axis="x")
    if created:
        ax.figure.tight_layout()
    return ax


def plot_layer_histograms(values, axes=None, bins=40, sharex=True, ncols=5):
    """One histogram per layer: ``values`` maps a layer name -> array (activations, weights, ...).

    sharex: the same bins for every layer, so shrinking or exploding spreads are visible.
    axes: None (a new grid of ``ncols`` columns) or a sequence of at least len(values) Axes.
    Returns the list of Axes used, one per layer, in order.
    """
    if not isinstance(values, dict) or not values:
        raise ValueError("plot_layer_histograms: values must be a non-empty dict layer name -> array")
    data = OrderedDict((k, np.asarray(v, dtype=float).reshape(-1)) for k, v in values.items())
    empty = [k for k, v in data.items() if v.size == 0]
    if empty:
        raise ValueError(f"plot_layer_histograms: empty arrays for layers {empty}")
    n = len(data)
    if axes is None:
        cols = min(n, ncols)
        rows = -(-n // cols)
        fig, grid = _plt().subplots(rows, cols, figsize=(2.6 * cols, 2.3 * rows), squeeze=False)
        flat = list(grid.ravel())
        for extra in flat[n:]:
            extra.set_visible(False)
        axes = flat[:n]
    else:
        fig = None
        axes = list(np.ravel(axes))
        if len(axes) < n:
            raise ValueError(f"plot_layer_histograms: {n} layers but only {len(axes)} Axes given")
        axes = axes[:n]
    finite = np.concatenate([v[np.isfinite(v)] for v in data.values()])
    common = (float(finite.min()), float(finite.max())) if sharex and finite.size else None
    if common is not None and common[0] == common[1]:
        common = (common[0] - 0.5, common[1] + 0.5)
    for ax, (name, v) in zip(axes, data.items()):
        ax.hist(v[np.isfinite(v)], bins=bins, range=common, color=PALETTE["blue"], alpha=0.85)
        ax.set_title(f"{name}\nmean {v.mean():.2g}, std {v.std():.2g}", fontsize=9)
        ax.set_ylabel("count", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(False)
    if fig is not None:
        fig.tight_layout()
    return axes


# --------------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------------

def _as_images(X):
    X = np.asarray(X, dtype=float)
    if X.ndim == 3:
        return X
    if X.ndim == 2:
        side = int(round(math.sqrt(X.shape[1])))
        if side * side == X.shape[1]:
            return X.reshape(len(X), side, side)
    raise ValueError(f"plot_digits: X must hold square images, (N, 64) for 8x8 digits, (N, 784) "
                     f"for MNIST, or (N, h, w); got shape {X.shape}")


def plot_digits(X, y=None, pred=None, n=32, ncols=8):
    """A grid of the first ``n`` images, titled with the label (and prediction).

    X: (N, 64) rows of 8x8 images (any square size, or (N, h, w)); y: true labels; pred:
    predicted labels.  A mistake (pred != y) gets a vermillion title "pred (true)" and frame.
    Returns the Figure; ``fig.axes`` holds one Axes per image.
    """
    images = _as_images(X)
    for name, v in (("y", y), ("pred", pred)):
        if v is not None and len(v) != len(images):
            raise ValueError(f"plot_digits: X has {len(images)} images but {name} has {len(v)} labels")
    n = positive_int(n, "n", "plot_digits")
    n = min(int(n), len(images))
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig, grid = _plt().subplots(rows, cols, figsize=(1.1 * cols, 1.25 * rows), squeeze=False)
    flat = grid.ravel()
    for i, ax in enumerate(flat):
        if i >= n:
            fig.delaxes(ax)
            continue
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        wrong = y is not None and pred is not None and pred[i] != y[i]
        if wrong:
            ax.set_title(f"{pred[i]} ({y[i]})", color=_MISTAKE, fontsize=9, fontweight="bold")
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_color(_MISTAKE)
                spine.set_linewidth(2.5)
        elif pred is not None or y is not None:
            ax.set_title(str(pred[i] if pred is not None else y[i]), fontsize=9)
    fig.tight_layout()
    return fig
