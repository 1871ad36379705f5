"""Checks for exercise 8: vanishing gradients — σ′'s peak, a per-layer ‖δˡ‖ probe, the Jacobian bound.

The peak of a slope is compared with the checker's own central differences of the same function on
a grid ten times finer than any learner needs; per-layer bias-gradient norms with the engine's
``bp.nn`` forward and backward on the same weights; the Jacobian product with the engine's backward
through each (Linear, Sigmoid) pair, and the bound with the spectral norms of Jacobians the checker
measures by central differences of that backward.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..activations import sigmoid
from ._core import Exercise, Question, Wrong, arr, close, get_arr, get_num, num, unpack

__all__ = ["q1", "q2", "q3", "hint", "solution", "EXERCISE"]

# functions whose slope the learner's slope_peak must locate: name -> (f, lo, hi)
_FUNCTIONS = {
    "sigmoid": (sigmoid, -8.0, 8.0),
    "tanh": (np.tanh, -5.0, 5.0),
    "3·sigmoid(2(z − 1))": (lambda z: 3.0 * sigmoid(2.0 * (np.asarray(z, dtype=float) - 1.0)), -4.0, 6.0),
    "softplus": (lambda z: np.logaddexp(0.0, z), -3.0, 2.0),          # slope σ(z): largest at the right end
    "sigmoid(z/3) on [−6, −1]": (lambda z: sigmoid(np.asarray(z, dtype=float) / 3.0), -6.0, -1.0),
}


def _fine_slope(f, lo, hi, n=40_001):
    """The checker's own slope of f on a fine grid (central differences of f itself)."""
    z = np.linspace(lo, hi, n)
    h = 1e-5
    return z, (f(z + h) - f(z - h)) / (2 * h)


class SlopePeak(Question):
    name, funcs, points = "q1", ("slope_peak",), 2
    hints = ("Evaluate the slope f′(z) on a fine grid of z in [lo, hi] (np.linspace) and take the largest.",
             "f′(z) ≈ (f(z + h) − f(z − h)) / 2h with a small h such as 1e-5; f works on whole arrays.",
             "With the slopes s on the grid z: the peak is z[s.argmax()] and the largest slope s.max(). "
             "A grid of 10,001 points is fine enough.")

    def cases(self, rng):
        return [{"function": name} for name in _FUNCTIONS]

    def inputs(self, case):
        return {"function": case["function"]}       # the function itself is not JSON: its name travels

    def describe(self, case, inputs):
        f, lo, hi = _FUNCTIONS[case["function"]]
        return f"f = {case['function']} on [{lo:g}, {hi:g}]"

    def call(self, inputs, slope_peak):
        f, lo, hi = _FUNCTIONS[inputs["function"]]
        z, s = unpack(slope_peak(f, lo, hi), ("z_peak", "slope_max"), "slope_peak")
        return {"z": num(z, "z_peak"), "s": num(s, "slope_max")}

    def judge(self, case, inputs, out):
        f, lo, hi = _FUNCTIONS[case["function"]]
        z_grid, s_grid = _fine_slope(f, lo, hi)
        z, s = get_num(out, "z", "z_peak"), get_num(out, "s", "slope_max")
        if not np.isfinite(z) or not np.isfinite(s):
            raise Wrong(f"slope_peak returned z_peak = {z}, slope_max = {s}")
        best = float(s_grid.max())
        close(s, best, "the largest slope", rtol=1e-3, atol=1e-9)
        if abs(z - z_grid[s_grid.argmax()]) > 2e-3 * (hi - lo):
            raise Wrong(f"z_peak is {z:.6g}, but the slope is largest at z = {z_grid[s_grid.argmax()]:.6g} "
                        f"(there f′ = {best:.6g})")


def _sigmoid_net(Ws, bs):
    """The engine's Linear → Sigmoid stack holding the given weights (the output is a sigmoid too)."""
    layers = []
    for W, b in zip(Ws, bs):
        lin = nn.Linear(W.shape[1], W.shape[0])
        lin.W.data[...], lin.b.data[...] = W, b
        layers += [lin, nn.Sigmoid()]
    return nn.Sequential(*layers)


class DeltaNorms(Question):
    name, funcs, points = "q2", ("delta_norms",), 3
    hints = ("Forward first, keeping every z^l: z^l = a^{l−1} W^lᵀ + b^l, a^l = σ(z^l), with a^0 = X. "
             "Then walk back from the output.",
             "At the output δ^L = dA ⊙ σ′(z^L); one layer down (BP2) δ^l = (δ^{l+1} W^{l+1}) ⊙ σ′(z^l). "
             "Every layer, the output included, has a sigmoid.",
             "∂C/∂b^l sums δ^l over the examples (the rows): the norm asked for is np.linalg.norm(delta.sum(axis=0)) "
             "per layer, listed from layer 1 (next to the input) to layer L.")

    def cases(self, rng):
        sizes = [[6, 5, 5, 5, 3], [4, 4, 4, 4, 4, 4, 2], [3, 7, 1], [8, 6, 6, 6, 6, 4]]
        return [{"seed": int(rng.integers(2**31)), "sizes": s, "N": n} for s, n in zip(sizes, (5, 3, 1, 8))]

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        s = case["sizes"]
        Ws = [rng.standard_normal((o, i)) / np.sqrt(i) for i, o in zip(s[:-1], s[1:])]
        bs = [rng.standard_normal(o) for o in s[1:]]
        return {"Ws": Ws, "bs": bs, "X": rng.standard_normal((case["N"], s[0])),
                "dA": rng.standard_normal((case["N"], s[-1]))}

    def describe(self, case, inputs):
        return f"sigmoid net {case['sizes']}, batch of {case['N']}"

    def call(self, inputs, delta_norms):
        return {"norms": arr(delta_norms(inputs["Ws"], inputs["bs"], inputs["X"], inputs["dA"]),
                             "the list of norms")}

    def judge(self, case, inputs, out):
        net = _sigmoid_net(inputs["Ws"], inputs["bs"])
        net.zero_grad()
        net.forward(inputs["X"])
        net.backward(inputs["dA"])
        expected = np.array([np.linalg.norm(layer.b.grad) for layer in net.layers if isinstance(layer, nn.Linear)])
        got = get_arr(out, "norms", what="the list of norms")
        if got.shape != expected.shape:
            raise Wrong(f"got {got.size} norms, expected {expected.size} (one per layer, 1 to L)")
        close(got, expected, "the norms ‖∂C/∂b^l‖", rtol=1e-7, atol=1e-12)


def _step_back(W, z):
    """The engine's map δ^{l+1} ↦ δ^l through Linear(W^{l+1}) and the Sigmoid of z^l (one example)."""
    lin, act = nn.Linear(W.shape[1], W.shape[0]), nn.Sigmoid()
    lin.W.data[...] = W
    lin.forward(np.zeros((1, W.shape[1])))
    act.forward(z[None, :])
    return lambda d: act.backward(lin.backward(np.asarray(d, dtype=float)[None, :]))[0]


def _measured_jacobian(step, n_in, h=1e-3):
    """Central differences of a (linear) map, column by column."""
    cols = []
    for j in range(n_in):
        e = np.zeros(n_in)
        e[j] = h
        cols.append((step(e) - step(-e)) / (2 * h))
    return np.stack(cols, axis=1)


class JacobianBound(Question):
    name, funcs, points = "q3", ("jacobian_bound",), 3
    hints = ("One step of BP2 for one example is a matrix: δ^l = (J^l)ᵀ δ^{l+1} with the Jacobian "
             "J^l = ∂z^{l+1}/∂z^l = W^{l+1} diag(σ′(z^l)), of shape (n_{l+1}, n_l).",
             "δ^1 = (J^1)ᵀ (J^2)ᵀ ⋯ (J^{L−1})ᵀ δ^L. The size of a matrix as a stretching factor is its spectral "
             "norm, np.linalg.norm(J, 2) (ord=2, not the default Frobenius norm), the same for J and Jᵀ.",
             "Build the list of J^l (Ws[l] is W^{l+2} in the notation: it sits above hidden layer l+1), multiply "
             "their transposes onto δ^L from the right, and bound = product of np.linalg.norm(J, 2) times "
             "np.linalg.norm(delta_L).")

    def cases(self, rng):
        sizes = [[4, 4, 4, 3], [5, 3], [3, 3, 3, 3, 2], [2, 6, 6, 1]]
        return [{"seed": int(rng.integers(2**31)), "sizes": s} for s in sizes]

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        s = case["sizes"]                       # n_1 .. n_L
        Ws = [rng.standard_normal((o, i)) for i, o in zip(s[:-1], s[1:])]   # W^2 .. W^L
        Zs = [1.5 * rng.standard_normal(n) for n in s[:-1]]                 # z^1 .. z^{L−1}
        return {"Ws": Ws, "Zs": Zs, "delta_L": rng.standard_normal(s[-1])}

    def describe(self, case, inputs):
        return f"layer sizes n_1..n_L = {case['sizes']}, one example"

    def call(self, inputs, jacobian_bound):
        d1, bound = unpack(jacobian_bound(inputs["Ws"], inputs["Zs"], inputs["delta_L"]), ("delta_1", "bound"),
                           "jacobian_bound")
        return {"delta_1": arr(d1, "delta_1"), "bound": num(bound, "bound")}

    def judge(self, case, inputs, out):
        Ws, Zs, d = inputs["Ws"], inputs["Zs"], inputs["delta_L"]
        steps = [_step_back(W, z) for W, z in zip(Ws, Zs)]
        delta = d
        for step in reversed(steps):
            delta = step(delta)
        close(get_arr(out, "delta_1", delta.shape), delta, "delta_1", rtol=1e-7, atol=1e-12)
        norms = [np.linalg.norm(_measured_jacobian(step, W.shape[0]), 2) for step, W in zip(steps, Ws)]
        bound = float(np.prod(norms) * np.linalg.norm(d))
        got = get_num(out, "bound")
        if got < np.linalg.norm(delta) * (1 - 1e-9):
            raise Wrong(f"the bound {got:.6g} is below ‖δ¹‖ = {np.linalg.norm(delta):.6g}: it bounds nothing")
        close(got, bound, "the bound ∏‖J^l‖₂ ‖δ^L‖", rtol=1e-6, atol=1e-12)


q1, q2, q3 = SlopePeak(), DeltaNorms(), JacobianBound()
EXERCISE = Exercise("ex08", "Vanishing gradients: σ′, per-layer ‖δˡ‖, the Jacobian bound",
                    "ex08_vanishing.ipynb", "08_vanishing_exploding.ipynb", [q1, q2, q3])
hint, solution = EXERCISE.hint, EXERCISE.solution
