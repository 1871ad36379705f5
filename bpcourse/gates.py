"""Gated recurrent layers, LSTM and GRU, with backpropagation through time written by hand (notebook 14).

Same conventions as ``bp.nn.RNN``: X has shape (N, T, n_in), time is the middle axis, and
``forward`` returns every hidden state, H of shape (N, T, n_hidden) (H[:, t−1] is h_t).
Gate order and parameter layout follow PyTorch (``torch.nn.LSTM`` / ``torch.nn.GRU``), so the
weights can be copied across; PyTorch's two bias vectors correspond to our one (their sum),
except the GRU's hidden-side candidate bias, which sits inside the reset gate and is kept apart.

LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000), gates (i, f, g, o):

    a_t = x_t W_xhᵀ + h_{t−1} W_hhᵀ + b                    (N, 4n): the four blocks a_i, a_f, a_g, a_o
    i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
    c_t = f ⊙ c_{t−1} + i ⊙ g                              (the cell: an *additive* path through time)
    h_t = o ⊙ tanh(c_t)

  Backward (walking t = T..1; dh_t and dc_t collect the gradient from the loss and from step t+1):

    dc_t += dh_t ⊙ o ⊙ (1 − tanh²(c_t))
    da_i = dc_t ⊙ g ⊙ i(1−i)    da_f = dc_t ⊙ c_{t−1} ⊙ f(1−f)
    da_g = dc_t ⊙ i ⊙ (1−g²)    da_o = dh_t ⊙ tanh(c_t) ⊙ o(1−o)
    dc_{t−1} = dc_t ⊙ f         (∂c_t/∂c_{t−1} = diag(f_t): no weight matrix on the cell path)
    dh_{t−1} = da_t W_hh        dx_t = da_t W_xh
    dW_xh = Σ_t da_tᵀ x_t       dW_hh = Σ_t da_tᵀ h_{t−1}       db = Σ_{t,n} da_t

GRU (Cho et al. 2014, in PyTorch's form), gates (r, z, n):

    r = σ(x W_xrᵀ + h_{t−1} W_hrᵀ + b_r)       z = σ(x W_xzᵀ + h_{t−1} W_hzᵀ + b_z)
    n = tanh(x W_xnᵀ + b_n + r ⊙ (h_{t−1} W_hnᵀ + b_hn))
    h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}           (the update gate z mixes old and new: additive again)

  Backward:  dn = dh_t ⊙ (1−z),  dz = dh_t ⊙ (h_{t−1} − n),  da_n = dn ⊙ (1−n²),
             dr = da_n ⊙ (h_{t−1} W_hnᵀ + b_hn),  da_r = dr ⊙ r(1−r),  da_z = dz ⊙ z(1−z);
             the input side gets (da_r, da_z, da_n), the hidden side (da_r, da_z, da_n ⊙ r), and
             dh_{t−1} = dh_t ⊙ z + (da_r, da_z, da_n ⊙ r) W_hh.

Truncated BPTT (``truncate=k``, also on ``RNN``): the sequence is cut, from its end, into windows
of k steps, (T−k, T], (T−2k, T−k], ...; the gradient is not passed from one window into the
state before it, so the loss at step t reaches back to the start of its window: at most k steps.
``truncate=None`` (or k ≥ T) is full BPTT.  A window with no loss in it then has no gradient at
all, and the backward pass skips it: for a loss on the last state only, backward costs k steps.
"""
from __future__ import annotations

import numpy as np

from .activations import capped_sigmoid as sigmoid
from .init import initialize
from .module import Module, Parameter
from .rnn import Recurrent, check_truncate, truncation_cut
from .validate import as_rng, positive_int, real

__all__ = ["LSTM", "GRU", "LastStep", "lstm_step_forward", "lstm_step_backward", "gru_step_forward",
           "gru_step_backward"]


def tanh(A):
    """tanh(a) = 2σ(2a) − 1 (numpy's exp is several times faster than its tanh; same values to ~1e-16)."""
    S = sigmoid(2.0 * A)
    S *= 2.0
    S -= 1.0
    return S


# ---------------------------------------------------------------------------------------------
# one step of each cell: the equations of the module docstring, batched over N
# ---------------------------------------------------------------------------------------------

def _lstm_cell(A, c_prev):
    """A = x W_xhᵀ + h_prev W_hhᵀ + b (N, 4n), c_prev (N, n) -> h, c, gates (i, f, g, o, tanh c)."""
    n = c_prev.shape[1]
    S = sigmoid(A)                                   # i, f and o use it; the g block is recomputed
    i, f, o = S[:, :n], S[:, n:2 * n], S[:, 3 * n:]
    g = tanh(A[:, 2 * n:3 * n])
    c = f * c_prev + i * g
    tanh_c = tanh(c)
    return o * tanh_c, c, (i, f, g, o, tanh_c)


def _lstm_cell_backward(dh, dc_next, c_prev, gates):
    """dh = dC/dh_t (loss + step t+1), dc_next = the gradient reaching c_t from step t+1 (N, n)
    -> (da (N, 4n), dc (N, n)) with dc = dC/dc_t in full.  The cell path back is dc ⊙ f_t."""
    i, f, g, o, tanh_c = gates
    dc = dc_next + dh * o * (1.0 - tanh_c * tanh_c)  # h_t = o ⊙ tanh(c_t): the two paths into c_t add
    da = np.concatenate([dc * g * i * (1.0 - i),     # input gate
                         dc * c_prev * f * (1.0 - f),  # forget gate
                         dc * i * (1.0 - g * g),     # candidate
                         dh * tanh_c * o * (1.0 - o)], axis=1)   # output gate
    return da, dc


def lstm_step_forward(x, h_prev, c_prev, W_xh, W_hh, b):
    """One LSTM step: x (N, n_in), h_prev and c_prev (N, n) -> h, c (N, n) and a cache for backward.

    W_xh (4n, n_in), W_hh (4n, n), b (4n,), gate blocks in the order i, f, g, o (PyTorch's).
    """
    A = x @ W_xh.T + h_prev @ W_hh.T + b
    h, c, gates = _lstm_cell(A, c_prev)
    return h, c, (x, h_prev, c_prev, gates)


def lstm_step_backward(dh, dc, cache, W_xh, W_hh):
    """Backward of ``lstm_step_forward``: dh, dc = dC/dh_t, dC/dc_t (N, n), the cache it returned.

    Returns (dx, dh_prev, dc_prev, dW_xh, dW_hh, db) for this one step.
    """
    x, h_prev, c_prev, gates = cache
    da, dc_t = _lstm_cell_backward(dh, dc, c_prev, gates)
    f = gates[1]
    return da @ W_xh, da @ W_hh, dc_t * f, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def _gru_cell(Ax, h_prev, W_hh, b_hn):
    """Ax = x W_xhᵀ + b (N, 3n) -> h (N, n) and gates (r, z, n, hn) with hn = h_prev W_hnᵀ + b_hn."""
    n = h_prev.shape[1]
    Ah = h_prev @ W_hh.T
    r = sigmoid(Ax[:, :n] + Ah[:, :n])
    z = sigmoid(Ax[:, n:2 * n] + Ah[:, n:2 * n])
    hn = Ah[:, 2 * n:] + b_hn
    cand = tanh(Ax[:, 2 * n:] + r * hn)
    return (1.0 - z) * cand + z * h_prev, (r, z, cand, hn)


def _gru_cell_backward(dh, h_prev, gates):
    """dh = dC/dh_t (N, n) -> (dAx, dAh) (N, 3n): gradients of the input-side and hidden-side sums,
    and dh ⊙ z, the part of dC/dh_{t−1} that skips the weights (the rest is dAh W_hh)."""
    r, z, cand, hn = gates
    da_n = dh * (1.0 - z) * (1.0 - cand * cand)
    da_r = da_n * hn * r * (1.0 - r)
    da_z = dh * (h_prev - cand) * z * (1.0 - z)
    return (np.concatenate([da_r, da_z, da_n], axis=1), np.concatenate([da_r, da_z, da_n * r], axis=1),
            dh * z)


def gru_step_forward(x, h_prev, W_xh, W_hh, b, b_hn):
    """One GRU step: x (N, n_in), h_prev (N, n) -> h (N, n) and a cache for backward.

    W_xh (3n, n_in), W_hh (3n, n), b (3n,), b_hn (n,), gate blocks in the order r, z, n (PyTorch's).
    """
    h, gates = _gru_cell(x @ W_xh.T + b, h_prev, W_hh, b_hn)
    return h, (x, h_prev, gates)


def gru_step_backward(dh, cache, W_xh, W_hh):
    """Backward of ``gru_step_forward``: returns (dx, dh_prev, dW_xh, dW_hh, db, db_hn)."""
    x, h_prev, gates = cache
    dAx, dAh, dh_skip = _gru_cell_backward(dh, h_prev, gates)
    n = h_prev.shape[1]
    return (dAx @ W_xh, dh_skip + dAh @ W_hh, dAx.T @ x, dAh.T @ h_prev, dAx.sum(axis=0),
            dAh[:, 2 * n:].sum(axis=0))


# ---------------------------------------------------------------------------------------------
# the layers
# ---------------------------------------------------------------------------------------------

def _stacked(init, n_in, n_hidden, gates, rng):
    """(gates·n_hidden, n_in): one block per gate, each drawn by ``init`` as an (n_hidden, n_in) matrix."""
    return np.vstack([initialize(init, n_in, n_hidden, rng) for _ in range(gates)])


class _Gated(Recurrent):
    """What LSTM and GRU share: parameters, argument checks, the BPTT walk, gradient norms (the input
    checks and the truncation window come from ``Recurrent``, shared with RNN)."""

    GATES = 0
    kind = ""
    KEEP_BIAS = ""      # the name of the bias of block 1, the gate that keeps the old state (see keep_gates)

    def __init__(self, n_in, n_hidden, seed, init, truncate, name, keep_bias):
        where = type(self).__name__
        keep_bias = real(keep_bias, self.KEEP_BIAS, where)
        self.n_in = positive_int(n_in, "n_in", where)
        self.n_hidden = positive_int(n_hidden, "n_hidden", where)
        self.truncate = check_truncate(truncate, where)
        super().__init__(name or f"{where}({n_in}->{n_hidden})")
        rng = as_rng(seed)
        m = self.GATES
        self.W_xh = Parameter(_stacked(init, self.n_in, self.n_hidden, m, rng), "W_xh")
        self.W_hh = Parameter(_stacked(init, self.n_hidden, self.n_hidden, m, rng), "W_hh")
        self.b = Parameter(np.zeros(m * self.n_hidden), "b")
        self.b.data[self.n_hidden:2 * self.n_hidden] = keep_bias
        setattr(self, self.KEEP_BIAS, keep_bias)
        self.dh0 = None
        self._cache = None

    def own_parameters(self):
        return [self.W_xh, self.W_hh, self.b]

    def keep_gates(self):
        """The gate that keeps the old state at every step of the last forward, (N, T, n_hidden):
        the forget gate f_t for the LSTM, the update gate z_t for the GRU."""
        if self._cache is None:
            raise RuntimeError(f"{self.name}: no gate values before the first forward()")
        return np.stack([g[1] for g in self._cache["gates"]], axis=1)

    def _check_dH(self, dH):
        shape = self._cache["X"].shape[:2] + (self.n_hidden,) if self._cache is not None else None
        return self._check_dY(dH, shape)

    def _walk_back(self, dH, step, carried):
        """The loop of BPTT, shared by the LSTM and the GRU: t = T..1 over dH (N, T, n), the loss's gradient.

        What step t+1 sends back is ``carry``, a tuple of ``carried`` (N, n) arrays with dC/dh_t first (the
        LSTM also carries dC/dc_t); dh_t = dH_t + carry[0] (the two paths into h_t add), and
        ``step(t, dh_t, carry)`` returns what goes on to step t−1.  Steps that come after the last non-zero
        dH_t are skipped (no gradient reaches them); at a truncation cut the carry restarts from zeros.
        Returns dh (T+1, N, n), time-major, dh[t] = dC/dh_t, and the carry that reaches the initial state.
        """
        dH = dH.transpose(1, 0, 2)                   # a view: dH[t] is the loss's gradient on h_{t+1}
        T, N, n = dH.shape
        dh = np.zeros((T + 1, N, n))
        carry = tuple(np.zeros((N, n)) for _ in range(carried))
        live = False                                 # False while no gradient has arrived yet
        k = self._window()
        for t in range(T - 1, -1, -1):               # array index t is time step t+1
            live = live or bool(dH[t].any())
            if live:
                dh[t + 1] = dH[t] + carry[0]
                carry = step(t, dh[t + 1], carry)
            if truncation_cut(t, T, k):              # truncated BPTT: nothing flows into the window before
                carry, live = tuple(np.zeros((N, n)) for _ in range(carried)), False
        dh[0] = carry[0]
        return dh, carry

    def backward(self, dH):
        """BPTT: dH (N, T, n_hidden) = dC/dh_t from the loss -> dC/dX (N, T, n_in).

        Adds the time-summed gradients into the parameters' ``.grad``; stores dC/dh_0 in ``dh0`` (and,
        for the LSTM, dC/dc_0 in ``dc0``), shape (N, n_hidden).
        """
        grads = self._bptt(self._check_dH(dH))
        self.dh0 = grads["dh"][0].copy()
        if "dc" in grads:
            self.dc0 = grads["dc"][0].copy()
        return grads["dX"]

    def last_state_gradients(self, X, h0=None, dh_T=None, **state):
        """Forward, then BPTT for C = Σ dh_T ⊙ h_T (dh_T defaults to ones, shape (N, n_hidden)).

        Returns a dict: "dX" (N, T, n_in) and, time-major (T+1, N, n_hidden), "dh" with dh[t] = dC/dh_t
        (and, for the LSTM, "dc" with dc[t] = dC/dc_t).  Parameter gradients are untouched.
        """
        return self._bptt(self._last_state_dH(self.forward(X, h0, **state), dh_T), accumulate=False)

    def last_state_norms(self, X, h0=None, dh_T=None, **state):
        """``last_state_gradients``' time-major arrays as norms over the whole batch, one per step t = 0..T:
        "dh" (‖dC/dh_t‖) and, for the LSTM, "dc" (‖dC/dc_t‖), each of length T+1 (one forward and backward)."""
        grads = self.last_state_gradients(X, h0, dh_T, **state)
        return {k: np.sqrt((d * d).sum(axis=(1, 2))) for k, d in grads.items() if k != "dX"}

    def hidden_gradient_norms(self, X, h0=None, dh_T=None, **state):
        """‖dC/dh_t‖ for t = 0..T (length T+1) when the loss reads only the last state.

        L = Σ dh_T ⊙ h_T (dh_T defaults to ones, shape (N, n_hidden)); the norm is over the whole
        batch.  Runs its own forward and backward (truncated if ``truncate`` is set); parameter
        gradients are untouched.  ``c0=`` passes the LSTM's initial cell state.
        """
        return self.last_state_norms(X, h0, dh_T, **state)["dh"]

    def _accumulate(self, DA_x, DA_h, X, Hs):
        """Shared weights sum over time: dW_xh = Σ_t da_tᵀ x_t, dW_hh = Σ_t da_tᵀ h_{t−1}, db = Σ da_t,
        each as one matmul over all T·N rows (time-major arrays: DA_x[t] is step t+1's gradient).
        Returns dX = da W_xh, (N, T, n_in)."""
        T, N, m = DA_x.shape
        rows_x, rows_h = DA_x.reshape(T * N, m), DA_h.reshape(T * N, m)
        self.W_xh.accumulate(rows_x.T @ X.transpose(1, 0, 2).reshape(T * N, self.n_in))
        self.W_hh.accumulate(rows_h.T @ Hs[:-1].reshape(T * N, self.n_hidden))
        self.b.accumulate(rows_x.sum(axis=0))
        return self._input_grad(DA_x)

    def _input_grad(self, DA_x):
        """dx_t = da_t W_xh for every step, returned batch-first (N, T, n_in)."""
        return (DA_x @ self.W_xh.data).transpose(1, 0, 2).copy()

    def _inputs_time_major(self, X, m):
        """x_t W_xhᵀ + b for all steps in one matmul, time-major (T, N, m) so each step is contiguous."""
        return np.ascontiguousarray((X @ self.W_xh.data.T + self.b.data).transpose(1, 0, 2))

    def __repr__(self):
        extra = f", truncate={self.truncate}" if self.truncate is not None else ""
        return f"{type(self).__name__}({self.n_in}, {self.n_hidden}{extra})"


class LSTM(_Gated):
    """Long short-term memory unrolled over time: (N, T, n_in) -> H (N, T, n_hidden).

    Parameters (gate blocks i, f, g, o, as in PyTorch): W_xh (4n, n_in), W_hh (4n, n), b (4n,),
    with n = n_hidden.  ``forget_bias`` initialises the forget block b[n:2n] (Jozefowicz et al.
    2015 recommend 1: the cell starts out keeping most of its content, f = σ(1) ≈ 0.73).
    init: initialiser for each gate block of both matrices.  truncate: None (full BPTT) or k ≥ 1.
    ``forward(X, h0=None, c0=None)``; after ``backward``, ``dh0`` and ``dc0`` hold dC/dh_0 and
    dC/dc_0, shape (N, n_hidden).  The cell states of the last forward are ``C`` (N, T, n).
    Inside, states are stored time-major, (T+1, N, n), so that every step reads contiguous rows.
    """

    GATES = 4
    kind = "lstm"
    KEEP_BIAS = "forget_bias"
    forget_bias: float

    def __init__(self, n_in, n_hidden, seed=0, forget_bias=1.0, init="xavier", truncate=None, name=None):
        super().__init__(n_in, n_hidden, seed, init, truncate, name, forget_bias)
        self.dc0 = None

    def __call__(self, X, h0=None, c0=None):
        return self.forward(X, h0, c0)

    def forward(self, X, h0=None, c0=None):
        """For t = 1..T: the LSTM equations of the module docstring; returns H (N, T, n_hidden)."""
        X = self._check_X(X)
        N, T, _ = X.shape
        n = self.n_hidden
        Hs = np.empty((T + 1, N, n))                 # time-major: Hs[t] is h_t, Hs[0] is h_0
        Cs = np.empty((T + 1, N, n))
        Hs[0], Cs[0] = self._check_state(h0, N, "h0"), self._check_state(c0, N, "c0")
        XW = self._inputs_time_major(X, 4 * n)       # the input part of a_t for every step at once
        W_hh_T = self.W_hh.data.T
        gates = [None] * T
        for t in range(T):                           # array index t is time step t+1
            Hs[t + 1], Cs[t + 1], gates[t] = _lstm_cell(XW[t] + Hs[t] @ W_hh_T, Cs[t])
        self._cache = {"X": X, "Hs": Hs, "Cs": Cs, "gates": gates}
        return Hs[1:].transpose(1, 0, 2).copy()

    @property
    def C(self):
        """The cell states c_1..c_T of the last forward, (N, T, n_hidden)."""
        if self._cache is None:
            raise RuntimeError(f"{self.name}: no cell states before the first forward()")
        return self._cache["Cs"][1:].transpose(1, 0, 2).copy()

    def _bptt(self, dH, accumulate=True):
        """Walk t = T..1 (truncated if set).  Returns dX (N, T, n_in) and, time-major (T+1, N, n),
        dh[t] = dC/dh_t and dc[t] = dC/dc_t (t = 0 is the initial state)."""
        cache = self._cache
        X, Hs, Cs, gates = cache["X"], cache["Hs"], cache["Cs"], cache["gates"]
        T, N, n = Hs.shape[0] - 1, Hs.shape[1], self.n_hidden
        DA = np.zeros((T, N, 4 * n))
        dc = np.zeros((T + 1, N, n))
        W_hh = self.W_hh.data

        def step(t, dh_t, carry):                    # carry: dC/dh_t and dC/dc_t from step t+1
            DA[t], dc[t + 1] = _lstm_cell_backward(dh_t, carry[1], Cs[t], gates[t])
            return DA[t] @ W_hh, dc[t + 1] * gates[t][1]     # the cell path: ∂c_t/∂c_{t−1} = diag(f_t)

        dh, carry = self._walk_back(dH, step, carried=2)
        dc[0] = carry[1]                             # what reaches the initial cell state c_0
        dX = self._accumulate(DA, DA, X, Hs) if accumulate else self._input_grad(DA)
        return {"dX": dX, "dh": dh, "dc": dc}

    def cell_gradient_norms(self, X, h0=None, c0=None, dh_T=None):
        """‖dC/dc_t‖ for t = 0..T, for the loss of ``hidden_gradient_norms`` (C = Σ dh_T ⊙ h_T)."""
        return self.last_state_norms(X, h0, dh_T, c0=c0)["dc"]


class GRU(_Gated):
    """Gated recurrent unit unrolled over time: (N, T, n_in) -> H (N, T, n_hidden).

    Parameters (gate blocks r, z, n, as in PyTorch): W_xh (3n, n_in), W_hh (3n, n), b (3n,) the
    input-side biases, and b_hn (n,) the hidden-side bias of the candidate, which the reset gate
    multiplies (PyTorch's ``bias_hh`` is (0, 0, b_hn) with our ``b`` as its ``bias_ih``).
    ``update_bias`` initialises the update block b[n:2n] (0 by default; a positive value makes
    the unit start out copying h_{t−1}, z = σ(update_bias), like an LSTM's forget bias).
    ``forward(X, h0=None)``; after ``backward``, ``dh0`` holds dC/dh_0, shape (N, n_hidden).
    """

    GATES = 3
    kind = "gru"
    KEEP_BIAS = "update_bias"
    update_bias: float

    def __init__(self, n_in, n_hidden, seed=0, update_bias=0.0, init="xavier", truncate=None, name=None):
        super().__init__(n_in, n_hidden, seed, init, truncate, name, update_bias)
        self.b_hn = Parameter(np.zeros(self.n_hidden), "b_hn")

    def own_parameters(self):
        return [self.W_xh, self.W_hh, self.b, self.b_hn]

    def __call__(self, X, h0=None):
        return self.forward(X, h0)

    def forward(self, X, h0=None):
        """For t = 1..T: the GRU equations of the module docstring; returns H (N, T, n_hidden)."""
        X = self._check_X(X)
        N, T, _ = X.shape
        Hs = np.empty((T + 1, N, self.n_hidden))     # time-major: Hs[t] is h_t
        Hs[0] = self._check_state(h0, N, "h0")
        XW = self._inputs_time_major(X, 3 * self.n_hidden)   # the input side of every gate, all steps
        gates = [None] * T
        for t in range(T):
            Hs[t + 1], gates[t] = _gru_cell(XW[t], Hs[t], self.W_hh.data, self.b_hn.data)
        self._cache = {"X": X, "Hs": Hs, "gates": gates}
        return Hs[1:].transpose(1, 0, 2).copy()

    def _bptt(self, dH, accumulate=True):
        """Walk t = T..1 (truncated if set); returns dX (N, T, n_in) and dh (T+1, N, n), dh[t] = dC/dh_t."""
        cache = self._cache
        X, Hs, gates = cache["X"], cache["Hs"], cache["gates"]
        T, N, n = Hs.shape[0] - 1, Hs.shape[1], self.n_hidden
        DAx, DAh = np.zeros((T, N, 3 * n)), np.zeros((T, N, 3 * n))
        W_hh = self.W_hh.data

        def step(t, dh_t, carry):
            DAx[t], DAh[t], dh_skip = _gru_cell_backward(dh_t, Hs[t], gates[t])
            return (dh_skip + DAh[t] @ W_hh,)        # through z (no weights) and through the gates

        dh, _ = self._walk_back(dH, step, carried=1)
        if accumulate:
            dX = self._accumulate(DAx, DAh, X, Hs)
            self.b_hn.accumulate(DAh[:, :, 2 * n:].sum(axis=(0, 1)))
        else:
            dX = self._input_grad(DAx)
        return {"dX": dX, "dh": dh}

class LastStep(Module):
    """(N, T, n) -> (N, n): the last time step, H[:, −1].  Backward puts dY at step T, zeros elsewhere."""

    def __init__(self, name=None):
        super().__init__(name or "LastStep")
        self._cache = None

    def forward(self, H):
        H = np.asarray(H)
        if H.ndim != 3:
            raise ValueError(f"{self.name}: expected input of shape (N, T, n), got {H.shape}")
        self._cache = H.shape
        return H[:, -1]

    def backward(self, dY):
        shape = self._cache
        dY = self._check_dY(dY, None if shape is None else (shape[0], shape[2]))
        dH = np.zeros(shape)
        dH[:, -1] = dY
        return dH

    def __repr__(self):
        return "LastStep()"
