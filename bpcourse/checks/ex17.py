"""Checks for exercise 17: one causal attention head forward and backward, and the embedding's
scatter-add, by hand.

The forward pass is compared with one head of ``bp.nn.CausalSelfAttention``'s formula (tests check
that formula against the engine); the learner's dQ, dK, dV and dW with central differences of that
forward pass, on shapes that include T = 1, a head of size 1 and ids that repeat.
"""
from __future__ import annotations

import numpy as np

from ..activations import softmax
from ._core import Exercise, Question, Wrong, arr, close, get_arr, numeric_grad, unpack

__all__ = ["q1", "q2", "q3", "hint", "solution", "EXERCISE"]


def _reference(Q, K, V, masked=True):
    """Y (T, d) of one causal head: softmax(Q Kᵀ/√d, causal mask) V (the engine's per-head formula)."""
    scores = np.einsum("td,sd->ts", Q, K) / np.sqrt(Q.shape[1])
    if masked:
        scores = scores + np.triu(np.full(scores.shape, -np.inf), k=1)
    return softmax(scores, axis=1) @ V


def _attention_cases(rng):
    shapes = [(5, 3), (1, 2), (6, 1), (4, 4)]                # T = 1 and a head of size 1 included
    return [{"seed": int(rng.integers(2**31)), "T": T, "d": d} for T, d in shapes]


def _attention_inputs(case):
    rng = np.random.default_rng(case["seed"])
    T, d = case["T"], case["d"]
    return {"Q": 1.5 * rng.standard_normal((T, d)), "K": 1.5 * rng.standard_normal((T, d)),
            "V": rng.standard_normal((T, d)), "dY": rng.standard_normal((T, d))}


class Forward(Question):
    name, funcs, points = "q1", ("attention_forward",), 2
    title = "attention_forward"
    hints = ("S = Q Kᵀ / √d is (T, T): row t holds the scores of query t against every key.",
             "Mask before the softmax: S[t, s] = −inf for s > t (np.triu_indices(T, 1) or np.tril), then a "
             "row-wise softmax with the maximum subtracted; e^(−inf) = 0.",
             "A = softmax(S) row by row, Y = A @ V; return (Y, cache) with cache holding Q, K, V and A.")

    def cases(self, rng):
        return _attention_cases(rng)

    def inputs(self, case):
        inp = _attention_inputs(case)
        del inp["dY"]
        return inp

    def call(self, inputs, attention_forward):
        Y, _ = unpack(attention_forward(inputs["Q"], inputs["K"], inputs["V"]), ("Y", "cache"), "attention_forward")
        return {"Y": arr(Y, "Y")}

    def judge(self, case, inputs, out):
        Q = inputs["Q"]
        Y = get_arr(out, "Y", Q.shape)
        expected = _reference(Q, inputs["K"], inputs["V"])
        if case["T"] > 1 and not np.allclose(Y, expected, rtol=1e-7, atol=1e-9) and np.allclose(
                Y, _reference(Q, inputs["K"], inputs["V"], masked=False), rtol=1e-6, atol=1e-9):
            raise Wrong("Y matches attention WITHOUT the causal mask: position t must not look at s > t "
                        "(set S[t, s] = −inf above the diagonal before the softmax)")
        close(Y, expected, "Y", rtol=1e-7, atol=1e-9)


class Backward(Question):
    name, funcs, points = "q2", ("attention_forward", "attention_backward"), 3
    title = "attention_backward: dQ, dK, dV"
    hints = ("Y = A V is a matrix product: dV = Aᵀ dY and dA = dY Vᵀ (BP4 and BP2 of notebook 04).",
             "Through the softmax, row by row: dS = A ⊙ (dA − Σ_s dA ⊙ A), the sum along each row (keepdims). "
             "Masked entries have A = 0, so they need no special case.",
             "S = Q Kᵀ/√d: dQ = dS K / √d and dK = dSᵀ Q / √d.")

    def cases(self, rng):
        return _attention_cases(rng)

    def inputs(self, case):
        return _attention_inputs(case)

    def call(self, inputs, attention_forward, attention_backward):
        _, cache = unpack(attention_forward(inputs["Q"], inputs["K"], inputs["V"]), ("Y", "cache"),
                          "attention_forward")
        names = ("dQ", "dK", "dV")
        grads = unpack(attention_backward(inputs["dY"], cache), names, "attention_backward")
        return {k: arr(v, k) for k, v in zip(names, grads)}

    def judge(self, case, inputs, out):
        Q, K, V, dY = (inputs[k] for k in ("Q", "K", "V", "dY"))
        L = {"dQ": lambda x: float(np.sum(dY * _reference(x, K, V))),
             "dK": lambda x: float(np.sum(dY * _reference(Q, x, V))),
             "dV": lambda x: float(np.sum(dY * _reference(Q, K, x)))}
        for k, x in (("dV", V), ("dQ", Q), ("dK", K)):
            close(get_arr(out, k, x.shape), numeric_grad(L[k], x), k, rtol=1e-5, atol=1e-7)


def _embedding_cases(rng):
    shapes = [(2, 5, 4, 3), (1, 1, 3, 2), (3, 4, 2, 1), (2, 6, 7, 4)]     # (B, T, vocab, dim); small vocabularies repeat
    return [{"seed": int(rng.integers(2**31)), "B": B, "T": T, "vocab": V, "dim": D} for B, T, V, D in shapes]


class EmbeddingBackward(Question):
    name, funcs, points = "q3", ("embedding_backward",), 2
    title = "embedding_backward"
    hints = ("E = W[ids]: position (b, t) copies row ids[b, t] of W, so dE[b, t] belongs to that row.",
             "A token that appears several times receives the gradient of every appearance: they add up.",
             "Start from zeros of shape (vocab_size, dim) and scatter-add dE into the rows named by ids with "
             "np.add.at, which adds at repeated indices (dW[ids] += dE keeps only one of the repeated rows).")

    def cases(self, rng):
        return _embedding_cases(rng)

    def inputs(self, case):
        rng = np.random.default_rng(case["seed"])
        B, T, V, D = case["B"], case["T"], case["vocab"], case["dim"]
        return {"ids": rng.integers(0, V, (B, T)), "dE": rng.standard_normal((B, T, D)), "vocab_size": V}

    def describe(self, case, inputs):
        return f"ids {inputs['ids'].shape} over a vocabulary of {case['vocab']}, dE {inputs['dE'].shape}"

    def call(self, inputs, embedding_backward):
        return {"dW": arr(embedding_backward(inputs["ids"], inputs["dE"], inputs["vocab_size"]), "dW")}

    def judge(self, case, inputs, out):
        ids, dE, V = inputs["ids"], inputs["dE"], inputs["vocab_size"]
        D = dE.shape[-1]
        numeric = numeric_grad(lambda W: float(np.sum(dE * W[ids])), np.zeros((V, D)))
        dW = get_arr(out, "dW", (V, D))
        repeated = [int(v) for v in np.unique(ids) if (ids == v).sum() > 1]
        if repeated and not np.allclose(dW, numeric, rtol=1e-6, atol=1e-8):
            bad = [v for v in repeated if not np.allclose(dW[v], numeric[v], rtol=1e-6, atol=1e-8)]
            if bad:
                v = bad[0]
                raise Wrong(f"dW[{v}] is {np.round(dW[v], 4).tolist()}, expected {np.round(numeric[v], 4).tolist()}: "
                            f"token {v} appears {int((ids == v).sum())} times and the rows of repeated tokens "
                            "must add up (np.add.at, not dW[ids] += dE)")
        close(dW, numeric, "dW", rtol=1e-6, atol=1e-8)


q1, q2, q3 = Forward(), Backward(), EmbeddingBackward()
EXERCISE = Exercise("ex17", "Attention and embeddings backward, by hand", "ex17_attention.ipynb",
                    "17_attention_gpt.ipynb", [q1, q2, q3])
hint, solution = EXERCISE.hint, EXERCISE.solution
