"""Adversarial examples, live: FGSM against random-sign noise of the same size (notebook 16).

The numbers come from ``bp.input_gradients``: ``fgsm`` (one backward pass to ∂C/∂x, a step of
ε·sign, clipped to the pixel range [0, 1]) and ``random_sign_noise`` (the same ε with random signs).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn, optim, train
from ..activations import softmax
from ..data import load_digits_split
from ..input_gradients import fgsm, random_sign_noise
from ..losses import SoftmaxCrossEntropy
from ..module import Module
from ._base import (
    BLUE,
    FONT,
    ORANGE,
    RED,
    Widget,
    check_choice,
    check_int,
    check_range,
    float_slider,
    int_slider,
    style_axes,
    toggle,
)

__all__ = ["AdversarialExplorer", "default_models"]

_DEFAULTS: dict[int, dict[str, tuple[Module, tuple[int, ...]]]] = {}


def default_models(seed: int = 0) -> dict[str, tuple[Module, tuple[int, ...]]]:
    """The explorer's own models, trained once per seed and kept: {"MLP": (mlp, (64,)), "CNN": (cnn, (1, 8, 8))}.

    Notebook 16's two networks, trained with Adam (lr 0.01, batches of 32) on the training digits of
    ``load_digits_split(seed=0)`` (pixels in [0, 1]): ``MLP([64, 64, 10], activation="tanh")`` for 20 epochs,
    and Conv2d(1, 16, 3, padding=1), tanh, MaxPool2d(2), Flatten, Linear(256, 10) on 1×8×8 images for 10.
    """
    if seed not in _DEFAULTS:
        X_train, _, y_train, _ = load_digits_split(test_fraction=0.25, seed=0)
        mlp = nn.MLP([64, 64, 10], activation="tanh", seed=seed)
        cnn = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, seed=seed), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(256, 10, seed=seed + 1))
        for net, X, epochs in ((mlp, X_train, 20), (cnn, X_train.reshape(-1, 1, 8, 8), 10)):
            train.fit(net, "cross_entropy", optim.Adam(net.parameters(), lr=0.01), X, y_train, epochs=epochs,
                      batch_size=32, seed=seed, progress=False)
        _DEFAULTS[seed] = {"MLP": (mlp, (64,)), "CNN": (cnn, (1, 8, 8))}
    return dict(_DEFAULTS[seed])


def _check_models(models: Any, owner: str) -> dict[str, tuple[Module, tuple[int, ...]]]:
    """{name: model or (model, input shape)} -> {name: (model, shape)}, each tried on one digit."""
    if not isinstance(models, dict) or not models:
        raise ValueError(f"{owner}: models must be a non-empty dict {{name: model or (model, input_shape)}}, "
                         f"got {models!r}")
    out = {}
    for name, entry in models.items():
        model, shape = entry if isinstance(entry, tuple) else (entry, (64,))
        if not isinstance(model, Module):
            raise ValueError(f"{owner}: models[{name!r}] must be a bpcourse Module (or (Module, input_shape)), "
                             f"got {type(model).__name__}")
        shape = tuple(int(s) for s in shape)
        if int(np.prod(shape)) != 64:
            raise ValueError(f"{owner}: models[{name!r}]: the input shape must hold the 64 pixels of an 8x8 digit, "
                             f"e.g. (64,) or (1, 8, 8); got {shape}")
        try:
            Z = train.predict(model, np.zeros((1,) + shape))
        except ValueError as err:
            raise ValueError(f"{owner}: models[{name!r}] does not take digits of shape (N, {', '.join(map(str, shape))}): "
                             f"{err}") from err
        if np.shape(Z) != (1, 10):
            raise ValueError(f"{owner}: models[{name!r}] must output 10 logits per digit, got shape {np.shape(Z)}")
        out[str(name)] = (model, shape)
    return out


def _outline(p, width=0.7):
    """x, y of one polyline tracing ten bars of heights p: (left, 0), (left, p), (right, p), (right, 0)."""
    k = np.repeat(np.arange(len(p), dtype=float), 4)
    x = k + np.tile([-1, -1, 1, 1], len(p)) * (width / 2)
    y = np.repeat(np.asarray(p, dtype=float), 4)
    y[0::4] = 0.0
    y[3::4] = 0.0
    return x, y


class AdversarialExplorer(Widget):
    """A test digit, ε and a perturbation (FGSM or random signs), for one of the models.

    Panels: the digit, the perturbation x̃ − x (colour range ±ε; purple: ink added, orange: removed),
    the perturbed digit x̃, and the class probabilities before (outlined bars) and after (filled bars:
    the true class orange, a wrong winner vermillion).

    models: {name: model or (model, input shape)}, e.g. ``{"MLP": mlp, "CNN": (cnn, (1, 8, 8))}``;
            each maps 8x8 digits (pixels in [0, 1]) to 10 logits.  Default: ``default_models(seed)``.
    digit:  index into the test digits of ``bp.data.load_digits_split(seed=0)`` (449 of them).
    The random signs are drawn once per digit from ``seed``, so moving ε scales one fixed pattern.
    """

    figsize = (9.4, 3.0)
    EPS_MAX = 0.3
    ATTACKS = ("FGSM", "random signs")

    def __init__(self, digit: int = 0, eps: float = 0.1, attack: str = "FGSM", model: str | None = None,
                 models: dict | None = None, seed: int = 0):
        own = "AdversarialExplorer"
        self.seed = check_int(own, "seed", seed, 0, 2**31 - 1)
        _, self.X, _, self.y = load_digits_split(test_fraction=0.25, seed=0)
        check_int(own, "digit", digit, 0, len(self.X) - 1)
        eps = check_range(own, "eps", eps, 0.0, self.EPS_MAX)
        check_choice(own, "attack", attack, self.ATTACKS)
        self.models = _check_models(default_models(self.seed) if models is None else models, own)
        names = tuple(self.models)
        model = names[0] if model is None else check_choice(own, "model", model, names)
        self.loss = SoftmaxCrossEntropy()
        super().__init__()
        c = self.controls
        c["digit"] = int_slider("test digit", digit, 0, len(self.X) - 1)
        c["eps"] = float_slider("ε (max change per pixel)", round(eps, 2), 0.0, self.EPS_MAX, 0.01)
        c["attack"] = toggle("perturbation", attack, self.ATTACKS)
        c["model"] = toggle("model", model, names)
        self._finish()

    # ---- the numbers ----------------------------------------------------------------------
    def perturb(self, digit: int, eps: float, attack: str, model: str) -> np.ndarray:
        """The perturbed digit x̃ (shape (64,)) for these settings."""
        net, shape = self.models[model]
        x = self.X[digit].reshape((1,) + shape)
        if attack == "FGSM":
            x_adv = fgsm(net, self.loss, x, self.y[digit:digit + 1], eps)
        else:
            x_adv = random_sign_noise(x, eps, seed=np.random.default_rng([self.seed, digit]))
        return x_adv.reshape(64)

    def probabilities(self, x: np.ndarray, model: str) -> np.ndarray:
        net, shape = self.models[model]
        return softmax(train.predict(net, x.reshape((1,) + shape)), axis=1)[0]

    def _compute(self):
        c = self.controls
        d, eps, attack, model = (c[k].value for k in ("digit", "eps", "attack", "model"))
        x = self.X[d]
        x_adv = self.perturb(d, eps, attack, model)
        p_clean, p_adv = self.probabilities(x, model), self.probabilities(x_adv, model)
        self._s = {"digit": d, "label": int(self.y[d]), "eps": eps, "attack": attack, "model": model,
                   "x": x, "x_adv": x_adv, "perturbation": x_adv - x, "p_clean": p_clean, "p_adv": p_adv,
                   "pred_clean": int(p_clean.argmax()), "pred_adv": int(p_adv.argmax())}

    # ---- the figure -----------------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure
        images = fig.add_gridspec(1, 3, left=0.015, right=0.575, bottom=0.14, top=0.78, wspace=0.12)
        self.ax_x, self.ax_d, self.ax_a = (fig.add_subplot(images[i]) for i in range(3))
        self.ax_p = fig.add_subplot(fig.add_gridspec(1, 1, left=0.63, right=0.985, bottom=0.16, top=0.78)[0])
        blank = np.zeros((8, 8))
        self._im_x = self.ax_x.imshow(blank, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        self._im_d = self.ax_d.imshow(blank, cmap="PuOr", vmin=-0.1, vmax=0.1, interpolation="nearest")
        self._im_a = self.ax_a.imshow(blank, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        for ax, title in ((self.ax_x, "digit x"), (self.ax_d, "perturbation (±ε)"), (self.ax_a, "perturbed x̃")):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            style_axes(ax, title=title)
        ax = self.ax_p
        k = np.arange(10)
        self._bars_adv = list(ax.bar(k, np.zeros(10), width=0.7, color=BLUE))
        # the clean probabilities: one line tracing the outline of ten bars (cheaper than ten patches)
        self._outline, = ax.plot([], [], color="black", lw=1.2)
        ax.set_ylim(0, 1.02)
        ax.set_xlim(-0.6, 9.6)
        ax.set_xticks(k)
        style_axes(ax, title="class probabilities: outline x, filled x̃", xlabel="class")
        self._text = fig.text(0.5, 0.97, "", ha="center", va="top", fontsize=FONT["text"])
        self._animate(self._im_x, self._im_d, self._im_a, *self._bars_adv, self._outline, self._text)

    def _draw(self):
        s = self._s
        self._im_x.set_data(s["x"].reshape(8, 8))
        self._im_a.set_data(s["x_adv"].reshape(8, 8))
        lim = max(s["eps"], 1e-3)
        self._im_d.set_data(s["perturbation"].reshape(8, 8))
        self._im_d.set_clim(-lim, lim)
        for k, bar in enumerate(self._bars_adv):
            bar.set_height(s["p_adv"][k])
            bar.set_color(ORANGE if k == s["label"] else RED if k == s["pred_adv"] else BLUE)
        self._outline.set_data(*_outline(s["p_clean"]))
        c, a = s["pred_clean"], s["pred_adv"]
        verdict = "still right" if a == s["label"] else "fooled" if c == s["label"] else "wrong before and after"
        self._text.set_text(f"{s['model']}, {s['attack']}, ε = {s['eps']:.2f}.  Digit #{s['digit']}, a {s['label']} "
                            f"(orange):  {c} ({s['p_clean'][c]:.0%}) → {a} ({s['p_adv'][a]:.0%}), {verdict}")

    def state(self):
        s = dict(self._s)
        s["image_plotted"] = np.array(self._im_x.get_array())
        s["perturbation_plotted"] = np.array(self._im_d.get_array())
        s["perturbed_plotted"] = np.array(self._im_a.get_array())
        s["bars_clean"] = np.array(self._outline.get_ydata())[1::4]
        s["bars_adv"] = np.array([b.get_height() for b in self._bars_adv])
        s["text"] = self._text.get_text()
        return s
