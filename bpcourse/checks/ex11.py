"""Checks for exercise 11: optimisers — a momentum step, an Adam step, momentum's stability boundary.

The two update rules are compared with one step of the engine's ``bp.optim.SGD(momentum=β)`` and
``bp.optim.Adam`` started from the same state.  The boundary is judged against the checker's own
measurement: an optimiser's step on ½λw² is linear in its state (w, v), so the checker reads the
step's 2×2 matrix off two calls and bisects on its spectral radius; the learner has to find the
boundary by running the step, since the check also hands in a variant (Nesterov's) whose
boundary is not 2 + 2β.
"""
from __future__ import annotations

import numpy as np

from .. import nn, optim
from ._core import Exercise, Question, Wrong, arr, close, get_arr, get_num, num, unpack

__all__ = ["q1", "q2", "q3", "hint", "solution", "EXERCISE"]


def _state(case, *names):
    rng = np.random.default_rng(case["seed"])
    shape = case["shape"]
    out = {k: rng.standard_normal(shape) for k in names}
    if "v" in out and case.get("second_moment"):
        out["v"] = out["v"] ** 2             # Adam's v is an average of squares: never negative
    return out


class MomentumStep(Question):
    name, funcs, points = "q1", ("momentum_step",), 2
    hints = ("Heavy-ball momentum keeps a velocity: a running sum of past gradients, each older one weighted by "
             "one more factor β.",
             "First the velocity, v ← β v + g; then the weights move against the *new* velocity, w ← w − η v.",
             "Return two new arrays, the new w and the new v (the new v is β·v + g, and w moves by lr times it); do not "
             "change w, v or g in place.")

    def cases(self, rng):
        spec = [((3,), 0.9, 0.1, False), ((2, 4), 0.5, 0.01, False), ((5,), 0.0, 0.3, False), ((1,), 0.99, 1.0, True)]
        return [{"seed": int(rng.integers(2**31)), "shape": list(s), "beta": b, "lr": lr, "zero_v": z}
                for s, b, lr, z in spec]

    def inputs(self, case):
        inp = _state(case, "w", "v", "g")
        if case["zero_v"]:
            inp["v"] = np.zeros_like(inp["v"])
        return dict(inp, lr=case["lr"], beta=case["beta"])

    def call(self, inputs, momentum_step):
        w, v = unpack(momentum_step(inputs["w"], inputs["v"], inputs["g"], inputs["lr"], inputs["beta"]),
                      ("w", "v"), "momentum_step")
        return {"w": arr(w, "the new w"), "v": arr(v, "the new v")}

    def judge(self, case, inputs, out):
        p = nn.Parameter(inputs["w"].copy())
        p.grad[...] = inputs["g"]
        opt = optim.SGD([p], lr=inputs["lr"], momentum=inputs["beta"])
        opt.velocity[0] = inputs["v"].copy()
        opt.step()
        shape = inputs["w"].shape
        v_new = opt.velocity[0] if inputs["beta"] else inputs["g"]     # β = 0: plain SGD keeps no velocity
        close(get_arr(out, "v", shape, "the new v"), v_new, "the new velocity v", rtol=1e-12, atol=1e-14)
        close(get_arr(out, "w", shape, "the new w"), p.data, "the new w", rtol=1e-12, atol=1e-14)


class AdamStep(Question):
    name, funcs, points = "q2", ("adam_step",), 3
    hints = ("Adam keeps two running averages per weight: m of the gradients and v of their squares, "
             "m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g².",
             "Both start at 0, so early on they are too small: divide by 1 − β₁ᵗ and 1 − β₂ᵗ (t counts steps from 1) "
             "before using them. That is the bias correction.",
             "w_new = w − lr · m̂ / (√v̂ + eps) with m̂ = m_new / (1 − beta1**t), v̂ = v_new / (1 − beta2**t); "
             "return new arrays (w_new, m_new, v_new).")

    def cases(self, rng):
        spec = [((4,), 1, 1e-3, (0.9, 0.999)), ((2, 3), 2, 0.01, (0.9, 0.999)), ((3,), 50, 0.1, (0.8, 0.99)),
                ((5,), 1, 0.5, (0.5, 0.9))]
        return [{"seed": int(rng.integers(2**31)), "shape": list(s), "t": t, "lr": lr, "betas": list(b),
                 "second_moment": True} for s, t, lr, b in spec]

    def inputs(self, case):
        inp = _state(case, "w", "m", "v", "g")
        if case["t"] == 1:                       # the first step starts from m = v = 0
            inp["m"], inp["v"] = np.zeros_like(inp["m"]), np.zeros_like(inp["v"])
        return dict(inp, t=case["t"], lr=case["lr"], beta1=case["betas"][0], beta2=case["betas"][1], eps=1e-8)

    def describe(self, case, inputs):
        return f"w {inputs['w'].shape}, step t = {case['t']}, lr = {case['lr']:g}, betas = {tuple(case['betas'])}"

    def call(self, inputs, adam_step):
        args = [inputs[k] for k in ("w", "m", "v", "g", "t", "lr", "beta1", "beta2", "eps")]
        w, m, v = unpack(adam_step(*args), ("w", "m", "v"), "adam_step")
        return {"w": arr(w, "the new w"), "m": arr(m, "the new m"), "v": arr(v, "the new v")}

    def judge(self, case, inputs, out):
        p = nn.Parameter(inputs["w"].copy())
        p.grad[...] = inputs["g"]
        opt = optim.Adam([p], lr=inputs["lr"], betas=(inputs["beta1"], inputs["beta2"]), eps=inputs["eps"])
        opt.m[0][...], opt.v[0][...] = inputs["m"], inputs["v"]
        opt.t = inputs["t"] - 1
        opt.step()
        shape = inputs["w"].shape
        close(get_arr(out, "m", shape, "the new m"), opt.m[0], "the new m", rtol=1e-10, atol=1e-14)
        close(get_arr(out, "v", shape, "the new v"), opt.v[0], "the new v", rtol=1e-10, atol=1e-14)
        close(get_arr(out, "w", shape, "the new w"), p.data, "the new w", rtol=1e-10, atol=1e-13)


# optimiser steps on C(w) = ½ λ w² (gradient λ w), on scalars: (w, v, lr) -> (w, v)
def _heavy_ball(lam, beta):
    def step(w, v, lr):
        v = beta * v + lam * w
        return w - lr * v, v
    return step


def _nesterov(lam, beta):
    def step(w, v, lr):                       # PyTorch's nesterov=True: w ← w − η (g + β v_new)
        g = lam * w
        v = beta * v + g
        return w - lr * (g + beta * v), v
    return step


_STEPS = {"heavy ball": _heavy_ball, "Nesterov": _nesterov}


def _spectral_radius(step, lr):
    cols = [np.array(step(1.0, 0.0, lr)), np.array(step(0.0, 1.0, lr))]
    return float(np.max(np.abs(np.linalg.eigvals(np.stack(cols, axis=1)))))


def _boundary(step, hi):
    """The largest lr with spectral radius < 1, by bisection on (0, hi] (the checker's own measurement)."""
    lo = 0.0
    for _ in range(60):
        mid = lo + (hi - lo) / 2
        lo, hi = (mid, hi) if _spectral_radius(step, mid) < 1 else (lo, mid)
    return 0.5 * (lo + hi)


class MeasuredBoundary(Question):
    name, funcs, points = "q3", ("measured_boundary",), 3
    hints = ("Run the step from w = 1, v = 0 for many iterations: if |w| ends up smaller than it started, that "
             "learning rate converges; if it grew, it diverges.",
             "Convergence flips once, at the boundary: bisect on lr between a rate that converges (tiny) and one "
             "that diverges (lr_max), about 40 halvings.",
             "For each trial lr: w, v = 1.0, 0.0; repeat w, v = step(w, v, lr) a thousand times or so; converged "
             "if abs(w) < 1 (stop early when |w| blows past 1e6). Keep the largest lr that converged.")

    def cases(self, rng):
        spec = [("heavy ball", 1.0, 0.9), ("heavy ball", 4.0, 0.0), ("heavy ball", 0.5, 0.5), ("Nesterov", 2.0, 0.9),
                ("heavy ball", 10.0, 0.75)]
        return [{"kind": k, "lam": lam, "beta": b} for k, lam, b in spec]

    def inputs(self, case):
        lam, beta = case["lam"], case["beta"]
        return {"step": _STEPS[case["kind"]](lam, beta), "lr_max": 5.0 * (2 + 2 * beta) / lam}

    def describe(self, case, inputs):
        return f"{case['kind']} momentum, β = {case['beta']:g}, λ = {case['lam']:g}, lr_max = {inputs['lr_max']:.4g}"

    def call(self, inputs, measured_boundary):
        return {"lr": num(measured_boundary(inputs["step"], inputs["lr_max"]), "the boundary")}

    def judge(self, case, inputs, out):
        got = get_num(out, "lr", "the boundary")
        expected = _boundary(inputs["step"], inputs["lr_max"])
        if not np.isfinite(got) or abs(got - expected) > 0.01 * expected:
            theory = (2 + 2 * case["beta"]) / case["lam"]
            more = (f" (2 + 2β over λ is {theory:.4g}, but this step is not heavy-ball momentum: measure, do not "
                    f"use the formula)" if case["kind"] != "heavy ball" and abs(got - theory) < 0.01 * theory else "")
            raise Wrong(f"the boundary is {got:.6g}, but the step converges up to lr = {expected:.6g}, to within 1 %"
                        + more)


q1, q2, q3 = MomentumStep(), AdamStep(), MeasuredBoundary()
EXERCISE = Exercise("ex11", "Optimisers: momentum, Adam, and where momentum stops converging",
                    "ex11_optimisers.ipynb", "11_optimisers.ipynb", [q1, q2, q3])
hint, solution = EXERCISE.hint, EXERCISE.solution
