"""Argument checking and seeding: one place, one message style.

Every public constructor and function in the engine checks its arguments with these helpers, so
a learner's mistake always reads the same way::

    Conv2d: kernel_size must be a positive integer, got 0
    fgsm: eps must be a finite number >= 0, got -0.1
    Embedding: ids must lie in [0, 65), got values from -1 to 70

``where`` names the layer or function, ``name`` the argument.  Non-finite values raise
``NonFiniteError`` (a ``ValueError``), which callers catch by type, never by message text.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["NonFiniteError", "positive_int", "int_in_range", "real", "choice", "pair", "as_rng",
           "check_finite"]


class NonFiniteError(ValueError):
    """A NaN or an infinity where a finite number was needed (input, weights, loss, gradient)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(value: Any, name: str, where: str) -> int:
    """``value`` as an int ≥ 1, or ``ValueError('<where>: <name> must be a positive integer, got …')``."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
    return int(value)


def int_in_range(value: Any, name: str, where: str, low: int, high: int | None = None) -> int:
    """``value`` as an int with low ≤ value ≤ high (no upper bound when ``high`` is None)."""
    if not _is_int(value) or value < low or (high is not None and value > high):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{where}: {name} must be an integer {bounds}, got {value!r}")
    return int(value)


def real(value: Any, name: str, where: str, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float within the given bounds (open or closed at each end).

    ``real(eps, "eps", "fgsm", low=0)`` accepts 0 and any finite positive number;
    ``real(lr, "lr", "SGD", low=0, low_open=True)`` accepts only lr > 0.
    """
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    bounds = (" " + " and ".join(parts)) if parts else ""
    if not isinstance(value, (numbers.Real, np.floating, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where}: {name} must be a finite number{bounds}, got {value!r}")
    v = float(value)
    bad = (not math.isfinite(v)
           or (low is not None and (v <= low if low_open else v < low))
           or (high is not None and (v >= high if high_open else v > high)))
    if bad:
        raise ValueError(f"{where}: {name} must be a finite number{bounds}, got {value!r}")
    return v


def choice(value: Any, choices: Iterable[Any], name: str, where: str) -> Any:
    """``value`` if it is one of ``choices``, else a ``ValueError`` listing the valid ones."""
    choices = list(choices)
    try:
        ok = value in choices
    except TypeError:               # e.g. an unhashable value tested against dict keys
        ok = False
    if not ok:
        raise ValueError(f"{where}: unknown {name} {value!r}; valid: {', '.join(map(str, choices))}")
    return value


def pair(value: Any, name: str, where: str, *, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (each ≥ ``minimum``) as a pair: ``3 -> (3, 3)``, ``(3, 5) -> (3, 5)``."""
    items = (value, value) if _is_int(value) else value
    try:
        a, b = items
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be an integer or a pair of integers >= {minimum}, "
                         f"got {value!r}") from None
    if not (_is_int(a) and _is_int(b)) or a < minimum or b < minimum:
        raise ValueError(f"{where}: {name} must be an integer or a pair of integers >= {minimum}, got {value!r}")
    return int(a), int(b)


def as_rng(seed: int | np.random.Generator | None = None) -> np.random.Generator:
    """An ``np.random.Generator`` from an int seed, None, or a Generator (passed through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def check_finite(X: np.ndarray, where: str) -> None:
    """Raise ``NonFiniteError`` naming ``where`` if X holds a NaN or an infinity."""
    # X.sum() is one cheap pass; only if it is not finite do we look closer
    if not np.isfinite(X.sum()) and not np.isfinite(X).all():
        bad = int(np.size(X) - np.isfinite(X).sum())
        raise NonFiniteError(f"{where}: input contains {bad} non-finite value(s) (NaN or inf); "
                             "if this happened during training, the learning rate is probably too high")
