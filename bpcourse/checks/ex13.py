"""Checks for exercise 13: backpropagation through time, by hand, and clipping by global norm.

One step's backward is compared with central differences of the engine's ``bp.nn.RNN`` run for
a single step from the given h_prev; BPTT over a sequence with central differences of the same
RNN over the whole sequence (every copy of the shared weights moves together, so the gradients
must be summed over time) and with its own ``backward``; clipping with its defining properties
and the engine's ``bp.optim.clip_grad_norm`` on copies of the same gradients.
"""
from __future__ import annotations

import numpy as np

from .. import nn, optim
from ._core import Exercise, Question, Wrong, arr, close, get_arr, get_num, num, numeric_grad, unpack

__all__ = ["q1", "q2", "q3", "hint", "solution", "EXERCISE"]

_PARAMS = ("W_xh", "W_hh", "b")


def _rnn(W_xh, W_hh, b):
    """The engine's tanh RNN holding the given weights."""
    rnn = nn.RNN(W_xh.shape[1], W_xh.shape[0])
    rnn.W_xh.data[...], rnn.W_hh.data[...], rnn.b.data[...] = W_xh, W_hh, b
    return rnn


def _weights(rng, n_in, n_h):
    return {"W_xh": rng.standard_normal((n_h, n_in)) / np.sqrt(n_in),
            "W_hh": 0.9 * rng.standard_normal((n_h, n_h)) / np.sqrt(n_h), "b": 0.1 * rng.standard_normal(n_h)}


class StepBackward(Question):
    name, funcs, points = "q1", ("rnn_step_backward",), 3
    hints = ("One step is a layer with two inputs: z = x W_xhᵀ + h_prev W_hhᵀ + b, h = tanh(z). Go back through "
             "the tanh first.",
             "δ = dh ⊙ (1 − h²). Then each input gets δ times its weight matrix, and each weight matrix δᵀ times "
             "its input — exactly a linear layer's BP3/BP4, twice.",
             "dx = δ W_xh, dh_prev = δ W_hh, dW_xh = δᵀ x, dW_hh = δᵀ h_prev, db = δ summed over the batch.")

    def cases(self, rng):
        return [{"seed": int(rng.integers(2**31)), "N": n, "n_in": i, "n_h": h}
                for n, i, h in ((1, 1, 1), (3, 2, 4), (5, 4, 3), (2, 3, 3))]

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        N, n_in, n_h = case["N"], case["n_in"], case["n_h"]
        return dict(_weights(rng, n_in, n_h), dh=rng.standard_normal((N, n_h)), x=rng.standard_normal((N, n_in)),
                    h_prev=rng.standard_normal((N, n_h)))

    def call(self, inputs, rnn_step_backward):
        names = ("dx", "dh_prev", "dW_xh", "dW_hh", "db")
        result = rnn_step_backward(*(inputs[k] for k in ("dh", "x", "h_prev", "W_xh", "W_hh", "b")))
        return {k: arr(v, k) for k, v in zip(names, unpack(result, names, "rnn_step_backward"))}

    def judge(self, case, inputs, out):
        dh = inputs["dh"]
        value = {k: inputs[k] for k in ("x", "h_prev", *_PARAMS)}

        def loss(name, v):
            p = dict(value, **{name: v})
            return float(np.sum(dh * _rnn(p["W_xh"], p["W_hh"], p["b"]).forward(p["x"][:, None, :], p["h_prev"])[:, 0]))

        for name in ("W_xh", "W_hh", "b", "h_prev", "x"):
            key = "dh_prev" if name == "h_prev" else "d" + name
            close(get_arr(out, key, value[name].shape), numeric_grad(lambda v, name=name: loss(name, v), value[name]), key,
                  rtol=1e-6, atol=1e-8)


class BPTT(Question):
    name, funcs, points = "q2", ("bptt",), 4
    hints = ("Walk back from t = T to 1. h_t reaches the loss along two paths, directly (dH[:, t]) and through "
             "h_{t+1}: dh_t = dH[:, t] + (what step t+1 sent back to h_t). The paths add.",
             "Use question 1 for each step; it needs x_t and h_{t−1}, so run the forward pass first and keep every "
             "h_t (with h_0 in front).",
             "The same W_xh, W_hh, b are used at every step: their gradients are the SUM of every step's "
             "(+=, not =). What the last step back sends to h_{0} is dh0.")

    def cases(self, rng):
        return [{"seed": int(rng.integers(2**31)), "N": n, "T": T, "n_in": i, "n_h": h}
                for n, T, i, h in ((2, 4, 3, 5), (1, 1, 2, 2), (3, 6, 2, 3), (4, 3, 1, 4))]

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        N, T, n_in, n_h = case["N"], case["T"], case["n_in"], case["n_h"]
        return dict(_weights(rng, n_in, n_h), X=rng.standard_normal((N, T, n_in)), h0=rng.standard_normal((N, n_h)),
                    dH=rng.standard_normal((N, T, n_h)))

    def describe(self, case, inputs):
        return f"X {inputs['X'].shape} (N, T, n_in), {case['n_h']} hidden units"

    def call(self, inputs, bptt):
        names = ("dW_xh", "dW_hh", "db", "dh0")
        result = bptt(*(inputs[k] for k in ("X", "h0", "W_xh", "W_hh", "b", "dH")))
        return {k: arr(v, k) for k, v in zip(names, unpack(result, names, "bptt"))}

    def judge(self, case, inputs, out):
        X, h0, dH = inputs["X"], inputs["h0"], inputs["dH"]
        rnn = _rnn(inputs["W_xh"], inputs["W_hh"], inputs["b"])
        rnn.zero_grad()
        rnn.forward(X, h0)
        rnn.backward(dH)
        engine = {"dW_xh": rnn.W_xh.grad, "dW_hh": rnn.W_hh.grad, "db": rnn.b.grad, "dh0": rnn.dh0}
        got = {k: get_arr(out, k, v.shape) for k, v in engine.items()}
        # the same check by central differences for W_hh, the weight shared along the time axis
        value = {k: inputs[k] for k in _PARAMS}

        def loss(v):
            return float(np.sum(dH * _rnn(value["W_xh"], v, value["b"]).forward(X, h0)))

        numeric = numeric_grad(loss, value["W_hh"])
        if X.shape[1] > 1 and np.allclose(got["dW_hh"], self._last_step_only(inputs), rtol=1e-6, atol=1e-8):
            raise Wrong("dW_hh holds only one time step's gradient: the shared weights' gradients add up over "
                        "all the steps (+=, not =)")
        close(got["dW_hh"], numeric, "dW_hh", rtol=1e-6, atol=1e-8)
        for k in ("dW_xh", "db", "dh0"):
            close(got[k], engine[k], k, rtol=1e-7, atol=1e-10)

    @staticmethod
    def _last_step_only(inputs):
        """dW_hh as it comes out when each step *overwrites* it: the first step's term δ_1ᵀ h_0 alone."""
        rnn = _rnn(inputs["W_xh"], inputs["W_hh"], inputs["b"])
        rnn.forward(inputs["X"], inputs["h0"])
        _, dh = rnn._bptt(inputs["dH"], accumulate=False)
        _, Z, Hs = rnn._cache
        delta_1 = dh[:, 1] * rnn.fprime(Z[:, 0])
        return delta_1.T @ Hs[:, 0]


class ClipGradNorm(Question):
    name, funcs, points = "q3", ("clip_grad_norm",), 2
    mutable = ("params",)
    hints = ("The norm is global: the square root of the sum of the squares of ALL the gradient entries, of every "
             "parameter together.",
             "If that norm is above max_norm, multiply every gradient by the same factor max_norm / norm, in place "
             "(p.grad *= ...), so the whole gradient keeps its direction.",
             "Return the norm from before clipping (as PyTorch's clip_grad_norm_ does); change nothing when the norm "
             "is already at most max_norm.")

    def cases(self, rng):
        return [{"seed": int(rng.integers(2**31)), "scale": s, "max_norm": c}
                for s, c in ((10.0, 1.0), (0.1, 5.0), (3.0, 2.0), (100.0, 0.5))]

    @staticmethod
    def _grads(case):
        rng = np.random.default_rng(case["seed"])
        return [case["scale"] * rng.standard_normal(s) * w for s, w in (((4, 3), 1.0), ((4,), 0.1), ((3, 4), 3.0))]

    def inputs(self, case):
        params = []
        for g in self._grads(case):
            p = nn.Parameter(np.ones_like(g))
            p.grad[...] = g
            params.append(p)
        return {"params": params, "max_norm": case["max_norm"]}

    def describe(self, case, inputs):
        norm = np.sqrt(sum(float((g * g).sum()) for g in self._grads(case)))
        return f"3 parameters, global gradient norm {norm:.4g}, max_norm = {case['max_norm']:g}"

    def call(self, inputs, clip_grad_norm):
        params = inputs["params"]
        total = clip_grad_norm(params, inputs["max_norm"])
        out = {f"grad{i}": arr(p.grad, f"parameter {i}'s grad") for i, p in enumerate(params)}
        out["norm"] = num(total, "the returned norm")
        return out

    def judge(self, case, inputs, out):
        grads = self._grads(case)
        params = []
        for g in grads:
            p = nn.Parameter(np.ones_like(g))
            p.grad[...] = g
            params.append(p)
        before = optim.clip_grad_norm(params, case["max_norm"])
        close(get_num(out, "norm", "the returned norm"), before, "the returned norm (before clipping)",
              rtol=1e-10, atol=1e-12)
        got = [get_arr(out, f"grad{i}", g.shape, f"parameter {i}'s grad") for i, g in enumerate(grads)]
        after = np.sqrt(sum(float((g * g).sum()) for g in got))
        ratios = [float(np.vdot(a, g) / np.vdot(g, g)) for a, g in zip(got, grads)]
        if max(ratios) - min(ratios) > 1e-6 * max(abs(r) for r in ratios):
            raise Wrong(f"the parameters' gradients were scaled by different factors ({', '.join(f'{r:.4g}' for r in ratios)}): "
                        f"clip by the global norm of all of them together, with one factor")
        if not np.isclose(after, min(before, case["max_norm"]), rtol=1e-5):
            raise Wrong(f"after clipping the global gradient norm is {after:.6g}, expected min(norm, max_norm) = "
                        f"{min(before, case['max_norm']):.6g}")
        for i, (a, p) in enumerate(zip(got, params)):
            close(a, p.grad, f"parameter {i}'s grad after clipping", rtol=1e-5, atol=1e-12)


q1, q2, q3 = StepBackward(), BPTT(), ClipGradNorm()
EXERCISE = Exercise("ex13", "Backpropagation through time, by hand, and clipping", "ex13_bptt.ipynb",
                    "13_bptt.ipynb", [q1, q2, q3])
hint, solution = EXERCISE.hint, EXERCISE.solution
