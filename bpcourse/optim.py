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
import numbers

import numpy as np

__all__ = ["Optimizer", "SGD", "RMSProp", "Adam", "clip_grad_norm", "OPTIMIZERS", "make_optimizer"]


def _check_rate(value, what, owner, low=0.0, low_inclusive=False, high=None):
    try:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {what} must be a number, got {value!r}") from None
    bad = not math.isfinite(v) or (v < low if low_inclusive else v <= low) or (high is not None and v >= high)
    if bad:
        rng = f"{'≥' if low_inclusive else '>'} {low:g}" + (f" and < {high:g}" if high is not None else "")
        raise ValueError(f"{owner}: {what} must be finite and {rng}, got {value!r}")
    return v


class Optimizer:
    def __init__(self, params, lr):
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
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = _check_rate(value, "learning rate lr", type(self).__name__)

    def zero_grad(self):
        for p in self.params:
            if hasattr(p, "zero_grad"):
                p.zero_grad()          # lazy: see nn.Parameter
            else:
                p.grad.fill(0.0)

    def step(self):
        self.t += 1
        for i, p in enumerate(self.params):
            self._update(i, p)

    def _grad(self, p):
        return p.grad + self.weight_decay * p.data if self.weight_decay else p.grad


class SGD(Optimizer):
    """Stochastic gradient descent with optional (heavy-ball) momentum and L2 weight decay."""

    def __init__(self, params, lr=0.1, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum = _check_rate(momentum, "momentum", "SGD", low_inclusive=True, high=1.0)
        self.weight_decay = _check_rate(weight_decay, "weight_decay", "SGD", low_inclusive=True)
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
    def __init__(self, params, lr=1e-2, rho=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        self.rho = _check_rate(rho, "rho", "RMSProp", low_inclusive=True, high=1.0)
        self.eps = _check_rate(eps, "eps", "RMSProp")
        self.weight_decay = _check_rate(weight_decay, "weight_decay", "RMSProp", low_inclusive=True)
        self.s = [np.zeros_like(p.data) for p in self.params]

    def _update(self, i, p):
        g = self._grad(p)
        s = self.s[i]
        s *= self.rho
        s += (1 - self.rho) * g * g
        p.data -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        b1, b2 = betas
        self.beta1 = _check_rate(b1, "beta1", "Adam", low_inclusive=True, high=1.0)
        self.beta2 = _check_rate(b2, "beta2", "Adam", low_inclusive=True, high=1.0)
        self.eps = _check_rate(eps, "eps", "Adam")
        self.weight_decay = _check_rate(weight_decay, "weight_decay", "Adam", low_inclusive=True)
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


OPTIMIZERS = {"sgd": SGD, "momentum": lambda params, lr, **kw: SGD(params, lr, momentum=kw.pop("momentum", 0.9), **kw),
              "rmsprop": RMSProp, "adam": Adam}


def make_optimizer(name, params, lr, **kwargs):
    """``make_optimizer("adam", net.parameters(), 1e-3)``; unknown names list the valid ones."""
    try:
        cls = OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}") from None
    return cls(params, lr=lr, **kwargs)


def clip_grad_norm(params, max_norm):
    """Rescale all gradients together so their global L2 norm is at most ``max_norm``.

    Returns the norm *before* clipping (as PyTorch's clip_grad_norm_).  Pascanu et al. (2013).
    """
    max_norm = _check_rate(max_norm, "max_norm", "clip_grad_norm")
    params = list(params)
    total = math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for p in params:
            p.grad *= scale
    return total
