"""Gates: how much gradient reaches back through an RNN, an LSTM and a GRU (notebook 14).

The numbers come from the engine: ``bp.nn.RNN``, ``bp.nn.LSTM`` and ``bp.nn.GRU`` read the same fixed batch of
marked-memory sequences (``bp.data.marked_memory``), the loss reads only the last state (C = Σ h_T), and
``hidden_gradient_norms`` / ``last_state_norms`` run their BPTT (truncated when a window is chosen).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import data, nn
from ._base import (
    FONT,
    OKABE_ITO,
    Widget,
    check_choice,
    check_int,
    check_range,
    float_slider,
    int_slider,
    no_minor_ticks,
    selection_slider,
    set_title,
    sticky_limit,
    style_axes,
    toggle,
)

__all__ = ["GateExplorer", "TRUNCATE_CHOICES"]

COLOR = {"RNN": OKABE_ITO["vermillion"], "LSTM": OKABE_ITO["blue"], "GRU": OKABE_ITO["green"]}
CELL_PATH = OKABE_ITO["sky"]
TRUNCATE_CHOICES = (5, 10, 20, 40)          # the truncation slider: these windows, then "off" (full BPTT)
OFF = 0


class GateExplorer(Widget):
    """‖∂C/∂h_t‖ / ‖∂C/∂h_T‖ against the steps back T − t for a vanilla RNN, an LSTM and a GRU.

    Each network has ``n_hidden`` units, the engine's default initialisation with seed ``seed``, and reads the
    same batch of 8 marked-memory sequences (2 inputs); the loss reads only h_T.  The chosen ``cell`` is drawn
    bold, the other two thin; for the LSTM the gradient along the cell, ‖∂C/∂c_t‖ / ‖∂C/∂c_T‖, is dashed.

    Controls: ``cell`` (RNN / LSTM / GRU), ``length`` (T), ``forget_bias`` (the LSTM's forget-gate bias and the
    GRU's update-gate bias: the bias of the gate that keeps the old state) and ``truncate`` (a truncated-BPTT
    window, or full BPTT).  A bias b starts that gate near σ(b), so along the cell the gradient shrinks by about
    σ(b) per step (Jozefowicz et al. 2015 recommend b = 1 for the LSTM).
    """

    figsize = (8.2, 3.9)
    N_IN, BATCH, MAX_LENGTH = 2, 8, 150
    CELLS = ("RNN", "LSTM", "GRU")
    BIAS_RANGE = (-2.0, 5.0)
    CACHE = 64
    YLIM = (1e-20, 1e4)       # ratios outside are drawn at the edge (the text line gives the exact value)

    def __init__(self, cell="LSTM", length=80, forget_bias=1.0, truncate=None, n_hidden=16, seed=0):
        own = "GateExplorer"
        check_choice(own, "cell", cell, self.CELLS)
        check_int(own, "length", length, 2, self.MAX_LENGTH)
        forget_bias = check_range(own, "forget_bias", forget_bias, *self.BIAS_RANGE)
        if truncate is not None:
            check_choice(own, "truncate (None for full BPTT)", truncate, TRUNCATE_CHOICES)
        self.n_hidden = check_int(own, "n_hidden", n_hidden, 2, 64)
        self.seed = check_int(own, "seed", seed, 0, 2**32 - 1)
        super().__init__()
        self.X, _ = data.marked_memory(self.BATCH, self.MAX_LENGTH, seed=self.seed)
        self._cache = OrderedDict()
        self._xmax = None
        c = self.controls
        c["cell"] = toggle("cell", cell, self.CELLS)
        c["length"] = int_slider("sequence length T", length, 2, self.MAX_LENGTH)
        c["forget_bias"] = float_slider("forget / update bias", round(forget_bias * 2) / 2, *self.BIAS_RANGE, 0.5,
                                        fmt=".1f")
        c["truncate"] = selection_slider("truncate BPTT to", OFF if truncate is None else truncate,
                                         tuple((str(k), k) for k in TRUNCATE_CHOICES) + (("off", OFF),))
        self._finish()

    def model(self, cell=None, forget_bias=None, truncate=None):
        """The network for the current (or given) settings."""
        c = self.controls
        cell = c["cell"].value if cell is None else cell
        bias = c["forget_bias"].value if forget_bias is None else forget_bias
        window = c["truncate"].value if truncate is None else truncate
        window = None if window == OFF else window
        if cell == "RNN":
            return nn.RNN(self.N_IN, self.n_hidden, seed=self.seed, truncate=window)
        if cell == "LSTM":
            return nn.LSTM(self.N_IN, self.n_hidden, seed=self.seed, forget_bias=bias, truncate=window)
        return nn.GRU(self.N_IN, self.n_hidden, seed=self.seed, update_bias=bias, truncate=window)

    def _norms(self, cell, T, bias, window):
        """(‖∂C/∂h_t‖ / ‖∂C/∂h_T‖, the cell's ‖∂C/∂c_t‖ / ‖∂C/∂c_T‖ or None, (mean keep gate, the largest
        product of a unit's keep gates over the T steps) or None), t = 0..T; cached."""
        key = (cell, T, bias if cell != "RNN" else None, window)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        layer = self.model(cell, bias, window)
        X = self.X[:, :T]
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            if cell == "RNN":
                g, dc = layer.hidden_gradient_norms(X), None
            else:
                norms = layer.last_state_norms(X)                 # one forward and one backward for both
                g, dc = norms["dh"], norms.get("dc")
        out = [g / g[-1], None if dc is None else (dc / dc[-1] if dc[-1] > 0 else dc), None]
        if cell != "RNN":
            keep = layer.keep_gates()                             # f (LSTM) or z (GRU), (N, T, n)
            with np.errstate(divide="ignore"):
                product = np.exp(np.log(keep).sum(axis=1)).mean(axis=0)   # Π_t gate per unit, batch mean
            out[2] = (float(keep.mean()), float(product.max()))
        self._cache[key] = tuple(out)
        if len(self._cache) > self.CACHE:
            self._cache.popitem(last=False)
        return self._cache[key]

    def _build_figure(self):
        fig = self.figure
        self.ax = ax = fig.add_axes((0.09, 0.14, 0.88, 0.62))
        self._lines = {cell: ax.semilogy([], [], "-", color=COLOR[cell], lw=1)[0] for cell in self.CELLS}
        self._cell_line, = ax.semilogy([], [], "--", color=CELL_PATH, lw=1.6)
        self._window = ax.axvline(0.0, color="#666666", ls=":", lw=1)
        style_axes(ax, xlabel=r"steps back, $T - t$  (the loss reads only $h_T$)")
        set_title(ax, r"$\|\partial C/\partial h_t\| \,/\, \|\partial C/\partial h_T\|$:  RNN  ", loc="left",
                  color=COLOR["RNN"])
        set_title(ax, "LSTM (- - its cell)  GRU", loc="right", color="#333333")
        ax.set_yscale("log")
        ax.set_ylim(*self.YLIM)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        no_minor_ticks(ax)
        self._text = fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=FONT["text"], linespacing=1.5)
        self._animate(*self._lines.values(), self._cell_line, self._window, self._text)

    def _compute(self):
        c = self.controls
        chosen, T, bias, window = (c[k].value for k in ("cell", "length", "forget_bias", "truncate"))
        back = T - np.arange(T + 1)
        curves, cell_curve, keep = {}, None, None
        for cell in self.CELLS:
            g, dc, mean_gate = self._norms(cell, T, bias, window)
            curves[cell] = g
            if cell == chosen:
                cell_curve, keep = dc, mean_gate
        self._s = {"cell": chosen, "length": T, "forget_bias": bias, "truncate": None if window == OFF else window,
                   "steps_back": back, "grad_norms": curves, "cell_norms": cell_curve, "mean_keep_gate": keep,
                   "first_over_last": curves[chosen][0]}

    def _draw(self):
        s = self._s
        T, back = s["length"], s["steps_back"]
        floor, ceiling = self.YLIM            # a fixed scale: settings compare at a glance, the background stays
        shown = []
        for cell, line in self._lines.items():
            y = np.clip(s["grad_norms"][cell], floor, ceiling)
            line.set_data(back, y)
            bold = cell == s["cell"]
            line.set_linewidth(2.6 if bold else 1.0)
            line.set_alpha(1.0 if bold else 0.45)
            shown.append(y)
        if s["cell_norms"] is not None:
            self._cell_line.set_data(back, np.clip(s["cell_norms"], floor, ceiling))
            shown.append(np.clip(s["cell_norms"], floor, ceiling))
        self._cell_line.set_visible(s["cell_norms"] is not None)
        k = s["truncate"]
        self._window.set_visible(k is not None and k < T)
        if k is not None:
            self._window.set_xdata([k, k])
        right = sticky_limit(self._xmax, T)                   # moves only when T leaves [right/3, right]
        if right != self._xmax:
            self._xmax = right
            self.ax.set_xlim(-0.5, right + 0.5)
        cell, keep, ratio = s["cell"], s["mean_keep_gate"], s["first_over_last"]
        keep, best = keep if keep is not None else (None, None)
        gate = {"LSTM": "forget gate f", "GRU": "update gate z"}.get(cell)
        first = f"{cell}, T = {T}" + (f", truncated to {k} steps" if k is not None else ", full BPTT")
        if gate:
            first += f", bias {s['forget_bias']:g}: mean {gate} = {keep:.2f}"
        second = f"gradient reaching h_0 (T steps back): {ratio:.1e} of ‖∂C/∂h_T‖"
        if gate:
            second += f";  largest Π_t {gate.split()[-1]}_t of one unit: {best:.1e}"
        self._text.set_text(f"{first}\n{second}")

    def state(self):
        s = dict(self._s)
        s["plotted"] = {cell: np.array(line.get_ydata()) for cell, line in self._lines.items()}
        s["steps_back_plotted"] = np.array(self._lines["RNN"].get_xdata())
        s["cell_plotted"] = np.array(self._cell_line.get_ydata()) if self._cell_line.get_visible() else None
        s["bold"] = [cell for cell, line in self._lines.items() if line.get_linewidth() > 2]
        s["window_line"] = float(self._window.get_xdata()[0]) if self._window.get_visible() else None
        return s
