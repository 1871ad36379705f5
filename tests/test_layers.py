"""Tests for bpcourse.layers: BatchNorm, LayerNorm, Residual, Dropout (notebooks 10 and 12).

Every backward is checked against central differences (``bp.gradcheck``, relative error
≤ 1e-6) on random shapes drawn by hypothesis, and, when torch is installed, against
PyTorch's BatchNorm1d and LayerNorm.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse.layers import BatchNorm, Dropout, LayerNorm, Residual

TOL = 1e-6
SEEDS = st.integers(0, 2**32 - 1)
# record_error only keeps a running maximum, so sharing it across hypothesis examples is intended
records = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def batch(seed, N, n, loc=0.0, scale=1.0):
    """A (N, n) float64 batch: loc + scale·N(0, 1), from its own seed (never gradcheck's G)."""
    return loc + scale * np.random.default_rng([seed, 1]).standard_normal((N, n))


def randomize_affine(layer, seed):
    """gamma ≠ 1 and beta ≠ 0, so their role in the backward pass is exercised."""
    rng = np.random.default_rng([seed, 2])
    layer.gamma.data[...] = rng.uniform(0.5, 2.0, layer.n) * rng.choice([-1, 1], layer.n)
    layer.beta.data[...] = rng.normal(size=layer.n)
    return layer


def check(layer, X, record_error, name):
    err = bp.gradcheck(layer, X, tol=TOL)
    record_error(name, err)
    return err


# ---------------------------------------------------------------------------------------------
# BatchNorm
# ---------------------------------------------------------------------------------------------

@records
@given(seed=SEEDS, N=st.integers(4, 9), n=st.integers(1, 5), loc=st.floats(-5, 5), scale=st.floats(0.1, 10))
def test_batchnorm_train_gradcheck(seed, N, n, loc, scale, record_error):
    bn = randomize_affine(BatchNorm(n), seed)
    assert check(bn, batch(seed, N, n, loc, scale), record_error, "BatchNorm train gradcheck") <= TOL


@records
@given(seed=SEEDS, N=st.integers(1, 9), n=st.integers(1, 5))
def test_batchnorm_eval_gradcheck(seed, N, n, record_error):
    bn = randomize_affine(BatchNorm(n, momentum=0.5), seed)
    for k in range(3):                                  # give the running statistics some history
        bn(batch(seed + k, 6, n, loc=1.0, scale=2.0))
    bn.eval()
    assert check(bn, batch(seed, N, n), record_error, "BatchNorm eval gradcheck") <= TOL


def test_batchnorm_train_output_is_normalised(rng):
    X = rng.normal(3.0, 5.0, (50, 4))
    Y = BatchNorm(4)(X)
    np.testing.assert_allclose(Y.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Y.var(0), X.var(0) / (X.var(0) + 1e-5), rtol=1e-12)


def test_batchnorm_running_stats_match_hand_computation(rng):
    bn = BatchNorm(3, momentum=0.2)
    mean, var = np.zeros(3), np.ones(3)
    for N in (5, 8, 2, 11):
        X = rng.normal(rng.normal(size=3), rng.uniform(0.5, 3, 3), (N, 3))
        bn(X)
        mu = X.sum(0) / N
        unbiased = ((X - mu) ** 2).sum(0) / (N - 1)
        mean = 0.8 * mean + 0.2 * mu
        var = 0.8 * var + 0.2 * unbiased
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-13)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-13)


def test_batchnorm_eval_uses_running_stats_and_is_deterministic(rng):
    bn = randomize_affine(BatchNorm(3), 7)
    for _ in range(4):
        bn(rng.normal(2.0, 3.0, (10, 3)))
    bn.eval()
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    X = rng.normal(size=(6, 3))
    Y1, Y2 = bn(X), bn(X)
    np.testing.assert_array_equal(Y1, Y2)
    np.testing.assert_array_equal(bn.running_mean, mean)       # eval never updates them
    np.testing.assert_array_equal(bn.running_var, var)
    expected = bn.gamma.data * (X - mean) / np.sqrt(var + bn.eps) + bn.beta.data
    np.testing.assert_allclose(Y1, expected, rtol=1e-14)
    np.testing.assert_allclose(bn(X[2:3]), Y1[2:3], rtol=1e-14)   # one example alone: same answer


def test_batchnorm_single_example_in_train_mode_raises():
    bn = BatchNorm(3)
    with pytest.raises(ValueError, match=r"BatchNorm\(3\).*at least 2 examples.*\(1, 3\).*eval"):
        bn(np.ones((1, 3)))
    assert bn.eval()(np.ones((1, 3))).shape == (1, 3)


def test_batchnorm_backward_accumulates_and_leaves_dY_alone(rng):
    bn = randomize_affine(BatchNorm(4), 3)
    X, dY = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    dY_before = dY.copy()
    bn(X)
    dX1 = bn.backward(dY)
    g1 = bn.gamma.grad.copy()
    dX2 = bn.backward(dY)
    np.testing.assert_array_equal(dY, dY_before)
    np.testing.assert_array_equal(dX1, dX2)
    assert dX1 is not dY
    np.testing.assert_allclose(bn.gamma.grad, 2 * g1)
    np.testing.assert_allclose(dX1.sum(0), 0.0, atol=1e-12)     # the mean path removes any shift


def test_batchnorm_bad_arguments_and_shapes():
    with pytest.raises(ValueError, match="n must be a positive integer"):
        BatchNorm(0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(3, momentum=0.0)
    with pytest.raises(ValueError, match="eps"):
        BatchNorm(3, eps=0)
    bn = BatchNorm(3)
    with pytest.raises(RuntimeError, match="before forward"):
        bn.backward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"BatchNorm\(3\): expected input of shape \(N, 3\), got \(4, 2\)"):
        bn(np.ones((4, 2)))
    bn(np.arange(12.0).reshape(4, 3))
    with pytest.raises(ValueError, match=r"expected upstream gradient of shape \(4, 3\).*got \(3, 4\)"):
        bn.backward(np.ones((3, 4)))


def test_batchnorm_parameters_and_train_eval_through_sequential():
    net = bp.nn.Sequential(bp.nn.Linear(2, 3, seed=0), BatchNorm(3), bp.nn.ReLU())
    names = [n for n, _ in net.named_parameters()]
    assert names[2:] == ["1.BatchNorm(3).gamma", "1.BatchNorm(3).beta"]
    net.eval()
    assert net[1].training is False
    net.train()
    assert net[1].training is True


# ---------------------------------------------------------------------------------------------
# LayerNorm
# ---------------------------------------------------------------------------------------------

@records
@given(seed=SEEDS, N=st.integers(1, 6), n=st.integers(3, 8), loc=st.floats(-5, 5), scale=st.floats(0.1, 10))
def test_layernorm_gradcheck(seed, N, n, loc, scale, record_error):
    ln = randomize_affine(LayerNorm(n), seed)
    assert check(ln, batch(seed, N, n, loc, scale), record_error, "LayerNorm gradcheck") <= TOL


def test_layernorm_normalises_each_row_independently_of_the_batch(rng):
    ln = LayerNorm(5)
    X = rng.normal(2.0, 4.0, (7, 5))
    Y = ln(X)
    np.testing.assert_allclose(Y.mean(1), 0.0, atol=1e-12)
    np.testing.assert_allclose(Y.var(1), X.var(1) / (X.var(1) + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(ln(X[3:4]), Y[3:4], rtol=1e-14)
    np.testing.assert_array_equal(ln.eval()(X), Y)                 # no train/eval difference


def test_layernorm_bad_shapes():
    ln = LayerNorm(4)
    with pytest.raises(ValueError, match=r"LayerNorm\(4\): expected input of shape \(N, 4\), got \(4,\)"):
        ln(np.ones(4))
    ln(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"LayerNorm\(4\)\.backward: expected upstream gradient of shape \(2, 4\)"):
        ln.backward(np.ones((2, 3)))


# ---------------------------------------------------------------------------------------------
# Residual
# ---------------------------------------------------------------------------------------------

def _block(n, seed, norm=False):
    layers = [bp.nn.Linear(n, n, init="normal", seed=seed), bp.nn.Tanh(), bp.nn.Linear(n, n, seed=seed + 1)]
    if norm:
        layers.insert(1, LayerNorm(n))
    return bp.nn.Sequential(*layers)


@records
@given(seed=SEEDS, N=st.integers(1, 6), n=st.integers(3, 6), norm=st.booleans())
def test_residual_gradcheck(seed, N, n, norm, record_error):
    res = Residual(_block(n, seed % 1000, norm))
    assert check(res, batch(seed, N, n), record_error, "Residual gradcheck") <= TOL


def test_residual_gradient_is_identity_plus_block_gradient(rng):
    block = _block(4, 0)
    X, dY = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    twin = _block(4, 0)                                          # same weights, separate grads
    twin(X)
    dblock = twin.backward(dY)
    res = Residual(block)
    np.testing.assert_allclose(res(X), X + twin(X), rtol=1e-15)
    dX = res.backward(dY)
    np.testing.assert_allclose(dX, dY + dblock, rtol=1e-14)
    for p, q in zip(res.parameters(), twin.parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-14)


def test_residual_around_a_dead_block_passes_the_gradient_unchanged(rng):
    block = bp.nn.Linear(3, 3, init="constant", value=0.0)   # block(X) = 0, its Jacobian is 0
    X, dY = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    res = Residual(block)
    np.testing.assert_array_equal(res(X), X)
    np.testing.assert_array_equal(res.backward(dY), dY)      # the gradient highway


def test_residual_shape_mismatch_names_the_block():
    res = Residual(bp.nn.Linear(3, 4))
    with pytest.raises(ValueError, match=r"Linear\(3->4\) maps input of shape \(2, 3\) to shape \(2, 4\)"):
        res(np.ones((2, 3)))
    with pytest.raises(TypeError, match="Module"):
        Residual(lambda X: X)


def test_residual_propagates_train_eval_and_parameters():
    inner = Dropout(0.5)
    res = Residual(bp.nn.Sequential(bp.nn.Linear(2, 2), inner))
    assert len(res.parameters()) == 2
    res.eval()
    assert inner.training is False


# ---------------------------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------------------------

@records
@given(seed=SEEDS, N=st.integers(1, 6), n=st.integers(1, 6), p=st.floats(0.0, 0.9))
def test_dropout_train_gradcheck_with_a_fixed_mask(seed, N, n, p, record_error):
    drop = Dropout(p, seed=seed).freeze_mask()
    assert check(drop, batch(seed, N, n), record_error, "Dropout train gradcheck") <= TOL


@records
@given(seed=SEEDS, N=st.integers(1, 6), n=st.integers(1, 6), p=st.floats(0.0, 0.9))
def test_dropout_eval_gradcheck(seed, N, n, p, record_error):
    drop = Dropout(p, seed=seed).eval()
    assert check(drop, batch(seed, N, n), record_error, "Dropout eval gradcheck") <= TOL


def test_dropout_backward_applies_the_forward_mask(rng):
    drop = Dropout(0.4, seed=3)
    X, dY = rng.normal(size=(5, 6)) + 10.0, rng.normal(size=(5, 6))   # X never 0: zeros are drops
    Y = drop(X)
    kept = Y != 0
    np.testing.assert_allclose(Y[kept], X[kept] / 0.6)
    np.testing.assert_allclose(drop.backward(dY), np.where(kept, dY / 0.6, 0.0))


def test_dropout_keeps_the_expectation(rng):
    p, X = 0.3, rng.normal(size=(4, 5))
    drop = Dropout(p, seed=1)
    k = 4000
    Ys = np.stack([drop(X) for _ in range(k)])
    # each entry is X/(1−p) with prob. 1−p, else 0: std of the mean = |X| sqrt(p/(1−p)/k)
    se = np.abs(X) * np.sqrt(p / (1 - p) / k)
    assert np.all(np.abs(Ys.mean(0) - X) <= 5 * se + 1e-12)
    assert abs((Ys == 0).mean() - p) < 0.01


def test_dropout_p0_is_identity_and_eval_is_identity(rng):
    X, dY = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    drop = Dropout(0.0)
    np.testing.assert_array_equal(drop(X), X)
    np.testing.assert_array_equal(drop.backward(dY), dY)
    drop = Dropout(0.7).eval()
    np.testing.assert_array_equal(drop(X), X)
    dX = drop.backward(dY)
    np.testing.assert_array_equal(dX, dY)
    assert dX is not dY


def test_dropout_is_reproducible_and_freezable(rng):
    X = rng.normal(size=(8, 8))
    a, b, c = Dropout(0.5, seed=4), Dropout(0.5, seed=4), Dropout(0.5, seed=5)
    Ya = [a(X) for _ in range(3)]
    Yb = [b(X) for _ in range(3)]
    for u, v in zip(Ya, Yb):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(Ya[0], Ya[1])                   # a new mask each call
    assert not np.array_equal(Ya[0], c(X))
    a.freeze_mask()
    np.testing.assert_array_equal(a(X), Ya[2])                # frozen: the last mask again
    np.testing.assert_array_equal(a(X), Ya[2])
    a.freeze_mask(False)
    assert not np.array_equal(a(X), Ya[2])


@pytest.mark.parametrize("p", [-0.1, 1, 1.0, 1.5, "0.5", True, float("nan")])
def test_dropout_bad_p_raises(p):
    with pytest.raises(ValueError, match=r"Dropout: p .* >= 0 and < 1"):
        Dropout(p)


def test_dropout_backward_checks():
    drop = Dropout(0.5)
    with pytest.raises(RuntimeError, match="before forward"):
        drop.backward(np.ones(3))
    drop(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Dropout\(0.5\)\.backward: expected upstream gradient of shape \(2, 3\)"):
        drop.backward(np.ones((3, 2)))


# ---------------------------------------------------------------------------------------------
# against PyTorch (skipped when torch is not installed)
# ---------------------------------------------------------------------------------------------

def _torch_bn(torch, bn):
    t = torch.nn.BatchNorm1d(bn.n, eps=bn.eps, momentum=bn.momentum).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(bn.gamma.data))
        t.bias.copy_(torch.from_numpy(bn.beta.data))
    return t


def _torch_forward_backward(torch, module, X, G):
    Xt = torch.tensor(X, requires_grad=True)
    Yt = module(Xt)
    (Yt * torch.from_numpy(G)).sum().backward()
    return Yt.detach().numpy(), Xt.grad.numpy()


def test_batchnorm_matches_torch_train_and_eval(rng, record_error):
    torch = pytest.importorskip("torch")
    bn = randomize_affine(BatchNorm(4, momentum=0.3), 11)
    tbn = _torch_bn(torch, bn)
    for step in range(3):                                         # train mode, three batches
        X, G = rng.normal(1.0, 2.0, (6 + step, 4)), rng.normal(size=(6 + step, 4))
        bn.zero_grad()
        tbn.zero_grad()
        Y = bn(X)
        dX = bn.backward(G)
        Yt, dXt = _torch_forward_backward(torch, tbn, X, G)
        errs = {"Y": bp.relative_error(Y, Yt), "dX": bp.relative_error(dX, dXt),
                "dgamma": bp.relative_error(bn.gamma.grad, tbn.weight.grad.numpy()),
                "dbeta": bp.relative_error(bn.beta.grad, tbn.bias.grad.numpy()),
                "running_mean": bp.relative_error(bn.running_mean, tbn.running_mean.numpy()),
                "running_var": bp.relative_error(bn.running_var, tbn.running_var.numpy())}
        for k, v in errs.items():
            record_error(f"torch BatchNorm1d train {k}", v)
            assert v < 1e-12, (k, v)
    bn.eval()
    tbn.eval()
    X, G = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    Y, dX = bn(X), bn.backward(G)
    Yt, dXt = _torch_forward_backward(torch, tbn, X, G)
    for k, v in {"Y": bp.relative_error(Y, Yt), "dX": bp.relative_error(dX, dXt)}.items():
        record_error(f"torch BatchNorm1d eval {k}", v)
        assert v < 1e-12, (k, v)


def test_layernorm_matches_torch(rng, record_error):
    torch = pytest.importorskip("torch")
    ln = randomize_affine(LayerNorm(6), 5)
    tln = torch.nn.LayerNorm(6, eps=ln.eps).double()
    with torch.no_grad():
        tln.weight.copy_(torch.from_numpy(ln.gamma.data))
        tln.bias.copy_(torch.from_numpy(ln.beta.data))
    X, G = rng.normal(0.5, 3.0, (5, 6)), rng.normal(size=(5, 6))
    Y = ln(X)
    dX = ln.backward(G)
    Yt, dXt = _torch_forward_backward(torch, tln, X, G)
    errs = {"Y": bp.relative_error(Y, Yt), "dX": bp.relative_error(dX, dXt),
            "dgamma": bp.relative_error(ln.gamma.grad, tln.weight.grad.numpy()),
            "dbeta": bp.relative_error(ln.beta.grad, tln.bias.grad.numpy())}
    for k, v in errs.items():
        record_error(f"torch LayerNorm {k}", v)
        assert v < 1e-12, (k, v)
