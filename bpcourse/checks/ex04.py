"""Checks for exercise 4: a linear layer's batched forward and backward (BP2–BP4).

    from bpcourse.checks import ex04 as check
    check.q2(linear_backward)

Backward passes are compared with central differences of the engine's forward pass.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..activations import sigmoid
from ._core import Exercise, Question, arr, close, get_arr, numeric_grad, unpack

__all__ = ["q1", "q2", "q3", "q4", "hint", "solution", "EXERCISE"]


def _shapes(rng, n):
    """``n`` random (N, n_in, n_out), always including a single example and a single output."""
    out = [(1, 3, 2), (4, 1, 1)]
    while len(out) < n:
        out.append(tuple(int(v) for v in rng.integers(1, 6, size=3)))
    return [{"seed": int(rng.integers(2**31)), "N": N, "n_in": i, "n_out": o} for N, i, o in out]


def _linear(W, b):
    """The engine's Linear layer holding the given W (n_out, n_in) and b (n_out,)."""
    layer = nn.Linear(W.shape[1], W.shape[0])
    layer.W.data[...] = W
    layer.b.data[...] = b
    return layer


class LinearForward(Question):
    name, funcs, points = "q1", ("linear_forward",), 1
    hints = ("Each row of X is one example; each row of W holds one output neuron's weights.",
             "Shapes: X (N, n_in), W (n_out, n_in), Z must be (N, n_out). Which product of X and W "
             "gives that shape?",
             "A product of X with the transpose of W, then b added to every row (numpy broadcasting does that).")

    def cases(self, rng):
        return [{"known": True}] + _shapes(rng, 4)

    def inputs(self, case):
        if case.get("known"):
            return {"X": np.array([[1.0, 2.0]]), "W": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
                    "b": np.array([0.5, -0.5, 0.0])}
        rng = np.random.default_rng(case["seed"])
        N, i, o = case["N"], case["n_in"], case["n_out"]
        return {"X": rng.standard_normal((N, i)), "W": rng.standard_normal((o, i)), "b": rng.standard_normal(o)}

    def call(self, inputs, linear_forward):
        return {"Z": arr(linear_forward(inputs["X"], inputs["W"], inputs["b"]), "Z")}

    def judge(self, case, inputs, out):
        X, W, b = inputs["X"], inputs["W"], inputs["b"]
        expected = _linear(W, b).forward(X)
        close(get_arr(out, "Z", expected.shape), expected, "Z")


class LinearBackward(Question):
    name, funcs, points = "q2", ("linear_backward",), 2
    hints = ("Write the loss as C = Σ delta ⊙ Z with Z = X Wᵀ + b and differentiate one entry at a "
             "time: ∂Z[n, j]/∂W[j, k] = X[n, k].",
             "Each gradient has the shape of what it differentiates: dX like X, dW like W (n_out, n_in), "
             "db like b. Sum over the examples (rows) for dW and db.",
             "BP3 adds up the rows of delta. BP4 adds up one outer product δₙ xₙᵀ per example, which is a "
             "single matrix product of delta transposed with X. dX sends delta back down through W.")

    def cases(self, rng):
        return _shapes(rng, 5)

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        N, i, o = case["N"], case["n_in"], case["n_out"]
        return {"delta": rng.standard_normal((N, o)), "X": rng.standard_normal((N, i)),
                "W": rng.standard_normal((o, i))}

    def call(self, inputs, linear_backward):
        dX, dW, db = unpack(linear_backward(inputs["delta"], inputs["X"], inputs["W"]),
                            ("dX", "dW", "db"), "linear_backward")
        return {"dX": arr(dX, "dX"), "dW": arr(dW, "dW"), "db": arr(db, "db")}

    def judge(self, case, inputs, out):
        delta, X, W = inputs["delta"], inputs["X"], inputs["W"]
        b = np.zeros(W.shape[0])
        loss = lambda X_, W_, b_: float(np.sum(delta * _linear(W_, b_).forward(X_)))
        got = {k: get_arr(out, k, v.shape) for k, v in (("dX", X), ("dW", W), ("db", b))}
        close(got["dW"], numeric_grad(lambda W_: loss(X, W_, b), W), "dW")
        close(got["db"], numeric_grad(lambda b_: loss(X, W, b_), b), "db")
        close(got["dX"], numeric_grad(lambda X_: loss(X_, W, b), X), "dX")


class BackpropDelta(Question):
    name, funcs, points = "q3", ("backprop_delta",), 2
    hints = ("The layer below computed A = sigmoid(Z); the layer above sent delta_next = ∂C/∂Z_next "
             "with Z_next = A @ W_next.T + b_next.",
             "Two steps of the chain rule: first ∂C/∂A (how does Z_next depend on A?), then through the "
             "element-wise sigmoid, which multiplies entry by entry.",
             "BP2 for a batch: first carry delta_next back through W_next (a matrix product), then multiply "
             "entry by entry by σ'(Z) = σ(Z)(1 − σ(Z)).")

    def cases(self, rng):
        return _shapes(rng, 5)

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        N, i, o = case["N"], case["n_in"], case["n_out"]
        return {"delta_next": rng.standard_normal((N, o)), "W_next": rng.standard_normal((o, i)),
                "Z": 2.0 * rng.standard_normal((N, i))}

    def call(self, inputs, backprop_delta):
        return {"delta": arr(backprop_delta(inputs["delta_next"], inputs["W_next"], inputs["Z"]), "delta")}

    def judge(self, case, inputs, out):
        G, W, Z = inputs["delta_next"], inputs["W_next"], inputs["Z"]
        layer = _linear(W, np.zeros(W.shape[0]))
        expected = numeric_grad(lambda Z_: float(np.sum(G * layer.forward(sigmoid(Z_)))), Z)
        close(get_arr(out, "delta", Z.shape), expected, "delta")


class TwoLayerBackward(Question):
    name, funcs, points = "q4", ("two_layer_backward",), 3
    hints = ("Run the forward pass again inside the function and keep Z1 and A1: backward needs them.",
             "Go from the output down: the last layer is linear (use your linear_backward), then BP2 "
             "through the sigmoid (your backprop_delta), then the first layer.",
             "The output layer's delta is dY itself; its inputs were A1. The hidden layer's delta comes from "
             "BP2 with W2 and Z1; its inputs were X.")

    def cases(self, rng):
        cases = []
        for N in (1, 3, 5, 4):
            cases.append({"seed": int(rng.integers(2**31)), "N": N, "n_in": int(rng.integers(1, 5)),
                          "n_hidden": int(rng.integers(1, 6)), "n_out": int(rng.integers(1, 4))})
        return cases

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        N, i, h, o = case["N"], case["n_in"], case["n_hidden"], case["n_out"]
        return {"X": rng.standard_normal((N, i)), "W1": rng.standard_normal((h, i)),
                "b1": rng.standard_normal(h), "W2": rng.standard_normal((o, h)), "b2": rng.standard_normal(o),
                "dY": rng.standard_normal((N, o))}

    def call(self, inputs, two_layer_backward):
        names = ("dW1", "db1", "dW2", "db2")
        result = two_layer_backward(*(inputs[k] for k in ("X", "W1", "b1", "W2", "b2", "dY")))
        return {k: arr(v, k) for k, v in zip(names, unpack(result, names, "two_layer_backward"))}

    def judge(self, case, inputs, out):
        X, dY = inputs["X"], inputs["dY"]
        params = {k: inputs[k] for k in ("W1", "b1", "W2", "b2")}

        def loss(name, value):
            p = dict(params, **{name: value})
            net = nn.Sequential(_linear(p["W1"], p["b1"]), nn.Sigmoid(), _linear(p["W2"], p["b2"]))
            return float(np.sum(dY * net.forward(X)))

        for name, value in params.items():
            close(get_arr(out, "d" + name, value.shape), numeric_grad(lambda v: loss(name, v), value), "d" + name)  # noqa: B023


q1, q2, q3, q4 = LinearForward(), LinearBackward(), BackpropDelta(), TwoLayerBackward()
EXERCISE = Exercise("ex04", "A linear layer, forward and backward", "ex04_linear_layer.ipynb",
                    "04_matrix_backprop.ipynb", [q1, q2, q3, q4])
hint, solution = EXERCISE.hint, EXERCISE.solution
