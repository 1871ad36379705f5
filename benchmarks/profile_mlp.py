"""Where does one bpcourse MLP training step spend its time?  Per-call breakdown (and cProfile).

Times every call of the step separately — zero_grad, each layer's forward, the loss, each
layer's backward, the optimiser — and prints the median of each over many steps, plus what
the Linear layers' matrix products alone cost.

    python benchmarks/profile_mlp.py --batch 1024            # [784, 256, 256, 10]
    python benchmarks/profile_mlp.py --batch 10 --cprofile   # [784, 30, 10], plus cProfile by tottime
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as H  # noqa: E402

NETS = {10: [784, 30, 10], 128: [784, 100, 10], 1024: [784, 256, 256, 10]}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, choices=sorted(NETS), default=1024,
                   help="batch size; picks the benchmark's net for it (default 1024)")
    p.add_argument("--activation", choices=["sigmoid", "relu"], default="sigmoid")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=None, help="steps to time (default: about 2 s worth)")
    p.add_argument("--cprofile", action="store_true", help="also print cProfile's top functions")
    return p.parse_args(argv)


def timed_step(net, loss, opt, X, y, record):
    """One training step, each call timed into ``record[name]``."""
    clock = time.perf_counter

    def t(name, f, *a):
        t0 = clock()
        out = f(*a)
        record.setdefault(name, []).append(clock() - t0)
        return out

    t("optimizer.zero_grad", opt.zero_grad)
    A = X
    for i, layer in enumerate(net.layers):
        A = t(f"forward  {i}: {layer!r}", layer.forward, A)
    t("loss forward", loss, A, y)
    d = t("loss backward", loss.backward)
    for i in range(len(net.layers) - 1, -1, -1):
        d = t(f"backward {i}: {net.layers[i]!r}", net.layers[i].backward, d)
    t("optimizer.step", opt.step)


def matmul_costs(net, X, repeats=20):
    """Median time of each Linear's products as the layer computes them: forward X Wᵀ,
    dW = deltaᵀ X and dX = delta W (the last one is not needed for the first layer)."""
    import numpy as np
    rng = np.random.default_rng(0)
    rows, A = [], X
    for i, layer in enumerate(net.layers):
        if hasattr(layer, "W"):
            W = layer.W.data
            delta = rng.random((X.shape[0], W.shape[0]))
            for what, f in ((f"{i}: A_prev @ W.T", lambda: A @ W.T), (f"{i}: delta.T @ A_prev", lambda: delta.T @ A),  # noqa: B023
                            (f"{i}: delta @ W" + ("   (dC/dX of the data: unused)" if i == 0 else ""),
                             lambda: delta @ W)):  # noqa: B023
                ts = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    f()
                    ts.append(time.perf_counter() - t0)
                rows.append((what, statistics.median(ts)))
        A = layer.forward(A)
    return rows


def main(argv=None):
    args = parse_args(argv)
    H.pin_threads(args.threads)
    import bench_mlp as B

    import bpcourse as bp
    sizes = NETS[args.batch]
    X, y = B.make_data(sizes, args.batch)
    net = bp.nn.MLP(sizes, activation=args.activation, seed=0)
    loss = bp.losses.SoftmaxCrossEntropy()
    opt = bp.optim.SGD(net.parameters(), lr=0.05)
    warm = {}
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.3 or len(warm.get("loss forward", ())) < 3:
        timed_step(net, loss, opt, X, y, warm)
    per_step = (time.perf_counter() - t0) / len(warm["loss forward"])
    steps = args.steps or max(5, int(2.0 / per_step))
    record = {}
    for _ in range(steps):
        timed_step(net, loss, opt, X, y, record)
    print(f"# bpcourse step, {sizes} batch {args.batch}, hidden {args.activation}, threads {args.threads}, "
          f"median of {steps} steps per call; load average {os.getloadavg()[0]:.2f}")
    total = 0.0
    for name, ts in record.items():
        m = statistics.median(ts)
        total += m
        print(f"{H.fmt_time(m):>10}  {name}")
    print(f"{H.fmt_time(total):>10}  sum of the medians")
    print("\n# the Linear layers' matrix products alone")
    for what, m in matmul_costs(net, X):
        print(f"{H.fmt_time(m):>10}  {what}")
    if args.cprofile:
        import cProfile
        import pstats
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(steps):
            opt.zero_grad()
            L = loss(net(X), y)  # noqa: F841
            net.backward(loss.backward())
            opt.step()
        prof.disable()
        print()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
