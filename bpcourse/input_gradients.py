"""Gradients with respect to the input (notebook 16): saliency, FGSM, optimising an input.

Every layer's ``backward`` returns dC/dX as well as filling its parameters' gradients, so one
backward pass through a whole model ends with the gradient of the loss (or of any score) with
respect to the *data*.  Three uses:

* **saliency** (Simonyan, Vedaldi & Zisserman 2014):  |∂S_c/∂x|, where S_c is the logit of class c
  (the score before the softmax): which pixels would change the class score most.
* **the fast gradient sign method, FGSM** (Goodfellow, Shlens & Szegedy 2015):
  x_adv = clip(x + ε · sign(∂C/∂x)), one step that raises the loss as much as a step of
  max-norm ε can to first order.
* **class visualisation** (Simonyan et al. 2014, their eq. 1): gradient *ascent* on the input,
  x ← x + η (∂S_c/∂x − 2αx), which maximises S_c(x) − α‖x‖² (α is the argument ``l2``).

All three work for any ``bp.nn`` model whose ``forward`` maps a batch X (N, ...) to logits (N, K)
and whose ``backward(dY)`` returns dC/dX: an MLP on (N, 64) pixels, a CNN on (N, 1, 8, 8) images.

Conventions, the same for every function here:

* the model runs in **eval mode** (dropout off, batch norm on its running statistics) and is put
  back in the mode it was in;
* the **parameters' gradients are left exactly as they were** (saved before the backward pass and
  written back after it), so these functions can be called in the middle of training;
* the **inputs are never modified**: every result is a new array;
* bad arguments (a target class out of range, ε < 0 or not finite, an X the model cannot take)
  raise one ``ValueError`` naming the function.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .losses import Loss, get_loss
from .module import Module
from .validate import as_rng, check_finite, positive_int, real

__all__ = ["class_score_gradient", "loss_input_gradient", "saliency", "fgsm", "random_sign_noise",
           "optimise_input", "DEFAULT_BOUNDS"]

DEFAULT_BOUNDS = (0.0, 1.0)   # the pixel range of bp.data.load_digits(): ink counts 0..16 divided by 16

# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------

def _check_model(model: Any, where: str) -> None:
    if not isinstance(model, Module):
        raise ValueError(f"{where}: model must be a bpcourse Module (e.g. bp.nn.MLP), got {type(model).__name__}")


def _as_batch(X: Any, where: str) -> np.ndarray:
    """X as a float array with the examples along axis 0: (N, ...) with N >= 1."""
    try:
        X = np.asarray(X)
    except Exception:
        raise ValueError(f"{where}: X must be an array of numbers, got {type(X).__name__}") from None
    if X.dtype.kind not in "biuf" or X.dtype.kind == "b":
        raise ValueError(f"{where}: X must be an array of numbers, got dtype {X.dtype}")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if X.ndim < 2 or X.shape[0] == 0:
        hint = " (a single example? use X[None], shape (1, ...))" if X.ndim == 1 else ""
        raise ValueError(f"{where}: X must be a batch of shape (N, ...) with N >= 1 examples along axis 0, "
                         f"got shape {X.shape}{hint}")
    check_finite(X, f"{where} (X)")
    return X


def _check_targets(target: Any, N: int, K: int, where: str, name: str = "target") -> np.ndarray:
    """One class index (used for every example) or N of them, each in [0, K)."""
    t = np.asarray(target)
    if t.dtype.kind not in "iu" or t.ndim > 1:
        raise ValueError(f"{where}: {name} must be a class index or an array of {N} class indices "
                         f"(integers in [0, {K})), got {target!r}")
    if t.ndim == 0:
        t = np.full(N, int(t))
    if t.shape != (N,):
        raise ValueError(f"{where}: {name} must be one class index or {N} of them (one per row of X), "
                         f"got shape {t.shape}")
    if t.min() < 0 or t.max() >= K:
        raise ValueError(f"{where}: {name} must lie in [0, {K}) for a model with {K} outputs, "
                         f"got values from {t.min()} to {t.max()}")
    return t.astype(np.int64)


def _check_bounds(bounds: Any, X: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``None`` or (low, high), each a number or an array that broadcasts to X, low <= X <= high."""
    if bounds is None:
        return None
    try:
        low, high = bounds
        low = np.asarray(low, dtype=np.float64)
        high = np.asarray(high, dtype=np.float64)
        np.broadcast_shapes(low.shape, high.shape, X.shape)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: bounds must be None or a pair (low, high) of numbers or of arrays that "
                         f"broadcast to X's shape {X.shape}, got {bounds!r}") from None
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low <= high)):
        raise ValueError(f"{where}: bounds (low, high) must be finite with low <= high")
    if np.any(X < low) or np.any(X > high):
        raise ValueError(f"{where}: X lies outside bounds (its values run from {X.min():.4g} to {X.max():.4g}); "
                         "pass the range your data was scaled to (bp.data.load_digits() pixels: (0, 1); "
                         "standardised data: ((0 - mean) / std, (1 - mean) / std)), or bounds=None not to clip")
    return low, high


def _perturbation_args(X: Any, eps: Any, bounds: Any, where: str):
    """fgsm's and random_sign_noise's arguments checked: (eps, X as a float batch, bounds or None)."""
    eps = real(eps, "eps", where, low=0)
    X = _as_batch(X, where)
    return eps, X, _check_bounds(bounds, X, where)


def _clip(X: np.ndarray, box: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """X clipped into box = (low, high); X itself when box is None."""
    return X if box is None else np.clip(X, *box)


# --------------------------------------------------------------------------------------------
# one forward and one backward pass, with the model's mode and gradients put back
# --------------------------------------------------------------------------------------------

@contextmanager
def _untouched(model: Module) -> Iterator[None]:
    """Eval mode inside; the previous mode and every parameter's gradient restored after."""
    params = model.parameters()
    saved = [p.grad.copy() for p in params]
    was_training = getattr(model, "training", True)
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
        for p, g in zip(params, saved):
            np.copyto(p.grad, g)


def _logits(model: Module, X: np.ndarray, where: str) -> np.ndarray:
    try:
        Z = model.forward(X)
    except ValueError as err:
        raise ValueError(f"{where}: the model cannot take X of shape {X.shape}: {err}") from err
    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[0] != X.shape[0]:
        raise ValueError(f"{where}: the model must map X (N, ...) to logits of shape (N, K) for K classes; "
                         f"for X of shape {X.shape} it returned shape {Z.shape}")
    return Z


def _backward(model: Module, dZ: np.ndarray, X: np.ndarray, where: str) -> np.ndarray:
    dX = model.backward(dZ)
    if dX is None or np.shape(dX) != X.shape:
        raise ValueError(f"{where}: the model's backward must return dC/dX of X's shape {X.shape}, "
                         f"got {None if dX is None else np.shape(dX)}")
    return np.asarray(dX)


def class_score_gradient(model: Module, X: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """∂S/∂X for S = Σ_n z_n[target_n], the logit of each row's target class: (N, ...) -> (N, ...).

    Row n of the result is ∂z_n[c_n]/∂x_n (rows do not interact in a model without batch
    statistics; in eval mode none has them).  Returns ``(logits (N, K), dS/dX)``.
    ``target``: one class index for every row, or N of them.
    """
    return _score_gradient(model, X, target, "class_score_gradient")


def _score_gradient(model, X, target, where):
    _check_model(model, where)
    X = _as_batch(X, where)
    with _untouched(model):
        Z = _logits(model, X, where)
        t = _check_targets(target, *Z.shape, where)
        dZ = np.zeros_like(Z)
        dZ[np.arange(len(t)), t] = 1.0          # ∂S/∂z: one-hot on each row's target class
        dX = _backward(model, dZ, X, where)
    return Z, dX


def loss_input_gradient(model: Module, loss: Loss | str, X: Any, y: Any) -> tuple[float, np.ndarray]:
    """The loss C(model(X), y) (a mean over the batch) and ∂C/∂X, shape of X.

    ``loss``: a ``bp.losses`` object or name (``"cross_entropy"``...).  Because C is a mean,
    row n of ∂C/∂X is 1/N times the gradient of that example's own loss.
    """
    return _loss_gradient(model, loss, X, y, "loss_input_gradient")


def _loss_gradient(model, loss, X, y, where):
    _check_model(model, where)
    loss_fn = get_loss(loss)
    X = _as_batch(X, where)
    with _untouched(model):
        Z = _logits(model, X, where)
        try:
            L = loss_fn(Z, y)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from err
        dX = _backward(model, loss_fn.backward(), X, where)
    return float(L), dX


# --------------------------------------------------------------------------------------------
# the three uses
# --------------------------------------------------------------------------------------------

def saliency(model: Module, X: Any, target: Any) -> np.ndarray:
    """Saliency map |∂S_c/∂X| (Simonyan et al. 2014): (N, ...) -> (N, ...), the shape of X.

    S_c is the logit (pre-softmax score) of class c = ``target`` (one index for all rows, or one
    per row).  For images with several channels Simonyan et al. take the maximum over channels;
    do that on the result (``.max(axis=1)`` for (N, C, H, W)) if you want one map per image.
    """
    _, dX = _score_gradient(model, X, target, "saliency")
    return np.abs(dX)


def fgsm(model: Module, loss: Loss | str, X: Any, y: Any, eps: float,
         bounds: tuple[Any, Any] | None = DEFAULT_BOUNDS) -> np.ndarray:
    """Fast gradient sign method (Goodfellow et al. 2015): clip(X + eps · sign(∂C/∂X)), shape of X.

    loss:   a ``bp.losses`` object or name, e.g. ``"cross_entropy"``; y its targets (class indices).
    eps:    the max-norm of the perturbation, a finite number >= 0 (0 returns a copy of X).
    bounds: the data range the result is clipped to, so that it is still a valid input.
            Default (0, 1): the pixels of ``bp.data.load_digits()``.  A pair of numbers, or of
            arrays broadcasting to X for a range per feature (for standardised pixels:
            ((0 - mean) / std, (1 - mean) / std)); ``None``: no clipping.  X itself must lie
            within the bounds (otherwise clipping would move it even at eps = 0).
    The sign of a zero gradient is 0: a pixel the loss does not depend on is not changed.
    """
    eps, X, box = _perturbation_args(X, eps, bounds, "fgsm")
    _, dX = _loss_gradient(model, loss, X, y, "fgsm")
    return _clip(X + eps * np.sign(dX), box)


def random_sign_noise(X: Any, eps: float, seed: int | np.random.Generator | None = 0,
                      bounds: tuple[Any, Any] | None = DEFAULT_BOUNDS) -> np.ndarray:
    """The control for FGSM: clip(X + eps · s) with random signs s = ±1, shape of X.

    The same max-norm ε and, before clipping, the same Euclidean norm ε·√(size) as an FGSM
    perturbation, but in a direction that ignores the model.  ``bounds`` as in ``fgsm``.
    """
    eps, X, box = _perturbation_args(X, eps, bounds, "random_sign_noise")
    signs = as_rng(seed).choice(np.array([-1.0, 1.0]), size=X.shape)
    return _clip(X + eps * signs, box)


def optimise_input(model: Module, target: Any, steps: int = 200, lr: float = 0.1, l2: float = 1e-2,
                   seed: int | np.random.Generator | None = 0, shape: Sequence[int] | None = None,
                   x0: Any = None, bounds: tuple[Any, Any] | None = None) -> np.ndarray:
    """Class visualisation (Simonyan et al. 2014, eq. 1): gradient ascent on the input.

    Maximises S_c(x) − l2·‖x‖² over x, for each c in ``target`` (one class index, or a list of
    them: one input per class, optimised together as a batch), with ``steps`` steps of

        x ← x + lr · (∂S_c/∂x − 2·l2·x)          (then clipped to ``bounds``, if given)

    from a small random start x ~ N(0, 0.01²) drawn from ``seed`` (or from ``x0``, not modified).
    shape:  the shape of one input, e.g. (64,) or (1, 8, 8); by default the ``n_in`` of the
            model's first layer when that layer has one (an MLP's first Linear); a model that
            starts with anything else (a convolution) needs ``shape``.
    bounds: None (default, unconstrained) or (low, high) as in ``fgsm`` (projected ascent).
    Returns X of shape (len(target), *shape) (or (1, *shape) for a single class index).
    """
    where = "optimise_input"
    _check_model(model, where)
    steps = positive_int(steps, "steps", where)
    lr = real(lr, "lr", where, low=0, low_open=True)
    l2 = real(l2, "l2", where, low=0)
    targets = np.atleast_1d(np.asarray(target))
    if x0 is not None:
        X = _as_batch(x0, where).astype(np.float64)     # a new array: x0 is never modified
    else:
        shape = _input_shape(model, shape, where)
        X = 0.01 * as_rng(seed).standard_normal((len(targets),) + shape)
    if len(targets) != len(X) and targets.size == 1:
        targets = np.full(len(X), targets[0])
    box = _check_bounds(bounds, X, where) if bounds is not None else None
    for _ in range(steps):
        _, dS = _score_gradient(model, X, targets, where)
        X = _clip(X + lr * (dS - 2.0 * l2 * X), box)
        check_finite(X, f"{where} (the input diverged: lower lr)")
    return X


def _input_shape(model: Module, shape: Sequence[int] | None, where: str) -> tuple[int, ...]:
    if shape is not None:
        try:
            dims = tuple(positive_int(d, "shape", where) for d in shape)
        except TypeError:
            raise ValueError(f"{where}: shape must be a tuple of positive integers, got {shape!r}") from None
        if not dims:
            raise ValueError(f"{where}: shape must be a tuple of positive integers, got {shape!r}")
        return dims
    first = model                       # the first leaf module is the one that reads X
    while first.children() and not hasattr(first, "n_in"):
        first = first.children()[0]
    if isinstance(getattr(first, "n_in", None), (int, np.integer)):
        return (int(first.n_in),)
    raise ValueError(f"{where}: cannot tell the input shape of this model; pass shape=, e.g. shape=(1, 8, 8)")
