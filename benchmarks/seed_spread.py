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


def _digits_mlp(seed, X, y, adversarial_eps=None):
    """16's MLP([64, 64, 10]) tanh, Adam lr 0.01, batch 32, 20 epochs; with ``adversarial_eps`` each batch is
    doubled with its FGSM version (Goodfellow et al.'s objective with α = 1/2)."""
    from bpcourse.input_gradients import fgsm
    net = bp.nn.MLP([64, 64, 10], activation="tanh", seed=seed)
    opt, ce, rng = bp.optim.Adam(net.parameters(), lr=0.01), bp.losses.SoftmaxCrossEntropy(), np.random.default_rng(seed)
    for _ in range(20):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 32):
            Xb, yb = X[order[start:start + 32]], y[order[start:start + 32]]
            if adversarial_eps is not None:
                Xb, yb = np.concatenate([Xb, fgsm(net, ce, Xb, yb, adversarial_eps)]), np.concatenate([yb, yb])
            ce(net.forward(Xb), yb)
            opt.zero_grad()
            net.backward(ce.backward())
            opt.step()
    return net


def _digits_cnn(seed, X, y):
    """16's CNN: Conv2d(1, 16, 3, padding=1), tanh, MaxPool2d(2), Flatten, Linear(256, 10); Adam, 10 epochs."""
    net = bp.nn.Sequential(bp.nn.Conv2d(1, 16, 3, padding=1, seed=seed), bp.nn.Tanh(), bp.nn.MaxPool2d(2),
                           bp.nn.Flatten(), bp.nn.Linear(256, 10, seed=seed + 1))
    bp.train.fit(net, "cross_entropy", bp.optim.Adam(net.parameters(), lr=0.01), X.reshape(-1, 1, 8, 8), y,
                 epochs=10, batch_size=32, seed=seed, progress=False)
    return net


def exp_16():
    """16: accuracy under FGSM and under random signs of the same size (ε = 0.05 / 0.1 / 0.2), pixels in [0, 1],
    25 % test split; MLP on 3 splits x seeds 0-4 plus seeds 5-9 on split 0, CNN on 3 splits x seeds 0-2;
    adversarial training (ε = 0.1) on splits 0-1 x seeds 0-4; the saliency's share on background pixels."""
    from bpcourse.input_gradients import fgsm, random_sign_noise, saliency
    eps = (0.05, 0.1, 0.2)
    runs = {"MLP": [(split, seed) for split in range(3) for seed in range(5)] + [(0, seed) for seed in range(5, 10)],
            "CNN": [(split, seed) for split in range(3) for seed in range(3)]}
    for name, settings in runs.items():
        table = []
        for split, seed in settings:
            X_tr, X_te, y_tr, y_te = bp.data.load_digits_split(test_fraction=0.25, seed=split)
            net = _digits_mlp(seed, X_tr, y_tr) if name == "MLP" else _digits_cnn(seed, X_tr, y_tr)
            X = X_te if name == "MLP" else X_te.reshape(-1, 1, 8, 8)
            acc = lambda A: float((net.forward(A).argmax(1) == y_te).mean())      # noqa: E731
            table.append([acc(X)] + [acc(fgsm(net, "cross_entropy", X, y_te, e)) for e in eps]
                         + [acc(random_sign_noise(X, e, seed=seed)) for e in eps])
            if seed < 3 and split == 0:
                bg = X_te < 0.25
                S = saliency(net, X, y_te).reshape(len(X_te), 64)
                print(f"  {name} seed {seed}: saliency share on background {((S * bg).sum(1) / S.sum(1)).mean():.3f}"
                      f" (background pixels {bg.mean():.3f})")
        print(f"16 {name}: {len(table)} runs")
        for col, label in zip(np.array(table).T, ["clean"] + [f"FGSM ε = {e}" for e in eps]
                              + [f"random signs ε = {e}" for e in eps]):
            _summary(f"{label:20s} (sd {col.std(ddof=1):.3f})", col)
    robust = []
    for split in range(2):
        X_tr, X_te, y_tr, y_te = bp.data.load_digits_split(test_fraction=0.25, seed=split)
        for seed in range(5):
            for adv in (None, 0.1):
                net = _digits_mlp(seed, X_tr, y_tr, adversarial_eps=adv)
                robust.append((adv is not None, float((net.forward(X_te).argmax(1) == y_te).mean()),
                               float((net.forward(fgsm(net, "cross_entropy", X_te, y_te, 0.1)).argmax(1) == y_te).mean())))
    for flag, label in ((False, "standard"), (True, "adversarially trained")):
        _summary(f"16 {label}: clean", [c for a, c, _ in robust if a == flag])
        _summary(f"16 {label}: under FGSM ε = 0.1", [r for a, _, r in robust if a == flag])


EXPERIMENTS = {"06": exp_06, "16": exp_16}


def main(argv=None):
    names = (argv if argv is not None else sys.argv[1:]) or list(EXPERIMENTS)
    for name in names:
        if name not in EXPERIMENTS:
            raise SystemExit(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
        EXPERIMENTS[name]()


if __name__ == "__main__":
    main()
