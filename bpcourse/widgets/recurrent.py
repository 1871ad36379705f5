"""Backpropagation through time: the gradient along the time axis, and clipping (notebook 13).

The numbers come from ``bp.nn.RNN``: ``set_spectral_radius`` scales W_hh, ``hidden_gradient_norms``
runs BPTT for a loss that reads only the last state, ``backward`` gives the parameter gradient
and ``bp.optim.clip_grad_norm`` clips it (Pascanu, Mikolov & Bengio 2013, Algorithm 1).
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import nn, optim
from ..validate import choice, int_in_range, real
from ._base import (
    BLUE,
    FONT,
    GREEN,
    RED,
    Widget,
    float_slider,
    int_slider,
    log_ylim,
    no_minor_ticks,
    selection_slider,
    set_title,
    style_axes,
    toggle,
)

__all__ = ["RNNExplorer", "CLIP_GRID"]

# clipping thresholds on the slider: 10^-2 ... 10^3 in quarter decades, then "off" at the far end
CLIP_GRID = tuple(float(f"{10 ** (k / 4):.3g}") for k in range(-8, 13))
OFF = math.inf


def _clip_options(extra=None):
    """(label, value) pairs for the clipping slider: the grid (plus ``extra``), then ("off", inf)."""
    values = sorted(set(CLIP_GRID) | ({extra} if extra is not None else set()))
    return tuple((f"{v:g}", v) for v in values) + (("off", OFF),)


def _rate(norms, far=10):
    """The per-step growth factor of ``norms`` (index t = 0..T): exp of the slope of log‖·‖ against
    the steps back T − t, fitted where T − t >= ``far`` (None if fewer than 3 such points)."""
    norms = np.asarray(norms, dtype=float)
    back = len(norms) - 1 - np.arange(len(norms))
    use = (back >= far) & np.isfinite(norms) & (norms > 0)
    if use.sum() < 3:
        return None
    return float(np.exp(np.polyfit(back[use], np.log(norms[use]), 1)[0]))


class RNNExplorer(Widget):
    """A vanilla RNN (``bp.nn.RNN``, n_in = 4, ``n_hidden`` units, seed ``seed``) reads a fixed batch of
    random sequences; the loss C = Σ h_T reads only the last state.  Left: ‖∂C/∂h_t‖ against t
    (log scale) with the reference ρ^(T−t) drawn through t = T.  Right: the norm of the whole
    parameter gradient (W_xh, W_hh, b) before and after clipping at the threshold τ.

    Controls: ``rho`` (spectral radius of W_hh, set with ``RNN.set_spectral_radius``), ``length``
    (T), ``activation`` (tanh or identity) and ``clip`` (τ on a log scale; "off" at the right end).
    With the identity the backward signal is multiplied by W_hhᵀ at every step, so its norm goes
    like ρ^(T−t): vanishing for ρ < 1, exploding for ρ > 1 (Pascanu, Mikolov & Bengio 2013).
    """

    figsize = (8.6, 3.9)
    N_IN, BATCH, MAX_LENGTH = 4, 8, 100
    ACTIVATIONS = ("tanh", "identity")
    RHO_RANGE = (0.1, 1.6)

    def __init__(self, rho=0.9, length=30, clip=None, activation="tanh", n_hidden=16, seed=0):
        own = "RNNExplorer"
        rho = real(rho, "rho", own, low=self.RHO_RANGE[0], high=self.RHO_RANGE[1])
        int_in_range(length, "length", own, 2, self.MAX_LENGTH)
        if clip is not None:
            clip = float(real(clip, "clip (None for no clipping)", own, low=1e-3, high=1e6))
        choice(activation, self.ACTIVATIONS, "activation", own)
        self.n_hidden = int_in_range(n_hidden, "n_hidden", own, 2, 64)
        self.seed = int_in_range(seed, "seed", own, 0, 2**32 - 1)
        super().__init__()
        self.X = np.random.default_rng(self.seed).standard_normal((self.BATCH, self.MAX_LENGTH, self.N_IN))
        c = self.controls
        c["rho"] = float_slider("spectral radius ρ of W_hh", round(rho, 2), *self.RHO_RANGE, 0.05)
        c["length"] = int_slider("sequence length T", length, 2, self.MAX_LENGTH)
        c["activation"] = toggle("activation", activation, self.ACTIVATIONS)
        c["clip"] = selection_slider("clip threshold τ", OFF if clip is None else clip, _clip_options(clip))
        self._finish()

    def model(self, rho=None, activation=None):
        """The RNN for the current (or given) settings: ``bp.nn.RNN`` with W_hh scaled to radius ρ."""
        rho = self.controls["rho"].value if rho is None else rho
        activation = self.controls["activation"].value if activation is None else activation
        rnn = nn.RNN(self.N_IN, self.n_hidden, activation=activation, seed=self.seed)
        return rnn.set_spectral_radius(rho)

    def _build_figure(self):
        fig = self.figure
        gs = fig.add_gridspec(1, 2, width_ratios=(2.2, 1), left=0.085, right=0.985, bottom=0.14, top=0.76,
                              wspace=0.28)
        self.ax_h = fig.add_subplot(gs[0])
        self.ax_g = fig.add_subplot(gs[1])
        ax = self.ax_h
        self._ref, = ax.semilogy([], [], "--", color="#666666", lw=1.2)
        self._norms, = ax.semilogy([], [], "o-", color=BLUE, ms=3, lw=1.2)
        style_axes(ax, xlabel=r"time step $t$  (the loss reads only $h_T$)")
        # the legend, in the title line (a legend box would hide a curve that starts high)
        set_title(ax, r"$\|\partial C/\partial h_t\|$ by BPTT  ●", loc="left", color=BLUE)
        set_title(ax, r"- - $\rho^{\,T-t}$ through $t = T$", loc="right", color="#666666")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        no_minor_ticks(ax)
        ax = self.ax_g
        self._bars = list(ax.bar([0, 1], [1.0, 1.0], bottom=1e-30, color=[RED, GREEN], width=0.6))
        self._clip_line = ax.axhline(1.0, color="black", ls="--", lw=1)
        self._clip_text = ax.text(1.97, 1.0, "", ha="right", va="bottom", fontsize=FONT["small"])
        ax.set_yscale("log")
        ax.set_xticks([0, 1], ["before", "after"])
        ax.set_xlim(-0.6, 2.0)
        style_axes(ax, title=r"$\|\partial C/\partial\theta\|$ and clipping",
                   xlabel=r"$\theta$ = ($W_{xh}$, $W_{hh}$, $b$)")
        no_minor_ticks(ax)
        self._text = fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=FONT["text"], linespacing=1.5)
        self._animate(self._ref, self._norms, *self._bars, self._clip_line, self._clip_text, self._text)

    def _compute(self):
        c = self.controls
        rho, T, act, clip = (c[k].value for k in ("rho", "length", "activation", "clip"))
        rnn = self.model(rho, act)
        X = self.X[:, :T]
        with np.errstate(over="ignore", invalid="ignore"):
            hidden = rnn.hidden_gradient_norms(X)               # ‖∂C/∂h_t‖, t = 0..T, L = Σ h_T
            rnn.zero_grad()
            H = rnn(X)
            dH = np.zeros_like(H)
            dH[:, -1] = 1.0                                     # the same loss, now for the parameters
            rnn.backward(dH)
            params = rnn.parameters()
            before = optim.clip_grad_norm(params, clip) if clip != OFF else math.sqrt(
                sum(float(np.vdot(p.grad, p.grad)) for p in params))
            after = math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))
        t = np.arange(T + 1)
        self._s = {"rho": rho, "spectral_radius": rnn.spectral_radius(), "length": T, "activation": act,
                   "clip": None if clip == OFF else clip, "t": t, "grad_norms": hidden,
                   "reference": hidden[-1] * rho ** (T - t), "fitted_rate": _rate(hidden),
                   "grad_before": before, "grad_after": after, "clipped": clip != OFF and before > clip,
                   "first_over_last": hidden[0] / hidden[-1] if hidden[-1] > 0 else math.inf}

    def _draw(self):
        s = self._s
        T = s["length"]
        norms = np.clip(s["grad_norms"], 1e-300, 1e300)
        self._norms.set_data(s["t"], norms)
        self._ref.set_data(s["t"], np.clip(s["reference"], 1e-300, 1e300))
        ax = self.ax_h
        ax.set_xlim(-0.5, 10 * math.ceil(T / 10) + 0.5)        # steps of 10: redrawn rarely
        finite = norms[np.isfinite(norms) & (norms > 0)]
        log_ylim(ax, finite.min() / 3, finite.max() * 3)
        before, after = s["grad_before"], s["grad_after"]
        for bar, v in zip(self._bars, (before, after)):
            bar.set_height(max(v, 1e-30) if math.isfinite(v) else 1e30)
        clip = s["clip"]
        lo, hi = min(before, after), max(before, after)
        if clip is not None:
            lo, hi = min(lo, clip), max(hi, clip)
        log_ylim(self.ax_g, lo / 3, hi * 3)
        self._clip_line.set_visible(clip is not None)
        self._clip_text.set_visible(clip is not None)
        if clip is not None:
            self._clip_line.set_ydata([clip, clip])
            self._clip_text.set_position((1.97, clip))
            self._clip_text.set_text(f"τ = {clip:g}")
        rate = s["fitted_rate"]
        measured = f"measured {rate:.3f} per step" if rate is not None else "too short to fit"
        if clip is None:
            clipping = f"no clipping: ‖∂C/∂θ‖ = {before:.3g}"
        elif s["clipped"]:
            clipping = (f"clipped: ‖∂C/∂θ‖ {before:.3g} → {after:.3g} "
                        f"(× {after / before:.2g}, same direction)")
        else:
            clipping = f"‖∂C/∂θ‖ = {before:.3g} ≤ τ = {clip:g}: not clipped"
        ratio = f"‖∂C/∂h_0‖ / ‖∂C/∂h_T‖ = {s['first_over_last']:.2g}  (ρᵀ = {s['rho'] ** T:.2g};  {measured})"
        self._text.set_text(f"{s['activation']}, ρ(W_hh) = {s['spectral_radius']:.2f}, T = {T}:   {ratio}\n{clipping}")

    def state(self):
        s = dict(self._s)
        s["grad_plotted"] = np.array(self._norms.get_ydata())
        s["t_plotted"] = np.array(self._norms.get_xdata())
        s["reference_plotted"] = np.array(self._ref.get_ydata())
        s["bars"] = [float(b.get_height()) for b in self._bars]
        s["clip_line"] = float(self._clip_line.get_ydata()[0]) if self._clip_line.get_visible() else None
        return s
