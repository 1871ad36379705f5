"""Speed of one convolution layer's forward + backward pass: bp.nn.Conv2d against PyTorch CPU.

float64, one thread.  Each contender computes Z = conv(X), then dX, dW and db for the same
upstream gradient, from the same weights:

* ``bpcourse`` — ``bp.nn.Conv2d`` (im2col / col2im, notebook 15): zero_grad, forward, backward;
* ``torch``    — ``torch.nn.functional.conv2d`` with autograd on X, W and b (if installed);
* ``naive``    — ``bpcourse.conv.conv2d_naive`` + ``conv2d_backward_naive``, the readable loops.  They
                 are slow, so they run once, on the first ``--naive-batch`` examples, and the time is
                 scaled to the full batch (the loops' cost is exactly linear in N).

Configurations (issue 11): (N=64, 8 -> 16 channels, 8x8, k=3, padding 1) and (N=32, 1 -> 16 channels,
28x28, k=5).  Target: bpcourse time <= 2 x torch time.  The outputs and gradients of all three are
compared first (relative error < 1e-12).

    python benchmarks/bench_conv.py --threads 1 --json benchmarks/results/conv.json
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as H  # noqa: E402  (no numpy import yet: threads are pinned first)

CONFIGS = [  # (N, C, F, H=W, k, padding)
    (64, 8, 16, 8, 3, 1),
    (32, 1, 16, 28, 5, 0),
]
TARGET = 2.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default 1)")
    p.add_argument("--naive-batch", type=int, default=4, help="examples the loops run on (default 4)")
    H.add_timing_args(p, repeat=15, min_time=0.1)
    return H.parse_timing_args(p, argv, quick_min_time=0.02)


def make_case(N, C, F, H_, k, padding, seed=0):
    import numpy as np

    import bpcourse as bp
    rng = np.random.default_rng(seed)
    conv = bp.nn.Conv2d(C, F, k, padding=padding, seed=seed)
    conv.b.data[...] = rng.standard_normal(F)
    X = rng.standard_normal((N, C, H_, H_))
    delta = rng.standard_normal(conv(X).shape)
    return conv, X, delta


def bpcourse_step(conv, X, delta):
    def step():
        conv.zero_grad()
        conv(X)
        return conv.backward(delta)
    return step


def torch_step(conv, X, delta):
    """(step, result) or (None, None) without torch; result() gives (Z, dX, dW, db) as numpy."""
    try:
        import torch
    except ImportError:
        return None, None
    Xt = torch.tensor(X, requires_grad=True)
    Wt = torch.tensor(conv.W.data, requires_grad=True)
    bt = torch.tensor(conv.b.data, requires_grad=True)
    Dt = torch.tensor(delta)
    stride, padding = conv.stride, conv.padding
    out = {}

    def step():
        Xt.grad = Wt.grad = bt.grad = None
        Z = torch.nn.functional.conv2d(Xt, Wt, bt, stride=stride, padding=padding)
        Z.backward(Dt)
        out["Z"] = Z

    def result():
        step()
        return out["Z"].detach().numpy(), Xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()
    return step, result


def check_agreement(conv, X, delta, naive_batch):
    """Ours against the loops (on the first examples) and against torch (all): relative errors."""
    import numpy as np

    import bpcourse as bp
    from bpcourse.conv import conv2d_backward_naive, conv2d_naive
    conv.zero_grad()
    Z = conv(X)
    dX = conv.backward(delta)
    ours = (Z, dX, conv.W.grad.copy(), conv.b.grad.copy())
    n = naive_batch
    s, p = conv.stride, conv.padding
    Z_n = conv2d_naive(X[:n], conv.W.data, conv.b.data, s, p)
    dX_n, _, _ = conv2d_backward_naive(X[:n], conv.W.data, delta[:n], s, p)
    errors = {"naive Z": bp.relative_error(Z[:n], Z_n), "naive dX": bp.relative_error(dX[:n], dX_n)}
    _, result = torch_step(conv, X, delta)
    if result is not None:
        for name, a, b in zip(("Z", "dX", "dW", "db"), ours, result()):
            errors[f"torch {name}"] = bp.relative_error(a, b)
    bad = {k: v for k, v in errors.items() if not v < 1e-12}
    if bad:
        raise AssertionError(f"contenders disagree: {bad}")
    return float(max(errors.values())), np


def time_naive(conv, X, delta, naive_batch):
    """Seconds for forward + backward by loops on the full batch (measured on naive_batch examples)."""
    from bpcourse.conv import conv2d_backward_naive, conv2d_naive
    n = naive_batch
    s, p = conv.stride, conv.padding
    t0 = time.perf_counter()
    conv2d_naive(X[:n], conv.W.data, conv.b.data, s, p)
    conv2d_backward_naive(X[:n], conv.W.data, delta[:n], s, p)
    return (time.perf_counter() - t0) * len(X) / n


def run_config(cfg, args):
    N, C, F, H_, k, padding = cfg
    conv, X, delta = make_case(N, C, F, H_, k, padding)
    worst, _ = check_agreement(conv, X, delta, args.naive_batch)
    contenders = {"bpcourse": bpcourse_step(conv, X, delta)}
    t_step, _ = torch_step(conv, X, delta)
    if t_step is not None:
        contenders["torch"] = t_step
    stats = H.measure(contenders, repeat=args.repeat, min_time=args.min_time)
    stats.setdefault("torch", None)
    naive = time_naive(conv, X, delta, args.naive_batch)
    ratio = H.paired_ratio(stats["bpcourse"], stats["torch"]) if stats["torch"] else None
    return {"config": {"N": N, "C": C, "F": F, "H": H_, "W": H_, "k": k, "padding": padding},
            "stats": stats, "naive_seconds": naive, "naive_speedup": naive / stats["bpcourse"]["median"],
            "torch_ratio": ratio, "worst_relative_error": worst, "target": f"bpcourse <= {TARGET:g} x torch",
            "met": None if ratio is None else ratio <= TARGET}


def table(results):
    rows = ["| layer | bpcourse | torch | bp / torch | loops (scaled) | loops / bp | target | met |",
            "|---|---|---|---|---|---|---|---|"]
    for r in results:
        c, s = r["config"], r["stats"]
        layer = f"N={c['N']}, {c['C']}→{c['F']}, {c['H']}×{c['W']}, k={c['k']}, pad {c['padding']}"
        tor = H.fmt_optional(s["torch"])
        ratio = f"{r['torch_ratio']:.2f}" if r["torch_ratio"] is not None else "–"
        met = H.fmt_met(r["met"])
        rows.append(f"| {layer} | {H.fmt_stat(s['bpcourse'])} | {tor} | {ratio} | {H.fmt_time(r['naive_seconds'])} | "
                    f"{r['naive_speedup']:.0f}× | {r['target']} | {met} |")
    return "\n".join(rows)


def main(argv=None):
    args = parse_args(argv)
    H.pin_threads(args.threads)
    H.pin_torch_threads(args.threads)
    machine = H.machine_info(args.threads)
    print(H.numeric_header("bench_conv", machine, args.threads) + ", float64", flush=True)
    results = []
    for cfg in CONFIGS:
        r = run_config(cfg, args)
        results.append(r)
        print(f"{r['config']}: bpcourse {H.fmt_stat(r['stats']['bpcourse'])}, torch "
              f"{H.fmt_optional(r['stats']['torch'])}; "
              f"agreement {r['worst_relative_error']:.1e}", flush=True)
    print()
    print(table(results))
    H.write_run(args, "conv", machine, results=results)
    return results


if __name__ == "__main__":
    main()
