"""Checks for exercise 12: regularisation — penalty gradients, inverted dropout, early stopping.

The penalty gradients are compared with central differences of the engine's ``l2_penalty`` and
``l1_penalty`` (weights kept away from the kink of |w|, plus exact zeros where the course's
sign(0) = 0 applies), on top of gradients the parameters already hold.  Dropout is judged by its
defining properties: every entry of Y/X is 0 or 1/(1 − p), the kept fraction is 1 − p (within
5 standard deviations on 10,000 entries), the same generator gives the same mask, and the
backward pass is the derivative of Y = X ⊙ M with that very mask.  The early-stopping rule is
compared with the engine's ``EarlyStopping`` run over the same validation curve.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..regularization import EarlyStopping, l1_penalty, l2_penalty
from ._core import Exercise, Question, Wrong, arr, close, digest, get_arr, get_num, num, numeric_grad, unpack

__all__ = ["q1", "q2", "q3", "q4", "hint", "solution", "EXERCISE"]


class PenaltyGrads(Question):
    name, funcs, points = "q1", ("add_penalty_grads",), 3
    mutable = ("params",)
    hints = ("The total loss is C + (α₂/2) Σ‖W‖² + α₁ Σ|W| (α₂ = lam2, α₁ = lam1), summed over the weight matrices "
             "only (parameters with p.data.ndim ≥ 2): biases are not penalised.",
             "Differentiate each term: the L2 term gives α₂·W, the L1 term α₁·sign(W) (with sign(0) = 0). They are "
             "added to the gradient the data loss already put in p.grad.",
             "For each p with p.data.ndim >= 2: p.grad += lam2 * p.data + lam1 * np.sign(p.data); add up the "
             "penalty itself and return it.")

    def cases(self, rng):
        spec = [(1e-2, 0.0), (0.0, 1e-2), (0.1, 0.05), (1.0, 0.3)]
        return [{"seed": int(rng.integers(2**31)), "lam2": a, "lam1": b} for a, b in spec]

    @staticmethod
    def _weights(case):
        rng = np.random.default_rng(case["seed"])
        shapes = [(4, 3), (4,), (2, 4), (2,)]
        data = []
        for s in shapes:
            w = rng.uniform(0.01, 2.0, s) * rng.choice([-1.0, 1.0], s)     # away from the kink of |w| ...
            if len(s) == 2:
                w[0, 0] = 0.0                                                # ... except exact zeros
            data.append(w)
        grads = [rng.standard_normal(s) for s in shapes]
        return data, grads

    def inputs(self, case):
        params = []
        for w, g in zip(*self._weights(case)):
            p = nn.Parameter(w.copy())
            p.grad[...] = g
            params.append(p)
        return {"params": params, "lam2": case["lam2"], "lam1": case["lam1"]}

    def describe(self, case, inputs):
        return f"W (4, 3), b (4,), W (2, 4), b (2,) holding gradients, lam2 = {case['lam2']:g}, lam1 = {case['lam1']:g}"

    def call(self, inputs, add_penalty_grads):
        params = inputs["params"]
        before = [p.data.copy() for p in params]
        penalty = add_penalty_grads(params, inputs["lam2"], inputs["lam1"])
        out = {f"grad{i}": arr(p.grad, f"parameter {i}'s grad") for i, p in enumerate(params)}
        out["penalty"] = num(penalty, "the penalty")
        out["data_kept"] = num(int(all(np.array_equal(b, p.data) for b, p in zip(before, params))), "data")
        return out

    def judge(self, case, inputs, out):
        data, grads = self._weights(case)
        lam2, lam1 = case["lam2"], case["lam1"]
        weights = [nn.Parameter(w.copy()) for w in data]

        def total(i, value):
            saved = weights[i].data.copy()
            weights[i].data[...] = value
            try:
                mats = [p for p in weights if p.data.ndim >= 2]
                return l2_penalty(mats, lam2) + l1_penalty(mats, lam1)
            finally:
                weights[i].data[...] = saved

        if get_num(out, "data_kept") != 1:
            raise Wrong("add_penalty_grads changed the weights; it should only add to p.grad")
        expected_penalty = total(0, data[0])
        close(get_num(out, "penalty"), expected_penalty, "the penalty", rtol=1e-10, atol=1e-12)
        for i, (w, g) in enumerate(zip(data, grads)):
            got = get_arr(out, f"grad{i}", w.shape, f"parameter {i}'s grad")
            kind = "weight matrix" if w.ndim >= 2 else "bias"
            expected = g + numeric_grad(lambda v, i=i: total(i, v), w)
            if np.allclose(got, expected - g, rtol=1e-6, atol=1e-8) and not np.allclose(g, 0):
                raise Wrong(f"parameter {i}'s grad ({kind}) holds only the penalty's gradient: add it to what "
                            f"p.grad already holds (+=, not =)")
            close(got, expected, f"parameter {i}'s grad ({kind}) after adding the penalty", rtol=1e-6, atol=1e-8)


def _dropout_case(case):
    rng = np.random.default_rng(case["seed"])
    X = rng.standard_normal(case["shape"])
    X[X == 0] = 1.0                                       # Y / X must be defined everywhere
    return X


def _mask_from(Y, X, p, what="Y"):
    """M = Y / X, after checking each entry is 0 or 1/(1 − p)."""
    M = Y / X
    keep = 1.0 / (1.0 - p)
    bad = ~(np.isclose(M, 0.0, atol=1e-12) | np.isclose(M, keep, rtol=1e-12))
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        unscaled = np.isclose(M, 1.0, rtol=1e-12) | np.isclose(M, 0.0, atol=1e-12)
        why = (" — inverted dropout scales the kept units by 1/(1 − p), so that E[Y] = X" if unscaled.all() and p
               else "")
        raise Wrong(f"{what}[{', '.join(map(str, i))}] / X[{', '.join(map(str, i))}] is {M[i]:.6g}; every entry of "
                    f"Y should be 0 (dropped) or X/(1 − p) = X·{keep:.6g} (kept){why}")
    return np.where(np.isclose(M, 0.0, atol=1e-12), 0.0, keep)


class DropoutForward(Question):
    name, funcs, points = "q2", ("dropout_forward",), 2
    hints = ("Each entry is dropped with probability p, independently; a kept entry is divided by 1 − p (inverted "
             "dropout), so that the expected output equals X and nothing changes at test time.",
             "Draw U from rng.random(X.shape) (only from `rng`); the mask is M = (U >= p) / (1 − p); Y = X ⊙ M.",
             "Return (X * M, cache) with the cache holding M: backward needs the same mask, not a new one.")

    def cases(self, rng):
        spec = [((100, 100), 0.5), ((50, 200), 0.2), ((10000,), 0.8), ((3, 4), 0.0)]
        return [{"seed": int(rng.integers(2**31)), "shape": list(s), "p": p} for s, p in spec]

    def inputs(self, case):
        return {"X": _dropout_case(case), "p": case["p"], "seed": case["seed"] + 1}

    def describe(self, case, inputs):
        return f"X {inputs['X'].shape}, p = {case['p']:g}"

    def call(self, inputs, dropout_forward):
        X, p, seed = inputs["X"], inputs["p"], inputs["seed"]
        Y, _ = unpack(dropout_forward(X, p, np.random.default_rng(seed)), ("Y", "cache"), "dropout_forward")
        again, _ = unpack(dropout_forward(X, p, np.random.default_rng(seed)), ("Y", "cache"), "dropout_forward")
        other, _ = unpack(dropout_forward(X, p, np.random.default_rng(seed + 1)), ("Y", "cache"), "dropout_forward")
        return {"Y": arr(Y, "Y"), "again": digest(np.asarray(again, dtype=np.float64)),
                "other": digest(np.asarray(other, dtype=np.float64))}

    def judge(self, case, inputs, out):
        X, p = inputs["X"], case["p"]
        Y = get_arr(out, "Y", X.shape)
        M = _mask_from(Y, X, p)
        kept = float(np.mean(M > 0))
        if p == 0:
            if kept != 1.0:
                raise Wrong(f"with p = 0 nothing is dropped, but {1 - kept:.1%} of the entries were")
        else:
            sd = math.sqrt(p * (1 - p) / X.size)
            if abs(kept - (1 - p)) > 5 * sd:
                raise Wrong(f"{kept:.1%} of the entries were kept, expected 1 − p = {1 - p:.0%} "
                            f"(each entry is dropped with probability p)")
        if out.get("again") != digest(Y):
            raise Wrong("two calls with generators of the same seed dropped different entries; draw only from `rng`")
        if p > 0 and out.get("other") == digest(Y):
            raise Wrong("a generator with another seed dropped the same entries; draw the mask from `rng`")


class DropoutBackward(Question):
    name, funcs, points = "q3", ("dropout_forward", "dropout_backward"), 2
    hints = ("Y = X ⊙ M with M fixed once drawn: the derivative of each Y entry with respect to its X entry is that "
             "entry of M.",
             "The backward pass must use the mask the forward pass drew (keep it in the cache), scaling included.",
             "dX = dY ⊙ M, with M taken from the cache — never a freshly drawn mask.")

    def cases(self, rng):
        spec = [((6, 5), 0.5), ((4, 3, 2), 0.3), ((20,), 0.9), ((2, 2), 0.0)]
        return [{"seed": int(rng.integers(2**31)), "shape": list(s), "p": p} for s, p in spec]

    def inputs(self, case):
        dY = np.random.default_rng(case["seed"] + 2).standard_normal(case["shape"])
        return {"X": _dropout_case(case), "dY": dY, "p": case["p"], "seed": case["seed"] + 1}

    def describe(self, case, inputs):
        return f"X {inputs['X'].shape}, p = {case['p']:g}"

    def call(self, inputs, dropout_forward, dropout_backward):
        Y, cache = unpack(dropout_forward(inputs["X"], inputs["p"], np.random.default_rng(inputs["seed"])),
                          ("Y", "cache"), "dropout_forward")
        return {"Y": arr(Y, "Y"), "dX": arr(dropout_backward(inputs["dY"], cache), "dX")}

    def judge(self, case, inputs, out):
        X, dY = inputs["X"], inputs["dY"]
        M = _mask_from(get_arr(out, "Y", X.shape), X, case["p"], what="Y (question 2 first)")
        # L(X) = Σ dY ⊙ (X ⊙ M) with this mask frozen: its gradient, by central differences
        expected = numeric_grad(lambda X_: float(np.sum(dY * X_ * M)), X)
        close(get_arr(out, "dX", X.shape), expected, "dX", rtol=1e-7, atol=1e-9)


def _curves(rng):
    """Validation curves: noisy U-shapes, a plateau, a NaN, one that improves to the end."""
    t = np.arange(1, 31)
    u = 1.0 / t + 0.004 * (t - 12).clip(0) ** 1.2 + 0.01 * rng.standard_normal(30)
    plateau = np.r_[np.linspace(1.0, 0.5, 8), np.full(8, 0.5), np.linspace(0.5, 0.3, 6)]
    with_nan = np.r_[np.linspace(1, 0.6, 6), [np.nan], np.linspace(0.61, 0.7, 10)]
    falling = np.linspace(2.0, 0.1, 15) + 0.001 * rng.standard_normal(15)
    tiny = 0.5 - 1e-4 * np.arange(12)                # improves, but each time by less than min_delta
    return [(u, 5, 0.0), (plateau, 3, 0.0), (plateau, 10, 0.0), (with_nan, 2, 0.0), (falling, 4, 0.0),
            (tiny, 3, 5e-4), (u, 1, 0.0)]


class EarlyStop(Question):
    name, funcs, points = "q4", ("early_stopping",), 2
    hints = ("Walk through the curve epoch by epoch (epochs count from 1), remembering the best loss so far and "
             "how many epochs have passed without an improvement.",
             "An epoch improves only when its loss is below best − min_delta (strictly; NaN never improves). "
             "Stop at the first epoch where `patience` epochs in a row have not improved.",
             "Return (stop_epoch, best_epoch): stop_epoch is len(val_losses) when patience never runs out; "
             "best_epoch is the epoch whose weights to restore.")

    def cases(self, rng):
        seed = int(rng.integers(2**31))
        return [{"seed": seed, "curve": i} for i in range(len(_curves(np.random.default_rng(seed))))]

    def inputs(self, case):
        curve, patience, min_delta = _curves(np.random.default_rng(case["seed"]))[case["curve"]]
        return {"val_losses": curve, "patience": patience, "min_delta": min_delta}

    def describe(self, case, inputs):
        return (f"a curve of {len(inputs['val_losses'])} epochs, patience = {inputs['patience']}, "
                f"min_delta = {inputs['min_delta']:g}")

    def call(self, inputs, early_stopping):
        losses = [float(v) for v in inputs["val_losses"]]
        stop, best = unpack(early_stopping(losses, inputs["patience"], inputs["min_delta"]),
                            ("stop_epoch", "best_epoch"), "early_stopping")
        return {"stop": num(stop, "stop_epoch"), "best": num(best, "best_epoch")}

    def judge(self, case, inputs, out):
        stopper = EarlyStopping(patience=inputs["patience"], min_delta=inputs["min_delta"])
        stop = len(inputs["val_losses"])
        for epoch, v in enumerate(inputs["val_losses"], start=1):
            if stopper(v):
                stop = epoch
                break
        got_stop, got_best = get_num(out, "stop", "stop_epoch"), get_num(out, "best", "best_epoch")
        if got_best != stopper.best_epoch:
            raise Wrong(f"best_epoch is {got_best:g}, expected {stopper.best_epoch} (epochs count from 1)")
        if got_stop != stop:
            raise Wrong(f"stop_epoch is {got_stop:g}, expected {stop}")


q1, q2, q3, q4 = PenaltyGrads(), DropoutForward(), DropoutBackward(), EarlyStop()
EXERCISE = Exercise("ex12", "Regularisation: penalty gradients, inverted dropout, early stopping",
                    "ex12_regularisation.ipynb", "12_regularisation.ipynb", [q1, q2, q3, q4])
hint, solution = EXERCISE.hint, EXERCISE.solution
