"""Checks for exercise 15: a convolution's forward and backward pass, and max pooling's backward.

The forward pass is compared with the engine's im2col convolution (``bpcourse.conv``) on shapes
with non-square kernels, stride 2 and padding; the learner's dX, dW, db and the max-pool dX with
central differences of the engine's forward passes.  Cases are small, so a solution written with
plain Python loops answers well within the grader's time.
"""
from __future__ import annotations

import numpy as np

from ..conv import MaxPool2d, conv2d_im2col
from ._core import Exercise, Question, Wrong, arr, close, get_arr, numeric_grad, unpack

__all__ = ["q1", "q2", "q3", "q4", "hint", "solution", "EXERCISE"]

# (N, C, H, W, F, kh, kw, stride, padding)
SHAPES = [(1, 1, 4, 4, 1, 3, 3, 1, 0), (2, 2, 5, 4, 3, 3, 2, 1, 1), (2, 3, 7, 6, 2, 3, 3, 2, 1),
          (1, 2, 5, 5, 2, 2, 3, 2, 0)]


def _reference(X, W, b, stride, padding):
    return conv2d_im2col(X, W, b, stride, padding)[0]


def _cases(rng):
    return [{"seed": int(rng.integers(2**31)), "shape": s} for s in SHAPES]


def _inputs(case):
    N, C, H, W_, F, kh, kw, s, p = case["shape"]
    rng = np.random.default_rng(case["seed"])
    X = rng.standard_normal((N, C, H, W_))
    W = rng.standard_normal((F, C, kh, kw))
    b = rng.standard_normal(F)
    Ho, Wo = (H + 2 * p - kh) // s + 1, (W_ + 2 * p - kw) // s + 1
    return {"X": X, "W": W, "b": b, "stride": s, "padding": p, "delta": rng.standard_normal((N, F, Ho, Wo))}


class Forward(Question):
    name, funcs, points = "q1", ("conv2d_forward",), 2
    title = "conv2d_forward"
    hints = ("Pad X with `padding` zeros on both sides of the two image axes (np.pad), then slide the kernel.",
             "Output (n, f, i, j) sees the window Xp[n, :, s·i : s·i + kh, s·j : s·j + kw]; the output has "
             "H' = (H + 2p − kh) // s + 1 rows.",
             "Each output is the sum over c, u, v of W[f] times its window, entry by entry, plus the bias b[f]: a "
             "cross-correlation, so do not flip the kernel.")

    def cases(self, rng):
        return _cases(rng)

    def inputs(self, case):
        inp = _inputs(case)
        del inp["delta"]
        return inp

    def describe(self, case, inputs):
        return (f"X {inputs['X'].shape}, W {inputs['W'].shape}, stride {inputs['stride']}, "
                f"padding {inputs['padding']}")

    def call(self, inputs, conv2d_forward):
        Z = conv2d_forward(inputs["X"], inputs["W"], inputs["b"], inputs["stride"], inputs["padding"])
        return {"Z": arr(Z, "Z")}

    def judge(self, case, inputs, out):
        Z = _reference(inputs["X"], inputs["W"], inputs["b"], inputs["stride"], inputs["padding"])
        close(get_arr(out, "Z", Z.shape), Z, "Z", rtol=1e-8, atol=1e-10)


class Backward(Question):
    funcs = ("conv2d_backward",)
    graded = ("dX", "dW", "db")

    def cases(self, rng):
        return _cases(rng)

    def inputs(self, case):
        return _inputs(case)

    def describe(self, case, inputs):
        return (f"X {inputs['X'].shape}, W {inputs['W'].shape}, delta {inputs['delta'].shape}, "
                f"stride {inputs['stride']}, padding {inputs['padding']}")

    def call(self, inputs, conv2d_backward):
        names = ("dX", "dW", "db")
        grads = unpack(conv2d_backward(inputs["X"], inputs["W"], inputs["delta"], inputs["stride"],
                                       inputs["padding"]), names, "conv2d_backward")
        return {k: arr(v, k) for k, v in zip(names, grads) if k in self.graded}

    def numeric(self, inputs, name):
        X, W, b, delta, s, p = (inputs[k] for k in ("X", "W", "b", "delta", "stride", "padding"))
        L = lambda X_, W_, b_: float(np.sum(delta * _reference(X_, W_, b_, s, p)))
        return {"dX": lambda: numeric_grad(lambda v: L(v, W, b), X),
                "dW": lambda: numeric_grad(lambda v: L(X, v, b), W),
                "db": lambda: numeric_grad(lambda v: L(X, W, v), b)}[name]()

    def judge(self, case, inputs, out):
        shapes = {"dX": inputs["X"].shape, "dW": inputs["W"].shape, "db": inputs["b"].shape}
        for k in self.graded:
            close(get_arr(out, k, shapes[k]), self.numeric(inputs, k), k, rtol=1e-6, atol=1e-8)


class ParamGrads(Backward):
    name, points = "q2", 2
    title = "conv2d_backward: dW, db"
    graded = ("dW", "db")                   # dX may still be a placeholder (question 3)
    hints = ("The same W[f] and b[f] are used at every output position (i, j) of every example: their "
             "gradients are sums over n, i and j.",
             "db[f] = delta[:, f].sum(); each output (n, f, i, j) adds delta[n, f, i, j] times the window it saw "
             "to dW[f].",
             "dW[f] += delta[n, f, i, j] * Xp[n, :, s·i : s·i + kh, s·j : s·j + kw]  (BP4, summed over positions).")


class InputGrad(Backward):
    name, points = "q3", 3
    title = "conv2d_backward: dX"
    graded = ("dX",)
    hints = ("Work on the padded input: build dXp of Xp's shape, and cut the padding off at the end.",
             "Each output (n, f, i, j) hands delta[n, f, i, j] · W[f] back to the window it read; where windows "
             "overlap the contributions add (+=).",
             "dXp[n, :, s·i : s·i + kh, s·j : s·j + kw] += delta[n, f, i, j] * W[f]; then "
             "dX = dXp[:, :, p : p + H, p : p + W].")


def _pool_cases(rng):
    shapes = [(1, 1, 4, 4, 2), (2, 3, 6, 4, 2), (1, 2, 7, 5, 3), (2, 1, 6, 6, 3)]
    return [{"seed": int(rng.integers(2**31)), "shape": s} for s in shapes]


def _pool_inputs(case):
    N, C, H, W, k = case["shape"]
    rng = np.random.default_rng(case["seed"])
    # distinct values, at least 0.01 apart: no window has a tie, so the gradient is defined
    X = (rng.permutation(N * C * H * W) * 0.01 - 0.5).reshape(N, C, H, W)
    return {"X": X, "dY": rng.standard_normal((N, C, (H - k) // k + 1, (W - k) // k + 1)), "k": k}


class MaxPoolBackward(Question):
    name, funcs, points = "q4", ("maxpool_backward",), 2
    title = "maxpool_backward"
    hints = ("Max pooling is the max gate of notebook 02: only the winner of each window was used.",
             "For each window (n, c, i, j) find the position of its maximum (np.argmax on the window, then "
             "np.unravel_index) and put dY[n, c, i, j] there; every other entry of the window gets 0.",
             "dX = zeros like X; for every window: u, v = np.unravel_index(window.argmax(), (k, k)); "
             "dX[n, c, k·i + u, k·j + v] += dY[n, c, i, j].  Rows/columns that no window covers stay 0.")

    def cases(self, rng):
        return _pool_cases(rng)

    def inputs(self, case):
        return _pool_inputs(case)

    def describe(self, case, inputs):
        return f"X {inputs['X'].shape}, dY {inputs['dY'].shape}, kernel {inputs['k']}x{inputs['k']} (stride {inputs['k']})"

    def call(self, inputs, maxpool_backward):
        return {"dX": arr(maxpool_backward(inputs["X"], inputs["dY"], inputs["k"]), "dX")}

    def judge(self, case, inputs, out):
        X, dY, k = inputs["X"], inputs["dY"], inputs["k"]
        got = get_arr(out, "dX", X.shape)
        numeric = numeric_grad(lambda v: float(np.sum(dY * MaxPool2d(k)(v))), X)
        if np.count_nonzero(got) > dY.size:
            raise Wrong(f"dX has {np.count_nonzero(got)} non-zero entries, but there are only {dY.size} windows: "
                        "each window's gradient goes to its maximum alone")
        close(got, numeric, "dX", rtol=1e-6, atol=1e-8)


q1, q2, q3, q4 = Forward(), ParamGrads(), InputGrad(), MaxPoolBackward()
EXERCISE = Exercise("ex15", "Convolution and max pooling, by hand", "ex15_convolution.ipynb", "15_convolution.ipynb",
                    [q1, q2, q3, q4])
hint, solution = EXERCISE.hint, EXERCISE.solution
