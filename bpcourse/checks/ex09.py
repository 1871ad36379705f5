"""Checks for exercise 9 (formerly 8): Xavier/He initialisation and per-layer gradient norms.

Initialisers are judged statistically on large matrices — variance, mean, bounds, the shape
of the distribution (uniform vs normal) — and for reproducibility with the generator they
are given.  Gradient norms are compared with the engine's own forward/backward on the same
network.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..diagnostics import layer_gradients
from ._core import Exercise, Question, Wrong, arr, close, digest, get_arr

__all__ = ["q1", "q2", "q3", "hint", "solution", "EXERCISE"]


def _stats(W):
    n = W.size
    return n, float(W.mean()), float(W.var())


class Initialiser(Question):
    """Draw W three times: twice with the same seed, once with another."""

    def cases(self, rng):
        sizes = [(200, 100), (50, 300), (120, 250), (3, 2)]
        return [{"seed": int(rng.integers(2**31)), "n_in": i, "n_out": o} for i, o in sizes]

    def inputs(self, case):
        return {"n_in": case["n_in"], "n_out": case["n_out"], "seed": case["seed"]}

    def describe(self, case, inputs):
        return f"n_in = {case['n_in']}, n_out = {case['n_out']}"

    def call(self, inputs, init):
        draw = lambda seed: init(inputs["n_in"], inputs["n_out"], np.random.default_rng(seed))
        W = draw(inputs["seed"])
        again = np.asarray(draw(inputs["seed"]), dtype=np.float64)
        other = np.asarray(draw(inputs["seed"] + 1), dtype=np.float64)
        return {"W": arr(W, "W"), "again": digest(again), "other": digest(other)}

    def judge(self, case, inputs, out):
        n_in, n_out = case["n_in"], case["n_out"]
        W = get_arr(out, "W", (n_out, n_in))
        if not np.all(np.isfinite(W)):
            raise Wrong("W contains NaN or inf")
        if not isinstance(out, dict) or out.get("again") != digest(W):
            raise Wrong("two calls with generators of the same seed gave different W; draw only from `rng`")
        if out.get("other") == digest(W):
            raise Wrong("a generator with another seed gave the same W; draw from `rng`")
        if W.size >= 1000:
            self.judge_distribution(W, n_in, n_out)

    def judge_mean_var(self, W, var):
        n, mean, v = _stats(W)
        if abs(mean) > 5 * np.sqrt(var / n):
            raise Wrong(f"the mean of W is {mean:.4g}; it should be close to 0")
        if not 0.9 * var <= v <= 1.1 * var:
            raise Wrong(f"the variance of W is {v:.4g}, expected {var:.4g}")


class XavierUniform(Initialiser):
    name, funcs, points = "q1", ("xavier_uniform",), 2
    hints = ("Glorot & Bengio (2010) want Var[W] = 2 / (n_in + n_out).",
             "A uniform distribution on [−l, l] has variance l²/3. Solve for l.",
             "Draw from rng.uniform between −l and l, in the shape (n_out, n_in).")

    def judge_distribution(self, W, n_in, n_out):
        var = 2.0 / (n_in + n_out)
        limit = np.sqrt(3.0 * var)          # U(−l, l) has variance l²/3
        if np.abs(W).max() > limit * (1 + 1e-12):
            raise Wrong(f"max |W| is {np.abs(W).max():.4g}, above the bound l = {limit:.4g} of a uniform "
                        f"distribution with variance 2/(n_in + n_out)")
        self.judge_mean_var(W, var)
        inside = float(np.mean(np.abs(W) < limit / 2))
        if not 0.46 <= inside <= 0.54 or np.abs(W).max() < 0.98 * limit:
            raise Wrong(f"W does not look uniform on [−l, l]: {inside:.0%} of the entries lie within l/2 "
                        f"(expected 50%)")


class HeNormal(Initialiser):
    name, funcs, points = "q2", ("he_normal",), 2
    hints = ("He et al. (2015): for ReLU layers Var[W] = 2 / n_in.",
             "A normal distribution with standard deviation s has variance s².",
             "Scale standard normal draws from rng (shape (n_out, n_in)) by that standard deviation.")

    def judge_distribution(self, W, n_in, n_out):
        var = 2.0 / n_in
        self.judge_mean_var(W, var)
        within = float(np.mean(np.abs(W) < np.sqrt(var)))
        if not 0.65 <= within <= 0.72:
            raise Wrong(f"W does not look normal: {within:.0%} of the entries lie within one standard "
                        f"deviation (expected 68%)")


def _net(case):
    net = nn.MLP(case["sizes"], activation=case["activation"], seed=case["seed"])
    rng = np.random.default_rng(case["seed"] + 1)
    X = rng.standard_normal((case["N"], case["sizes"][0]))
    y = rng.integers(0, case["sizes"][-1], size=case["N"])
    return net, X, y


class GradNorms(Question):
    name, funcs, points = "q3", ("grad_norms",), 3
    hints = ("Forward the batch, compute the loss, backward its gradient: then each Linear layer's "
             "W.grad holds dC/dW.",
             "The network may arrive holding old gradients: call net.zero_grad() first.",
             "Collect the Frobenius norm of W.grad for every bp.nn.Linear in net.layers, from input to output.")

    def cases(self, rng):
        nets = [([8, 16, 16, 4], "tanh", 6), ([5, 10, 10, 10, 3], "relu", 9), ([4, 6, 2], "sigmoid", 1)]
        return [{"seed": int(rng.integers(2**31)), "sizes": s, "activation": a, "N": n} for s, a, n in nets]

    def inputs(self, case):
        net, X, y = _net(case)
        for p in net.parameters():          # stale gradients from "an earlier step"
            p.grad[...] = 7.0
        return {"net": net, "X": X, "y": y}

    def describe(self, case, inputs):
        return f"MLP {case['sizes']} ({case['activation']}), batch of {case['N']}"

    def call(self, inputs, grad_norms):
        return {"norms": arr(grad_norms(inputs["net"], inputs["X"], inputs["y"]), "the list of norms")}

    def judge(self, case, inputs, out):
        net, X, y = _net(case)
        expected = np.array(list(layer_gradients(net, X, y, "cross_entropy")["dW"].values()))
        got = get_arr(out, "norms", what="the list of norms")
        if got.shape != expected.shape:
            raise Wrong(f"got {got.size} norms, expected {expected.size} (one per Linear layer)")
        close(got, expected, "the norms", rtol=1e-6, atol=1e-12)


q1, q2, q3 = XavierUniform(), HeNormal(), GradNorms()
EXERCISE = Exercise("ex09", "Initialisation and gradient norms", "ex09_initialisation.ipynb",
                    "09_initialisation.ipynb", [q1, q2, q3])
hint, solution = EXERCISE.hint, EXERCISE.solution
