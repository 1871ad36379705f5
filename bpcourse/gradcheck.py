"""Gradient checking with central differences (notebook 07).

    df/dx ≈ (f(x + h) − f(x − h)) / 2h          error O(h²), vs O(h) for the forward difference

Relative error between an analytic gradient a and a numerical one n:

    rel(a, n) = ‖a − n‖ / max(‖a‖ + ‖n‖, tiny)

Bands (float64, h ≈ 1e-6): below ~1e-7 the backward pass is right; 1e-7…1e-4 look closer
(kinks such as ReLU at 0, or float32); above ~1e-2 it is almost certainly wrong.
``gradcheck`` passes when the worst relative error is below ``tol`` (default 1e-6).

Blind spot: central differences cannot see a gradient much below ~ε·|f|/h (ε = 2.2e-16 for
float64): f(x + h) and f(x − h) then round to the same number.  In a deep sigmoid network the first
layers' gradients are that small, so their numerical gradient is 0 and *any* analytic gradient
there, right or wrong, differs from it by less than ``atol``.  ``gradcheck`` therefore does not
let such a quantity pass silently: it re-checks every layer of a network with ``layers`` (a
``Sequential``) on its own input, where the gradients are of normal size, and for anything else
it warns (``GradcheckWarning``) naming each quantity that passed only through ``atol``.
"""
from __future__ import annotations

import warnings

import numpy as np

from .validate import as_rng

__all__ = ["numerical_gradient", "relative_error", "gradcheck", "gradcheck_report", "GradcheckError",
           "GradcheckWarning", "DEFAULT_TOL"]

DEFAULT_TOL = 1e-6


class GradcheckError(AssertionError):
    """Raised by ``gradcheck`` when an analytic gradient disagrees with central differences."""


class GradcheckWarning(UserWarning):
    """Some quantity passed ``gradcheck`` only because its gradient is below ``atol``: unverified."""


def numerical_gradient(f, x, h=1e-6):
    """Central-difference gradient of a scalar function f() with respect to array x.

    ``x`` is nudged in place, one entry at a time, and restored; ``f`` takes no
    arguments and reads x (so it can close over a Parameter's data).  Returns an array
    of x's shape.
    """
    x = np.asarray(x)
    grad = np.zeros(x.shape, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs a contiguous array it can nudge in place")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = float(f())
        flat[i] = old - h
        f_minus = float(f())
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a, b):
    """‖a − b‖ / max(‖a‖ + ‖b‖, 1e-300): 0 for identical arrays, ~1 for unrelated ones."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} vs {b.shape}")
    den = max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)
    return float(np.linalg.norm(a - b) / den)


def _is_module(obj):
    return hasattr(obj, "forward") and hasattr(obj, "backward") and hasattr(obj, "parameters")


def _is_loss(obj):
    return hasattr(obj, "forward") and hasattr(obj, "backward") and not hasattr(obj, "parameters")


def gradcheck_report(fn, *inputs, grad=None, h=1e-6, seed=0, wrt_inputs=True):
    """Relative error per checked quantity (see ``_errors`` for what ``fn`` may be)."""
    return {k: rel for k, (rel, _) in _errors(fn, *inputs, grad=grad, h=h, seed=seed,
                                              wrt_inputs=wrt_inputs).items()}


def _pair(analytic, numeric):
    """(relative error, largest absolute difference) of two gradients."""
    diff = np.max(np.abs(np.asarray(analytic, dtype=np.float64) - numeric)) if np.size(numeric) else 0.0
    return relative_error(analytic, numeric), float(diff)


def _errors(fn, *inputs, grad=None, h=1e-6, seed=0, wrt_inputs=True):
    """(relative, absolute) error per checked quantity: ``{"input": (1e-10, 3e-12), ...}``.

    What ``fn`` may be:
    * a Module — checked on the input X (first of ``inputs``) and on every Parameter, with the
      scalar C = Σ Y ⊙ G for a random (seeded) upstream gradient G;
    * a Loss — called as fn(pred, target); dC/dpred from ``fn.backward()`` is checked;
    * a function f(*inputs) -> array, with ``grad(*inputs, G) -> dX or tuple of dX`` its
      analytic backward for upstream gradient G.
    """
    # the upstream gradient G gets its own stream, so it never equals data drawn with the same seed
    rng = as_rng(seed if isinstance(seed, np.random.Generator) else [int(seed), 7919])
    xs = [np.array(x, dtype=np.float64) if not (isinstance(x, np.ndarray) and x.dtype.kind == "f")
          else x.copy() for x in inputs]
    report = {}
    if _is_module(fn):
        X = xs[0]
        G = rng.standard_normal(np.shape(fn.forward(X)))
        fn.zero_grad()
        dX = fn.backward(G)
        analytic = {name: p.grad.copy() for name, p in fn.named_parameters()}
        scalar = lambda: float(np.sum(fn.forward(X) * G))
        if wrt_inputs:
            report["input"] = _pair(dX, numerical_gradient(scalar, X, h))
        for name, p in fn.named_parameters():
            report[name] = _pair(analytic[name], numerical_gradient(scalar, p.data, h))
        fn.zero_grad()
    elif _is_loss(fn):
        pred, target = xs[0], inputs[1]
        fn(pred, target)
        analytic = fn.backward()
        report["prediction"] = _pair(analytic, numerical_gradient(lambda: fn(pred, target), pred, h))
    elif callable(fn):
        if grad is None:
            raise TypeError("gradcheck of a plain function needs grad=, its analytic backward "
                            "grad(*inputs, G) returning dC/dinput for upstream gradient G")
        G = rng.standard_normal(np.shape(fn(*xs)))
        analytic = grad(*xs, G)
        analytic = analytic if isinstance(analytic, (tuple, list)) else (analytic,)
        scalar = lambda: float(np.sum(np.asarray(fn(*xs)) * G))
        for i, (x, a) in enumerate(zip(xs, analytic)):
            if a is None:
                continue
            report[f"input {i}" if len(xs) > 1 else "input"] = _pair(a, numerical_gradient(scalar, x, h))
    else:
        raise TypeError(f"gradcheck needs a Module, a Loss or a function, got {type(fn).__name__}")
    return report


def gradcheck(fn, *inputs, grad=None, tol=DEFAULT_TOL, atol=1e-8, h=1e-6, seed=0, wrt_inputs=True,
              raise_on_fail=True, layerwise=True):
    """Compare analytic and central-difference gradients; return the worst relative error.

    A quantity fails when its relative error exceeds ``tol`` AND its largest absolute
    difference exceeds ``atol`` — a gradient that is truly zero (a bias just before a
    BatchNorm, say) compares 0 with rounding noise, whose *relative* error means nothing.
    A quantity that passes only through ``atol`` is *unverified*, not right: its gradient may be
    too small for central differences to see (see the module docstring).  With ``layerwise``
    (default) a network with ``layers`` is then checked again layer by layer, each layer on its
    own input, and a failure there fails the whole check (named "layer i <name>: quantity");
    otherwise a ``GradcheckWarning`` names the unverified quantities.
    Raises ``GradcheckError`` naming each failing quantity (unless ``raise_on_fail=False``).
    See ``_errors`` for what ``fn`` may be.
    """
    worst, failed, unverified = _check(fn, inputs, grad, tol, atol, h, seed, wrt_inputs, layerwise)
    if unverified:
        lines = ", ".join(f"{k}: {v:.2e}" for k, v in unverified.items())
        warnings.warn(f"gradcheck of {fn!r}: relative error above tol={tol:g} but |analytic − numeric| "
                      f"<= atol={atol:g} in {lines} — too small for central differences to verify; "
                      f"check that layer on its own input", GradcheckWarning, stacklevel=2)
    if raise_on_fail and failed:
        lines = ", ".join(f"{k}: {v:.2e}" for k, v in failed.items())
        raise GradcheckError(f"gradcheck failed for {fn!r} — relative error above tol={tol:g} in {lines}")
    return worst


def _check(fn, inputs, grad, tol, atol, h, seed, wrt_inputs, layerwise):
    """(worst relative error, {failed: rel}, {passed only through atol: rel})."""
    errors = _errors(fn, *inputs, grad=grad, h=h, seed=seed, wrt_inputs=wrt_inputs)
    worst, failed, unverified = 0.0, {}, {}
    for k, (rel, ab) in errors.items():
        if rel <= tol:
            worst = max(worst, rel)
        elif not ab <= atol:           # NaN differences land here too: they fail
            worst = max(worst, rel)
            failed[k] = rel
        else:                          # within atol: zero up to noise, or too small to see
            unverified[k] = rel
    if unverified and layerwise and _is_module(fn) and isinstance(getattr(fn, "layers", None), list):
        X = np.array(inputs[0], dtype=np.float64)
        for i, layer in enumerate(fn.layers):
            w, f, u = _check(layer, (X,), None, tol, atol, h, seed, wrt_inputs or i > 0, layerwise)
            worst = max(worst, w)
            failed.update({f"layer {i} {layer.name}: {k}": v for k, v in f.items()})
            unverified.update({f"layer {i} {layer.name}: {k}": v for k, v in u.items()})
            X = layer.forward(X)
        unverified = {k: v for k, v in unverified.items() if k.startswith("layer ")}
    return worst, failed, unverified
