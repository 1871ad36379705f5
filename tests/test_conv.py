"""Tests for bpcourse.conv: Conv2d, the poolings, Flatten, and the two conv implementations (nb 15).

* every backward against central differences on random shapes drawn by hypothesis (N, C, F, H, W,
  non-square kernels, stride > 1, padding > 0, odd sizes);
* the readable loops (``conv2d_naive``/``conv2d_backward_naive``) against the im2col path the
  layers use, to 1e-12;
* a tiny convolution written out in the scalar ``bp.Value`` engine;
* PyTorch's conv2d / max_pool2d / avg_pool2d when torch happens to be installed.
"""
from __future__ import annotations

import numpy as np
import pytest
from catalogue import central_difference, rel_error
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse import Value
from bpcourse.conv import (
    AvgPool2d,
    Conv2d,
    Flatten,
    GlobalAvgPool2d,
    MaxPool2d,
    col2im,
    conv2d_backward_im2col,
    conv2d_backward_naive,
    conv2d_im2col,
    conv2d_naive,
    im2col,
    output_size,
)

TOL = 1e-6
SEEDS = st.integers(0, 2**32 - 1)
records = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def conv_shapes(draw, max_n=2, max_c=3, max_hw=7):
    """(N, C, F, H, W, kernel, stride, padding) with the kernel fitting the padded input."""
    N, C, F = draw(st.integers(1, max_n)), draw(st.integers(1, max_c)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    assume(kernel[0] <= H + 2 * padding[0] and kernel[1] <= W + 2 * padding[1])
    return N, C, F, H, W, kernel, stride, padding


def random_conv(seed, shape):
    N, C, F, H, W, kernel, stride, padding = shape
    conv = Conv2d(C, F, kernel, stride=stride, padding=padding, seed=seed)
    conv.b.data[...] = np.random.default_rng([seed, 2]).normal(size=F)
    X = np.random.default_rng([seed, 1]).standard_normal((N, C, H, W))
    return conv, X


# ---------------------------------------------------------------------------------------------
# backward against central differences
# ---------------------------------------------------------------------------------------------

@records
@given(seed=SEEDS, shape=conv_shapes())
def test_conv2d_gradcheck(seed, shape, record_error):
    conv, X = random_conv(seed, shape)
    err = bp.gradcheck(conv, X, tol=TOL)
    assert record_error("Conv2d gradcheck (im2col)", err) <= TOL


@records
@given(seed=SEEDS, shape=conv_shapes(max_n=2, max_c=2, max_hw=6))
def test_naive_backward_against_independent_central_differences(seed, shape, record_error):
    """The suite's own central difference (fresh copies, no in-place nudging) on the loops."""
    conv, X = random_conv(seed, shape)
    _, _, _, _, _, _, stride, padding = shape
    W, b = conv.W.data, conv.b.data
    G = np.random.default_rng([seed, 3]).standard_normal(conv(X).shape)
    dX, dW, db = conv2d_backward_naive(X, W, G, stride, padding)
    L = lambda X_, W_, b_: np.sum(conv2d_naive(X_, W_, b_, stride, padding) * G)
    for name, a, n in [("dX", dX, central_difference(lambda v: L(v, W, b), X)),
                       ("dW", dW, central_difference(lambda v: L(X, v, b), W)),
                       ("db", db, central_difference(lambda v: L(X, W, v), b))]:
        assert record_error(f"conv2d_backward_naive {name}", rel_error(a, n)) <= TOL, name


def distinct_values(seed, shape):
    """Inputs whose entries differ by ≥ 0.01, so no max-pool window has a tie within h = 1e-6."""
    rng = np.random.default_rng([seed, 1])
    return (rng.permutation(int(np.prod(shape))) * 0.01 - 0.3 + 0.001 * rng.random(shape).ravel()).reshape(shape)


@st.composite
def pool_shapes(draw):
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    assume(kernel[0] <= H and kernel[1] <= W)
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    return (N, C, H, W), kernel, stride


@records
@given(seed=SEEDS, shape=pool_shapes(), kind=st.sampled_from([MaxPool2d, AvgPool2d]))
def test_pooling_gradcheck(seed, shape, kind, record_error):
    X_shape, kernel, stride = shape
    pool = kind(kernel, stride)
    err = bp.gradcheck(pool, distinct_values(seed, X_shape), tol=TOL)
    assert record_error(f"{kind.__name__} gradcheck", err) <= TOL


@records
@given(seed=SEEDS, N=st.integers(1, 3), C=st.integers(1, 3), H=st.integers(1, 5), W=st.integers(1, 5))
def test_global_avg_pool_and_flatten_gradcheck(seed, N, C, H, W, record_error):
    X = np.random.default_rng(seed).standard_normal((N, C, H, W))
    for layer in (GlobalAvgPool2d(), Flatten()):
        assert record_error(f"{layer!r} gradcheck", bp.gradcheck(layer, X, tol=TOL)) <= TOL


@records
@given(seed=SEEDS)
def test_small_cnn_gradcheck(seed, record_error):
    """Conv → ReLU → MaxPool → Conv (stride 2, padding) → GlobalAvgPool → Linear, end to end."""
    rng = np.random.default_rng([seed, 5])
    net = bp.nn.Sequential(Conv2d(2, 3, (3, 2), padding=1, seed=seed), bp.nn.Tanh(), MaxPool2d(2),
                           Conv2d(3, 4, 2, stride=2, padding=(1, 0), seed=seed + 1), GlobalAvgPool2d(),
                           bp.nn.Linear(4, 3, seed=seed))
    err = bp.gradcheck(net, rng.standard_normal((2, 2, 6, 7)), tol=TOL)
    assert record_error("small CNN gradcheck", err) <= TOL


# ---------------------------------------------------------------------------------------------
# naive loops vs im2col
# ---------------------------------------------------------------------------------------------

@records
@given(seed=SEEDS, shape=conv_shapes(max_n=3, max_c=4, max_hw=9))
def test_naive_and_im2col_agree(seed, shape, record_error):
    conv, X = random_conv(seed, shape)
    _, _, _, _, _, _, stride, padding = shape
    W, b = conv.W.data, conv.b.data
    Z_naive = conv2d_naive(X, W, b, stride, padding)
    Z_fast, cols = conv2d_im2col(X, W, b, stride, padding)
    Z_layer = conv(X)
    G = np.random.default_rng([seed, 3]).standard_normal(Z_naive.shape)
    slow = conv2d_backward_naive(X, W, G, stride, padding)
    fast = conv2d_backward_im2col(cols, X.shape, W, G, stride, padding)
    conv.zero_grad()
    layer = (conv.backward(G), conv.W.grad, conv.b.grad)
    scale = 1.0 + np.abs(Z_naive).max()
    err = np.abs(Z_naive - Z_fast).max() / scale
    assert record_error("naive vs im2col forward", err) <= 1e-12
    np.testing.assert_allclose(Z_layer, Z_fast, rtol=0, atol=1e-13 * scale)
    for name, s, f, lay in zip(("dX", "dW", "db"), slow, fast, layer):
        assert s.shape == f.shape == lay.shape
        err = np.abs(s - f).max() / (1.0 + np.abs(s).max())
        assert record_error(f"naive vs im2col {name}", err) <= 1e-12, name
        np.testing.assert_allclose(lay, f, rtol=0, atol=1e-13)


def test_im2col_rows_are_windows_and_col2im_is_its_adjoint(rng):
    X = rng.normal(size=(2, 3, 5, 6))
    cols = im2col(X, (2, 3), stride=(2, 1), padding=(1, 0))
    Ho, Wo = output_size(5, 2, 2, 1), output_size(6, 3, 1, 0)
    assert cols.shape == (2 * Ho * Wo, 3 * 2 * 3)
    Xp = np.pad(X, ((0, 0), (0, 0), (1, 1), (0, 0)))
    n, i, j = 1, 2, 3                                  # row n·H'·W' + i·W' + j is that window
    np.testing.assert_array_equal(cols[n * Ho * Wo + i * Wo + j], Xp[n, :, 2 * i:2 * i + 2, j:j + 3].ravel())
    # <im2col(X), D> = <X, col2im(D)> for every X, D: col2im is the transpose (adjoint) map
    D = rng.normal(size=cols.shape)
    assert np.isclose(np.sum(cols * D), np.sum(X * col2im(D, X.shape, (2, 3), (2, 1), (1, 0))), rtol=1e-12)


def test_stride_one_dX_is_full_convolution_with_flipped_kernel(rng):
    """For stride 1, no padding: dX = conv(delta padded by k−1, W flipped, channels swapped)."""
    X, W = rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(4, 3, 3, 2))
    delta = rng.normal(size=(2, 4, 4, 4))
    dX, dW, _ = conv2d_backward_naive(X, W, delta)
    W_flipped = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)             # (C, F, kh, kw)
    full = conv2d_naive(delta, W_flipped, np.zeros(3), padding=(2, 1))
    np.testing.assert_allclose(dX, full, rtol=1e-12, atol=1e-12)
    # and dW is the correlation of the input with delta (delta as the kernel, summed over the batch)
    corr = conv2d_naive(X.transpose(1, 0, 2, 3), delta.transpose(1, 0, 2, 3), np.zeros(4))   # (C, F, kh, kw)
    np.testing.assert_allclose(dW, corr.transpose(1, 0, 2, 3), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# the scalar engine on a tiny convolution
# ---------------------------------------------------------------------------------------------

def test_conv2d_equals_value_graph(rng, record_error):
    """A 2-channel 4×3 image, 2 filters of 2×2, stride (1, 2), padding 1, tanh, L = Σ G ⊙ tanh(Z)."""
    conv = Conv2d(2, 2, 2, stride=(1, 2), padding=1, seed=3)
    conv.b.data[...] = [0.2, -0.1]
    X = rng.normal(size=(1, 2, 4, 3))
    Z = conv(X)
    G = rng.normal(size=Z.shape)
    dX = conv.backward(G * (1 - np.tanh(Z) ** 2))

    V = lambda A: np.vectorize(Value, otypes=[object])(A)
    Xv, Wv, bv = V(X), V(conv.W.data), V(conv.b.data)
    Xp = np.pad(Xv, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=0.0)
    Xp = np.vectorize(lambda v: v if isinstance(v, Value) else Value(0.0), otypes=[object])(Xp)
    L = Value(0.0)
    for f in range(2):
        for i in range(Z.shape[2]):
            for j in range(Z.shape[3]):
                z = bv[f]
                for c in range(2):
                    for u in range(2):
                        for v in range(2):
                            z = z + Wv[f, c, u, v] * Xp[0, c, i + u, 2 * j + v]
                assert np.isclose(z.data, Z[0, f, i, j], rtol=1e-13)
                L = L + float(G[0, f, i, j]) * z.tanh()
    L.backward()
    grad = lambda A: np.vectorize(lambda v: v.grad, otypes=[float])(A)
    for name, ours, scalar in [("X", dX, grad(Xv)), ("W", conv.W.grad, grad(Wv)), ("b", conv.b.grad, grad(bv))]:
        assert record_error(f"Conv2d vs Value graph {name}", rel_error(ours, scalar)) < 1e-12, name


# ---------------------------------------------------------------------------------------------
# pooling: routing, spreading, the tie rule
# ---------------------------------------------------------------------------------------------

def test_max_pool_routes_to_the_argmax_and_breaks_ties_to_the_first():
    X = np.array([[[[1.0, 5.0, 2.0, 2.0],
                    [3.0, 0.0, 2.0, 2.0]]]])                 # window 1: max 5 at (0, 1); window 2: a 4-way tie
    pool = MaxPool2d(2)
    np.testing.assert_array_equal(pool(X), [[[[5.0, 2.0]]]])
    dX = pool.backward(np.array([[[[10.0, 7.0]]]]))
    np.testing.assert_array_equal(dX, [[[[0.0, 10.0, 7.0, 0.0],
                                         [0.0, 0.0, 0.0, 0.0]]]])   # the tie goes to the first (row-major)


def test_avg_pool_spreads_and_overlapping_windows_add(rng):
    pool = AvgPool2d(2, stride=1)
    X = rng.normal(size=(1, 1, 3, 3))
    np.testing.assert_allclose(pool(X)[0, 0, 0, 0], X[0, 0, :2, :2].mean())
    dX = pool.backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_allclose(dX[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])
    maxpool = MaxPool2d(2, stride=1)
    X = np.zeros((1, 1, 3, 3)); X[0, 0, 1, 1] = 1.0                   # the centre wins all 4 windows
    maxpool(X)
    np.testing.assert_array_equal(maxpool.backward(np.ones((1, 1, 2, 2)))[0, 0],
                                  [[0, 0, 0], [0, 4.0, 0], [0, 0, 0]])


def test_pool_output_sizes_floor_and_stride_defaults_to_kernel():
    assert MaxPool2d(2)(np.zeros((1, 1, 5, 7))).shape == (1, 1, 2, 3)
    assert AvgPool2d((2, 3), stride=(1, 2))(np.zeros((2, 3, 5, 7))).shape == (2, 3, 4, 3)
    assert MaxPool2d(3).stride == (3, 3)


# ---------------------------------------------------------------------------------------------
# layer conventions
# ---------------------------------------------------------------------------------------------

def test_conv2d_init_shapes_and_he_variance():
    conv = Conv2d(16, 64, (3, 5), seed=1)
    assert conv.W.shape == (64, 16, 3, 5) and conv.b.shape == (64,)
    assert np.all(conv.b.data == 0)
    assert conv.W.data.std() == pytest.approx(np.sqrt(2.0 / (16 * 15)), rel=0.03)
    np.testing.assert_array_equal(Conv2d(16, 64, (3, 5), seed=1).W.data, conv.W.data)
    assert not np.array_equal(Conv2d(16, 64, (3, 5), seed=2).W.data, conv.W.data)
    assert [p.name for p in conv.parameters()] == ["W", "b"]
    assert "Conv2d" in bp.nn.__all__ and bp.nn.Conv2d is Conv2d and bp.nn.Flatten is Flatten


def test_backward_accumulates_and_leaves_delta_alone(rng):
    conv = Conv2d(2, 3, 3, padding=1, seed=0)
    X = rng.normal(size=(2, 2, 5, 4))
    delta = rng.normal(size=conv(X).shape)
    before = delta.copy()
    dX1 = conv.backward(delta)
    dW1 = conv.W.grad.copy()
    dX1_copy = dX1.copy()
    dX2 = conv.backward(delta)
    np.testing.assert_array_equal(delta, before)
    np.testing.assert_allclose(conv.W.grad, 2 * dW1, rtol=1e-14)
    np.testing.assert_array_equal(dX1, dX1_copy)          # a later call never overwrites a returned dX
    assert not np.shares_memory(dX1, dX2)
    Z1 = conv(X)
    Z1_copy = Z1.copy()
    conv(rng.normal(size=(2, 2, 5, 4)))
    np.testing.assert_array_equal(Z1, Z1_copy)            # nor a returned output
    assert conv.backward(delta, input_grad=False) is None


def test_conv2d_batch_size_can_change(rng):
    conv = Conv2d(1, 2, 3, seed=0)
    for N in (3, 1, 5):
        X = rng.normal(size=(N, 1, 5, 5))
        np.testing.assert_allclose(conv(X), conv2d_naive(X, conv.W.data, conv.b.data), atol=1e-13)
        assert conv.backward(np.ones((N, 2, 3, 3))).shape == X.shape


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(in_channels=0, out_channels=2, kernel_size=3), "Conv2d: in_channels must be a positive integer, got 0"),
    (dict(in_channels=1.5, out_channels=2, kernel_size=3), "in_channels must be a positive integer, got 1.5"),
    (dict(in_channels=1, out_channels=-2, kernel_size=3), "out_channels must be a positive integer, got -2"),
    (dict(in_channels=1, out_channels=2, kernel_size=0), r"Conv2d: kernel_size must be an integer or a pair"),
    (dict(in_channels=1, out_channels=2, kernel_size=(3, 2.5)), r"kernel_size .* got \(3, 2.5\)"),
    (dict(in_channels=1, out_channels=2, kernel_size=(3, 2, 1)), r"kernel_size .* got \(3, 2, 1\)"),
    (dict(in_channels=1, out_channels=2, kernel_size=3, stride=0), r"Conv2d: stride must be .* >= 1, got 0"),
    (dict(in_channels=1, out_channels=2, kernel_size=3, padding=-1), r"Conv2d: padding must be .* >= 0, got -1"),
    (dict(in_channels=1, out_channels=2, kernel_size=3, padding=True), r"padding .* got True"),
])
def test_conv2d_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2d(**kwargs)


def test_conv2d_bad_inputs():
    conv = Conv2d(3, 4, (3, 5), padding=(0, 1))
    with pytest.raises(ValueError, match=r"Conv2d\(3->4, 3x5\): expected input of shape \(N, 3, H, W\), "
                                         r"got \(3, 8, 8\) \(one image\? use X\[None\]\)"):
        conv(np.ones((3, 8, 8)))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\), got \(2, 1, 8, 8\)"):
        conv(np.ones((2, 1, 8, 8)))
    with pytest.raises(ValueError, match=r"got \(2, 192\) \(a flat image\? use X.reshape\(N, C, H, W\)\)"):
        conv(np.ones((2, 192)))
    with pytest.raises(ValueError, match=r"Conv2d\(3->4, 3x5\): kernel 3x5 is larger than the padded input "
                                         r"2x4 \(input of shape \(1, 3, 2, 2\), padding 0x1\)"):
        conv(np.ones((1, 3, 2, 2)))
    X = np.ones((1, 3, 4, 4))
    X[0, 1, 2, 2] = np.nan
    with pytest.raises(bp.module.NonFiniteError, match=r"Conv2d\(3->4, 3x5\): input contains 1 non-finite"):
        conv(X)
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2d(1, 1, 1).backward(np.ones((1, 1, 1, 1)))
    conv(np.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"backward: expected upstream gradient of shape \(2, 4, 2, 2\).*"
                                         r"got \(2, 4, 4\)"):
        conv.backward(np.ones((2, 4, 4)))


def test_pool_and_flatten_bad_inputs():
    with pytest.raises(ValueError, match="MaxPool2d: kernel_size must be an integer or a pair"):
        MaxPool2d(0)
    with pytest.raises(ValueError, match=r"AvgPool2d: stride must be .* got 0"):
        AvgPool2d(2, stride=0)
    with pytest.raises(ValueError, match=r"MaxPool2d\(3x3, stride 3x3\): kernel 3x3 is larger than the padded "
                                         r"input 2x5"):
        MaxPool2d(3)(np.ones((1, 1, 2, 5)))
    with pytest.raises(ValueError, match=r"AvgPool2d.*expected input of shape \(N, C, H, W\), got \(4, 4\)"):
        AvgPool2d(2)(np.ones((4, 4)))
    with pytest.raises(ValueError, match=r"GlobalAvgPool2d: expected input of shape \(N, C, H, W\), got \(2, 3\)"):
        GlobalAvgPool2d()(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Flatten: expected input of shape \(N, ...\) .* got \(5,\)"):
        Flatten()(np.ones(5))
    with pytest.raises(bp.module.NonFiniteError, match="MaxPool2d"):
        MaxPool2d(2)(np.full((1, 1, 2, 2), np.inf))


def test_functional_bad_inputs(rng):
    with pytest.raises(ValueError, match=r"conv2d_naive: expected input of shape \(N, 2, H, W\), got \(1, 3, 4, 4\)"):
        conv2d_naive(np.ones((1, 3, 4, 4)), np.ones((1, 2, 2, 2)), np.zeros(1))
    with pytest.raises(ValueError, match=r"conv2d_backward_naive: expected delta of shape \(1, 1, 3, 3\), got \(1, 1, 2, 2\)"):
        conv2d_backward_naive(np.ones((1, 2, 4, 4)), np.ones((1, 2, 2, 2)), np.ones((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"im2col: stride must be"):
        im2col(np.ones((1, 1, 4, 4)), 2, stride=0)
    with pytest.raises(ValueError, match=r"col2im: expected dcols of shape \(9, 4\), got \(9, 5\)"):
        col2im(np.ones((9, 5)), (1, 1, 4, 4), 2)


# ---------------------------------------------------------------------------------------------
# against PyTorch (skipped when torch is not installed)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stride, padding", [(1, 0), ((2, 1), (1, 2)), (3, 1)])
def test_conv2d_matches_torch(stride, padding, rng, record_error):
    torch = pytest.importorskip("torch")
    conv = Conv2d(3, 4, (3, 2), stride=stride, padding=padding, seed=1)
    conv.b.data[...] = rng.normal(size=4)
    X = rng.normal(size=(2, 3, 7, 6))
    Z = conv(X)
    G = rng.normal(size=Z.shape)
    dX = conv.backward(G)
    Xt = torch.tensor(X, requires_grad=True)
    Wt, bt = torch.tensor(conv.W.data, requires_grad=True), torch.tensor(conv.b.data, requires_grad=True)
    Zt = torch.nn.functional.conv2d(Xt, Wt, bt, stride=stride, padding=padding)
    (Zt * torch.from_numpy(G)).sum().backward()
    for name, ours, theirs in [("Z", Z, Zt.detach()), ("dX", dX, Xt.grad), ("dW", conv.W.grad, Wt.grad),
                               ("db", conv.b.grad, bt.grad)]:
        assert record_error(f"torch conv2d {name}", rel_error(ours, theirs.numpy())) < 1e-12, name


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel, stride", [(2, None), ((3, 2), (2, 1)), (2, 1)])
def test_pooling_matches_torch(kind, kernel, stride, record_error):
    torch = pytest.importorskip("torch")
    X = distinct_values(4, (2, 3, 7, 6))
    ours = (MaxPool2d if kind == "max" else AvgPool2d)(kernel, stride)
    theirs = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    Y = ours(X)
    G = np.random.default_rng(5).normal(size=Y.shape)
    dX = ours.backward(G)
    Xt = torch.tensor(X, requires_grad=True)
    Yt = theirs(Xt, kernel, stride)
    (Yt * torch.from_numpy(G)).sum().backward()
    assert rel_error(Y, Yt.detach().numpy()) < 1e-14
    assert record_error(f"torch {kind}_pool2d dX", rel_error(dX, Xt.grad.numpy())) < 1e-12
