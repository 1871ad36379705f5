"""Activation functions and their derivatives, on numpy arrays (notebooks 03-05, 08).

Each function is numerically stable: no overflow warning for |z| up to 1e4 (and beyond).
Conventions: relu'(0) = 0; leaky_relu'(0) = slope.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "sigmoid", "sigmoid_prime", "tanh", "tanh_prime", "relu", "relu_prime",
    "leaky_relu", "leaky_relu_prime", "identity", "identity_prime",
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
}


def get_activation(name):
    """Return ``(f, f_prime)`` for an activation name; unknown names list the valid ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}") from None
