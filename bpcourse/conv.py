"""Convolution and pooling with hand-written backward passes (notebook 15).

Images are batches of shape (N, C, H, W) (PyTorch's layout).  A 2-D convolution with F filters
W (F, C, kh, kw), bias b (F,), stride s and zero padding p computes ("cross-correlation", as
every deep-learning library does)

    Z[n, f, i, j] = b[f] + Σ_{c, u, v} W[f, c, u, v] · Xp[n, c, s·i + u, s·j + v]

where Xp is X padded with p zeros on each side; the output has H' = (H + 2p − kh) // s + 1 rows
and W' = (W + 2p − kw) // s + 1 columns.  It is a dense layer whose weights are *local* (each
output sees a kh×kw window) and *shared* (every window uses the same W).  With delta = dC/dZ:

    db[f]          = Σ_{n, i, j} delta[n, f, i, j]                                   (BP3, summed over positions)
    dW[f, c, u, v] = Σ_{n, i, j} delta[n, f, i, j] · Xp[n, c, s·i + u, s·j + v]     (BP4, summed over positions)
    dXp[n, c, s·i + u, s·j + v] += Σ_f delta[n, f, i, j] · W[f, c, u, v]            (BP2: Wᵀ delta, scattered)

and dX is dXp without its padding.  For stride 1, dX is the *full* convolution of delta with the
kernel flipped in both directions, and dW is the correlation of the input with delta.

Two implementations of the same equations:

* ``conv2d_naive`` / ``conv2d_backward_naive`` — the loops above, written to be read;
* ``im2col`` / ``col2im`` — unfold every window into a row of a matrix ``cols`` of shape
  (N·H'·W', C·kh·kw).  Then the convolution is one matmul ``Z = cols Wᵀ + b`` and the backward
  pass is BP3/BP4 on that matrix: ``db = Σ delta``, ``dW = deltaᵀ cols``, ``dcols = delta W``,
  and ``col2im`` adds every row of ``dcols`` back onto the window it came from.  The layers use
  this path; the two agree to 1e-12 (tested).

Pooling: ``MaxPool2d`` sends each window's gradient to the window's arg-max (the max gate of
notebook 02); ``AvgPool2d`` spreads it evenly over the window; ``GlobalAvgPool2d`` averages each
channel over the whole image, (N, C, H, W) -> (N, C); ``Flatten`` reshapes (N, ...) -> (N, -1).
"""
from __future__ import annotations

import numpy as np

from .module import Module, Parameter, check_finite
from .validate import as_rng, pair, positive_int

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "Flatten", "conv2d_naive",
           "conv2d_backward_naive", "conv2d_im2col", "conv2d_backward_im2col", "im2col", "col2im",
           "output_size"]


# ---------------------------------------------------------------------------------------------
# shapes and argument checks
# ---------------------------------------------------------------------------------------------

def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length along one axis: (size + 2·padding − kernel) // stride + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def _image(X, where: str, channels: int | None = None) -> np.ndarray:
    """X as a float array of shape (N, C, H, W), or a ValueError naming ``where`` and both shapes."""
    X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float64)
    C = "C" if channels is None else str(channels)
    if X.ndim != 4 or (channels is not None and X.shape[1] != channels):
        hint = ""
        if X.ndim == 3 and (channels is None or X.shape[0] == channels):
            hint = " (one image? use X[None])"
        elif X.ndim == 2:
            hint = " (a flat image? use X.reshape(N, C, H, W))"
        raise ValueError(f"{where}: expected input of shape (N, {C}, H, W), got {X.shape}{hint}")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    check_finite(X, where)
    return X


def _check_window(X_shape, kernel, stride, padding, where: str) -> tuple[int, int]:
    """(H', W') for a kernel on X (N, C, H, W); ValueError when the kernel does not fit."""
    H, W = X_shape[2], X_shape[3]
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if kh > H + 2 * ph or kw > W + 2 * pw:
        raise ValueError(f"{where}: kernel {kh}x{kw} is larger than the padded input "
                         f"{H + 2 * ph}x{W + 2 * pw} (input of shape {tuple(X_shape)}, padding {ph}x{pw})")
    return output_size(H, kh, sh, ph), output_size(W, kw, sw, pw)


def _conv_args(X, W: np.ndarray, stride, padding, where: str):
    """For the functional convolutions: stride and padding as pairs, X checked against W (F, C, kh, kw),
    and the output size (H', W'), each failure a ValueError naming ``where``."""
    stride, padding = _args(stride, padding, where)
    X = _image(X, where, W.shape[1])
    return X, stride, padding, _check_window(X.shape, W.shape[2:], stride, padding, where)


def _pad(X: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return X
    return np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _args(stride, padding, where: str) -> tuple[tuple[int, int], tuple[int, int]]:
    return pair(stride, "stride", where), pair(padding, "padding", where, minimum=0)


# ---------------------------------------------------------------------------------------------
# the readable reference: loops
# ---------------------------------------------------------------------------------------------

def conv2d_naive(X: np.ndarray, W: np.ndarray, b: np.ndarray, stride=1, padding=0) -> np.ndarray:
    """Z[n, f, i, j] = b[f] + Σ_{c,u,v} W[f, c, u, v] · Xp[n, c, s·i + u, s·j + v], by loops.

    X (N, C, H, W), W (F, C, kh, kw), b (F,) -> Z (N, F, H', W').  Slow and plain: the reference.
    """
    X, (sh, sw), (ph, pw), (Ho, Wo) = _conv_args(X, W, stride, padding, "conv2d_naive")
    F, C, kh, kw = W.shape
    Xp = _pad(X, (ph, pw))
    N = X.shape[0]
    Z = np.empty((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = Xp[n, :, sh * i:sh * i + kh, sw * j:sw * j + kw]
                    Z[n, f, i, j] = np.sum(W[f] * window) + b[f]
    return Z


def conv2d_backward_naive(X: np.ndarray, W: np.ndarray, delta: np.ndarray, stride=1, padding=0):
    """(dX, dW, db) of ``conv2d_naive`` for upstream gradient delta = dC/dZ, by loops.

    X (N, C, H, W), W (F, C, kh, kw), delta (N, F, H', W') -> dX like X, dW like W, db (F,).
    Every output position (n, f, i, j) hands delta[n, f, i, j] back to the bias, to the weights
    (times the window it saw: dW sums over positions) and to the window (times the weights).
    """
    X, (sh, sw), (ph, pw), (Ho, Wo) = _conv_args(X, W, stride, padding, "conv2d_backward_naive")
    F, C, kh, kw = W.shape
    N = X.shape[0]
    if np.shape(delta) != (N, F, Ho, Wo):
        raise ValueError(f"conv2d_backward_naive: expected delta of shape {(N, F, Ho, Wo)}, "
                         f"got {np.shape(delta)}")
    Xp = _pad(X, (ph, pw))
    dXp = np.zeros_like(Xp, dtype=np.float64)
    dW = np.zeros(W.shape)
    db = np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    d = delta[n, f, i, j]
                    rows, cols = slice(sh * i, sh * i + kh), slice(sw * j, sw * j + kw)
                    db[f] += d                                   # BP3
                    dW[f] += d * Xp[n, :, rows, cols]            # BP4
                    dXp[n, :, rows, cols] += d * W[f]            # BP2
    dX = dXp[:, :, ph:ph + X.shape[2], pw:pw + X.shape[3]].copy()
    return dX, dW, db


# ---------------------------------------------------------------------------------------------
# the fast path: im2col / col2im
# ---------------------------------------------------------------------------------------------

def _offsets(kernel, stride, Ho: int, Wo: int):
    """For each kernel offset (u, v): the slices of the padded input that offset reads.

    Output position (i, j) sees input pixel (s·i + u, s·j + v), so for a fixed (u, v) the pixels
    read by all positions form one strided slice ``[u : u + s·H' : s, v : v + s·W' : s]``.
    """
    (kh, kw), (sh, sw) = kernel, stride
    for u in range(kh):
        for v in range(kw):
            yield u, v, (slice(u, u + sh * Ho, sh), slice(v, v + sw * Wo, sw))


# Internally the unfolded matrix is stored transposed, colsᵀ (C·kh·kw, H'·W'·N), with its columns
# (the output positions) in the order (i, j, n): the example index varies fastest.  Then the copy
# for each kernel offset moves contiguous runs of W'·N numbers instead of runs of W' (8 × 8 images
# make W' tiny), and the matmuls read both operands without copies.  Reordering the rows of
# ``cols`` changes nothing in Z = cols Wᵀ + b, dW = Dᵀ cols or dcols = D W as long as D's rows
# follow; ``im2col``/``col2im`` present the textbook order (n, i, j).

def _unfold(X: np.ndarray, kernel, stride, padding, Ho: int, Wo: int, out=None) -> np.ndarray:
    """colsᵀ (C·kh·kw, H'·W'·N) of X (N, C, H, W): one copy per kernel offset (u, v).

    ``out``: an optional buffer of C·kh·kw·H'·W'·N floats to write into.
    """
    N, C, H, W = X.shape
    (kh, kw), (ph, pw) = kernel, padding
    Xp = np.zeros((C, H + 2 * ph, W + 2 * pw, N))                      # padded, batch last
    Xp[:, ph:ph + H, pw:pw + W] = X.transpose(1, 2, 3, 0)
    shape = (C, kh, kw, Ho, Wo, N)
    cols_T = np.empty(shape) if out is None else out.reshape(shape)
    for u, v, (rows, cols) in _offsets(kernel, stride, Ho, Wo):
        cols_T[:, u, v] = Xp[:, rows, cols]
    return cols_T.reshape(C * kh * kw, Ho * Wo * N)


def _fold(dcols_T: np.ndarray, X_shape, kernel, stride, padding) -> np.ndarray:
    """The adjoint of ``_unfold``: add column r of dcolsᵀ back onto the window of position r.

    Returns dX (N, C, H, W), a view into a fresh array (batch last in memory).
    """
    N, C, H, W = X_shape
    (kh, kw), (ph, pw) = kernel, padding
    Ho, Wo = output_size(H, kh, stride[0], ph), output_size(W, kw, stride[1], pw)
    d = dcols_T.reshape(C, kh, kw, Ho, Wo, N)
    dXp = np.zeros((C, H + 2 * ph, W + 2 * pw, N))
    for u, v, (rows, cols) in _offsets(kernel, stride, Ho, Wo):
        dXp[:, rows, cols] += d[:, u, v]                               # overlapping windows add
    return dXp[:, ph:ph + H, pw:pw + W].transpose(3, 0, 1, 2)


def im2col(X: np.ndarray, kernel_size, stride=1, padding=0) -> np.ndarray:
    """Unfold every kh×kw window of X (N, C, H, W) into a row: cols (N·H'·W', C·kh·kw).

    Row n·H'·W' + i·W' + j holds the window under output position (i, j) of example n, ordered
    like ``W[f].ravel()`` (channel, then kernel row, then kernel column).  Output positions become
    rows, like the examples of a batch: then a convolution is the dense layer ``cols Wᵀ + b``.
    """
    kernel = pair(kernel_size, "kernel_size", "im2col")
    stride, padding = _args(stride, padding, "im2col")
    X = _image(X, "im2col")
    Ho, Wo = _check_window(X.shape, kernel, stride, padding, "im2col")
    cols_T = _unfold(X, kernel, stride, padding, Ho, Wo)
    N, K = X.shape[0], cols_T.shape[0]
    return cols_T.reshape(K, Ho, Wo, N).transpose(3, 1, 2, 0).reshape(N * Ho * Wo, K)


def col2im(dcols: np.ndarray, X_shape, kernel_size, stride=1, padding=0) -> np.ndarray:
    """The adjoint of ``im2col``: add every row of dcols (N·H'·W', C·kh·kw) back onto its window.

    Returns dX of shape X_shape (N, C, H, W); where windows overlap, their contributions add.
    """
    kernel = pair(kernel_size, "kernel_size", "col2im")
    stride, padding = _args(stride, padding, "col2im")
    N, C, H, W = X_shape
    Ho, Wo = output_size(H, kernel[0], stride[0], padding[0]), output_size(W, kernel[1], stride[1], padding[1])
    K = C * kernel[0] * kernel[1]
    if np.shape(dcols) != (N * Ho * Wo, K):
        raise ValueError(f"col2im: expected dcols of shape {(N * Ho * Wo, K)}, got {np.shape(dcols)}")
    dcols_T = np.asarray(dcols).reshape(N, Ho, Wo, K).transpose(3, 1, 2, 0).reshape(K, -1)
    return _fold(dcols_T, X_shape, kernel, stride, padding)


def conv2d_im2col(X: np.ndarray, W: np.ndarray, b: np.ndarray, stride=1, padding=0):
    """Z = cols Wᵀ + b, one matmul.  Returns (Z (N, F, H', W'), cols) — cols for the backward pass.

    W (F, C, kh, kw) is used as the matrix W.reshape(F, C·kh·kw): exactly ``Linear``'s forward with
    the output positions as the batch.
    """
    X, stride, padding, (Ho, Wo) = _conv_args(X, W, stride, padding, "conv2d_im2col")
    cols = im2col(X, W.shape[2:], stride, padding)                     # (N·H'·W', C·kh·kw)
    N, F = X.shape[0], W.shape[0]
    Z = cols @ W.reshape(F, -1).T + b                                  # (N·H'·W', F)
    return Z.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2), cols


def conv2d_backward_im2col(cols: np.ndarray, X_shape, W: np.ndarray, delta: np.ndarray, stride=1,
                           padding=0, input_grad: bool = True):
    """(dX, dW, db) from the unfolded input: BP3, BP4 and BP2 on the matrix cols.

    delta (N, F, H', W') is laid out as a matrix D (N·H'·W', F) whose rows match cols' rows; then
    db = Σ_rows D (BP3), dW = Dᵀ cols (BP4: the sum over positions *is* the matmul's sum),
    dcols = D W (BP2) and dX = col2im(dcols).  ``input_grad=False`` skips dX (returns None).
    """
    F = W.shape[0]
    D = delta.transpose(0, 2, 3, 1).reshape(-1, F)                     # (N·H'·W', F)
    db = D.sum(axis=0)                                                 # BP3
    dW = (D.T @ cols).reshape(W.shape)                                 # BP4
    if not input_grad:
        return None, dW, db
    dcols = D @ W.reshape(F, -1)                                       # BP2
    return col2im(dcols, X_shape, W.shape[2:], stride, padding), dW, db


# ---------------------------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------------------------

class Conv2d(Module):
    """2-D convolution (cross-correlation): X (N, C, H, W) -> Z (N, F, H', W').

    W (F, C, kh, kw) drawn from He's normal N(0, 2/fan_in) with fan_in = C·kh·kw; b (F,) zeros.
    kernel_size, stride, padding: an int or a pair (rows, columns); stride ≥ 1, padding ≥ 0.
    Forward and backward run on the im2col matrix (see the module docstring).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, seed=0, name=None):
        where = "Conv2d"
        C = positive_int(in_channels, "in_channels", where)
        F = positive_int(out_channels, "out_channels", where)
        self.kernel_size = pair(kernel_size, "kernel_size", where)
        self.stride, self.padding = _args(stride, padding, where)
        kh, kw = self.kernel_size
        super().__init__(name or f"Conv2d({C}->{F}, {kh}x{kw})")
        self.in_channels, self.out_channels = C, F
        fan_in = C * kh * kw
        self.W = Parameter(as_rng(seed).standard_normal((F, C, kh, kw)) * np.sqrt(2.0 / fan_in), "W")
        self.b = Parameter(np.zeros(F), "b")
        self._cache = None
        self._buffers: dict[str, np.ndarray] = {}

    def own_parameters(self):
        return [self.W, self.b]

    def forward(self, X):
        """Z = cols Wᵀ + b (the equations of ``conv2d_im2col``), reshaped to (N, F, H', W')."""
        X = _image(X, self.name, self.in_channels)
        Ho, Wo = _check_window(X.shape, self.kernel_size, self.stride, self.padding, self.name)
        check_finite(self.W.data, f"{self.name} (its weights W)")
        N, F = X.shape[0], self.out_channels
        kh, kw = self.kernel_size
        buf = self._scratch("cols", X.shape[1] * kh * kw * Ho * Wo * N)      # colsᵀ (C·kh·kw, H'·W'·N)
        cols_T = _unfold(X, self.kernel_size, self.stride, self.padding, Ho, Wo, out=buf)
        Z_T = self.W.data.reshape(F, -1) @ cols_T                      # (cols Wᵀ)ᵀ: (F, H'·W'·N)
        Z_T += self.b.data[:, None]
        self._cache = (X.shape, cols_T, (N, F, Ho, Wo))
        return Z_T.reshape(F, Ho, Wo, N).transpose(3, 0, 1, 2)

    def backward(self, delta, input_grad=True):
        """BP3 db = Σ delta, BP4 dW = deltaᵀ cols, BP2 dcols = delta W; returns dX = col2im(dcols).

        ``input_grad=False`` skips dX (returns None): the first layer's input needs no gradient.
        """
        X_shape, cols_T, Z_shape = self._cache if self._cache is not None else (None, None, None)
        delta = self._check_dY(delta, Z_shape)
        F = self.out_channels
        D_T = delta.transpose(1, 2, 3, 0).reshape(F, -1)               # Dᵀ (F, H'·W'·N), columns match cols_T
        W_mat = self.W.data.reshape(F, -1)
        self.b.accumulate(D_T.sum(axis=1))                             # BP3
        self.W.accumulate((D_T @ cols_T.T).reshape(self.W.shape))      # BP4: Dᵀ cols
        if not input_grad:
            return None
        dcols_T = np.matmul(W_mat.T, D_T, out=self._scratch("dcols", cols_T.size).reshape(cols_T.shape))  # BP2
        return _fold(dcols_T, X_shape, self.kernel_size, self.stride, self.padding)

    def _scratch(self, what, size):
        """A buffer of ``size`` floats kept between calls for the unfolded matrices (fresh arrays of
        this size cost more in page faults than the arithmetic); reallocated when the size changes."""
        buf = self._buffers.get(what)
        if buf is None or buf.size != size:
            buf = self._buffers[what] = np.empty(size)
        return buf

    def __repr__(self):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size=({kh}, {kw}), "
                f"stride=({sh}, {sw}), padding=({ph}, {pw}))")


class _Pool2d(Module):
    """Shared by the two window poolings: kernel, stride (defaults to the kernel), no padding."""

    kind = "pool"

    def __init__(self, kernel_size, stride=None, name=None):
        where = type(self).__name__
        self.kernel_size = pair(kernel_size, "kernel_size", where)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", where)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        super().__init__(name or f"{where}({kh}x{kw}, stride {sh}x{sw})")
        self._cache = None

    def _windows_of(self, X):
        """X checked, and its windows stacked along a new first axis: (kh·kw, N, C, H', W')."""
        X = _image(X, self.name)
        Ho, Wo = _check_window(X.shape, self.kernel_size, self.stride, (0, 0), self.name)
        stack = np.stack([X[:, :, rows, cols] for _, _, (rows, cols)
                          in _offsets(self.kernel_size, self.stride, Ho, Wo)])
        return X, stack

    def _scatter(self, X_shape, per_offset):
        """dX (X_shape): for window offset k = u·kw + v, add per_offset(k) (N, C, H', W') there."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        Ho, Wo = output_size(X_shape[2], kh, sh), output_size(X_shape[3], kw, sw)
        dX = np.zeros(X_shape)
        for u, v, (rows, cols) in _offsets(self.kernel_size, self.stride, Ho, Wo):
            dX[:, :, rows, cols] += per_offset(u * kw + v)               # overlapping windows add
        return dX

    def __repr__(self):
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2d(_Pool2d):
    """Max over each kh×kw window: (N, C, H, W) -> (N, C, H', W'), H' = (H − kh) // s + 1.

    stride defaults to the kernel size (non-overlapping windows); no padding.
    Backward routes each window's gradient to the window's maximum (the max gate of notebook 02)
    and gives the other entries zero.  **Tie rule:** if several entries of a window share the
    maximum, the *first* in row-major order (smallest row, then smallest column — ``np.argmax``)
    receives the whole gradient, so the gradient's total is preserved.  (PyTorch also picks one
    entry per window; which one may differ on ties.)  Overlapping windows (stride < kernel) add.
    """

    def forward(self, X):
        X, stack = self._windows_of(X)
        arg = stack.argmax(axis=0)                                     # first maximum on ties
        Y = np.take_along_axis(stack, arg[None], axis=0)[0]
        self._cache = (X.shape, arg, Y.shape)
        return Y

    def backward(self, dY):
        """dX[window's arg-max] += dY; zero elsewhere."""
        X_shape, arg, Y_shape = self._cache if self._cache is not None else (None, None, None)
        dY = self._check_dY(dY, Y_shape)
        return self._scatter(X_shape, lambda k: np.where(arg == k, dY, 0.0))


class AvgPool2d(_Pool2d):
    """Mean over each kh×kw window: (N, C, H, W) -> (N, C, H', W'); stride defaults to the kernel.

    Backward spreads each window's gradient evenly: every entry of the window gets dY / (kh·kw).
    """

    def forward(self, X):
        X, stack = self._windows_of(X)
        Y = stack.mean(axis=0)
        self._cache = (X.shape, Y.shape)
        return Y

    def backward(self, dY):
        """dX[window] += dY / (kh·kw)."""
        X_shape, Y_shape = self._cache if self._cache is not None else (None, None)
        dY = self._check_dY(dY, Y_shape)
        share = dY / (self.kernel_size[0] * self.kernel_size[1])
        return self._scatter(X_shape, lambda k: share)


class GlobalAvgPool2d(Module):
    """Average of each channel over the whole image: (N, C, H, W) -> (N, C).

    Backward spreads dY[n, c] evenly over the H·W pixels of channel c.  A CNN that ends in global
    average pooling gives (almost) the same output when its input is shifted: the feature maps
    shift with the input and their mean does not change (only the borders differ).
    """

    def __init__(self, name=None):
        super().__init__(name or "GlobalAvgPool2d")
        self._cache = None

    def forward(self, X):
        X = _image(X, self.name)
        self._cache = X.shape
        return X.mean(axis=(2, 3))

    def backward(self, dY):
        """dX[n, c, :, :] = dY[n, c] / (H·W)."""
        X_shape = self._cache
        dY = self._check_dY(dY, X_shape[:2] if X_shape is not None else None)
        H, W = X_shape[2:]
        return np.broadcast_to((dY / (H * W))[:, :, None, None], X_shape).copy()

    def __repr__(self):
        return "GlobalAvgPool2d()"


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1·d2·...); backward reshapes the gradient back."""

    def __init__(self, name=None):
        super().__init__(name or "Flatten")
        self._cache = None

    def forward(self, X):
        X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float64)
        if X.ndim < 2:
            raise ValueError(f"{self.name}: expected input of shape (N, ...) with at least 2 axes, got {X.shape}")
        self._cache = X.shape
        return X.reshape(X.shape[0], -1)

    def backward(self, dY):
        X_shape = self._cache
        dY = self._check_dY(dY, (X_shape[0], int(np.prod(X_shape[1:]))) if X_shape is not None else None)
        return dY.reshape(X_shape).copy()

    def __repr__(self):
        return "Flatten()"
