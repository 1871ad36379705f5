"""Loss functions (notebook 05).  Each is called as ``C = loss(prediction, target)`` and
returns the MEAN over the batch as a float; ``loss.backward()`` then returns dC/dprediction,
a new array of the prediction's shape.

With a sigmoid output and BCE, or a softmax output and cross-entropy, the output error is
simply δᴸ = (a − y) / N: σ' cancels.  That is why ``BCE(from_logits=True)`` and
``SoftmaxCrossEntropy`` take the pre-activation (logits) and are the stable choice.
"""
from __future__ import annotations

import numpy as np

from .activations import log_softmax, sigmoid
from .validate import NonFiniteError

__all__ = ["Loss", "MSE", "BCE", "SoftmaxCrossEntropy", "CosineDistance", "LOSSES", "get_loss"]


def _as_float_array(x, what, loss_name):
    x = np.asarray(x, dtype=float) if not (isinstance(x, np.ndarray) and x.dtype.kind == "f") else x
    if not np.isfinite(x).all():
        raise NonFiniteError(f"{loss_name}: {what} contains NaN or inf; if this happened during "
                         "training, the learning rate is probably too high")
    return x


class Loss:
    """Base class: ``__call__(pred, target) -> float`` and ``backward() -> dC/dpred``."""

    name = "loss"

    def __init__(self):
        self._cache = None

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def backward(self):
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward() called before computing the loss")
        return self._backward()

    def __repr__(self):
        return f"{type(self).__name__}()"

    def _same_shape(self, pred, target):
        """Accept y of shape (N,) for a prediction of shape (N, 1); otherwise shapes must match."""
        if target.shape != pred.shape:
            if pred.ndim == 2 and pred.shape[1] == 1 and target.shape == (pred.shape[0],):
                return target.reshape(-1, 1)
            raise ValueError(f"{self.name}: prediction has shape {pred.shape} but target has shape "
                             f"{target.shape}; they must match")
        return target


class MSE(Loss):
    """Mean squared error: mean over all entries of (a − y)²  (PyTorch's MSELoss)."""

    name = "MSE"

    def forward(self, pred, target):
        A = _as_float_array(pred, "prediction", self.name)
        Y = self._same_shape(A, _as_float_array(target, "target", self.name))
        D = A - Y
        self._cache = D
        return float(np.mean(D * D))

    def _backward(self):
        D = self._cache
        return 2.0 * D / D.size


class BCE(Loss):
    """Binary cross-entropy −[y log p + (1 − y) log(1 − p)], mean over the batch.

    from_logits=False: ``pred`` holds probabilities p in [0, 1] (log clamped at −100, as PyTorch).
    from_logits=True:  ``pred`` holds logits z; computed stably as max(z,0) − z y + log(1 + e^{−|z|}),
                       and the gradient is (σ(z) − y) / N.
    """

    def __init__(self, from_logits=False):
        super().__init__()
        self.from_logits = bool(from_logits)
        self.name = "BCE(from_logits=True)" if from_logits else "BCE"

    def __repr__(self):
        return f"BCE(from_logits={self.from_logits})"

    def forward(self, pred, target):
        P = _as_float_array(pred, "prediction", self.name)
        Y = self._same_shape(P, _as_float_array(target, "target", self.name))
        if Y.size and (Y.min() < 0 or Y.max() > 1):
            raise ValueError(f"{self.name}: targets must lie in [0, 1], got values in "
                             f"[{Y.min():g}, {Y.max():g}]")
        if self.from_logits:
            Z = P
            L = np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))
        else:
            if P.size and (P.min() < 0 or P.max() > 1):
                raise ValueError(f"{self.name}: predictions must be probabilities in [0, 1] (got values in "
                                 f"[{P.min():g}, {P.max():g}]); pass logits with BCE(from_logits=True)")
            with np.errstate(divide="ignore"):
                logp = np.maximum(np.log(P), -100.0)
                log1mp = np.maximum(np.log1p(-P), -100.0)
            L = -(Y * logp + (1 - Y) * log1mp)
        self._cache = (P, Y)
        return float(np.mean(L))

    def _backward(self):
        P, Y = self._cache
        if self.from_logits:
            return (sigmoid(P) - Y) / P.size
        # d/dp of -(y log p + (1-y) log(1-p)) = (p - y) / (p (1 - p)), guarded as PyTorch does
        return (P - Y) / np.maximum(P * (1 - P), 1e-12) / P.size


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, from logits (N, K) for K classes and class indices y (N,).

    C = mean_n [ −log softmax(z_n)[y_n] ],   dC/dz = (softmax(z) − onehot(y)) / N.

    Sequences (notebook 17): logits (B, T, K) with targets (B, T) are B·T rows of the above —
    the mean is over every position, and dC/dz has the logits' shape (B, T, K).
    """

    name = "SoftmaxCrossEntropy"
    _seq = None                               # the (B, T, C) shape of sequence logits, else None

    def forward(self, logits, y):
        Z = _as_float_array(logits, "logits", self.name)
        self._seq = None
        if Z.ndim == 3:                       # (B, T, C) with (B, T): every position is one row
            y = np.asarray(y)
            if y.shape != Z.shape[:2]:
                raise ValueError(f"{self.name}: logits of shape {Z.shape} need targets of shape "
                                 f"{Z.shape[:2]}, got {y.shape}")
            L = self.forward(Z.reshape(-1, Z.shape[2]), y.reshape(-1))
            self._seq = Z.shape
            return L
        if Z.ndim != 2:
            raise ValueError(f"{self.name}: logits must have shape (N, K) for K classes, got {Z.shape} "
                             "(or (B, T, K) with targets (B, T))")
        N, C = Z.shape
        y = np.asarray(y)
        if y.ndim == 2 and y.shape == Z.shape:
            raise ValueError(f"{self.name}: expected class indices of shape ({N},), got a {y.shape} array "
                             "(one-hot?); use y.argmax(axis=1)")
        if y.shape != (N,):
            raise ValueError(f"{self.name}: expected class indices of shape ({N},), got {y.shape}")
        if y.dtype.kind not in "iu":
            if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise ValueError(f"{self.name}: class indices must be integers, got dtype {y.dtype}")
        if N and (y.min() < 0 or y.max() >= C):
            raise ValueError(f"{self.name}: labels must be in 0..{C - 1} for {C} classes, "
                             f"got values in {y.min()}..{y.max()}")
        logp = log_softmax(Z, axis=1)
        self._cache = (logp, y)
        return float(-logp[np.arange(N), y].mean())

    def _backward(self):
        logp, y = self._cache
        N = logp.shape[0]
        delta = np.exp(logp)                    # softmax, reusing the forward pass
        delta[np.arange(N), y] -= 1.0
        delta /= N
        return delta if self._seq is None else delta.reshape(self._seq)


class CosineDistance(Loss):
    """1 − cos(a, y) per row, mean over the batch; rows of shape (N, d).

    Norms are floored at ``eps`` (1e-8, as PyTorch's cosine_similarity) so zero vectors give no NaN.
    """

    name = "CosineDistance"

    def __init__(self, eps=1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, pred, target):
        A = _as_float_array(pred, "prediction", self.name)
        Y = _as_float_array(target, "target", self.name)
        if A.ndim != 2 or A.shape != Y.shape:
            raise ValueError(f"{self.name}: prediction and target must both have shape (N, d); "
                             f"got {A.shape} and {Y.shape}")
        na = np.maximum(np.linalg.norm(A, axis=1, keepdims=True), self.eps)
        ny = np.maximum(np.linalg.norm(Y, axis=1, keepdims=True), self.eps)
        cos = (A * Y).sum(axis=1, keepdims=True) / (na * ny)
        self._cache = (A, Y, na, ny, cos)
        return float(np.mean(1.0 - cos))

    def _backward(self):
        A, Y, na, ny, cos = self._cache
        # d cos / d a = y / (|a||y|) − cos · a / |a|²   (where |a| is above the floor)
        dcos = Y / (na * ny) - cos * A / (na * na) * (na > self.eps)
        return -dcos / A.shape[0]


LOSSES = {
    "mse": MSE,
    "bce": BCE,
    "bce_logits": lambda: BCE(from_logits=True),
    "cross_entropy": SoftmaxCrossEntropy,
    "cosine": CosineDistance,
}


def get_loss(name):
    """A fresh loss object for ``name``; an existing Loss is returned unchanged."""
    if isinstance(name, Loss):
        return name
    try:
        return LOSSES[name]()
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {name!r}; valid: {', '.join(LOSSES)}") from None
