"""Checks for exercise 16: gradients with respect to the input (notebook 16).

    from bpcourse.checks import ex16 as check
    check.q1(score_gradient)

Every question uses the same small network, Z1 = X W1ᵀ + b1, A1 = tanh(Z1), Z2 = A1 W2ᵀ + b2 (logits).
The input gradient is compared with central differences of the engine's forward pass; the FGSM
step and the input optimisation with ``bp.input_gradients`` run on the engine's own layers
holding the same weights.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..input_gradients import class_score_gradient, fgsm, loss_input_gradient, optimise_input
from ._core import Exercise, Question, Wrong, arr, close, get_arr, numeric_grad

__all__ = ["q1", "q2", "q3", "hint", "solution", "EXERCISE", "network"]

_WEIGHTS = ("W1", "b1", "W2", "b2")


def network(W1, b1, W2, b2):
    """The engine's version of the exercise's network, holding the given weights."""
    first, second = nn.Linear(W1.shape[1], W1.shape[0]), nn.Linear(W2.shape[1], W2.shape[0])
    first.W.data[...], first.b.data[...] = W1, b1
    second.W.data[...], second.b.data[...] = W2, b2
    return nn.Sequential(first, nn.Tanh(), second)


def _cases(rng, n, extra=None):
    """n recipes (seed, N, n_in, n_hidden, C), always including a single example and two classes."""
    sizes = [(1, 3, 2, 2), (4, 5, 3, 3)]
    while len(sizes) < n:
        sizes.append((int(rng.integers(1, 6)), int(rng.integers(1, 9)), int(rng.integers(1, 6)),
                      int(rng.integers(2, 6))))
    cases = []
    for N, i, h, C in sizes:
        case = {"seed": int(rng.integers(2**31)), "N": N, "n_in": i, "n_hidden": h, "C": C}
        case.update(extra(rng) if extra else {})
        cases.append(case)
    return cases


def _weights(case, rng):
    i, h, C = case["n_in"], case["n_hidden"], case["C"]
    return {"W1": rng.standard_normal((h, i)), "b1": 0.5 * rng.standard_normal(h),
            "W2": rng.standard_normal((C, h)), "b2": 0.5 * rng.standard_normal(C)}


def _describe(case, inputs):
    x = "X" if "X" in inputs else "x0"
    return f"{x} {inputs[x].shape}, {case['n_hidden']} hidden units, {case['C']} classes"


class ScoreGradient(Question):
    name, funcs, points = "q1", ("score_gradient",), 2
    hints = ("Forward first and keep what backward needs (A1). The score S = Σ_n Z2[n, c] depends on Z2 only "
             "through column c, so ∂S/∂Z2 is zero except for ones in column c.",
             "Then go down as in BP1–BP4, but carry the gradient all the way to X: through the last layer "
             "(a matrix product with W2), through tanh (tanh' = 1 − A1²), through the first layer.",
             "dZ2 = one-hot of c in every row;  dA1 = dZ2 @ W2;  dZ1 = dA1 * (1 − A1**2);  dX = dZ1 @ W1.")
    approach = "one-hot column c, then dA1 = dZ2 @ W2, dZ1 = dA1 * (1 - A1**2), dX = dZ1 @ W1."

    def cases(self, rng):
        return _cases(rng, 5, lambda r: {"c_frac": float(r.random())})

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        inputs = {"X": rng.standard_normal((case["N"], case["n_in"]))}
        inputs.update(_weights(case, rng))
        inputs["c"] = int(case["c_frac"] * case["C"])
        return inputs

    def describe(self, case, inputs):
        return _describe(case, inputs) + f", class c = {inputs['c']}"

    def call(self, inputs, score_gradient):
        return {"dX": arr(score_gradient(*(inputs[k] for k in ("X",) + _WEIGHTS + ("c",))), "dX")}

    def judge(self, case, inputs, out):
        X, c = inputs["X"], inputs["c"]
        net = network(*(inputs[k] for k in _WEIGHTS))
        got = get_arr(out, "dX", X.shape, "the returned ∂S/∂X")
        expected = numeric_grad(lambda X_: float(net.forward(X_)[:, c].sum()), X)
        if c + 1 < case["C"]:
            other = numeric_grad(lambda X_: float(net.forward(X_)[:, c + 1].sum()), X)
            if np.allclose(got, other, rtol=1e-6, atol=1e-9) and not np.allclose(other, expected):
                raise Wrong(f"this is the gradient of class {c + 1}'s score; the question asks for class c = {c}")
        close(got, expected, "∂S/∂X", rtol=1e-5, atol=1e-8)


class FGSMStep(Question):
    name, funcs, points = "q2", ("fgsm_step",), 2
    hints = ("Two parts: the gradient of the mean cross-entropy loss with respect to X (a backward pass like "
             "question 1's, starting from the loss instead of a score), then one step.",
             "The loss's gradient with respect to the logits is (softmax(Z2) − onehot(y)) / N (notebook 05). "
             "The step moves every pixel by eps in the direction that raises the loss.",
             "X_adv = np.clip(X + eps * np.sign(dX), 0, 1): the sign of the gradient, not the gradient, and "
             "clipped to the pixel range.")
    approach = "dZ2 = (softmax(Z2) - onehot(y)) / N, backward to dX as in q1, then clip(X + eps*sign(dX), 0, 1)."

    def cases(self, rng):
        cases = _cases(rng, 5, lambda r: {"eps": float(r.choice([0.05, 0.1, 0.3]))})
        cases[0]["eps"] = 0.0                   # ε = 0 changes nothing
        cases[1]["eps"] = 0.6                   # clipping matters
        return cases

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        inputs = {"X": rng.uniform(0.0, 1.0, (case["N"], case["n_in"])),
                  "y": rng.integers(0, case["C"], case["N"])}
        inputs.update(_weights(case, rng))
        inputs["eps"] = case["eps"]
        return inputs

    def describe(self, case, inputs):
        return _describe(case, inputs) + f", eps = {case['eps']:g}"

    def call(self, inputs, fgsm_step):
        return {"X_adv": arr(fgsm_step(*(inputs[k] for k in ("X", "y") + _WEIGHTS + ("eps",))), "X_adv")}

    def judge(self, case, inputs, out):
        X, y, eps = inputs["X"], inputs["y"], inputs["eps"]
        net = network(*(inputs[k] for k in _WEIGHTS))
        got = get_arr(out, "X_adv", X.shape, "X_adv")
        expected = fgsm(net, "cross_entropy", X, y, eps)
        if np.all(np.isfinite(got)):
            if got.min() < -1e-12 or got.max() > 1 + 1e-12:
                raise Wrong(f"X_adv has values from {got.min():.4g} to {got.max():.4g}, outside the pixel range "
                            "[0, 1]: clip the result")
            if np.abs(got - X).max() > eps + 1e-12:
                raise Wrong(f"X_adv moves a pixel by {np.abs(got - X).max():.4g}, more than eps = {eps:g}")
            _, g = loss_input_gradient(net, "cross_entropy", X, y)
            if eps > 0 and np.allclose(got, np.clip(X - eps * np.sign(g), 0, 1)):
                raise Wrong("X_adv steps against the loss gradient, which lowers the loss; FGSM raises it")
            if eps > 0 and np.allclose(got, np.clip(X + eps * g, 0, 1)) and not np.allclose(got, expected):
                raise Wrong("X_adv moves by eps times the gradient; FGSM moves every pixel by eps times the "
                            "gradient's sign")
        clear = np.abs(loss_input_gradient(net, "cross_entropy", X, y)[1]) > 1e-9   # a sign is well defined
        close(np.where(clear, got, expected), expected, "X_adv", rtol=1e-9, atol=1e-12)


class OptimiseInput(Question):
    name, funcs, points = "q3", ("optimise_input",), 2
    hints = ("Repeat `steps` times: compute ∂S_c/∂x with your score_gradient (question 1), then move x.",
             "Gradient *ascent* on S_c(x) − l2·‖x‖²: the gradient of the penalty −l2·‖x‖² is −2·l2·x.",
             "Start from a copy of x0; in each of the `steps` steps add lr times (your question-1 gradient at the "
             "current x, minus 2·l2·x) to x. Return x.")
    approach = "x = x0.copy(); repeat steps times: x = x + lr * (dS/dx - 2 * l2 * x)."

    def cases(self, rng):
        def extra(r):
            return {"steps": int(r.integers(1, 16)), "lr": float(r.choice([0.05, 0.1, 0.3])),
                    "l2": float(r.choice([0.0, 0.01, 0.5])), "c_frac": float(r.random())}
        cases = _cases(rng, 4, extra)
        cases[0].update(steps=1, l2=0.0)
        cases[1].update(steps=10, l2=0.5)
        return cases

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        inputs = {"x0": 0.1 * rng.standard_normal((case["N"], case["n_in"]))}
        inputs.update(_weights(case, rng))
        inputs.update(c=int(case["c_frac"] * case["C"]), steps=case["steps"], lr=case["lr"], l2=case["l2"])
        return inputs

    def describe(self, case, inputs):
        return (_describe(case, inputs) + f", class c = {inputs['c']}, steps = {case['steps']}, "
                f"lr = {case['lr']:g}, l2 = {case['l2']:g}")

    def call(self, inputs, optimise_input):
        args = [inputs[k] for k in _WEIGHTS + ("c", "x0", "steps", "lr", "l2")]
        return {"x": arr(optimise_input(*args), "x")}

    def judge(self, case, inputs, out):
        x0, c = inputs["x0"], inputs["c"]
        net = network(*(inputs[k] for k in _WEIGHTS))
        got = get_arr(out, "x", x0.shape, "the returned x")
        kw = {"steps": case["steps"], "lr": case["lr"], "x0": x0}
        expected = optimise_input(net, c, l2=case["l2"], **kw)
        if np.all(np.isfinite(got)) and not np.allclose(got, expected, rtol=1e-6, atol=1e-9):
            # descent instead of ascent: the same rule with the score's sign flipped
            down = x0.copy()
            for _ in range(case["steps"]):
                dS = class_score_gradient(net, down, c)[1]
                down = down - case["lr"] * (dS + 2 * case["l2"] * down)
            if np.allclose(got, down, rtol=1e-4, atol=1e-7):
                raise Wrong("x moved down the score: class visualisation climbs it (x + lr · gradient)")
            if case["l2"] > 0 and np.allclose(got, optimise_input(net, c, l2=0.0, **kw), rtol=1e-6, atol=1e-9):
                raise Wrong(f"x ignores the penalty l2 = {case['l2']:g}: the ascent direction is ∂S/∂x − 2·l2·x")
        close(got, expected, "x after the ascent", rtol=1e-6, atol=1e-9)


q1, q2, q3 = ScoreGradient(), FGSMStep(), OptimiseInput()
EXERCISE = Exercise("ex16", "Gradients with respect to the input", "ex16_input_gradients.ipynb",
                    "16_input_gradients.ipynb", [q1, q2, q3])
hint, solution = EXERCISE.hint, EXERCISE.solution
