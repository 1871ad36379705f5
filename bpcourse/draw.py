"""Drawings of computational graphs and of networks, with matplotlib only (notebooks 02, 04).

    a = bp.Value(2.0, label="a"); b = bp.Value(-3.0, label="b")
    c = a * b + a.tanh(); c.label = "c"; c.backward()
    draw_graph(c)                          # boxes: label, data, grad; circles: the operations

    draw_network([2, 3, 1])                # neurons in columns
    draw_network([2, 3, 1], weights=net)   # edges coloured by the sign and size of each weight

    draw_layer_shapes([6, 4, 3], N=5)      # the forward and backward matrix products of each layer

No graphviz or other system binary is needed.  ``draw_graph`` and ``draw_network`` return the Axes
they drew on, ``draw_layer_shapes`` its list of Axes (one per layer).
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .plotting import PALETTE
from .scalar import Value
from .validate import layer_sizes, positive_int

__all__ = ["draw_graph", "draw_network", "draw_layer_shapes", "MAX_GRAPH_NODES"]

MAX_GRAPH_NODES = 200
"""``draw_graph`` refuses larger graphs: nobody can read them (the drawing is for small examples)."""

_OP_SYMBOL = {"+": "+", "*": "×", "neg": "−", "sigmoid": "σ", "**": "^"}
_FONT = 8                 # points, value boxes
_OP_DIAMETER = 22         # points, op circles
_CHAR_W = 0.6             # monospace advance, in units of the font size


def _op_symbol(op):
    if op in _OP_SYMBOL:
        return _OP_SYMBOL[op]
    if op.startswith("**"):
        return "^" + op[2:]
    return op


def _node_text(v, fmt):
    lines = [f"data {format(v.data, fmt)}", f"grad {format(v.grad, fmt)}"]
    return "\n".join(([v.label] if v.label else []) + lines)


# --------------------------------------------------------------------------------------------
# graph layout
# --------------------------------------------------------------------------------------------

def _columns(order):
    """Column of every node: an op result sits one right of its deepest input; a leaf sits
    just left of its first consumer (so constants do not stretch across the whole picture)."""
    col = {}
    consumers = {}
    for v in order:
        if v._prev:
            col[id(v)] = 1 + max(col.get(id(c), 0) for c in v._prev)
        for c in v._prev:
            consumers.setdefault(id(c), []).append(v)
    for v in reversed(order):                      # consumers come after their inputs in ``order``
        if not v._prev:
            users = consumers.get(id(v))
            col[id(v)] = min(col[id(u)] for u in users) - 1 if users else 0
    return col


def _rows(order, col, sweeps=4):
    """Row of every node within its column: a few barycentre sweeps to reduce edge crossings."""
    n_cols = max(col.values()) + 1
    by_col = [[] for _ in range(n_cols)]
    for v in order:
        by_col[col[id(v)]].append(v)
    neighbours = {id(v): list(v._prev) for v in order}
    for v in order:
        for c in v._prev:
            neighbours[id(c)].append(v)
    pos = {}
    for nodes in by_col:
        for i, v in enumerate(nodes):
            pos[id(v)] = i - (len(nodes) - 1) / 2
    for sweep in range(sweeps):
        cols = by_col if sweep % 2 == 0 else by_col[::-1]
        for nodes in cols:
            key = {id(v): (np.mean([pos[id(u)] for u in neighbours[id(v)]]) if neighbours[id(v)]
                           else pos[id(v)]) for v in nodes}
            nodes.sort(key=lambda v: key[id(v)])
            for i, v in enumerate(nodes):
                pos[id(v)] = i - (len(nodes) - 1) / 2
    return pos, max(len(nodes) for nodes in by_col)


def draw_graph(value, ax=None, fmt=".4g", max_nodes=MAX_GRAPH_NODES):
    """Draw the computational graph that produced ``value`` (a ``bp.Value``), left to right.

    One box per Value with its label (if any), data and grad; one circle per operation
    (+, ×, tanh, exp, ^k, ...) between its inputs and its result.  Columns follow the
    topological depth, so every edge points right.  The output node has a vermillion frame.

    Artists carry gids for tests: value boxes are texts with gid "value-node", op circles are
    lines with gid "op-node" and their symbols texts with gid "op-label".
    Graphs with more than ``max_nodes`` Values raise ValueError.  Returns the Axes.
    """
    if not isinstance(value, Value):
        raise TypeError(f"draw_graph: expected a bp.Value, got {type(value).__name__}")
    order = value.topo()
    if len(order) > max_nodes:
        raise ValueError(f"draw_graph: this graph has {len(order)} nodes, more than max_nodes="
                         f"{max_nodes}; such a drawing is unreadable. Draw a smaller expression "
                         "(or pass a larger max_nodes if you really want it)")
    col = _columns(order)
    row, tallest = _rows(order, col)
    texts = {id(v): _node_text(v, fmt) for v in order}
    chars = max(len(line) for t in texts.values() for line in t.split("\n"))
    lines = max(t.count("\n") + 1 for t in texts.values())
    box_w = (chars * _CHAR_W + 1.2) * _FONT / 72          # inches, including the padding
    box_h = (lines * 1.2 + 0.8) * _FONT / 72
    gap = 0.9                                             # inches between boxes: room for an op circle
    col_w, row_h = box_w + gap, box_h + 0.3
    n_cols = max(col.values()) + 1
    width, height = n_cols * col_w - gap + 0.4, tallest * row_h + 0.2
    if ax is None:
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=(max(width, 2.0), max(height, 1.0)))
        ax = fig.add_axes((0, 0, 1, 1))
    from matplotlib.patches import FancyArrowPatch

    def xy(v):
        return col[id(v)] * col_w, -row[id(v)] * row_h

    half_box_pts = box_w * 72 / 2
    radius = _OP_DIAMETER / 2
    for v in order:
        x, y = xy(v)
        is_root = v is value
        ax.text(x, y, texts[id(v)], ha="center", va="center", fontsize=_FONT, family="monospace",
                zorder=3, gid="value-node",
                bbox=dict(boxstyle="round,pad=0.4", linewidth=2.0 if is_root else 0.8,
                          facecolor="#e8f4fb" if not v._prev else "white",
                          edgecolor=PALETTE["vermillion"] if is_root else PALETTE["black"]))
        if not v._prev:
            continue
        ox = x - box_w / 2 - gap / 2
        ax.plot([ox], [y], marker="o", markersize=_OP_DIAMETER, markerfacecolor="white",
                markeredgecolor=PALETTE["blue"], markeredgewidth=1.2, linestyle="none", zorder=3,
                gid="op-node")
        ax.text(ox, y, _op_symbol(v._op), ha="center", va="center", fontsize=7, zorder=4,
                color=PALETTE["blue"], gid="op-label")
        ax.add_patch(FancyArrowPatch((ox, y), (x, y), arrowstyle="-|>", mutation_scale=9,
                                     shrinkA=radius, shrinkB=half_box_pts + 2, color=PALETTE["black"],
                                     linewidth=0.8, zorder=2))
        for c in v._prev:
            cx, cy = xy(c)
            ax.add_patch(FancyArrowPatch((cx, cy), (ox, y), arrowstyle="-|>", mutation_scale=9,
                                         shrinkA=0, shrinkB=radius, color=PALETTE["black"],
                                         linewidth=0.8, zorder=1))
    ax.set_xlim(-box_w / 2 - 0.2, (n_cols - 1) * col_w + box_w / 2 + 0.2)
    ax.set_ylim(-(tallest / 2) * row_h - 0.1, (tallest / 2) * row_h + 0.1)
    ax.set_axis_off()
    return ax


# --------------------------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------------------------

def _weight_list(weights, sizes):
    from .dense import Linear
    from .module import Module
    if isinstance(weights, Module):
        from .diagnostics import linear_layers
        weights = [layer.W.data for _, layer in linear_layers(weights)]
    elif isinstance(weights, Linear):
        weights = [weights.W.data]
    weights = [np.asarray(W, dtype=float) for W in weights]
    if len(weights) != len(sizes) - 1:
        raise ValueError(f"draw_network: {len(sizes)} layer sizes need {len(sizes) - 1} weight "
                         f"matrices, got {len(weights)}")
    for l, (W, n_in, n_out) in enumerate(zip(weights, sizes[:-1], sizes[1:]), start=1):
        if W.shape != (n_out, n_in):
            raise ValueError(f"draw_network: weight matrix {l} has shape {W.shape}, expected "
                             f"(n_out, n_in) = ({n_out}, {n_in})")
    return weights


def _value_dict(values, sizes):
    """{layer: 1-D float array of length sizes[layer]} from ``values`` (None -> {})."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"draw_network: values must be a dict {{layer index: array}}, got {type(values).__name__}")
    out = {}
    for l, v in values.items():
        if not isinstance(l, numbers.Integral) or not 0 <= l < len(sizes):
            raise ValueError(f"draw_network: values has layer {l!r}; valid layers are 0..{len(sizes) - 1}")
        v = np.asarray(v, dtype=float).ravel()
        if v.size != sizes[l]:
            raise ValueError(f"draw_network: values for layer {l} have {v.size} entries, expected {sizes[l]}")
        out[int(l)] = v
    return out


def draw_network(sizes, ax=None, weights=None, labels=True, values=None, fmt=".3g"):
    """Neurons as circles in columns, one column per layer, every pair of adjacent layers joined.

    sizes:   e.g. [2, 3, 1] (inputs, hidden..., outputs).
    weights: None (grey edges), a list of W matrices of shape (n_out, n_in), or a model (its
             Linear layers' W).  Edge colour: vermillion for w > 0, blue for w < 0 (the course's
             one weight-sign convention, as the Playground's weight maps); width and
             opacity grow with |w| / max|w| of that layer.
    values:  optional {layer index: array of that layer's size}, e.g. {2: delta2}; each number is
             written beside its neuron (format ``fmt``), as text artists with gid "value-l".
    Artists: neurons are Circle patches with gid "neuron"; the edges between layer l and l+1 form
    one LineCollection with gid "edges-l", segments in the order of ``W.ravel()``.
    Returns the Axes.
    """
    sizes = layer_sizes(sizes, "draw_network")
    Ws = _weight_list(weights, sizes) if weights is not None else None
    values = _value_dict(values, sizes)
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    tallest = max(sizes)
    dx, dy, r = 2.5, 1.0, 0.3
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(min(1.6 * len(sizes) + 1, 14), min(0.45 * tallest + 1.2, 14)))
    ys = [np.arange(n)[::-1] * dy - (n - 1) * dy / 2 for n in sizes]
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        segs = [((l * dx, ys[l][k]), ((l + 1) * dx, ys[l + 1][j])) for j in range(n_out) for k in range(n_in)]
        if Ws is None:
            colors, widths = [to_rgba("0.6", 0.8)] * len(segs), [0.8] * len(segs)
        else:
            W = Ws[l].ravel()
            scale = np.abs(W).max() or 1.0
            mag = np.abs(W) / scale
            colors = [to_rgba(PALETTE["vermillion"] if w > 0 else PALETTE["blue"] if w < 0 else "0.6",
                              0.25 + 0.75 * m) for w, m in zip(W, mag)]
            widths = list(0.4 + 3.0 * mag)
        ax.add_collection(LineCollection(segs, colors=colors, linewidths=widths, zorder=1, gid=f"edges-{l}"))
    for l, n in enumerate(sizes):
        face = "#e8f4fb" if l == 0 else "white"
        for j in range(n):
            ax.add_patch(Circle((l * dx, ys[l][j]), r, facecolor=face, edgecolor=PALETTE["black"],
                                linewidth=1.0, zorder=2, gid="neuron"))
        for j, v in enumerate(values.get(l, ())):
            ax.text(l * dx + r + 0.08, ys[l][j] + r * 0.6, format(float(v), fmt), ha="left", va="bottom",
                    fontsize=8, zorder=3, gid=f"value-{l}",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
        if labels:
            name = "input" if l == 0 else "output" if l == len(sizes) - 1 else f"hidden {l}"
            ax.text(l * dx, -(tallest - 1) * dy / 2 - 0.9, f"{name}\n({n})", ha="center", va="top",
                    fontsize=9, gid="layer-label")
    if Ws is not None:
        ax.legend(handles=[Line2D([], [], color=PALETTE["vermillion"], label="w > 0"),
                           Line2D([], [], color=PALETTE["blue"], label="w < 0")],
                  loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_aspect("equal")
    ax.set_xlim(-1.0, (len(sizes) - 1) * dx + 1.0)
    ax.set_ylim(-(tallest - 1) * dy / 2 - (2.0 if labels else 0.6), (tallest - 1) * dy / 2 + 0.6)
    ax.set_axis_off()
    return ax


# --------------------------------------------------------------------------------------------
# the matrix products of one layer, as grids (notebook 04, shape bookkeeping)
# --------------------------------------------------------------------------------------------

_SHAPE_COLOURS = {"A": "#cfe2f3", "W": "#fce5cd", "Z": "#d9ead3", "d": "#f4cccc"}


def _grid(ax, x0, y0, label, shape, colour):
    """A (rows, cols) matrix as a grid of unit cells, top-left corner at (x0, y0); returns its right edge.

    The outline is a Rectangle with gid "matrix" and label ``label``; the text above it reads
    "<label>\\n<rows>×<cols>".
    """
    from matplotlib.patches import Rectangle

    rows, cols = shape
    ax.add_patch(Rectangle((x0, y0 - rows), cols, rows, facecolor=colour, edgecolor="k", lw=1.2,
                           gid="matrix", label=label))
    for r in range(1, rows):
        ax.plot([x0, x0 + cols], [y0 - r, y0 - r], color="k", lw=0.3)
    for c in range(1, cols):
        ax.plot([x0 + c, x0 + c], [y0, y0 - rows], color="k", lw=0.3)
    ax.text(x0 + cols / 2, y0 + 0.4, f"{label}\n{rows}×{cols}", ha="center", va="bottom", fontsize=8)
    return x0 + cols


def _product(ax, y0, terms):
    """terms: [(label, shape, colour), "@", (...), "=", (...)] drawn left to right at height y0."""
    x = 0.0
    for t in terms:
        if isinstance(t, str):
            ax.text(x + 0.9, y0 - 1.5, t, ha="center", va="center", fontsize=14)
            x += 1.8
        else:
            x = _grid(ax, x, y0, *t)
    return x


def _layer_products(l, n_in, n_out, N):
    """The three products of layer l (forward Z, then dW and dA_prev), each as [term, op, term, "=", term]."""
    c = _SHAPE_COLOURS
    A, W = (f"A{l - 1}", (N, n_in), c["A"]), (f"W{l}", (n_out, n_in), c["W"])
    return [
        [A, "@", (f"W{l}.T", (n_in, n_out), c["W"]), "=", (f"Z{l}", (N, n_out), c["Z"])],
        [(f"delta{l}.T", (n_out, N), c["d"]), "@", A, "=", (f"dW{l}", (n_out, n_in), c["d"])],
        [(f"delta{l}", (N, n_out), c["d"]), "@", W, "=", (f"dA{l - 1}", (N, n_in), c["d"])],
    ]


def draw_layer_shapes(sizes: Sequence[int], N: int, axes: Any = None) -> list[Any]:
    """The matrix products of every Linear layer of a network on a batch of N rows, drawn to scale.

    One panel per layer l (sizes[l-1] -> sizes[l] units), three rows of grids, one cell per entry:
    forward  ``Z = A_prev @ W.T``  (N, n_in) @ (n_in, n_out) = (N, n_out);
    backward ``dW = delta.T @ A_prev``  (n_out, N) @ (N, n_in) = (n_out, n_in)  (BP4, summed over the batch)
    and ``dA_prev = delta @ W``  (N, n_out) @ (n_out, n_in) = (N, n_in)  (BP2 before the σ′ factor).
    Every matrix's outline is a Rectangle with gid "matrix", label its name (e.g. "delta2.T"), width
    its number of columns and height its number of rows.  All panels share one scale.

    sizes: e.g. [6, 4, 3];  N: the batch size;  axes: optional sequence of len(sizes) - 1 Axes.
    Returns the list of Axes.
    """
    sizes = layer_sizes(sizes, "draw_layer_shapes")
    N = positive_int(N, "N (the batch size)", "draw_layer_shapes")
    if axes is None:
        import matplotlib.pyplot as plt
        _, axes = plt.subplots(1, len(sizes) - 1, figsize=(5.5 * (len(sizes) - 1), 6))
    axes = list(np.atleast_1d(axes))
    if len(axes) != len(sizes) - 1:
        raise ValueError(f"draw_layer_shapes: got {len(axes)} Axes, expected one per layer, {len(sizes) - 1}")
    widths = []
    for l, ax in enumerate(axes, start=1):
        n_in, n_out = sizes[l - 1], sizes[l]
        widths.append(max(_product(ax, y0, terms)
                          for y0, terms in zip((0, -10, -20), _layer_products(l, n_in, n_out, N))))
        ax.set_title(f"layer {l}: Linear({n_in}->{n_out}), batch N={N}", fontsize=10)
    for ax in axes:                       # one scale for all panels, so sizes compare
        ax.set_xlim(-0.5, max(widths) + 0.5)
        ax.set_ylim(-20 - max(sizes + [N]) - 0.5, 4.5)
        ax.set_aspect("equal")
        ax.axis("off")
    axes[0].text(-0.5, 3.4, "forward", fontsize=10, weight="bold")
    axes[0].text(-0.5, -6.6, "backward", fontsize=10, weight="bold")
    return axes
