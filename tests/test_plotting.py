"""Tests for bpcourse.plotting: assertions on the artists each function draws (Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from catalogue import linear_layer  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

import bpcourse as bp  # noqa: E402
from bpcourse import plotting as pl  # noqa: E402
from bpcourse.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def no_show_and_close(monkeypatch):
    def show(*a, **k):
        raise AssertionError("plotting functions must not call plt.show()")
    monkeypatch.setattr(plt, "show", show)
    yield
    plt.close("all")


def _linear_net(W, b, *extra):
    return bp.nn.Sequential(linear_layer(W, b), *extra)


# --------------------------------------------------------------------------------------------
# style
# --------------------------------------------------------------------------------------------

def test_palette_is_okabe_ito_and_use_style_sets_the_cycle():
    assert set(pl.PALETTE.values()) == {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2",
                                        "#D55E00", "#CC79A7", "#000000"}
    with matplotlib.rc_context():
        pl.use_style()
        cycle = [c.upper() for c in matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]]
        assert cycle == [c.upper() for c in pl.CYCLE]
        assert matplotlib.rcParams["axes.spines.top"] is False
    colors = pl.class_colors(10)
    assert colors.shape == (10, 3) and np.allclose(colors[8], to_rgb(pl.CYCLE[0]))


# --------------------------------------------------------------------------------------------
# history
# --------------------------------------------------------------------------------------------

def _history():
    return History(epoch=[1, 2, 3], loss=[1.0, 0.5, 0.25], acc=[0.5, 0.7, 0.9],
                   val_loss=[1.1, 0.6, 0.7], val_acc=[0.4, 0.6, 0.8], best_epoch=2)


def test_sign_cmap_blue_negative_white_zero_vermillion_positive():
    cmap = pl.sign_cmap()
    assert cmap is pl.sign_cmap()                                   # one object, shared by every figure
    assert np.allclose(cmap(0.0)[:3], to_rgb(pl.PALETTE["blue"]), atol=0.01)
    assert np.allclose(cmap(0.5)[:3], (1.0, 1.0, 1.0), atol=0.01)
    assert np.allclose(cmap(1.0)[:3], to_rgb(pl.PALETTE["vermillion"]), atol=0.01)
    pytest.importorskip("ipywidgets")
    from bpcourse.widgets.playground import WEIGHT_CMAP  # the Playground's weight maps use it too
    assert WEIGHT_CMAP is cmap


def test_plot_history_draws_train_and_validation_curves():
    h = _history()
    axes = pl.plot_history(h)
    assert len(axes) == 2
    loss_lines = [l for l in axes[0].get_lines() if l.get_label() in ("train", "validation")]
    assert [list(l.get_ydata()) for l in loss_lines] == [h.loss, h.val_loss]
    assert list(loss_lines[0].get_xdata()) == [1, 2, 3]
    acc_lines = [l for l in axes[1].get_lines() if l.get_label() in ("train", "validation")]
    assert [list(l.get_ydata()) for l in acc_lines] == [h.acc, h.val_acc]
    best = [l for l in axes[0].get_lines() if l.get_label().startswith("best epoch")]
    assert len(best) == 1 and list(best[0].get_xdata()) == [2, 2]


def test_plot_history_loss_only_and_from_dict():
    h = History(epoch=[1, 2], loss=[0.3, 0.2])           # e.g. MSE: no accuracy
    axes = pl.plot_history(h.as_dict())
    assert len(axes) == 1 and len(axes[0].get_lines()) == 1
    fig, ax = plt.subplots()
    assert pl.plot_history(_history(), ax=ax) == [ax]      # one Axes given: the loss only
    with pytest.raises(ValueError, match="no epochs"):
        pl.plot_history(History())


# --------------------------------------------------------------------------------------------
# decision maps
# --------------------------------------------------------------------------------------------

X4 = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])


def _pixel(ax, x, y):
    """The RGB value of the region image at data point (x, y)."""
    img = ax.images[-1]
    arr = img.get_array()
    x0, x1, y0, y1 = img.get_extent()
    col = int(round((x - x0) / (x1 - x0) * (arr.shape[1] - 1)))
    row = int(round((y - y0) / (y1 - y0) * (arr.shape[0] - 1)))   # origin="lower"
    return np.asarray(arr[row, col])


def test_decision_map_binary_logits_hard_regions():
    net = _linear_net([[1.0, 0.0]], [0.0])               # class 1 where x1 > 0
    y = np.array([0, 0, 1, 1])
    ax = pl.plot_decision_map(net, X4, y, resolution=60, proba=False)
    assert ax.images[-1].get_array().shape == (60, 60, 3)
    c0, c1 = pl.class_colors(2)
    assert np.allclose(_pixel(ax, -1.0, 0.3), 0.55 + 0.45 * c0)
    assert np.allclose(_pixel(ax, 1.0, -0.7), 0.55 + 0.45 * c1)
    scatter = ax.collections[-1]
    assert np.allclose(scatter.get_offsets(), X4)
    assert np.allclose(scatter.get_facecolors()[:, :3], [c0, c0, c1, c1])


def test_decision_map_probabilities_white_where_unsure_and_sigmoid_output_recognised():
    logits = _linear_net([[4.0, 0.0]], [0.0])
    probs = _linear_net([[4.0, 0.0]], [0.0], bp.nn.Sigmoid())
    ax1 = pl.plot_decision_map(logits, X4, resolution=41)
    ax2 = pl.plot_decision_map(probs, X4, resolution=41)
    np.testing.assert_allclose(ax1.images[-1].get_array(), ax2.images[-1].get_array())
    assert np.allclose(_pixel(ax1, 0.0, 0.0), 1.0)                # p = 0.5: white
    p = 1 / (1 + np.exp(-4.0 * 1.2))                              # at the right edge x1 = 1.2
    c1 = pl.class_colors(2)[1]
    alpha = 0.65 * (p - 0.5) / 0.5
    assert np.allclose(_pixel(ax1, 1.2, 0.0), (1 - alpha) + alpha * c1, atol=1e-6)


def test_decision_map_three_classes():
    # logits = (x1, x2, -x1): class 0 right-low, 1 top, 2 left
    net = _linear_net([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], [0.0, 0.0, 0.0])
    X = np.array([[1.0, -1.0], [0.0, 1.0], [-1.0, -1.0]])
    ax = pl.plot_decision_map(net, X, [0, 1, 2], resolution=50, proba=False)
    c = pl.class_colors(3)
    for (x, yy), k in zip(X, [0, 1, 2]):
        assert np.allclose(_pixel(ax, x, yy), 0.55 + 0.45 * c[k])
    assert len(ax.collections) >= 2                                # the boundary contour and the points


def test_decision_map_bad_input():
    net = _linear_net([[1.0, 0.0]], [0.0])
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        pl.plot_decision_map(net, np.zeros((5, 3)), None)
    with pytest.raises(ValueError, match="4 rows but y has 3"):
        pl.plot_decision_map(net, X4, [0, 1, 0])
    with pytest.raises(ValueError, match="resolution"):
        pl.plot_decision_map(net, X4, resolution=1)


# --------------------------------------------------------------------------------------------
# gradient flow and histograms
# --------------------------------------------------------------------------------------------

def test_gradient_flow_one_bar_per_layer_with_the_norms_as_heights():
    norms = {"Linear1": 0.003, "Linear2": 0.017, "Linear3": 0.070, "Linear4": 0.285}
    ax = pl.plot_gradient_flow(norms)
    bars = ax.patches
    assert len(bars) == 4
    assert [b.get_height() for b in bars] == list(norms.values())
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(norms)
    ax = pl.plot_gradient_flow(norms, log=False)
    assert ax.get_yscale() == "linear"


def test_gradient_flow_from_real_gradients_and_per_epoch_lists():
    from bpcourse.diagnostics import grad_norms
    X, y = bp.data.moons(n=30, seed=0)
    net = bp.nn.MLP([2, 8, 8, 1], activation="tanh", seed=0)
    loss = bp.losses.BCE(from_logits=True)
    loss(net(X), y)
    net.backward(loss.backward())
    norms = grad_norms(net)
    ax = pl.plot_gradient_flow(norms)
    assert [b.get_height() for b in ax.patches] == pytest.approx(list(norms.values()))
    ax = pl.plot_gradient_flow({"a": [1.0, 2.0], "b": [3.0, 4.0]})    # History.grad_norms: last epoch
    assert [b.get_height() for b in ax.patches] == [2.0, 4.0]
    with pytest.raises(ValueError, match="bad layers: \\['b'\\]"):
        pl.plot_gradient_flow({"a": 1.0, "b": float("nan")})
    with pytest.raises(ValueError, match="non-empty dict"):
        pl.plot_gradient_flow({})


def test_layer_histograms_one_axes_per_layer_counting_every_value():
    rng = np.random.default_rng(0)
    values = {f"layer {i}": rng.normal(scale=0.5 ** i, size=(50, 10)) for i in range(7)}
    axes = pl.plot_layer_histograms(values, bins=20)
    assert len(axes) == 7
    fig = axes[0].figure
    assert sum(a.get_visible() for a in fig.axes) == 7           # the 8th grid cell is hidden
    lo = min(v.min() for v in values.values())
    for ax, (name, v) in zip(axes, values.items()):
        heights = [p.get_height() for p in ax.patches]
        assert len(heights) == 20 and sum(heights) == v.size
        assert ax.patches[0].get_x() == pytest.approx(lo)       # shared bins across layers
        assert ax.get_title().startswith(name)


def test_layer_histograms_into_given_axes_and_errors():
    fig, axes = plt.subplots(1, 3)
    out = pl.plot_layer_histograms({"a": [1, 2, 3], "b": [0, 0, 1]}, axes=axes)
    assert out == list(axes[:2])
    with pytest.raises(ValueError, match="3 layers but only 2 Axes"):
        pl.plot_layer_histograms({"a": [1], "b": [2], "c": [3]}, axes=axes[:2])
    with pytest.raises(ValueError, match="empty arrays for layers \\['b'\\]"):
        pl.plot_layer_histograms({"a": [1], "b": []})


# --------------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------------

def test_plot_digits_shows_images_and_marks_mistakes():
    X, y = bp.data.load_digits()
    pred = y[:12].copy()
    pred[[2, 7]] = (pred[[2, 7]] + 1) % 10                       # two mistakes
    fig = pl.plot_digits(X[:100], y[:100], pred=np.concatenate([pred, y[12:100]]), n=12, ncols=4)
    assert len(fig.axes) == 12
    for i, ax in enumerate(fig.axes):
        assert np.array_equal(ax.images[0].get_array(), X[i].reshape(8, 8))
        title = ax.title
        if i in (2, 7):
            assert title.get_text() == f"{pred[i]} ({y[i]})"
            assert to_rgb(title.get_color()) == to_rgb(pl.PALETTE["vermillion"])
            assert all(s.get_visible() for s in ax.spines.values())
        else:
            assert title.get_text() == str(y[i])
            assert not any(s.get_visible() for s in ax.spines.values())


def test_plot_digits_sizes_and_errors():
    X, y = bp.data.load_digits()
    assert len(pl.plot_digits(X[:5], n=32).axes) == 5             # n is capped by the data
    assert len(pl.plot_digits(np.zeros((3, 28 * 28))).axes) == 3    # MNIST-sized rows work too
    with pytest.raises(ValueError, match="square images"):
        pl.plot_digits(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="5 images but y has 4"):
        pl.plot_digits(X[:5], y[:4])
    with pytest.raises(ValueError, match="n must be a positive integer"):
        pl.plot_digits(X[:5], n=0)


def test_every_panel_has_a_y_label():
    hist = {"epoch": [1, 2, 3], "loss": [1.0, 0.5, 0.4], "acc": [0.5, 0.7, 0.8],
            "val_loss": [1.1, 0.6, 0.5], "val_acc": [0.4, 0.6, 0.7]}
    assert [a.get_ylabel() for a in pl.plot_history(hist)] == ["loss", "accuracy"]
    axes = pl.plot_layer_histograms({"layer 1": np.arange(10.0), "layer 2": np.ones(5)})
    assert all(a.get_ylabel() == "count" for a in axes)
    assert pl.plot_gradient_flow({"layer 1": 0.1, "layer 2": 0.2}).get_ylabel()
