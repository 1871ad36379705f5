"""Speed of the scalar autograd engine: one training step of MLP(2, [16, 16, 1]) on 100 points.

One step = build the inputs as Values, forward all 100 points, the max-margin (hinge) loss
mean(relu(1 − y·score)) plus 1e-4·Σw² (the loss of micrograd's demo), zero the gradients,
backward, and the SGD update ``p.data -= lr * p.grad``.

Both engines run the *same* Python code (``ScalarMLP`` and ``train_step`` below, handed the
engine's ``Value`` class), so only the engine differs.  When micrograd is installed, its own
``micrograd.nn.MLP`` also runs with the same weights, as a check that ``ScalarMLP`` has its
structure (neuron = ``sum(w_i * x_i, b)``, ReLU on hidden layers, linear output).

Target (the foundation issue): bpcourse at least 5x faster than micrograd.

    python benchmarks/bench_scalar.py --json benchmarks/results/scalar.json
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as H  # noqa: E402

SIZES = (2, [16, 16, 1])
N_POINTS = 100
ALPHA = 1e-4     # L2 weight on Σw², as micrograd's demo
LR = 0.05


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    H.add_timing_args(p, repeat=10, min_time=0.5)
    p.add_argument("--heap", choices=["bare", "notebook"], default="bare",
                   help="bare: only what the benchmark needs is imported; notebook: also import what a "
                        "course notebook's kernel holds (matplotlib.pyplot, ipywidgets, IPython, ipykernel) "
                        "so the garbage collector has a realistic heap to walk (default bare)")
    return H.parse_timing_args(p, argv, quick_min_time=0.05)


class ScalarMLP:
    """An MLP of scalar Values, written once for any engine: ``ScalarMLP(Value, 2, [16, 16, 1])``.

    Weights are drawn from U(−1, 1) with ``random.Random(seed)``, biases start at 0,
    hidden layers apply ReLU, the last layer is linear (as micrograd.nn.MLP).
    """

    def __init__(self, Value, nin, nouts, seed=0):
        rng = random.Random(seed)
        sizes = [nin] + list(nouts)
        self.layers = []           # per layer: ([(w list, b), ...], nonlin)
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            neurons = [([Value(rng.uniform(-1, 1)) for _ in range(n_in)], Value(0.0)) for _ in range(n_out)]
            self.layers.append((neurons, i != len(nouts) - 1))

    def __call__(self, x):
        for neurons, nonlin in self.layers:
            x = [sum((wi * xi for wi, xi in zip(w, x)), b) for w, b in neurons]
            if nonlin:
                x = [a.relu() for a in x]
        return x[0] if len(x) == 1 else x

    def parameters(self):
        return [p for neurons, _ in self.layers for w, b in neurons for p in w + [b]]


def train_step(Value, model, params, X, y):
    """One full step; returns the loss (a float).  X: list of (x1, x2) floats, y: list of ±1.0."""
    inputs = [[Value(a), Value(b)] for a, b in X]
    scores = [model(x) for x in inputs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in params)
    total = data_loss + reg_loss
    for p in params:
        p.grad = 0.0
    total.backward()
    for p in params:
        p.data -= LR * p.grad
    return total.data


def make_data():
    import bpcourse as bp
    X, y = bp.data.moons(N_POINTS, noise=0.1, seed=0)
    return [(float(a), float(b)) for a, b in X], [2.0 * float(c) - 1.0 for c in y]


def engines():
    """{name: Value class} for the engines that are installed."""
    import bpcourse as bp
    out = {"bpcourse": bp.Value}
    try:
        from micrograd.engine import Value as MGValue
        out["micrograd"] = MGValue
    except ImportError:
        pass
    return out


def micrograd_native(weights_from):
    """micrograd.nn.MLP(2, [16, 16, 1]) with the weights of a ScalarMLP (so results match)."""
    from micrograd.nn import MLP
    net = MLP(SIZES[0], SIZES[1])
    for p, q in zip(net.parameters(), weights_from.parameters(), strict=True):
        p.data = q.data
    return net


def check_same_step(X, y):
    """One step from the same weights: every engine gives the same loss and the same new weights."""
    results = {}
    for name, Value in engines().items():
        model = ScalarMLP(Value, *SIZES)
        params = model.parameters()
        results[name] = (train_step(Value, model, params, X, y), [p.data for p in params])
    if "micrograd" in results:
        from micrograd.engine import Value as MGValue
        native = micrograd_native(ScalarMLP(MGValue, *SIZES))
        results["micrograd.nn.MLP"] = (train_step(MGValue, native, native.parameters(), X, y),
                                       [p.data for p in native.parameters()])
    L0, w0 = results["bpcourse"]
    for name, (L, w) in results.items():
        if abs(L - L0) > 1e-12 * max(1.0, abs(L0)) or max(abs(a - b) for a, b in zip(w, w0)) > 1e-12:
            raise AssertionError(f"{name} disagrees with bpcourse after one step (loss {L!r} vs {L0!r})")
    return L0


def count_nodes(X, y):
    """Nodes in one step's graph (bpcourse's topological order), to put times per node."""
    import bpcourse as bp
    model = ScalarMLP(bp.Value, *SIZES)
    params = model.parameters()
    inputs = [[bp.Value(a), bp.Value(b)] for a, b in X]
    losses = [(1 + -yi * model(x)).relu() for yi, x in zip(y, inputs)]
    total = sum(losses) * (1.0 / len(losses)) + ALPHA * sum(p * p for p in params)
    return len(total.topo())


def load_notebook_heap():
    """Import what a course notebook's kernel has loaded; returns the modules found."""
    import importlib
    found = []
    for mod in ("matplotlib.pyplot", "ipywidgets", "IPython", "ipykernel.kernelapp"):
        try:
            importlib.import_module(mod)
            found.append(mod)
        except ImportError:
            pass
    return found


def main(argv=None):
    args = parse_args(argv)
    heap_modules = load_notebook_heap() if args.heap == "notebook" else []
    machine = H.machine_info(threads=1)
    machine["heap"] = f"{args.heap} ({len(gc.get_objects())} objects tracked by gc"
    machine["heap"] += f"; imported {', '.join(heap_modules)})" if heap_modules else ")"
    X, y = make_data()
    loss0 = check_same_step(X, y)
    nodes = count_nodes(X, y)
    contenders = {}
    for name, Value in engines().items():
        model = ScalarMLP(Value, *SIZES)
        params = model.parameters()
        contenders[name] = (lambda V=Value, m=model, ps=params: train_step(V, m, ps, X, y))
    if "micrograd" in contenders:
        from micrograd.engine import Value as MGValue
        native = micrograd_native(ScalarMLP(MGValue, *SIZES))
        nparams = native.parameters()
        contenders["micrograd.nn.MLP"] = lambda: train_step(MGValue, native, nparams, X, y)
    print(f"# bench_scalar: {machine['cpu']}, python {machine['python']}, micrograd {machine['micrograd']}; "
          f"MLP(2, [16, 16, 1]) on {N_POINTS} points, {nodes} graph nodes per step, first loss {loss0:.6f}; "
          f"heap {machine['heap']}",
          flush=True)
    stats = H.measure(contenders, repeat=args.repeat, min_time=args.min_time, charge_gc=True)
    result = summarize(stats, nodes)
    result["heap"] = args.heap
    print()
    print(table(result))
    H.write_run(args, "scalar", machine, nodes=nodes, result=result)
    return result


def summarize(stats, nodes):
    mg = stats.get("micrograd")
    speedup = H.paired_ratio(mg, stats["bpcourse"]) if mg else None
    return {"stats": stats, "nodes": nodes, "speedup": speedup, "target": "bpcourse >= 5x faster than micrograd",
            "met": None if speedup is None else speedup >= 5.0}


TABLE_HEAD = "| heap | engine | step time | per graph node | in gc | micrograd / engine |"


def table(result, run=None, head=True, verdict=True):
    """Markdown table of one run (with a leading "run" column if ``run`` is given)."""
    s = result["stats"]
    pre = "" if run is None else f"| {run} "
    rows = []
    if head:
        h = TABLE_HEAD if run is None else "| run " + TABLE_HEAD
        rows = [h, "|" + "---|" * (h.count("|") - 1)]
    for name in ("bpcourse", "micrograd", "micrograd.nn.MLP"):
        if name not in s:
            rows.append(f"{pre}| {result['heap']} | {name} | not installed | – | – | – |")
            continue
        ratio = f"{H.paired_ratio(s['micrograd'], s[name]):.2f}x" if "micrograd" in s else "–"
        rows.append(f"{pre}| {result['heap']} | {name} | {H.fmt_stat(s[name])} | "
                    f"{H.fmt_time(s[name]['median'] / result['nodes'])} | {100 * s[name]['gc_fraction']:.0f} % | {ratio} |")
    if verdict:
        rows += ["", verdict_line(result)]
    return "\n".join(rows)


def verdict_line(result):
    met = H.fmt_met(result["met"], na="n/a (micrograd not installed)")
    return (f"Target ({result['heap']} heap): {result['target']} — met: {met}"
            + (f" (speed-up {result['speedup']:.2f}x)" if result["speedup"] else ""))


if __name__ == "__main__":
    main()
