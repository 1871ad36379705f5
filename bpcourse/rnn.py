"""A vanilla recurrent network and backpropagation through time (notebook 13).

Time is the middle axis: a batch of sequences X has shape (N, T, n_in).  With h_0 given
(zeros by default), for t = 1..T

    z_t = x_t W_xhᵀ + h_{t−1} W_hhᵀ + b          h_t = f(z_t)          (f = tanh by default)

and ``forward`` returns every hidden state, H of shape (N, T, n_hidden) (H[:, t−1] is h_t).

Backpropagation through time (BPTT) is ordinary backprop on the unrolled graph.  h_t feeds
both the loss directly (dH[:, t−1]) and the next step, so, walking t = T..1,

    dh_t    = dH_t + delta_{t+1} W_hh                 (the two paths into h_t add)
    delta_t = dh_t ⊙ f'(z_t)
    dW_xh  += delta_tᵀ x_t      dW_hh += delta_tᵀ h_{t−1}      db += Σ_n delta_t
    dx_t    = delta_t W_xh

The same W_xh, W_hh and b are used at every step, so their gradients are *sums over time*.
``truncate=k`` cuts the walk into windows of k steps counted from the end (truncated BPTT, see
``bpcourse.gates``): the gradient flows back at most k steps.
Going back k steps multiplies by k Jacobians diag(f'(z)) W_hh: if the spectral radius of
W_hh is below 1 (and |f'| ≤ 1) the signal shrinks geometrically — vanishing gradients; a
large radius can make it explode (Pascanu, Mikolov & Bengio 2013).
"""
from __future__ import annotations

import numpy as np

from .activations import get_activation
from .init import initialize
from .module import Module, Parameter, check_finite
from .validate import as_rng, positive_int

__all__ = ["RNN", "Recurrent", "check_truncate", "truncation_cut"]


def check_truncate(truncate, where):
    """None (full BPTT) or a positive int k, else ValueError naming ``where``."""
    if truncate is None:
        return None
    return positive_int(truncate, "truncate (the BPTT window in steps, or None for full BPTT)", where)


def truncation_cut(t, T, k):
    """Walking back over array indices t = T−1..0: True when the gradient must stop after index t.

    Windows of k steps are counted from the end, (T−k, T], (T−2k, T−k], ...; the state h_0 before
    the first step always gets its gradient (as in a window run on its own from a given h0).
    """
    return k is not None and t > 0 and (T - t) % k == 0


class Recurrent(Module):
    """What RNN, LSTM and GRU share: the input and initial-state checks, the truncation window, and
    the upstream gradient of a loss that reads only the last state.  Subclasses set ``n_in``,
    ``n_hidden`` and ``truncate``."""

    n_in = n_hidden = 0
    truncate: int | None = None

    def _check_X(self, X):
        """X as an array of shape (N, T, n_in) with T ≥ 1 and finite entries, else a ValueError."""
        X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float64)
        if X.ndim != 3 or X.shape[2] != self.n_in or X.shape[1] < 1:
            hint = " (one sequence? use X[None])" if X.ndim == 2 and X.shape[-1] == self.n_in else ""
            raise ValueError(f"{self.name}: expected input of shape (N, T, {self.n_in}) with T ≥ 1, "
                             f"got {X.shape}{hint}")
        check_finite(X, self.name)
        return X

    def _check_state(self, S, N, label):
        """An initial state (h0, or the LSTM's c0): zeros (N, n_hidden) when None, else checked."""
        if S is None:
            return np.zeros((N, self.n_hidden))
        S = np.asarray(S, dtype=np.float64)
        if S.shape != (N, self.n_hidden):
            raise ValueError(f"{self.name}: expected initial state {label} of shape ({N}, {self.n_hidden}), "
                             f"got {S.shape}")
        check_finite(S, f"{self.name} (initial state {label})")
        return S

    def _window(self):
        """The truncation window k (None: full BPTT), re-checked in case it was set after construction."""
        self.truncate = check_truncate(self.truncate, type(self).__name__)
        return self.truncate

    def _last_state_dH(self, H, dh_T):
        """dC/dH (N, T, n_hidden) for C = Σ dh_T ⊙ h_T: dh_T (ones by default) at step T, zeros before."""
        N = H.shape[0]
        dh_T = np.ones((N, self.n_hidden)) if dh_T is None else np.asarray(dh_T, dtype=np.float64)
        if dh_T.shape != (N, self.n_hidden):
            raise ValueError(f"{self.name}.hidden_gradient_norms: expected dh_T of shape "
                             f"({N}, {self.n_hidden}), got {dh_T.shape}")
        dH = np.zeros_like(H)
        dH[:, -1] = dh_T
        return dH


class RNN(Recurrent):
    """Vanilla RNN unrolled over time: (N, T, n_in) -> (N, T, n_hidden).

    Parameters: W_xh (n_hidden, n_in), W_hh (n_hidden, n_hidden), b (n_hidden,).
    activation: ``"tanh"`` (default), ``"sigmoid"``, ``"relu"``, ``"leaky_relu"`` or ``"identity"``.
    init: initialiser name for both weight matrices (see ``bpcourse.init.INITS``).
    truncate: None (full BPTT) or k: the gradient flows back at most k steps (``truncation_cut``).
    After ``backward``, ``dh0`` holds dC/dh_0, shape (N, n_hidden).
    """

    def __init__(self, n_in, n_hidden, activation="tanh", init="xavier", seed=0, name=None, truncate=None):
        n_in, n_hidden = positive_int(n_in, "n_in", "RNN"), positive_int(n_hidden, "n_hidden", "RNN")
        self.f, self.fprime = get_activation(activation)     # ValueError listing valid names
        self.truncate = check_truncate(truncate, "RNN")
        super().__init__(name or f"RNN({n_in}->{n_hidden}, {activation})")
        self.n_in, self.n_hidden, self.activation = int(n_in), int(n_hidden), activation
        rng = as_rng(seed)
        self.W_xh = Parameter(initialize(init, n_in, n_hidden, rng), "W_xh")
        self.W_hh = Parameter(initialize(init, n_hidden, n_hidden, rng), "W_hh")
        self.b = Parameter(np.zeros(n_hidden), "b")
        self.dh0 = None
        self._cache = None

    def own_parameters(self):
        return [self.W_xh, self.W_hh, self.b]

    def __call__(self, X, h0=None):
        return self.forward(X, h0)

    # forward ------------------------------------------------------------------------
    def forward(self, X, h0=None):
        """h_t = f(x_t W_xhᵀ + h_{t−1} W_hhᵀ + b) for t = 1..T; returns H, shape (N, T, n_hidden)."""
        X = self._check_X(X)
        N, T, _ = X.shape
        h0 = self._check_state(h0, N, "h0")
        Z = np.empty((N, T, self.n_hidden))
        Hs = np.empty((N, T + 1, self.n_hidden))   # Hs[:, t] is h_t, Hs[:, 0] is h_0
        Hs[:, 0] = h0
        for t in range(T):
            Z[:, t] = X[:, t] @ self.W_xh.data.T + Hs[:, t] @ self.W_hh.data.T + self.b.data
            Hs[:, t + 1] = self.f(Z[:, t])
        self._cache = (X, Z, Hs)
        return Hs[:, 1:].copy()

    # backward -----------------------------------------------------------------------
    def _bptt(self, dH, accumulate=True):
        """Walk t = T..1; returns dX and dh (N, T+1, n_hidden) with dh[:, t] = dC/dh_t in full."""
        X, Z, Hs = self._cache
        N, T, _ = X.shape
        dX = np.empty_like(X, dtype=np.float64)
        dh = np.empty((N, T + 1, self.n_hidden))
        dh_next = np.zeros((N, self.n_hidden))      # delta_{t+1} W_hh, zero after the last step
        k = self._window()
        for t in range(T - 1, -1, -1):              # array index t is time step t+1
            dh[:, t + 1] = dH[:, t] + dh_next
            delta = dh[:, t + 1] * self.fprime(Z[:, t])
            if accumulate:
                self.W_xh.grad += delta.T @ X[:, t]
                self.W_hh.grad += delta.T @ Hs[:, t]
                self.b.grad += delta.sum(axis=0)
            dX[:, t] = delta @ self.W_xh.data
            dh_next = delta @ self.W_hh.data
            if truncation_cut(t, T, k):             # truncated BPTT: nothing flows into the window before
                dh_next = np.zeros_like(dh_next)
        dh[:, 0] = dh_next
        return dX, dh

    def backward(self, dH):
        """BPTT: dH (N, T, n_hidden) = dC/dh_t from the loss at every step -> dC/dX (N, T, n_in).

        Adds the time-summed gradients into W_xh.grad, W_hh.grad, b.grad; stores dC/dh_0 in ``dh0``.
        """
        shape = self._cache[0].shape[:2] + (self.n_hidden,) if self._cache is not None else None
        dH = self._check_dY(dH, shape)
        dX, dh = self._bptt(dH)
        self.dh0 = dh[:, 0].copy()
        return dX

    # diagnostics for the vanishing / exploding demo -----------------------------------
    def spectral_radius(self):
        """ρ(W_hh) = max |eigenvalue of W_hh|."""
        return float(np.max(np.abs(np.linalg.eigvals(self.W_hh.data))))

    def set_spectral_radius(self, rho):
        """Rescale W_hh so that its spectral radius is ``rho`` (> 0); returns self."""
        if not rho > 0:
            raise ValueError(f"{self.name}.set_spectral_radius: rho must be > 0, got {rho!r}")
        current = self.spectral_radius()
        if current == 0:
            raise ValueError(f"{self.name}.set_spectral_radius: W_hh has spectral radius 0, cannot rescale it")
        self.W_hh.data *= rho / current
        return self

    def hidden_gradient_norms(self, X, h0=None, dh_T=None):
        """‖dC/dh_t‖ for t = 0..T (array of length T+1) when the loss sees only the last state.

        L = Σ dh_T ⊙ h_T (dh_T defaults to ones, shape (N, n_hidden)); the norm is taken over
        the whole batch.  Runs its own forward and backward; parameter gradients are untouched.
        """
        dH = self._last_state_dH(self.forward(X, h0), dh_T)
        _, dh = self._bptt(dH, accumulate=False)
        return np.sqrt((dh * dh).sum(axis=(0, 2)))

    def jacobian_norms(self, X, h0=None):
        """‖∂h_T/∂h_t‖₂ (spectral norm) for t = 0..T, averaged over the batch; length T+1.

        ∂h_T/∂h_t = J_T J_{T−1} ... J_{t+1}, with one step's Jacobian J_k = diag(f'(z_k)) W_hh;
        the entry for t = T is ‖I‖ = 1.
        """
        self.forward(X, h0)
        _, Z, _ = self._cache
        N, T, n = Z.shape
        J = np.broadcast_to(np.eye(n), (N, n, n)).copy()      # ∂h_T/∂h_T per example
        norms = np.empty(T + 1)
        for t in range(T, -1, -1):
            norms[t] = np.linalg.norm(J, ord=2, axis=(1, 2)).mean()
            if t > 0:                                           # ∂h_t/∂h_{t−1} = diag(f'(z_t)) W_hh
                J = J @ (self.fprime(Z[:, t - 1])[:, :, None] * self.W_hh.data)
        return norms

    def __repr__(self):
        return f"RNN({self.n_in}, {self.n_hidden}, activation={self.activation!r})"
