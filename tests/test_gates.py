"""Tests for bpcourse.gates (LSTM, GRU, their one-step functions) and truncated BPTT (notebook 14)."""
from __future__ import annotations

import numpy as np
import pytest
from catalogue import sequences
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse.gates import GRU, LSTM, LastStep, gru_step_backward, gru_step_forward, lstm_step_backward, lstm_step_forward
from bpcourse.rnn import RNN

TOL = 1e-6
SEEDS = st.integers(0, 2**32 - 1)
records = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CELLS = {"rnn": lambda n_in, n, seed, **kw: RNN(n_in, n, seed=seed, **kw),
         "lstm": lambda n_in, n, seed, **kw: LSTM(n_in, n, seed=seed, **kw),
         "gru": lambda n_in, n, seed, **kw: GRU(n_in, n, seed=seed, **kw)}


def randomized(layer, seed, scale=0.8):
    """Every parameter (biases too) drawn at random, so that no gate sits at a special value."""
    rng = np.random.default_rng([seed, 2])
    for p in layer.parameters():
        p.data[...] = scale * rng.standard_normal(p.data.shape)
    return layer


def states(layer, X, h0=None, c0=None):
    return layer(X, h0, c0) if isinstance(layer, LSTM) else layer(X, h0)


def grads_of(layer, X, G, h0=None, c0=None):
    """(dX, [param grads], dh0, dc0) for L = Σ G ⊙ H."""
    layer.zero_grad()
    states(layer, X, h0, c0)
    dX = layer.backward(G)
    return dX, [p.grad.copy() for p in layer.parameters()], layer.dh0, getattr(layer, "dc0", None)


# ---------------------------------------------------------------------------------------------
# BPTT against central differences
# ---------------------------------------------------------------------------------------------

@records
@given(seed=SEEDS, N=st.integers(1, 3), T=st.integers(1, 6), n_in=st.integers(1, 4), n_hidden=st.integers(1, 4),
       cell=st.sampled_from(["lstm", "gru"]))
def test_gated_bptt_gradcheck(seed, N, T, n_in, n_hidden, cell, record_error):
    layer = randomized(CELLS[cell](n_in, n_hidden, seed), seed)
    err = bp.gradcheck(layer, sequences(seed, N, T, n_in), tol=TOL)
    assert record_error(f"{cell} BPTT gradcheck", err) <= TOL


@records
@given(seed=SEEDS, N=st.integers(1, 3), T=st.integers(1, 5), n_hidden=st.integers(1, 4),
       cell=st.sampled_from(["lstm", "gru"]))
def test_gradient_wrt_initial_states(seed, N, T, n_hidden, cell, record_error):
    layer = randomized(CELLS[cell](2, n_hidden, seed), seed)
    rng = np.random.default_rng([seed, 3])
    X, G = sequences(seed, N, T, 2), rng.normal(size=(N, T, n_hidden))
    h0, c0 = rng.normal(size=(N, n_hidden)), rng.normal(size=(N, n_hidden))
    c0 = c0 if cell == "lstm" else None
    _, _, dh0, dc0 = grads_of(layer, X, G, h0, c0)
    loss = lambda: np.sum(states(layer, X, h0, c0) * G)
    assert record_error(f"{cell} dL/dh0", bp.relative_error(dh0, bp.numerical_gradient(loss, h0))) <= TOL
    if cell == "lstm":
        assert record_error("lstm dL/dc0", bp.relative_error(dc0, bp.numerical_gradient(loss, c0))) <= TOL
    # the parameters and the input with given initial states, too
    dX, grads, _, _ = grads_of(layer, X, G, h0, c0)
    assert bp.relative_error(dX, bp.numerical_gradient(loss, X)) <= TOL
    for p, g in zip(layer.parameters(), grads):
        assert record_error(f"{cell} dθ with h0", bp.relative_error(g, bp.numerical_gradient(loss, p.data))) <= TOL


def test_lstm_cell_path_is_the_forget_gate(rng):
    """∂c_1/∂c_0 = diag(f_1): nudging c_0[j] moves c_1[j] by f_1[j] and no other unit."""
    lstm = randomized(LSTM(3, 4, seed=1), 1)
    X, h0, c0 = rng.normal(size=(1, 1, 3)), rng.normal(size=(1, 4)), rng.normal(size=(1, 4))
    lstm(X, h0, c0)
    n = 4
    f = 1 / (1 + np.exp(-(X[0, 0] @ lstm.W_xh.data.T + h0[0] @ lstm.W_hh.data.T + lstm.b.data)[n:2 * n]))
    J = np.column_stack([_column(lstm, X, h0, c0, j) for j in range(n)])
    np.testing.assert_allclose(J, np.diag(f), atol=1e-9)


def _column(lstm, X, h0, c0, j, h=1e-6):
    """∂c_1/∂c_0[j] by central differences: a column of the Jacobian."""
    c_plus, c_minus = c0.copy(), c0.copy()
    c_plus[0, j] += h
    c_minus[0, j] -= h
    lstm(X, h0, c_plus)
    up = lstm.C[0, 0]
    lstm(X, h0, c_minus)
    return (up - lstm.C[0, 0]) / (2 * h)


# ---------------------------------------------------------------------------------------------
# the layers are loops over the one-step functions
# ---------------------------------------------------------------------------------------------

def test_lstm_layer_equals_a_loop_of_lstm_steps(rng):
    lstm = randomized(LSTM(3, 4, seed=2), 2)
    N, T = 2, 5
    X, G = rng.normal(size=(N, T, 3)), rng.normal(size=(N, T, 4))
    h0, c0 = rng.normal(size=(N, 4)), rng.normal(size=(N, 4))
    W_xh, W_hh, b = lstm.W_xh.data, lstm.W_hh.data, lstm.b.data
    h, c, caches, H = h0, c0, [], []
    for t in range(T):
        h, c, cache = lstm_step_forward(X[:, t], h, c, W_xh, W_hh, b)
        caches.append(cache)
        H.append(h)
    np.testing.assert_allclose(lstm(X, h0, c0), np.stack(H, axis=1), rtol=1e-13)
    np.testing.assert_allclose(lstm.C[:, -1], c, rtol=1e-13)
    dX = lstm.backward(G)
    dh, dc = np.zeros((N, 4)), np.zeros((N, 4))
    sums = [np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros_like(b)]
    for t in reversed(range(T)):
        dx, dh, dc, *dparams = lstm_step_backward(G[:, t] + dh, dc, caches[t], W_xh, W_hh)
        np.testing.assert_allclose(dX[:, t], dx, rtol=1e-11, atol=1e-14)
        sums = [s + d for s, d in zip(sums, dparams)]
    for p, s in zip(lstm.parameters(), sums):
        np.testing.assert_allclose(p.grad, s, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(lstm.dh0, dh, rtol=1e-11)
    np.testing.assert_allclose(lstm.dc0, dc, rtol=1e-11)


def test_gru_layer_equals_a_loop_of_gru_steps(rng):
    gru = randomized(GRU(3, 4, seed=2), 2)
    N, T = 2, 5
    X, G, h0 = rng.normal(size=(N, T, 3)), rng.normal(size=(N, T, 4)), rng.normal(size=(N, 4))
    args = (gru.W_xh.data, gru.W_hh.data, gru.b.data, gru.b_hn.data)
    h, caches, H = h0, [], []
    for t in range(T):
        h, cache = gru_step_forward(X[:, t], h, *args)
        caches.append(cache)
        H.append(h)
    np.testing.assert_allclose(gru(X, h0), np.stack(H, axis=1), rtol=1e-13)
    dX = gru.backward(G)
    dh = np.zeros((N, 4))
    sums = [np.zeros_like(p.data) for p in gru.parameters()]
    for t in reversed(range(T)):
        dx, dh, *dparams = gru_step_backward(G[:, t] + dh, caches[t], gru.W_xh.data, gru.W_hh.data)
        np.testing.assert_allclose(dX[:, t], dx, rtol=1e-11, atol=1e-14)
        sums = [s + d for s, d in zip(sums, dparams)]
    for p, s in zip(gru.parameters(), sums):
        np.testing.assert_allclose(p.grad, s, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(gru.dh0, dh, rtol=1e-11)


@records
@given(seed=SEEDS, N=st.integers(1, 3), n_in=st.integers(1, 3), n=st.integers(1, 4))
def test_step_backward_functions_against_central_differences(seed, N, n_in, n, record_error):
    rng = np.random.default_rng([seed, 5])
    x, h_prev, c_prev = rng.normal(size=(N, n_in)), rng.normal(size=(N, n)), rng.normal(size=(N, n))
    W_xh, W_hh, b = rng.normal(size=(4 * n, n_in)), rng.normal(size=(4 * n, n)), rng.normal(size=4 * n)
    Gh, Gc = rng.normal(size=(N, n)), rng.normal(size=(N, n))

    def loss():
        h, c, _ = lstm_step_forward(x, h_prev, c_prev, W_xh, W_hh, b)
        return np.sum(h * Gh) + np.sum(c * Gc)
    _, _, cache = lstm_step_forward(x, h_prev, c_prev, W_xh, W_hh, b)
    analytic = lstm_step_backward(Gh, Gc, cache, W_xh, W_hh)
    for name, a, v in zip(["x", "h_prev", "c_prev", "W_xh", "W_hh", "b"], analytic,
                          [x, h_prev, c_prev, W_xh, W_hh, b]):
        assert record_error(f"lstm_step_backward d{name}", bp.relative_error(a, bp.numerical_gradient(loss, v))) <= TOL
    Wg_xh, Wg_hh, bg, b_hn = rng.normal(size=(3 * n, n_in)), rng.normal(size=(3 * n, n)), rng.normal(size=3 * n), \
        rng.normal(size=n)
    gru_loss = lambda: np.sum(gru_step_forward(x, h_prev, Wg_xh, Wg_hh, bg, b_hn)[0] * Gh)
    _, cache = gru_step_forward(x, h_prev, Wg_xh, Wg_hh, bg, b_hn)
    analytic = gru_step_backward(Gh, cache, Wg_xh, Wg_hh)
    for name, a, v in zip(["x", "h_prev", "W_xh", "W_hh", "b", "b_hn"], analytic,
                          [x, h_prev, Wg_xh, Wg_hh, bg, b_hn]):
        assert record_error(f"gru_step_backward d{name}", bp.relative_error(a, bp.numerical_gradient(gru_loss, v))) <= TOL


# ---------------------------------------------------------------------------------------------
# truncated BPTT
# ---------------------------------------------------------------------------------------------

@records
@given(seed=SEEDS, N=st.integers(1, 3), T=st.integers(1, 7), extra=st.integers(0, 3),
       cell=st.sampled_from(list(CELLS)))
def test_truncation_at_least_T_is_full_bptt(seed, N, T, extra, cell):
    full = CELLS[cell](2, 3, seed)
    cut = CELLS[cell](2, 3, seed, truncate=T + extra)
    if cell != "rnn":
        randomized(full, seed), randomized(cut, seed)
    X, G = sequences(seed, N, T, 2), np.random.default_rng([seed, 6]).normal(size=(N, T, 3))
    a, b = grads_of(full, X, G), grads_of(cut, X, G)
    np.testing.assert_array_equal(a[0], b[0])
    for ga, gb in zip(a[1], b[1]):
        np.testing.assert_array_equal(ga, gb)
    np.testing.assert_array_equal(a[2], b[2])


@records
@given(seed=SEEDS, T=st.integers(2, 9), k=st.integers(1, 8), cell=st.sampled_from(list(CELLS)))
def test_truncation_cuts_the_gradient_after_k_steps(seed, T, k, cell):
    """The loss at step t alone: its gradient reaches x_s only for s in t's window (at most k steps),
    and some input more than k steps back always gets exactly zero."""
    layer = CELLS[cell](2, 3, seed, truncate=k)
    if cell != "rnn":
        randomized(layer, seed)
    X = sequences(seed, 2, T, 2)
    states(layer, X)
    for t in range(T):                                    # array index t: time step t + 1
        G = np.zeros((2, T, 3))
        G[:, t] = 1.0
        dX = layer.backward(G)
        window_start = t - (t - (T - 1) % k - 1) % k if t > (T - 1) % k else 0   # first index of t's window
        reach = np.flatnonzero(np.abs(dX).sum(axis=(0, 2)) > 0)
        assert reach.max() <= t and reach.min() >= window_start, (t, reach, window_start)
        assert t - reach.min() < k                       # at most k steps, counting step t itself
        assert np.all(dX[:, :max(t - k + 1, 0)] == 0)   # more than k steps back: exactly zero
        if t - k >= 0 and window_start > 0:
            assert np.all(layer.dh0 == 0)


@records
@given(seed=SEEDS, N=st.integers(1, 2), T=st.integers(1, 9), k=st.integers(1, 4), cell=st.sampled_from(list(CELLS)))
def test_truncated_gradient_equals_windows_run_on_their_own(seed, N, T, k, cell, record_error):
    """Truncated BPTT = full BPTT on each window separately, started from the state the forward pass
    reached there (held constant): the windows are (T−k, T], (T−2k, T−k], ... counted from the end."""
    layer = CELLS[cell](2, 3, seed, truncate=k)
    ref = CELLS[cell](2, 3, seed)
    if cell != "rnn":
        randomized(layer, seed), randomized(ref, seed)
    rng = np.random.default_rng([seed, 8])
    X, G, h0 = sequences(seed, N, T, 2), rng.normal(size=(N, T, 3)), rng.normal(size=(N, 3))
    c0 = rng.normal(size=(N, 3)) if cell == "lstm" else None
    dX, grads, dh0, dc0 = grads_of(layer, X, G, h0, c0)
    H = states(ref, X, h0, c0)
    C = ref.C if cell == "lstm" else None
    bounds = sorted({0} | set(range(T - k, 0, -k)))
    dX_ref, sums = np.zeros_like(X), [np.zeros_like(p.data) for p in ref.parameters()]
    for start, stop in zip(bounds, bounds[1:] + [T]):
        h_in = h0 if start == 0 else H[:, start - 1]
        c_in = (c0 if start == 0 else C[:, start - 1]) if cell == "lstm" else None
        dXw, gw, dh0w, dc0w = grads_of(ref, X[:, start:stop], G[:, start:stop], h_in, c_in)
        dX_ref[:, start:stop] = dXw
        sums = [s + g for s, g in zip(sums, gw)]
        if start == 0:
            dh0_ref, dc0_ref = dh0w, dc0w
    assert record_error("truncated BPTT vs windows", bp.relative_error(dX, dX_ref)) < 1e-12
    for g, s in zip(grads, sums):
        assert bp.relative_error(g, s) < 1e-12
    assert bp.relative_error(dh0, dh0_ref) < 1e-12
    if cell == "lstm":
        assert bp.relative_error(dc0, dc0_ref) < 1e-12


@pytest.mark.parametrize("cell", list(CELLS))
def test_truncated_gradient_norms_stop_after_k_steps(cell, rng):
    full, cut = CELLS[cell](3, 5, 0), CELLS[cell](3, 5, 0, truncate=6)
    X = rng.normal(size=(4, 20, 3))
    a, b = full.hidden_gradient_norms(X), cut.hidden_gradient_norms(X)
    # h_T .. h_{T−5}: the 6 states of the last window, reached and unchanged; the state h_{T−6} that
    # enters the window is held constant (only h_0 keeps its gradient), and everything before is cut
    np.testing.assert_allclose(b[-6:], a[-6:], rtol=1e-12)
    assert np.all(b[:-6] == 0) and np.all(a[:-6] > 0)


def test_truncate_can_be_changed_after_construction(rng):
    lstm = LSTM(2, 3, seed=0)
    X, G = rng.normal(size=(2, 8, 2)), np.zeros((2, 8, 3))
    G[:, -1] = rng.normal(size=(2, 3))                   # the loss reads the last state only
    lstm(X)
    full = lstm.backward(G)
    lstm.truncate = 3
    cut = lstm.backward(G)
    assert np.all(cut[:, :5] == 0) and np.all(full[:, :5] != 0)
    np.testing.assert_allclose(cut[:, 5:], full[:, 5:], rtol=1e-13)
    lstm.truncate = 0
    with pytest.raises(ValueError, match="LSTM: truncate .* must be a positive integer, got 0"):
        lstm.backward(G)


# ---------------------------------------------------------------------------------------------
# gates, initialisation, gradient norms
# ---------------------------------------------------------------------------------------------

def test_forget_and_update_bias_initialise_their_blocks():
    lstm = LSTM(2, 3, seed=0)
    np.testing.assert_array_equal(lstm.b.data, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert np.all(LSTM(2, 3, forget_bias=0.0).b.data == 0)
    np.testing.assert_array_equal(GRU(2, 3, update_bias=2.0).b.data, [0, 0, 0, 2, 2, 2, 0, 0, 0])
    assert [p.data.shape for p in LSTM(2, 3).parameters()] == [(12, 2), (12, 3), (12,)]
    assert [p.data.shape for p in GRU(2, 3).parameters()] == [(9, 2), (9, 3), (9,), (3,)]
    np.testing.assert_array_equal(LSTM(2, 3, seed=4).W_hh.data, LSTM(2, 3, seed=4).W_hh.data)
    assert not np.array_equal(LSTM(2, 3, seed=4).W_hh.data, LSTM(2, 3, seed=5).W_hh.data)


def test_large_forget_bias_keeps_the_cell_gradient(rng):
    """With the forget gate near 1 the gradient along the cell path barely shrinks per step back."""
    X = rng.normal(size=(4, 30, 3))
    decay = {}
    for fb in (0.0, 1.0, 5.0):
        lstm = LSTM(3, 8, seed=0, forget_bias=fb)
        norms = lstm.cell_gradient_norms(X)
        decay[fb] = (norms[0] / norms[-2]) ** (1 / 29)    # per-step factor from c_{T−1} back to c_0
    assert decay[0.0] < decay[1.0] < decay[5.0] and decay[5.0] > 0.95 and decay[0.0] < 0.7


def test_gradient_norm_helpers_leave_parameter_gradients_alone(rng):
    for cell in ("lstm", "gru"):
        layer = CELLS[cell](2, 3, 1)
        X = rng.normal(size=(2, 5, 2))
        norms = layer.hidden_gradient_norms(X)
        assert all(np.all(p.grad == 0) for p in layer.parameters())
        H = layer(X)
        dH = np.zeros_like(H)
        dH[:, -1] = 1.0
        layer.backward(dH)
        assert norms[0] == pytest.approx(np.linalg.norm(layer.dh0), rel=1e-13)
        assert norms[-1] == pytest.approx(np.sqrt(6.0), rel=1e-14)


def test_exported_through_nn_and_last_step(rng):
    assert bp.nn.LSTM is LSTM and bp.nn.GRU is GRU and bp.nn.LastStep is LastStep and bp.gates.LSTM is LSTM
    model = bp.nn.Sequential(bp.nn.LSTM(2, 4, seed=0), bp.nn.LastStep(), bp.nn.Linear(4, 1, seed=1))
    X = rng.normal(size=(3, 6, 2))
    assert model(X).shape == (3, 1)
    assert bp.gradcheck(model, X) < TOL
    assert len(model.parameters()) == 5


def test_a_tiny_lstm_learns_to_remember_the_first_sign():
    """Smoke test of the layer in a training loop: fit + Adam + clipping on a 12-step memory task."""
    rng = np.random.default_rng(0)
    X = np.zeros((256, 12, 2))
    X[:, :, 0] = rng.uniform(-1, 1, (256, 12))
    X[:, 0, 1] = 1.0
    y = (X[:, 0, 0] > 0).astype(float)
    model = bp.nn.Sequential(LSTM(2, 8, seed=0), LastStep(), bp.nn.Linear(8, 1, seed=1))
    h = bp.train.fit(model, "bce_logits", bp.optim.Adam(model.parameters(), lr=0.01), X, y, epochs=8,
                     batch_size=32, clip_norm=1.0, progress=False)
    assert h.acc[-1] > 0.9


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_bad_arguments_and_shapes(cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=f"{name}: n_hidden must be a positive integer, got 0"):
        cls(2, 0)
    with pytest.raises(ValueError, match=f"{name}: n_in must be a positive integer, got 2.5"):
        cls(2.5, 3)
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match=f"{name}: truncate .*None for full BPTT.* must be a positive integer"):
            cls(2, 3, truncate=bad)
    with pytest.raises(ValueError, match="unknown init 'zeros'"):
        cls(2, 3, init="zeros")
    layer = cls(2, 3)
    with pytest.raises(ValueError, match=rf"{name}\(2->3\): expected input of shape \(N, T, 2\) with T ≥ 1, "
                                         r"got \(5, 2\) \(one sequence\? use X\[None\]\)"):
        layer(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"got \(1, 5, 3\)"):
        layer(np.ones((1, 5, 3)))
    with pytest.raises(ValueError, match=r"got \(1, 0, 2\)"):
        layer(np.ones((1, 0, 2)))
    with pytest.raises(ValueError, match=r"initial state h0 of shape \(4, 3\), got \(3,\)"):
        layer(np.ones((4, 5, 2)), np.ones(3))
    with pytest.raises(bp.module.NonFiniteError, match="non-finite"):
        layer(np.full((1, 2, 2), np.nan))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((4, 5, 3)))
    layer(np.ones((4, 5, 2)))
    with pytest.raises(ValueError, match=rf"{name}\(2->3\)\.backward: expected upstream gradient of shape "
                                         r"\(4, 5, 3\).*got \(4, 3\)"):
        layer.backward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"dh_T of shape \(4, 3\), got \(3,\)"):
        layer.hidden_gradient_norms(np.ones((4, 5, 2)), dh_T=np.ones(3))


def test_lstm_specific_bad_input():
    with pytest.raises(ValueError, match="LSTM: forget_bias must be a finite number"):
        LSTM(2, 3, forget_bias=float("nan"))
    with pytest.raises(ValueError, match="GRU: update_bias must be a finite number"):
        GRU(2, 3, update_bias="1")
    with pytest.raises(ValueError, match=r"initial state c0 of shape \(4, 3\), got \(4, 2\)"):
        LSTM(2, 3)(np.ones((4, 5, 2)), c0=np.ones((4, 2)))
    with pytest.raises(RuntimeError, match="no cell states"):
        _ = LSTM(2, 3).C
    with pytest.raises(ValueError, match="LastStep: expected input of shape \\(N, T, n\\)"):
        LastStep()(np.ones((3, 4)))


def test_rnn_truncate_argument():
    for bad in (0, -2, 1.5, False):
        with pytest.raises(ValueError, match="RNN: truncate .* must be a positive integer"):
            RNN(2, 3, truncate=bad)
    assert RNN(2, 3, truncate=4).truncate == 4 and RNN(2, 3).truncate is None


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_backward_does_not_modify_dH_or_the_input(cell, rng):
    layer = CELLS[cell](2, 3, 0, truncate=2)
    X, dH = rng.normal(size=(2, 4, 2)), rng.normal(size=(2, 4, 3))
    X0, dH0 = X.copy(), dH.copy()
    layer(X)
    layer.backward(dH)
    np.testing.assert_array_equal(dH, dH0)
    np.testing.assert_array_equal(X, X0)


# ---------------------------------------------------------------------------------------------
# against PyTorch's nn.LSTM and nn.GRU (skipped when torch is not installed)
# ---------------------------------------------------------------------------------------------

def _torch_compare(torch, ours, theirs, X, h0, G, c0=None):
    Xt, h0t = torch.tensor(X, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    if c0 is not None:
        c0t = torch.tensor(c0[None], requires_grad=True)
        Ht, _ = theirs(Xt, (h0t, c0t))
    else:
        Ht, _ = theirs(Xt, h0t)
    (Ht * torch.from_numpy(G)).sum().backward()
    H = states(ours, X, h0, c0)
    dX = ours.backward(G)
    errs = {"H": bp.relative_error(H, Ht.detach().numpy()), "dX": bp.relative_error(dX, Xt.grad.numpy()),
            "dh0": bp.relative_error(ours.dh0, h0t.grad.numpy()[0]),
            "dW_xh": bp.relative_error(ours.W_xh.grad, theirs.weight_ih_l0.grad.numpy()),
            "dW_hh": bp.relative_error(ours.W_hh.grad, theirs.weight_hh_l0.grad.numpy()),
            "db": bp.relative_error(ours.b.grad, theirs.bias_ih_l0.grad.numpy())}
    if c0 is not None:
        errs["dc0"] = bp.relative_error(ours.dc0, c0t.grad.numpy()[0])
    return errs


def test_lstm_matches_torch(rng, record_error):
    torch = pytest.importorskip("torch")
    lstm = randomized(LSTM(3, 5, seed=4), 4, scale=0.5)
    tl = torch.nn.LSTM(3, 5, batch_first=True).double()
    with torch.no_grad():                      # the same gate order (i, f, g, o): copy the blocks as they are
        tl.weight_ih_l0.copy_(torch.from_numpy(lstm.W_xh.data))
        tl.weight_hh_l0.copy_(torch.from_numpy(lstm.W_hh.data))
        tl.bias_ih_l0.copy_(torch.from_numpy(lstm.b.data))
        tl.bias_hh_l0.zero_()                  # torch has two biases; ours is their sum
    X, h0, c0, G = (rng.normal(size=s) for s in [(4, 7, 3), (4, 5), (4, 5), (4, 7, 5)])
    for k, v in _torch_compare(torch, lstm, tl, X, h0, G, c0).items():
        record_error(f"torch nn.LSTM {k}", v)
        assert v < 1e-12, (k, v)


def test_gru_matches_torch(rng, record_error):
    torch = pytest.importorskip("torch")
    gru = randomized(GRU(3, 5, seed=4), 4, scale=0.5)
    tg = torch.nn.GRU(3, 5, batch_first=True).double()
    with torch.no_grad():                      # gate order (r, z, n); bias_hh = (0, 0, b_hn)
        tg.weight_ih_l0.copy_(torch.from_numpy(gru.W_xh.data))
        tg.weight_hh_l0.copy_(torch.from_numpy(gru.W_hh.data))
        tg.bias_ih_l0.copy_(torch.from_numpy(gru.b.data))
        tg.bias_hh_l0.copy_(torch.from_numpy(np.r_[np.zeros(10), gru.b_hn.data]))
    X, h0, G = (rng.normal(size=s) for s in [(4, 7, 3), (4, 5), (4, 7, 5)])
    errs = _torch_compare(torch, gru, tg, X, h0, G)
    errs["db_hn"] = bp.relative_error(gru.b_hn.grad, tg.bias_hh_l0.grad.numpy()[10:])
    for k, v in errs.items():
        record_error(f"torch nn.GRU {k}", v)
        assert v < 1e-12, (k, v)


# ---------------------------------------------------------------------------------------------
# the memory task and the helpers notebook 14 and the explorer read
# ---------------------------------------------------------------------------------------------

def test_marked_memory_task():
    X, y = bp.data.marked_memory(500, 20, seed=3)
    assert X.shape == (500, 20, 2) and y.shape == (500,) and y.dtype == np.int64
    marks = X[:, :, 1]
    assert np.all(marks.sum(axis=1) == 1) and set(np.unique(marks)) == {0.0, 1.0}
    where = marks.argmax(axis=1)
    assert where.max() < 5 and len(np.unique(where)) == 5           # first T // 4 steps, all of them used
    np.testing.assert_array_equal(y, X[np.arange(500), where, 0] > 0)
    assert np.all(np.abs(X[:, :, 0]) < 1) and 0.4 < y.mean() < 0.6
    X2, y2 = bp.data.marked_memory(500, 20, seed=3)
    np.testing.assert_array_equal(X, X2)
    assert bp.data.marked_memory(10, 3, seed=0)[0][:, 0, 1].sum() == 10   # T // 4 = 0 -> the first step
    assert bp.data.marked_memory(50, 8, marker_steps=8, seed=0)[0][:, :, 1].argmax(axis=1).max() > 4
    with pytest.raises(ValueError, match="marker_steps must be at most T = 8"):
        bp.data.marked_memory(10, 8, marker_steps=9)
    with pytest.raises(ValueError, match="marked_memory: T must be a positive integer"):
        bp.data.marked_memory(10, 0)


def test_keep_gates_and_last_state_gradients(rng):
    X = rng.normal(size=(3, 6, 2))
    lstm, gru = LSTM(2, 4, seed=0, forget_bias=2.0), GRU(2, 4, seed=0, update_bias=-1.0)
    with pytest.raises(RuntimeError, match="no gate values"):
        lstm.keep_gates()
    grads = lstm.last_state_gradients(X)
    f = lstm.keep_gates()
    assert f.shape == (3, 6, 4) and 0.7 < f.mean() < 0.95                 # σ(2) ≈ 0.88, spread by the inputs
    a = X @ lstm.W_xh.data[4:8].T
    np.testing.assert_allclose(f[:, 0], 1 / (1 + np.exp(-(a[:, 0] + 2.0))), rtol=1e-12)   # h_0 = 0 at step 1
    assert grads["dh"].shape == (7, 3, 4) and grads["dc"].shape == (7, 3, 4) and grads["dX"].shape == X.shape
    np.testing.assert_allclose(np.sqrt((grads["dh"] ** 2).sum(axis=(1, 2))), lstm.hidden_gradient_norms(X))
    np.testing.assert_allclose(np.sqrt((grads["dc"] ** 2).sum(axis=(1, 2))), lstm.cell_gradient_norms(X))
    gru(X)
    assert 0.1 < gru.keep_gates().mean() < 0.4                            # σ(−1) ≈ 0.27
