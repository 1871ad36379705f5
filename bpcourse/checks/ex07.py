"""Checks for exercise 7: a central-difference gradient checker.

The learner's numerical gradient is compared with exact gradients of test functions the
checker defines (and, for a cubic, with the exact value of a central difference, which a
one-sided difference misses); the relative error with the engine's; the verdict function with
gradient pairs that are right or wrong by construction.
"""
from __future__ import annotations

import numpy as np

from ..activations import softmax
from ..gradcheck import relative_error
from ._core import BadReturn, Exercise, Question, Wrong, arr, close, get_arr, get_num, num

__all__ = ["q1", "q2", "q3", "hint", "solution", "EXERCISE", "FUNCTIONS"]


def _lse(x):
    m = np.max(x)
    return float(m + np.log(np.sum(np.exp(x - m))))


# name -> (f(x) -> float, its exact gradient)
FUNCTIONS = {
    "sum of squares": (lambda x: float(np.sum(x * x)), lambda x: 2.0 * x),
    "sum of x·sin(x)": (lambda x: float(np.sum(x * np.sin(x))), lambda x: np.sin(x) + x * np.cos(x)),
    "log-sum-exp": (_lse, lambda x: softmax(x.reshape(-1)).reshape(x.shape)),
    "sum of cubes": (lambda x: float(np.sum(x ** 3)), lambda x: 3.0 * x * x),
}
# gradients with a bug: (function name, wrong gradient)
BUGGY = {
    "sum of squares": lambda x: x,                                           # lost the factor 2
    "sum of x·sin(x)": lambda x: np.sin(x) + np.cos(x),                      # lost a factor x
    "log-sum-exp": lambda x: 1.001 * softmax(x.reshape(-1)).reshape(x.shape),  # 0.1 % too large
    "sum of cubes": lambda x: 3.0 * x * x + 1e-4,                            # a tiny offset
}


class NumericalGradient(Question):
    name, funcs, points = "q1", ("numerical_gradient",), 3
    hints = ("Nudge one entry of x at a time, by +h and by −h, and evaluate f both times.",
             "(f(x + h e_i) − f(x − h e_i)) / 2h for every index i; x.reshape(-1) (or np.ndindex(x.shape)) "
             "visits every entry of an array of any shape.",
             "Put each entry back after nudging it (or work on a copy): the caller's x must not change. "
             "Use the h you are given.")

    def cases(self, rng):
        shapes = {"sum of squares": (3,), "sum of x·sin(x)": (2, 3), "log-sum-exp": (4, 1), "sum of cubes": (5,)}
        return [{"seed": int(rng.integers(2**31)), "f": name, "shape": list(s), "h": 1e-3 if name == "sum of cubes"
                 else 1e-5} for name, s in shapes.items()]

    def inputs(self, case):
        x = np.random.default_rng(case["seed"]).standard_normal(case["shape"])
        return {"x": x, "f": FUNCTIONS[case["f"]][0], "h": case["h"]}

    def describe(self, case, inputs):
        return f"f = {case['f']}, x {inputs['x'].shape}, h = {case['h']:g}"

    def call(self, inputs, numerical_gradient):
        return {"grad": arr(numerical_gradient(inputs["f"], inputs["x"], inputs["h"]), "the gradient")}

    def judge(self, case, inputs, out):
        x, h = inputs["x"], case["h"]
        f = FUNCTIONS[case["f"]][0]
        grad = get_arr(out, "grad", x.shape, "the gradient")
        for sign in (1.0, -1.0):
            if np.allclose(grad, _one_sided(f, x, sign * h), rtol=1e-9, atol=1e-12):
                raise Wrong("this is a one-sided difference, (f(x + h) − f(x)) / h; use the central one, "
                            "(f(x + h) − f(x − h)) / 2h")
        if case["f"] == "sum of cubes":     # a central difference of x³ is exactly 3x² + h²
            close(grad, 3.0 * x * x + h * h, "the gradient", rtol=1e-8, atol=1e-9)
        else:
            close(grad, FUNCTIONS[case["f"]][1](x), "the gradient", rtol=1e-6, atol=1e-8)


def _one_sided(f, x, h):
    """(f(x + h e_i) − f(x)) / h for every entry i: the mistake question 1 warns about."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up = x.copy()
        up[i] += h
        g[i] = (f(up) - f(x)) / h
    return g


class RelativeError(Question):
    name, funcs, points = "q2", ("relative_error",), 1
    hints = ("‖a − b‖ / max(‖a‖ + ‖b‖, 1e-300), with ‖·‖ the Euclidean norm of all entries.",
             "np.linalg.norm of an array of any shape gives that norm (Frobenius for a matrix).",
             "The max(…, 1e-300) keeps 0/0 from happening when both arrays are zero: the answer is then 0.")

    def cases(self, rng):
        kinds = ["random", "random", "equal", "zeros", "opposite", "scaled"]
        return [{"seed": int(rng.integers(2**31)), "kind": k, "shape": [2, 3] if i % 2 else [5]}
                for i, k in enumerate(kinds)]

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        a = rng.standard_normal(case["shape"])
        b = {"random": rng.standard_normal(case["shape"]), "equal": a.copy(), "zeros": np.zeros(case["shape"]),
             "opposite": -a, "scaled": a * (1 + 1e-6)}[case["kind"]]
        if case["kind"] == "zeros":
            a = np.zeros(case["shape"])
        return {"a": a, "b": b}

    def describe(self, case, inputs):
        return f"{case['kind']} arrays of shape {tuple(case['shape'])}"

    def call(self, inputs, relative_error_fn):
        return {"r": num(relative_error_fn(inputs["a"], inputs["b"]), "the relative error")}

    def judge(self, case, inputs, out):
        close(get_num(out, "r", "the relative error"), relative_error(inputs["a"], inputs["b"]),
              "the relative error", rtol=1e-9, atol=1e-15)


class GradientOk(Question):
    name, funcs, points = "q3", ("gradient_ok",), 2
    hints = ("Compare grad_f(x) with your numerical_gradient(f, x) using your relative_error.",
             "With h = 1e-5 and float64, a correct gradient gives a relative error far below 1e-6.",
             "Return a plain True or False: relative error < 1e-6.")

    def cases(self, rng):
        cases = []
        for i, name in enumerate(FUNCTIONS):
            for buggy in (False, True):
                cases.append({"seed": int(rng.integers(2**31)), "f": name, "buggy": buggy,
                              "shape": [3] if i % 2 else [2, 2]})
        order = rng.permutation(len(cases))
        return [cases[i] for i in order]

    def inputs(self, case):
        x = np.random.default_rng(case["seed"]).standard_normal(case["shape"])
        f, grad = FUNCTIONS[case["f"]]
        return {"f": f, "grad_f": BUGGY[case["f"]] if case["buggy"] else grad, "x": x}

    def describe(self, case, inputs):
        return f"f = {case['f']} with a {'wrong' if case['buggy'] else 'correct'} gradient, x {inputs['x'].shape}"

    def call(self, inputs, gradient_ok):
        ok = gradient_ok(inputs["f"], inputs["grad_f"], inputs["x"])
        if not isinstance(ok, (bool, np.bool_)):
            raise BadReturn(f"gradient_ok should return True or False, got a {type(ok).__name__}")
        return {"ok": num(int(bool(ok)), "the verdict")}

    def judge(self, case, inputs, out):
        said = get_num(out, "ok", "the verdict") == 1
        if said == case["buggy"]:
            truth = "wrong" if case["buggy"] else "correct"
            raise Wrong(f"gradient_ok returned {said}, but this gradient is {truth}")


q1, q2, q3 = NumericalGradient(), RelativeError(), GradientOk()
EXERCISE = Exercise("ex07", "A gradient checker", "ex07_gradient_checking.ipynb", "07_gradient_checking.ipynb",
                    [q1, q2, q3])
hint, solution = EXERCISE.hint, EXERCISE.solution
