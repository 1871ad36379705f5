"""Losses (``bp.losses``): backward vs central differences, known values, stability, bad input."""
import math
import re

import numpy as np
import pytest
from catalogue import LOSS_CASES, by_name, central_difference, rel_error
from hypothesis import given
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse.losses import BCE, MSE, CosineDistance, SoftmaxCrossEntropy

dims = st.integers(1, 4)
seeds = st.integers(0, 2**32 - 1)


# ---- backward agrees with central differences ------------------------------------------------

@pytest.mark.parametrize("case", LOSS_CASES, ids=by_name(LOSS_CASES))
@given(N=dims, d=dims, seed=seeds)
def test_loss_backward_matches_central_differences(case, N, d, seed):
    pred, target = case.make(np.random.default_rng(seed), N, d)
    loss = case.build()
    L = loss(pred, target)
    assert isinstance(L, float)
    analytic = loss.backward()
    assert analytic.shape == pred.shape
    numeric = central_difference(lambda P: case.build()(P, target), pred)
    assert rel_error(analytic, numeric) <= 1e-6
    assert bp.gradcheck(case.build(), pred, target) <= 1e-6


@pytest.mark.parametrize("case", LOSS_CASES, ids=by_name(LOSS_CASES))
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@given(N=dims, d=dims, seed=seeds)
def test_mlp_plus_loss_parameter_gradients(case, activation, N, d, seed):
    """dL/dW for the whole pipeline X -> MLP -> loss, against central differences of L."""
    rng = np.random.default_rng(seed)
    _, target = case.make(rng, N, d)
    n_out = case.n_out(d)
    net = bp.nn.MLP([3, 4, n_out], activation=activation, output_activation=case.output_activation, seed=rng)
    X = rng.normal(size=(N, 3))
    loss = case.build()
    loss(net(X), target)
    net.zero_grad()
    dX = net.backward(loss.backward())
    assert rel_error(dX, central_difference(lambda Xp: loss(net(Xp), target), X)) <= 1e-6
    for name, p in net.named_parameters():
        original = p.data

        def L(P, p=p):
            p.data = P
            return loss(net(X), target)
        numeric = central_difference(L, original)
        p.data = original
        assert rel_error(p.grad, numeric) <= 1e-6, name


# ---- known values -------------------------------------------------------------------------------

def test_mse_known_value_and_mean_over_all_entries():
    assert MSE()(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])) == 2.5
    loss = MSE()
    assert loss(np.array([[1.0], [3.0]]), np.array([0.0, 0.0])) == 5.0          # (N,) target for (N, 1)
    np.testing.assert_array_equal(loss.backward(), [[1.0], [3.0]])            # 2 (a − y) / N


def test_bce_known_values():
    assert BCE()(np.array([[0.5]]), np.array([[1.0]])) == pytest.approx(math.log(2))
    assert BCE(from_logits=True)(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])) == pytest.approx(math.log(2))
    p, y = np.array([[0.9, 0.2]]), np.array([[1.0, 0.0]])
    assert BCE()(p, y) == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2)


@given(seed=seeds)
def test_bce_from_logits_equals_bce_of_sigmoid(seed):
    rng = np.random.default_rng(seed)
    Z, Y = 4 * rng.normal(size=(5, 2)), rng.random((5, 2))
    with_logits, with_probs = BCE(from_logits=True), BCE()
    assert with_logits(Z, Y) == pytest.approx(with_probs(bp.activations.sigmoid(Z), Y), rel=1e-9)
    # the output error simplifies to (σ(z) − y) / N: σ' cancels
    np.testing.assert_allclose(with_logits.backward(), (bp.activations.sigmoid(Z) - Y) / Y.size, rtol=1e-12)


def test_cross_entropy_known_values():
    loss = SoftmaxCrossEntropy()
    assert loss(np.zeros((3, 4)), [0, 1, 3]) == pytest.approx(math.log(4))
    Z = np.array([[2.0, 1.0, 0.1]])
    assert loss(Z, [0]) == pytest.approx(-math.log(math.exp(2) / (math.exp(2) + math.exp(1) + math.exp(0.1))))
    S = bp.activations.softmax(Z)
    np.testing.assert_allclose(loss.backward(), S - [[1.0, 0.0, 0.0]], rtol=1e-12)   # (softmax − onehot) / N


def test_cross_entropy_is_the_mean_of_per_example_losses(rng):
    Z, y = rng.normal(size=(6, 5)), rng.integers(0, 5, 6)
    loss = SoftmaxCrossEntropy()
    per_example = [loss(Z[i:i + 1], y[i:i + 1]) for i in range(6)]
    assert loss(Z, y) == pytest.approx(np.mean(per_example), rel=1e-14)


def test_cross_entropy_accepts_integral_floats_and_lists():
    loss = SoftmaxCrossEntropy()
    Z = np.array([[1.0, 2.0], [0.0, 3.0]])
    assert loss(Z, np.array([0.0, 1.0])) == loss(Z, [0, 1]) == loss(Z, np.array([0, 1], dtype=np.uint8))


def test_initial_softmax_loss_is_ln_10(rng):
    """Small random logits over 10 classes: every class ≈ 1/10, so L ≈ ln 10 = 2.303 (CS231n)."""
    Z, y = 0.01 * rng.normal(size=(1000, 10)), rng.integers(0, 10, 1000)
    assert SoftmaxCrossEntropy()(Z, y) == pytest.approx(math.log(10), abs=0.01)


def test_cosine_distance_known_values():
    loss = CosineDistance()
    A = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    Y = np.array([[2.0, 0.0], [-1.0, -1.0], [3.0, 0.0]])
    assert loss(A[:1], Y[:1]) == pytest.approx(0.0, abs=1e-15)      # same direction
    assert loss(A[1:2], Y[1:2]) == pytest.approx(2.0)                # opposite
    assert loss(A[2:], Y[2:]) == pytest.approx(1.0)                  # orthogonal
    assert loss(A, Y) == pytest.approx(1.0)                          # mean of 0, 2, 1


def test_cosine_distance_zero_vector_gives_no_nan(strict_numpy):
    loss = CosineDistance()
    assert loss(np.zeros((1, 3)), np.ones((1, 3))) == 1.0
    assert np.all(np.isfinite(loss.backward()))


# ---- stability ---------------------------------------------------------------------------------

def test_bce_from_logits_extreme_logits(strict_numpy):
    Z = np.array([[1e4], [-1e4], [1e4], [-1e4], [1000.0]])
    Y = np.array([[1.0], [0.0], [0.0], [1.0], [0.0]])
    loss = BCE(from_logits=True)
    per_example = [loss(Z[i:i + 1], Y[i:i + 1]) for i in range(5)]
    np.testing.assert_allclose(per_example, [0.0, 0.0, 1e4, 1e4, 1000.0], atol=1e-12)
    loss(Z, Y)
    np.testing.assert_allclose(loss.backward().ravel(), [0.0, 0.0, 1.0, -1.0, 1.0] / np.float64(5))


def test_bce_probabilities_at_zero_and_one_are_clamped(strict_numpy):
    loss = BCE()
    assert loss(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])) == 100.0       # log clamped at −100
    assert np.all(np.isfinite(loss.backward()))
    assert loss(np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]])) == 0.0


def test_cross_entropy_extreme_logits(strict_numpy):
    loss = SoftmaxCrossEntropy()
    Z = np.array([[1000.0, 0.0]])
    assert loss(Z, [0]) == pytest.approx(0.0, abs=1e-300)
    np.testing.assert_allclose(loss.backward(), [[0.0, 0.0]], atol=1e-300)
    assert loss(Z, [1]) == pytest.approx(1000.0, rel=1e-15)
    np.testing.assert_allclose(loss.backward(), [[1.0, -1.0]])
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    assert loss(Z, [1, 2]) == pytest.approx((2e4 + math.log(3)) / 2)
    assert np.all(np.isfinite(loss.backward()))


# ---- backward returns a new array; losses do not keep aliases -------------------------------

@pytest.mark.parametrize("case", LOSS_CASES, ids=by_name(LOSS_CASES))
def test_backward_returns_fresh_arrays(case, rng):
    pred, target = case.make(rng, 3, 2)
    pred_copy = pred.copy()
    loss = case.build()
    loss(pred, target)
    first = loss.backward()
    first_copy = first.copy()
    first += 100.0                                                   # the caller owns the array
    np.testing.assert_array_equal(loss.backward(), first_copy)
    np.testing.assert_array_equal(pred, pred_copy)
    assert not np.shares_memory(first, pred)


# ---- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", [MSE(), BCE(), BCE(from_logits=True)], ids=repr)
def test_shape_mismatch_names_loss_and_both_shapes(loss):
    msg = re.escape(f"{loss.name}: prediction has shape (4, 2) but target has shape (4, 3)")
    with pytest.raises(ValueError, match=msg):
        loss(np.full((4, 2), 0.5), np.zeros((4, 3)))


def test_cosine_shape_mismatch():
    with pytest.raises(ValueError, match=re.escape("CosineDistance") + r".*\(3, 2\) and \(3,\)"):
        CosineDistance()(np.ones((3, 2)), np.ones(3))


@pytest.mark.parametrize("y,match", [
    ([0, 3], r"labels must be in 0\.\.2 for 3 classes, got values in 0\.\.3"),
    ([-1, 0], r"labels must be in 0\.\.2 for 3 classes, got values in -1\.\.0"),
    ([0.5, 1.0], r"class indices must be integers, got dtype float64"),
    ([0, 1, 2], r"expected class indices of shape \(2,\), got \(3,\)"),
    (np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), r"one-hot\?.*argmax\(axis=1\)"),
])
def test_cross_entropy_bad_labels(y, match):
    with pytest.raises(ValueError, match="SoftmaxCrossEntropy: .*" + match):
        SoftmaxCrossEntropy()(np.zeros((2, 3)), y)


def test_cross_entropy_needs_2d_logits():
    with pytest.raises(ValueError, match=r"logits must have shape \(N, K\) for K classes, got \(3,\)"):
        SoftmaxCrossEntropy()(np.zeros(3), [0, 1, 2])


@pytest.mark.parametrize("case", LOSS_CASES, ids=by_name(LOSS_CASES))
@pytest.mark.parametrize("where", ["prediction", "target"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_inputs_to_losses(case, where, bad, rng):
    pred, target = case.make(rng, 3, 2)
    if where == "prediction":
        pred = pred.copy(); pred[1, 0] = bad
    elif target.dtype.kind == "f":
        target = target.copy(); target[1, 0] = bad
    else:                                                 # integer class indices cannot hold NaN
        target = target.astype(float); target[1] = bad
    with pytest.raises(ValueError, match=re.escape(case.build().name)):
        case.build()(pred, target)


def test_bce_rejects_probabilities_outside_unit_interval():
    with pytest.raises(ValueError, match=r"BCE: predictions must be probabilities in \[0, 1\].*from_logits=True"):
        BCE()(np.array([[1.5, 0.2]]), np.array([[1.0, 0.0]]))


@pytest.mark.parametrize("loss", [BCE(), BCE(from_logits=True)], ids=repr)
def test_bce_rejects_targets_outside_unit_interval(loss):
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\], got values in \[-1, 2\]"):
        loss(np.array([[0.5, 0.5]]), np.array([[-1.0, 2.0]]))


@pytest.mark.parametrize("case", LOSS_CASES, ids=by_name(LOSS_CASES))
def test_backward_before_forward(case):
    with pytest.raises(RuntimeError, match="backward\\(\\) called before computing the loss"):
        case.build().backward()


@pytest.mark.parametrize("name", ["mse", "bce", "bce_logits", "cross_entropy", "cosine"])
def test_get_loss_names(name):
    loss = bp.losses.get_loss(name)
    assert isinstance(loss, bp.losses.Loss)
    assert bp.losses.get_loss(loss) is loss
    assert bp.losses.get_loss("bce_logits").from_logits


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="unknown loss 'hinge'; valid: mse, bce, bce_logits, cross_entropy, cosine"):
        bp.losses.get_loss("hinge")
