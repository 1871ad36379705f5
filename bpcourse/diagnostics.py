"""Looking inside a network while it learns (notebooks 08-10).

Every function here *reads* a model: nothing changes its weights.

* ``grad_norms(model)``      ||dW|| (Frobenius) per Linear layer, from the current ``.grad``.
* ``delta_norms(model)``     ||db|| per Linear layer.  With a mean loss, db = mean over the batch
                             of δˡ, so this is the per-layer ||δˡ|| Nielsen plots in chapter 5
                             ("the speed of learning" of each layer).
* ``activation_stats(model)`` mean, std, saturated fraction and dead fraction of every activation
                             layer, from the output it cached in its last forward pass.
* ``snapshot`` / ``update_ratio``  ||ΔW|| / ||W|| per parameter between two snapshots
                             (the update/data ratio; around 1e-3 is a common rule of thumb).
* ``layer_gradients(model, X, y, loss)``  one forward and backward pass, returning the norms.
* ``Recorder``               collects these numbers during ``bp.train.fit`` (a callback).

Layers are named by their ``name`` (``MLP`` names its Linear layers ``Linear1(2->16)``, ...);
when a name occurs more than once, a running number is appended (``Tanh1``, ``Tanh2``, ...).
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from .dense import Activation, Linear
from .module import Module

__all__ = ["named_layers", "linear_layers", "activation_layers", "grad_norms", "delta_norms",
           "activation_stats", "snapshot", "update_ratio", "layer_gradients", "Recorder",
           "TANH_SATURATION", "SIGMOID_SATURATION"]

TANH_SATURATION = 0.99            # |tanh(z)| > 0.99  <=>  tanh'(z) < 0.02
SIGMOID_SATURATION = (0.01, 0.99)  # σ(z) outside [0.01, 0.99]  <=>  σ'(z) < 0.0099


# --------------------------------------------------------------------------------------------
# finding layers
# --------------------------------------------------------------------------------------------

def _check_model(model, who):
    if not isinstance(model, Module):
        raise TypeError(f"{who}: expected a bpcourse Module (e.g. bp.nn.MLP), got {type(model).__name__}")


def _walk(module):
    """The module and all its descendants, depth first, in forward order."""
    yield module
    for child in module.children():
        yield from _walk(child)


def _unique_names(layers):
    counts = {}
    for layer in layers:
        counts[layer.name] = counts.get(layer.name, 0) + 1
    seen, names = {}, []
    for layer in layers:
        name = layer.name
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            name = f"{name}[{seen[name]}]" if name.endswith(")") else f"{name}{seen[name]}"
        names.append(name)
    return names


def named_layers(model, kind=Module):
    """``[(name, layer), ...]`` for every sub-module of ``model`` that is an instance of ``kind``."""
    _check_model(model, "named_layers")
    layers = [m for m in _walk(model) if isinstance(m, kind)]
    return list(zip(_unique_names(layers), layers))


def linear_layers(model):
    """``[(name, Linear), ...]`` in forward order."""
    return named_layers(model, Linear)


def activation_layers(model):
    """``[(name, Activation), ...]`` in forward order."""
    return named_layers(model, Activation)


def _norm(a):
    """Frobenius / L2 norm of an array of any shape."""
    a = np.ravel(a)
    return math.sqrt(float(np.dot(a, a)))


# --------------------------------------------------------------------------------------------
# gradients
# --------------------------------------------------------------------------------------------

def grad_norms(model):
    """Ordered dict Linear-layer name -> ||dW||_F, read from ``layer.W.grad``.

    Call after ``model.backward(...)``; the values are whatever the ``.grad`` arrays hold now.
    """
    return OrderedDict((name, _norm(layer.W.grad)) for name, layer in linear_layers(model))


def delta_norms(model):
    """Ordered dict Linear-layer name -> ||db|| (the bias gradient).

    db = Σ_n delta_n (BP3); with a loss that is a mean over the batch this is the batch-mean of
    δˡ, whose length Nielsen (chapter 5) uses to compare how fast each layer learns.
    """
    return OrderedDict((name, _norm(layer.b.grad)) for name, layer in linear_layers(model))


# --------------------------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------------------------

def _saturated_fraction(kind, A):
    if kind == "tanh":
        return float(np.mean(np.abs(A) > TANH_SATURATION))
    if kind == "sigmoid":
        lo, hi = SIGMOID_SATURATION
        return float(np.mean((A < lo) | (A > hi)))
    return None


def _dead_fraction(kind, Z):
    """Fraction of units (columns) that are inactive (z <= 0) for every example of the batch."""
    if kind not in ("relu", "leaky_relu"):
        return None
    Z2 = Z.reshape(-1, Z.shape[-1]) if Z.ndim > 1 else Z.reshape(-1, 1)
    return float(np.mean(np.all(Z2 <= 0, axis=0)))


def activation_stats(model):
    """Ordered dict activation-layer name -> ``{"kind", "mean", "std", "saturation", "dead"}``.

    Read from each layer's cached ``(Z, A)`` of its last forward pass (shape (N, n)):

    * ``mean``, ``std`` of all entries of A;
    * ``saturation``: fraction of entries with |tanh| > 0.99 (tanh) or σ outside [0.01, 0.99]
      (sigmoid); ``None`` for other activations;
    * ``dead``: fraction of units that are 0 (z <= 0) for *every* example of the batch
      (relu, leaky_relu); ``None`` otherwise.

    Raises RuntimeError if the model has not run forward yet.
    """
    out = OrderedDict()
    for name, layer in activation_layers(model):
        cache = getattr(layer, "_cache", None)
        if cache is None:
            raise RuntimeError(f"activation_stats: layer {name} has no cached output; run a forward "
                               "pass first, e.g. model(X)")
        Z, A = cache
        out[name] = {"kind": layer.kind, "mean": float(np.mean(A)), "std": float(np.std(A)),
                     "saturation": _saturated_fraction(layer.kind, A), "dead": _dead_fraction(layer.kind, Z)}
    return out


# --------------------------------------------------------------------------------------------
# updates
# --------------------------------------------------------------------------------------------

def snapshot(model):
    """Ordered dict parameter name -> a *copy* of its data (``named_parameters`` names)."""
    _check_model(model, "snapshot")
    return OrderedDict((name, p.data.copy()) for name, p in model.named_parameters())


def update_ratio(before, after):
    """Ordered dict parameter name -> ||after − before|| / ||before||.

    ``before``, ``after``: snapshots (or models, which are snapshotted now).  A parameter that was
    all zeros before (a fresh bias) gives ``inf`` if it moved and ``0.0`` if it did not.
    """
    before = snapshot(before) if isinstance(before, Module) else before
    after = snapshot(after) if isinstance(after, Module) else after
    if list(before) != list(after):
        raise ValueError("update_ratio: the two snapshots hold different parameters: "
                         f"{list(before)} vs {list(after)}")
    out = OrderedDict()
    for name, W0 in before.items():
        W1 = after[name]
        if np.shape(W0) != np.shape(W1):
            raise ValueError(f"update_ratio: parameter {name} has shape {np.shape(W0)} before "
                             f"and {np.shape(W1)} after")
        out[name] = _ratio(W0, W1)
    return out


def _ratio(W0, W1):
    """||W1 − W0|| / ||W0||; a parameter that was all zeros gives inf if it moved, 0.0 if not."""
    d, n = _norm(np.asarray(W1) - np.asarray(W0)), _norm(W0)
    return d / n if n > 0 else (math.inf if d > 0 else 0.0)


def layer_gradients(model, X, y, loss):
    """One forward and backward pass on (X, y); returns ``{"loss", "dW", "db"}``.

    ``dW`` and ``db`` are ordered dicts Linear-layer name -> ||dW||, ||db|| for this batch alone.
    The weights, the previous ``.grad`` arrays and the train/eval mode are left as they were.
    ``loss``: a Loss object or a name (see ``bp.losses.get_loss``).
    """
    from .losses import get_loss

    _check_model(model, "layer_gradients")
    loss = get_loss(loss)
    params = model.parameters()
    saved = [p.grad.copy() for p in params]
    try:
        for p in params:
            p.grad[...] = 0.0
        L = loss(model.forward(X), y)
        model.backward(loss.backward())
        return {"loss": L, "dW": grad_norms(model), "db": delta_norms(model)}
    finally:
        for p, g in zip(params, saved):
            p.grad[...] = g


# --------------------------------------------------------------------------------------------
# the recorder
# --------------------------------------------------------------------------------------------

class Recorder:
    """Collect per-layer diagnostics during training; a callback for ``bp.train.fit``.

        rec = Recorder(delta_norms=True, X_probe=X[:256])
        fit(net, "cross_entropy", opt, X, y, callbacks=[rec])
        rec.grad_norms["Linear1(64->32)"]      # one number per epoch

    ``fit`` calls ``rec.on_step(model)`` after every backward pass and ``rec(epoch, history, model)``
    at the end of every epoch.  Per-epoch values:

    * ``grad_norms[layer]``, ``delta_norms[layer]``: ||dW||, ||db|| averaged over the epoch's steps
      (the raw backprop gradient, before any regularisation or clipping); one norm per Linear
      layer per step, so cheap;
    * ``update_ratios[param]``: ||ΔW||/||W|| of the epoch's last optimizer step (costs one copy of
      the weights per step, so off by default);
    * ``activations[layer][stat]``: ``activation_stats`` on ``X_probe`` (a fixed batch, run in eval
      mode at the end of each epoch), when ``X_probe`` is given.
    """

    def __init__(self, grad_norms=True, delta_norms=False, update_ratios=False, X_probe=None):
        self.record_grad = bool(grad_norms)
        self.record_delta = bool(delta_norms)
        self.record_updates = bool(update_ratios)
        self.X_probe = None if X_probe is None else np.asarray(X_probe)
        self.grad_norms = OrderedDict()
        self.delta_norms = OrderedDict()
        self.update_ratios = OrderedDict()
        self.activations = OrderedDict()
        self.epochs = []
        self._model = None
        self._reset_epoch()

    def _reset_epoch(self):
        self._steps = 0
        self._sum_dW = None
        self._sum_db = None
        self._before = None

    def _bind(self, model):
        if self._model is not model:
            _check_model(model, "Recorder")
            self._model = model
            self._layers = linear_layers(model)
            self._names = [n for n, _ in self._layers]
            self._params = model.named_parameters()

    def on_step(self, model):
        """Called after each backward pass (before the optimizer step)."""
        self._bind(model)
        if self.record_grad:
            norms = np.array([_norm(layer.W.grad) for _, layer in self._layers])
            self._sum_dW = norms if self._sum_dW is None else self._sum_dW + norms
        if self.record_delta:
            norms = np.array([_norm(layer.b.grad) for _, layer in self._layers])
            self._sum_db = norms if self._sum_db is None else self._sum_db + norms
        if self.record_updates:
            self._before = [p.data.copy() for _, p in self._params]
        self._steps += 1

    @staticmethod
    def _append(store, names, values):
        for name, v in zip(names, values):
            store.setdefault(name, []).append(float(v))

    def __call__(self, epoch, history=None, model=None):
        """End of an epoch: average the step values and append one number per layer."""
        model = model if model is not None else self._model
        if model is None:
            raise RuntimeError("Recorder: no model seen yet; pass it as the third argument")
        self._bind(model)
        self.epochs.append(epoch)
        if self._steps:
            if self.record_grad:
                self._append(self.grad_norms, self._names, self._sum_dW / self._steps)
            if self.record_delta:
                self._append(self.delta_norms, self._names, self._sum_db / self._steps)
        if self.record_updates and self._before is not None:
            for (name, p), W0 in zip(self._params, self._before):
                self.update_ratios.setdefault(name, []).append(_ratio(W0, p.data))
        if self.X_probe is not None:
            was_training = model.training
            model.eval()
            try:
                model.forward(self.X_probe)
                stats = activation_stats(model)
            finally:
                model.train(was_training)
            for name, s in stats.items():
                per_layer = self.activations.setdefault(name, OrderedDict())
                for key in ("mean", "std", "saturation", "dead"):
                    per_layer.setdefault(key, []).append(s[key])
        self._reset_epoch()
        return False          # never asks fit to stop

    def as_dict(self):
        return {"epochs": list(self.epochs),
                "grad_norms": {k: list(v) for k, v in self.grad_norms.items()},
                "delta_norms": {k: list(v) for k, v in self.delta_norms.items()},
                "update_ratios": {k: list(v) for k, v in self.update_ratios.items()},
                "activations": {k: {s: list(v) for s, v in d.items()} for k, d in self.activations.items()}}

    def __repr__(self):
        return f"Recorder(epochs={len(self.epochs)}, layers={list(self.grad_norms) or list(self.delta_norms)})"
