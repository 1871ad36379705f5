"""The training loop (notebook 06): ``fit(...)`` -> ``History``.

One step of mini-batch gradient descent is exactly what the notebooks derive:

    model.zero_grad()
    A = model(X_batch)                    # forward, caching Z and A per layer
    L = loss(A, y_batch)                  # the mean over the batch
    model.backward(loss.backward())       # BP1-BP4: fills every Parameter's .grad
    optimizer.step()                      # w <- w - lr * dw  (or momentum / Adam)

``fit`` adds what a real loop needs around it: a seeded shuffle per epoch, optional L1/L2
regularisation and gradient clipping, validation, early stopping, callbacks, a progress bar,
and a clear error when training diverges.
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from .diagnostics import Recorder
from .losses import BCE, SoftmaxCrossEntropy, get_loss
from .nn import Module, Sequential
from .optim import clip_grad_norm
from .validate import NonFiniteError

__all__ = ["fit", "evaluate", "predict", "History", "TrainingDiverged", "Regularization",
           "accuracy_fn"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf (or a forward pass met NaN/inf): the step was too large."""

    def __init__(self, message, epoch=None, step=None, loss=None, lr=None):
        super().__init__(message)
        self.epoch, self.step, self.loss, self.lr = epoch, step, loss, lr


@dataclass
class History:
    """What ``fit`` measured, one entry per epoch (epochs are numbered from 1).

    loss, acc:          the training loss (including any regularisation penalty) and accuracy,
                        averaged over the epoch's mini-batches as they were trained on;
    val_loss, val_acc:  loss and accuracy on the validation data after the epoch (eval mode);
    grad_norms:         layer name -> ||dW|| averaged over the epoch (``record_grad_norms=True``).

    ``acc``/``val_acc`` stay empty when there is no metric (e.g. MSE), ``val_*`` when there is no
    validation data.  ``seconds`` (wall time) is not part of ``as_dict()``, so two runs with the
    same seed give equal dicts.
    """

    epoch: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    grad_norms: dict = field(default_factory=dict)
    stopped_early: bool = False
    stop_reason: str = ""
    best_epoch: int | None = None
    metric: str | None = None
    seconds: float = 0.0

    def as_dict(self):
        return {"epoch": list(self.epoch), "loss": list(self.loss), "acc": list(self.acc),
                "val_loss": list(self.val_loss), "val_acc": list(self.val_acc),
                "grad_norms": {k: list(v) for k, v in self.grad_norms.items()},
                "stopped_early": self.stopped_early, "stop_reason": self.stop_reason,
                "best_epoch": self.best_epoch, "metric": self.metric}

    def __len__(self):
        return len(self.epoch)

    def __repr__(self):
        if not self.epoch:
            return "History(no epochs)"
        parts = [f"epochs={len(self.epoch)}", f"loss={self.loss[-1]:.4g}"]
        if self.acc:
            parts.append(f"acc={self.acc[-1]:.4f}")
        if self.val_loss:
            parts.append(f"val_loss={self.val_loss[-1]:.4g}")
        if self.val_acc:
            parts.append(f"val_acc={self.val_acc[-1]:.4f}")
        if self.stopped_early:
            parts.append(f"stopped early ({self.stop_reason}), best_epoch={self.best_epoch}")
        return f"History({', '.join(parts)})"


# --------------------------------------------------------------------------------------------
# regularisation
# --------------------------------------------------------------------------------------------

class Regularization:
    """L2 ("l2": penalty lam/2·||W||², gradient lam·W) or L1 ("l1": lam·Σ|W|, gradient lam·sign W).

    Applied to weight matrices only (parameters with 2 or more dimensions), never to biases.
    Any object with ``penalty(W) -> float`` and ``gradient(W) -> array`` can be passed instead.
    """

    KINDS = ("l1", "l2")

    def __init__(self, kind, lam):
        if kind not in self.KINDS:
            raise ValueError(f"regularization: unknown kind {kind!r}; valid: {', '.join(self.KINDS)}")
        if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not math.isfinite(lam) or lam < 0:
            raise ValueError(f"regularization: strength must be a finite number >= 0, got {lam!r}")
        self.kind, self.lam = kind, float(lam)

    def penalty(self, W):
        if self.kind == "l2":
            return 0.5 * self.lam * float(np.vdot(W, W))
        return self.lam * float(np.abs(W).sum())

    def gradient(self, W):
        return self.lam * W if self.kind == "l2" else self.lam * np.sign(W)

    def __repr__(self):
        return f"Regularization({self.kind!r}, {self.lam:g})"


def _as_regularization(reg):
    if reg is None:
        return None
    if isinstance(reg, (tuple, list)):
        if len(reg) != 2:
            raise ValueError(f"regularization: expected a pair like ('l2', 1e-4), got {reg!r}")
        return Regularization(*reg)
    if hasattr(reg, "penalty") and hasattr(reg, "gradient"):
        return reg
    raise ValueError(f"regularization: expected None, ('l2', lam), ('l1', lam) or an object with "
                     f"penalty(W) and gradient(W), got {reg!r}")


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------

def _argmax_accuracy(pred, y):
    return float(np.mean(pred.argmax(axis=1) == y))


def _make_threshold_accuracy(threshold):
    def accuracy(pred, y):
        return float(np.mean((pred.reshape(-1) > threshold) == (np.reshape(y, -1) > 0.5)))
    return accuracy


def accuracy_fn(loss, metric="auto"):
    """The metric used by ``fit``/``evaluate``: a function (pred, y) -> float, or None.

    "auto": argmax for SoftmaxCrossEntropy; threshold for BCE (logit > 0 with from_logits,
    probability > 0.5 otherwise); None for other losses (MSE, cosine).
    "accuracy": argmax if the loss is SoftmaxCrossEntropy, else the BCE-style threshold.
    None: no metric.  A callable ``metric(pred, y) -> float`` is used as given.
    """
    if metric is None:
        return None
    if callable(metric):
        return metric
    if metric not in ("auto", "accuracy"):
        raise ValueError(f"metric must be 'auto', 'accuracy', None or a function (pred, y) -> float; "
                         f"got {metric!r}")
    if isinstance(loss, SoftmaxCrossEntropy):
        return _argmax_accuracy
    if isinstance(loss, BCE):
        return _make_threshold_accuracy(0.0 if loss.from_logits else 0.5)
    return _make_threshold_accuracy(0.5) if metric == "accuracy" else None


def _metric_name(fn):
    if fn is None:
        return None
    return "accuracy" if fn is _argmax_accuracy or fn.__name__ == "accuracy" else fn.__name__


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------

def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"fit: {name} must be {what}, got {value!r}")
    return int(value)


def _as_data(X, y, who, xname="X", yname="y"):
    if X is None or y is None:
        raise ValueError(f"{who}: {xname} and {yname} must be given together")
    X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float64)
    y = y if isinstance(y, np.ndarray) else np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{who}: {xname} and {yname} must be arrays with one row per example, "
                         f"got shapes {X.shape} and {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"{who}: {xname} has {len(X)} rows but {yname} has {len(y)}; "
                         "they must have one row per example")
    if len(X) == 0:
        raise ValueError(f"{who}: {xname} is empty")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if not np.isfinite(X.sum()) and not np.isfinite(X).all():
        bad = int(X.size - np.isfinite(X).sum())
        raise NonFiniteError(f"{who}: {xname} contains {bad} NaN or inf value(s); clean the data first")
    return X, y


def _prepare_targets(loss, y):
    """Integer 0/1 labels become floats once for losses that need floats (not per step)."""
    if not isinstance(loss, SoftmaxCrossEntropy) and y.dtype.kind in "biu":
        return y.astype(np.float64)
    return y


def _check_model_optimizer(model, optimizer):
    if not isinstance(model, Module):
        for attr in ("forward", "backward", "parameters"):
            if not hasattr(model, attr):
                raise TypeError(f"fit: model must be a bpcourse Module (has no .{attr}), "
                                f"got {type(model).__name__}")
    if not hasattr(optimizer, "step"):
        raise TypeError(f"fit: optimizer must have a step() method (e.g. bp.optim.SGD), "
                        f"got {type(optimizer).__name__}")


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------

def _forward_batches(model, X, batch_size):
    if batch_size is None or len(X) <= batch_size:
        yield 0, len(X), model.forward(X)
        return
    for start in range(0, len(X), batch_size):
        stop = min(start + batch_size, len(X))
        yield start, stop, model.forward(X[start:stop])


class _EvalMode:
    """Context manager: eval() inside, the previous mode restored after."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.was_training = getattr(self.model, "training", True)
        if hasattr(self.model, "eval"):
            self.model.eval()
        return self.model

    def __exit__(self, *exc):
        if hasattr(self.model, "train"):
            self.model.train(self.was_training)
        return False


def predict(model, X, batch_size=4096):
    """The model's outputs for X in eval mode: (N, n_in) -> (N, n_out).  Mode restored after."""
    X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float64)
    with _EvalMode(model):
        parts = [out for _, _, out in _forward_batches(model, X, batch_size)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


def evaluate(model, loss, X, y, metric="auto", batch_size=4096):
    """``(mean loss, accuracy)`` of the model on (X, y) in eval mode; accuracy is None when the
    loss has no natural metric (see ``accuracy_fn``).  Weights and mode are left unchanged."""
    loss = get_loss(loss)
    X, y = _as_data(X, y, "evaluate")
    y = _prepare_targets(loss, y)
    acc_fn = accuracy_fn(loss, metric)
    total_loss, total_acc = 0.0, 0.0
    with _EvalMode(model):
        for start, stop, out in _forward_batches(model, X, batch_size):
            yb = y[start:stop]
            n = stop - start
            total_loss += loss(out, yb) * n
            if acc_fn is not None:
                total_acc += acc_fn(out, yb) * n
    N = len(X)
    return total_loss / N, (total_acc / N if acc_fn is not None else None)


# --------------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------------

def _diverged(epoch, step, value, optimizer, cause=""):
    lr = getattr(optimizer, "lr", None)
    lr_text = (f"the optimizer's learning rate is lr={lr:g}; try lr={lr / 10:g} or smaller"
               if isinstance(lr, numbers.Real) else "lower the optimizer's step size")
    msg = (f"training diverged at epoch {epoch}, step {step}: the loss is {value}"
           f"{' (' + cause + ')' if cause else ''}. The steps are too large: use a smaller "
           f"learning rate ({lr_text}), or clip the gradients with clip_norm=...")
    return TrainingDiverged(msg, epoch=epoch, step=step, loss=value, lr=lr)


def _make_progress(progress, total):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="step", desc="fit", leave=True)


def _epoch_postfix(history):
    post = {"loss": f"{history.loss[-1]:.4g}"}
    if history.acc:
        post["acc"] = f"{history.acc[-1]:.3f}"
    if history.val_loss:
        post["val_loss"] = f"{history.val_loss[-1]:.4g}"
    if history.val_acc:
        post["val_acc"] = f"{history.val_acc[-1]:.3f}"
    return post


def fit(model, loss, optimizer, X, y, epochs=10, batch_size=32, X_val=None, y_val=None, seed=0,
        shuffle=True, progress="auto", record_grad_norms=False, clip_norm=None, early_stopping=None,
        regularization=None, callbacks=(), metric="auto"):
    """Train ``model`` with mini-batch gradient descent; returns a ``History``.

    model:          a bpcourse Module, e.g. ``bp.nn.MLP([64, 32, 10])``; outputs logits.
    loss:           a Loss or a name (``"cross_entropy"``, ``"bce_logits"``, ``"mse"``, ...).
    optimizer:      e.g. ``bp.optim.SGD(model.parameters(), lr=0.1)``.
    X, y:           (N, n_in) inputs and N targets (class indices for cross-entropy).
    epochs:         passes over the data (0 returns an empty History).
    batch_size:     examples per step; the last batch of an epoch may be smaller.
    X_val, y_val:   optional validation data, evaluated in eval mode after each epoch.
    seed, shuffle:  the order of examples is a permutation drawn from ``seed`` each epoch, so the
                    same seed and the same initial model give the same History.
    progress:       "auto" (tqdm.auto: a widget in notebooks, text in a terminal) or False.
    record_grad_norms: fill ``history.grad_norms`` (||dW|| per Linear layer, epoch average).
    clip_norm:      rescale all gradients together to at most this global norm before each step.
    early_stopping: k: stop when the validation loss has not improved for k epochs; the weights
                    of the best epoch are restored at the end (needs X_val, y_val).
    regularization: ``("l2", lam)``, ``("l1", lam)`` or a ``Regularization``: adds lam·W or
                    lam·sign(W) to the gradients of weight matrices, and its penalty to the loss.
    callbacks:      functions ``cb(epoch, history, model)`` called after each epoch; returning
                    True stops training.  A callback with an ``on_step(model)`` method (such as
                    ``diagnostics.Recorder``) is also called after every backward pass.
    metric:         "auto", "accuracy", None or a function (pred, y) -> float (see accuracy_fn).

    Raises TrainingDiverged (a FloatingPointError) when the loss becomes NaN/inf.
    """
    _check_model_optimizer(model, optimizer)
    loss_fn = get_loss(loss)
    X, y = _as_data(X, y, "fit")
    epochs = _check_int("epochs", epochs, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    has_val = X_val is not None or y_val is not None
    if has_val:
        X_val, y_val = _as_data(X_val, y_val, "fit", "X_val", "y_val")
    if early_stopping is not None:
        early_stopping = _check_int("early_stopping", early_stopping, 1)
        if not has_val:
            raise ValueError("fit: early_stopping needs validation data (X_val, y_val)")
    if clip_norm is not None and (isinstance(clip_norm, bool) or not isinstance(clip_norm, numbers.Real)
                                  or not clip_norm > 0 or not math.isfinite(clip_norm)):
        raise ValueError(f"fit: clip_norm must be None or a positive number, got {clip_norm!r}")
    callbacks = list(callbacks) if callbacks is not None else []
    for i, cb in enumerate(callbacks):
        if not callable(cb):
            raise TypeError(f"fit: callbacks[{i}] is a {type(cb).__name__}, not a function "
                            "cb(epoch, history, model)")
    if progress not in ("auto", True, False, None):
        raise ValueError(f"fit: progress must be 'auto', True or False, got {progress!r}")
    reg = _as_regularization(regularization)
    acc_fn = accuracy_fn(loss_fn, metric)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    y = _prepare_targets(loss_fn, y)
    N = len(X)
    params = model.parameters()
    weights = [p for p in params if p.data.ndim >= 2] if reg is not None else []
    recorder = Recorder(grad_norms=True) if record_grad_norms else None
    step_hooks = ([recorder.on_step] if recorder else []) + \
                 [cb.on_step for cb in callbacks if callable(getattr(cb, "on_step", None))]
    epoch_hooks = ([recorder] if recorder else []) + callbacks

    history = History(metric=_metric_name(acc_fn))
    if recorder:
        history.grad_norms = recorder.grad_norms
    steps_per_epoch = -(-N // batch_size)
    bar = _make_progress(progress, epochs * steps_per_epoch) if epochs else None
    bar_every = max(1, steps_per_epoch // 50)      # keep tqdm's cost per step negligible
    best_loss, best_weights, since_best = math.inf, None, 0
    t0 = time.perf_counter()
    if hasattr(model, "train"):
        model.train()
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(1, epochs + 1):
                if shuffle:
                    order = rng.permutation(N)
                    Xe, ye = X[order], y[order]
                else:
                    Xe, ye = X, y
                sum_loss, sum_acc = 0.0, 0.0
                for step, start in enumerate(range(0, N, batch_size), start=1):
                    Xb = Xe[start:start + batch_size]
                    yb = ye[start:start + batch_size]
                    for p in params:
                        p.zero_grad()       # lazy (nn.Parameter): backward overwrites the buffer
                    try:
                        out = model.forward(Xb)
                        L = loss_fn(out, yb)
                    except NonFiniteError as err:
                        raise _diverged(epoch, step, math.nan, optimizer, str(err)) from err
                    if not math.isfinite(L):
                        raise _diverged(epoch, step, L, optimizer)
                    dout = loss_fn.backward()
                    if isinstance(model, Sequential):
                        model.backward(dout, input_grad=False)   # the data needs no gradient
                    else:
                        model.backward(dout)
                    for hook in step_hooks:
                        hook(model)
                    if reg is not None:
                        for W in weights:
                            W.grad += reg.gradient(W.data)
                            L += reg.penalty(W.data)
                        if not math.isfinite(L):
                            raise _diverged(epoch, step, L, optimizer, "with the regularisation penalty")
                    if clip_norm is not None:
                        clip_grad_norm(params, clip_norm)
                    optimizer.step()
                    n = len(Xb)
                    sum_loss += L * n
                    if acc_fn is not None:
                        sum_acc += acc_fn(out, yb) * n
                    if bar is not None and step % bar_every == 0:
                        bar.update(bar_every)
                if bar is not None and steps_per_epoch % bar_every:
                    bar.update(steps_per_epoch % bar_every)
                if not all(np.isfinite(p.data.sum()) for p in params):
                    raise _diverged(epoch, steps_per_epoch, "finite, but the last step made some "
                                    "weights NaN or inf", optimizer)

                history.epoch.append(epoch)
                history.loss.append(sum_loss / N)
                if acc_fn is not None:
                    history.acc.append(sum_acc / N)
                stop, reason = False, ""
                if has_val:
                    vl, va = evaluate(model, loss_fn, X_val, y_val, metric=acc_fn)
                    history.val_loss.append(vl)
                    if va is not None:
                        history.val_acc.append(va)
                    if vl < best_loss:
                        best_loss, since_best, history.best_epoch = vl, 0, epoch
                        if early_stopping is not None:
                            best_weights = [p.data.copy() for p in params]
                    else:
                        since_best += 1
                        if early_stopping is not None and since_best >= early_stopping:
                            stop, reason = True, "early_stopping"
                for cb in epoch_hooks:
                    if cb(epoch, history, model) is True and not stop:
                        stop, reason = True, "callback"
                if bar is not None:
                    bar.set_postfix(_epoch_postfix(history))
                if stop and epoch < epochs:
                    history.stopped_early, history.stop_reason = True, reason
                    break
    finally:
        if bar is not None:
            bar.close()
        history.seconds = time.perf_counter() - t0
    if best_weights is not None:
        for p, W in zip(params, best_weights):
            p.data[...] = W
    return history
