"""Fully connected layers, element-wise activations and containers (notebooks 04, 10, 12, 13).

Re-exported by ``bpcourse.nn``; import from there.

Batches are rows: an input X has shape (N, n_in).  For a fully connected layer

    Z = A_prev @ W.T + b                      (forward, W has shape (n_out, n_in))
    delta = dA * sigma'(Z)                    (BP1 at the output, BP2 inside: the Hadamard product)
    db = delta.sum(0)                         (BP3)
    dW = delta.T @ A_prev                     (BP4)
    dA_prev = delta @ W                       (the W^T half of BP2)

Every ``forward`` caches what its ``backward`` needs; every ``backward(dY)`` *adds*
into each Parameter's ``.grad`` (call ``zero_grad()`` between steps, as in PyTorch)
and returns a new array dC/dX — upstream gradients are never modified in place.
"""
from __future__ import annotations

import copy

import numpy as np

from . import activations
from .activations import ACTIVATIONS
from .init import initialize
from .module import Module, Parameter, backward_for_parameters, check_finite
from .validate import as_rng, choice, layer_sizes, positive_int

__all__ = ["accumulate_product", "Linear", "Activation", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Identity", "GELU",
           "Sequential", "MLP", "make_activation", "ACTIVATION_LAYERS"]


def accumulate_product(p: Parameter, A: np.ndarray, B: np.ndarray, scratch: np.ndarray | None = None):
    """``p.accumulate(A @ B)`` without a fresh (n_out, n_in) temporary per step; returns the scratch.

    Right after ``zero_grad`` the product is written straight into the gradient buffer; otherwise
    through ``scratch`` (kept by the caller between calls).  A new temporary every step costs page
    faults that rival the product itself (benchmarks/bench_mlp.py, batch 1024).
    """
    if p._stale:
        np.matmul(A, B, out=p._grad)
        p._stale = False
        return scratch
    if scratch is None or scratch.shape != p._grad.shape or scratch.dtype != p._grad.dtype:
        scratch = np.empty_like(p._grad)
    np.matmul(A, B, out=scratch)
    p.accumulate(scratch)
    return scratch


class Linear(Module):
    """Fully connected layer ``Z = X @ W.T + b``: (N, n_in) -> (N, n_out).

    W has shape (n_out, n_in) (as in Nielsen's w^l_jk and PyTorch), b has shape (n_out,).
    """

    def __init__(self, n_in, n_out, init="xavier", seed=None, dtype=np.float64, name=None, **init_kwargs):
        n_in, n_out = positive_int(n_in, "n_in", "Linear"), positive_int(n_out, "n_out", "Linear")
        super().__init__(name or f"Linear({n_in}->{n_out})")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.W = Parameter(initialize(init, n_in, n_out, as_rng(seed), dtype=dtype, **init_kwargs), "W")
        self.b = Parameter(np.zeros(n_out, dtype=dtype), "b")
        self._cache = None
        self._dW = None

    def own_parameters(self):
        return [self.W, self.b]

    _lead = None                      # the leading axes (B, T) of a (B, T, n_in) input, else None

    def forward(self, X):
        """Z = X Wᵀ + b  — the batched form of z^l = w^l a^{l-1} + b^l.

        (N, n_in) -> (N, n_out); also (B, T, ..., n_in) -> (B, T, ..., n_out), acting on the last axis.
        """
        X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=self.W.data.dtype)
        if X.ndim > 2:                # a sequence batch: every position is one row
            if X.shape[-1] != self.n_in:
                raise ValueError(f"{self.name}: expected input of shape (N, {self.n_in}) or "
                                 f"(..., {self.n_in}), got {X.shape}")
            lead = X.shape[:-1]
            Z = self.forward(X.reshape(-1, self.n_in))
            self._lead = lead
            return Z.reshape(*lead, self.n_out)
        self._lead = None
        if X.ndim != 2 or X.shape[1] != self.n_in:
            hint = " (a single example? use X.reshape(1, -1))" if X.ndim == 1 and X.shape[0] == self.n_in else ""
            raise ValueError(f"{self.name}: expected input of shape (N, {self.n_in}), got {X.shape}{hint}")
        with np.errstate(over="ignore", invalid="ignore"):   # bad input gets our message below
            Z = X @ self.W.data.T
            Z += self.b.data
            finite = np.isfinite(Z.sum())
        if not finite:
            # checking the (smaller) output is cheap; only then find the culprit: NaN/inf in X
            # always reaches Z (inf·0 is NaN), and so does NaN/inf in W or b
            check_finite(X, self.name)
            check_finite(self.W.data, f"{self.name} (its weights W)")
            check_finite(self.b.data, f"{self.name} (its bias b)")
            check_finite(Z, f"{self.name} (its output Z overflowed)")
        self._cache = X
        return Z

    def backward(self, delta, input_grad=True):
        """BP3: db = Σ_n delta;  BP4: dW = deltaᵀ A_prev;  returns delta W (feeds BP2 below).

        delta: (N, n_out) -> dA_prev: (N, n_in).  ``input_grad=False`` skips dA_prev (returns
        None): the first layer's input is data, and nothing needs its gradient during training —
        that saves one matmul per step.
        """
        A_prev, lead = self._cache, self._lead
        if lead is not None:          # forward saw (..., n_in): flatten like it did, reshape dA_prev back
            delta = self._check_dY(delta, (*lead, self.n_out)).reshape(-1, self.n_out)
        delta = self._check_dY(delta, (A_prev.shape[0] if A_prev is not None else -1, self.n_out))
        self.b.accumulate(delta.sum(axis=0))                      # BP3
        self._dW = accumulate_product(self.W, delta.T, A_prev, self._dW)   # BP4
        if not input_grad:
            return None
        dA_prev = delta @ self.W.data                             # (W^T delta)^T: half of BP2
        return dA_prev if lead is None else dA_prev.reshape(*lead, self.n_in)

    def __repr__(self):
        return f"{type(self).__name__}({self.n_in}, {self.n_out})"


class Activation(Module):
    """Element-wise nonlinearity A = f(Z); backward is the Hadamard product dA ⊙ f'(Z) (BP1/BP2)."""

    kind = "identity"

    def __init__(self, name=None):
        super().__init__(name or type(self).__name__)
        self._cache = None

    def forward(self, Z):
        Z = np.asarray(Z)
        check_finite(Z, self.name)
        A = self._f(Z)
        self._cache = (Z, A)
        return A

    def backward(self, dA):
        Z, A = self._cache if self._cache is not None else (np.empty(0), None)
        dA = self._check_dY(dA, Z.shape)
        G = self._fprime(Z, A)        # a fresh array of f'(Z)
        if G.dtype == np.result_type(G, dA):
            G *= dA                   # the Hadamard product in place: no second temporary
            return G
        return dA * G                 # e.g. ReLU's boolean mask

    def _fprime(self, Z, A):
        """f'(Z) as a NEW array (``backward`` multiplies into it in place)."""
        return np.ones_like(Z)

    def _f(self, Z):
        return Z

    def __repr__(self):
        return f"{type(self).__name__}()"


class Identity(Activation):
    kind = "identity"

    def forward(self, Z):
        Z = np.asarray(Z)
        check_finite(Z, self.name)
        self._cache = (Z, Z)
        return Z

    def backward(self, dA):
        Z = self._cache[0] if self._cache is not None else np.empty(0)
        return self._check_dY(dA, Z.shape).copy()


class Sigmoid(Activation):
    kind = "sigmoid"

    def _f(self, Z):
        """σ(z) by ``activations.capped_sigmoid`` (four in-place passes: the hot path of training)."""
        return activations.capped_sigmoid(Z)

    def _fprime(self, Z, A):
        G = 1.0 - A                   # σ' = σ(1 − σ) from the cached output, one temporary
        G *= A
        return G


class Tanh(Activation):
    kind = "tanh"

    def _f(self, Z):
        return np.tanh(Z)

    def _fprime(self, Z, A):
        return 1.0 - A * A


class ReLU(Activation):
    """relu'(0) = 0: the mask is Z > 0."""

    kind = "relu"

    def _f(self, Z):
        return np.maximum(Z, 0.0)

    def _fprime(self, Z, A):
        return Z > 0                  # a boolean mask; dA * mask is a new float array


class LeakyReLU(Activation):
    kind = "leaky_relu"

    def __init__(self, slope=0.01, name=None):
        super().__init__(name)
        self.slope = float(slope)

    def _f(self, Z):
        return np.where(Z > 0, Z, self.slope * Z)

    def _fprime(self, Z, A):
        return np.where(Z > 0, 1.0, self.slope)

    def __repr__(self):
        return f"LeakyReLU(slope={self.slope:g})"


class GELU(Activation):
    """GELU in the tanh form of GPT-2: A = ½ Z (1 + tanh(√(2/π)(Z + 0.044715 Z³))) (notebook 17)."""

    kind = "gelu"

    def forward(self, Z):
        Z = np.asarray(Z, dtype=float)
        check_finite(Z, self.name)
        S = activations._gelu_gate(Z)          # ½(1 + tanh u), kept for the backward pass
        self._cache = (Z, S)
        return Z * S

    def _fprime(self, Z, S):
        return activations.gelu_prime_from_gate(Z, S)


# one layer class per name of activations.ACTIVATIONS, in its order (a test checks they match)
_BY_KIND = {cls.kind: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity, GELU)}
ACTIVATION_LAYERS = {name: _BY_KIND[name] for name in ACTIVATIONS}


def make_activation(name):
    """A fresh activation layer for ``name`` (one of ACTIVATION_LAYERS)."""
    if isinstance(name, Module):
        return name
    return ACTIVATION_LAYERS[choice(name, ACTIVATION_LAYERS, "activation", "make_activation")]()


class Sequential(Module):
    """Modules applied in order; backward runs them in reverse."""

    def __init__(self, *layers, name=None):
        super().__init__(name or "Sequential")
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, not a bpcourse Module")
        self.layers = list(layers)

    def children(self):
        return self.layers

    def forward(self, X):
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def backward(self, dY, input_grad=True):
        """Run every layer's backward in reverse; returns dC/dX.

        ``input_grad=False`` returns None, and the first layer skips dC/dX when its backward takes
        ``input_grad`` (``module.backward_for_parameters``): the input is data, nothing needs its gradient.
        """
        layers = self.layers
        for layer in layers[:0:-1]:
            dY = layer.backward(dY)
        if not layers:
            return dY
        first = layers[0]
        if input_grad:
            return first.backward(dY)
        backward_for_parameters(first, dY)
        return None

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"{type(self).__name__}(\n{inner}\n)"


class MLP(Sequential):
    """A multilayer perceptron: ``MLP([2, 16, 16, 1])`` is Linear, act, Linear, act, Linear.

    activation: one of ``"sigmoid" "tanh" "relu" "leaky_relu" "identity" "gelu"``.
    init: an init name (see ``bpcourse.init.INITS``); default ``None`` picks He for
          relu/leaky_relu and Xavier otherwise.
    output_activation: applied after the last Linear (default ``"identity"``: logits).
    seed: int or np.random.Generator; the same seed gives the same weights.
    """

    def __init__(self, sizes, activation="tanh", init=None, seed=0, output_activation="identity",
                 dtype=np.float64, **init_kwargs):
        sizes = layer_sizes(sizes, "MLP")
        make_activation(activation)          # validate the name before building anything
        if output_activation is not None:
            make_activation(output_activation)
        if init is None:
            init = "he" if activation in ("relu", "leaky_relu") else "xavier"
        rng = as_rng(seed)
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            layers.append(Linear(n_in, n_out, init=init, seed=rng, dtype=dtype,
                                 name=f"Linear{i}({n_in}->{n_out})", **init_kwargs))
            last = i == len(sizes) - 1
            if not last:
                layers.append(copy.deepcopy(activation) if isinstance(activation, Module) else make_activation(activation))
            elif output_activation not in (None, "identity"):
                layers.append(make_activation(output_activation))
        super().__init__(*layers, name="MLP")
        self.sizes, self.activation, self.init = sizes, activation, init

    def linear_layers(self):
        return [l for l in self.layers if isinstance(l, Linear)]
