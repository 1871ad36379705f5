"""The playground's training session, without any user interface (notebook 06).

``PlaygroundSession`` owns what ``bp.widgets.Playground`` trains: the configuration, the data (a
2-D toy dataset split into train and test), the MLP with its loss and optimiser, the mini-batch
order, the history of losses and accuracies, and the rollback after a step that diverged.  The
widget builds controls and a figure around one session (``Playground.session``); tests and scripts
drive a session directly, with neither ipywidgets nor matplotlib loaded:

    from bpcourse.playground_session import PlaygroundSession
    s = PlaygroundSession(dataset="xor", hidden=(4,), lr=0.1)
    s.train(400)                        # 400 mini-batch steps, evaluated every 20
    s.state()["train_loss"]
    s.configure(lr=100.0)               # keeps the weights
    s.step(20)                          # diverges: False, weights rolled back, s.message says why
    s.configure(hidden=(3, 3))          # a new network (and an empty history)

Every step is ``bp.train.train_step`` on the next mini-batch (BP1-BP4, the regulariser's gradient,
the optimiser's update).  A run of steps that produces a NaN/inf (``NonFiniteError``) or a loss
``BLOW_UP`` times its first value restores the weights from before the run, starts a fresh
optimiser (its momentum may hold inf) and records ``diverged_at``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import activations, data, diagnostics, losses, nn, optim, regularization, train
from .validate import NonFiniteError, choice, int_in_range, real

__all__ = ["PlaygroundSession", "resolve_config", "PRESETS", "DEFAULTS", "CONFIG_KEYS", "DATASETS", "ACTIVATIONS",
           "INITS", "LOSSES", "OPTIMIZERS", "REGULARIZATIONS"]

DATASETS = ("circles", "xor", "moons", "spirals", "gaussians")
_FAMILIAR = ("tanh", "relu", "sigmoid", "leaky_relu", "identity")     # first in the menu, then the engine's others
ACTIVATIONS = _FAMILIAR + tuple(name for name in activations.ACTIVATIONS if name not in _FAMILIAR)
INITS = ("xavier", "xavier_normal", "he", "he_uniform", "lecun", "normal", "constant")
LOSSES = ("bce", "cross_entropy", "mse")
OPTIMIZERS = ("sgd", "momentum", "adam")
REGULARIZATIONS = ("none", "l1", "l2")
MAX_LAYERS, MAX_WIDTH, MAX_BATCH = 10, 64, 128
N_POINTS = 300            # points per dataset (train + test)
GRID = 40                 # decision map resolution (GRID x GRID forward passes per evaluation)
BLOW_UP = 1e6             # a loss this many times its value at step 0 counts as divergence

PRESETS: dict[str, dict[str, Any]] = {
    "xor": dict(dataset="xor", hidden=(4,), activation="tanh", lr=0.1,
                description="XOR needs a hidden layer: 4 tanh units solve it."),
    "deep_sigmoid": dict(dataset="circles", hidden=(8,) * 8, activation="sigmoid", init="xavier",
                         optimizer="sgd", lr=0.3, description="8 sigmoid layers: the gradient bars fall "
                         "by orders of magnitude towards the input, and the first layers barely learn."),
    "deep_relu_he": dict(dataset="circles", hidden=(8,) * 8, activation="relu", init="he", optimizer="sgd",
                         lr=0.03, description="The same depth with ReLU and He init: gradients reach "
                         "every layer."),
    "too_high_lr": dict(dataset="circles", hidden=(8, 8), activation="relu", init="he", loss="mse",
                        optimizer="sgd", lr=3.0, description="A learning rate far too high: the loss blows "
                        "up.  Lower it and training resumes from the last finite weights."),
    "symmetry": dict(dataset="circles", hidden=(8, 8), activation="tanh", init="constant", lr=0.1,
                     description="Constant init: every unit of a layer gets the same gradient and stays "
                     "identical, so the network never uses more than one unit per layer."),
    "spirals_adam": dict(dataset="spirals", hidden=(16, 16, 16), activation="tanh", optimizer="adam",
                         lr=0.01, noise=0.05, description="Spirals need depth; Adam gets there fast."),
    "overfit": dict(dataset="moons", noise=0.35, train_fraction=0.2, hidden=(32, 32, 32), activation="relu",
                    init="he", optimizer="adam", lr=0.01, description="Few noisy training points and a big "
                    "net: train loss falls, test loss rises.  Try L2 with a rate of 0.01."),
}

DEFAULTS: dict[str, Any] = dict(dataset="circles", hidden=(8, 8), activation="tanh", init="xavier", loss="bce",
                                optimizer="sgd", lr=0.03, batch_size=16, noise=0.1, train_fraction=0.7,
                                regularization="none", reg_rate=0.0, seed=0)
CONFIG_KEYS = tuple(DEFAULTS)
_DATA_KEYS = ("dataset", "noise", "train_fraction", "seed")     # new data, then a new network
_NET_KEYS = ("hidden", "activation", "init", "loss")             # a new network on the same data
# lr, optimizer, batch_size, regularization, reg_rate change how training proceeds: the weights stay


class _Diverged(Exception):
    """The loss grew past ``BLOW_UP`` times its first value, or an evaluation was not finite."""


def resolve_config(given: Mapping[str, Any], preset: str | None = None, where: str = "PlaygroundSession",
                   lr_range: tuple[float, float] | None = None) -> dict[str, Any]:
    """Merge ``DEFAULTS``, a preset and the ``given`` settings, then validate every one.

    ``given`` holds every key of ``CONFIG_KEYS``; a preset's value is used where ``given`` still has
    the default.  ``lr_range`` (closed) bounds the learning rate (the Playground's slider range);
    without it any lr > 0 is accepted.  Raises ``ValueError`` naming ``where``, the setting and the
    valid choices or bounds.  Returns a new dict with ``hidden`` as a tuple of ints.
    """
    cfg = dict(given)
    if preset is not None:
        choice(preset, tuple(PRESETS), "preset", where)
        for key, value in PRESETS[preset].items():
            if key != "description" and given[key] == DEFAULTS[key]:
                cfg[key] = value
    choice(cfg["dataset"], DATASETS, "dataset", where)
    choice(cfg["activation"], ACTIVATIONS, "activation", where)
    choice(cfg["init"], INITS, "init", where)
    choice(cfg["loss"], LOSSES, "loss", where)
    choice(cfg["optimizer"], OPTIMIZERS, "optimizer", where)
    choice(cfg["regularization"], REGULARIZATIONS, "regularization", where)
    if lr_range is None:
        cfg["lr"] = real(cfg["lr"], "lr", where, low=0.0, low_open=True)
    else:
        cfg["lr"] = real(cfg["lr"], "lr", where, low=lr_range[0], high=lr_range[1])
    cfg["noise"] = real(cfg["noise"], "noise", where, low=0.0, high=0.5)
    cfg["train_fraction"] = real(cfg["train_fraction"], "train_fraction", where, low=0.1, high=0.9)
    cfg["reg_rate"] = real(cfg["reg_rate"], "reg_rate", where, low=0.0, high=10.0)
    cfg["batch_size"] = int_in_range(cfg["batch_size"], "batch_size", where, 1, MAX_BATCH)
    cfg["seed"] = int_in_range(cfg["seed"], "seed", where, 0, 2**32 - 1)
    cfg["hidden"] = _hidden(cfg["hidden"], where)
    return cfg


def _hidden(hidden: Any, where: str) -> tuple[int, ...]:
    """Hidden layer widths as a tuple: 0 to MAX_LAYERS layers of 1 to MAX_WIDTH units (an int is one layer)."""
    if isinstance(hidden, (int, np.integer)):
        hidden = (hidden,)
    try:
        hidden = tuple(hidden)
    except TypeError:
        raise ValueError(f"{where}: hidden must be a tuple of layer widths, got {hidden!r}") from None
    if len(hidden) > MAX_LAYERS:
        raise ValueError(f"{where}: at most {MAX_LAYERS} hidden layers, got {len(hidden)}")
    return tuple(int_in_range(h, "hidden layer width", where, 1, MAX_WIDTH) for h in hidden)


def _grad_norms(linears: list[Any]) -> list[float]:
    """Frobenius norm of each Linear layer's W.grad: list of floats, input layer first."""
    return [float(np.linalg.norm(layer.W.grad)) for layer in linears]


class PlaygroundSession:
    """Train an MLP on a 2-D toy dataset: configuration, data, model, one step, rollback, state.

    Arguments (all keywords) as ``bp.widgets.Playground``'s: ``dataset``, ``hidden``, ``activation``,
    ``init``, ``loss``, ``optimizer``, ``lr`` (any lr > 0 here; the widget's slider stops at 10),
    ``batch_size``, ``noise``, ``train_fraction``, ``regularization``, ``reg_rate``, ``seed`` and
    ``preset`` (a name from ``PRESETS``; settings left at their defaults take the preset's).

    Attributes: ``config`` (the validated settings), ``data`` (``X_train`` (N, 2), ``y_train`` (N,),
    ``X_test``, ``y_test``), ``model`` (``bp.nn.MLP``), ``linears`` (its Linear layers), ``loss_fn``,
    ``optimizer``, ``step_count``, ``history`` (lists ``step``, ``train_loss``, ``test_loss``,
    ``train_acc``, ``test_acc``), ``evaluation`` (the latest evaluation, or None), ``diverged_at``
    (the step that diverged, or None) and ``message``.  A new session is evaluated once (step 0).
    """

    where = "PlaygroundSession"

    def __init__(self, dataset: str = "circles", hidden: Any = (8, 8), activation: str = "tanh",
                 init: str = "xavier", loss: str = "bce", optimizer: str = "sgd", lr: float = 0.03,
                 batch_size: int = 16, noise: float = 0.1, train_fraction: float = 0.7,
                 regularization: str = "none", reg_rate: float = 0.0, seed: int = 0, preset: str | None = None):
        given = dict(dataset=dataset, hidden=hidden, activation=activation, init=init, loss=loss,
                     optimizer=optimizer, lr=lr, batch_size=batch_size, noise=noise,
                     train_fraction=train_fraction, regularization=regularization, reg_rate=reg_rate,
                     seed=seed)
        self.config = resolve_config(given, preset, self.where)
        self.preset = preset
        self.history: dict[str, list[float]] = {"step": [], "train_loss": [], "test_loss": [], "train_acc": [],
                                                "test_acc": []}
        self.step_count = 0
        self.diverged_at: int | None = None
        self.divergence = ""                       # why the last run of steps diverged
        self.evaluation: dict[str, Any] | None = None
        self._new_data()
        self.reset()

    # ---- configuration --------------------------------------------------------------------------
    @property
    def hidden(self) -> tuple[int, ...]:
        return self.config["hidden"]

    @property
    def seed(self) -> int:
        return self.config["seed"]

    def configure(self, **changes: Any) -> bool:
        """Change settings (keys of ``CONFIG_KEYS``); returns True if the network was rebuilt.

        ``lr`` sets the optimiser's rate (and clears a divergence: the weights were rolled back,
        so training may resume); ``optimizer`` starts a new optimiser on the same weights;
        ``batch_size``, ``regularization``, ``reg_rate`` apply from the next step.  Setting any of
        ``dataset``, ``noise``, ``train_fraction``, ``seed`` draws new data, and any of those or
        ``hidden``, ``activation``, ``init``, ``loss`` resets: new weights, empty history.  All
        values are validated before anything changes.
        """
        where = f"{self.where}.configure"
        unknown = sorted(set(changes) - set(CONFIG_KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown setting {', '.join(map(repr, unknown))}; valid: {', '.join(CONFIG_KEYS)}")
        self.config = resolve_config(dict(self.config, **changes), where=where)
        self.preset = None
        if "lr" in changes:
            self.optimizer.lr = self.config["lr"]      # same optimiser, same weights, same history
            self.diverged_at, self.divergence = None, ""
        if "optimizer" in changes:
            self._new_optimizer()
        if any(key in changes for key in _DATA_KEYS):
            self._new_data()
        if any(key in changes for key in _DATA_KEYS + _NET_KEYS):
            self.reset()
            return True
        return False

    def apply_preset(self, name: str) -> PlaygroundSession:
        """Every setting from ``DEFAULTS`` and the preset ``name`` (the seed stays); new data, reset."""
        choice(name, tuple(PRESETS), "preset", f"{self.where}.apply_preset")
        settings = {key: value for key, value in PRESETS[name].items() if key != "description"}
        self.config = resolve_config(dict(DEFAULTS, **settings, seed=self.seed), where=self.where)
        self.preset = name
        self._new_data()
        return self.reset()

    # ---- data, model, optimiser -----------------------------------------------------------------
    def _new_data(self) -> None:
        cfg = self.config
        X, y = data.make_dataset(cfg["dataset"], n=N_POINTS, noise=cfg["noise"], seed=self.seed)
        Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_fraction=1.0 - cfg["train_fraction"], seed=self.seed)
        self.data = {"X_train": Xtr, "y_train": ytr, "X_test": Xte, "y_test": yte}
        pad = 0.15 * (X.max(0) - X.min(0)) + 0.1
        lo, hi = X.min(0) - pad, X.max(0) + pad
        self.extent = (lo[0], hi[0], lo[1], hi[1])        # of the decision map: x0, x1, y0, y1
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], GRID), np.linspace(lo[1], hi[1], GRID))
        self.grid = np.column_stack([gx.ravel(), gy.ravel()])     # (GRID*GRID, 2)

    def _new_model(self) -> None:
        cfg = self.config
        n_out = 2 if cfg["loss"] == "cross_entropy" else 1
        kw = {"std": 1.0} if cfg["init"] == "normal" else {}
        self.model = nn.MLP([2, *self.hidden, n_out], activation=cfg["activation"], init=cfg["init"], seed=self.seed,
                            **kw)
        self.linears = self.model.linear_layers()
        self.loss_fn = {"bce": lambda: losses.BCE(from_logits=True), "cross_entropy": losses.SoftmaxCrossEntropy,
                        "mse": losses.MSE}[cfg["loss"]]()
        self._new_optimizer()
        self._batch_rng = np.random.default_rng(self.seed)
        self._order, self._cursor = np.empty(0, dtype=int), 0

    def _new_optimizer(self) -> None:
        self.optimizer = optim.make_optimizer(self.config["optimizer"], self.model.parameters(), self.config["lr"])

    def reset(self) -> PlaygroundSession:
        """New weights (same seed), fresh optimiser state, empty history; evaluated at step 0."""
        self._new_model()
        self.step_count = 0
        self.diverged_at, self.divergence = None, ""
        for values in self.history.values():
            values.clear()
        self._blow_up = np.inf
        self.evaluate()
        return self

    # ---- training -------------------------------------------------------------------------------
    def _targets(self, y: np.ndarray) -> np.ndarray:
        """Labels (N,) as the loss wants them: class indices for cross-entropy, else (N, 1) floats."""
        return y if self.config["loss"] == "cross_entropy" else y.astype(np.float64).reshape(-1, 1)

    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.data["y_train"])
        size = min(self.config["batch_size"], n)
        if self._cursor + size > len(self._order):
            self._order, self._cursor = self._batch_rng.permutation(n), 0
        idx = self._order[self._cursor:self._cursor + size]
        self._cursor += size
        return self.data["X_train"][idx], self.data["y_train"][idx]

    def _one_step(self) -> list[float]:
        """One mini-batch step with ``bp.train.train_step``; returns the gradient norms it used."""
        Xb, yb = self._next_batch()
        reg, rate = self.config["regularization"], self.config["reg_rate"]
        penalty = regularization.Regularization(reg, rate) if reg != "none" and rate > 0 else None
        L, _ = train.train_step(self.model, self.loss_fn, self.optimizer, Xb, self._targets(yb), penalty)
        if L > self._blow_up:                       # rolled back by step()
            raise _Diverged(f"the loss {L:.3g} is over {BLOW_UP:g} times its first value")
        self.step_count += 1
        return _grad_norms(self.linears)             # the step leaves .grad as it was used

    def step(self, k: int = 1) -> bool:
        """``k`` mini-batch steps, then one evaluation recorded in the history; True if all went well.

        If a step or the evaluation is not finite (``NonFiniteError``) or the loss blows up, the
        weights go back to what they were before these k steps, the optimiser starts afresh, the
        step count goes back, ``diverged_at`` is set and ``message`` says so; returns False.
        """
        k = int_in_range(k, "k", f"{self.where}.step", 1, 10**7)
        snapshot = [p.data.copy() for p in self.optimizer.params]
        start = self.step_count
        norms = []
        try:
            with np.errstate(all="ignore"):
                for _ in range(k):
                    norms.append(self._one_step())
                self._evaluate(np.mean(norms, axis=0) if norms else None)
        except (_Diverged, NonFiniteError, FloatingPointError) as exc:
            for p, saved in zip(self.optimizer.params, snapshot):
                p.data[...] = saved
            self.diverged_at = self.step_count + 1
            self.divergence = str(exc) or "a value was not finite"
            self.step_count = start
            self._new_optimizer()                   # momentum / Adam state may hold inf
            return False
        return True

    def train(self, n: int, every: int = 20) -> bool:
        """``n`` steps in runs of ``every`` (each run evaluated and recorded); stops at a divergence.

        Returns False if a run diverged (see ``step``), else True.
        """
        n = int_in_range(n, "n", f"{self.where}.train", 0, 10**7)
        every = int_in_range(every, "every", f"{self.where}.train", 1, 10**7)
        while n > 0:
            if not self.step(min(n, every)):
                return False
            n -= min(n, every)
        return True

    @property
    def message(self) -> str:
        """Why training stopped ('' while all is well)."""
        if self.diverged_at is None:
            return ""
        return (f"diverged at step {self.diverged_at} ({self.divergence}) — lower the learning rate; "
                f"the weights were rolled back to step {self.step_count}")

    # ---- evaluation -----------------------------------------------------------------------------
    def evaluate(self) -> bool:
        """Evaluate the current weights (into ``evaluation``), recorded in the history unless this step
        already is.  False (and ``evaluation`` None) if something is not finite."""
        self.evaluation = None
        with np.errstate(all="ignore"):
            try:
                h = self.history["step"]
                self._evaluate(None, record=not h or h[-1] != self.step_count)
            except (_Diverged, ValueError):
                self.evaluation = None
                return False
        return True

    def _evaluate(self, norms: Any, record: bool = True) -> None:
        """Losses and accuracies on train and test, the decision map, saturation; all finite or raise."""
        d = self.data
        ev: dict[str, Any] = {}
        for part in ("train", "test"):
            X, y = d["X_" + part], d["y_" + part]
            out = self.model(X)
            if part == "train":
                ev["saturation"] = self._saturation()
            ev[part + "_loss"] = self.loss_fn(out, self._targets(y))
            ev[part + "_acc"] = float(np.mean((self.prob1(out) > 0.5) == (y == 1)))
        P = self.prob1(self.model(self.grid)).reshape(GRID, GRID)
        if not (np.isfinite(ev["train_loss"]) and np.isfinite(ev["test_loss"]) and np.isfinite(P).all()):
            raise _Diverged("the loss or the decision map is not finite")
        if norms is None:
            norms = self._fresh_grad_norms()
        if not np.all(np.isfinite(norms)):
            raise _Diverged("a gradient norm is not finite")
        h = self.history
        if not h["step"]:
            self._blow_up = BLOW_UP * max(1.0, ev["train_loss"])
        elif ev["train_loss"] > self._blow_up:
            raise _Diverged(f"the loss {ev['train_loss']:.3g} is over {BLOW_UP:g} times its first value")
        if record:
            h["step"].append(self.step_count)
            for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
                h[key].append(ev[key])
        ev.update(P=P, grad_norms=list(norms))
        self.evaluation = ev

    def _fresh_grad_norms(self) -> list[float]:
        """Gradient norms on the whole training set (used before the first step)."""
        self.model.zero_grad()
        self.loss_fn(self.model(self.data["X_train"]), self._targets(self.data["y_train"]))
        self.model.backward(self.loss_fn.backward())
        norms = _grad_norms(self.linears)
        self.model.zero_grad()
        return norms

    def _saturation(self) -> list[float]:
        """Per hidden layer, from the last forward pass (``bp.diagnostics.activation_stats``): the
        saturated fraction for sigmoid/tanh, the dead-unit fraction for relu/leaky_relu, 0 for identity."""
        out = []
        for st in diagnostics.activation_stats(self.model).values():
            value = st["saturation"] if st["saturation"] is not None else st["dead"]
            out.append(float(value) if value is not None else 0.0)
        return out

    def prob1(self, out: np.ndarray) -> np.ndarray:
        """P(class 1) from the network output (N, 1) or (N, 2) -> (N,)."""
        loss = self.config["loss"]
        if loss == "bce":
            return activations.sigmoid(out[:, 0])
        if loss == "cross_entropy":
            return activations.softmax(out, axis=1)[:, 1]
        return np.clip(out[:, 0], 0.0, 1.0)

    # ---- reading back ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The training state as plain numbers: settings, step, last losses and accuracies, the latest
        evaluation (decision map (GRID, GRID), gradient norms per Linear layer, saturation per hidden
        layer), copies of the weights, and the divergence (``diverged_at``, ``message``)."""
        h, ev = self.history, self.evaluation

        def last(key: str) -> float | None:
            return h[key][-1] if h[key] else None

        return {
            "step": self.step_count,
            "lr": self.optimizer.lr,
            "hidden": self.hidden,
            "sizes": list(self.model.sizes),
            "config": dict(self.config),
            "preset": self.preset,
            "train_loss": last("train_loss"),
            "test_loss": last("test_loss"),
            "train_acc": last("train_acc"),
            "test_acc": last("test_acc"),
            "decision": None if ev is None else np.array(ev["P"]),
            "grad_norms": [] if ev is None else list(ev["grad_norms"]),
            "saturation": [] if ev is None else list(ev["saturation"]),
            "weights": [layer.W.data.copy() for layer in self.linears],
            "diverged_at": self.diverged_at,
            "message": self.message,
        }

    def __repr__(self) -> str:
        c, L = self.config, self.history["train_loss"]
        loss = f"train loss {L[-1]:.4f}" if L else "not evaluated"
        return (f"<PlaygroundSession {c['dataset']}, MLP {list(self.model.sizes)} {c['activation']}, "
                f"{c['optimizer']} lr={self.optimizer.lr:.2g}; step {self.step_count}, {loss}>")
