"""Activation functions and their derivatives (``bp.activations``), softmax, stability."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bpcourse as bp
from bpcourse import activations as act
from catalogue import ACTIVATION_CASES, ACTIVATION_NAMES, central_difference, rel_error

SHAPES = hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=5)


def arrays_in(domain):
    return hnp.arrays(np.float64, SHAPES, elements=domain.strategy())


def test_names_are_the_course_names():
    assert list(act.ACTIVATIONS) == list(ACTIVATION_NAMES)
    assert list(bp.nn.ACTIVATION_LAYERS) == list(ACTIVATION_NAMES)


@pytest.mark.parametrize("name", ["softmax", "Tanh", "", None, 3])
def test_unknown_name_lists_the_valid_ones(name):
    with pytest.raises(ValueError) as info:
        act.get_activation(name)
    msg = str(info.value)
    assert repr(name) in msg and all(valid in msg for valid in ACTIVATION_NAMES)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
@given(data=st.data())
def test_derivative_matches_central_differences(name, data):
    Z = data.draw(arrays_in(ACTIVATION_CASES[name]), label="Z")
    f, fprime = act.get_activation(name)
    analytic = fprime(Z)
    assert analytic.shape == Z.shape
    # element-wise f: the Jacobian is diagonal, so Σ f(Z) ⊙ 1 has gradient f'(Z)
    numeric = central_difference(lambda X: np.sum(f(X)), Z)
    assert rel_error(analytic, numeric) <= 1e-6
    # and the same through bp.gradcheck, with its random upstream gradient G
    assert bp.gradcheck(f, Z, grad=lambda X, G: G * fprime(X)) <= 1e-6


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
@given(Z=arrays_in(ACTIVATION_CASES["identity"]))
def test_values_against_textbook_formulas(name, Z):
    textbook = {
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z)),
        "relu": lambda z: z * (z > 0),
        "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
        "identity": lambda z: z,
        "gelu": lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))),
    }[name]
    f, _ = act.get_activation(name)
    np.testing.assert_allclose(f(Z), textbook(Z), rtol=1e-12, atol=1e-15)


def test_relu_prime_at_zero_is_zero_and_leaky_is_slope():
    """Stated convention: relu'(0) = 0 (as PyTorch); leaky_relu'(0) = slope."""
    assert act.relu_prime(np.array([0.0, -0.0]))[0] == 0.0
    assert act.relu_prime(0.0) == 0.0
    assert act.leaky_relu_prime(np.array(0.0)) == 0.01
    assert act.leaky_relu_prime(np.array([0.0]), slope=0.2)[0] == 0.2
    np.testing.assert_array_equal(act.relu_prime([-1.0, 0.0, 1e-300, 2.0]), [0.0, 0.0, 1.0, 1.0])


def test_sigmoid_prime_is_at_most_a_quarter():
    Z = np.linspace(-10, 10, 2001)
    assert act.sigmoid_prime(Z).max() == pytest.approx(0.25) and act.sigmoid_prime(0.0) == 0.25


# ---- softmax / log-softmax -------------------------------------------------------------------

@given(Z=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
                    elements=st.floats(-30, 30)))
def test_softmax_rows_are_distributions_and_match_log_softmax(Z):
    S = act.softmax(Z, axis=1)
    assert np.all(S >= 0) and np.allclose(S.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.exp(act.log_softmax(Z, axis=1)), S, rtol=1e-12, atol=1e-300)
    naive = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)        # fine at |z| <= 30
    np.testing.assert_allclose(S, naive, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(act.softmax(Z + 123.0, axis=1), S, rtol=1e-9, atol=1e-300)  # shift-invariant


def test_softmax_default_axis_is_last():
    Z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(act.softmax(Z), act.softmax(Z, axis=1))
    np.testing.assert_allclose(act.softmax(Z)[1], [1 / 3] * 3)


# ---- stability: no warnings for |z| up to 1e4 -----------------------------------------------

EXTREME = np.array([-1e4, -1000.0, -745.0, -50.0, 0.0, 50.0, 745.0, 1000.0, 1e4])


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activations_stable_at_extremes(name, strict_numpy):
    f, fprime = act.get_activation(name)
    A, D = f(EXTREME), fprime(EXTREME)
    assert np.all(np.isfinite(A[1:-1])) and np.all(np.isfinite(D))


def test_sigmoid_extreme_values(strict_numpy):
    S = act.sigmoid(EXTREME)
    assert S[0] == 0.0 and S[-1] == 1.0 and S[4] == 0.5
    assert act.sigmoid(-50.0) == pytest.approx(math.exp(-50), rel=1e-12)   # the small tail is exact
    np.testing.assert_allclose(S + act.sigmoid(-EXTREME), 1.0)               # σ(z) + σ(−z) = 1
    assert np.all(act.sigmoid_prime(EXTREME[[0, -1]]) == 0.0)


def test_softmax_and_log_softmax_extreme_logits(strict_numpy):
    Z = np.array([[1e4, 0.0, -1e4], [1000.0, 0.0, 0.0], [-1e4, -1e4, -1e4]])
    S, L = act.softmax(Z, axis=1), act.log_softmax(Z, axis=1)
    np.testing.assert_allclose(S[0], [1.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(S[2], [1 / 3] * 3)
    np.testing.assert_allclose(L[0], [0.0, -1e4, -2e4])
    np.testing.assert_allclose(L[1], [0.0, -1000.0, -1000.0])
    assert np.all(np.isfinite(L))


def test_activation_layers_stable_at_extremes(strict_numpy):
    Z = EXTREME.reshape(1, -1)
    for layer in (bp.nn.Sigmoid(), bp.nn.Tanh(), bp.nn.ReLU(), bp.nn.LeakyReLU()):
        A = layer(Z)
        dZ = layer.backward(np.ones_like(Z))
        assert np.all(np.isfinite(A[:, 1:-1])) and np.all(np.isfinite(dZ)), layer
