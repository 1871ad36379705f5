"""Speed of one full MLP training step: forward, SoftmaxCrossEntropy loss, backward, SGD update.

float64 throughout.  Contenders, all computing the same step from the same weights:

* ``bpcourse``   — ``bp.nn.MLP`` + ``bp.losses.SoftmaxCrossEntropy`` + ``bp.optim.SGD`` (batched, rows = examples)
* ``loop``       — a classic from-scratch loop written here: one example at a time, column vectors,
                   one ``np.dot`` per layer, gradients summed over the batch, then the update
* ``torch``      — PyTorch CPU (``nn.Sequential`` of ``nn.Linear`` + ``nn.CrossEntropyLoss`` + ``optim.SGD``),
                   if installed; otherwise reported as "not installed"
* ``matmul``     — only the matrix products a training step needs, as plain ``A @ B`` on contiguous
                   arrays of the same shapes: the rate numpy's BLAS reaches on this machine

Targets (the foundation issue): batch <= 32: bpcourse <= 0.5 x torch time; batch 128: bpcourse
<= torch time; batch 1024: bpcourse's matmul rate >= 80 % of the plain-matmul rate.

    python benchmarks/bench_mlp.py --threads 1 --json benchmarks/results/mlp.json
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as H  # noqa: E402  (no numpy import yet: threads are pinned first)

CONFIGS = [  # (sizes, batch)
    ([784, 30, 10], 10),
    ([784, 100, 10], 128),
    ([784, 256, 256, 10], 1024),
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default 1)")
    p.add_argument("--activation", choices=["sigmoid", "relu"], default="sigmoid",
                   help="hidden activation (default sigmoid)")
    p.add_argument("--no-loop", action="store_true", help="skip the per-example loop")
    H.add_timing_args(p, repeat=15, min_time=0.1)
    return H.parse_timing_args(p, argv, quick_min_time=0.02)


# ---------------------------------------------------------------------- the contenders

def make_data(sizes, batch, seed=0):
    """X (batch, sizes[0]) in [0, 1) like pixel intensities, y (batch,) class indices."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return rng.random((batch, sizes[0])), rng.integers(0, sizes[-1], batch)


def bpcourse_step(sizes, activation, X, y, lr):
    """Returns (step, net): step() runs one training step and returns the loss."""
    import bpcourse as bp
    net = bp.nn.MLP(sizes, activation=activation, seed=0)
    loss = bp.losses.SoftmaxCrossEntropy()
    opt = bp.optim.SGD(net.parameters(), lr=lr)

    def step():
        opt.zero_grad()
        L = loss(net(X), y)
        net.backward(loss.backward(), input_grad=False)   # as bp.train.fit: the data needs no gradient
        opt.step()
        return L
    return step, net


def weights_of(net):
    """[(W (n_out, n_in), b (n_out,)), ...] copied from a bpcourse MLP."""
    return [(l.W.data.copy(), l.b.data.copy()) for l in net.linear_layers()]


class LoopMLP:
    """The classic per-example style: each example a column vector, np.dot per layer.

    W[l] has shape (n_out, n_in) and b[l] shape (n_out, 1).  One ``step(X, y)`` is
    a mini-batch SGD step on the mean softmax cross-entropy of the batch.
    """

    def __init__(self, weights, activation, lr):
        import numpy as np
        self.np = np
        self.W = [W.copy() for W, _ in weights]
        self.b = [b.reshape(-1, 1).copy() for _, b in weights]
        self.relu = activation == "relu"
        self.lr = lr

    def f(self, z):
        np = self.np
        return np.maximum(z, 0.0) if self.relu else 1.0 / (1.0 + np.exp(-z))

    def fprime(self, z, a):
        return (z > 0) * 1.0 if self.relu else a * (1.0 - a)

    def example(self, x, label, dW, db):
        """Forward and backward for one column x (n_in, 1); adds into dW, db; returns its loss."""
        np = self.np
        a, As, Zs = x, [x], []
        for W, b in zip(self.W[:-1], self.b[:-1]):
            z = np.dot(W, a) + b
            a = self.f(z)
            Zs.append(z)
            As.append(a)
        z = np.dot(self.W[-1], a) + self.b[-1]
        e = np.exp(z - z.max())
        p = e / e.sum()
        loss = -np.log(p[label, 0])
        delta = p
        delta[label, 0] -= 1.0                         # BP1 for softmax + cross-entropy: a - y
        for l in range(len(self.W) - 1, -1, -1):
            dW[l] += np.dot(delta, As[l].T)            # BP4
            db[l] += delta                             # BP3
            if l:
                delta = np.dot(self.W[l].T, delta) * self.fprime(Zs[l - 1], As[l])  # BP2
        return loss

    def step(self, X, y):
        np = self.np
        dW = [np.zeros_like(W) for W in self.W]
        db = [np.zeros_like(b) for b in self.b]
        total = 0.0
        for x, label in zip(X, y):
            total += self.example(x.reshape(-1, 1), label, dW, db)
        scale = self.lr / len(X)
        for W, b, gW, gb in zip(self.W, self.b, dW, db):
            W -= scale * gW
            b -= scale * gb
        return total / len(X)


def torch_step(weights, activation, X, y, lr):
    """Returns (step, model) or (None, None) if torch is not installed."""
    try:
        import torch
    except ImportError:
        return None, None
    layers = []
    for i, (W, b) in enumerate(weights):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Sigmoid())
    model = torch.nn.Sequential(*layers)
    lossf = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        L = lossf(model(Xt), yt)
        L.backward()
        opt.step()
        return L.item()
    return step, model


def needed_matmuls(sizes, batch):
    """(M, K, N) of every product one training step needs: forward X W^T, backward dW = delta^T A_prev,
    and dA_prev = delta W for every layer but the first (nobody needs dC/dX of the data)."""
    shapes = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes.append((batch, n_in, n_out))          # forward
        shapes.append((n_out, batch, n_in))          # dW
        if i:
            shapes.append((batch, n_out, n_in))      # dA_prev
    return shapes


def flops(shapes):
    return sum(2 * M * K * N for M, K, N in shapes)


def matmul_step(shapes, seed=1):
    """Plain ``A @ B`` for each (M, K, N) on contiguous float64 arrays (each product allocates its
    result, as every product in a training step does)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    ops = [(rng.random((M, K)), rng.random((K, N))) for M, K, N in shapes]

    def step():
        for A, B in ops:
            A @ B
    return step


# ---------------------------------------------------------------------- checks and the run

def check_same_step(sizes, activation, X, y, lr):
    """One step from the same weights in every implementation: same loss and same new weights."""
    import numpy as np
    step, net = bpcourse_step(sizes, activation, X, y, lr)
    w0 = weights_of(net)
    L_bp = step()
    w_bp = weights_of(net)
    loop = LoopMLP(w0, activation, lr)
    L_loop = loop.step(X, y)
    report = {"loss": L_bp}
    ok = np.isclose(L_loop, L_bp, rtol=1e-10) and all(
        np.allclose(W, Wl, rtol=1e-9, atol=1e-12) and np.allclose(b, bl.ravel(), rtol=1e-9, atol=1e-12)
        for (W, b), Wl, bl in zip(w_bp, loop.W, loop.b))
    if not ok:
        raise AssertionError(f"{sizes} batch {len(X)}: the per-example loop disagrees with bpcourse "
                             f"(loss {L_loop!r} vs {L_bp!r})")
    tstep, model = torch_step(w0, activation, X, y, lr)
    if tstep is not None:
        L_t = tstep()
        lins = [m for m in model if hasattr(m, "weight")]
        ok = np.isclose(L_t, L_bp, rtol=1e-10) and all(
            np.allclose(W, m.weight.detach().numpy(), rtol=1e-9, atol=1e-12) for (W, _), m in zip(w_bp, lins))
        if not ok:
            raise AssertionError(f"{sizes} batch {len(X)}: torch disagrees with bpcourse (loss {L_t!r} vs {L_bp!r})")
    return report


def run_config(sizes, batch, args):
    X, y = make_data(sizes, batch)
    lr = 0.05
    check_same_step(sizes, args.activation, X, y, lr)
    bp_step, net = bpcourse_step(sizes, args.activation, X, y, lr)
    contenders = {"bpcourse": bp_step}
    if not args.no_loop:
        loop = LoopMLP(weights_of(net), args.activation, lr)
        contenders["loop"] = lambda: loop.step(X, y)
    t_step, _ = torch_step(weights_of(net), args.activation, X, y, lr)
    if t_step is not None:
        contenders["torch"] = t_step
    shapes = needed_matmuls(sizes, batch)
    contenders["matmul"] = matmul_step(shapes)
    stats = H.measure(contenders, repeat=args.repeat, min_time=args.min_time)
    for name in ("loop", "torch"):
        stats.setdefault(name, None)
    return {"sizes": sizes, "batch": batch, "activation": args.activation, "flops": flops(shapes),
            "matmul_shapes": shapes, "stats": stats, **verdict(batch, stats, flops(shapes))}


def verdict(batch, stats, n_flops):
    """Derived ratios (medians of per-round ratios, see ``_harness.paired_ratio``) and whether
    this configuration's target is met."""
    bp = stats["bpcourse"]
    out = {"gflops_bpcourse": n_flops / bp["median"] / 1e9, "gflops_matmul": n_flops / stats["matmul"]["median"] / 1e9,
           "matmul_fraction": H.paired_ratio(stats["matmul"], bp),
           "loop_speedup": H.paired_ratio(stats["loop"], bp) if stats.get("loop") else None,
           "torch_ratio": H.paired_ratio(bp, stats["torch"]) if stats.get("torch") else None}
    if stats.get("torch"):
        out["gflops_torch"] = n_flops / stats["torch"]["median"] / 1e9
    if batch <= 32:
        out["target"] = "bpcourse time <= 0.5 x torch"
        out["met"] = None if out["torch_ratio"] is None else out["torch_ratio"] <= 0.5
    elif batch <= 128:
        out["target"] = "bpcourse time <= torch"
        out["met"] = None if out["torch_ratio"] is None else out["torch_ratio"] <= 1.0
    else:
        out["target"] = "matmul rate >= 80 % of plain A @ B"
        out["met"] = out["matmul_fraction"] >= 0.8
    return out


TABLE_HEAD = ("| net | batch | bpcourse | torch | bp / torch | loop | loop / bp | "
              "bp GFLOP/s | A@B GFLOP/s | bp / A@B | target | met |")


def table(results, run=None, head=True):
    """Markdown table of one run (with a leading "run" column if ``run`` is given)."""
    pre = "" if run is None else f"| {run} "
    rows = []
    if head:
        h = TABLE_HEAD if run is None else "| run " + TABLE_HEAD
        rows = [h, "|" + "---|" * (h.count("|") - 1)]
    for r in results:
        s = r["stats"]
        tor = H.fmt_optional(s["torch"])
        loop = H.fmt_stat(s["loop"]) if s["loop"] else "skipped"
        ratio = f"{r['torch_ratio']:.2f}" if r["torch_ratio"] is not None else "–"
        speed = f"{r['loop_speedup']:.0f}x" if r["loop_speedup"] is not None else "–"
        met = H.fmt_met(r["met"])
        rows.append(f"{pre}| {r['sizes']} | {r['batch']} | {H.fmt_stat(s['bpcourse'])} | {tor} | {ratio} | {loop} | "
                    f"{speed} | {r['gflops_bpcourse']:.1f} | {r['gflops_matmul']:.1f} | "
                    f"{100 * r['matmul_fraction']:.0f} % | {r['target']} | {met} |")
    return "\n".join(rows)


def main(argv=None):
    args = parse_args(argv)
    H.pin_threads(args.threads)
    import numpy as np  # noqa: F401  (after pinning)
    H.pin_torch_threads(args.threads)
    machine = H.machine_info(args.threads)
    print(H.numeric_header("bench_mlp", machine, args.threads) + f", hidden activation {args.activation}", flush=True)
    results = []
    for sizes, batch in CONFIGS:
        r = run_config(sizes, batch, args)
        results.append(r)
        print(f"{sizes} batch {batch}: bpcourse {H.fmt_stat(r['stats']['bpcourse'])}, torch "
              f"{H.fmt_optional(r['stats']['torch'])}", flush=True)
    print()
    print(table(results))
    H.write_run(args, "mlp", machine, results=results)
    return results


if __name__ == "__main__":
    main()
