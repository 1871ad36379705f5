"""Checks for exercise 14: one LSTM step forward and backward, and BPTT through a sequence, by hand.

The forward step is compared with the engine's ``bp.gates.lstm_step_forward`` (gate order i, f, g, o);
the backward step with central differences of that forward step (C = Σ dh ⊙ h + Σ dc ⊙ c); the BPTT loop
with the engine's ``bp.nn.LSTM`` (whose BPTT the test suite checks against central differences and
PyTorch), on random shapes including one unit, one example and one time step.
"""
from __future__ import annotations

import numpy as np

from ..gates import LSTM
from ..gates import lstm_step_forward as _engine_step
from ._core import Exercise, Question, arr, close, get_arr, numeric_grad, unpack

__all__ = ["q1", "q2", "q3", "hint", "solution", "EXERCISE"]

STEP_SHAPES = [(3, 2, 4), (1, 1, 1), (5, 3, 2), (2, 4, 3)]          # (N, n_in, n)
SEQ_SHAPES = [(2, 4, 2, 3), (1, 1, 1, 1), (3, 6, 3, 2), (2, 3, 1, 4)]  # (N, T, n_in, n)


def _step_inputs(case):
    rng = np.random.default_rng(case["seed"])
    N, n_in, n = case["shape"]
    return {"x": rng.standard_normal((N, n_in)), "h_prev": rng.standard_normal((N, n)),
            "c_prev": rng.standard_normal((N, n)), "W_xh": 0.8 * rng.standard_normal((4 * n, n_in)),
            "W_hh": 0.8 * rng.standard_normal((4 * n, n)), "b": rng.standard_normal(4 * n),
            "dh": rng.standard_normal((N, n)), "dc": rng.standard_normal((N, n))}


def _step_cases(rng):
    return [{"seed": int(rng.integers(2**31)), "shape": s} for s in STEP_SHAPES]


_WEIGHTS = ("W_xh", "W_hh", "b")


class StepForward(Question):
    name, funcs, points = "q1", ("lstm_step_forward",), 2
    title = "lstm_step_forward"
    hints = ("a = x W_xhᵀ + h_prev W_hhᵀ + b has 4n columns: the blocks i, f, g, o in that order, n columns each.",
             "i, f, o go through the sigmoid, g through tanh; then c = f ⊙ c_prev + i ⊙ g and h = o ⊙ tanh(c).",
             "Keep in the cache what backward needs: x, h_prev, c_prev, the four gates, tanh(c) and the weights "
             "(backward gets only dh, dc and the cache).")

    def cases(self, rng):
        return _step_cases(rng)

    def inputs(self, case):
        inp = _step_inputs(case)
        del inp["dh"], inp["dc"]
        return inp

    def call(self, inputs, lstm_step_forward):
        h, c, _ = unpack(lstm_step_forward(*(inputs[k] for k in ("x", "h_prev", "c_prev") + _WEIGHTS)),
                         ("h", "c", "cache"), "lstm_step_forward")
        return {"h": arr(h, "h"), "c": arr(c, "c")}

    def judge(self, case, inputs, out):
        h, c, _ = _engine_step(*(inputs[k] for k in ("x", "h_prev", "c_prev") + _WEIGHTS))
        close(get_arr(out, "c", c.shape), c, "c (the new cell state)", rtol=1e-9, atol=1e-12)
        close(get_arr(out, "h", h.shape), h, "h", rtol=1e-9, atol=1e-12)


STEP_GRADS = ("dx", "dh_prev", "dc_prev", "dW_xh", "dW_hh", "db")


class StepBackward(Question):
    name, funcs, points = "q2", ("lstm_step_forward", "lstm_step_backward"), 3
    title = "lstm_step_backward"
    hints = ("Two gradients reach c_t: dc from the next step, and dh ⊙ o ⊙ (1 − tanh²c) through h = o ⊙ tanh(c). "
             "Add them first.",
             "With that total dc: da_i = dc ⊙ g ⊙ i(1−i), da_f = dc ⊙ c_prev ⊙ f(1−f), da_g = dc ⊙ i ⊙ (1−g²), "
             "da_o = dh ⊙ tanh(c) ⊙ o(1−o); stack them as (N, 4n) in the order i, f, g, o.",
             "dc_prev = dc ⊙ f (the cell path); dx = da W_xh, dh_prev = da W_hh, dW_xh = daᵀ x, dW_hh = daᵀ h_prev, "
             "db = Σ_n da.")

    def cases(self, rng):
        return _step_cases(rng)

    def inputs(self, case):
        return _step_inputs(case)

    def call(self, inputs, lstm_step_forward, lstm_step_backward):
        _, _, cache = unpack(lstm_step_forward(*(inputs[k] for k in ("x", "h_prev", "c_prev") + _WEIGHTS)),
                             ("h", "c", "cache"), "lstm_step_forward")
        grads = unpack(lstm_step_backward(inputs["dh"], inputs["dc"], cache), STEP_GRADS, "lstm_step_backward")
        return {k: arr(v, k) for k, v in zip(STEP_GRADS, grads)}

    def judge(self, case, inputs, out):
        names = ("x", "h_prev", "c_prev") + _WEIGHTS
        dh, dc = inputs["dh"], inputs["dc"]

        def loss(**changed):
            args = [changed.get(k, inputs[k]) for k in names]
            h, c, _ = _engine_step(*args)
            return float(np.sum(dh * h) + np.sum(dc * c))
        for g, k in zip(STEP_GRADS, names):
            expected = numeric_grad(lambda v, k=k: loss(**{k: v}), inputs[k])
            close(get_arr(out, g, inputs[k].shape), expected, g, rtol=1e-5, atol=1e-7)


def _seq_inputs(case):
    rng = np.random.default_rng(case["seed"])
    N, T, n_in, n = case["shape"]
    return {"X": rng.standard_normal((N, T, n_in)), "h0": rng.standard_normal((N, n)),
            "c0": rng.standard_normal((N, n)), "W_xh": 0.8 * rng.standard_normal((4 * n, n_in)),
            "W_hh": 0.8 * rng.standard_normal((4 * n, n)), "b": rng.standard_normal(4 * n),
            "dH": rng.standard_normal((N, T, n))}


SEQ_GRADS = ("dX", "dh0", "dc0", "dW_xh", "dW_hh", "db")


class BPTT(Question):
    name, funcs, points = "q3", ("lstm_bptt",), 3
    title = "lstm_bptt"
    hints = ("First run the forward loop over t = 1..T with your lstm_step_forward, keeping every cache.",
             "Then walk t = T..1: the gradient into h_t is dH[:, t] plus dh_prev from step t+1; the gradient into "
             "c_t is dc_prev from step t+1 (zero after the last step).",
             "The weights are shared by every step, so dW_xh, dW_hh and db are sums of the per-step gradients; "
             "dh0 and dc0 are the dh_prev and dc_prev of step 1.")

    def cases(self, rng):
        return [{"seed": int(rng.integers(2**31)), "shape": s} for s in SEQ_SHAPES]

    def inputs(self, case):
        return _seq_inputs(case)

    def call(self, inputs, lstm_bptt):
        grads = unpack(lstm_bptt(*(inputs[k] for k in ("X", "h0", "c0", "W_xh", "W_hh", "b", "dH"))),
                       SEQ_GRADS, "lstm_bptt")
        return {k: arr(v, k) for k, v in zip(SEQ_GRADS, grads)}

    def judge(self, case, inputs, out):
        N, T, n_in, n = case["shape"]
        lstm = LSTM(n_in, n, forget_bias=0.0)
        for k in ("W_xh", "W_hh", "b"):
            getattr(lstm, k).data[...] = inputs[k]
        lstm(inputs["X"], inputs["h0"], inputs["c0"])
        dX = lstm.backward(inputs["dH"])
        expected = {"dX": dX, "dh0": lstm.dh0, "dc0": lstm.dc0, "dW_xh": lstm.W_xh.grad, "dW_hh": lstm.W_hh.grad,
                    "db": lstm.b.grad}
        for k in SEQ_GRADS:
            close(get_arr(out, k, expected[k].shape), expected[k], k, rtol=1e-7, atol=1e-10)


q1, q2, q3 = StepForward(), StepBackward(), BPTT()
EXERCISE = Exercise("ex14", "LSTM forward and backward through time, by hand", "ex14_gates.ipynb", "14_gates.ipynb",
                    [q1, q2, q3])
hint, solution = EXERCISE.hint, EXERCISE.solution
