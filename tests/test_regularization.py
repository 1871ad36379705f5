"""Tests for bpcourse.regularization: L1/L2 penalties and EarlyStopping (notebook 12)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse.layers import BatchNorm
from bpcourse.regularization import EarlyStopping, l1_penalty, l2_penalty, weight_parameters
from bpcourse.rnn import RNN


def _net(seed=0):
    return bp.nn.Sequential(bp.nn.Linear(3, 4, seed=seed), BatchNorm(4), bp.nn.Tanh(),
                            bp.nn.Linear(4, 2, seed=seed + 1))


def _randomize(net, seed):
    rng = np.random.default_rng(seed)
    for p in net.parameters():
        p.data[...] = rng.normal(size=p.shape)
    return net


# ---------------------------------------------------------------------------------------------
# which parameters are penalised
# ---------------------------------------------------------------------------------------------

def test_weight_parameters_are_the_weight_matrices_only():
    net = _net()
    assert weight_parameters(net) == [net[0].W, net[3].W]               # not b, gamma, beta
    rnn = RNN(2, 3)
    assert weight_parameters(rnn) == [rnn.W_xh, rnn.W_hh]
    chosen = [net[0].b]
    assert weight_parameters(chosen) == chosen                          # an explicit list is used as given
    with pytest.raises(TypeError, match="Module or a list of Parameters"):
        weight_parameters(np.ones((2, 2)))


# ---------------------------------------------------------------------------------------------
# values and gradients
# ---------------------------------------------------------------------------------------------

@given(seed=st.integers(0, 10**6), lam=st.floats(0.0, 10.0))
def test_l2_value_and_gradient(seed, lam):
    net = _randomize(_net(), seed)
    W1, W2 = net[0].W.data, net[3].W.data
    assert l2_penalty(net, lam) == pytest.approx(lam / 2 * (np.sum(W1 ** 2) + np.sum(W2 ** 2)), rel=1e-13)
    assert all(np.all(p.grad == 0) for p in net.parameters())          # add_grad=False touches nothing
    net.zero_grad()
    l2_penalty(net, lam, add_grad=True)
    np.testing.assert_allclose(net[0].W.grad, lam * W1, rtol=1e-15)
    np.testing.assert_allclose(net[3].W.grad, lam * W2, rtol=1e-15)
    for p in (net[0].b, net[1].gamma, net[1].beta, net[3].b):
        np.testing.assert_array_equal(p.grad, 0.0)


@given(seed=st.integers(0, 10**6), lam=st.floats(0.0, 10.0))
def test_l1_value_and_subgradient(seed, lam):
    net = _randomize(_net(), seed)
    net[0].W.data[0, 0] = 0.0                                           # sign(0) = 0
    W1, W2 = net[0].W.data, net[3].W.data
    assert l1_penalty(net, lam) == pytest.approx(lam * (np.abs(W1).sum() + np.abs(W2).sum()), rel=1e-13)
    l1_penalty(net, lam, add_grad=True)
    np.testing.assert_array_equal(net[0].W.grad, lam * np.sign(W1))
    np.testing.assert_array_equal(net[3].W.grad, lam * np.sign(W2))
    assert net[0].W.grad[0, 0] == 0.0
    np.testing.assert_array_equal(net[0].b.grad, 0.0)


@pytest.mark.parametrize("penalty", [l1_penalty, l2_penalty])
def test_penalty_gradient_matches_central_differences(penalty, rng):
    net = _randomize(_net(), 3)
    for W in weight_parameters(net):
        W.data[np.abs(W.data) < 1e-3] += 0.01                          # keep |w| away from its kink
    penalty(net, 0.7, add_grad=True)
    for W in weight_parameters(net):
        numeric = bp.numerical_gradient(lambda: penalty(net, 0.7), W.data)
        assert bp.relative_error(W.grad, numeric) < 1e-8


def test_penalty_gradient_adds_to_the_data_gradient(rng):
    net = _randomize(_net(), 1)
    X = rng.normal(size=(6, 3))
    net.backward(rng.normal(size=net(X).shape))
    data_grad = net[0].W.grad.copy()
    l2_penalty(net, 0.1, add_grad=True)
    np.testing.assert_allclose(net[0].W.grad, data_grad + 0.1 * net[0].W.data, rtol=1e-14)


def test_l2_shrinks_the_weights_during_training():
    X, y = bp.data.make_dataset("moons", n=200, seed=0)
    norms = {}
    for lam in (0.0, 0.05):
        net = bp.nn.MLP([2, 16, 2], seed=0)
        loss, opt = bp.losses.SoftmaxCrossEntropy(), bp.optim.SGD(net.parameters(), lr=0.3)
        for _ in range(300):
            opt.zero_grad()
            loss(net(X), y)
            net.backward(loss.backward())
            l2_penalty(net, lam, add_grad=True)
            opt.step()
        norms[lam] = math.sqrt(sum(np.sum(W.data ** 2) for W in weight_parameters(net)))
    assert norms[0.05] < 0.7 * norms[0.0]


@pytest.mark.parametrize("lam", [-0.1, float("nan"), float("inf"), "0.1", True])
@pytest.mark.parametrize("penalty", [l1_penalty, l2_penalty])
def test_bad_lam_raises(penalty, lam):
    with pytest.raises(ValueError, match=f"{penalty.__name__}: lam must be a finite number"):
        penalty(_net(), lam)


# ---------------------------------------------------------------------------------------------
# EarlyStopping
# ---------------------------------------------------------------------------------------------

def test_early_stopping_counts_patience_from_the_best_epoch():
    stopper = EarlyStopping(patience=3)
    losses = [1.0, 0.8, 0.85, 0.7, 0.75, 0.71, 0.72, 0.6]
    decisions = [stopper(v) for v in losses[:7]]
    assert decisions == [False, False, False, False, False, False, True]
    assert stopper.best == 0.7 and stopper.best_epoch == 4 and stopper.epoch == 7 and stopper.stopped
    assert stopper(losses[7]) is True                  # once stopped, it stays stopped
    stopper.reset()
    assert stopper.best == math.inf and stopper.best_epoch is None and not stopper.stopped


def test_early_stopping_min_delta_and_nan():
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    assert stopper(1.0) is False
    assert stopper(0.95) is False                      # better, but by less than min_delta
    assert stopper(float("nan")) is True               # NaN never improves
    assert stopper.best == 1.0 and stopper.best_epoch == 1


def test_early_stopping_restores_the_best_weights():
    net = bp.nn.Linear(2, 2, seed=0)
    stopper = EarlyStopping(patience=2, model=net)
    stopper(1.0)
    best = net.W.data.copy()
    for v in (1.5, 2.0):
        net.W.data += 1.0
        stopper(v)
    assert stopper.stopped
    assert stopper.restore() is net
    np.testing.assert_array_equal(net.W.data, best)


def test_early_stopping_as_a_fit_callback():
    from bpcourse.train import fit
    X, y = bp.data.make_dataset("moons", n=200, seed=0)
    net = bp.nn.MLP([2, 16, 2], seed=0)
    stopper = EarlyStopping(patience=3)
    history = fit(net, "cross_entropy", bp.optim.SGD(net.parameters(), lr=0.5), X[:150], y[:150],
                  epochs=300, X_val=X[150:], y_val=y[150:], callbacks=[stopper], progress=False)
    assert history.stopped_early and len(history) < 300
    assert stopper.epoch == history.epoch[-1]
    assert stopper.best == min(history.val_loss)
    assert history.val_loss[stopper.best_epoch - 1] == stopper.best
    assert stopper.model is net and stopper.best_state is not None


def test_early_stopping_bad_arguments():
    with pytest.raises(ValueError, match="patience must be a positive integer"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="min_delta must be a finite number >= 0"):
        EarlyStopping(min_delta=-1)
    with pytest.raises(TypeError, match="model must be a bpcourse Module"):
        EarlyStopping(model=[1, 2])
    with pytest.raises(RuntimeError, match="no model was given"):
        EarlyStopping().restore()
    with pytest.raises(RuntimeError, match="no epoch has improved"):
        EarlyStopping(model=bp.nn.Linear(1, 1)).restore()
    with pytest.raises(TypeError, match="got 2 arguments"):
        EarlyStopping()(1, 2)
