"""bp.nn.TinyGPT written in PyTorch, with its weights copied from a bpcourse model.

Used by ``bench_gpt.py`` (the same training step timed in torch) and by ``tests/test_attention.py``
(the same loss and gradients).  PyTorch is optional: import this module only when torch is installed.

The layout is the same as bpcourse's: token + position embeddings, pre-LN blocks
(x + attn(LN x), x + MLP(LN x) with a tanh-GELU MLP of 4·dim), final LayerNorm, linear head;
attention uses one qkv projection whose output is [Q | K | V], each split into heads.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class TorchBlock(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.attn_proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc, self.proj = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x):
        B, T, C = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, h, C // h).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class TorchGPT(nn.Module):
    def __init__(self, vocab_size: int, block_size: int, dim: int, heads: int, layers: int):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab_size, dim), nn.Embedding(block_size, dim)
        self.blocks = nn.ModuleList(TorchBlock(dim, heads) for _ in range(layers))
        self.ln_f, self.head = nn.LayerNorm(dim), nn.Linear(dim, vocab_size)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def _pairs(gpt, tg: TorchGPT):
    """(bpcourse qualified name, bpcourse Parameter, torch Parameter) for every weight."""
    bp_params = dict(gpt.named_parameters())
    out = []

    def add(prefix, torch_param, name):
        key = next(k for k in bp_params if k.startswith(prefix) and k.endswith("." + name))
        out.append((key, bp_params[key], torch_param))

    n = len(gpt.blocks)
    add("0.tok", tg.tok.weight, "W")
    add("1.pos", tg.pos.weight, "W")
    for i, tb in enumerate(tg.blocks):
        pre = f"{2 + i}.block{i}."
        for sub, mod in (("0.ln1", tb.ln1), ("2.ln2", tb.ln2)):
            add(pre + sub, mod.weight, "gamma")
            add(pre + sub, mod.bias, "beta")
        for sub, mod in (("1.attn.0.qkv", tb.qkv), ("1.attn.1.proj", tb.attn_proj), ("3.fc", tb.fc),
                         ("5.proj", tb.proj)):
            add(pre + sub, mod.weight, "W")
            add(pre + sub, mod.bias, "b")
    add(f"{2 + n}.ln_f", tg.ln_f.weight, "gamma")
    add(f"{2 + n}.ln_f", tg.ln_f.bias, "beta")
    add(f"{3 + n}.head", tg.head.weight, "W")
    add(f"{3 + n}.head", tg.head.bias, "b")
    assert len(out) == len(bp_params), "every bpcourse parameter has a torch twin"
    return out


def from_bpcourse(gpt, dtype=torch.float64) -> tuple[TorchGPT, list]:
    """A TorchGPT with the weights of ``gpt`` (a bp.nn.TinyGPT), and the parameter pairs."""
    tg = TorchGPT(gpt.vocab_size, gpt.block_size, gpt.dim, gpt.heads, len(gpt.blocks)).to(dtype)
    pairs = _pairs(gpt, tg)
    with torch.no_grad():
        for _, p, tp in pairs:
            tp.copy_(torch.from_numpy(np.ascontiguousarray(p.data)))
    return tg, pairs


def loss_and_grads(gpt, ids, y) -> tuple[float, dict]:
    """Mean cross-entropy of the torch twin on (ids, y) and its gradient for each bpcourse parameter name."""
    tg, pairs = from_bpcourse(gpt)
    logits = tg(torch.from_numpy(np.asarray(ids, dtype=np.int64)))
    L = F.cross_entropy(logits.reshape(-1, gpt.vocab_size), torch.from_numpy(np.asarray(y, dtype=np.int64)).reshape(-1))
    L.backward()
    return float(L.detach()), {name: tp.grad.numpy() for name, _, tp in pairs}
