"""One catalogue of functions, layers and losses that drives many tests (as in minitorch).

Each entry knows how to build itself and which inputs keep it smooth, so one property test
per kind ("backward agrees with central differences") covers the whole catalogue:

* ``SCALAR_CASES``     — ``Value`` operations and small compositions, written once and
                         evaluated both on ``bp.Value`` and on plain floats;
* ``ACTIVATION_CASES`` — every name in ``bp.activations.ACTIVATIONS`` with its safe domain;
* ``LAYER_CASES``      — every layer kind, each activation layer, ``Sequential`` and an
                         ``MLP`` per activation;
* ``LOSS_CASES``       — every loss with a generator of (prediction, target) and the output
                         head an MLP needs in front of it.

It also holds the test suite's own central-difference gradient, written independently of
``bp.numerical_gradient`` so the package's checker is itself checked.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse import Value

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "identity", "gelu")
KINKED = ("relu", "leaky_relu")          # derivative jumps at 0: keep inputs away from it


# ---------------------------------------------------------------------------------------------
# the suite's own numerical gradient and relative error (independent of bp.gradcheck)
# ---------------------------------------------------------------------------------------------

def central_difference(f, x, h=1e-6):
    """dF/dx for a scalar function F(x) of an array x, one entry at a time.

    Unlike ``bp.numerical_gradient`` this never nudges ``x`` in place: every evaluation gets a
    fresh copy.  (f(x + h e_i) − f(x − h e_i)) / 2h, error O(h²).  x: any shape -> same shape.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (float(f(up)) - float(f(down))) / (2.0 * h)
    return grad


def sequences(seed, N, T, n_in, scale=1.0):
    """A batch of N standard-normal sequences (N, T, n_in), times ``scale``, for the recurrent layers."""
    return scale * np.random.default_rng([seed, 1]).standard_normal((N, T, n_in))


def linear_layer(W, b):
    """A ``bp.nn.Linear`` holding exactly the weights W (n_out, n_in) and bias b."""
    W = np.asarray(W, dtype=float)
    lin = bp.nn.Linear(W.shape[1], W.shape[0], seed=0)
    lin.W.data[...] = W
    lin.b.data[...] = b
    return lin


def rel_error(a, b):
    """‖a − b‖ / (‖a‖ + ‖b‖), and 0 when both are exactly zero."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if den == 0.0 else float(np.linalg.norm(a - b) / den)


def module_gradients_numeric(module, X, G, h=1e-6):
    """Central-difference gradients of L = Σ module(X) ⊙ G w.r.t. X and every Parameter.

    Returns ``{"input": dX, name: dP, ...}`` with the names of ``module.named_parameters()``.
    Parameters are swapped for perturbed copies (``p.data = ...``), never edited in place.
    """
    out = {"input": central_difference(lambda Xp: np.sum(module.forward(Xp) * G), X, h)}
    for name, p in module.named_parameters():
        original = p.data

        def L(P, p=p):
            p.data = P
            return np.sum(module.forward(X) * G)
        out[name] = central_difference(L, original, h)
        p.data = original
    return out


def module_gradients_analytic(module, X, G):
    """Gradients from the module's own backward for the same L = Σ module(X) ⊙ G."""
    module.zero_grad()
    module.forward(X)
    out = {"input": module.backward(G)}
    out.update({name: p.grad.copy() for name, p in module.named_parameters()})
    return out


# ---------------------------------------------------------------------------------------------
# scalar functions: one definition, evaluated on Value and on float
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Domain:
    """Inputs in [lo, hi]; with ``signed`` the magnitude is in [lo, hi] and the sign free."""
    lo: float
    hi: float
    signed: bool = False

    def strategy(self):
        base = st.floats(self.lo, self.hi, allow_nan=False, allow_infinity=False)
        return st.one_of(base, base.map(lambda v: -v)) if self.signed else base

    def sample(self, rng, shape):
        x = rng.uniform(self.lo, self.hi, shape)
        return x * rng.choice([-1.0, 1.0], shape) if self.signed else x


ANY = Domain(-3.0, 3.0)
SMALL = Domain(-1.0, 1.0)
POS = Domain(0.2, 3.0)
AWAY0 = Domain(0.2, 3.0, signed=True)     # |x| >= 0.2: no kink, no division by ~0


def exp(x):
    return x.exp() if isinstance(x, Value) else math.exp(x)


def log(x):
    return x.log() if isinstance(x, Value) else math.log(x)


def tanh(x):
    return x.tanh() if isinstance(x, Value) else math.tanh(x)


def sigmoid(x):
    return x.sigmoid() if isinstance(x, Value) else 1.0 / (1.0 + math.exp(-x))


def relu(x):
    return x.relu() if isinstance(x, Value) else max(x, 0.0)


@dataclass(frozen=True)
class ScalarCase:
    name: str
    fn: Callable
    domains: tuple

    @property
    def arity(self):
        return len(self.domains)


SCALAR_CASES = [
    # binary operators, Value op Value
    ScalarCase("add", lambda a, b: a + b, (ANY, ANY)),
    ScalarCase("sub", lambda a, b: a - b, (ANY, ANY)),
    ScalarCase("mul", lambda a, b: a * b, (AWAY0, AWAY0)),
    ScalarCase("div", lambda a, b: a / b, (AWAY0, AWAY0)),
    ScalarCase("pow_value_exponent", lambda a, b: a ** b, (POS, ANY)),
    # powers with a number exponent
    ScalarCase("pow_2", lambda a: a ** 2, (AWAY0,)),
    ScalarCase("pow_3", lambda a: a ** 3, (AWAY0,)),
    ScalarCase("pow_-1", lambda a: a ** -1, (AWAY0,)),
    ScalarCase("pow_0.5", lambda a: a ** 0.5, (POS,)),
    ScalarCase("pow_-1.5", lambda a: a ** -1.5, (POS,)),
    # unary minus and operators with a number on either side (reflected ops)
    ScalarCase("neg", lambda a: -a, (ANY,)),
    ScalarCase("add_number", lambda a: a + 2.5, (ANY,)),
    ScalarCase("radd", lambda a: 2.5 + a, (ANY,)),
    ScalarCase("sub_number", lambda a: a - 2.5, (ANY,)),
    ScalarCase("rsub", lambda a: 2.5 - a, (ANY,)),
    ScalarCase("mul_number", lambda a: a * -1.5, (ANY,)),
    ScalarCase("rmul", lambda a: -1.5 * a, (ANY,)),
    ScalarCase("div_number", lambda a: a / 4.0, (ANY,)),
    ScalarCase("rtruediv", lambda a: 2.0 / a, (AWAY0,)),
    ScalarCase("rpow", lambda a: 2.0 ** a, (ANY,)),
    # unary functions
    ScalarCase("exp", exp, (ANY,)),
    ScalarCase("log", log, (POS,)),
    ScalarCase("tanh", tanh, (ANY,)),
    ScalarCase("sigmoid", sigmoid, (Domain(-6.0, 6.0),)),
    ScalarCase("relu", relu, (AWAY0,)),
    # compositions: shared inputs (gradients sum over paths), chains, the contract expression (test_scalar.py)
    ScalarCase("a*a+a", lambda a: a * a + a, (POS,)),
    ScalarCase("(a*b)*(a+b)", lambda a, b: (a * b) * (a + b), (POS, POS)),
    ScalarCase("contract_3_1", lambda a, b: (a * b + tanh(a)) ** 2 / exp(b), (POS, POS)),
    ScalarCase("neuron", lambda x1, x2, w1, w2, b: tanh(x1 * w1 + x2 * w2 + b), (SMALL,) * 5),
    ScalarCase("softplus", lambda a: log(1.0 + exp(a)), (ANY,)),
    ScalarCase("sigmoid_chain", lambda a: sigmoid(exp(a) - 1.0) * relu(a + 5.0), (SMALL,)),
    ScalarCase("rational", lambda a, b: (a - b) / (a * a + b * b + 1.0) + 1.0 / b, (AWAY0, AWAY0)),
]


def value_gradients(case, xs):
    """Forward and backward through bp.Value: (output float, [d out / d x_i])."""
    leaves = [Value(x) for x in xs]
    out = case.fn(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


# ---------------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------------

ACTIVATION_CASES = {
    "sigmoid": Domain(-8.0, 8.0),
    "tanh": Domain(-4.0, 4.0),
    "relu": AWAY0,
    "leaky_relu": AWAY0,
    "identity": ANY,
    "gelu": ANY,
}


# ---------------------------------------------------------------------------------------------
# layers: build(n_in, n_out, rng) -> module; activation layers keep n_out = n_in
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerCase:
    name: str
    build: Callable
    same_width: bool = False            # output width equals input width (element-wise layers)
    kinked: bool = False                # has a kink at 0 somewhere inside
    input_domain: Domain = ANY


def _activation_case(name):
    layer_cls = bp.nn.ACTIVATION_LAYERS[name]
    return LayerCase(layer_cls.__name__, lambda n_in, n_out, rng, c=layer_cls: c(), same_width=True,
                     kinked=name in KINKED, input_domain=ACTIVATION_CASES[name])


def _mlp_case(activation):
    return LayerCase(f"MLP-{activation}",
                     lambda n_in, n_out, rng, a=activation: bp.nn.MLP([n_in, 4, 3, n_out], activation=a,
                                                                      seed=rng),
                     kinked=activation in KINKED)


LAYER_CASES = (
    [LayerCase("Linear", lambda n_in, n_out, rng: bp.nn.Linear(n_in, n_out, init="normal", seed=rng))]
    + [_activation_case(name) for name in ACTIVATION_NAMES]
    + [LayerCase("Sequential",
                 lambda n_in, n_out, rng: bp.nn.Sequential(bp.nn.Linear(n_in, 5, seed=rng), bp.nn.Tanh(),
                                                           bp.nn.Linear(5, n_out, seed=rng), bp.nn.Sigmoid()))]
    + [LayerCase("MLP-sigmoid-output",
                 lambda n_in, n_out, rng: bp.nn.MLP([n_in, 3, n_out], activation="tanh",
                                                    output_activation="sigmoid", seed=rng))]
    + [_mlp_case(a) for a in ACTIVATION_NAMES]
)


def kink_margin(module, X):
    """Smallest |z| entering any ReLU / LeakyReLU inside ``module`` on input X (inf if none)."""
    layers = module.layers if isinstance(module, bp.nn.Sequential) else [module]
    margin = np.inf
    for layer in layers:
        if isinstance(layer, (bp.nn.ReLU, bp.nn.LeakyReLU)):
            margin = min(margin, float(np.min(np.abs(X))))
        X = layer.forward(X)
    return margin


# ---------------------------------------------------------------------------------------------
# losses: make(rng, N, d) -> (prediction, target); head = what an MLP needs in front
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LossCase:
    name: str
    build: Callable
    make: Callable
    output_activation: str = "identity"
    n_out: Callable = field(default=lambda d: d)   # width of the prediction for a given d


def _mse(rng, N, d):
    return rng.normal(size=(N, d)), rng.normal(size=(N, d))


def _bce_probs(rng, N, d):
    P = rng.uniform(0.05, 0.95, (N, d))
    Y = np.where(rng.random((N, d)) < 0.5, rng.integers(0, 2, (N, d)), rng.random((N, d)))  # hard and soft
    return P, Y.astype(float)


def _bce_logits(rng, N, d):
    return 3.0 * rng.normal(size=(N, d)), rng.integers(0, 2, (N, d)).astype(float)


def _cross_entropy(rng, N, d):
    C = d + 1                                             # at least two classes
    return 2.0 * rng.normal(size=(N, C)), rng.integers(0, C, N)


def _cosine(rng, N, d):
    d = d + 1                                             # d = 1 makes cos = ±1, a flat function
    A = rng.normal(size=(N, d))
    A[np.linalg.norm(A, axis=1) < 0.3] += 0.5             # keep rows away from the zero vector
    return A, rng.normal(size=(N, d)) + 0.1


LOSS_CASES = [
    LossCase("MSE", bp.losses.MSE, _mse),
    LossCase("BCE", bp.losses.BCE, _bce_probs, output_activation="sigmoid"),
    LossCase("BCE-logits", lambda: bp.losses.BCE(from_logits=True), _bce_logits),
    LossCase("SoftmaxCrossEntropy", bp.losses.SoftmaxCrossEntropy, _cross_entropy, n_out=lambda d: d + 1),
    LossCase("CosineDistance", bp.losses.CosineDistance, _cosine, n_out=lambda d: d + 1),
]


def by_name(cases):
    """Pytest ids for a list of catalogue entries."""
    return [c.name for c in cases]
