"""Tests for bpcourse.rnn: the vanilla RNN and backpropagation through time (notebook 13)."""
from __future__ import annotations

import re

import numpy as np
import pytest
from catalogue import sequences
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse import Value
from bpcourse.rnn import RNN

TOL = 1e-6
SEEDS = st.integers(0, 2**32 - 1)
records = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# BPTT against central differences
# ---------------------------------------------------------------------------------------------

@records
@given(seed=SEEDS, N=st.integers(1, 3), T=st.integers(1, 6), n_in=st.integers(1, 4), n_hidden=st.integers(1, 4),
       activation=st.sampled_from(["tanh", "sigmoid", "identity"]))
def test_rnn_bptt_gradcheck(seed, N, T, n_in, n_hidden, activation, record_error):
    rnn = RNN(n_in, n_hidden, activation=activation, init="normal", seed=seed)
    rnn.b.data[...] = np.random.default_rng([seed, 2]).normal(size=n_hidden)
    err = bp.gradcheck(rnn, sequences(seed, N, T, n_in), tol=TOL)
    assert record_error(f"RNN BPTT gradcheck ({activation})", err) <= TOL


@records
@given(seed=SEEDS, N=st.integers(1, 3), T=st.integers(1, 5))
def test_rnn_gradient_wrt_initial_state(seed, N, T, record_error):
    rnn = RNN(2, 3, init="normal", seed=seed)
    X = sequences(seed, N, T, 2)
    h0 = np.random.default_rng([seed, 3]).normal(size=(N, 3))
    G = np.random.default_rng([seed, 4]).normal(size=(N, T, 3))
    rnn(X, h0)
    rnn.backward(G)
    numeric = bp.numerical_gradient(lambda: np.sum(rnn(X, h0) * G), h0)
    assert record_error("RNN dL/dh0", bp.relative_error(rnn.dh0, numeric)) <= TOL


# ---------------------------------------------------------------------------------------------
# BPTT against an explicit unrolled graph of bp.Value
# ---------------------------------------------------------------------------------------------

def _value_unrolled(W_xh, W_hh, b, X, G):
    """L = Σ_{n,t,j} G[n,t,j] h_t[n,j] written out with scalar Values, one node per operation."""
    V = lambda A: np.vectorize(Value, otypes=[object])(A)
    Wx, Wh, bv, Xv = V(W_xh), V(W_hh), V(b), V(X)
    N, T, _ = X.shape
    H = len(b)
    L = Value(0.0)
    for n in range(N):
        h = [Value(0.0) for _ in range(H)]                          # h_0 = 0
        for t in range(T):
            z = [bv[j] + sum((Wx[j, k] * Xv[n, t, k] for k in range(X.shape[2])), Value(0.0))
                 + sum((Wh[j, k] * h[k] for k in range(H)), Value(0.0)) for j in range(H)]
            h = [zj.tanh() for zj in z]
            for j in range(H):
                L = L + float(G[n, t, j]) * h[j]
    L.backward()
    grad = lambda A: np.vectorize(lambda v: v.grad, otypes=[float])(A)
    return L.data, grad(Wx), grad(Wh), grad(bv), grad(Xv)


def test_rnn_bptt_equals_unrolled_value_graph(rng, record_error):
    rnn = RNN(2, 2, init="normal", seed=3)
    rnn.b.data[...] = [0.3, -0.2]
    X, G = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 3, 2))   # N=2, T=3, 2 hidden units
    H = rnn(X)
    dX = rnn.backward(G)
    L, dWx, dWh, db, dXv = _value_unrolled(rnn.W_xh.data, rnn.W_hh.data, rnn.b.data, X, G)
    assert np.isclose(np.sum(H * G), L, rtol=1e-13)
    for name, a, v in [("W_xh", rnn.W_xh.grad, dWx), ("W_hh", rnn.W_hh.grad, dWh), ("b", rnn.b.grad, db),
                       ("X", dX, dXv)]:
        err = record_error(f"RNN BPTT vs Value graph {name}", bp.relative_error(a, v))
        assert err < 1e-12, (name, err)


def test_shared_weights_sum_their_gradients_over_time(rng):
    """W_hh.grad of a 3-step run is the sum of what each step's loss alone puts there."""
    rnn = RNN(2, 3, seed=1)
    X, G = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 3, 3))
    rnn(X)
    rnn.backward(G)
    total = [p.grad.copy() for p in rnn.parameters()]
    parts = [np.zeros_like(p.data) for p in rnn.parameters()]
    for t in range(3):
        rnn.zero_grad()
        G_t = np.zeros_like(G)
        G_t[:, t] = G[:, t]
        rnn.backward(G_t)
        parts = [s + p.grad for s, p in zip(parts, rnn.parameters())]
    for a, b in zip(total, parts):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# one step is a Linear layer followed by tanh
# ---------------------------------------------------------------------------------------------

def test_one_step_rnn_equals_linear_plus_tanh(rng):
    rnn = RNN(3, 4, init="normal", seed=5)
    rnn.b.data[...] = rng.normal(size=4)
    X, h0, G = rng.normal(size=(5, 1, 3)), rng.normal(size=(5, 4)), rng.normal(size=(5, 1, 4))
    # with h0 = 0: exactly Linear(W_xh, b) + tanh, and W_hh gets no gradient
    lin = bp.nn.Linear(3, 4)
    lin.W.data[...], lin.b.data[...] = rnn.W_xh.data, rnn.b.data
    net = bp.nn.Sequential(lin, bp.nn.Tanh())
    np.testing.assert_allclose(rnn(X)[:, 0], net(X[:, 0]), rtol=1e-14)
    dX = rnn.backward(G)
    dX_net = net.backward(G[:, 0])
    np.testing.assert_allclose(dX[:, 0], dX_net, rtol=1e-13)
    np.testing.assert_allclose(rnn.W_xh.grad, lin.W.grad, rtol=1e-13)
    np.testing.assert_allclose(rnn.b.grad, lin.b.grad, rtol=1e-13)
    np.testing.assert_array_equal(rnn.W_hh.grad, 0.0)
    # with a given h0: Linear on [x, h0] with W = [W_xh, W_hh]
    rnn.zero_grad()
    lin2 = bp.nn.Linear(7, 4)
    lin2.W.data[...], lin2.b.data[...] = np.hstack([rnn.W_xh.data, rnn.W_hh.data]), rnn.b.data
    net2 = bp.nn.Sequential(lin2, bp.nn.Tanh())
    XH = np.hstack([X[:, 0], h0])
    np.testing.assert_allclose(rnn(X, h0)[:, 0], net2(XH), rtol=1e-14)
    dX = rnn.backward(G)
    dXH = net2.backward(G[:, 0])
    np.testing.assert_allclose(np.hstack([dX[:, 0], rnn.dh0]), dXH, rtol=1e-13)
    np.testing.assert_allclose(np.hstack([rnn.W_xh.grad, rnn.W_hh.grad]), lin2.W.grad, rtol=1e-13)


# ---------------------------------------------------------------------------------------------
# spectral radius and the vanishing / exploding demo
# ---------------------------------------------------------------------------------------------

def _orthogonal(n, seed):
    Q, R = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return Q * np.sign(np.diag(R))


def test_spectral_radius_and_rescaling():
    rnn = RNN(2, 3, seed=0)
    rnn.W_hh.data[...] = [[0.0, 2.0, 0.0], [0.0, 0.0, 0.5], [0.0, 0.0, 0.0]]   # nilpotent: radius 0
    assert rnn.spectral_radius() == 0.0
    with pytest.raises(ValueError, match="spectral radius 0"):
        rnn.set_spectral_radius(1.0)
    rnn.W_hh.data[...] = np.diag([0.5, -1.5, 1.0])
    assert rnn.spectral_radius() == pytest.approx(1.5)
    assert rnn.set_spectral_radius(0.9).spectral_radius() == pytest.approx(0.9)
    with pytest.raises(ValueError, match="rho must be > 0"):
        rnn.set_spectral_radius(0)


@pytest.mark.parametrize("rho", [0.5, 1.0, 1.7])
def test_linear_rnn_gradient_norms_scale_as_rho_to_the_distance(rho, rng):
    """Identity activation and W_hh = ρQ (Q orthogonal): ‖∂h_T/∂h_t‖ = ρ^(T−t) exactly."""
    T, n = 8, 4
    rnn = RNN(2, n, activation="identity", seed=0)
    rnn.W_hh.data[...] = rho * _orthogonal(n, 1)
    X = rng.normal(size=(3, T, 2))
    expected = rho ** (T - np.arange(T + 1))
    np.testing.assert_allclose(rnn.jacobian_norms(X), expected, rtol=1e-12)
    dh_T = rng.normal(size=(3, n))
    np.testing.assert_allclose(rnn.hidden_gradient_norms(X, dh_T=dh_T), expected * np.linalg.norm(dh_T),
                               rtol=1e-12)


def test_tanh_rnn_with_small_radius_vanishes(rng):
    rnn = RNN(3, 8, seed=0).set_spectral_radius(0.5)
    norms = rnn.hidden_gradient_norms(rng.normal(size=(4, 20, 3)))
    assert np.all(np.diff(norms) > 0)                     # shrinks at every step back in time
    assert norms[0] < 1e-6 * norms[-1]                    # ‖dL/dh_t‖ ≤ (ρ·max f')^(T−t)-ish


def test_gradient_norm_helpers_agree_with_backward_and_leave_grads_alone(rng):
    rnn = RNN(2, 3, seed=2)
    X, h0 = rng.normal(size=(2, 5, 2)), rng.normal(size=(2, 3))
    norms = rnn.hidden_gradient_norms(X, h0)
    assert all(np.all(p.grad == 0) for p in rnn.parameters())
    rnn(X, h0)
    dH = np.zeros((2, 5, 3))
    dH[:, -1] = 1.0
    rnn.backward(dH)
    assert norms[0] == pytest.approx(np.linalg.norm(rnn.dh0), rel=1e-14)
    assert norms[-1] == pytest.approx(np.sqrt(6.0), rel=1e-14)
    # jacobian_norms against an explicit product of one-step Jacobians, one example
    x = X[:1]
    J_norms = rnn.jacobian_norms(x, h0[:1])
    Z = rnn._cache[1][0]
    J = np.eye(3)
    for t in range(5, 0, -1):
        J = J @ (np.diag(1 - np.tanh(Z[t - 1]) ** 2) @ rnn.W_hh.data)
        assert J_norms[t - 1] == pytest.approx(np.linalg.norm(J, 2), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------

def test_rnn_bad_arguments_and_shapes():
    with pytest.raises(ValueError, match="unknown activation 'softsign'; valid: sigmoid, tanh"):
        RNN(2, 3, activation="softsign")
    with pytest.raises(ValueError, match="RNN: n_hidden must be a positive integer"):
        RNN(2, 0)
    rnn = RNN(2, 3)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, T, 2\) with T ≥ 1, got \(5, 2\) "
                                         r"\(one sequence\? use X\[None\]\)"):
        rnn(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"got \(1, 5, 3\)"):
        rnn(np.ones((1, 5, 3)))
    with pytest.raises(ValueError, match=r"got \(1, 0, 2\)"):
        rnn(np.ones((1, 0, 2)))
    with pytest.raises(ValueError, match=r"initial state h0 of shape \(4, 3\), got \(3,\)"):
        rnn(np.ones((4, 5, 2)), np.ones(3))
    with pytest.raises(RuntimeError, match="before forward"):
        rnn.backward(np.ones((4, 5, 3)))
    rnn(np.ones((4, 5, 2)))
    with pytest.raises(ValueError, match=r"RNN\(2->3, tanh\)\.backward: expected upstream gradient of shape "
                                         r"\(4, 5, 3\).*got \(4, 3\)"):
        rnn.backward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"dh_T of shape \(4, 3\), got \(3,\)"):
        rnn.hidden_gradient_norms(np.ones((4, 5, 2)), dh_T=np.ones(3))



def test_rnn_rejects_a_non_finite_initial_state_like_the_gated_layers():
    """RNN, LSTM and GRU share one initial-state check (``rnn.Recurrent``): a NaN h0 is an error."""
    h0 = np.ones((4, 3))
    h0[1, 2] = np.nan
    for layer in (RNN(2, 3), bp.nn.LSTM(2, 3), bp.nn.GRU(2, 3)):
        with pytest.raises(bp.module.NonFiniteError, match=rf"{re.escape(layer.name)} \(initial state h0\)"):
            layer(np.ones((4, 5, 2)), h0)

def test_rnn_backward_does_not_modify_dH(rng):
    rnn = RNN(2, 3)
    dH = rng.normal(size=(2, 4, 3))
    before = dH.copy()
    rnn(rng.normal(size=(2, 4, 2)))
    rnn.backward(dH)
    np.testing.assert_array_equal(dH, before)


# ---------------------------------------------------------------------------------------------
# against PyTorch's nn.RNN (skipped when torch is not installed)
# ---------------------------------------------------------------------------------------------

def test_rnn_matches_torch(rng, record_error):
    torch = pytest.importorskip("torch")
    rnn = RNN(3, 5, seed=4)
    rnn.b.data[...] = rng.normal(size=5)
    trnn = torch.nn.RNN(3, 5, nonlinearity="tanh", batch_first=True).double()
    with torch.no_grad():
        trnn.weight_ih_l0.copy_(torch.from_numpy(rnn.W_xh.data))
        trnn.weight_hh_l0.copy_(torch.from_numpy(rnn.W_hh.data))
        trnn.bias_ih_l0.copy_(torch.from_numpy(rnn.b.data))
        trnn.bias_hh_l0.zero_()                                   # torch has two biases; ours is their sum
    X, h0, G = rng.normal(size=(4, 7, 3)), rng.normal(size=(4, 5)), rng.normal(size=(4, 7, 5))
    H = rnn(X, h0)
    dX = rnn.backward(G)
    Xt, h0t = torch.tensor(X, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    Ht, _ = trnn(Xt, h0t)
    (Ht * torch.from_numpy(G)).sum().backward()
    errs = {"H": bp.relative_error(H, Ht.detach().numpy()), "dX": bp.relative_error(dX, Xt.grad.numpy()),
            "dh0": bp.relative_error(rnn.dh0, h0t.grad.numpy()[0]),
            "dW_xh": bp.relative_error(rnn.W_xh.grad, trnn.weight_ih_l0.grad.numpy()),
            "dW_hh": bp.relative_error(rnn.W_hh.grad, trnn.weight_hh_l0.grad.numpy()),
            "db": bp.relative_error(rnn.b.grad, trnn.bias_ih_l0.grad.numpy())}
    for k, v in errs.items():
        record_error(f"torch nn.RNN {k}", v)
        assert v < 1e-12, (k, v)
