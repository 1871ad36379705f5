"""``Parameter`` and ``Module``: what every layer is built from (notebooks 04, 10, 13-17).

Every layer module imports these from here; ``bpcourse.nn`` re-exports them.  Conventions:
``forward`` caches what ``backward`` needs, ``backward(dY)`` *adds* into each Parameter's ``.grad``
(``Parameter.accumulate``) and returns a new array dC/dX; upstream gradients are never modified.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .validate import NonFiniteError, check_finite

__all__ = ["Parameter", "Module", "NonFiniteError", "check_finite", "takes_input_grad",
           "backward_for_parameters"]


class Parameter:
    """A trainable array ``data`` and its gradient ``grad`` (same shape, starts at zero).

    ``zero_grad()`` is lazy: it only marks the gradient stale.  Reading ``.grad`` zeroes a stale
    gradient first, so it always reads as zeros; a layer's backward that sees the mark writes
    its gradient straight into the buffer instead of zero-filling and then adding.
    """

    __slots__ = ("data", "_grad", "_stale", "name")

    def __init__(self, data: ArrayLike, name: str = "") -> None:
        self.data = np.array(data, dtype=getattr(data, "dtype", np.float64))
        self._grad = np.zeros_like(self.data)
        self._stale = False
        self.name = name

    @property
    def grad(self) -> np.ndarray:
        if self._stale:
            self._grad.fill(0.0)
            self._stale = False
        return self._grad

    @grad.setter
    def grad(self, value: ArrayLike) -> None:
        value = np.asarray(value)
        if value.shape != self.data.shape:
            raise ValueError(f"Parameter {self.name or '?'}: grad must have shape {self.data.shape}, "
                             f"got {value.shape}")
        self._grad = value
        self._stale = False

    def zero_grad(self) -> None:
        self._stale = True

    def accumulate(self, g: np.ndarray) -> None:
        """grad += g (g has the shape of ``data``); right after ``zero_grad`` it is a plain copy."""
        if self._stale:
            np.copyto(self._grad, g)
            self._stale = False
        else:
            self._grad += g

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self):
        return f"Parameter({self.name or '?'}, shape={self.data.shape})"


class Module:
    """Base class: ``forward``, ``backward``, ``parameters``, ``zero_grad``, train/eval mode."""

    training = True

    def __init__(self, name: str | None = None) -> None:
        self.name = name or type(self).__name__

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.forward(X)

    def forward(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dY: np.ndarray) -> np.ndarray | None:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward")

    # parameters -----------------------------------------------------------------
    def own_parameters(self) -> list[Parameter]:
        """Parameters held directly by this module (not by its children)."""
        return []

    def children(self) -> list[Module]:
        return []

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """List of (qualified name, Parameter), e.g. ``('0.Linear1(2->16).W', p)``."""
        out = [(p.name, p) for p in self.own_parameters()]
        for i, child in enumerate(self.children()):
            out += [(f"{i}.{child.name}.{n}", p) for n, p in child.named_parameters()]
        return out

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> Module:
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def __repr__(self):
        return self.name

    # helpers for subclasses --------------------------------------------------------
    def _check_dY(self, dY, expected_shape):
        if getattr(self, "_cache", None) is None:
            raise RuntimeError(f"{self.name}: backward() called before forward()")
        dY = np.asarray(dY)
        if dY.shape != expected_shape:
            raise ValueError(f"{self.name}.backward: expected upstream gradient of shape "
                             f"{expected_shape} (the shape of its forward output), got {dY.shape}")
        return dY


def takes_input_grad(module: Module) -> bool:
    """True when ``module.backward`` accepts ``input_grad=`` (``Linear``, ``Conv2d``, ``Sequential``...):
    ``backward(dY, input_grad=False)`` then skips dC/dX, which nothing needs when the input is data."""
    return _has_input_grad(type(module).backward)


def backward_for_parameters(module: Module, dY: np.ndarray) -> None:
    """``module.backward(dY)`` for its parameters' gradients alone, when its input is data: with
    ``input_grad=False`` if the backward takes it (dC/dX is then never computed), else dC/dX is dropped."""
    backward: Any = module.backward          # Module.backward itself has no input_grad
    if takes_input_grad(module):
        backward(dY, input_grad=False)
    else:
        backward(dY)


@functools.lru_cache(maxsize=None)
def _has_input_grad(backward) -> bool:
    return "input_grad" in inspect.signature(backward).parameters
