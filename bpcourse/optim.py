"""Optimisers (notebooks 06, 11): each updates a list of Parameters from their ``.grad``.

Update rules follow PyTorch's conventions, so results can be compared one to one:

    SGD:      g = grad + wd·w;   v = μ v + g;   w ← w − η v          (μ = 0: plain gradient descent)
    RMSProp:  s = ρ s + (1 − ρ) g²;               w ← w − η g / (√s + ε)
    Adam:     m = β₁ m + (1 − β₁) g;  v = β₂ v + (1 − β₂) g²;
              w ← w − η m̂ / (√v̂ + ε)  with  m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ)

``weight_decay`` adds the L2 term wd·w to the gradient (the derivative of (wd/2)‖w‖²).
The learning rate ``lr`` can be changed between steps without resetting the state.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .validate import choice, real

if TYPE_CHECKING:
    from .module import Parameter

__all__ = ["Optimizer", "SGD", "RMSProp", "Adam", "clip_grad_norm", "OPTIMIZERS", "make_optimizer"]


def _positive(value, name, where):
    """A finite number > 0 (learning rates, eps, max_norm)."""
    return real(value, name, where, low=0, low_open=True)


def _fraction(value, name, where):
    """A finite number in [0, 1) (momentum, decay rates)."""
    return real(value, name, where, low=0, high=1, high_open=True)


class Optimizer:
    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list "
                             "(did you pass model.parameters()?)")
        for i, p in enumerate(params):
            if not (hasattr(p, "data") and hasattr(p, "grad")):
                raise TypeError(f"{type(self).__name__}: item {i} is a {type(p).__name__}, not a Parameter")
        self.params = params
        self.lr = lr
        self.t = 0

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _positive(value, "learning rate lr", type(self).__name__)

    def zero_grad(self) -> None:
        for p in self.params:
            if hasattr(p, "zero_grad"):
                p.zero_grad()          # lazy: see nn.Parameter
            else:
                p.grad.fill(0.0)

    def step(self) -> None:
        self.t += 1
        for i, p in enumerate(self.params):
            self._update(i, p)

    def _update(self, i, p):  # pragma: no cover - each optimiser defines its rule
        raise NotImplementedError(f"{type(self).__name__}._update")

    def _grad(self, p):
        return p.grad + self.weight_decay * p.data if self.weight_decay else p.grad


class SGD(Optimizer):
    """Stochastic gradient descent with optional (heavy-ball) momentum and L2 weight decay."""

    def __init__(self, params: Iterable[Parameter], lr: float = 0.1, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = _fraction(momentum, "momentum", "SGD")
        self.weight_decay = real(weight_decay, "weight_decay", "SGD", low=0)
        self.velocity = [None] * len(self.params)
        self._scratch = [None] * len(self.params)

    def _update(self, i, p):
        g = self._grad(p)
        if self.momentum:
            v = self.velocity[i]
            v = g.copy() if v is None else self.momentum * v + g
            self.velocity[i] = v
            g = v
        step = self._scratch[i]
        if step is None or step.shape != g.shape or step.dtype != g.dtype:
            step = self._scratch[i] = np.empty_like(g)
        np.multiply(g, self.lr, out=step)     # no fresh temporary per step
        p.data -= step


class RMSProp(Optimizer):
    def __init__(self, params: Iterable[Parameter], lr: float = 1e-2, rho: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.rho = _fraction(rho, "rho", "RMSProp")
        self.eps = _positive(eps, "eps", "RMSProp")
        self.weight_decay = real(weight_decay, "weight_decay", "RMSProp", low=0)
        self.s = [np.zeros_like(p.data) for p in self.params]

    def _update(self, i, p):
        g = self._grad(p)
        s = self.s[i]
        s *= self.rho
        s += (1 - self.rho) * g * g
        p.data -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        self.beta1 = _fraction(b1, "beta1", "Adam")
        self.beta2 = _fraction(b2, "beta2", "Adam")
        self.eps = _positive(eps, "eps", "Adam")
        self.weight_decay = real(weight_decay, "weight_decay", "Adam", low=0)
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def _update(self, i, p):
        g = self._grad(p)
        m, v = self.m[i], self.v[i]
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        c1 = 1 - self.beta1 ** self.t
        c2 = 1 - self.beta2 ** self.t
        p.data -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": SGD,
    "momentum": lambda params, lr, **kw: SGD(params, lr, momentum=kw.pop("momentum", 0.9), **kw),
    "rmsprop": RMSProp,
    "adam": Adam,
}


def make_optimizer(name: str, params: Iterable[Parameter], lr: float, **kwargs: Any) -> Optimizer:
    """``make_optimizer("adam", net.parameters(), 1e-3)``; unknown names list the valid ones."""
    return OPTIMIZERS[choice(name, OPTIMIZERS, "optimizer", "make_optimizer")](params, lr=lr, **kwargs)


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Rescale all gradients together so their global L2 norm is at most ``max_norm``.

    Returns the norm *before* clipping (as PyTorch's clip_grad_norm_).  Pascanu et al. (2013).
    """
    max_norm = _positive(max_norm, "max_norm", "clip_grad_norm")
    params = list(params)
    total = math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for p in params:
            p.grad *= scale
    return total
