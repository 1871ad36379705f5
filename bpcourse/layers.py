"""Layers that fix deep networks (notebook 10) and regularise them (notebook 12).

* ``BatchNorm``  — normalise each feature over the batch (Ioffe & Szegedy 2015).
* ``LayerNorm``  — normalise each example over its features (Ba, Kiros & Hinton 2016).
* ``Residual``   — Y = X + block(X): the skip connection (He et al. 2016).
* ``Dropout``    — inverted dropout (Srivastava et al. 2014).

They follow the conventions of ``bpcourse.nn``: batches are rows, ``forward`` caches what
``backward`` needs in ``self._cache``, ``backward(dY)`` *adds* into each Parameter's
``.grad`` and returns a new array dC/dX, and upstream gradients are never modified.
"""
from __future__ import annotations

import numpy as np

from .module import Module, Parameter, check_finite
from .validate import as_rng, positive_int, real

__all__ = ["BatchNorm", "LayerNorm", "Residual", "Dropout"]


def _check_input(layer, X, n):
    """X as a float array of shape (N, n), or a ValueError naming the layer."""
    X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n:
        raise ValueError(f"{layer.name}: expected input of shape (N, {n}), got {X.shape}")
    check_finite(X, layer.name)
    return X


def _normalize_backward(dXhat, Xhat, inv_std, axis):
    """dC/dX for Xhat = (X − mean) / sqrt(var + eps), mean and (biased) var taken along ``axis``.

    The compact form (Ioffe & Szegedy 2015, worked through in notebook 10), with m the
    number of entries averaged over:

        dX = (1/m) · (1/σ) · (m·dXhat − Σ dXhat − Xhat ⊙ Σ (dXhat ⊙ Xhat))

    The two sums are the paths through the mean and through the variance.
    """
    m = Xhat.shape[axis]
    sum_d = dXhat.sum(axis=axis, keepdims=True)
    sum_dx = (dXhat * Xhat).sum(axis=axis, keepdims=True)
    return (inv_std / m) * (m * dXhat - sum_d - Xhat * sum_dx)


class BatchNorm(Module):
    """Batch normalisation over the batch axis: (N, n) -> (N, n).

    Train mode (statistics of this batch, biased variance):

        mu = (1/N) Σ_i X_i        var = (1/N) Σ_i (X_i − mu)²
        Xhat = (X − mu) / sqrt(var + eps)           Y = gamma ⊙ Xhat + beta

    and the running statistics are updated as in PyTorch's ``BatchNorm1d``:

        running_mean ← (1 − momentum)·running_mean + momentum·mu
        running_var  ← (1 − momentum)·running_var  + momentum·var·N/(N − 1)   (unbiased)

    Eval mode uses ``running_mean`` and ``running_var`` instead, so the layer is a fixed
    affine map and each example's output no longer depends on the rest of the batch.

    Backward, train mode (compact form, Ioffe & Szegedy 2015), with dXhat = dY ⊙ gamma:

        dgamma = Σ_i dY ⊙ Xhat        dbeta = Σ_i dY
        dX = (1/N) · gamma/σ · (N·dY − Σ_i dY − Xhat ⊙ Σ_i (dY ⊙ Xhat))

    Eval mode: dX = dY ⊙ gamma / sqrt(running_var + eps).
    """

    def __init__(self, n, eps=1e-5, momentum=0.1, name=None):
        n = positive_int(n, "n", "BatchNorm")
        eps = real(eps, "eps", "BatchNorm", low=0, low_open=True)
        momentum = real(momentum, "momentum", "BatchNorm", low=0, low_open=True, high=1)
        super().__init__(name or f"BatchNorm({n})")
        self.n, self.eps, self.momentum = n, float(eps), float(momentum)
        self.gamma = Parameter(np.ones(n), "gamma")
        self.beta = Parameter(np.zeros(n), "beta")
        self.running_mean = np.zeros(n)      # buffers: updated by forward, not by the optimiser
        self.running_var = np.ones(n)
        self._cache = None

    def own_parameters(self):
        return [self.gamma, self.beta]

    def forward(self, X):
        """(N, n) -> (N, n): Y = gamma ⊙ (X − mu)/sqrt(var + eps) + beta."""
        X = _check_input(self, X, self.n)
        if self.training:
            N = X.shape[0]
            if N < 2:
                raise ValueError(f"{self.name}: train mode needs a batch of at least 2 examples to estimate "
                                 f"a variance, got input of shape {X.shape}; use a larger batch or call .eval()")
            mu, var = X.mean(axis=0), X.var(axis=0)
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mu
            self.running_var = (1 - m) * self.running_var + m * var * (N / (N - 1))
        else:
            mu, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)
        Xhat = (X - mu) * inv_std
        self._cache = (Xhat, inv_std, self.training)
        return self.gamma.data * Xhat + self.beta.data

    def backward(self, dY):
        """Train: the compact batch-norm backward; eval: dX = dY ⊙ gamma/σ_running."""
        Xhat, inv_std, training = self._cache if self._cache is not None else (np.empty((0, self.n)), None, None)
        dY = self._check_dY(dY, Xhat.shape)
        self.gamma.grad += (dY * Xhat).sum(axis=0)
        self.beta.grad += dY.sum(axis=0)
        dXhat = dY * self.gamma.data
        if not training:
            return dXhat * inv_std
        return _normalize_backward(dXhat, Xhat, inv_std, axis=0)

    def __repr__(self):
        return f"BatchNorm({self.n}, eps={self.eps:g}, momentum={self.momentum:g})"


class LayerNorm(Module):
    """Layer normalisation over each example's features: (N, n) -> (N, n).

        mu_i = (1/n) Σ_j X_ij     var_i = (1/n) Σ_j (X_ij − mu_i)²
        Y = gamma ⊙ (X − mu)/sqrt(var + eps) + beta

    The same in train and eval mode, and independent of the batch.  Backward is the
    batch-norm formula with the sums taken along the features instead of the batch:

        dX = (1/n) · (1/σ) · (n·dXhat − Σ_j dXhat − Xhat ⊙ Σ_j (dXhat ⊙ Xhat)),  dXhat = dY ⊙ gamma
    """

    def __init__(self, n, eps=1e-5, name=None):
        n = positive_int(n, "n", "LayerNorm")
        eps = real(eps, "eps", "LayerNorm", low=0, low_open=True)
        super().__init__(name or f"LayerNorm({n})")
        self.n, self.eps = n, float(eps)
        self.gamma = Parameter(np.ones(n), "gamma")
        self.beta = Parameter(np.zeros(n), "beta")
        self._cache = None

    def own_parameters(self):
        return [self.gamma, self.beta]

    def forward(self, X):
        """(N, n) -> (N, n), each row normalised over its n features; (B, T, n) likewise per position."""
        X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float64)
        if X.ndim > 2 and X.shape[-1] == self.n:     # a sequence batch: normalise each position
            check_finite(X, self.name)
        else:
            X = _check_input(self, X, self.n)
        mu = X.mean(axis=-1, keepdims=True)
        D = X - mu
        inv_std = 1.0 / np.sqrt(np.mean(D * D, axis=-1, keepdims=True) + self.eps)
        Xhat = D * inv_std
        self._cache = (Xhat, inv_std)
        return self.gamma.data * Xhat + self.beta.data

    def backward(self, dY):
        Xhat, inv_std = self._cache if self._cache is not None else (np.empty((0, self.n)), None)
        dY = self._check_dY(dY, Xhat.shape)
        rows = tuple(range(Xhat.ndim - 1))           # every axis but the features
        self.gamma.accumulate((dY * Xhat).sum(axis=rows))
        self.beta.accumulate(dY.sum(axis=rows))
        return _normalize_backward(dY * self.gamma.data, Xhat, inv_std, axis=-1)

    def __repr__(self):
        return f"LayerNorm({self.n}, eps={self.eps:g})"


class Residual(Module):
    """A skip connection around ``block``: Y = X + block(X), shape (N, n) -> (N, n).

    Backward:  dX = dY + block.backward(dY).

    The identity path passes the upstream gradient down *unchanged* and the block's
    gradient is *added* to it: however small the block's Jacobian becomes, dX keeps the
    dY term.  Stacking residual blocks therefore gives the gradient a "highway" from the
    loss to the first layers (He et al. 2016), which a plain deep stack does not have.
    """

    def __init__(self, block, name=None):
        if not isinstance(block, Module):
            raise TypeError(f"Residual: block must be a bpcourse Module, got {type(block).__name__}")
        super().__init__(name or f"Residual({block.name})")
        self.block = block
        self._cache = None

    def children(self):
        return [self.block]

    def forward(self, X):
        X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float64)
        F = self.block.forward(X)
        if np.shape(F) != X.shape:
            raise ValueError(f"{self.name}: the block {self.block.name} maps input of shape {X.shape} to "
                             f"shape {np.shape(F)}; a residual connection X + block(X) needs them equal")
        self._cache = X.shape
        return X + F

    def backward(self, dY):
        dY = self._check_dY(dY, self._cache)
        return dY + self.block.backward(dY)

    def __repr__(self):
        inner = repr(self.block).replace("\n", "\n  ")
        return f"Residual(\n  {inner}\n)"


class Dropout(Module):
    """Inverted dropout: any shape -> the same shape.

    Train mode: each entry is kept with probability 1 − p and scaled by 1/(1 − p),

        M_ij = [U_ij ≥ p] / (1 − p),  U ~ Uniform[0, 1)        Y = X ⊙ M

    so E[Y] = X and nothing needs rescaling at test time.  Eval mode: Y = X.
    Backward applies the same mask: dX = dY ⊙ M (eval: dX = dY).

    The mask comes from a Generator seeded by ``seed``, so runs are reproducible.
    ``freeze_mask()`` reuses the last mask on later forward passes (for a gradient check:
    the function must be the same on every evaluation); ``freeze_mask(False)`` undoes it.
    """

    def __init__(self, p=0.5, seed=0, name=None):
        p = real(p, "p (the probability of dropping a unit)", "Dropout", low=0, high=1, high_open=True)
        super().__init__(name or f"Dropout({p:g})")
        self.p = float(p)
        self.rng = as_rng(seed)
        self.frozen = False
        self.mask = None          # the last mask M, already scaled by 1/(1 − p)
        self._cache = None

    def freeze_mask(self, on=True):
        """Keep using the current mask in train mode (for gradient checks); returns self."""
        self.frozen = bool(on)
        return self

    def forward(self, X):
        X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float64)
        if not self.training:
            self._cache = (X.shape, None)
            return X
        if not (self.frozen and self.mask is not None and self.mask.shape == X.shape):
            self.mask = (self.rng.random(X.shape) >= self.p) / (1.0 - self.p)
        self._cache = (X.shape, self.mask)
        return X * self.mask

    def backward(self, dY):
        shape, mask = self._cache if self._cache is not None else (None, None)
        dY = self._check_dY(dY, shape)
        return dY.copy() if mask is None else dY * mask

    def __repr__(self):
        return f"Dropout(p={self.p:g})"
