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


def _shift(images, di, dj):
    """(N, 1, 8, 8) images moved di rows down and dj columns right; zeros fill in (as in notebook 15)."""
    out = np.zeros_like(images)
    H, W = images.shape[2:]
    out[..., max(di, 0):H + min(di, 0), max(dj, 0):W + min(dj, 0)] = \
        images[..., max(-di, 0):H + min(-di, 0), max(-dj, 0):W + min(-dj, 0)]
    return out


def exp_15(seeds=range(5)):
    """15: sections 6 and 7 per seed (weights and batch order; the split is the notebook's, seed 0/1).
    The small CNN's test accuracy; on the test digits shifted one pixel up, down, left and right, the
    mean accuracy of 06's MLP (ReLU, plain SGD η = 0.1, 30 epochs, pixels in [0, 1]) and of the CNN
    with global average pooling, and their gap."""
    nn, acc = bp.nn, lambda m, X, y: float((bp.train.predict(m, X).argmax(1) == y).mean())
    X, y = bp.data.load_digits()
    X_rest, X_test, y_rest, y_test = bp.data.train_test_split(X, y, test_fraction=0.2, seed=0)
    X_train, X_val, y_train, y_val = bp.data.train_test_split(X_rest, y_rest, test_fraction=0.2, seed=1)
    img = lambda A: A.reshape(-1, 1, 8, 8)
    shifted = [_shift(img(X_test), *d) for d in ((-1, 0), (1, 0), (0, -1), (0, 1))]
    cnn_test, mlp_shift, gap_shift, gaps = [], [], [], []
    for seed in seeds:
        cnn = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, seed=seed), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(16, 32, 3, padding=1, seed=seed + 1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(128, 10, seed=seed + 2))
        bp.train.fit(cnn, "cross_entropy", bp.optim.Adam(cnn.parameters(), lr=0.01), img(X_train), y_train,
                     epochs=12, batch_size=32, X_val=img(X_val), y_val=y_val, early_stopping=5, seed=seed,
                     progress=False)
        mlp = nn.MLP([64, 128, 10], activation="relu", seed=seed)
        bp.train.fit(mlp, "cross_entropy", bp.optim.SGD(mlp.parameters(), lr=0.1), X_train, y_train,
                     epochs=30, batch_size=32, seed=seed, progress=False)
        gap_cnn = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, seed=seed), nn.ReLU(), nn.MaxPool2d(2, stride=1),
                                nn.Conv2d(16, 32, 3, padding=1, seed=seed + 1), nn.ReLU(),
                                nn.GlobalAvgPool2d(), nn.Linear(32, 10, seed=seed + 2))
        bp.train.fit(gap_cnn, "cross_entropy", bp.optim.Adam(gap_cnn.parameters(), lr=0.01), img(X_train),
                     y_train, epochs=12, batch_size=32, seed=seed, progress=False)
        cnn_test.append(acc(cnn, img(X_test), y_test))
        mlp_shift.append(np.mean([acc(mlp, s.reshape(len(s), -1), y_test) for s in shifted]))
        gap_shift.append(np.mean([acc(gap_cnn, s, y_test) for s in shifted]))
        gaps.append(gap_shift[-1] - mlp_shift[-1])
    print(f"15: {len(gaps)} seeds")
    _summary("small CNN test accuracy", cnn_test)
    _summary("shifted digits, MLP", mlp_shift)
    _summary("shifted digits, CNN + global average pooling", gap_shift)
    _summary("gap (CNN + GAP − MLP)", gaps)


EXPERIMENTS = {"06": exp_06, "15": exp_15}


def main(argv=None):
    names = (argv if argv is not None else sys.argv[1:]) or list(EXPERIMENTS)
    for name in names:
        if name not in EXPERIMENTS:
            raise SystemExit(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
        EXPERIMENTS[name]()


if __name__ == "__main__":
    main()
