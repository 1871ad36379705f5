"""The scalar autograd engine ``bp.Value`` (notebook 02).

Property tests: every operation in the catalogue agrees with central differences, both through
the suite's own checker and through ``bp.gradcheck``.  Unit tests: gradients sum over paths,
deep graphs, repeated ``backward()``, ``zero_grad``, bad input.
"""
import math
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse import Value
from catalogue import SCALAR_CASES, by_name, central_difference, rel_error, value_gradients


def _float_fn(case):
    """The case as a function of one float array x (its inputs), for the numeric checkers."""
    return lambda x: case.fn(*(float(v) for v in x))


@pytest.mark.parametrize("case", SCALAR_CASES, ids=by_name(SCALAR_CASES))
@given(data=st.data())
def test_value_op_matches_central_differences(case, data):
    xs = [data.draw(d.strategy(), label=f"x{i}") for i, d in enumerate(case.domains)]
    out, grads = value_gradients(case, xs)
    assert isinstance(out, float) and all(isinstance(g, float) for g in grads)
    assert math.isclose(out, case.fn(*xs), rel_tol=1e-12, abs_tol=1e-12)     # same forward value
    numeric = central_difference(_float_fn(case), xs)
    assert rel_error(grads, numeric) <= 1e-6, (xs, grads, numeric)


@pytest.mark.parametrize("case", SCALAR_CASES, ids=by_name(SCALAR_CASES))
@given(data=st.data())
def test_value_op_passes_bp_gradcheck(case, data):
    xs = np.array([data.draw(d.strategy(), label=f"x{i}") for i, d in enumerate(case.domains)])
    f = lambda x: np.array(_float_fn(case)(x))                          # () array: a scalar output
    grad = lambda x, G: float(G) * np.array(value_gradients(case, x)[1])
    assert bp.gradcheck(f, xs, grad=grad) <= 1e-6


# ---- the public contract: the usage the README and notebooks rely on ----------------------

def test_contract_snippet_gradients():
    a = bp.Value(2.0); b = bp.Value(-3.0)
    c = (a * b + a.tanh()) ** 2 / b.exp()
    c.backward()
    assert isinstance(a.grad, float) and isinstance(b.grad, float)
    f = lambda x: (x[0] * x[1] + math.tanh(x[0])) ** 2 / math.exp(x[1])
    assert c.data == pytest.approx(f([2.0, -3.0]), rel=1e-14)
    assert rel_error([a.grad, b.grad], central_difference(f, [2.0, -3.0])) < 1e-8


def test_docstring_example():
    a = Value(2.0); b = Value(-3.0)
    c = a * b + a
    c.backward()
    assert (c.data, a.grad, b.grad) == (-4.0, -2.0, 2.0)


def test_cs231n_circuit():
    """(x + y) z at (−2, 5, −4) is −12 with gradients (−4, −4, 3) (CS231n backprop notes)."""
    x, y, z = Value(-2.0), Value(5.0), Value(-4.0)
    f = (x + y) * z
    f.backward()
    assert (f.data, x.grad, y.grad, z.grad) == (-12.0, -4.0, -4.0, 3.0)


# ---- gradients sum where a value is used more than once ------------------------------------

def test_a_plus_a_gives_two():
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0


def test_a_times_a_gives_two_a():
    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0


def test_a_minus_a_and_a_over_a_give_zero():
    a = Value(3.0)
    (a - a).backward()
    assert a.grad == 0.0
    b = Value(3.0)
    (b / b).backward()
    assert b.grad == pytest.approx(0.0, abs=1e-15)


def test_shared_subexpression_is_counted_on_every_path():
    x = Value(0.7)
    t = x.tanh()              # used twice below
    y = t * t + 3 * t
    y.backward()
    dt = 1 - math.tanh(0.7) ** 2
    assert x.grad == pytest.approx((2 * math.tanh(0.7) + 3) * dt, rel=1e-14)


# ---- deep graphs: the sort is iterative ---------------------------------------------------------

def test_chain_of_100000_nodes():
    assert sys.getrecursionlimit() < 100_000           # a recursive sort would fail here
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0                                     # each step: a constant leaf and a product
    assert len(y.topo()) >= 100_000
    y.backward()
    assert x.grad == 1.0


def test_graph_of_200000_nodes_with_sharing():
    x = Value(0.5)
    y = x
    for _ in range(200_000):
        y = y + x                                       # x feeds every step: 200,001 paths
    assert len(y.topo()) == 200_001
    y.backward()
    assert y.data == 0.5 * 200_001
    assert x.grad == 200_001.0


def test_deep_chain_of_unary_functions():
    x = Value(0.3)
    y = x
    for _ in range(100_000):
        y = y.relu()
    y.backward()
    assert y.data == 0.3 and x.grad == 1.0


# ---- backward twice, zero_grad --------------------------------------------------------------------

def _small_graph():
    a, b = Value(1.5), Value(-0.5)
    c = a * b
    d = c.tanh() + a
    return a, b, c, d


def test_backward_twice_doubles_leaves_but_not_interior_nodes():
    a, b, c, d = _small_graph()
    d.backward()
    first = (a.grad, b.grad, c.grad, d.grad)
    d.backward()
    assert (a.grad, b.grad) == (2 * first[0], 2 * first[1])    # leaves accumulate
    assert (c.grad, d.grad) == (first[2], first[3])            # interior: one pass's gradient
    assert d.grad == 1.0


def test_backward_twice_on_a_leaf_output_accumulates():
    x = Value(2.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_zero_grad_resets_whole_graph():
    a, b, c, d = _small_graph()
    d.backward()
    assert a.grad != 0 and b.grad != 0 and c.grad != 0
    d.zero_grad()
    assert all(node.grad == 0.0 for node in d.topo())
    assert (a.grad, b.grad, c.grad, d.grad) == (0.0, 0.0, 0.0, 0.0)
    d.backward()                                                 # fresh gradient again
    a2, b2, c2, d2 = _small_graph()
    d2.backward()
    assert (a.grad, b.grad) == (a2.grad, b2.grad)


def test_backward_with_upstream_gradient_scales():
    a, b, c, d = _small_graph()
    d.backward(3.0)
    a2, b2, _, d2 = _small_graph()
    d2.backward()
    assert a.grad == pytest.approx(3 * a2.grad) and b.grad == pytest.approx(3 * b2.grad)


def test_topo_lists_inputs_before_outputs():
    a, b, c, d = _small_graph()
    order = d.topo()
    pos = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for child in node._prev:
            assert pos[id(child)] < pos[id(node)]
    assert order[-1] is d and len(order) == len({id(n) for n in order})


# ---- conventions and bad input ---------------------------------------------------------------

def test_relu_derivative_at_zero_is_zero():
    x = Value(0.0)
    y = x.relu()
    y.backward()
    assert y.data == 0.0 and x.grad == 0.0


def test_sigmoid_and_tanh_are_stable_at_large_inputs():
    for z in (1e4, -1e4, 800.0, -800.0):
        s, t = Value(z).sigmoid(), Value(z).tanh()
        assert s.data == (1.0 if z > 0 else 0.0)
        assert t.data == (1.0 if z > 0 else -1.0)
        assert math.isfinite(s._local[0]) and math.isfinite(t._local[0])


def test_accepts_ints_and_numpy_floats():
    assert Value(3).data == 3.0 and type(Value(3).data) is float
    assert Value(np.float64(2.5)).data == 2.5
    assert Value(np.float32(0.5)).data == 0.5


@pytest.mark.parametrize("bad", ["2", None, [1.0], True, 1 + 2j])
def test_non_numbers_rejected(bad):
    with pytest.raises(TypeError, match="real number"):
        Value(bad)


@pytest.mark.parametrize("bad", [np.float64("nan"), np.float32("inf"), np.float64(-np.inf)])
def test_non_finite_rejected(bad):
    with pytest.raises(ValueError, match="non-finite"):
        Value(bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_python_float_rejected(bad):
    with pytest.raises(ValueError, match="non-finite"):
        Value(bad)


def test_log_of_non_positive_raises():
    for x in (0.0, -1.0):
        with pytest.raises(ValueError, match="log needs a positive input"):
            Value(x).log()


def test_division_by_zero_raises():
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / 0.0
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / Value(0.0)
    with pytest.raises(ZeroDivisionError):
        1.0 / Value(0.0)


def test_power_domain_errors():
    with pytest.raises(ValueError, match="positive base"):
        Value(-2.0) ** Value(2.0)
    with pytest.raises(ValueError, match="not a real number"):
        Value(-2.0) ** 0.5
    with pytest.raises(ZeroDivisionError):
        Value(0.0) ** 0.5
    assert (Value(-2.0) ** 3).data == -8.0                       # integer exponent: fine


def test_exp_overflow_explains():
    with pytest.raises(OverflowError, match="learning rate"):
        Value(1000.0).exp()
