"""Weight initialisers (notebook 09).  Every one returns a float array of shape (n_out, n_in).

* ``constant``      — every weight equal: the symmetry that gradient descent never breaks.
* ``normal``        — N(0, std²) with a fixed std.
* ``xavier_uniform``/``xavier_normal`` — Glorot & Bengio (2010): Var[W] = 2 / (n_in + n_out).
* ``he_normal``/``he_uniform``         — He et al. (2015): Var[W] = 2 / n_in, for ReLU nets.
* ``lecun_normal``  — Var[W] = 1 / n_in (the "1/sqrt(n_in)" init of Nielsen's network2).
"""
from __future__ import annotations

import numpy as np

from .validate import as_rng

__all__ = ["constant", "normal", "xavier_uniform", "xavier_normal", "he_normal", "he_uniform",
           "lecun_normal", "INITS", "get_init", "initialize", "as_rng"]


def constant(n_in, n_out, rng=None, value=0.5, dtype=np.float64):
    return np.full((n_out, n_in), value, dtype=dtype)


def normal(n_in, n_out, rng=None, std=1.0, dtype=np.float64):
    return (as_rng(rng).standard_normal((n_out, n_in)) * std).astype(dtype, copy=False)


def xavier_uniform(n_in, n_out, rng=None, dtype=np.float64):
    limit = np.sqrt(6.0 / (n_in + n_out))          # Var of U(-l, l) is l²/3 = 2/(n_in+n_out)
    return as_rng(rng).uniform(-limit, limit, (n_out, n_in)).astype(dtype, copy=False)


def xavier_normal(n_in, n_out, rng=None, dtype=np.float64):
    return normal(n_in, n_out, rng, std=np.sqrt(2.0 / (n_in + n_out)), dtype=dtype)


def he_normal(n_in, n_out, rng=None, dtype=np.float64):
    return normal(n_in, n_out, rng, std=np.sqrt(2.0 / n_in), dtype=dtype)


def he_uniform(n_in, n_out, rng=None, dtype=np.float64):
    limit = np.sqrt(6.0 / n_in)
    return as_rng(rng).uniform(-limit, limit, (n_out, n_in)).astype(dtype, copy=False)


def lecun_normal(n_in, n_out, rng=None, dtype=np.float64):
    return normal(n_in, n_out, rng, std=np.sqrt(1.0 / n_in), dtype=dtype)


INITS = {
    "constant": constant,
    "normal": normal,
    "xavier": xavier_uniform,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "glorot": xavier_uniform,
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "lecun": lecun_normal,
}


def get_init(name):
    """The initialiser function for ``name``; a callable is returned unchanged."""
    if callable(name):
        return name
    try:
        return INITS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown init {name!r}; valid: {', '.join(INITS)}") from None


def initialize(name, n_in, n_out, rng=None, dtype=np.float64, **kwargs):
    """W of shape (n_out, n_in) drawn by the named initialiser (kwargs: std=, value=)."""
    return np.asarray(get_init(name)(n_in, n_out, as_rng(rng), dtype=dtype, **kwargs), dtype=dtype)
