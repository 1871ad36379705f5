"""Checks for exercise 3: activations forward and backward (stable sigmoid, tanh, relu).

Forward passes are compared with the engine's stable activations, on inputs that include
±1000 (where naive formulas overflow); backward passes with central differences of the
forward, element by element, except at relu's kink where the course's convention relu'(0) = 0
is required.
"""
from __future__ import annotations

import numpy as np

from .. import activations as act
from ._core import BadReturn, Exercise, Question, Wrong, arr, close, get_arr

__all__ = ["q1", "q2", "q3", "q4", "q5", "hint", "solution", "EXERCISE"]

H = 1e-6
EXTREMES = np.array([-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0])


def _shape_cases(rng, n=4):
    shapes = [(7,), (2, 3), (4, 1), (3, 2, 2)][:n]
    return [{"seed": int(rng.integers(2**31)), "shape": list(s)} for s in shapes]


def _z(case):
    """Random pre-activations of the case's shape, with some of ±1000, ±40, ±1, 0 mixed in."""
    rng = np.random.default_rng(case["seed"])
    Z = 3.0 * rng.standard_normal(case["shape"])
    flat = Z.reshape(-1)
    k = min(flat.size, EXTREMES.size)
    flat[:k] = EXTREMES[rng.permutation(EXTREMES.size)[:k]]
    return Z


def _elementwise_derivative(f, Z):
    return (f(Z + H) - f(Z - H)) / (2 * H)


class Sigmoid(Question):
    name, funcs, points = "q1", ("sigmoid",), 1
    hints = ("σ(z) = 1 / (1 + e^{−z}). Try it at z = −1000: what does numpy say about e^{1000}?",
             "Use two formulas: 1/(1 + e^{−z}) where z ≥ 0, and e^{z}/(1 + e^{z}) where z < 0 — "
             "then exp only ever sees a number ≤ 0.",
             "np.exp(-np.abs(Z)) is safe for every z; build both branches from it and pick with np.where.")

    def cases(self, rng):
        return _shape_cases(rng)

    def inputs(self, case):
        return {"Z": _z(case)}

    def call(self, inputs, sigmoid):
        try:
            with np.errstate(over="raise", invalid="raise"):     # "stable" means: no overflow on the way
                A = sigmoid(inputs["Z"])
        except FloatingPointError as e:
            raise BadReturn(f"sigmoid overflowed on the way ({e}): e^1000 is inf in floating point, "
                            "even where the result then looks right. Let exp see only numbers <= 0: build both branches from np.exp(-np.abs(Z)) "  # noqa: E501
                            "(np.where alone still computes both branches for every element)") from None
        return {"A": arr(A, "sigmoid(Z)")}

    def judge(self, case, inputs, out):
        Z = inputs["Z"]
        close(get_arr(out, "A", Z.shape, "sigmoid(Z)"), act.sigmoid(Z), "sigmoid(Z)", rtol=1e-7, atol=1e-12)


class Backward(Question):
    """dZ = dA ⊙ f'(Z), checked against central differences of the engine's f."""

    forward = staticmethod(act.sigmoid)

    def cases(self, rng):
        return _shape_cases(rng)

    def inputs(self, case):
        Z = _z(case)
        dA = np.random.default_rng(case["seed"] + 1).standard_normal(Z.shape)
        return {"dA": dA, "Z": Z}

    def call(self, inputs, backward):
        return {"dZ": arr(backward(inputs["dA"], inputs["Z"]), "dZ")}

    def expected(self, dA, Z):
        return dA * _elementwise_derivative(self.forward, Z)

    def judge(self, case, inputs, out):
        dA, Z = inputs["dA"], inputs["Z"]
        close(get_arr(out, "dZ", Z.shape), self.expected(dA, Z), "dZ", rtol=1e-6, atol=1e-9)


class SigmoidBackward(Backward):
    name, funcs, points = "q2", ("sigmoid_backward",), 1
    hints = ("The chain rule for an element-wise function is an element-wise product: dZ = dA ⊙ σ'(Z).",
             "σ'(z) = σ(z)(1 − σ(z)); compute σ with your stable sigmoid.",
             "Return a new array; do not multiply dA in place.")


class TanhBackward(Backward):
    name, funcs, points = "q3", ("tanh_backward",), 1
    forward = staticmethod(act.tanh)
    hints = ("dZ = dA ⊙ tanh'(Z).",
             "tanh'(z) = 1 − tanh²(z); np.tanh is already stable.",
             "Compute T = np.tanh(Z) once and use it.")


class Relu(Question):
    name, funcs, points = "q4", ("relu", "relu_backward"), 2
    hints = ("relu(z) = max(z, 0) element-wise (np.maximum, not Python's max).",
             "relu'(z) is 1 where z > 0 and 0 elsewhere — including z = 0 exactly (the course's convention).",
             "A boolean mask (Z > 0) multiplies like 0/1; dZ = dA times that mask.")

    def cases(self, rng):
        return _shape_cases(rng)

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        Z = rng.standard_normal(case["shape"])
        Z[np.abs(Z) < 0.01] = 0.5                     # no entry near the kink except exact zeros
        Z.reshape(-1)[::3] = 0.0                      # exact zeros: relu'(0) = 0
        return {"dA": rng.standard_normal(Z.shape), "Z": Z}

    def call(self, inputs, relu, relu_backward):
        return {"A": arr(relu(inputs["Z"]), "relu(Z)"),
                "dZ": arr(relu_backward(inputs["dA"], inputs["Z"]), "dZ")}

    def judge(self, case, inputs, out):
        dA, Z = inputs["dA"], inputs["Z"]
        close(get_arr(out, "A", Z.shape, "relu(Z)"), act.relu(Z), "relu(Z)", rtol=0, atol=0)
        dZ = get_arr(out, "dZ", Z.shape)
        at_zero = Z == 0
        if np.any(dZ[at_zero] != 0):
            raise Wrong("dZ is not 0 where Z == 0; the course's convention is relu'(0) = 0 (use Z > 0)")
        expected = np.where(at_zero, 0.0, dA * _elementwise_derivative(act.relu, Z))
        close(dZ, expected, "dZ", rtol=1e-6, atol=1e-9)


class LogSigmoid(Question):
    name, funcs, points = "q5", ("log_sigmoid",), 2
    hints = ("np.log(sigmoid(z)) is −inf at z = −1000, but log σ(−1000) is just about −1000.",
             "log σ(z) = −log(1 + e^{−z}). For z < 0 rewrite it as z − log(1 + e^{z}).",
             "Both branches in one: log σ(z) = min(z, 0) − log1p(e^{−|z|}).")

    def cases(self, rng):
        return _shape_cases(rng)

    def inputs(self, case):
        return {"Z": _z(case)}

    def call(self, inputs, log_sigmoid):
        return {"L": arr(log_sigmoid(inputs["Z"]), "log_sigmoid(Z)")}

    def judge(self, case, inputs, out):
        Z = inputs["Z"]
        # log σ(z) = log softmax([z, 0])[0]: the engine's log-sum-exp, applied to pairs
        expected = act.log_softmax(np.stack([Z, np.zeros_like(Z)], axis=-1), axis=-1)[..., 0]
        close(get_arr(out, "L", Z.shape, "log_sigmoid(Z)"), expected, "log_sigmoid(Z)", rtol=1e-9, atol=1e-12)


q1, q2, q3, q4, q5 = Sigmoid(), SigmoidBackward(), TanhBackward(), Relu(), LogSigmoid()
EXERCISE = Exercise("ex03", "Activations, forward and backward", "ex03_activations.ipynb",
                    "04_matrix_backprop.ipynb", [q1, q2, q3, q4, q5])
hint, solution = EXERCISE.hint, EXERCISE.solution
