"""The spread behind notebook 15's two training claims, over seeds (weights and batch order).

Sections 6 and 7 of notebooks/15_convolution.ipynb, rerun for each seed with everything else fixed
(the same train / validation / test split, the same networks, optimisers and epochs):

* the small CNN's test accuracy (the notebook asserts >= 97 %);
* on the test digits shifted one pixel up, down, left and right: the accuracy of notebook 06's MLP
  and of the CNN with global average pooling, and their gap (the notebook asserts >= 15 points).

    python benchmarks/seeds_conv.py --seeds 0 1 2 3 4
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import bpcourse as bp
from bpcourse import train

SHIFTS = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}


def split():
    X, y = bp.data.load_digits()
    X_rest, X_test, y_rest, y_test = bp.data.train_test_split(X, y, test_fraction=0.2, seed=0)
    X_train, X_val, y_train, y_val = bp.data.train_test_split(X_rest, y_rest, test_fraction=0.2, seed=1)
    return X_train, X_val, X_test, y_train, y_val, y_test


def shift(images, di, dj):
    out = np.zeros_like(images)
    H, W = images.shape[2:]
    out[..., max(di, 0):H + min(di, 0), max(dj, 0):W + min(dj, 0)] = \
        images[..., max(-di, 0):H + min(-di, 0), max(-dj, 0):W + min(-dj, 0)]
    return out


def accuracy(model, X, y):
    return float((train.predict(model, X).argmax(axis=1) == y).mean())


def run(seed):
    X_train, X_val, X_test, y_train, y_val, y_test = split()
    img = lambda X: X.reshape(-1, 1, 8, 8)
    nn = bp.nn
    cnn = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, seed=seed), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1, seed=seed + 1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(128, 10, seed=seed + 2))
    train.fit(cnn, "cross_entropy", bp.optim.Adam(cnn.parameters(), lr=0.01), img(X_train), y_train, epochs=12,
              batch_size=32, X_val=img(X_val), y_val=y_val, early_stopping=5, seed=seed, progress=False)
    mlp = nn.MLP([64, 128, 10], activation="relu", seed=seed)
    train.fit(mlp, "cross_entropy", bp.optim.SGD(mlp.parameters(), lr=0.05, momentum=0.9), X_train, y_train,
              epochs=30, batch_size=32, seed=seed, progress=False)
    gap_cnn = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, seed=seed), nn.ReLU(), nn.MaxPool2d(2, stride=1),
                            nn.Conv2d(16, 32, 3, padding=1, seed=seed + 1), nn.ReLU(),
                            nn.GlobalAvgPool2d(), nn.Linear(32, 10, seed=seed + 2))
    train.fit(gap_cnn, "cross_entropy", bp.optim.Adam(gap_cnn.parameters(), lr=0.01), img(X_train), y_train,
              epochs=12, batch_size=32, seed=seed, progress=False)
    shifted = [shift(img(X_test), *d) for d in SHIFTS.values()]
    mlp_s = np.mean([accuracy(mlp, s.reshape(len(s), -1), y_test) for s in shifted])
    gap_s = np.mean([accuracy(gap_cnn, s, y_test) for s in shifted])
    return {"cnn_test": accuracy(cnn, img(X_test), y_test), "mlp_shifted": float(mlp_s),
            "gap_cnn_shifted": float(gap_s), "gap": float(gap_s - mlp_s)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = p.parse_args(argv)
    rows = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        r = run(seed)
        rows.append(r)
        print(f"seed {seed}: CNN test {r['cnn_test']:.3f};  shifted: MLP {r['mlp_shifted']:.3f}, "
              f"CNN + GAP {r['gap_cnn_shifted']:.3f}, gap {100 * r['gap']:.1f} points  ({time.perf_counter() - t0:.1f} s)",
              flush=True)
    for key, label in (("cnn_test", "CNN test accuracy"), ("gap", "shifted-digit gap (CNN + GAP − MLP)")):
        v = np.array([r[key] for r in rows])
        print(f"{label}: min {v.min():.3f}, mean {v.mean():.3f}, max {v.max():.3f} over {len(v)} seeds")


if __name__ == "__main__":
    main()
