"""Checks for exercise 1: the chain rule by hand.

Every derivative the learner writes is compared with a central difference of the function
it differentiates, at points the checker picks; the circuit also at CS231n's known point.
"""
from __future__ import annotations

import math

from ._core import Exercise, Question, Wrong, get_num, num, unpack

__all__ = ["q1", "q2", "q3", "q4", "q5", "hint", "solution", "EXERCISE"]

H = 1e-5


def _sigmoid(t):
    return 1.0 / (1.0 + math.exp(-t)) if t >= 0 else math.exp(t) / (1.0 + math.exp(t))


# the functions of the exercise, as stated in the notebook
def f(x):
    return math.sin(x * x)


def g(x):
    return math.exp(-x) * math.tanh(2.0 * x)


def h(x):
    return math.log1p(math.exp(3.0 * x))


def circuit(x, y, z):
    return (x + y) * z


def u(x, y):
    return _sigmoid(x * y + y * y)


def _partial(fn, args, i):
    """Central difference of fn with respect to argument i."""
    up, down = list(args), list(args)
    up[i] += H
    down[i] -= H
    return (fn(*up) - fn(*down)) / (2 * H)


def _check(got, fn, args, i, what):
    expected = _partial(fn, args, i)
    if not math.isfinite(got):
        raise Wrong(f"{what} is {got}, expected {expected:.6g}")
    if abs(got - expected) > 1e-6 + 1e-6 * abs(expected):
        point = ", ".join(f"{a:.4g}" for a in args)
        raise Wrong(f"{what} at ({point}) is {got:.6g}, expected {expected:.6g} (a central difference)")


class OneVariable(Question):
    """A derivative of a function of one variable, at several points."""

    fn = staticmethod(f)

    def cases(self, rng):
        return [{"x": 0.0}, {"x": 1.0}] + [{"x": float(round(v, 6))} for v in rng.uniform(-2, 2, size=4)]

    def inputs(self, case):
        return {"x": case["x"]}

    def describe(self, case, inputs):
        return f"x = {case['x']:g}"

    def call(self, inputs, derivative):
        return {"d": num(derivative(inputs["x"]), self.funcs[0])}

    def judge(self, case, inputs, out):
        _check(get_num(out, "d", self.funcs[0]), self.fn, [case["x"]], 0, self.funcs[0])


class Q1(OneVariable):
    name, funcs, points = "q1", ("df_dx",), 1
    fn = staticmethod(f)
    hints = ("f is an outer function (sin) applied to an inner one (x²). The chain rule multiplies "
             "their local derivatives.",
             "The outer derivative is evaluated at the inner value: d sin(w)/dw at w = x².",
             "Multiply cos(x²) by the derivative of x².")


class Q2(OneVariable):
    name, funcs, points = "q2", ("dg_dx",), 1
    fn = staticmethod(g)
    hints = ("g is a product of two factors, and each factor is itself a composition.",
             "Product rule: (p q)' = p' q + p q'. Then the chain rule inside each factor: the inner "
             "functions are −x and 2x.",
             "tanh'(w) = 1 − tanh²(w); the derivative of exp(−x) is −exp(−x).")


class Q3(OneVariable):
    name, funcs, points = "q3", ("dh_dx",), 1
    fn = staticmethod(h)
    hints = ("h(x) = log(1 + e^{3x}) has three layers: 3x, then 1 + e^w, then log.",
             "d log(v)/dv = 1/v; multiply the three local derivatives.",
             "Simplify e^{3x}/(1 + e^{3x}): it is a function you know from neural networks.")


class Q4(Question):
    name, funcs, points = "q4", ("circuit_grad",), 2
    hints = ("Name the intermediate node: q = x + y, then f = q z.",
             "A multiply gate 'swaps' its inputs: ∂f/∂q = z and ∂f/∂z = q. An add gate passes the "
             "gradient through unchanged to both inputs.",
             "∂f/∂x = ∂f/∂q · ∂q/∂x. At (−2, 5, −4) the answers are −4, −4 and 3.")

    def cases(self, rng):
        pts = [[-2.0, 5.0, -4.0]] + [[float(round(v, 6)) for v in rng.uniform(-3, 3, size=3)] for _ in range(4)]
        return [{"xyz": p} for p in pts]

    def inputs(self, case):
        return {"xyz": tuple(case["xyz"])}

    def describe(self, case, inputs):
        return "(x, y, z) = ({:g}, {:g}, {:g})".format(*case["xyz"])

    def call(self, inputs, circuit_grad):
        names = ("df_dx", "df_dy", "df_dz")
        return {k: num(v, k) for k, v in zip(names, unpack(circuit_grad(*inputs["xyz"]), names, "circuit_grad"))}

    def judge(self, case, inputs, out):
        for i, k in enumerate(("df_dx", "df_dy", "df_dz")):
            _check(get_num(out, k), circuit, list(case["xyz"]), i, k)


class Q5(Question):
    name, funcs, points = "q5", ("grad_u",), 2
    hints = ("u = σ(s) with s = x y + y². The variable y reaches s along two paths.",
             "Gradients along different paths add up: ∂s/∂y = x + 2y. And σ'(s) = σ(s)(1 − σ(s)).",
             "∂u/∂x = σ'(s)·y and ∂u/∂y = σ'(s)·(x + 2y).")

    def cases(self, rng):
        return [{"xy": [0.5, -1.0]}] + [{"xy": [float(round(v, 6)) for v in rng.uniform(-2, 2, size=2)]}
                                         for _ in range(4)]

    def inputs(self, case):
        return {"xy": tuple(case["xy"])}

    def describe(self, case, inputs):
        return "(x, y) = ({:g}, {:g})".format(*case["xy"])

    def call(self, inputs, grad_u):
        names = ("du_dx", "du_dy")
        return {k: num(v, k) for k, v in zip(names, unpack(grad_u(*inputs["xy"]), names, "grad_u"))}

    def judge(self, case, inputs, out):
        for i, k in enumerate(("du_dx", "du_dy")):
            _check(get_num(out, k), u, list(case["xy"]), i, k)


q1, q2, q3, q4, q5 = Q1(), Q2(), Q3(), Q4(), Q5()
EXERCISE = Exercise("ex01", "The chain rule by hand", "ex01_chain_rule.ipynb", "01_chain_rule.ipynb",
                    [q1, q2, q3, q4, q5])
hint, solution = EXERCISE.hint, EXERCISE.solution
