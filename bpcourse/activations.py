"""Activation functions and their derivatives, on numpy arrays (notebooks 03-05, 08).

Each function is numerically stable: no overflow warning for |z| up to 1e4 (and beyond).
Conventions: relu'(0) = 0; leaky_relu'(0) = slope.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "sigmoid", "sigmoid_prime", "capped_sigmoid", "tanh", "tanh_prime", "relu", "relu_prime",
    "leaky_relu", "leaky_relu_prime", "identity", "identity_prime", "gelu", "gelu_prime",
    "softmax", "log_softmax", "ACTIVATIONS", "get_activation",
]


def sigmoid(Z):
    """σ(z) = 1 / (1 + e^{-z}), two-branch form: exp is only ever taken of -|z|."""
    Z = np.asarray(Z, dtype=float)
    E = np.exp(-np.abs(Z))                      # e^{-|z|} in (0, 1]: never overflows
    S = np.where(Z >= 0, 1.0, E)                # numerator: 1 for z ≥ 0, e^{z} for z < 0
    E += 1.0
    S /= E
    return S


def capped_sigmoid(Z):
    """σ(z) = 1 / (1 + e^{−z}) in four in-place passes on a new array (the hot path of training).

    Stable without the two-branch form of ``sigmoid``: e^{−z} is capped at e^{700} (e^{80} for
    float32), so it never overflows; for z < −700 that returns ~1e−304 where the exact value is
    smaller still.  It agrees with ``sigmoid`` to a few ulps (tested).  Used by the ``Sigmoid``
    layer, the LSTM and GRU gates and GELU's gate.
    """
    return _logistic_of_negative(np.negative(Z, dtype=Z.dtype if Z.dtype.kind == "f" else np.float64))


def _logistic_of_negative(S):
    """Overwrite S = −z (a float array the caller owns) with σ(z) = 1 / (1 + e^{S}), e^{S} capped."""
    np.minimum(S, 700.0 if S.dtype.itemsize >= 8 else 80.0, out=S)
    np.exp(S, out=S)
    S += 1.0
    np.reciprocal(S, out=S)
    return S


def sigmoid_prime(Z):
    """σ'(z) = σ(z)(1 − σ(z)) ≤ 1/4."""
    S = sigmoid(Z)
    return S * (1.0 - S)


def tanh(Z):
    return np.tanh(np.asarray(Z, dtype=float))


def tanh_prime(Z):
    """tanh'(z) = 1 − tanh²(z)."""
    T = np.tanh(np.asarray(Z, dtype=float))
    return 1.0 - T * T


def relu(Z):
    Z = np.asarray(Z, dtype=float)
    return np.maximum(Z, 0.0)


def relu_prime(Z):
    """1 where z > 0, else 0 (so relu'(0) = 0)."""
    return (np.asarray(Z) > 0).astype(float)


def leaky_relu(Z, slope=0.01):
    Z = np.asarray(Z, dtype=float)
    return np.where(Z > 0, Z, slope * Z)


def leaky_relu_prime(Z, slope=0.01):
    return np.where(np.asarray(Z) > 0, 1.0, slope)


def identity(Z):
    return np.asarray(Z, dtype=float)


def identity_prime(Z):
    return np.ones_like(np.asarray(Z, dtype=float))


_GELU_C = np.sqrt(2.0 / np.pi)      # the tanh form of GELU, as in GPT-2 (Hendrycks & Gimpel 2016)
_GELU_K = 0.044715


def _gelu_gate(Z):
    """s = ½(1 + tanh u) = σ(2u),  u = √(2/π)(z + 0.044715 z³): one exp instead of a tanh.

    e^{−2u} is capped at e^{700}, so it never overflows (s is then ~1e−304 instead of smaller still).
    """
    S = Z * Z
    S *= _GELU_K
    S += 1.0
    S *= Z
    S *= -2.0 * _GELU_C                        # −2u
    return _logistic_of_negative(S)            # σ(2u)


def gelu(Z):
    """gelu(z) ≈ ½ z (1 + tanh(u)),  u = √(2/π) (z + 0.044715 z³)   (the tanh form of GPT-2)."""
    Z = np.asarray(Z, dtype=float)
    return Z * _gelu_gate(Z)


def gelu_prime_from_gate(Z, S):
    """gelu'(z) = s + 2 z s (1 − s) √(2/π) (1 + 3·0.044715 z²) with s = ½(1 + tanh u) = σ(2u)
    (from ½(1 + t) = s and ½(1 − t²) = 2 s (1 − s)).  A new array."""
    G = 1.0 - S
    G *= S
    G *= Z
    Z2 = Z * Z
    Z2 *= 3.0 * _GELU_K
    Z2 += 1.0
    Z2 *= 2.0 * _GELU_C
    G *= Z2
    G += S
    return G


def gelu_prime(Z):
    """gelu'(z) = ½ (1 + t) + ½ z (1 − t²) √(2/π) (1 + 3·0.044715 z²),  t = tanh(u)."""
    Z = np.asarray(Z, dtype=float)
    return gelu_prime_from_gate(Z, _gelu_gate(Z))


def log_softmax(Z, axis=-1):
    """log softmax via log-sum-exp: z − max − log Σ exp(z − max)."""
    Z = np.asarray(Z, dtype=float)
    shifted = Z - Z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(Z, axis=-1):
    """softmax(z)_i = e^{z_i} / Σ_j e^{z_j}, computed after subtracting max(z)."""
    Z = np.asarray(Z, dtype=float)
    E = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return E / E.sum(axis=axis, keepdims=True)


# name -> (f, f'); the names used everywhere in the course (MLP, widgets)
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "leaky_relu": (leaky_relu, leaky_relu_prime),
    "identity": (identity, identity_prime),
    "gelu": (gelu, gelu_prime),
}


def get_activation(name):
    """Return ``(f, f_prime)`` for an activation name; unknown names list the valid ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}") from None
