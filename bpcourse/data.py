"""Toy datasets and loaders (numpy only).

Every generator returns ``(X, y)``: ``X`` float64 of shape (n, 2) and ``y``
int64 class indices of shape (n,). Classes are balanced (their counts differ
by at most one), rows come shuffled, and the same ``seed`` always gives the
same arrays. ``seed`` is an int or an ``np.random.Generator`` (a generator is
advanced, so two calls with the same generator give different data).

    X, y = moons(n=200, noise=0.1, seed=0)
    X, y = make_dataset("spirals", n=300, classes=3)
    X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0)

Real data: ``load_digits()`` reads the 8x8 digits shipped with the package;
``load_mnist(path)`` reads MNIST IDX files you have downloaded yourself;
``load_text("shakespeare")`` reads the shipped tiny-Shakespeare corpus (notebook 17), which
``CharVocab``, ``split_ids`` and ``get_batch`` turn into training batches for a character model.
Nothing here ever touches the network.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import numbers
import os
import zlib
from pathlib import Path

import numpy as np

from .validate import positive_int, real

__all__ = [
    "xor",
    "moons",
    "circles",
    "spirals",
    "gaussians",
    "DATASETS",
    "make_dataset",
    "train_test_split",
    "one_hot",
    "standardize",
    "load_digits",
    "load_digits_split",
    "load_mnist",
    "TEXTS",
    "load_text",
    "CharVocab",
    "split_ids",
    "get_batch",
]


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------

def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed}")
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int or np.random.Generator, got {seed!r}")


def _check_int(name: str, value, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def _check_real(name: str, value, *, low: float = 0.0, low_open: bool = False,
                high: float | None = None, high_open: bool = True) -> float:
    bounds = f"{'>' if low_open else '>='} {low}"
    if high is not None:
        bounds += f" and {'<' if high_open else '<='} {high}"
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return value


def _check_sizes(n, classes: int = 2) -> int:
    n = _check_int("n", n, 1)
    if n < classes:
        raise ValueError(f"n must be at least classes={classes} so that every "
                         f"class gets a point, got n={n}")
    return n


def _class_counts(n: int, classes: int) -> np.ndarray:
    """Split n points over classes as evenly as possible: shape (classes,)."""
    counts = np.full(classes, n // classes)
    counts[: n % classes] += 1
    return counts


def _finish(parts, rng: np.random.Generator, noise: float):
    """Stack per-class point arrays, add Gaussian noise and shuffle the rows."""
    X = np.concatenate(parts).astype(np.float64)
    y = np.concatenate([np.full(len(p), c, dtype=np.int64) for c, p in enumerate(parts)])
    X += noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(y))
    return X[order], y[order]


# --------------------------------------------------------------------------
# toy 2-D generators
# --------------------------------------------------------------------------

def xor(n=200, noise=0.2, seed=0):
    """Four blobs at the corners (+-1, +-1); the label is 1 where the signs differ.

    No straight line separates the classes: the smallest problem that needs a
    hidden layer. With ``noise=0`` every point sits exactly on a corner.

    Returns X float64 (n, 2), y int64 (n,) with values in {0, 1}.
    """
    n = _check_sizes(n)
    noise = _check_real("noise", noise)
    rng = _rng(seed)
    corners = {0: [(1.0, 1.0), (-1.0, -1.0)], 1: [(-1.0, 1.0), (1.0, -1.0)]}
    parts = []
    for c, m in enumerate(_class_counts(n, 2)):
        which = np.arange(m) % 2              # alternate the class's two corners
        parts.append(np.asarray(corners[c])[which])
    return _finish(parts, rng, noise)


def moons(n=200, noise=0.1, seed=0):
    """Two interleaving half circles of radius 1.

    Class 0 lies on the upper arc (cos t, sin t), class 1 on the lower arc
    (1 - cos t, 0.5 - sin t), for t uniform in [0, pi]; then Gaussian noise
    of standard deviation ``noise`` is added to both coordinates.

    Returns X float64 (n, 2), y int64 (n,) with values in {0, 1}.
    """
    n = _check_sizes(n)
    noise = _check_real("noise", noise)
    rng = _rng(seed)
    m0, m1 = _class_counts(n, 2)
    t0 = rng.uniform(0.0, np.pi, m0)
    t1 = rng.uniform(0.0, np.pi, m1)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    return _finish([upper, lower], rng, noise)


def circles(n=200, noise=0.05, factor=0.5, seed=0):
    """Two concentric circles: class 0 of radius 1, class 1 of radius ``factor``.

    Angles are uniform; Gaussian noise of standard deviation ``noise`` is added
    to both coordinates. ``factor`` must lie in (0, 1).

    Returns X float64 (n, 2), y int64 (n,) with values in {0, 1}.
    """
    n = _check_sizes(n)
    noise = _check_real("noise", noise)
    factor = _check_real("factor", factor, low_open=True, high=1.0)
    rng = _rng(seed)
    parts = []
    for radius, m in zip((1.0, factor), _class_counts(n, 2)):
        angle = rng.uniform(0.0, 2 * np.pi, m)
        parts.append(radius * np.column_stack([np.cos(angle), np.sin(angle)]))
    return _finish(parts, rng, noise)


def spirals(n=200, classes=2, noise=0.05, turns=1.0, seed=0):
    """``classes`` interleaved spiral arms, one arm per class.

    A point of arm j at radius r in [0, 1] has angle 2*pi*(turns*r + j/classes),
    so arms are rotated copies of each other; r is uniform along each arm.
    Gaussian noise of standard deviation ``noise`` is added to both coordinates.

    Returns X float64 (n, 2), y int64 (n,) with values in {0, ..., classes-1}.
    """
    classes = _check_int("classes", classes, 2)
    n = _check_sizes(n, classes)
    noise = _check_real("noise", noise)
    turns = _check_real("turns", turns, low_open=True)
    rng = _rng(seed)
    parts = []
    for j, m in enumerate(_class_counts(n, classes)):
        r = rng.uniform(0.0, 1.0, m)
        angle = 2 * np.pi * (turns * r + j / classes)
        parts.append(r[:, None] * np.column_stack([np.cos(angle), np.sin(angle)]))
    return _finish(parts, rng, noise)


def gaussians(n=200, classes=2, noise=0.5, seed=0):
    """Isotropic Gaussian blobs, one per class, centred on a circle of radius 2.

    Centre j is 2 * (cos(2*pi*j/classes), sin(2*pi*j/classes)); ``noise`` is
    the standard deviation of every blob. With two classes and little noise the
    problem is linearly separable.

    Returns X float64 (n, 2), y int64 (n,) with values in {0, ..., classes-1}.
    """
    classes = _check_int("classes", classes, 2)
    n = _check_sizes(n, classes)
    noise = _check_real("noise", noise)
    rng = _rng(seed)
    parts = []
    for j, m in enumerate(_class_counts(n, classes)):
        angle = 2 * np.pi * j / classes
        parts.append(np.tile([2.0 * np.cos(angle), 2.0 * np.sin(angle)], (m, 1)))
    return _finish(parts, rng, noise)


DATASETS = {
    "xor": xor,
    "moons": moons,
    "circles": circles,
    "spirals": spirals,
    "gaussians": gaussians,
}
"""Name -> generator, for widgets and ``make_dataset``."""


def make_dataset(name, **kw):
    """Call the generator ``DATASETS[name](**kw)`` and return its ``(X, y)``.

    An unknown name raises ``ValueError`` listing the valid names.
    """
    if not isinstance(name, str) or name not in DATASETS:
        valid = ", ".join(sorted(DATASETS))
        raise ValueError(f"unknown dataset {name!r}; valid names: {valid}")
    return DATASETS[name](**kw)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def train_test_split(X, y, test_fraction=0.25, seed=0):
    """Shuffle the rows and split them into a training part and a test part.

    X has shape (N, ...) and y shape (N,). The test part gets
    round(N * test_fraction) rows (at least 1, and at least 1 row is left for
    training). Returns ``X_train, X_test, y_train, y_test``.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"X must have shape (N, ...) and y shape (N,), got "
                         f"X {X.shape} and y {y.shape}")
    test_fraction = _check_real("test_fraction", test_fraction, low_open=True, high=1.0)
    N = len(y)
    if N < 2:
        raise ValueError(f"need at least 2 rows to split, got {N}")
    n_test = min(max(int(round(N * test_fraction)), 1), N - 1)
    order = _rng(seed).permutation(N)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def one_hot(y, classes=None):
    """Class indices (N,) -> one-hot float64 matrix (N, classes).

    ``classes`` defaults to ``y.max() + 1``. Indices outside
    [0, classes) raise ``ValueError``.
    """
    y = np.asarray(y)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.size == 0):
        raise ValueError(f"y must be a 1-D array of integer class indices, "
                         f"got shape {y.shape} and dtype {y.dtype}")
    if classes is None:
        classes = int(y.max()) + 1 if y.size else 0
    classes = _check_int("classes", classes, 1 if y.size else 0)
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"class indices must lie in [0, {classes}), "
                         f"got values from {y.min()} to {y.max()}")
    y = y.astype(np.int64)
    Y = np.zeros((y.size, classes), dtype=np.float64)
    Y[np.arange(y.size), y] = 1.0
    return Y


def standardize(X, mean=None, std=None):
    """Shift and scale every column to mean 0 and standard deviation 1.

    X has shape (N, d). Without ``mean``/``std`` they are computed from X;
    pass the training set's statistics to transform a test set the same way:

        X_train, mean, std = standardize(X_train)
        X_test, _, _ = standardize(X_test, mean, std)

    Constant columns (std 0) are only shifted. Returns ``(Z, mean, std)`` with
    Z float64 (N, d) and mean, std of shape (d,).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, d), got {X.shape}")
    mean = X.mean(axis=0) if mean is None else np.asarray(mean, dtype=np.float64)
    if std is None:
        std = X.std(axis=0)
        std = np.where(std > 0, std, 1.0)
    else:
        std = np.asarray(std, dtype=np.float64)
    return (X - mean) / std, mean, std


# --------------------------------------------------------------------------
# shipped 8x8 digits
# --------------------------------------------------------------------------

_DIGITS_FILE = Path(__file__).resolve().parent / "data_files" / "digits.npz"
_digits_cache: tuple[np.ndarray, np.ndarray] | None = None


def _raw_digits():
    global _digits_cache
    if _digits_cache is None:
        with np.load(_DIGITS_FILE) as f:
            _digits_cache = (f["X"], f["y"])
    return _digits_cache


def load_digits(scale=True):
    """The 1,797 handwritten 8x8 digits shipped with the package.

    The UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin and
    Kaynak, 1998; CC BY 4.0; see data_files/README.md). Each row is an 8x8
    image read row by row (``X[i].reshape(8, 8)`` shows it), with pixel counts
    0..16.

    Returns X float64 (1797, 64), divided by 16 into [0, 1] when ``scale`` is
    true, and y int64 (1797,) with digits 0..9 (about 180 of each).
    """
    X, y = _raw_digits()
    X = X.astype(np.float64)
    if scale:
        X /= 16.0
    return X, y.astype(np.int64)


def load_digits_split(test_fraction=0.25, seed=0, scale=True):
    """``load_digits`` followed by ``train_test_split``.

    Returns ``X_train, X_test, y_train, y_test``; with the defaults
    1,348 training rows and 449 test rows of 64 features.
    """
    X, y = load_digits(scale=scale)
    return train_test_split(X, y, test_fraction=test_fraction, seed=seed)


# --------------------------------------------------------------------------
# MNIST from IDX files
# --------------------------------------------------------------------------

_IMAGES_MAGIC = 0x00000803    # unsigned bytes, 3 dimensions (N, rows, cols)
_LABELS_MAGIC = 0x00000801    # unsigned bytes, 1 dimension (N,)
_MNIST_URLS = ("https://yann.lecun.com/exdb/mnist/ "
               "(or a mirror such as https://ossci-datasets.s3.amazonaws.com/mnist/)")


def _find_idx(folder: Path, stem: str) -> Path:
    """The first existing file among the usual spellings of an IDX file name."""
    dotted = stem.replace("-idx", ".idx")           # e.g. train-images.idx3-ubyte
    names = [stem, stem + ".gz", dotted, dotted + ".gz"]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"MNIST file not found in {folder}: expected one of {', '.join(names)}. "
        f"Download the four IDX files from {_MNIST_URLS} and put them in that "
        f"folder (gzipped or not); bpcourse never downloads anything itself.")


def _read_idx(file: Path, magic: int, ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file (plain or gzip) into a uint8 array."""
    raw = file.read_bytes()
    if raw[:2] == b"\x1f\x8b":                      # gzip, whatever the name says
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{file}: cannot decompress gzip data ({e})") from e
    header = 4 + 4 * ndim
    if len(raw) < 4:
        raise ValueError(f"{file}: too short to be an IDX file ({len(raw)} bytes)")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise ValueError(f"{file}: expected IDX magic number 0x{magic:08X}, "
                         f"found 0x{found:08X}; is this the right file?")
    if len(raw) < header:
        raise ValueError(f"{file}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = math.prod(dims)
    if len(raw) - header != size:
        raise ValueError(f"{file}: header promises {size} bytes of data for shape "
                         f"{dims}, file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(path, kind="train", dtype=np.float64):
    """Read MNIST (or Fashion-MNIST) from the standard IDX files in folder ``path``.

    ``kind`` is "train" (train-images-idx3-ubyte, train-labels-idx1-ubyte) or
    "t10k" / "test" (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte); each may
    also end in ``.gz``. Nothing is downloaded: a missing file raises
    ``FileNotFoundError`` saying which names were expected and where to get them.

    Returns X of ``dtype`` (N, rows*cols) = (N, 784) for MNIST, pixels divided
    by 255 into [0, 1], and y int64 (N,). Use ``dtype=np.float32`` to halve the
    memory (60,000 float64 images take 376 MB).
    """
    prefixes = {"train": "train", "t10k": "t10k", "test": "t10k"}
    if kind not in prefixes:
        raise ValueError(f"kind must be one of 'train', 't10k', 'test', got {kind!r}")
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {np.dtype(dtype)}")
    folder = Path(os.fspath(path)).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"MNIST folder not found: {folder}. Download the four IDX files from "
            f"{_MNIST_URLS} into a folder and pass its path.")
    prefix = prefixes[kind]
    image_file = _find_idx(folder, f"{prefix}-images-idx3-ubyte")
    label_file = _find_idx(folder, f"{prefix}-labels-idx1-ubyte")
    images = _read_idx(image_file, _IMAGES_MAGIC, 3)
    labels = _read_idx(label_file, _LABELS_MAGIC, 1)
    if len(images) != len(labels):
        raise ValueError(f"{image_file} holds {len(images)} images but "
                         f"{label_file} holds {len(labels)} labels")
    X = images.reshape(len(images), -1).astype(dtype)
    X /= 255
    return X, labels.astype(np.int64)


# --------------------------------------------------------------------------
# shipped text: tiny Shakespeare, characters as tokens (notebook 17)
# --------------------------------------------------------------------------

TEXTS = {"shakespeare": "tinyshakespeare.txt.gz"}
_TEXT_SHA256 = {"shakespeare": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"}
_text_cache: dict[str, str] = {}


def load_text(name: str = "shakespeare") -> str:
    """A corpus shipped with the package, as one str.

    ``"shakespeare"``: tiny Shakespeare, 1,115,394 characters of 65 distinct symbols (Karpathy's
    char-rnn corpus; the text is in the public domain; see data_files/README.md).  Its sha256 is
    checked on first load.
    """
    if name not in TEXTS:
        raise ValueError(f"load_text: unknown text {name!r}; valid: {', '.join(TEXTS)}")
    if name not in _text_cache:
        raw = gzip.decompress((Path(__file__).resolve().parent / "data_files" / TEXTS[name]).read_bytes())
        if hashlib.sha256(raw).hexdigest() != _TEXT_SHA256[name]:
            raise ValueError(f"load_text: the shipped file {TEXTS[name]} is damaged (sha256 mismatch)")
        _text_cache[name] = raw.decode("utf-8")
    return _text_cache[name]


class CharVocab:
    """Characters as tokens: every distinct character of ``text`` gets an id, in sorted order.

        vocab = CharVocab(text);  ids = vocab.encode("To be");  vocab.decode(ids) == "To be"

    ``chars`` lists the characters (id i is ``chars[i]``); ``len(vocab)`` is the vocabulary size.
    """

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError(f"CharVocab: expected a non-empty str, got {type(text).__name__}"
                             + (" (empty)" if isinstance(text, str) else ""))
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self._table = np.array(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """str of length n -> int64 ids of shape (n,); an unknown character raises ValueError."""
        if not isinstance(text, str):
            raise ValueError(f"CharVocab.encode: expected a str, got {type(text).__name__}")
        try:
            return np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            c = err.args[0]
            raise ValueError(f"CharVocab.encode: character {c!r} (position {text.index(c)}) is not in the "
                             f"vocabulary of {len(self)} characters") from None

    def decode(self, ids) -> str:
        """int ids of shape (n,) -> the str they spell."""
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu" or ids.ndim != 1:
            raise ValueError(f"CharVocab.decode: expected a 1-D integer array of ids, got dtype {ids.dtype} "
                             f"and shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"CharVocab.decode: ids must lie in [0, {len(self)}), got values from "
                             f"{ids.min()} to {ids.max()}")
        return "".join(self._table[ids].tolist())

    def __repr__(self):
        return f"CharVocab({len(self)} characters)"


def split_ids(ids, train_fraction: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation): the first ``train_fraction`` of the sequence, then the rest (no shuffling:
    the validation text is a contiguous stretch the model never saw)."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"split_ids: expected a 1-D sequence of ids, got shape {ids.shape}")
    train_fraction = real(train_fraction, "train_fraction", "split_ids", low=0.0, high=1.0, low_open=True,
                          high_open=True)
    n = int(round(train_fraction * len(ids)))
    return ids[:n], ids[n:]


def get_batch(ids, block_size: int, batch_size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """A random batch of windows: X, Y int64 (batch_size, block_size), Y = X shifted by one position.

    Each row starts at a uniformly drawn offset i: X[b] = ids[i : i + block_size] and
    Y[b] = ids[i + 1 : i + block_size + 1] (the next character at every position).
    ``rng`` is an np.random.Generator (advanced) or an int seed.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(f"get_batch: ids must be a 1-D integer array, got dtype {ids.dtype} and shape {ids.shape}")
    block_size = positive_int(block_size, "block_size", "get_batch")
    batch_size = positive_int(batch_size, "batch_size", "get_batch")
    if len(ids) < block_size + 1:
        raise ValueError(f"get_batch: need at least block_size + 1 = {block_size + 1} ids, got {len(ids)}")
    starts = _rng(rng).integers(0, len(ids) - block_size, size=batch_size)
    rows = starts[:, None] + np.arange(block_size + 1)
    window = ids[rows].astype(np.int64, copy=False)
    return window[:, :-1], window[:, 1:]
