"""Tests for bpcourse.data: toy generators, helpers, shipped digits, MNIST IDX reader."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from bpcourse import data

NAMES = ["xor", "moons", "circles", "spirals", "gaussians"]


# --------------------------------------------------------------------------
# toy generators
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_dtypes(name):
    X, y = data.make_dataset(name, n=101, seed=1)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_data_other_seed_other_data(name):
    f = data.DATASETS[name]
    X1, y1 = f(seed=3)
    X2, y2 = f(seed=3)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = f(seed=4)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("name", NAMES)
def test_accepts_generator_as_seed(name):
    f = data.DATASETS[name]
    X1, y1 = f(seed=np.random.default_rng(7))
    X2, y2 = f(seed=np.random.default_rng(7))
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    rng = np.random.default_rng(7)
    first, second = f(seed=rng)[0], f(seed=rng)[0]   # a generator is advanced
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("name,classes", [("xor", 2), ("moons", 2), ("circles", 2),
                                          ("spirals", 2), ("spirals", 3),
                                          ("gaussians", 2), ("gaussians", 5)])
@pytest.mark.parametrize("n", [7, 200, 301])
def test_balanced_classes(name, classes, n):
    kw = {"classes": classes} if name in ("spirals", "gaussians") else {}
    _, y = data.make_dataset(name, n=n, **kw)
    counts = np.bincount(y, minlength=classes)
    assert len(counts) == classes and counts.sum() == n
    assert counts.max() - counts.min() <= 1


def test_rows_are_shuffled():
    _, y = data.moons(n=200)
    assert 0 < y[:100].sum() < 100        # not all of one class first


def test_moons_without_noise_lie_on_the_arcs():
    X, y = data.moons(n=400, noise=0.0)
    up, low = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(up[:, 0], up[:, 1]), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(low[:, 0] - 1.0, low[:, 1] - 0.5), 1.0, atol=1e-12)
    assert up[:, 1].min() >= -1e-12 and low[:, 1].max() <= 0.5 + 1e-12
    # noise moves points off the arcs by about `noise`
    X, y = data.moons(n=2000, noise=0.1)
    dist = np.abs(np.hypot(X[y == 0, 0], X[y == 0, 1]) - 1.0)
    assert 0.03 < dist.mean() < 0.15


def test_circles_without_noise_have_the_two_radii():
    X, y = data.circles(n=300, noise=0.0, factor=0.3)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], 0.3)


def test_xor_without_noise_is_the_truth_table():
    X, y = data.xor(n=40, noise=0.0)
    assert set(map(tuple, X)) == {(1.0, 1.0), (-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0)}
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))


def test_spirals_and_gaussians_class_labels():
    _, y = data.spirals(n=90, classes=3)
    assert set(y) == {0, 1, 2}
    X, y = data.gaussians(n=400, classes=4, noise=0.1)
    for c in range(4):
        centre = X[y == c].mean(axis=0)
        angle = 2 * np.pi * c / 4
        np.testing.assert_allclose(centre, [2 * np.cos(angle), 2 * np.sin(angle)], atol=0.05)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [0, -5, 2.5, "10", True, None])
def test_bad_n_raises_naming_n(name, n):
    with pytest.raises(ValueError, match=r"\bn\b"):
        data.make_dataset(name, n=n)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("noise", [-0.1, float("nan"), float("inf"), "0.1"])
def test_bad_noise_raises_naming_noise(name, noise):
    with pytest.raises(ValueError, match="noise"):
        data.make_dataset(name, noise=noise)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="classes"):
        data.spirals(classes=1)
    with pytest.raises(ValueError, match="classes"):
        data.gaussians(classes=2.0)
    with pytest.raises(ValueError, match="n must be at least classes"):
        data.gaussians(n=3, classes=4)
    with pytest.raises(ValueError, match="factor"):
        data.circles(factor=1.0)
    with pytest.raises(ValueError, match="turns"):
        data.spirals(turns=0)
    with pytest.raises(TypeError, match="seed"):
        data.moons(seed=0.5)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="unknown dataset 'moon'") as info:
        data.make_dataset("moon")
    for name in NAMES:
        assert name in str(info.value)
    assert sorted(data.DATASETS) == sorted(NAMES)


def test_make_dataset_forwards_keywords():
    X1, y1 = data.make_dataset("spirals", n=30, classes=3, noise=0.0, seed=2)
    X2, y2 = data.spirals(n=30, classes=3, noise=0.0, seed=2)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def test_train_test_split_partitions_the_rows():
    X = np.arange(200, dtype=np.float64).reshape(100, 2)
    y = np.arange(100)
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_fraction=0.2, seed=5)
    assert Xtr.shape == (80, 2) and Xte.shape == (20, 2)
    assert ytr.shape == (80,) and yte.shape == (20,)
    np.testing.assert_array_equal(np.sort(np.concatenate([ytr, yte])), y)
    np.testing.assert_array_equal(Xtr[:, 0], 2 * ytr)      # rows stay paired
    np.testing.assert_array_equal(Xte[:, 0], 2 * yte)
    again = data.train_test_split(X, y, test_fraction=0.2, seed=5)
    np.testing.assert_array_equal(again[3], yte)
    other = data.train_test_split(X, y, test_fraction=0.2, seed=6)
    assert not np.array_equal(other[3], yte)


def test_train_test_split_errors():
    X, y = np.zeros((10, 2)), np.zeros(10, dtype=np.int64)
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(X, y, test_fraction=1.0)
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(X, y, test_fraction=0)
    with pytest.raises(ValueError, match="shape"):
        data.train_test_split(X, y[:9])


def test_one_hot():
    Y = data.one_hot(np.array([2, 0, 1, 2]), 4)
    np.testing.assert_array_equal(Y, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    assert Y.dtype == np.float64
    assert data.one_hot([0, 3]).shape == (2, 4)
    with pytest.raises(ValueError, match="class indices"):
        data.one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="class indices"):
        data.one_hot([-1, 0], 3)
    with pytest.raises(ValueError, match="integer"):
        data.one_hot([0.5, 1.0], 3)


def test_standardize_uses_given_statistics():
    X, _ = data.gaussians(n=500, seed=0)
    X = np.column_stack([X, np.full(len(X), 3.0)])          # a constant column
    Z, mean, std = data.standardize(X)
    np.testing.assert_allclose(Z[:, :2].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Z[:, :2].std(0), 1)
    np.testing.assert_array_equal(Z[:, 2], 0)
    Z2, _, _ = data.standardize(X[:10], mean, std)
    np.testing.assert_array_equal(Z2, Z[:10])


# --------------------------------------------------------------------------
# shipped digits
# --------------------------------------------------------------------------

DIGITS_FILE = Path(data.__file__).parent / "data_files" / "digits.npz"


def test_digits_file_is_small_and_attributed():
    assert DIGITS_FILE.is_file()
    assert DIGITS_FILE.stat().st_size < 1_000_000
    readme = (DIGITS_FILE.parent / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in readme and "Alpaydin" in readme and "Kaynak" in readme


def test_load_digits():
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    counts = np.bincount(y)
    assert len(counts) == 10 and counts.min() >= 170 and counts.max() <= 190
    raw, y2 = data.load_digits(scale=False)
    np.testing.assert_array_equal(raw, 16 * X)
    np.testing.assert_array_equal(raw, np.round(raw))
    np.testing.assert_array_equal(y, y2)
    # the first image is a zero, as in the UCI file
    assert y[0] == 0
    np.testing.assert_array_equal(raw[0, :16], [0, 0, 5, 13, 9, 1, 0, 0,
                                                0, 0, 13, 15, 10, 15, 5, 0])
    assert raw.sum() == 561718


def test_load_digits_returns_fresh_arrays():
    X, _ = data.load_digits()
    X[:] = -1
    assert data.load_digits()[0].min() == 0.0


def test_load_digits_split():
    Xtr, Xte, ytr, yte = data.load_digits_split(test_fraction=0.25, seed=0)
    assert Xtr.shape == (1348, 64) and Xte.shape == (449, 64)
    assert ytr.shape == (1348,) and yte.shape == (449,)
    assert set(yte) == set(range(10))
    again = data.load_digits_split(seed=0)
    np.testing.assert_array_equal(again[3], yte)


# --------------------------------------------------------------------------
# MNIST IDX files
# --------------------------------------------------------------------------

def idx_bytes(array, magic):
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder, kind="train", n=5, rows=28, cols=28, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    opener = gzip.compress if gz else (lambda b: b)
    (folder / f"{kind}-images-idx3-ubyte{suffix}").write_bytes(opener(idx_bytes(images, 0x803)))
    (folder / f"{kind}-labels-idx1-ubyte{suffix}").write_bytes(opener(idx_bytes(labels, 0x801)))
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind,prefix", [("train", "train"), ("t10k", "t10k"), ("test", "t10k")])
def test_load_mnist_round_trip(tmp_path, gz, kind, prefix):
    images, labels = write_mnist(tmp_path, prefix, n=7, gz=gz)
    X, y = data.load_mnist(tmp_path, kind=kind)
    assert X.shape == (7, 784) and X.dtype == np.float64
    assert y.shape == (7,) and y.dtype == np.int64
    assert X.min() >= 0.0 and X.max() <= 1.0
    np.testing.assert_array_equal(np.round(X * 255).astype(np.uint8), images.reshape(7, -1))
    np.testing.assert_array_equal(X, images.reshape(7, -1) / 255.0)
    np.testing.assert_array_equal(y, labels)


def test_load_mnist_other_image_size_float32_and_str_path(tmp_path):
    images, labels = write_mnist(tmp_path, n=3, rows=4, cols=6)
    X, y = data.load_mnist(str(tmp_path), dtype=np.float32)
    assert X.shape == (3, 24) and X.dtype == np.float32
    np.testing.assert_allclose(X, images.reshape(3, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)


def test_load_mnist_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r"train-images-idx3-ubyte.*train-images-idx3-ubyte\.gz") as info:
        data.load_mnist(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "never downloads" in message and "http" in message
    # images present, labels missing
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        data.load_mnist(tmp_path)


def test_load_mnist_missing_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.load_mnist(missing)


def test_load_mnist_bad_magic(tmp_path):
    write_mnist(tmp_path)
    # labels written where the images belong: magic 0x801 instead of 0x803
    labels_file = tmp_path / "train-labels-idx1-ubyte"
    (tmp_path / "train-images-idx3-ubyte").write_bytes(labels_file.read_bytes())
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*0x00000803.*found 0x00000801"):
        data.load_mnist(tmp_path)


def test_load_mnist_bad_magic_gz(tmp_path):
    write_mnist(tmp_path, gz=True)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x12\x34\x56\x78" * 4))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz.*found 0x12345678"):
        data.load_mnist(tmp_path)


def test_load_mnist_count_mismatch(tmp_path):
    write_mnist(tmp_path, n=5)
    labels = np.arange(4, dtype=np.uint8)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels, 0x801))
    with pytest.raises(ValueError, match="5 images.*4 labels"):
        data.load_mnist(tmp_path)


def test_load_mnist_truncated(tmp_path):
    write_mnist(tmp_path, n=5)
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte"):
        data.load_mnist(tmp_path)


def test_load_mnist_bad_kind(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        data.load_mnist(tmp_path, kind="validation")
