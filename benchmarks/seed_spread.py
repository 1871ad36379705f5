"""Training claims measured across seeds (not a speed benchmark; run by hand, quoted in the notebooks).

A notebook runs one seed within its 30 s budget; the claim it makes about training must hold for
other seeds too.  Each experiment below reruns a notebook's set-up for several seeds and prints
the spread, which the notebook's text quotes and its check asserts with margin.

    PYTHONPATH=. OPENBLAS_NUM_THREADS=1 python benchmarks/seed_spread.py 06      # one experiment
    PYTHONPATH=. OPENBLAS_NUM_THREADS=1 python benchmarks/seed_spread.py         # all of them
"""
from __future__ import annotations

import sys

import numpy as np

import bpcourse as bp


def _summary(name, values):
    v = np.asarray(values, dtype=float)
    print(f"  {name}: min {v.min():.4g}  mean {v.mean():.4g}  max {v.max():.4g}   ({', '.join(f'{x:.4g}' for x in v)})")


def exp_06(seeds=range(10)):
    """06: MLP([64, 128, 10]) ReLU, plain SGD η = 0.1, batch 32, 30 epochs; train / validation / test
    = 1078 / 270 / 449 digits, all three split, the init and the shuffle by the same seed."""
    test_acc, best_epoch = [], []
    for seed in seeds:
        X_rest, X_test, y_rest, y_test = bp.data.load_digits_split(test_fraction=0.25, seed=seed)
        X_train, X_val, y_train, y_val = bp.data.train_test_split(X_rest, y_rest, test_fraction=0.2, seed=seed)
        X_train, mean, std = bp.data.standardize(X_train)
        X_val, X_test = (bp.data.standardize(X, mean, std)[0] for X in (X_val, X_test))
        net = bp.nn.MLP([64, 128, 10], activation="relu", seed=seed)
        h = bp.train.fit(net, "cross_entropy", bp.optim.SGD(net.parameters(), lr=0.1), X_train, y_train,
                         epochs=30, batch_size=32, X_val=X_val, y_val=y_val, seed=seed, progress=False)
        test_acc.append(float((net(X_test).argmax(1) == y_test).mean()))
        best_epoch.append(h.best_epoch)
    print(f"06: {len(test_acc)} seeds")
    _summary("test accuracy after 30 epochs", test_acc)
    _summary("epoch of lowest validation loss", best_epoch)


EXPERIMENTS = {"06": exp_06}


def main(argv=None):
    names = (argv if argv is not None else sys.argv[1:]) or list(EXPERIMENTS)
    for name in names:
        if name not in EXPERIMENTS:
            raise SystemExit(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
        EXPERIMENTS[name]()


if __name__ == "__main__":
    main()
