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
            acc = lambda A, net=net, y_te=y_te: float((net.forward(A).argmax(1) == y_te).mean())      # noqa: E731
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


EXPERIMENTS = {"06": exp_06, "15": exp_15, "16": exp_16}


def main(argv=None):
    names = (argv if argv is not None else sys.argv[1:]) or list(EXPERIMENTS)
    for name in names:
        if name not in EXPERIMENTS:
            raise SystemExit(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
        EXPERIMENTS[name]()


if __name__ == "__main__":
    main()
