"""``bp.nn``: every layer of the course in one namespace (notebooks 04, 10, 12-17).

Batches are rows: an input X has shape (N, n_in).  For a fully connected layer

    Z = A_prev @ W.T + b                      (forward, W has shape (n_out, n_in))
    delta = dA * sigma'(Z)                    (BP1 at the output, BP2 inside: the Hadamard product)
    db = delta.sum(0)                         (BP3)
    dW = delta.T @ A_prev                     (BP4)
    dA_prev = delta @ W                       (the W^T half of BP2)

Every ``forward`` caches what its ``backward`` needs; every ``backward(dY)`` *adds*
into each Parameter's ``.grad`` (call ``zero_grad()`` between steps, as in PyTorch)
and returns a new array dC/dX — upstream gradients are never modified in place.

This module only re-exports: ``Parameter``/``Module`` live in ``module.py``, the dense layers in
``dense.py``, and the other layers in their own modules (listed in ``_LATER``).
"""
from __future__ import annotations

import importlib

from .dense import (
    ACTIVATION_LAYERS,
    GELU,
    MLP,
    Activation,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    make_activation,
)
from .module import Module, NonFiniteError, Parameter, check_finite

__all__ = ["Parameter", "Module", "Linear", "Activation", "Sigmoid", "Tanh", "ReLU", "LeakyReLU",
           "Identity", "GELU", "Sequential", "MLP", "make_activation", "ACTIVATION_LAYERS", "NonFiniteError",
           "check_finite"]

_check_finite = check_finite   # the old private name, kept for code written before module.py

# Layers defined in other modules, re-exported here: name -> module.  A new layer module adds
# one line; its module imports from .module (never from .nn), so this import is not circular.
_LATER = {"BatchNorm": "layers", "LayerNorm": "layers", "Residual": "layers", "Dropout": "layers",
          "RNN": "rnn",
          "LSTM": "gates", "GRU": "gates", "LastStep": "gates",
          "Conv2d": "conv", "MaxPool2d": "conv", "AvgPool2d": "conv", "GlobalAvgPool2d": "conv", "Flatten": "conv",
          "Embedding": "attention", "CausalSelfAttention": "attention", "TransformerBlock": "attention",
          "TinyGPT": "attention"}
__all__ += list(_LATER)

for _name, _module in _LATER.items():
    globals()[_name] = getattr(importlib.import_module(f".{_module}", __package__), _name)
del _name, _module
