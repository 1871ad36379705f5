"""Attention and a tiny GPT, every backward pass written out (notebook 17).

Sequences are (B, T, dim): B sequences of T positions, each a vector of ``dim`` numbers.
Token ids are integers of shape (B, T).

* ``Embedding``           — a lookup table: forward picks rows, backward *scatter-adds* them back.
* ``CausalSelfAttention`` — for each head, with d = dim / heads,

      S = Q Kᵀ / √d  (B, h, T, T)    S[t, s] = −∞ for s > t (the causal mask)
      A = softmax(S) (row-wise)       Y = A V                (B, h, T, d)

  and its backward is three matrix products plus the softmax Jacobian–vector product of
  notebook 05:

      dA = dY Vᵀ        dV = Aᵀ dY
      dS = A ⊙ (dA − Σ_s dA ⊙ A)                       (the softmax JVP, row by row)
      dQ = dS K / √d    dK = dSᵀ Q / √d

  A masked entry has A = 0 exactly, so its dS is exactly 0: no gradient flows to the future.
* ``TransformerBlock``    — pre-LN: X ← X + attn(LN₁ X), then X ← X + MLP(LN₂ X), MLP 4·dim with GELU.
* ``TinyGPT``             — token + position embeddings, blocks, a final LayerNorm, a linear LM head
  (Vaswani et al. 2017; Radford et al. 2019 for the pre-LN GPT-2 layout).

Initialisation follows GPT-2: weights N(0, 0.02²), biases 0, and the two projections that write
into the residual stream scaled by 1/√(2·layers), so the stream's variance does not grow with depth.
"""
from __future__ import annotations

import numpy as np

from .activations import softmax
from .dense import GELU, Linear
from .init import as_rng
from .layers import LayerNorm
from .module import Module, Parameter
from .validate import positive_int, real

__all__ = ["Embedding", "CausalSelfAttention", "TransformerBlock", "TinyGPT", "check_ids"]

STD = 0.02          # GPT-2's initial weight scale


def check_ids(ids, vocab_size: int, where: str) -> np.ndarray:
    """``ids`` as an integer array with every value in [0, vocab_size), or a ValueError naming ``where``."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise ValueError(f"{where}: ids must be an integer array of token ids, got dtype {ids.dtype}"
                         + (" (use vocab.encode(text) or ids.astype(int))" if ids.dtype.kind in "fUSO" else ""))
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"{where}: ids must lie in [0, {vocab_size}), got values from {ids.min()} to {ids.max()}")
    return ids


def _check_heads(dim, heads, where: str) -> tuple[int, int]:
    """dim and heads as positive ints with dim divisible by heads, or a ValueError naming ``where``."""
    dim, heads = positive_int(dim, "dim", where), positive_int(heads, "heads", where)
    if dim % heads:
        raise ValueError(f"{where}: dim must be divisible by heads, got dim={dim}, heads={heads} "
                         f"(dim / heads = {dim / heads:g})")
    return dim, heads


def _check_stream(X, dim: int, where: str) -> np.ndarray:
    """X as an array of shape (B, T, dim) with T ≥ 1 (the residual stream), or a ValueError naming ``where``."""
    X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float64)
    if X.ndim != 3 or X.shape[2] != dim or X.shape[1] < 1:
        raise ValueError(f"{where}: expected input of shape (B, T, {dim}) with T >= 1, got {X.shape}")
    return X


def _normal_linear(n_in: int, n_out: int, rng: np.random.Generator, std: float, name: str) -> Linear:
    lin = Linear(n_in, n_out, init="normal", seed=rng, std=std, name=name)
    return lin


class Embedding(Module):
    """A lookup table W (vocab_size, dim): int ids (...) -> W[ids], shape (..., dim).

    Forward:  Y[b, t] = W[ids[b, t]]
    Backward: dW[v] = Σ_{(b, t): ids[b, t] = v} dY[b, t]     — a scatter-add: a token that appears
              several times collects the gradient of every appearance into its one row.
    There is no gradient with respect to integer ids; ``backward`` returns None.
    """

    def __init__(self, vocab_size: int, dim: int, seed=0, std: float = STD, name: str | None = None):
        vocab_size = positive_int(vocab_size, "vocab_size", "Embedding")
        dim = positive_int(dim, "dim", "Embedding")
        super().__init__(name or f"Embedding({vocab_size}, {dim})")
        self.vocab_size, self.dim = vocab_size, dim
        self.W = Parameter(as_rng(seed).standard_normal((vocab_size, dim)) * std, "W")
        self._cache = None

    def own_parameters(self):
        return [self.W]

    def forward(self, ids) -> np.ndarray:
        """int (B, T) -> (B, T, dim): row ids[b, t] of W (any shape of ids works the same way)."""
        ids = check_ids(ids, self.vocab_size, self.name)
        self._cache = ids
        return self.W.data[ids]

    def backward(self, dY) -> None:
        """dW[v] += Σ over the positions holding token v of dY there (np.add.at: repeats add up)."""
        ids = self._cache
        dY = self._check_dY(dY, (*ids.shape, self.dim) if ids is not None else None)
        np.add.at(self.W.grad, ids.reshape(-1), dY.reshape(-1, self.dim))
        return None

    def __repr__(self):
        return f"Embedding({self.vocab_size}, {self.dim})"


class CausalSelfAttention(Module):
    """Multi-head causal self-attention: (B, T, dim) -> (B, T, dim).

    Q, K, V = X W_Qᵀ, X W_Kᵀ, X W_Vᵀ (one Linear ``qkv`` of dim -> 3·dim holds the three stacked),
    split into ``heads`` heads of d = dim / heads; per head S = Q Kᵀ/√d, masked, A = softmax(S),
    Y_head = A V; the heads are concatenated and mixed by the Linear ``proj`` (dim -> dim).
    After each forward, ``A`` holds the attention weights, shape (B, heads, T, T).
    """

    def __init__(self, dim: int, heads: int, seed=0, std: float = STD, proj_std: float | None = None,
                 name: str | None = None):
        dim, heads = _check_heads(dim, heads, "CausalSelfAttention")
        super().__init__(name or f"CausalSelfAttention({dim}, heads={heads})")
        rng = as_rng(seed)
        self.dim, self.heads, self.d = dim, heads, dim // heads
        self.qkv = _normal_linear(dim, 3 * dim, rng, std, "qkv")
        self.proj = _normal_linear(dim, dim, rng, std if proj_std is None else proj_std, "proj")
        self.A = None
        self._cache = None
        self._mask = np.zeros((0, 0))

    def children(self):
        return [self.qkv, self.proj]

    def _additive_mask(self, T: int) -> np.ndarray:
        """(T, T): 0 where s ≤ t (may look), −∞ where s > t (the future)."""
        if self._mask.shape[0] < T:
            self._mask = np.triu(np.full((T, T), -np.inf), k=1)
        return self._mask[:T, :T]

    def forward(self, X) -> np.ndarray:
        """(B, T, dim) -> (B, T, dim)."""
        X = _check_stream(X, self.dim, self.name)
        B, T, _ = X.shape
        h, d = self.heads, self.d
        QKV = self.qkv.forward(X).reshape(B, T, 3, h, d).transpose(2, 0, 3, 1, 4)   # (3, B, h, T, d)
        Q, K, V = QKV[0], QKV[1], QKV[2]
        S = Q @ K.transpose(0, 1, 3, 2)                       # (B, h, T, T)
        S *= 1.0 / np.sqrt(d)
        S += self._additive_mask(T)
        A = _softmax_rows_inplace(S)                           # masked entries are exactly 0
        Y = (A @ V).transpose(0, 2, 1, 3).reshape(B, T, self.dim)   # heads side by side
        self.A = A
        self._cache = (Q, K, V, A)
        return self.proj.forward(Y)

    def backward(self, dY) -> np.ndarray:
        """dA = dY Vᵀ, dV = Aᵀ dY, dS = A ⊙ (dA − Σ dA ⊙ A), dQ = dS K/√d, dK = dSᵀ Q/√d; returns dX."""
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward() called before forward()")
        Q, K, V, A = self._cache
        B, h, T, d = Q.shape
        dYcat = self.proj.backward(dY)                                   # (B, T, dim)
        dYh = dYcat.reshape(B, T, h, d).transpose(0, 2, 1, 3)           # (B, h, T, d)
        dQKV = np.empty((B, T, 3, h, d), dtype=dYcat.dtype)
        dQKVt = dQKV.transpose(2, 0, 3, 1, 4)                            # a (3, B, h, T, d) view
        np.matmul(A.transpose(0, 1, 3, 2), dYh, out=dQKVt[2])           # dV = Aᵀ dY
        dA = dYh @ V.transpose(0, 1, 3, 2)                               # (B, h, T, T)
        dS = softmax_jvp(A, dA)
        dS *= 1.0 / np.sqrt(d)
        np.matmul(dS, K, out=dQKVt[0])                                    # dQ = dS K / √d
        np.matmul(dS.transpose(0, 1, 3, 2), Q, out=dQKVt[1])             # dK = dSᵀ Q / √d
        return self.qkv.backward(dQKV.reshape(B, T, 3 * self.dim))

    def __repr__(self):
        return f"CausalSelfAttention({self.dim}, heads={self.heads})"


def _softmax_rows_inplace(S: np.ndarray) -> np.ndarray:
    """softmax over the last axis, overwriting S (max subtracted first: exp never overflows)."""
    S -= S.max(axis=-1, keepdims=True)
    np.exp(S, out=S)
    S /= S.sum(axis=-1, keepdims=True)
    return S


def softmax_jvp(A: np.ndarray, dA: np.ndarray) -> np.ndarray:
    """dS = A ⊙ (dA − Σ_s dA ⊙ A) for A = softmax(S) along the last axis (notebook 05's Jacobian
    diag(a) − a aᵀ applied to dA, row by row).  Returns a new array; dA is left unchanged."""
    dS = dA * A
    dS -= A * dS.sum(axis=-1, keepdims=True)
    return dS


class TransformerBlock(Module):
    """Pre-LN transformer block, (B, T, dim) -> (B, T, dim):

        X₁ = X + attn(LN₁(X))                 Y = X₁ + W₂ GELU(W₁ LN₂(X₁) + b₁) + b₂

    with W₁: dim -> 4·dim and W₂: 4·dim -> dim.  Backward (each residual adds its identity path):

        dX₁ = dY + LN₂ᵀ(W₁ᵀ(GELU'(·) ⊙ W₂ᵀ dY))          dX = dX₁ + LN₁ᵀ(attnᵀ(dX₁))

    where ᵀ stands for each layer's backward.  The "+ dY" terms are notebook 10's gradient highway.
    """

    def __init__(self, dim: int, heads: int, seed=0, std: float = STD, proj_std: float | None = None,
                 name: str | None = None):
        dim, heads = _check_heads(dim, heads, "TransformerBlock")
        super().__init__(name or f"TransformerBlock({dim}, heads={heads})")
        rng = as_rng(seed)
        proj_std = std if proj_std is None else proj_std
        self.dim, self.heads = dim, heads
        self.ln1 = LayerNorm(dim, name="ln1")
        self.attn = CausalSelfAttention(dim, heads, seed=rng, std=std, proj_std=proj_std, name="attn")
        self.ln2 = LayerNorm(dim, name="ln2")
        self.fc = _normal_linear(dim, 4 * dim, rng, std, "fc")
        self.gelu = GELU()
        self.proj = _normal_linear(4 * dim, dim, rng, proj_std, "proj")
        self._cache = None

    def children(self):
        return [self.ln1, self.attn, self.ln2, self.fc, self.gelu, self.proj]

    def forward(self, X) -> np.ndarray:
        """(B, T, dim) -> (B, T, dim)."""
        X = _check_stream(X, self.dim, self.name)
        X1 = X + self.attn.forward(self.ln1.forward(X))
        self._cache = X.shape
        return X1 + self.proj.forward(self.gelu.forward(self.fc.forward(self.ln2.forward(X1))))

    def backward(self, dY) -> np.ndarray:
        dY = self._check_dY(dY, self._cache)
        dX1 = dY + self.ln2.backward(self.fc.backward(self.gelu.backward(self.proj.backward(dY))))
        return dX1 + self.ln1.backward(self.attn.backward(dX1))

    def __repr__(self):
        return f"TransformerBlock({self.dim}, heads={self.heads})"


class TinyGPT(Module):
    """A character-level GPT: int ids (B, T) -> logits (B, T, vocab_size), T ≤ block_size.

        X = tok(ids) + pos(0..T−1)      X ← block_l(X), l = 1..layers      logits = head(LN_f(X))

    ``backward(dlogits)`` fills every gradient and keeps, in ``residual_grads``, dC/dX of the
    residual stream at the input of each block and of the final LayerNorm (layers + 1 arrays).
    """

    def __init__(self, vocab_size: int, block_size: int, dim: int = 64, heads: int = 4, layers: int = 2,
                 seed=0):
        vocab_size = positive_int(vocab_size, "vocab_size", "TinyGPT")
        block_size = positive_int(block_size, "block_size", "TinyGPT")
        layers = positive_int(layers, "layers", "TinyGPT")
        dim, heads = _check_heads(dim, heads, "TinyGPT")
        super().__init__(f"TinyGPT(vocab={vocab_size}, block={block_size}, dim={dim}, heads={heads}, "
                         f"layers={layers})")
        rng = as_rng(seed)
        self.vocab_size, self.block_size, self.dim, self.heads, self.n_layers = (
            vocab_size, block_size, dim, heads, layers)
        proj_std = STD / np.sqrt(2 * layers)
        self.tok = Embedding(vocab_size, dim, seed=rng, name="tok")
        self.pos = Embedding(block_size, dim, seed=rng, name="pos")
        self.blocks = [TransformerBlock(dim, heads, seed=rng, proj_std=proj_std, name=f"block{i}")
                       for i in range(layers)]
        self.ln_f = LayerNorm(dim, name="ln_f")
        self.head = _normal_linear(dim, vocab_size, rng, STD, "head")
        self.residual_grads: list[np.ndarray] = []
        self._cache = None

    def children(self):
        return [self.tok, self.pos, *self.blocks, self.ln_f, self.head]

    def _check(self, ids) -> np.ndarray:
        ids = check_ids(ids, self.vocab_size, "TinyGPT")
        if ids.ndim != 2 or ids.shape[1] < 1:
            hint = " (one sequence? use ids[None])" if ids.ndim == 1 else ""
            raise ValueError(f"TinyGPT: expected ids of shape (B, T) with T >= 1, got {ids.shape}{hint}")
        if ids.shape[1] > self.block_size:
            raise ValueError(f"TinyGPT: sequence length T={ids.shape[1]} exceeds block_size={self.block_size}; "
                             f"pass at most the last {self.block_size} tokens")
        return ids

    def forward(self, ids) -> np.ndarray:
        """int (B, T) -> logits (B, T, vocab_size)."""
        ids = self._check(ids)
        X = self.tok.forward(ids) + self.pos.forward(np.arange(ids.shape[1]))
        for block in self.blocks:
            X = block.forward(X)
        self._cache = ids.shape
        return self.head.forward(self.ln_f.forward(X))

    def backward(self, dlogits) -> None:
        """Fill every Parameter's gradient from dC/dlogits (B, T, vocab_size); returns None (ids are integers)."""
        shape = self._cache
        dlogits = self._check_dY(dlogits, (*shape, self.vocab_size) if shape is not None else None)
        dX = self.ln_f.backward(self.head.backward(dlogits))
        grads = [dX]
        for block in reversed(self.blocks):
            dX = block.backward(dX)
            grads.append(dX)
        self.residual_grads = grads[::-1]
        self.tok.backward(dX)
        self.pos.backward(dX.sum(axis=0))     # the same position rows serve every sequence
        return None

    def generate(self, ids, n_new: int, temperature: float = 1.0, seed=0) -> np.ndarray:
        """Append ``n_new`` sampled tokens: int (B, T) -> (B, T + n_new) (a 1-D prompt gives 1-D).

        Each step looks at the last ``block_size`` tokens, divides the last position's logits by
        ``temperature`` (< 1 sharper, > 1 flatter) and samples from their softmax.
        """
        ids = check_ids(ids, self.vocab_size, "TinyGPT.generate")
        n_new = int(n_new) if isinstance(n_new, (int, np.integer)) and n_new >= 0 else None
        if n_new is None:
            raise ValueError("TinyGPT.generate: n_new must be an integer >= 0")
        temperature = real(temperature, "temperature", "TinyGPT.generate", low=0, low_open=True)
        one = ids.ndim == 1
        out = ids[None] if one else ids
        if out.ndim != 2 or out.shape[1] < 1:
            raise ValueError(f"TinyGPT.generate: expected ids of shape (B, T) with T >= 1, got {ids.shape}")
        rng = as_rng(seed)
        out = out.astype(np.int64)
        for _ in range(n_new):
            logits = self.forward(out[:, -self.block_size:])[:, -1]
            P = softmax(logits / temperature, axis=-1)
            u = rng.random((P.shape[0], 1))
            nxt = np.minimum((np.cumsum(P, axis=1) < u).sum(axis=1), self.vocab_size - 1)
            out = np.concatenate([out, nxt[:, None]], axis=1)
        return out[0] if one else out

    def __repr__(self):
        return self.name
