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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .diagnostics import Recorder
from .losses import BCE, Loss, SoftmaxCrossEntropy, get_loss
from .module import Module, backward_for_parameters
from .optim import Optimizer, clip_grad_norm
from .regularization import EarlyStopping, Regularization, as_regularization
from .validate import NonFiniteError, as_rng, int_in_range, positive_int, real

__all__ = ["fit", "train_step", "evaluate", "predict", "History", "TrainingDiverged", "LossNotFinite",
           "Regularization", "accuracy_fn"]


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
# metrics
# --------------------------------------------------------------------------------------------

def _argmax_accuracy(pred, y):
    return float(np.mean(pred.argmax(axis=1) == y))


def _make_threshold_accuracy(threshold):
    def accuracy(pred, y):
        return float(np.mean((pred.reshape(-1) > threshold) == (np.reshape(y, -1) > 0.5)))
    return accuracy


def accuracy_fn(loss: Loss, metric: Any = "auto") -> Callable[[np.ndarray, np.ndarray], float] | None:
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


def predict(model: Module, X: ArrayLike, batch_size: int | None = 4096) -> np.ndarray:
    """The model's outputs for X in eval mode: (N, n_in) -> (N, n_out).  Mode restored after."""
    X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float64)
    with _EvalMode(model):
        parts = [out for _, _, out in _forward_batches(model, X, batch_size)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


def evaluate(model: Module, loss: Loss | str, X: ArrayLike, y: ArrayLike, metric: Any = "auto",
             batch_size: int | None = 4096) -> tuple[float, float | None]:
    """``(mean loss, accuracy)`` of the model on (X, y) in eval mode; accuracy is None when the
    loss has no natural metric (see ``accuracy_fn``).  Weights and mode are left unchanged."""
    loss_fn = get_loss(loss)
    Xa, ya = _as_data(X, y, "evaluate")
    ya = _prepare_targets(loss_fn, ya)
    acc_fn = accuracy_fn(loss_fn, metric)
    total_loss, total_acc = 0.0, 0.0
    with _EvalMode(model):
        for start, stop, out in _forward_batches(model, Xa, batch_size):
            yb = ya[start:stop]
            n = stop - start
            total_loss += loss_fn(out, yb) * n
            if acc_fn is not None:
                total_acc += acc_fn(out, yb) * n
    N = len(Xa)
    return total_loss / N, (total_acc / N if acc_fn is not None else None)


# --------------------------------------------------------------------------------------------
# one step
# --------------------------------------------------------------------------------------------

class LossNotFinite(NonFiniteError):
    """``train_step``: the loss (or the loss plus the penalty) is NaN or inf; no weight was changed."""

    def __init__(self, loss, cause=""):
        super().__init__(f"the loss is {loss}" + (f" ({cause})" if cause else ""))
        self.loss, self.cause = loss, cause


def train_step(model: Module, loss: Loss, optimizer: Optimizer, X: np.ndarray, y: np.ndarray,
               regularization: Any = None, clip: float | None = None,
               hooks: Iterable[Callable[[Module], Any]] = ()) -> tuple[float, np.ndarray]:
    """One step of mini-batch gradient descent on the batch (X, y); returns ``(C, out)``: the loss C and the output.

    zero_grad, forward (out = model(X), shape (N, n_out)), C = loss(out, y), backward (BP1-BP4),
    then the regulariser's gradient is added to every weight matrix and its penalty to C,
    gradients are clipped to global norm ``clip``, and ``optimizer.step()`` updates the weights.
    ``hooks``: functions ``hook(model)`` called right after the backward pass (e.g. a Recorder's
    ``on_step``).  ``regularization`` is None, ``("l2", lam)``, ``("l1", lam)`` or a
    ``Regularization``; ``loss`` a Loss object (see ``losses.get_loss``).

    Raises ``NonFiniteError`` (from the forward pass) or ``LossNotFinite`` (a NonFiniteError)
    before any weight changes when a NaN or inf appears.
    """
    reg = as_regularization(regularization)
    params = model.parameters()
    for p in params:
        p.zero_grad()                    # lazy (Parameter): backward overwrites the buffers
    out = model.forward(X)
    L = loss(out, y)
    if not math.isfinite(L):
        raise LossNotFinite(L)
    dout = loss.backward()
    backward_for_parameters(model, dout)           # the data needs no gradient
    for hook in hooks:
        hook(model)
    if reg is not None:
        for W in [p for p in params if p.data.ndim >= 2]:      # weight matrices, never biases
            W.grad += reg.gradient(W.data)
            L += reg.penalty(W.data)
        if not math.isfinite(L):
            raise LossNotFinite(L, "with the regularisation penalty")
    if clip is not None:
        clip_grad_norm(params, clip)
    optimizer.step()
    return L, out


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


class _Run:
    """Everything ``fit`` checks and derives from its arguments, in the order it checks them."""

    def __init__(self, model, loss, optimizer, X, y, epochs, batch_size, X_val, y_val, seed, shuffle,
                 progress, record_grad_norms, clip_norm, early_stopping, regularization, callbacks, metric):
        _check_model_optimizer(model, optimizer)
        self.model, self.optimizer, self.loss = model, optimizer, get_loss(loss)
        X, y = _as_data(X, y, "fit")
        self.epochs = int_in_range(epochs, "epochs", "fit", 0)
        self.batch_size = positive_int(batch_size, "batch_size", "fit")
        self.has_val = X_val is not None or y_val is not None
        if self.has_val:
            X_val, y_val = _as_data(X_val, y_val, "fit", "X_val", "y_val")
        if early_stopping is not None:
            early_stopping = positive_int(early_stopping, "early_stopping", "fit")
            if not self.has_val:
                raise ValueError("fit: early_stopping needs validation data (X_val, y_val)")
        self.clip = None if clip_norm is None else real(clip_norm, "clip_norm", "fit", low=0, low_open=True)
        callbacks = list(callbacks) if callbacks is not None else []
        for i, cb in enumerate(callbacks):
            if not callable(cb):
                raise TypeError(f"fit: callbacks[{i}] is a {type(cb).__name__}, not a function "
                                "cb(epoch, history, model)")
        if progress not in ("auto", True, False, None):
            raise ValueError(f"fit: progress must be 'auto', True or False, got {progress!r}")
        self.reg = as_regularization(regularization)
        self.acc_fn = accuracy_fn(self.loss, metric)
        self.rng, self.shuffle = as_rng(seed), shuffle
        self.X, self.y, self.X_val, self.y_val = X, _prepare_targets(self.loss, y), X_val, y_val
        self.history = History(metric=_metric_name(self.acc_fn))
        recorder = Recorder(grad_norms=True) if record_grad_norms else None
        if recorder:
            self.history.grad_norms = recorder.grad_norms
        self.step_hooks = ([recorder.on_step] if recorder else []) + \
            [cb.on_step for cb in callbacks if callable(getattr(cb, "on_step", None))]
        self.epoch_hooks = ([recorder] if recorder else []) + callbacks
        # the best epoch is tracked whenever there is validation data; weights kept only to restore
        self.early_stopping = early_stopping
        self.best = EarlyStopping(patience=early_stopping or self.epochs + 1,
                                  model=model if early_stopping else None)
        self.steps_per_epoch = -(-len(X) // self.batch_size)
        self.bar = _make_progress(progress, self.epochs * self.steps_per_epoch) if self.epochs else None
        self.bar_every = max(1, self.steps_per_epoch // 50)      # keep tqdm's cost per step negligible


def _train_epoch(run, epoch):
    """One pass over the (shuffled) data; returns the mean loss and accuracy over its batches."""
    order = run.rng.permutation(len(run.X)) if run.shuffle else None
    X, y = (run.X, run.y) if order is None else (run.X[order], run.y[order])
    sum_loss, sum_acc, bs = 0.0, 0.0, run.batch_size
    for step, start in enumerate(range(0, len(X), bs), start=1):
        Xb, yb = X[start:start + bs], y[start:start + bs]
        try:
            L, out = train_step(run.model, run.loss, run.optimizer, Xb, yb, run.reg, run.clip, run.step_hooks)
        except LossNotFinite as err:
            raise _diverged(epoch, step, err.loss, run.optimizer, err.cause) from err
        except NonFiniteError as err:
            raise _diverged(epoch, step, math.nan, run.optimizer, str(err)) from err
        sum_loss += L * len(Xb)
        if run.acc_fn is not None:
            sum_acc += run.acc_fn(out, yb) * len(Xb)
        if run.bar is not None and step % run.bar_every == 0:
            run.bar.update(run.bar_every)
    if run.bar is not None and run.steps_per_epoch % run.bar_every:
        run.bar.update(run.steps_per_epoch % run.bar_every)
    if not all(np.isfinite(p.data.sum()) for p in run.model.parameters()):
        raise _diverged(epoch, run.steps_per_epoch, "finite, but the last step made some "
                        "weights NaN or inf", run.optimizer)
    return sum_loss / len(X), sum_acc / len(X)


def _end_epoch(run, epoch, mean_loss, mean_acc):
    """Record the epoch, validate, run the callbacks; returns why to stop ("" to go on)."""
    history, reason = run.history, ""
    history.epoch.append(epoch)
    history.loss.append(mean_loss)
    if run.acc_fn is not None:
        history.acc.append(mean_acc)
    if run.has_val:
        vl, va = evaluate(run.model, run.loss, run.X_val, run.y_val, metric=run.acc_fn)
        history.val_loss.append(vl)
        if va is not None:
            history.val_acc.append(va)
        if run.best(vl) and run.early_stopping is not None:
            reason = "early_stopping"
        history.best_epoch = run.best.best_epoch
    for cb in run.epoch_hooks:
        if cb(epoch, history, run.model) is True and not reason:
            reason = "callback"
    if run.bar is not None:
        run.bar.set_postfix(_epoch_postfix(history))
    return reason


def fit(model: Module, loss: Loss | str, optimizer: Optimizer, X: ArrayLike, y: ArrayLike, epochs: int = 10,
        batch_size: int = 32, X_val: ArrayLike | None = None, y_val: ArrayLike | None = None,
        seed: int | np.random.Generator | None = 0, shuffle: bool = True, progress: bool | str | None = "auto",
        record_grad_norms: bool = False, clip_norm: float | None = None, early_stopping: int | None = None,
        regularization: Any = None, callbacks: Iterable[Callable[..., Any]] | None = (),
        metric: str | Callable[..., float] | None = "auto") -> History:
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
    run = _Run(model, loss, optimizer, X, y, epochs, batch_size, X_val, y_val, seed, shuffle, progress,
               record_grad_norms, clip_norm, early_stopping, regularization, callbacks, metric)
    history, t0 = run.history, time.perf_counter()
    if hasattr(model, "train"):
        model.train()
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(1, run.epochs + 1):
                reason = _end_epoch(run, epoch, *_train_epoch(run, epoch))
                if reason and epoch < run.epochs:
                    history.stopped_early, history.stop_reason = True, reason
                    break
    finally:
        if run.bar is not None:
            run.bar.close()
        history.seconds = time.perf_counter() - t0
    if run.early_stopping is not None and run.best.best_state is not None:
        run.best.restore()
    return history
