"""Checks for exercise 2: a mini ``Value`` with backward rules for mul, pow, tanh, exp.

Each question builds small expressions with the learner's ``Value`` (including a node used
twice, numbers on either side of an operator), calls ``backward()``, and compares every leaf's
``.grad`` with a central difference of the same expression evaluated on plain floats.
"""
from __future__ import annotations

import math

from ._core import Exercise, Question, Wrong, get_num, num

__all__ = ["q1", "q2", "q3", "q4", "q5", "hint", "solution", "EXERCISE"]

H = 1e-6


def tanh(v):
    return v.tanh() if hasattr(v, "tanh") else math.tanh(v)


def exp(v):
    return v.exp() if hasattr(v, "exp") else math.exp(v)


# expressions: (source shown to the learner, function of two inputs); each works on Values and floats
EXPRESSIONS = {
    "a*b": lambda a, b: a * b,
    "a*a*b": lambda a, b: a * a * b,
    "(a*3.0)*b": lambda a, b: (a * 3.0) * b,
    "2.5*a + a*b": lambda a, b: 2.5 * a + a * b,
    "a**3": lambda a, b: a ** 3,
    "a**-1.0 + b": lambda a, b: a ** -1.0 + b,
    "(a + 1.5)**0.5": lambda a, b: (a + 1.5) ** 0.5,
    "a**2 + a**3 + b**2": lambda a, b: a ** 2 + a ** 3 + b ** 2,
    "(a**2)**1.5": lambda a, b: (a ** 2) ** 1.5,
    "tanh(a)": lambda a, b: tanh(a),
    "tanh(a + b)": lambda a, b: tanh(a + b),
    "tanh(tanh(a)) + a": lambda a, b: tanh(tanh(a)) + a,
    "exp(a)": lambda a, b: exp(a),
    "exp(a + b) + a": lambda a, b: exp(a + b) + a,
    "exp(a) + a": lambda a, b: exp(a) + a,
    "exp(exp(a))": lambda a, b: exp(exp(a)),
    "a - b": lambda a, b: a - b,
    "-a + 1.0": lambda a, b: -a + 1.0,
    "a / b": lambda a, b: a / b,
    "3.0 / a - b": lambda a, b: 3.0 / a - b,
    "1.0 - a*b": lambda a, b: 1.0 - a * b,
    "(a - b) / (a + b)": lambda a, b: (a - b) / (a + b),
}


class ValueQuestion(Question):
    """Expressions built with the learner's Value class; leaves a and b."""

    funcs = ("Value",)
    expressions = ()
    low, high = -1.5, 1.5          # range of the leaf values

    def cases(self, rng):
        return [{"expr": e, "a": float(round(a, 6)), "b": float(round(b, 6))}
                for e in self.expressions for a, b in [rng.uniform(self.low, self.high, size=2)]]

    def inputs(self, case):
        return {"a": case["a"], "b": case["b"], "expr": case["expr"]}

    def describe(self, case, inputs):
        return f"{case['expr']} at a = {case['a']:g}, b = {case['b']:g}"

    def call(self, inputs, Value):
        a, b = Value(inputs["a"]), Value(inputs["b"])
        out = EXPRESSIONS[inputs["expr"]](a, b)
        out.backward()
        return {"data": num(out.data, "the result's .data"), "da": num(a.grad, "a.grad"),
                "db": num(b.grad, "b.grad")}

    def judge(self, case, inputs, out):
        fn = EXPRESSIONS[case["expr"]]
        a, b = case["a"], case["b"]
        checks = (("data", fn(a, b), "the result's .data"),
                  ("da", (fn(a + H, b) - fn(a - H, b)) / (2 * H), "a.grad"),
                  ("db", (fn(a, b + H) - fn(a, b - H)) / (2 * H), "b.grad"))
        for key, expected, what in checks:
            got = get_num(out, key, what)
            if not (math.isfinite(got) and abs(got - expected) <= 1e-6 + 1e-6 * abs(expected)):
                raise Wrong(f"{what} is {got:.6g}, expected {expected:.6g} (a central difference)")


class Mul(ValueQuestion):
    title = "Value.__mul__"
    name, points = "q1", 1
    expressions = ("a*b", "a*a*b", "(a*3.0)*b", "2.5*a + a*b")
    hints = ("In _backward, out.grad is ∂C/∂out; add each input's share into its .grad.",
             "For out = x·y: ∂out/∂x = y and ∂out/∂y = x. Use += (a node used twice gets two "
             "contributions).",
             "Each input's gradient grows by (the other input's data) × out.grad.")


class Pow(ValueQuestion):
    title = "Value.__pow__"
    name, points = "q2", 1
    expressions = ("a**3", "a**-1.0 + b", "(a + 1.5)**0.5", "a**2 + a**3 + b**2",
                   "(a**2)**1.5")                  # the inner power's out.grad is not 1
    low, high = 0.3, 2.0
    hints = ("The exponent k is a plain number here, so only self gets a gradient.",
             "d(x^k)/dx = k·x^(k−1), evaluated at self.data.",
             "Multiply that local derivative by out.grad and add it into self.grad.")


class Tanh(ValueQuestion):
    title = "Value.tanh"
    name, points = "q3", 1
    expressions = ("tanh(a)", "tanh(a + b)", "tanh(tanh(a)) + a")
    hints = ("The local derivative of tanh can be written with its own output t = tanh(x).",
             "tanh'(x) = 1 − t².",
             "Keep t from the forward pass (it is out.data) and use it inside _backward.")


class Exp(ValueQuestion):
    title = "Value.exp"
    name, points = "q4", 1
    expressions = ("exp(a)", "exp(a + b) + a", "exp(exp(a))",
                   "exp(a) + a")                   # a gets gradient by two paths: += or it is lost
    low, high = -1.0, 1.0
    hints = ("exp is its own derivative.",
             "The local derivative is the forward output, out.data.",
             "Multiply out.data by out.grad and accumulate into self.grad.")


class Reuse(ValueQuestion):
    title = "Value: neg, sub, div"
    name, points = "q5", 2
    expressions = ("a - b", "-a + 1.0", "a / b", "3.0 / a - b", "1.0 - a*b", "(a - b) / (a + b)")
    low, high = 0.5, 2.0
    hints = ("No new backward rule is needed: write each operation with the ones you already have.",
             "−x is x·(−1); x − y is x + (−y); x / y is x·y^(−1). Reflected versions (number − Value, "
             "number / Value) swap the roles.",
             "Each method is a single line returning an expression of existing operations; it also "
             "relies on your answers to questions 1 and 2.")


q1, q2, q3, q4, q5 = Mul(), Pow(), Tanh(), Exp(), Reuse()
EXERCISE = Exercise("ex02", "A mini autograd Value", "ex02_value.ipynb", "02_graphs_autograd.ipynb",
                    [q1, q2, q3, q4, q5])
hint, solution = EXERCISE.hint, EXERCISE.solution
