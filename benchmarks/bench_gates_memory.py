"""The long-memory task of notebook 14 at a length the notebook cannot afford: RNN vs LSTM vs GRU over seeds.

The protocol is the notebook's section 4 (``bp.data.marked_memory``: remember the sign of a value marked at a
random step among the first T/4; model ``cell -> LastStep -> Linear(hidden, 1)``; ``fit`` with Adam, mini-batches
of 32, clipping at norm 1; training stops once the validation accuracy reaches 95 % or after ``--epochs``;
scored on 1,000 unseen test sequences), here with more sequences and epochs and at T = 80 by default.  Each
configuration is trained from every seed; the table gives the test accuracy per seed, the mean and the spread.

    python benchmarks/bench_gates_memory.py                       # T = 80, every configuration, seeds 0 1 2
    python benchmarks/bench_gates_memory.py --T 30 --n-train 512 --epochs 10    # the notebook's setting
    python benchmarks/bench_gates_memory.py --only rnn lstm --seeds 0 1 2 3 4 --json benchmarks/results/gates.json

The claim of notebook 14 ("the LSTM averages >= 90 % while the vanilla RNN averages at least 15 points lower")
is evaluated for every gated configuration against the RNN and printed; the exit code is 0 when the best gated
configuration meets it.  A measurement of learning, not of speed: CPU seconds are reported for orientation.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as H  # noqa: E402

# name -> (layer class name, keyword arguments)
CONFIGS = {
    "rnn": ("RNN", {}),
    "lstm": ("LSTM", {}),                                  # forget_bias=1, the default
    "lstm_fb0": ("LSTM", {"forget_bias": 0.0}),
    "lstm_fb3": ("LSTM", {"forget_bias": 3.0}),
    "gru": ("GRU", {}),                                    # update_bias=0, the default
    "gru_ub2": ("GRU", {"update_bias": 2.0}),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=int, default=80, help="sequence length (default 80)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="model seeds (default 0 1 2)")
    p.add_argument("--n-train", type=int, default=1024, help="training sequences (default 1024)")
    p.add_argument("--epochs", type=int, default=20, help="at most this many epochs (default 20)")
    p.add_argument("--hidden", type=int, default=16, help="units per cell (default 16)")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam's learning rate (default 1e-2)")
    p.add_argument("--truncate", type=int, default=None, help="truncated BPTT window for every cell (default: full)")
    p.add_argument("--only", nargs="+", choices=list(CONFIGS), default=None, help="some configurations only")
    p.add_argument("--json", default=None, help="also write the results as JSON to this path")
    args = p.parse_args(argv)
    if args.T < 4 or args.n_train < 32 or args.epochs < 1 or args.hidden < 1 or not args.lr > 0:
        p.error("need T >= 4, n-train >= 32, epochs >= 1, hidden >= 1 and lr > 0")
    return args


def run(cell, options, seed, data, args):
    """Train one network; returns (test accuracy, epochs used, CPU seconds, validation curve)."""
    import bpcourse as bp
    from bpcourse import train
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = data
    layer = getattr(bp.nn, cell)(2, args.hidden, seed=seed, truncate=args.truncate, **options)
    model = bp.nn.Sequential(layer, bp.nn.LastStep(), bp.nn.Linear(args.hidden, 1, seed=100 + seed))
    c0 = time.process_time()
    history = train.fit(model, "bce_logits", bp.optim.Adam(model.parameters(), lr=args.lr), X_train, y_train,
                        epochs=args.epochs, batch_size=32, X_val=X_val, y_val=y_val, clip_norm=1.0, seed=seed,
                        progress=False, callbacks=[lambda epoch, h, m: h.val_acc[-1] >= 0.95])
    accuracy = train.evaluate(model, "bce_logits", X_test, y_test)[1]
    return accuracy, len(history.epoch), time.process_time() - c0, [round(a, 3) for a in history.val_acc]


def main(argv=None):
    args = parse_args(argv)
    H.pin_threads(1)
    import numpy as np

    import bpcourse as bp
    machine = H.machine_info(1)
    print(f"$ {H.command_line()}", file=sys.stderr)
    T = args.T
    data = (bp.data.marked_memory(args.n_train, T, seed=1), bp.data.marked_memory(256, T, seed=2),
            bp.data.marked_memory(1000, T, seed=3))
    rows = []
    for name in args.only or CONFIGS:
        cell, options = CONFIGS[name]
        runs = [run(cell, options, seed, data, args) for seed in args.seeds]
        acc = np.array([r[0] for r in runs])
        rows.append({"config": name, "cell": cell, "options": options, "seeds": args.seeds,
                     "accuracy": acc.tolist(), "mean": float(acc.mean()), "min": float(acc.min()),
                     "max": float(acc.max()), "epochs": [r[1] for r in runs], "cpu_s": [round(r[2], 1) for r in runs],
                     "val_curves": [r[3] for r in runs]})
        print(f"{name}: {np.round(acc, 3).tolist()} mean {acc.mean():.3f}", file=sys.stderr)
    by = {r["config"]: r for r in rows}
    verdicts = []
    if "rnn" in by:
        for name, r in by.items():
            if name != "rnn":
                ok = r["mean"] >= 0.90 and by["rnn"]["mean"] <= r["mean"] - 0.15
                verdicts.append((name, ok))
    met = any(ok for _, ok in verdicts)
    lines = [f"## Long-memory task, T = {T} ({time.strftime('%Y-%m-%d')})", "",
             f"Command: `{H.command_line()}`", "",
             f"- Machine: {machine['cpu']}, 1-min load average {machine.get('loadavg_1min', '?')} (shared), "
             f"numpy {machine['numpy']}", f"- {args.n_train} training sequences, {args.hidden} units, Adam "
             f"{args.lr:g}, batch 32, clip 1, at most {args.epochs} epochs (stop at 95 % validation accuracy), "
             f"truncate={args.truncate}; test: 1,000 sequences", "",
             "| configuration | test accuracy per seed | mean | min – max | epochs used | CPU s per run |",
             "|---|---|---:|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['config']} | {', '.join(f'{a:.3f}' for a in r['accuracy'])} | {r['mean']:.3f} | "
                     f"{r['min']:.3f} – {r['max']:.3f} | {r['epochs']} | {r['cpu_s']} |")
    lines.append("")
    for name, ok in verdicts:
        lines.append(f"- {name} mean ≥ 0.90 and RNN ≥ 15 points lower: **{'met' if ok else 'not met'}**")
    print("\n".join(lines))
    H.write_json(args.json, {"machine": machine, "command": H.command_line(), "args": vars(args), "rows": rows,
                             "claim_met": met})
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
