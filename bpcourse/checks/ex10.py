"""Checks for exercise 10 (formerly 9, batch norm only): the remedies' backward passes, by hand.

The batch-norm forward pass is compared with the engine's ``bp.nn.BatchNorm`` in training mode;
the learner's dgamma, dbeta and dX with central differences of that forward pass, on batches
that include a constant column (variance 0, where eps matters).  The residual block's gradients
are compared with central differences of the engine's ``bp.nn.Residual``; clipping by norm with
its defining properties (length min(‖g‖, c), same direction, a zero gradient stays zero).
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ._core import Exercise, Question, Wrong, arr, close, get_arr, numeric_grad, unpack

__all__ = ["q1", "q2", "q3", "q4", "q5", "hint", "solution", "EXERCISE"]

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
             "Chain through three paths: X̂ directly, μ, and σ². Work out dC/dX̂ = dY ⊙ gamma first, then "
             "dC/dσ² and dC/dμ as column sums.",
             "The three paths collapse to (1/N)·(1/√(σ² + ε))·(N·dX̂ − Σ dX̂ − X̂ ⊙ Σ(dX̂ ⊙ X̂)), sums over the batch "
             "(Ioffe & Szegedy 2015).")

    def judge(self, case, inputs, out):
        close(get_arr(out, "dX", inputs["X"].shape), self.numeric(inputs)["dX"](), "dX", rtol=1e-5, atol=1e-7)


def _residual_block(W, b):
    """The engine's residual block Y = X + tanh(X Wᵀ + b) holding the given W (D, D) and b (D,)."""
    lin = nn.Linear(W.shape[1], W.shape[0])
    lin.W.data[...], lin.b.data[...] = W, b
    return nn.Residual(nn.Sequential(lin, nn.Tanh()))


class ResidualBackward(Question):
    name, funcs, points = "q4", ("residual_backward",), 2
    hints = ("Y = X + F(X) with F(X) = tanh(Z), Z = X Wᵀ + b. Two paths lead from X to Y: the skip and the block.",
             "Through the block: dZ = dY ⊙ (1 − tanh²(Z)), then dW, db and the block's dX as for any linear layer.",
             "The skip passes dY down unchanged, and the two paths add: dX = dY + dZ W.")

    def cases(self, rng):
        return [{"seed": int(rng.integers(2**31)), "N": n, "D": d} for n, d in ((1, 1), (4, 3), (6, 5), (3, 2))]

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        N, D = case["N"], case["D"]
        return {"dY": rng.standard_normal((N, D)), "X": rng.standard_normal((N, D)),
                "W": rng.standard_normal((D, D)), "b": rng.standard_normal(D)}

    def call(self, inputs, residual_backward):
        names = ("dX", "dW", "db")
        grads = unpack(residual_backward(inputs["dY"], inputs["X"], inputs["W"], inputs["b"]), names,
                       "residual_backward")
        return {k: arr(v, k) for k, v in zip(names, grads)}

    def judge(self, case, inputs, out):
        dY, X, W, b = inputs["dY"], inputs["X"], inputs["W"], inputs["b"]
        L = lambda X_, W_, b_: float(np.sum(dY * _residual_block(W_, b_).forward(X_)))
        close(get_arr(out, "dW", W.shape), numeric_grad(lambda v: L(X, v, b), W), "dW", rtol=1e-6, atol=1e-8)
        close(get_arr(out, "db", b.shape), numeric_grad(lambda v: L(X, W, v), b), "db", rtol=1e-6, atol=1e-8)
        dX = get_arr(out, "dX", X.shape)
        expected = numeric_grad(lambda v: L(v, W, b), X)
        if np.allclose(dX, expected - dY, rtol=1e-6, atol=1e-8) and not np.allclose(dY, 0):
            raise Wrong("dX is the block's path only: the skip connection's dY is missing (dX = dY + ...)")
        close(dX, expected, "dX", rtol=1e-6, atol=1e-8)


class ClipByNorm(Question):
    name, funcs, points = "q5", ("clip_by_norm",), 2
    hints = ("Clipping by norm keeps the gradient's direction and caps its length (Pascanu et al. 2013).",
             "If ‖g‖ ≤ τ (max_norm) return g as it is; otherwise scale it by τ / ‖g‖. ‖g‖ is the Euclidean norm of all the "
             "entries (np.linalg.norm of the whole array).",
             "g * min(1, τ / ‖g‖) — but a zero gradient must come back as zeros, not NaN (0/0), and the input "
             "must not be changed in place.")

    def cases(self, rng):
        out = []
        for shape, scale, c in (((3, 4), 10.0, 1.0), ((5,), 0.1, 1.0), ((2, 3, 2), 3.0, 2.5), ((4,), 0.0, 1.0),
                                ((6, 2), 1.0, 100.0)):
            out.append({"seed": int(rng.integers(2**31)), "shape": list(shape), "scale": scale, "c": c})
        return out

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        return {"g": case["scale"] * rng.standard_normal(case["shape"]), "max_norm": case["c"]}

    def describe(self, case, inputs):
        return f"g {inputs['g'].shape} with ‖g‖ = {np.linalg.norm(inputs['g']):.3g}, max_norm = {case['c']:g}"

    def call(self, inputs, clip_by_norm):
        return {"clipped": arr(clip_by_norm(inputs["g"], inputs["max_norm"]), "the clipped gradient")}

    def judge(self, case, inputs, out):
        g, c = inputs["g"], inputs["max_norm"]
        got = get_arr(out, "clipped", g.shape, "the clipped gradient")
        if not np.all(np.isfinite(got)):
            raise Wrong("the clipped gradient holds NaN or inf" + (" (0/0 for a zero gradient?)" if not g.any() else ""))
        norm, length = np.linalg.norm(g), np.linalg.norm(got)
        if not np.isclose(length, min(norm, c), rtol=1e-5, atol=1e-12):
            raise Wrong(f"the clipped gradient has norm {length:.6g}, expected min(‖g‖, max_norm) = {min(norm, c):.6g}")
        if norm > 0 and float(np.vdot(got, g)) < (1 - 1e-9) * length * norm:
            raise Wrong("the clipped gradient points in another direction than g; clipping by norm only "
                        "rescales the whole array")


q1, q2, q3, q4, q5 = Forward(), ParamGrads(), InputGrad(), ResidualBackward(), ClipByNorm()
EXERCISE = Exercise("ex10", "Remedies: batch norm, residual and clipping, by hand", "ex10_remedies.ipynb",
                    "10_remedies.ipynb", [q1, q2, q3, q4, q5])
hint, solution = EXERCISE.hint, EXERCISE.solution
