"""Convolution on a digit: a kernel, its feature map, max pooling, and one output's gradient (nb 15).

The numbers come from ``bp.nn.Conv2d(1, 1, 3, padding=1)`` with the chosen kernel and
``bp.nn.MaxPool2d(2)``.  For the chosen output position (i, j) the explorer runs ``backward`` with
an upstream gradient that is 1 at (i, j) and 0 elsewhere: then ``W.grad`` is ∂Z_ij/∂W, the window of
the padded input that output saw (zero where the window lies on padding), and the non-zero part
of the input gradient is that output's receptive field.
"""
from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle

from .. import data
from ..conv import Conv2d, MaxPool2d
from ._base import FONT, OKABE_ITO, Widget, check_choice, check_int, dropdown, float_slider, int_slider, set_title

__all__ = ["ConvExplorer", "KERNEL_PRESETS"]

KERNEL_PRESETS = {
    "vertical edge": [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],     # Sobel K_x
    "horizontal edge": [[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]],   # Sobel K_y
    "blur": [[1 / 9] * 3] * 3,
    "sharpen": [[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]],
    "identity": [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]],
}
CUSTOM = "custom"
WEIGHTS = [f"w{u}{v}" for u in range(3) for v in range(3)]


class ConvExplorer(Widget):
    """A digit (one test example of the chosen class), a 3×3 kernel, the feature map Z (padding 1,
    8×8), the 2×2 max-pooled map (4×4), and for the output (i, j): its 3×3 receptive field in the
    digit and ∂Z_ij/∂W (which of the nine weights its gradient reaches, and how strongly).

    Controls: ``digit`` (0–9), ``preset`` (a kernel name, or "custom" once a weight slider moved),
    ``w00`` … ``w22`` (the nine weights), ``i`` and ``j`` (the output position, 0–7).
    """

    figsize = (9.6, 3.3)

    def __init__(self, digit=0, preset="vertical edge", i=3, j=2):
        own = "ConvExplorer"
        check_int(own, "digit", digit, 0, 9)
        check_choice(own, "preset", preset, list(KERNEL_PRESETS))
        check_int(own, "i", i, 0, 7)
        check_int(own, "j", j, 0, 7)
        super().__init__()
        X, y = data.load_digits()
        self.digits = np.stack([X[y == d][0].reshape(8, 8) for d in range(10)])    # the first of each class
        self.conv = Conv2d(1, 1, 3, padding=1, name="ConvExplorer's Conv2d")
        self.pool = MaxPool2d(2)
        c = self.controls
        c["digit"] = int_slider("digit", digit, 0, 9)
        c["preset"] = dropdown("kernel", preset, list(KERNEL_PRESETS) + [CUSTOM])
        K = np.array(KERNEL_PRESETS[preset])
        for name in WEIGHTS:
            c[name] = float_slider(name, round(float(K[int(name[1]), int(name[2])]), 2), -3.0, 3.0, 0.05)
        c["i"] = int_slider("output row i", i, 0, 7)
        c["j"] = int_slider("output column j", j, 0, 7)
        self._finish()

    # ---- controls --------------------------------------------------------------------------
    def _on_change(self, name, change):
        if name == "preset":
            if change["new"] != CUSTOM:
                K = np.array(KERNEL_PRESETS[change["new"]])
                for w in WEIGHTS:
                    self._set(w, round(float(K[int(w[1]), int(w[2])]), 2))
        elif name in WEIGHTS:
            self._set("preset", CUSTOM)
        self.update()

    def kernel(self):
        """The current 3×3 kernel from the nine weight sliders."""
        return np.array([self.controls[w].value for w in WEIGHTS], dtype=float).reshape(3, 3)

    # ---- figure ----------------------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure
        gs = fig.add_gridspec(1, 4, left=0.02, right=0.98, bottom=0.04, top=0.78, wspace=0.18,
                              width_ratios=(1, 1, 1, 0.8))
        self.ax_x, self.ax_z, self.ax_p, self.ax_g = (fig.add_subplot(gs[k]) for k in range(4))
        titles = ("digit and receptive field of (i, j)", "feature map Z = conv(digit)", "max pool 2×2",
                  "∂Z_ij/∂W: weights reached")
        for ax, title in zip((self.ax_x, self.ax_z, self.ax_p, self.ax_g), titles):
            ax.set_xticks([])
            ax.set_yticks([])
            set_title(ax, title, fontsize=FONT["small"])
        self._im_x = self.ax_x.imshow(np.zeros((8, 8)), cmap="gray_r", vmin=0, vmax=1, extent=(-0.5, 7.5, 7.5, -0.5))
        self._im_z = self.ax_z.imshow(np.zeros((8, 8)), cmap="PuOr", vmin=-1, vmax=1, extent=(-0.5, 7.5, 7.5, -0.5))
        self._im_p = self.ax_p.imshow(np.zeros((4, 4)), cmap="PuOr", vmin=-1, vmax=1, extent=(-0.5, 3.5, 3.5, -0.5))
        self._im_g = self.ax_g.imshow(np.zeros((3, 3)), cmap="gray_r", vmin=0, vmax=1, extent=(-0.5, 2.5, 2.5, -0.5))
        for ax, n in ((self.ax_x, 8), (self.ax_z, 8), (self.ax_p, 4), (self.ax_g, 3)):
            ax.set_xlim(-0.5, n - 0.5)
            ax.set_ylim(n - 0.5, -0.5)
        self._field = Rectangle((0, 0), 3, 3, fill=False, ec=OKABE_ITO["orange"], lw=2.5)
        self._cell = Rectangle((0, 0), 1, 1, fill=False, ec=OKABE_ITO["green"], lw=2.5)
        self._pcell = Rectangle((0, 0), 1, 1, fill=False, ec=OKABE_ITO["green"], lw=2.5)
        self.ax_x.add_patch(self._field)
        self.ax_z.add_patch(self._cell)
        self.ax_p.add_patch(self._pcell)
        self._gtext = [self.ax_g.text(v, u, "", ha="center", va="center", fontsize=FONT["small"])
                       for u in range(3) for v in range(3)]
        self._text = fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=FONT["text"], linespacing=1.4)
        self._animate(self._im_x, self._im_z, self._im_p, self._im_g, self._field, self._cell, self._pcell,
                      *self._gtext, self._text)

    def _compute(self):
        c = self.controls
        d, i, j = c["digit"].value, c["i"].value, c["j"].value
        K = self.kernel()
        X = self.digits[d][None, None]
        conv = self.conv
        conv.W.data[0, 0] = K
        Z = conv(X)
        P = self.pool(Z)
        delta = np.zeros_like(Z)
        delta[0, 0, i, j] = 1.0
        conv.zero_grad()
        dX = conv.backward(delta)                  # ∂Z_ij/∂X: the kernel placed on the window
        dW = conv.W.grad[0, 0].copy()              # ∂Z_ij/∂W: the window the output saw
        rows = (max(i - 1, 0), min(i + 1, 7))
        cols = (max(j - 1, 0), min(j + 1, 7))
        inside = np.zeros((3, 3), dtype=bool)      # which kernel entries lie on the image (not padding)
        inside[rows[0] - i + 1:rows[1] - i + 2, cols[0] - j + 1:cols[1] - j + 2] = True
        self._s = {"digit": d, "kernel": K, "image": X[0, 0], "feature_map": Z[0, 0], "pooled": P[0, 0],
                   "i": i, "j": j, "Z_ij": float(Z[0, 0, i, j]), "dW": dW, "dX": dX[0, 0],
                   "receptive_field": (rows, cols), "weights_reached": inside & (dW != 0),
                   "on_image": inside, "pooled_cell": (i // 2, j // 2) if i < 8 and j < 8 else None}

    def _draw(self):
        s = self._s
        self._im_x.set_data(s["image"])
        lim = max(float(np.abs(s["feature_map"]).max()), 1e-12)
        self._im_z.set_data(s["feature_map"])
        self._im_z.set_clim(-lim, lim)
        self._im_p.set_data(s["pooled"])
        self._im_p.set_clim(-lim, lim)
        self._im_g.set_data(s["dW"])
        (r0, r1), (c0, c1) = s["receptive_field"]
        self._field.set_bounds(c0 - 0.5, r0 - 0.5, c1 - c0 + 1, r1 - r0 + 1)
        i, j = s["i"], s["j"]
        self._cell.set_bounds(j - 0.5, i - 0.5, 1, 1)
        pi, pj = s["pooled_cell"]
        self._pcell.set_bounds(pj - 0.5, pi - 0.5, 1, 1)
        for k, t in enumerate(self._gtext):
            u, v = divmod(k, 3)
            if not s["on_image"][u, v]:
                t.set_text("pad")
                t.set_color(OKABE_ITO["vermillion"])
            else:
                t.set_text(f"{s['dW'][u, v]:.2f}")
                t.set_color("white" if s["dW"][u, v] > 0.5 else "black")
        n = int(s["weights_reached"].sum())
        self._text.set_text(f"digit {s['digit']}, Z[{i}, {j}] = {s['Z_ij']:.3f};  its gradient reaches {n} of the 9 "
                            f"weights (∂Z_ij/∂W_uv = the pixel under w_uv; padding and blank pixels give 0)\n"
                            f"feature map range ±{lim:.2f};  pooled map: the max of each 2×2 block")

    def state(self):
        s = dict(self._s)
        s["feature_map_plotted"] = np.array(self._im_z.get_array())
        s["pooled_plotted"] = np.array(self._im_p.get_array())
        s["dW_plotted"] = np.array(self._im_g.get_array())
        s["field_plotted"] = (self._field.get_x(), self._field.get_y(), self._field.get_width(), self._field.get_height())
        return s
