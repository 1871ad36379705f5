"""Layers (``bp.nn``): backward vs central differences over random shapes and values, the
public contract (the usage the README and notebooks rely on), scalar engine == matrix engine,
shapes, bad input, reproducibility."""
import re
import warnings

import numpy as np
import pytest
from catalogue import (
    ACTIVATION_NAMES,
    LAYER_CASES,
    by_name,
    kink_margin,
    module_gradients_analytic,
    module_gradients_numeric,
    rel_error,
)
from hypothesis import assume, given
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse import Value
from bpcourse.nn import MLP, Identity, LeakyReLU, Linear, Parameter, ReLU, Sequential, Sigmoid, Tanh

LAYER_CLS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "leaky_relu": LeakyReLU, "identity": Identity,
             "gelu": bp.nn.GELU}

dims = st.integers(1, 4)
seeds = st.integers(0, 2**32 - 1)


def _case_inputs(case, N, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    n_out = n_in if case.same_width else n_out
    module = case.build(n_in, n_out, rng)
    X = case.input_domain.sample(rng, (N, n_in))
    return module, X, rng.normal(size=(N, n_out))


# ---- every layer's backward agrees with central differences -------------------------------

@pytest.mark.parametrize("case", LAYER_CASES, ids=by_name(LAYER_CASES))
@given(N=dims, n_in=dims, n_out=dims, seed=seeds)
def test_layer_backward_matches_central_differences(case, N, n_in, n_out, seed):
    module, X, G = _case_inputs(case, N, n_in, n_out, seed)
    if case.kinked:
        assume(kink_margin(module, X) > 1e-3)        # a nudge of 1e-6 must not cross the kink
    analytic = module_gradients_analytic(module, X, G)
    numeric = module_gradients_numeric(module, X, G)
    assert analytic.keys() == numeric.keys()
    for name in analytic:
        assert analytic[name].shape == numeric[name].shape, name
        assert rel_error(analytic[name], numeric[name]) <= 1e-6, name


@pytest.mark.parametrize("case", LAYER_CASES, ids=by_name(LAYER_CASES))
@given(N=dims, n_in=dims, n_out=dims, seed=seeds)
def test_layer_passes_bp_gradcheck(case, N, n_in, n_out, seed):
    module, X, _ = _case_inputs(case, N, n_in, n_out, seed)
    if case.kinked:
        assume(kink_margin(module, X) > 1e-3)
    assert bp.gradcheck(module, X) <= 1e-6


def test_linear_backward_by_hand():
    """BP3 db = Σ delta, BP4 dW = deltaᵀ A_prev, dA_prev = delta W on numbers small enough to check."""
    lin = Linear(2, 3)
    lin.W.data[:] = [[1.0, 0.0], [0.0, 2.0], [1.0, -1.0]]
    lin.b.data[:] = [0.5, 0.0, -0.5]
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    np.testing.assert_array_equal(lin(X), [[1.5, 4.0, -1.5], [3.5, -2.0, 3.5]])
    delta = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    dX = lin.backward(delta)
    np.testing.assert_array_equal(dX, [[2.0, -1.0], [-1.0, 3.0]])
    np.testing.assert_array_equal(lin.W.grad, [[1.0, 2.0], [3.0, -1.0], [-2.0, 3.0]])
    np.testing.assert_array_equal(lin.b.grad, [1.0, 1.0, 0.0])


def test_backward_accumulates_into_grad_until_zero_grad():
    net = MLP([3, 4, 2], seed=1)
    X = np.random.default_rng(0).normal(size=(5, 3))
    G = np.ones((5, 2))
    net(X); net.backward(G)
    once = [p.grad.copy() for p in net.parameters()]
    net(X); net.backward(G)
    for p, g in zip(net.parameters(), once):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-15)
    net.zero_grad()
    assert all(not p.grad.any() for p in net.parameters())


def test_mlp_with_an_activation_instance_has_correct_gradients():
    net = MLP([3, 4, 4, 2], activation=Tanh(), seed=0)
    X = np.random.default_rng(0).normal(size=(5, 3))
    assert bp.gradcheck(net, X) <= 1e-6


# ---- the public contract: the usage the README and notebooks rely on ----------------------

def test_contract_snippet(rng):
    lin = bp.nn.Linear(3, 4)
    assert lin.W.data.shape == (4, 3) and lin.b.data.shape == (4,)
    X3 = rng.normal(size=(5, 3))
    np.testing.assert_allclose(lin(X3), X3 @ lin.W.data.T + lin.b.data, rtol=1e-15)

    net = bp.nn.MLP([2, 16, 16, 1], activation="tanh", init="xavier", seed=0)
    assert isinstance(net, bp.nn.Sequential)
    assert [type(layer) for layer in net.layers] == [Linear, Tanh, Linear, Tanh, Linear]
    assert [(l.W.data.shape, l.b.data.shape) for l in net.layers[::2]] == [((16, 2), (16,)), ((16, 16), (16,)),
                                                                            ((1, 16), (1,))]
    X = rng.normal(size=(7, 2))
    Y = net(X)
    assert Y.shape == (7, 1)
    dY = rng.normal(size=Y.shape)
    dX = net.backward(dY)
    assert dX.shape == X.shape
    params = net.parameters()
    assert len(params) == 6 and all(isinstance(p, Parameter) for p in params)
    assert all(isinstance(p.data, np.ndarray) and isinstance(p.grad, np.ndarray) for p in params)
    assert all(p.grad.shape == p.data.shape and p.data.dtype == np.float64 for p in params)
    assert all(p.grad.any() for p in params)
    net.zero_grad()
    assert not any(p.grad.any() for p in params)

    loss = bp.losses.SoftmaxCrossEntropy()
    logits, y = rng.normal(size=(7, 10)), rng.integers(0, 10, 7)
    L = loss(logits, y)
    assert isinstance(L, float)
    dlogits = loss.backward()
    assert dlogits.shape == logits.shape

    assert bp.losses.BCE(from_logits=True).from_logits and not bp.losses.BCE().from_logits

    opt = bp.optim.Adam(net.parameters(), lr=1e-3)
    before = [p.data.copy() for p in params]
    net.backward(net(X) - 1.0)          # any upstream gradient
    opt.step()
    assert all(not np.array_equal(b, p.data) for b, p in zip(before, params))
    opt.zero_grad()
    assert not any(p.grad.any() for p in params)

    worst = bp.gradcheck(net, X)
    assert isinstance(worst, float) and worst < 1e-6


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_mlp_layer_order_for_each_activation(activation):
    net = MLP([3, 5, 4, 2, 1], activation=activation)
    kind = LAYER_CLS[activation]
    assert [type(l) for l in net.layers] == [Linear, kind, Linear, kind, Linear, kind, Linear]
    assert len({id(l) for l in net.layers}) == len(net.layers)      # a fresh module each time
    assert [l.W.data.shape for l in net.linear_layers()] == [(5, 3), (4, 5), (2, 4), (1, 2)]


def test_mlp_output_activation():
    assert [type(l) for l in MLP([2, 3, 1], output_activation="sigmoid").layers] == [Linear, Tanh, Linear, Sigmoid]
    assert [type(l) for l in MLP([2, 3, 1], output_activation=None).layers] == [Linear, Tanh, Linear]
    assert [type(l) for l in MLP([2, 1]).layers] == [Linear]


def test_parameter_names_are_qualified_and_unique():
    names = [n for n, _ in MLP([2, 3, 1]).named_parameters()]
    assert len(set(names)) == 4 and all(n.endswith((".W", ".b")) for n in names)
    assert names[0].startswith("0.Linear1(2->3)")


# ---- scalar engine and matrix engine agree -------------------------------------------------

def _value_net(net, X):
    """The same network built from bp.Value: returns (outputs as rows of Values, leaves)."""
    leaves = {}
    A = [[Value(x) for x in row] for row in X]
    leaves["input"] = A
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Linear):
            W = [[Value(w) for w in row] for row in layer.W.data]
            b = [Value(v) for v in layer.b.data]
            leaves[i] = (W, b)
            A = [[sum((w * a for w, a in zip(W_j, a_row)), b_j) for W_j, b_j in zip(W, b)] for a_row in A]
        else:
            f = {Tanh: lambda z: z.tanh(), Sigmoid: lambda z: z.sigmoid(), ReLU: lambda z: z.relu(),
                 LeakyReLU: lambda z: z.relu() - 0.01 * (-z).relu(), Identity: lambda z: z,
                 bp.nn.GELU: lambda z: 0.5 * z * (1 + (np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)).tanh())
                 }[type(layer)]
            A = [[f(z) for z in row] for row in A]
    return A, leaves


def _value_loss(kind, A, target):
    rows = len(A)
    if kind == "mse":
        terms = [(a - t) ** 2 for row, trow in zip(A, target) for a, t in zip(row, trow)]
        return sum(terms) / len(terms)
    if kind == "cross_entropy":
        total = 0
        for row, y in zip(A, target):
            m = max(z.data for z in row)                      # log-sum-exp shift (a constant)
            total = total + (sum((z - m).exp() for z in row).log() + m - row[y])
        return total / rows
    if kind == "bce_logits":
        terms = [-(t * z.sigmoid().log() + (1 - t) * (1 - z.sigmoid()).log())
                 for row, trow in zip(A, target) for z, t in zip(row, trow)]
        return sum(terms) / len(terms)
    if kind == "cosine":
        total = 0
        for row, trow in zip(A, target):
            dot = sum(a * t for a, t in zip(row, trow))
            na = sum(a * a for a in row) ** 0.5
            total = total + (1 - dot / (na * float(np.linalg.norm(trow))))
        return total / rows
    raise AssertionError(kind)


def _targets(kind, rng, N, n_out):
    if kind == "cross_entropy":
        return rng.integers(0, n_out, N)
    if kind == "bce_logits":
        return rng.integers(0, 2, (N, n_out)).astype(float)
    return rng.normal(size=(N, n_out))


@pytest.mark.parametrize("activation,kind", [(a, "mse") for a in ACTIVATION_NAMES]
                         + [("tanh", k) for k in ("cross_entropy", "bce_logits", "cosine")])
def test_scalar_engine_matches_matrix_engine(activation, kind):
    rng = np.random.default_rng(7)
    N, sizes = 4, [3, 5, 4, 3]
    net = MLP(sizes, activation=activation, seed=3)
    X, T = rng.normal(size=(N, sizes[0])), _targets(kind, rng, N, sizes[-1])
    loss = bp.losses.get_loss(kind)

    L = loss(net(X), T)                                       # the matrix engine
    net.zero_grad()
    dX = net.backward(loss.backward())

    out, leaves = _value_net(net, X)                          # the scalar engine
    L_value = _value_loss(kind, out, T)
    L_value.backward()

    assert L_value.data == pytest.approx(L, rel=1e-12)
    assert rel_error(dX, [[v.grad for v in row] for row in leaves["input"]]) <= 1e-9
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Linear):
            W, b = leaves[i]
            assert rel_error(layer.W.grad, [[w.grad for w in row] for row in W]) <= 1e-9, layer.name
            assert rel_error(layer.b.grad, [v.grad for v in b]) <= 1e-9, layer.name


# ---- upstream gradients are never mutated; backward returns new arrays -----------------------

@pytest.mark.parametrize("case", LAYER_CASES, ids=by_name(LAYER_CASES))
def test_backward_leaves_read_only_upstream_gradient_alone(case):
    module, X, G = _case_inputs(case, 3, 4, 2, seed=11)
    X.setflags(write=False)
    X_copy = X.copy()
    Y = module(X)
    G.setflags(write=False)
    G_copy = G.copy()
    dX = module.backward(G)
    np.testing.assert_array_equal(G, G_copy)
    np.testing.assert_array_equal(X, X_copy)
    assert dX is not G and not np.shares_memory(dX, G) and not np.shares_memory(dX, X)
    assert dX.shape == X.shape and Y.shape == G.shape


# ---- bad input ---------------------------------------------------------------------------------

def test_linear_wrong_input_width_names_layer_and_shapes():
    lin = Linear(3, 4)
    with pytest.raises(ValueError, match=re.escape("Linear(3->4): expected input of shape (N, 3), got (5, 2)")):
        lin(np.zeros((5, 2)))


def test_linear_single_example_gets_a_hint():
    with pytest.raises(ValueError, match=r"\(3,\).*reshape\(1, -1\)"):
        Linear(3, 4)(np.zeros(3))


def test_linear_wrong_upstream_shape_names_layer_and_shapes():
    lin = Linear(3, 4)
    lin(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=re.escape("Linear(3->4).backward") + r".*\(5, 4\).*got \(5, 3\)"):
        lin.backward(np.zeros((5, 3)))


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_wrong_upstream_shape(name):
    layer = bp.nn.make_activation(name)
    layer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=rf"{type(layer).__name__}\.backward.*\(2, 3\).*got \(3, 2\)"):
        layer.backward(np.zeros((3, 2)))


def test_mlp_errors_name_the_offending_layer():
    net = MLP([2, 16, 16, 1])
    with pytest.raises(ValueError, match=re.escape("Linear1(2->16): expected input of shape (N, 2), got (4, 3)")):
        net(np.zeros((4, 3)))
    net(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=re.escape("Linear3(16->1).backward") + r".*\(4, 1\).*got \(4, 2\)"):
        net.backward(np.zeros((4, 2)))


@pytest.mark.parametrize("module", [Linear(2, 3), Sigmoid(), Tanh(), ReLU(), LeakyReLU(), Identity(), MLP([2, 3, 1])],
                         ids=lambda m: type(m).__name__)
def test_backward_before_forward(module):
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward\\(\\)"):
        module.backward(np.zeros((1, 1)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("module", [Linear(2, 3), MLP([2, 3, 1]), Sequential(Linear(2, 2), Tanh())],
                         ids=["Linear", "MLP", "Sequential"])
def test_non_finite_input_to_layers(module, bad):
    X = np.ones((3, 2))
    X[1, 0] = bad
    with pytest.raises(ValueError, match=r"Linear.*1 non-finite value"):
        module(X)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_non_finite_input_to_activation_layers(name):
    with pytest.raises(ValueError, match="non-finite"):
        bp.nn.make_activation(name)(np.array([[0.0, np.nan]]))


@pytest.mark.parametrize("sizes", [[2], [], [2, 0, 1], [2, -1], [2, 1.5, 1], [2, True, 1], 3, "2,3", (2, 3.0)])
def test_mlp_invalid_sizes(sizes):
    with pytest.raises(ValueError, match="MLP: sizes must be a list of at least two positive integers"):
        MLP(sizes)


def test_mlp_sizes_none():
    with pytest.raises(ValueError, match="MLP: sizes must be a list"):
        MLP(None)


@pytest.mark.parametrize("n_in,n_out", [(0, 3), (3, 0), (2.0, 3), (True, 3), (-1, 2)])
def test_linear_invalid_sizes(n_in, n_out):
    with pytest.raises(ValueError, match=r"Linear: n_(in|out) must be a positive integer"):
        Linear(n_in, n_out)


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="Sequential: item 1 is a ufunc, not a bpcourse Module"):
        Sequential(Linear(2, 2), np.tanh)


@pytest.mark.parametrize("bad", ["softmax", "ReLU", "", None])
def test_unknown_activation_lists_valid_names(bad):
    for make in (lambda: MLP([2, 3, 1], activation=bad), lambda: bp.nn.make_activation(bad),
                 lambda: MLP([2, 3, 1], output_activation="bogus")):
        with pytest.raises(ValueError) as info:
            make()
        assert all(name in str(info.value) for name in ACTIVATION_NAMES)


def test_unknown_init_lists_valid_names():
    for make in (lambda: MLP([2, 3, 1], init="kaiming"), lambda: Linear(2, 3, init="kaiming")):
        with pytest.raises(ValueError, match="unknown init 'kaiming'; valid: .*xavier.*he"):
            make()


# ---- reproducibility -----------------------------------------------------------------------

def _weights(net):
    return [p.data for p in net.parameters()]


def test_same_seed_same_weights_and_outputs(rng):
    X = rng.normal(size=(6, 3))
    a, b = MLP([3, 8, 2], seed=42), MLP([3, 8, 2], seed=42)
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a(X), b(X))
    np.testing.assert_array_equal(_weights(MLP([3, 8, 2]))[0], _weights(MLP([3, 8, 2]))[0])  # default seed


def test_different_seeds_differ(rng):
    X = rng.normal(size=(6, 3))
    a, b = MLP([3, 8, 2], seed=1), MLP([3, 8, 2], seed=2)
    assert all(not np.array_equal(wa, wb) for wa, wb in zip(_weights(a)[::2], _weights(b)[::2]))
    assert not np.allclose(a(X), b(X))


def test_generator_as_seed():
    a = MLP([3, 8, 2], seed=np.random.default_rng(5))
    b = MLP([3, 8, 2], seed=np.random.default_rng(5))
    np.testing.assert_array_equal(_weights(a)[0], _weights(b)[0])
    g = np.random.default_rng(5)
    first, second = Linear(3, 3, seed=g), Linear(3, 3, seed=g)          # a Generator is advanced
    assert not np.array_equal(first.W.data, second.W.data)
    np.testing.assert_array_equal(first.W.data, Linear(3, 3, seed=np.random.default_rng(5)).W.data)


def test_layers_of_one_mlp_differ():
    net = MLP([4, 4, 4, 4], seed=0)
    W1, W2, W3 = (l.W.data for l in net.linear_layers())
    assert not np.array_equal(W1, W2) and not np.array_equal(W2, W3)


def test_float32_dtype_is_kept():
    net = MLP([3, 4, 2], dtype=np.float32)
    assert all(p.data.dtype == np.float32 and p.grad.dtype == np.float32 for p in net.parameters())


def test_backward_without_input_grad_gives_the_same_parameter_gradients():
    net = bp.nn.MLP([5, 4, 3], activation="sigmoid", seed=0)
    X = np.random.default_rng(0).standard_normal((7, 5))
    G = np.random.default_rng(1).standard_normal((7, 3))
    net(X)
    dX = net.backward(G)
    full = [p.grad.copy() for p in net.parameters()]
    net.zero_grad()
    net(X)
    assert net.backward(G, input_grad=False) is None
    for a, b in zip(full, net.parameters()):
        assert np.array_equal(a, b.grad)
    assert dX.shape == X.shape



class _AskedConv(bp.nn.Conv2d):
    """A Conv2d that records the input_grad its backward was called with."""

    asked = None

    def backward(self, delta, input_grad=True):
        self.asked = input_grad
        return super().backward(delta, input_grad=input_grad)


@pytest.mark.parametrize("first", ["conv", "nested", "layernorm"])
def test_sequential_input_grad_false_reaches_any_first_layer(first):
    """The first layer skips dL/dX whenever its backward takes input_grad (a Conv2d, not only a Linear);
    one that does not (LayerNorm) is still called for its parameters, and the result is None either way."""
    rng = np.random.default_rng(2)
    conv = _AskedConv(1, 2, 3, padding=1, seed=0)
    tail = [bp.nn.Tanh(), bp.nn.Flatten(), Linear(2 * 4 * 4, 3, seed=1)]
    if first == "conv":
        net, X = Sequential(conv, *tail), rng.standard_normal((5, 1, 4, 4))
    elif first == "nested":
        net, X = Sequential(Sequential(conv, bp.nn.Tanh()), *tail[1:]), rng.standard_normal((5, 1, 4, 4))
    else:
        net, X = Sequential(bp.nn.LayerNorm(6), Linear(6, 3, seed=1)), rng.standard_normal((5, 6))
    G = rng.standard_normal((5, 3))
    net(X)
    dX = net.backward(G)
    full = [p.grad.copy() for p in net.parameters()]
    assert dX.shape == X.shape
    net.zero_grad()
    net(X)
    assert net.backward(G, input_grad=False) is None
    assert conv.asked is (None if first == "layernorm" else False)
    assert bp.module.takes_input_grad(net[0]) is (first != "layernorm")
    for a, b in zip(full, net.parameters()):
        assert np.array_equal(a, b.grad)

def test_zero_grad_is_lazy_but_always_reads_as_zero():
    lin = Linear(3, 2, seed=0)
    X = np.random.default_rng(0).standard_normal((4, 3))
    G = np.ones((4, 2))
    lin(X)
    lin.backward(G)
    once = lin.W.grad.copy()
    lin.zero_grad()
    assert not lin.W.grad.any() and not lin.b.grad.any()       # reading zeroes a stale gradient
    lin.zero_grad()
    lin.W.grad += 1.0                                            # touched in place before backward
    lin(X)
    lin.backward(G)
    assert np.allclose(lin.W.grad, once + 1.0)                  # ... so backward accumulates onto it
    lin.zero_grad()
    lin(X)
    lin.backward(G)                                              # untouched: backward writes in place
    assert np.array_equal(lin.W.grad, once)
    lin.backward(G)                                              # a second backward accumulates
    assert np.allclose(lin.W.grad, 2 * once)


def test_grad_setter_checks_the_shape():
    lin = Linear(3, 2)
    with pytest.raises(ValueError, match=r"grad must have shape \(2, 3\)"):
        lin.W.grad = np.zeros((3, 2))


def test_sigmoid_layer_matches_the_two_branch_sigmoid_without_warnings():
    Z = np.concatenate([np.linspace(-750, 750, 30001), [-1e4, 1e4, 0.0]]).reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            A = Sigmoid()(Z)
    ref = bp.activations.sigmoid(Z)
    assert np.all(np.isfinite(A)) and A.min() >= 0 and A.max() <= 1
    big = ref > 1e-300
    assert np.max(np.abs(A[big] - ref[big]) / ref[big]) < 1e-14
    assert np.max(np.abs(A - ref)) < 1e-300 or np.allclose(A, ref, rtol=1e-14, atol=1e-300)


def test_nn_is_a_plain_re_export():
    """bp.nn re-exports every layer eagerly: no module __getattr__, the same objects as their home."""
    import bpcourse.nn as nn
    assert not hasattr(nn, "__getattr__")
    assert nn.Parameter is bp.module.Parameter and nn.Module is bp.module.Module
    assert nn.Linear is bp.dense.Linear and nn.BatchNorm is bp.layers.BatchNorm and nn.RNN is bp.rnn.RNN
    for name in nn.__all__:
        assert getattr(nn, name) is not None, name
    assert {"BatchNorm", "Dropout", "RNN"} <= set(dir(nn))


def test_linear_backward_accumulates_like_two_separate_calls(rng):
    """BP3/BP4 through Parameter.accumulate: a second backward adds, right after zero_grad it writes."""
    lin = Linear(4, 3, seed=0)
    X, G = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    lin(X)
    lin.zero_grad()
    lin.backward(G)
    np.testing.assert_array_equal(lin.W.grad, G.T @ X)
    np.testing.assert_array_equal(lin.b.grad, G.sum(0))
    lin.backward(G)
    np.testing.assert_array_equal(lin.W.grad, 2 * (G.T @ X))
    np.testing.assert_array_equal(lin.b.grad, 2 * G.sum(0))
