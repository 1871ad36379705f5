"""The gradient checker itself (``bp.gradcheck``, ``bp.numerical_gradient``, ``bp.relative_error``).

A checker that always passes is worse than none: these tests break backward passes on purpose
and check that the failure is caught and that the message names the guilty parameter, and they
compare the package's numbers with the suite's independent central differences.
"""
import numpy as np
import pytest
from catalogue import central_difference, module_gradients_analytic, module_gradients_numeric, rel_error
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bpcourse as bp
from bpcourse.gradcheck import GradcheckError, GradcheckWarning, gradcheck_report
from bpcourse.nn import MLP, Linear, Sequential, Tanh

small_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4),
                          elements=st.floats(-2, 2))


# ---- numerical_gradient --------------------------------------------------------------------------

@given(x=small_arrays)
def test_numerical_gradient_agrees_with_independent_central_difference(x):
    f = lambda v: np.sum(np.sin(v) * v ** 2) + np.prod(np.cos(v))
    ours = central_difference(f, x)
    theirs = bp.numerical_gradient(lambda: f(x), x)
    np.testing.assert_allclose(theirs, ours, rtol=1e-7, atol=1e-9)


@given(x=small_arrays)
def test_numerical_gradient_of_a_quadratic(x):
    np.testing.assert_allclose(bp.numerical_gradient(lambda: np.sum(x ** 2), x), 2 * x, rtol=1e-7, atol=1e-8)


def test_numerical_gradient_restores_x_exactly(rng):
    x = rng.normal(size=(3, 4))
    before = x.copy()
    bp.numerical_gradient(lambda: float(np.sum(np.exp(x))), x, h=1e-3)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_refuses_a_copy():
    x = np.arange(12.0).reshape(3, 4).T               # not contiguous: reshape would copy
    with pytest.raises(ValueError, match="contiguous"):
        bp.numerical_gradient(lambda: float(np.sum(x)), x)


# ---- relative_error --------------------------------------------------------------------------------

def test_relative_error_basics():
    a = np.array([1.0, -2.0, 3.0])
    assert bp.relative_error(a, a) == 0.0
    assert bp.relative_error(a, -a) == 1.0
    assert bp.relative_error(a, np.zeros(3)) == 1.0
    assert bp.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert bp.relative_error(a, 2 * a) == pytest.approx(1 / 3)
    assert bp.relative_error([1.0, 0.0], [1.0, 0.1]) == pytest.approx(0.1 / (1 + np.sqrt(1.01)))
    assert bp.relative_error(3.0, 3.0 + 3e-9) == pytest.approx(5e-10, rel=1e-6)


@given(a=small_arrays, scale=st.floats(1e-3, 1e3), data=st.data())
def test_relative_error_is_symmetric_scale_free_and_bounded(a, scale, data):
    b = data.draw(hnp.arrays(np.float64, a.shape, elements=st.floats(-2, 2)))
    e = bp.relative_error(a, b)
    assert 0.0 <= e <= 1.0
    assert e == bp.relative_error(b, a)
    assert bp.relative_error(scale * a, scale * b) == pytest.approx(e, rel=1e-9, abs=1e-300)
    assert e == pytest.approx(rel_error(a, b), rel=1e-12, abs=1e-300)


def test_relative_error_shape_mismatch():
    with pytest.raises(ValueError, match=r"shapes differ, \(2,\) vs \(3,\)"):
        bp.relative_error(np.zeros(2), np.zeros(3))


# ---- deliberately broken backward passes are caught, and named -----------------------------

class WrongWeightGrad(Linear):
    """dW off by 1 %: small enough to look plausible, far above the tolerance."""

    def backward(self, delta):
        dX = super().backward(delta)
        self.W.grad *= 1.01
        return dX


class ForgetsBiasGrad(Linear):
    def backward(self, delta):
        dX = super().backward(delta)
        self.b.grad[...] = 0.0
        return dX


class WrongTanh(Tanh):
    def _fprime(self, Z, A):
        return 1.0 - A                                   # should be 1 − A²


def _X(rng, n=3):
    return rng.normal(size=(4, n))


def test_gradcheck_names_the_broken_weight(rng):
    layer = WrongWeightGrad(3, 2, seed=0)
    with pytest.raises(GradcheckError, match=r"relative error above tol=1e-06 in W: ") as info:
        bp.gradcheck(layer, _X(rng))
    assert "b:" not in str(info.value) and "input" not in str(info.value)
    assert isinstance(info.value, AssertionError)


def test_gradcheck_names_the_broken_bias_inside_a_network(rng):
    net = Sequential(Linear(3, 4, seed=0), Tanh(), ForgetsBiasGrad(4, 2, seed=1))
    with pytest.raises(GradcheckError) as info:
        bp.gradcheck(net, _X(rng))
    msg = str(info.value)
    assert "in 2.Linear(4->2).b: 1.00e+00" in msg                 # the third layer's bias, by name
    assert ".W" not in msg and "0.Linear(3->4).b" not in msg


def test_gradcheck_names_a_broken_activation_through_the_input(rng):
    with pytest.raises(GradcheckError, match=r"in input: "):
        bp.gradcheck(WrongTanh(), _X(rng))


def test_gradcheck_without_raising_returns_the_big_error(rng):
    err = bp.gradcheck(WrongWeightGrad(3, 2, seed=0), _X(rng), raise_on_fail=False)
    assert 1e-3 < err < 1e-2                           # 1 % off in dW → relative error ≈ 0.5 %


def test_report_matches_independent_checker_on_a_broken_layer(rng):
    """bp's reported error for each quantity ≈ the one from the suite's own central differences."""
    class OneSignFlipped(Linear):
        def backward(self, delta):
            dX = super().backward(delta)
            self.W.grad[0, 1] *= -1.0                    # the error's size depends on delta
            return dX
    layer, X = OneSignFlipped(3, 2, seed=0), _X(rng)
    report = gradcheck_report(layer, X, seed=np.random.default_rng(5))
    G = np.random.default_rng(5).standard_normal((4, 2))     # a Generator is used as given: same G
    analytic = module_gradients_analytic(layer, X, G)
    numeric = module_gradients_numeric(layer, X, G)
    assert set(report) == {"input", "W", "b"}
    assert report["W"] > 1e-2
    assert report["W"] == pytest.approx(rel_error(analytic["W"], numeric["W"]), rel=1e-6)
    assert report["input"] < 1e-8 and report["b"] < 1e-8


def test_gradcheck_catches_a_wrong_loss_gradient(rng):
    class HalfMSE(bp.losses.MSE):
        def _backward(self):
            return super()._backward() / 2               # forgot the 2 in 2(a − y)/N
    pred, target = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    assert bp.gradcheck(bp.losses.MSE(), pred, target) < 1e-8
    with pytest.raises(GradcheckError, match=r"prediction: 3\.33e-01"):
        bp.gradcheck(HalfMSE(), pred, target)


def test_gradcheck_of_functions_names_the_wrong_input(rng):
    f = lambda a, b: a * np.sin(b)
    good = lambda a, b, G: (G * np.sin(b), G * a * np.cos(b))
    bad = lambda a, b, G: (G * np.sin(b), G * a * np.sin(b))
    a, b = rng.normal(size=3), rng.normal(size=3)
    assert bp.gradcheck(f, a, b, grad=good) < 1e-8
    with pytest.raises(GradcheckError) as info:
        bp.gradcheck(f, a, b, grad=bad)
    assert "input 1" in str(info.value) and "input 0" not in str(info.value)
    # None means "do not check this input"
    assert bp.gradcheck(f, a, b, grad=lambda a, b, G: (G * np.sin(b), None)) < 1e-8


def test_gradcheck_flags_a_relu_kink():
    """At z = 0 the central difference sees (relu(h) − relu(−h)) / 2h = 1/2; relu'(0) = 0."""
    err = bp.gradcheck(bp.nn.ReLU(), np.array([[0.0, 1.0, -1.0]]), raise_on_fail=False)
    assert err > 0.1


def test_gradcheck_tolerance_and_step_are_used(rng):
    layer = WrongWeightGrad(3, 2, seed=0)
    assert bp.gradcheck(layer, _X(rng), tol=1e-1) < 1e-1
    net = MLP([3, 4, 2], activation="sigmoid", seed=0)
    assert bp.gradcheck(net, _X(rng), h=1e-5) < 1e-6
    assert bp.gradcheck(net, _X(rng), h=1e-1, raise_on_fail=False) > 1e-6      # a huge step is inaccurate


def test_gradcheck_leaves_the_module_as_it_found_it(rng):
    net = MLP([3, 4, 2], seed=0)
    before = [p.data.copy() for p in net.parameters()]
    X = _X(rng)
    X_before = X.copy()
    bp.gradcheck(net, X)
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
        assert not p.grad.any()
    np.testing.assert_array_equal(X, X_before)


def test_gradcheck_report_covers_every_parameter(rng):
    net = MLP([3, 4, 4, 2], seed=0)
    report = gradcheck_report(net, _X(rng))
    assert list(report) == ["input"] + [n for n, _ in net.named_parameters()]
    assert "input" not in gradcheck_report(net, _X(rng), wrt_inputs=False)


def test_gradcheck_bad_arguments():
    with pytest.raises(TypeError, match="needs grad="):
        bp.gradcheck(np.sin, np.zeros(3))
    with pytest.raises(TypeError, match="needs a Module, a Loss or a function, got int"):
        bp.gradcheck(3, np.zeros(3))


def test_a_truly_zero_gradient_passes_on_the_absolute_tolerance():
    # a bias right before BatchNorm has gradient exactly 0; its relative error is noise (~1)
    net = bp.nn.Sequential(bp.nn.Linear(3, 4, seed=0), bp.nn.BatchNorm(4))
    X = np.random.default_rng(1).standard_normal((6, 3))
    report = bp.gradcheck_report(net, X)
    assert report["0.Linear(3->4).b"] > 0.5          # the relative error alone would fail
    assert bp.gradcheck(net, X) < 1e-6              # but the absolute difference is below atol
    with pytest.raises(bp.GradcheckError, match=r"Linear\(3->4\)\.b"):
        bp.gradcheck(net, X, atol=0.0)


# ---- the blind spot: gradients too small for central differences -----------------------------------

def _deep_sigmoid(first_layer=Linear, depth=20):
    """A [4, 8 × depth, 2] sigmoid MLP whose first Linear is replaced by ``first_layer``.

    Its first layers' gradients are ~1e-13: below what central differences resolve (~ε|f|/h ≈ 1e-9),
    so the whole-network numerical gradient there is exactly 0.
    """
    net = MLP([4] + [8] * depth + [2], activation="sigmoid", seed=0)
    layer = first_layer(4, 8, seed=0)
    layer.W.data[...] = net.layers[0].W.data
    net.layers[0] = layer
    return net


class DoublesWeightGrad(Linear):
    def backward(self, delta):
        dX = super().backward(delta)
        self.W.grad *= 2.0
        return dX


@pytest.mark.parametrize("bug", [ForgetsBiasGrad, DoublesWeightGrad])
def test_gradcheck_default_catches_a_wrong_gradient_too_small_to_see_in_the_whole_network(rng, bug):
    net, X = _deep_sigmoid(bug), _X(rng, 4)
    report = gradcheck_report(net, X)
    assert report["0.Linear(4->8).W"] > 0.3               # relative error ~1 even for the right W ...
    with pytest.warns(GradcheckWarning, match=r"0\.Linear\(4->8\)\.W"):
        assert bp.gradcheck(net, X, layerwise=False) < 1e-5   # ... and without layerwise it passes, with a warning
    with pytest.raises(GradcheckError, match=r"layer 0 Linear\(4->8\): (b|W)"):
        bp.gradcheck(net, X)                                   # the default re-checks layer by layer


def test_gradcheck_default_passes_a_right_deep_network_without_warning(rng, recwarn):
    net, X = _deep_sigmoid(), _X(rng, 4)
    assert bp.gradcheck(net, X) < 1e-6
    assert not [w for w in recwarn if "gradcheck" in str(w.message)]


def test_gradcheck_still_passes_a_truly_zero_gradient(rng, recwarn):
    """A bias right before BatchNorm has gradient exactly 0: it must pass, layer by layer too."""
    net = Sequential(Linear(3, 4, seed=0), bp.nn.BatchNorm(4), Tanh(), Linear(4, 2, seed=1))
    assert bp.gradcheck(net, _X(rng, 3)) < 1e-6
    assert not [w for w in recwarn if "gradcheck" in str(w.message)]


def test_gradcheck_warns_about_quantities_it_cannot_recheck(rng):
    f = lambda x: 1e-12 * np.sin(x)
    wrong = lambda x, G: 3e-12 * G * np.cos(x)               # three times too big, far below atol
    with pytest.warns(GradcheckWarning, match=r"in input: .*too small for central differences"):
        bp.gradcheck(f, rng.normal(size=3), grad=wrong)
