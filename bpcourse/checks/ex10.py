"""Checks for exercise 10 (formerly 9): batch normalisation's backward pass, by hand.

The forward pass is compared with the engine's ``bp.nn.BatchNorm`` in training mode; the
learner's dgamma, dbeta and dX with central differences of that forward pass, on batches that
include a constant column (variance 0, where eps matters).
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ._core import Exercise, Question, arr, close, get_arr, numeric_grad, unpack

__all__ = ["q1", "q2", "q3", "hint", "solution", "EXERCISE"]

EPS = 1e-5


def _reference(X, gamma, beta, eps=EPS):
    """Y of the engine's BatchNorm (training mode, batch statistics) with this gamma and beta."""
    layer = nn.BatchNorm(X.shape[1], eps=eps)
    layer.gamma.data[...] = gamma
    layer.beta.data[...] = beta
    return layer.forward(X)


def _cases(rng):
    shapes = [(4, 3), (2, 1), (7, 5), (5, 2)]
    return [{"seed": int(rng.integers(2**31)), "N": n, "D": d, "constant_column": i == 2}
            for i, (n, d) in enumerate(shapes)]


def _inputs(case):
    rng = np.random.default_rng(case["seed"])
    N, D = case["N"], case["D"]
    X = 2.0 * rng.standard_normal((N, D)) + rng.standard_normal(D)
    if case["constant_column"]:
        X[:, 0] = 1.5
    return {"X": X, "gamma": 1.0 + 0.5 * rng.standard_normal(D), "beta": rng.standard_normal(D),
            "dY": rng.standard_normal((N, D))}


class Forward(Question):
    name, funcs, points = "q1", ("batchnorm_forward",), 1
    hints = ("Statistics are per feature (column), over the batch (axis 0).",
             "The variance is the biased one (divide by N, as np.var does); eps goes inside the square root.",
             "Keep in the cache whatever backward will need: at least X̂ and 1/sqrt(var + eps), and gamma.")

    def cases(self, rng):
        return _cases(rng)

    def inputs(self, case):
        inp = _inputs(case)
        del inp["dY"]
        return inp

    def call(self, inputs, batchnorm_forward):
        Y, _ = unpack(batchnorm_forward(inputs["X"], inputs["gamma"], inputs["beta"], EPS), ("Y", "cache"),
                      "batchnorm_forward")
        return {"Y": arr(Y, "Y")}

    def judge(self, case, inputs, out):
        X = inputs["X"]
        close(get_arr(out, "Y", X.shape), _reference(X, inputs["gamma"], inputs["beta"]), "Y",
              rtol=1e-7, atol=1e-9)


class Backward(Question):
    funcs = ("batchnorm_forward", "batchnorm_backward")
    graded = ("dX", "dgamma", "dbeta")     # which of the three returned gradients this question reads

    def cases(self, rng):
        return _cases(rng)

    def inputs(self, case):
        return _inputs(case)

    def call(self, inputs, batchnorm_forward, batchnorm_backward):
        _, cache = unpack(batchnorm_forward(inputs["X"], inputs["gamma"], inputs["beta"], EPS), ("Y", "cache"),
                          "batchnorm_forward")
        names = ("dX", "dgamma", "dbeta")
        grads = unpack(batchnorm_backward(inputs["dY"], cache), names, "batchnorm_backward")
        return {k: arr(v, k) for k, v in zip(names, grads) if k in self.graded}

    def numeric(self, inputs):
        X, gamma, beta, dY = inputs["X"], inputs["gamma"], inputs["beta"], inputs["dY"]
        L = lambda X_, g_, b_: float(np.sum(dY * _reference(X_, g_, b_)))
        return {"dX": lambda: numeric_grad(lambda v: L(v, gamma, beta), X),
                "dgamma": lambda: numeric_grad(lambda v: L(X, v, beta), gamma),
                "dbeta": lambda: numeric_grad(lambda v: L(X, gamma, v), beta)}


class ParamGrads(Backward):
    name, points = "q2", 2
    title = "batchnorm_backward: dgamma, dbeta"
    graded = ("dgamma", "dbeta")            # dX may still be a placeholder (question 3)
    hints = ("Y = gamma ⊙ X̂ + beta, column by column, for every example of the batch.",
             "Sum over the batch: every example contributes to the same gamma and beta.",
             "dbeta is the column sum of dY; dgamma the column sum of dY ⊙ X̂.")

    def judge(self, case, inputs, out):
        numeric = self.numeric(inputs)
        for k, shape in (("dgamma", inputs["gamma"].shape), ("dbeta", inputs["beta"].shape)):
            close(get_arr(out, k, shape), numeric[k](), k, rtol=1e-6, atol=1e-8)


class InputGrad(Backward):
    name, points = "q3", 4
    title = "batchnorm_backward: dX"
    hints = ("Every X[i, j] influences its own X̂[i, j] directly AND every X̂[k, j] of its column "
             "through the mean and the variance.",
             "Chain through three paths: X̂ directly, μ, and σ². Work out dL/dX̂ = dY ⊙ gamma first, then "
             "dL/dσ² and dL/dμ as column sums.",
             "The three paths collapse to (1/N)·(1/√(σ² + ε))·(N·dX̂ − Σ dX̂ − X̂ ⊙ Σ(dX̂ ⊙ X̂)), sums over the batch "
             "(Ioffe & Szegedy 2015).")

    def judge(self, case, inputs, out):
        close(get_arr(out, "dX", inputs["X"].shape), self.numeric(inputs)["dX"](), "dX", rtol=1e-5, atol=1e-7)


q1, q2, q3 = Forward(), ParamGrads(), InputGrad()
EXERCISE = Exercise("ex10", "Batch normalisation backward, by hand", "ex10_remedies.ipynb",
                    "10_remedies.ipynb",
                    [q1, q2, q3])
hint, solution = EXERCISE.hint, EXERCISE.solution
