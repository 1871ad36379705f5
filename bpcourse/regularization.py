"""Weight penalties and early stopping (notebook 12).

    L2 (weight decay):  C_total = C + (α/2) Σ_W ‖W‖²     ∂/∂W = α·W
    L1 (sparsity):      C_total = C + α Σ_W |W|          ∂/∂W = α·sign(W),  sign(0) = 0

The strength α (``alpha`` on the notation page, docs/notation.md) is the argument ``lam`` here.

Only *weight matrices* are penalised — the parameters with two or more dimensions
(``Linear.W``, ``RNN.W_xh``, ``RNN.W_hh``; the same rule as ``bpcourse.train.fit``), never
biases or the gamma/beta of a normalisation layer.  A weight multiplies its input, so large
weights make the function steep and sensitive to small input changes: that is what the
penalty restrains.  A bias only shifts a unit; shrinking it towards zero does not make the
function smoother, it just moves the unit's threshold and costs fit (Goodfellow, Bengio &
Courville, *Deep Learning*, §7.1, make the same choice).

Typical use, between ``backward`` and the optimiser step:

    C = loss(net(X), y); net.backward(loss.backward())
    C += l2_penalty(net, lam=1e-3, add_grad=True)
    opt.step()
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .module import Module, Parameter
from .validate import choice, positive_int, real

__all__ = ["weight_parameters", "l2_penalty", "l1_penalty", "Regularization", "as_regularization", "EarlyStopping"]


def weight_parameters(model: Module | list[Parameter] | tuple[Parameter, ...]) -> list[Parameter]:
    """The weight matrices of ``model``: its parameters with two or more dimensions.

    ``model`` may be a Module, or a list of Parameters (then used as given).
    """
    if isinstance(model, Module):
        return [p for p in model.parameters() if p.data.ndim >= 2]
    params = list(model) if isinstance(model, (list, tuple)) else None
    if params is None or not all(isinstance(p, Parameter) for p in params):
        raise TypeError(f"expected a bpcourse Module or a list of Parameters, got {type(model).__name__}")
    return params


def l2_penalty(model: Module | list[Parameter], lam: float, add_grad: bool = False) -> float:
    """(lam/2) Σ_W ‖W‖² over the weight matrices; with ``add_grad`` also W.grad += lam·W.

    Returns the penalty as a float (add it to the data loss to report the total loss).
    """
    lam = real(lam, "lam", "l2_penalty", low=0)
    total = 0.0
    for W in weight_parameters(model):
        total += float(np.sum(W.data * W.data))
        if add_grad:
            W.grad += lam * W.data
    return 0.5 * lam * total


def l1_penalty(model: Module | list[Parameter], lam: float, add_grad: bool = False) -> float:
    """lam Σ_W |W| over the weight matrices; with ``add_grad`` also W.grad += lam·sign(W).

    |w| has no derivative at 0; we use the subgradient sign(0) = 0, so an exactly-zero
    weight is left where it is.
    """
    lam = real(lam, "lam", "l1_penalty", low=0)
    total = 0.0
    for W in weight_parameters(model):
        total += float(np.sum(np.abs(W.data)))
        if add_grad:
            W.grad += lam * np.sign(W.data)
    return lam * total


class Regularization:
    """L2 ("l2": penalty lam/2·||W||², gradient lam·W) or L1 ("l1": lam·Σ|W|, gradient lam·sign W).

    Applied to weight matrices only (parameters with 2 or more dimensions), never to biases:
    what ``train.train_step`` and ``train.fit`` do with ``regularization=``.  Any object with
    ``penalty(W) -> float`` and ``gradient(W) -> array`` can be passed instead.
    """

    KINDS = ("l1", "l2")

    def __init__(self, kind: str, lam: float) -> None:
        self.kind = choice(kind, self.KINDS, "kind", "Regularization")
        self.lam = real(lam, "lam (the strength)", "Regularization", low=0)

    def penalty(self, W: np.ndarray) -> float:
        if self.kind == "l2":
            return 0.5 * self.lam * float(np.vdot(W, W))
        return self.lam * float(np.abs(W).sum())

    def gradient(self, W: np.ndarray) -> np.ndarray:
        return self.lam * W if self.kind == "l2" else self.lam * np.sign(W)

    def __repr__(self):
        return f"Regularization({self.kind!r}, {self.lam:g})"


def as_regularization(reg: Any) -> Any:
    """None, a pair ``("l2", lam)``/``("l1", lam)``, or an object with penalty/gradient -> that object."""
    if reg is None:
        return None
    if isinstance(reg, (tuple, list)):
        if len(reg) != 2:
            raise ValueError(f"regularization: expected a pair like ('l2', 1e-4), got {reg!r}")
        return Regularization(*reg)
    if hasattr(reg, "penalty") and hasattr(reg, "gradient"):
        return reg
    raise ValueError(f"regularization: expected None, ('l2', lam), ('l1', lam) or an object with "
                     f"penalty(W) and gradient(W), got {reg!r}")


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` epochs.

    An epoch *improves* when ``val_loss < best - min_delta``.  Call the object once per
    epoch with the validation loss; it returns True when training should stop.  A NaN or
    infinite loss never counts as an improvement.

        stopper = EarlyStopping(patience=5, min_delta=1e-4, model=net)
        for epoch in range(100):
            ...train...
            if stopper(val_loss):
                break
        stopper.restore()          # put back the weights of the best epoch (needs model=)

    Epochs are numbered from 1, as in ``History`` (as a callback it uses fit's numbers).
    Attributes: ``best`` (lowest loss seen), ``best_epoch``, ``epoch`` (the last one seen),
    ``wait`` (epochs since the last improvement), ``stopped`` (True once it said stop).
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, model: Module | None = None) -> None:
        patience = positive_int(patience, "patience", "EarlyStopping")
        min_delta = real(min_delta, "min_delta", "EarlyStopping", low=0)
        if model is not None and not (isinstance(model, Module) or callable(getattr(model, "parameters", None))):
            raise TypeError(f"EarlyStopping: model must be a bpcourse Module (or have parameters()), "
                            f"got {type(model).__name__}")
        self.patience, self.min_delta, self.model = int(patience), float(min_delta), model
        self.reset()

    def reset(self):
        self.best, self.best_epoch, self.epoch, self.wait, self.stopped = math.inf, None, 0, 0, False
        self.best_state = None

    def __call__(self, *args):
        """``stopper(val_loss)`` or, as a fit callback, ``stopper(epoch, history, model)``."""
        if len(args) == 3:
            epoch, history, model = args
            if not getattr(history, "val_loss", None):
                raise ValueError("EarlyStopping: history has no validation loss; pass X_val, y_val to fit")
            val_loss = history.val_loss[-1]
            if self.model is None and isinstance(model, Module):
                self.model = model
        elif len(args) == 1:
            epoch, val_loss = self.epoch + 1, args[0]
        else:
            raise TypeError(f"EarlyStopping: call it with a validation loss, or as a fit callback "
                            f"(epoch, history, model); got {len(args)} arguments")
        val_loss = float(val_loss)
        if math.isfinite(val_loss) and val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = val_loss, epoch, 0
            if self.model is not None:
                self.best_state = [p.data.copy() for p in self.model.parameters()]
        else:
            self.wait += 1
        self.epoch = epoch
        self.stopped = self.stopped or self.wait >= self.patience
        return self.stopped

    def restore(self) -> Module:
        """Copy the parameters saved at the best epoch back into the model."""
        if self.model is None:
            raise RuntimeError("EarlyStopping.restore: no model was given (EarlyStopping(..., model=net))")
        if self.best_state is None:
            raise RuntimeError("EarlyStopping.restore: no epoch has improved yet, nothing to restore")
        for p, saved in zip(self.model.parameters(), self.best_state):
            p.data[...] = saved
        return self.model

    def __repr__(self):
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta:g}, "
                f"best={self.best:.4g} at epoch {self.best_epoch})")
