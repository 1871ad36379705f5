"""Checks for exercise 5: softmax and cross-entropy, stable, and their gradient.

Values are compared with the engine's log-sum-exp softmax and ``SoftmaxCrossEntropy`` on
logits that include ±1000; the gradient with central differences of the engine's loss (and,
for the extreme logits, where differences lose precision, with the engine's backward).
"""
from __future__ import annotations

import numpy as np

from ..activations import softmax
from ..losses import SoftmaxCrossEntropy
from ._core import Exercise, Question, arr, close, get_arr, get_num, num, numeric_grad

__all__ = ["q1", "q2", "q3", "hint", "solution", "EXERCISE"]


def _cases(rng, extreme=True):
    shapes = [(1, 3), (4, 5), (6, 2), (3, 10)]
    return [{"seed": int(rng.integers(2**31)), "N": n, "C": c, "extreme": extreme and i == 1}
            for i, (n, c) in enumerate(shapes)]


def _inputs(case):
    rng = np.random.default_rng(case["seed"])
    N, C = case["N"], case["C"]
    Z = 3.0 * rng.standard_normal((N, C))
    y = rng.integers(0, C, size=N)
    if case["extreme"]:                       # rows a naive exp overflows on
        Z[0, :] = 1000.0 + np.arange(C)
        Z[1, :] = -1000.0
        Z[2, :] = 0.0
        Z[2, y[2]] = -1000.0
        Z[2, (y[2] + 1) % C] = 1000.0
    return {"Z": Z, "y": y}


def _loss(Z, y):
    return SoftmaxCrossEntropy()(Z, y)


class Softmax(Question):
    name, funcs, points = "q1", ("softmax",), 1
    hints = ("softmax works row by row: each row of Z gives one probability vector that sums to 1.",
             "e^{1000} overflows. Subtracting the same number from every logit of a row does not change "
             "softmax — which number makes the largest exponent e^0?",
             "Subtract each row's maximum (keepdims=True so shapes broadcast), then exponentiate and "
             "divide by the row sum.")

    def cases(self, rng):
        return _cases(rng)

    def inputs(self, case):
        return {"Z": _inputs(case)["Z"]}

    def call(self, inputs, softmax_fn):
        return {"P": arr(softmax_fn(inputs["Z"]), "softmax(Z)")}

    def judge(self, case, inputs, out):
        Z = inputs["Z"]
        close(get_arr(out, "P", Z.shape, "softmax(Z)"), softmax(Z, axis=1), "softmax(Z)", rtol=1e-7, atol=1e-12)


class CrossEntropy(Question):
    name, funcs, points = "q2", ("cross_entropy",), 2
    hints = ("The loss of one example is −log p[y], where p = softmax(z); return the mean over the batch.",
             "log(softmax) of a tiny probability underflows to log(0) = −inf. Work with log-softmax "
             "directly: log p_k = z_k − log Σ_j e^{z_j}.",
             "log Σ_j e^{z_j} = m + log Σ_j e^{z_j − m} with m the row maximum; pick each row's entry "
             "with Z[np.arange(N), y].")

    def cases(self, rng):
        return _cases(rng)

    def inputs(self, case):
        return _inputs(case)

    def call(self, inputs, cross_entropy):
        return {"L": num(cross_entropy(inputs["Z"], inputs["y"]), "the loss")}

    def judge(self, case, inputs, out):
        close(get_num(out, "L", "the loss"), _loss(inputs["Z"], inputs["y"]), "the loss", rtol=1e-9, atol=1e-12)


class CrossEntropyBackward(Question):
    name, funcs, points = "q3", ("cross_entropy_backward",), 2
    hints = ("Differentiate the loss of one example with respect to its logits: you should get "
             "p − onehot(y).",
             "The loss is a MEAN over the batch, so every row of the gradient is divided by N.",
             "Start from softmax(Z) (stable), subtract 1 at each row's label, divide by N.")

    def cases(self, rng):
        return _cases(rng)

    def inputs(self, case):
        return _inputs(case)

    def call(self, inputs, cross_entropy_backward):
        return {"dZ": arr(cross_entropy_backward(inputs["Z"], inputs["y"]), "dZ")}

    def judge(self, case, inputs, out):
        Z, y = inputs["Z"], inputs["y"]
        dZ = get_arr(out, "dZ", Z.shape)
        if case["extreme"]:
            loss = SoftmaxCrossEntropy()
            loss(Z, y)
            expected = loss.backward()
        else:
            expected = numeric_grad(lambda Z_: _loss(Z_, y), Z)
        close(dZ, expected, "dZ", rtol=1e-6, atol=1e-8)     # central differences: ~1e-9 of rounding noise


q1, q2, q3 = Softmax(), CrossEntropy(), CrossEntropyBackward()
EXERCISE = Exercise("ex05", "Softmax and cross-entropy, stable", "ex05_softmax_cross_entropy.ipynb",
                    "05_losses.ipynb", [q1, q2, q3])
hint, solution = EXERCISE.hint, EXERCISE.solution
