"""Kernel-side tests of the widgets: drive the controls from Python, read the model and the
plotted data back (from the matplotlib artists and the PNG), and check bad values are handled."""
import base64
import io
import math

import numpy as np
import PIL.Image
import pytest

import bpcourse as bp
import bpcourse.widgets as bw
from bpcourse.widgets import PRESETS


def png_pixels(png):
    return np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def assert_png_changed(before, after):
    a, b = png_pixels(before), png_pixels(after)
    assert a.shape == b.shape
    assert np.abs(a - b).sum() > 0, "the rendered figure did not change"


# ----------------------------------------------------------------------------------------------
# the common contract
# ----------------------------------------------------------------------------------------------

# every widget the package exports meets the contract: a new explorer is tested the day it is exported
ALL = [getattr(bw, name) for name in bw.__all__ if name not in ("Widget", "PRESETS")]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_contract_and_static_fallback(cls):
    w = cls()
    assert isinstance(w.controls, dict) and w.controls
    assert w.view is not None and w.image.value == w.png
    assert w.png.startswith(b"\x89PNG") and png_pixels(w.png).shape[0] > 100
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle           # the live view
    assert base64.b64decode(bundle["image/png"]) == w.png                # the static fallback
    assert cls.__name__ in bundle["text/plain"]
    assert isinstance(w.state(), dict)
    # the figure is made once: updating keeps the same Figure, axes and artists
    fig, axes, animated = w.figure, list(w.figure.axes), list(w.animated)
    w.update()
    assert w.figure is fig and w.figure.axes == axes and w.animated == animated


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_one_keyboard_step_shows_in_every_readout(cls):
    """An arrow key moves a slider by one step: its readout must show the new value, not the old one again
    (FiniteDifferenceExplorer's h read 1e-6 for both 1e-6 and 1.3e-6 with a ".0e" readout)."""
    import ipywidgets as W

    same = []
    for name, c in cls().controls.items():
        if isinstance(c, W.FloatLogSlider):
            exponent = math.log(c.value, c.base)
            steps = [c.base ** e for e in (exponent - c.step, exponent + c.step) if c.min <= e <= c.max]
        elif isinstance(c, W.FloatSlider):
            steps = [v for v in (c.value - c.step, c.value + c.step) if c.min <= v <= c.max]
        else:
            continue
        same += [(name, c.value, v) for v in steps if format(v, c.readout_format) == format(c.value, c.readout_format)]
    assert not same, f"{cls.__name__}: (control, value, one step away) that read the same: {same}"


def _boxes(box):
    yield box
    for child in getattr(box, "children", ()):
        yield from _boxes(child)


def _holds(box, widget):
    return any(b is widget for b in _boxes(box))


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_the_figure_shrinks_not_the_controls(cls):
    """In a row of controls and figure, the figure's column may shrink (min-width 0) and the controls' may not:
    squeezed, a column of controls scrolls sideways and hides its readouts (the Playground's did, in JupyterLab
    with the file browser open; tests/ui/test_lessons.py sees it in the browser)."""
    w = cls()
    rows = [b for b in _boxes(w.view) if type(b).__name__ == "HBox" and _holds(b, w.image)]
    assert rows, f"{cls.__name__}: no row holds the figure"
    for row in rows:
        for child in row.children:
            if _holds(child, w.image):
                assert child.layout.min_width == "0" and child.layout.flex.startswith("1"), cls.__name__
            elif any(_holds(child, c) for c in w.controls.values()):
                assert child.layout.flex == "0 0 auto", f"{cls.__name__}: a column of controls may shrink"


def test_ipython_display_emits_png_and_view():
    from IPython.core.formatters import DisplayFormatter
    data, _ = DisplayFormatter().format(bw.ActivationExplorer())
    assert {"image/png", "text/plain", "application/vnd.jupyter.widget-view+json"} <= set(data)


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="dataset.*valid: circles"):
        bw.Playground(dataset="swirl")
    with pytest.raises(ValueError, match="lr must be a finite number >= 1e-05 and <= 10"):
        bw.Playground(lr=100)
    with pytest.raises(ValueError, match="at most 10 hidden layers"):
        bw.Playground(hidden=(8,) * 11)
    with pytest.raises(ValueError, match="preset.*deep_sigmoid"):
        bw.Playground(preset="nope")
    with pytest.raises(ValueError, match="activation.*valid"):
        bw.ActivationExplorer(activation="swish")
    with pytest.raises(ValueError, match="dims"):
        bw.LearningRateExplorer(dims=3)


# ----------------------------------------------------------------------------------------------
# the playground
# ----------------------------------------------------------------------------------------------

def test_playground_defaults_and_controls():
    pg = bw.Playground()
    c = pg.controls
    assert pg.model.sizes == [2, 8, 8, 1] and pg.model.activation == "tanh"
    assert isinstance(pg.loss_fn, bp.losses.BCE) and pg.loss_fn.from_logits
    assert type(pg.optimizer) is bp.optim.SGD and pg.optimizer.lr == pytest.approx(0.03)
    assert c["hidden_layers"].value == 2 and c["width"].value == 8
    assert c["lr"].min == pytest.approx(-5) and c["lr"].max == pytest.approx(1)     # 1e-5 ... 10
    assert c["hidden_layers"].max == 10 and c["width"].max == 64
    assert set(c["dataset"].options) == {"xor", "circles", "moons", "spirals", "gaussians"}
    assert set(c["optimizer"].options) == {"sgd", "momentum", "adam"}
    assert set(c["loss"].options) == {"bce", "cross_entropy", "mse"}
    n = len(pg.data["y_train"]) + len(pg.data["y_test"])
    assert len(pg.data["y_train"]) == round(0.7 * n)


def test_playground_training_updates_plots_in_place():
    pg = bw.Playground(dataset="xor", hidden=(4,), lr=0.1)
    png0, s0 = pg.png, pg.state()
    bars = list(pg._grad_bars)
    pg.step(400)
    s1 = pg.state()
    assert s1["step"] == 400
    assert s1["train_loss"] < 0.5 * s0["train_loss"]
    assert s1["test_acc"] > 0.9
    assert not np.allclose(s1["decision"], s0["decision"])           # the decision map moved
    assert s1["loss_curve"]["step"][-1] == 400 and len(s1["loss_curve"]["train"]) > 2
    assert s1["loss_curve"]["train"][-1] == pytest.approx(s1["train_loss"])
    # the bars show the Frobenius norms of the Linear layers' W.grad, one per layer
    assert len(s1["grad_norms"]) == 2 and all(g > 0 for g in s1["grad_norms"])
    assert pg._grad_bars == bars
    assert_png_changed(png0, pg.png)


def _assert_weights_plotted(pg):
    """Every Linear layer's current W is the array in its heat map, with colour limits ±max|W|."""
    plotted = pg.state()["weights"]
    linears = pg.model.linear_layers()
    assert len(plotted) == len(linears) == len(pg._weight_images)
    for i, (w, layer) in enumerate(zip(plotted, linears)):
        assert w["shape"] == layer.W.data.shape, f"layer {i + 1}"
        assert np.array_equal(w["W"], layer.W.data), f"layer {i + 1}"
        m = np.abs(layer.W.data).max()
        assert w["clim"] == pytest.approx((-m, m)) and w["max_abs"] == pytest.approx(m)
        assert w["label"] == f"±{m:.2g}"
        assert w["name"] == f"W{i + 1}  {layer.W.data.shape[0]}×{layer.W.data.shape[1]}"


def test_weight_heat_maps_follow_training_and_architecture():
    pg = bw.Playground(dataset="xor", hidden=(4,), lr=0.1)
    _assert_weights_plotted(pg)
    before = [w["W"] for w in pg.state()["weights"]]
    images = list(pg._weight_images)
    png = pg.png
    pg.step(60)
    _assert_weights_plotted(pg)                                     # plotted == current W.data, per layer
    assert pg._weight_images == images                              # updated in place, not rebuilt
    assert not any(np.array_equal(b, w["W"]) for b, w in zip(before, pg.state()["weights"]))
    assert_png_changed(png, pg.png)
    for _ in range(3):
        pg.tick()
    _assert_weights_plotted(pg)
    # architecture changes rebuild one heat map per Linear layer, and only those
    for layers, width, shapes in ((4, 16, [(16, 2), (16, 16), (16, 16), (16, 16), (1, 16)]),
                                  (0, 16, [(1, 2)]),
                                  (10, 64, [(64, 2)] + [(64, 64)] * 9 + [(1, 64)])):
        pg.controls["hidden_layers"].value = layers                 # each change rebuilds the model
        pg.controls["width"].value = width
        assert pg.last_error is None
        assert [w["shape"] for w in pg.state()["weights"]] == shapes
        assert len(pg._weight_images) == len(shapes)
        assert sum(im in pg.animated for im in pg._weight_images) == len(shapes)
        assert len(pg.ax_w.images) == len(shapes)                   # the old heat maps were removed
        pg.step(20)
        _assert_weights_plotted(pg)
    pg.controls["loss"].value = "cross_entropy"                     # 2 output logits
    assert pg.state()["weights"][-1]["shape"] == (2, 64)
    _assert_weights_plotted(pg)


def test_play_value_drives_ticks():
    pg = bw.Playground()
    k = pg.steps_per_tick
    for v in (1, 2, 3):
        pg.controls["play"].value = v                 # what the frontend's Play does every interval
    assert pg.step_count == 3 * k
    assert len(pg.tick_times) == 3
    pg.controls["step"].click()
    assert pg.step_count == 4 * k
    pg.controls["reset"].click()
    assert pg.step_count == 0 and pg.controls["play"].value == 0 and len(pg.history["step"]) == 1


def test_changing_lr_never_resets_training():
    pg = bw.Playground()
    pg.step(100)
    W_before = [p.data.copy() for p in pg.model.parameters()]
    model, opt, hist = pg.model, pg.optimizer, len(pg.history["step"])
    png = pg.png
    pg.controls["lr"].value = 0.5
    assert pg.model is model and pg.optimizer is opt and pg.optimizer.lr == pytest.approx(0.5)
    assert pg.step_count == 100 and len(pg.history["step"]) == hist
    assert all(np.array_equal(a, p.data) for a, p in zip(W_before, pg.model.parameters()))
    pg.step(20)
    assert pg.step_count == 120
    assert pg.png != png


@pytest.mark.parametrize("name, value, check", [
    ("hidden_layers", 4, lambda pg: pg.model.sizes == [2, 8, 8, 8, 8, 1]),
    ("width", 3, lambda pg: pg.model.sizes == [2, 3, 3, 1]),
    ("activation", "relu", lambda pg: pg.model.activation == "relu"),
    ("loss", "cross_entropy", lambda pg: pg.model.sizes[-1] == 2),
    ("dataset", "spirals", lambda pg: np.abs(pg.data["X_train"]).max() < 1.5),
    ("init", "constant", lambda pg: np.ptp(pg.model.linear_layers()[0].W.data) == 0),
])
def test_structural_controls_rebuild(name, value, check):
    pg = bw.Playground()
    pg.step(40)
    pg.controls[name].value = value
    assert pg.step_count == 0 and check(pg)
    assert pg.last_error is None
    pg.step(20)
    assert pg.step_count == 20 and pg.state()["train_loss"] is not None


def test_optimizer_change_keeps_weights():
    pg = bw.Playground()
    pg.step(50)
    W = pg.model.linear_layers()[0].W.data.copy()
    pg.controls["optimizer"].value = "adam"
    assert isinstance(pg.optimizer, bp.optim.Adam) and pg.step_count == 50
    assert np.array_equal(W, pg.model.linear_layers()[0].W.data)
    pg.controls["optimizer"].value = "momentum"
    assert pg.optimizer.momentum == pytest.approx(0.9)


def test_regularization_shrinks_weights():
    norms = {}
    for reg, rate in (("none", 0.0), ("l2", 0.1), ("l1", 0.01)):
        pg = bw.Playground(dataset="moons", hidden=(16, 16), lr=0.1, regularization=reg, reg_rate=rate)
        pg.step(300)
        norms[reg] = sum(np.abs(l.W.data).sum() for l in pg.model.linear_layers())
    assert norms["l2"] < 0.8 * norms["none"] and norms["l1"] < 0.8 * norms["none"]


def test_divergence_shows_message_and_keeps_last_finite_plot():
    pg = bw.Playground(preset="too_high_lr")
    pg.controls["play"].playing = True
    pg.step(200)
    s = pg.state()
    assert s["diverged_at"] is not None
    assert s["message"].startswith(f"diverged at step {s['diverged_at']}") and "lower the learning rate" in s["message"]
    assert "diverged" in pg.status.value
    assert pg.controls["play"].playing is False                        # paused
    assert np.isfinite(s["decision"]).all() and all(np.isfinite(s["loss_curve"]["train"]))
    assert all(np.isfinite(p.data).all() for p in pg.model.parameters())   # rolled back
    # lowering the learning rate resumes from the rolled-back weights, without a reset
    step = pg.step_count
    pg.controls["lr"].value = 0.01
    assert pg.diverged_at is None and pg.state()["message"] == "" and pg.step_count == step
    pg.step(100)
    assert pg.diverged_at is None and pg.step_count == step + 100


@pytest.mark.parametrize("kwargs", [
    dict(lr=10.0), dict(lr=10.0, optimizer="adam", activation="relu", init="he"),
    dict(hidden=(8,) * 10, activation="sigmoid"), dict(hidden=(1,)), dict(hidden=()),
    dict(lr=10.0, loss="mse", activation="identity", hidden=(64,) * 3, init="normal"),
    dict(batch_size=1, lr=10.0, optimizer="momentum", loss="cross_entropy"),
])
def test_extreme_values_never_break_the_view(kwargs):
    pg = bw.Playground(**kwargs)
    for _ in range(5):
        pg.tick()
    s = pg.state()
    assert pg.last_error is None
    assert np.isfinite(s["decision"]).all()
    assert all(math.isfinite(v) for v in s["grad_norms"] + s["saturation"])
    assert all(math.isfinite(v) for v in s["loss_curve"]["train"])
    assert s["diverged_at"] is not None or s["train_loss"] is not None
    assert pg.png.startswith(b"\x89PNG")


def test_extreme_control_values_from_the_frontend():
    pg = bw.Playground()
    c = pg.controls
    c["lr"].value = 10.0
    c["hidden_layers"].value = 10
    c["activation"].value = "sigmoid"
    c["width"].value = 1
    for v in range(1, 6):
        c["play"].value = v
    assert pg.last_error is None and pg.model.sizes == [2] + [1] * 10 + [1]
    assert pg.png.startswith(b"\x89PNG")


def test_every_activation_in_the_menu_trains_and_draws():
    pg = bw.Playground(dataset="xor", hidden=(4,), lr=0.1)
    for act in pg.controls["activation"].options:
        pg.controls["activation"].value = act
        pg.step(40)
        assert pg.last_error is None and pg.model.activation == act and pg.state()["train_loss"] is not None
        assert pg.ax_sat.get_title() and len(pg.state()["saturation"]) == 1


def test_deep_sigmoid_preset_shows_vanishing_gradients():
    pg = bw.Playground(preset="deep_sigmoid")
    assert pg.model.sizes == [2] + [8] * 8 + [1] and pg.controls["preset"].value == "deep_sigmoid"
    pg.step(100)
    g = pg.state()["grad_norms"]
    assert len(g) == 9 and g[0] < 1e-3 * g[-1]                    # orders of magnitude in the bars
    # the relu + He preset at the same depth keeps them within two orders
    g2 = bw.Playground(preset="deep_relu_he").step(100).state()["grad_norms"]
    assert min(g2) > 1e-2 * max(g2)


def test_explicit_arguments_override_the_preset_and_the_dropdown_applies_presets():
    pg = bw.Playground(preset="deep_sigmoid", lr=0.05)
    assert pg.optimizer.lr == pytest.approx(0.05) and pg.model.activation == "sigmoid"
    pg.controls["preset"].value = "xor"
    assert pg.model.sizes == [2, 4, 1] and pg.controls["dataset"].value == "xor" and pg.step_count == 0
    assert PRESETS["xor"]["description"] in pg.note.value


def test_playground_is_reproducible():
    a = bw.Playground(seed=3).step(60).state()
    b = bw.Playground(seed=3).step(60).state()
    assert a["train_loss"] == b["train_loss"] and np.array_equal(a["decision"], b["decision"])


def test_playground_hold_applies_every_change_once():
    """Several controls changed inside hold(): the same network and data as changing them one by one, built
    once, with one redraw."""
    one = bw.Playground(seed=1)
    for name, value in (("dataset", "moons"), ("width", 5), ("activation", "relu"), ("lr", 0.3), ("reg_rate", 0.01)):
        one.controls[name].value = value
    held = bw.Playground(seed=1)
    resets, renders = [], []
    reset, render = held.session.reset, held.render
    held.session.reset = lambda: resets.append(1) or reset()
    held.render = lambda: renders.append(1) or render()
    with held.hold():
        for name, value in (("dataset", "moons"), ("width", 5), ("activation", "relu"), ("lr", 0.3),
                            ("reg_rate", 0.01), ("steps_per_tick", 7)):
            held.controls[name].value = value
        assert held.session.config["dataset"] == "circles"              # nothing applied inside
    assert len(resets) == 1 and len(renders) == 1
    assert held.session.config == one.session.config and held.steps_per_tick == 7
    assert held.controls["preset"].value == "custom" and held.last_error is None
    assert held.model.sizes == [2, 5, 5, 1] and held.model.activation == "relu"
    a, b = one.step(30).state(), held.step(30).state()
    assert a["train_loss"] == b["train_loss"] and np.array_equal(a["decision"], b["decision"])
    with held.hold():
        held.controls["width"].value = 6
    assert held.model.sizes == [2, 6, 6, 1]
    with held.hold():                                                    # nothing changed: no rebuild
        pass
    assert len(resets) == 2


def test_tick_is_fast_and_blits():
    pg = bw.Playground()
    for _ in range(3):
        pg.tick()
    full = pg.full_redraws
    times = [pg.tick() for _ in range(10)]
    assert pg.full_redraws - full <= 2          # the static background is reused
    assert np.median(times) < 1.0               # generous: the benchmark measures the real latency


# ----------------------------------------------------------------------------------------------
# the explorers
# ----------------------------------------------------------------------------------------------

def test_circuit_explorer_reproduces_cs231n():
    w = bw.CircuitExplorer()
    s = w.state()
    assert (s["q"], s["f"]) == (3.0, -12.0)
    assert (s["dfdx"], s["dfdy"], s["dfdz"]) == (-4.0, -4.0, 3.0)
    png = w.png
    w.controls["z"].value = 2.0
    s = w.state()
    assert s["f"] == 6.0 and s["dfdx"] == 2.0 and s["dfdz"] == 3.0
    assert w._grad_text["x"].get_text() == "∂f/∂x = 2"
    assert_png_changed(png, w.png)


def test_activation_explorer():
    w = bw.ActivationExplorer(activation="sigmoid", z=0.0)
    s = w.state()
    assert s["max_fprime"] == pytest.approx(0.25) and s["fprime0"] == pytest.approx(0.25)
    assert np.allclose(s["f_plotted"], bp.activations.sigmoid(s["z"]))
    png = w.png
    w.controls["activation"].value = "relu"
    w.controls["z"].value = -1.0
    s = w.state()
    assert s["fprime0"] == 0.0 and np.allclose(s["fprime_plotted"], (s["z"] > 0).astype(float))
    assert_png_changed(png, w.png)


def test_layer_shape_explorer_reads_real_shapes():
    w = bw.LayerShapeExplorer(sizes=(4, 3, 2), batch=5)
    sh = w.state()["shapes"]
    assert sh["X"] == (5, 4) and sh["W1"] == (3, 4) and sh["Z1"] == (5, 3) and sh["delta2"] == (5, 2)
    assert sh["dW1"] == sh["W1"] and sh["db2"] == (2,)
    w.controls["batch"].value = 7
    w.controls["size1"].value = 6
    s = w.state()
    assert s["shapes"]["Z1"] == (7, 6) and s["shapes"]["W2"] == (2, 6) and s["shapes"]["dW2"] == (2, 6)
    assert s["drawn"]["Z1"] == (7, 6) and s["drawn"]["W2"] == (2, 6) and s["drawn"]["A_prev1"] == (7, 4)


def test_softmax_explorer():
    w = bw.SoftmaxExplorer(n_classes=3)
    s = w.state()
    assert np.allclose(s["probs"], bp.activations.softmax(s["logits"])) and sum(s["probs_plotted"]) == pytest.approx(1)
    onehot = np.eye(3)[s["target"]]
    assert np.allclose(s["grad"], s["probs"] - onehot)                  # δ = p − y for softmax-CE
    assert s["loss"] == pytest.approx(-math.log(s["probs"][0]))
    for i in range(3):
        w.controls[f"z{i}"].value = 0.0
    assert w.state()["loss"] == pytest.approx(math.log(3))
    w.controls["loss"].value = "mse"
    w.controls["z0"].value = -10.0                                      # saturated: MSE gradient vanishes
    s = w.state()
    assert np.abs(s["grad"]).max() < 0.01 and np.allclose(s["grad_plotted"], s["grad"])
    num = bp.numerical_gradient(lambda: _softmax_mse(z, 0), z := s["logits"].copy())
    assert np.allclose(s["grad"], num, atol=1e-8)


def _softmax_mse(z, t):
    p = bp.activations.softmax(z)
    return np.mean((p - np.eye(len(z))[t]) ** 2)


def test_finite_difference_explorer():
    w = bw.FiniteDifferenceExplorer()
    s = w.state()
    assert s["central_at_h"] < 1e-8 and s["forward_at_h"] > 1e-8       # central is O(h²), forward O(h)
    assert 1e-7 < s["best_h_central"] < 1e-3 and 1e-10 < s["best_h_forward"] < 1e-6
    w.controls["dtype"].value = "float32"
    s32 = w.state()
    assert s32["central_at_h"] > 1e-4                                   # h = 1e-6 is too small in float32
    assert s32["best_h_central"] > s["best_h_central"]
    w.controls["h"].value = 1e-2
    assert w.state()["central_at_h"] < 1e-3
    assert np.allclose(w.state()["central_plotted"], w.state()["central"])


def test_learning_rate_explorer_matches_theory():
    w = bw.LearningRateExplorer(curvature=1.0, lr=0.1)
    s = w.state()
    assert s["converges"] and s["rate"] == pytest.approx(0.9)
    assert np.allclose(s["path"][:, 0], 0.9 ** np.arange(31))           # w_k = (1 − αλ)^k w_0
    w.controls["lr"].value = 2.5                                        # αλ > 2 diverges
    s = w.state()
    assert not s["converges"] and s["loss"][-1] > s["loss"][0]
    w.controls["momentum"].value = 0.5                                  # now αλ = 2.5 < 2 + 2β = 3
    s = w.state()
    assert s["converges"] and s["loss"][-1] < 1e-3 * s["loss"][0]
    w.controls["dims"].value = 2
    s = w.state()
    assert s["path"].shape[1] == 2 and s["path_plotted"].shape == s["path"].shape
    w.controls["lr"].value = 10.0
    w.controls["curvature"].value = 10.0                                # extreme: must not crash
    w.controls["steps"].value = 200
    assert w.last_error is None and w.state()["diverged"]


def test_optimizer_explorer():
    w = bw.OptimizerExplorer()
    s = w.state()
    assert s["converges"] and s["loss"][-1] < s["gd_loss"][-1]         # momentum beats plain GD here
    assert s["bound"] == pytest.approx(3.8)
    w.controls["lr"].value = 0.05                                       # αλ_max = 5 > 3.8
    s = w.state()
    assert not s["converges"] and (s["diverged"] or s["loss"][-1] > s["loss"][0])
    png = w.png
    w.controls["optimizer"].value = "adam"
    s = w.state()
    assert s["optimizer"] == "adam" and "converges" not in s and np.isfinite(s["loss"]).all()
    assert_png_changed(png, w.png)


def test_gradient_flow_explorer():
    w = bw.GradientFlowExplorer(depth=6, activation="sigmoid")
    s = w.state()
    assert len(s["grad_norms"]) == 7 and s["bars"] == pytest.approx(s["grad_norms"])
    assert s["first_over_last"] < 1e-2
    w.controls["activation"].value = "relu"
    w.controls["weight_scale"].value = math.sqrt(2)                     # He scale: no vanishing
    assert w.state()["first_over_last"] > 0.05
    w.controls["depth"].value = 30
    w.controls["activation"].value = "sigmoid"
    s = w.state()
    assert len(s["bars"]) == 31 and s["first_over_last"] < 1e-12 and w.last_error is None


def test_init_explorer_reproduces_glorot_and_he():
    w = bw.InitExplorer(init="xavier", activation="relu", depth=20, width=50)
    xavier = w.state()["act_std"]
    w.controls["init"].value = "he"
    he = w.state()["act_std"]
    assert xavier[-1] < 0.01 * xavier[0]                              # Xavier + ReLU collapses
    assert 0.3 < he[-1] / he[0] < 3                                    # He keeps the scale
    assert w.state()["std_plotted"]["A"] == pytest.approx(he)
    w.controls["init"].value = "normal_1"
    w.controls["activation"].value = "tanh"
    s = w.state()
    centres, hists, _ = s["act_hist"]
    assert hists[-1][[0, -1]].sum() > 0.5                              # N(0,1) weights saturate tanh


def test_remedies_explorer():
    w = bw.RemediesExplorer(depth=20)
    plain = w.state()["first_over_last"]
    w.controls["skip"].value = True
    skip = w.state()["first_over_last"]
    assert plain < 1e-6 and skip > 1e-2
    w.controls["skip"].value = False
    w.controls["norm"].value = "batch"
    assert w.state()["first_over_last"] > 100 * plain
    w.controls["norm"].value = "layer"
    w.controls["depth"].value = 50
    assert len(w.state()["bars"]) == 51 and w.last_error is None


def test_regularization_explorer():
    w = bw.RegularizationExplorer()
    s0 = w.state()
    assert s0["final_train"] < 0.05 and s0["gap"] > 0.5               # overfits 30 noisy points
    png = w.png
    w.controls["l2"].value = 0.03
    s1 = w.state()
    assert s1["gap"] < 0.5 * s0["gap"] and s1["final_train"] > s0["final_train"]
    assert not np.allclose(s1["decision_plotted"], s0["decision_plotted"])
    assert_png_changed(png, w.png)
    w.controls["l2"].value = 0.0
    w.controls["dropout"].value = 0.5
    assert w.state()["gap"] < s0["gap"]


def _rnn_data(T, seed=0):
    """The explorer's input batch, rebuilt here: 8 sequences of length T with 4 standard-normal features."""
    return np.random.default_rng(seed).standard_normal((8, 100, 4))[:, :T]


def _fitted_rate(norms, far=20):
    """Per-step factor of norms[t] (t = 0..T) fitted where T − t >= far (as notebook 13 does)."""
    back = len(norms) - 1 - np.arange(len(norms))
    use = back >= far
    return float(np.exp(np.polyfit(back[use], np.log(norms[use]), 1)[0]))


def test_rnn_explorer_identity_follows_the_spectral_radius():
    w = bw.RNNExplorer(rho=0.9, length=60, activation="identity")
    assert set(w.controls) == {"rho", "length", "activation", "clip"}
    for rho in (0.8, 1.2, 0.5):
        png = w.png
        w.controls["rho"].value = rho
        s = w.state()
        assert w.last_error is None and s["spectral_radius"] == pytest.approx(rho)
        norms = s["grad_plotted"]
        assert np.array_equal(s["t_plotted"], np.arange(61)) and len(norms) == 61
        # what is drawn is bp.nn.RNN's BPTT, recomputed here from scratch
        rnn = bp.nn.RNN(4, 16, activation="identity", seed=0).set_spectral_radius(rho)
        assert np.allclose(norms, rnn.hidden_gradient_norms(_rnn_data(60)), rtol=1e-12)
        assert _fitted_rate(norms) == pytest.approx(rho, rel=1e-3)          # ‖∂L/∂h_t‖ ~ C ρ^(T−t)
        assert np.allclose(s["reference_plotted"], norms[-1] * rho ** (60 - np.arange(61)))
        assert_png_changed(png, w.png)
        if rho < 1:
            assert norms[0] < 1e-3 * norms[-1] and np.all(np.diff(norms[:40]) > 0)     # vanishes going back
        else:
            assert norms[0] > 1e3 * norms[-1] and np.all(np.diff(norms[:40]) < 0)     # explodes going back


def test_rnn_explorer_tanh_saturation_and_length():
    w = bw.RNNExplorer(rho=1.5, length=60, activation="identity")
    linear = w.state()["first_over_last"]
    w.controls["activation"].value = "tanh"
    s = w.state()
    assert s["activation"] == "tanh" and s["first_over_last"] < 1e-6 * linear      # f′ < 1 tames ρ = 1.5
    rnn = bp.nn.RNN(4, 16, activation="tanh", seed=0).set_spectral_radius(1.5)
    assert np.allclose(s["grad_plotted"], rnn.hidden_gradient_norms(_rnn_data(60)))
    w.controls["length"].value = 7
    s = w.state()
    assert len(s["grad_plotted"]) == 8 and s["length"] == 7 and w.ax_h.get_xlim()[1] >= 7
    w.controls["length"].value = 100
    assert len(w.state()["grad_plotted"]) == 101 and w.last_error is None


def test_rnn_explorer_clipping_caps_the_norm():
    w = bw.RNNExplorer(rho=1.3, length=40, activation="identity")
    s = w.state()
    # no clipping: the bars show ‖∂L/∂θ‖ of bp.nn.RNN's backward for L = Σ h_T, twice
    rnn = bp.nn.RNN(4, 16, activation="identity", seed=0).set_spectral_radius(1.3)
    H = rnn(_rnn_data(40))
    dH = np.zeros_like(H)
    dH[:, -1] = 1.0
    rnn.backward(dH)
    norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in rnn.parameters()))
    assert s["clip"] is None and not s["clipped"] and s["clip_line"] is None
    assert s["grad_before"] == pytest.approx(norm) and s["bars"] == pytest.approx([norm, norm]) and norm > 1e3
    assert w.controls["clip"].options[-1] == ("off", math.inf)             # "off" is the slider's far end
    w.controls["clip"].value = 1.0
    s = w.state()
    assert s["clipped"] and s["clip"] == 1.0 and s["clip_line"] == 1.0
    assert s["grad_before"] == pytest.approx(norm) and s["grad_after"] <= 1.0 + 1e-12
    assert s["grad_after"] == pytest.approx(1.0, rel=1e-6) and s["bars"][1] == pytest.approx(s["grad_after"])
    assert "clipped" in w._text.get_text()
    # a threshold above the norm changes nothing
    w.controls["rho"].value = 0.5
    small = w.state()["grad_before"]
    w.controls["clip"].value = 1000.0
    s = w.state()
    assert small < 1000 and not s["clipped"] and s["grad_after"] == pytest.approx(small)
    w.controls["clip"].value = math.inf
    assert w.state()["clip"] is None


def test_rnn_explorer_arguments():
    w = bw.RNNExplorer(clip=0.05, n_hidden=8, seed=3)
    assert w.state()["clip"] == 0.05 and ("0.05", 0.05) in w.controls["clip"].options
    assert w.model().n_hidden == 8
    with pytest.raises(ValueError, match="rho must be a finite number >= "):
        bw.RNNExplorer(rho=3.0)
    with pytest.raises(ValueError, match="activation.*valid: tanh, identity"):
        bw.RNNExplorer(activation="relu")
    with pytest.raises(ValueError, match="clip"):
        bw.RNNExplorer(clip=0)
    with pytest.raises(ValueError, match="length must be an integer"):
        bw.RNNExplorer(length=1)


# ----------------------------------------------------------------------------------------------
# the adversarial explorer (notebook 16)
# ----------------------------------------------------------------------------------------------

def _digits_test_split():
    _, X, _, y = bp.data.load_digits_split(test_fraction=0.25, seed=0)
    return X, y


def test_adversarial_explorer_shows_the_engines_fgsm():
    from bpcourse.input_gradients import fgsm
    w = bw.AdversarialExplorer(digit=0, eps=0.1)
    assert set(w.controls) == {"digit", "eps", "attack", "model"}
    X, y = _digits_test_split()
    net = w.models["MLP"][0]
    for digit, eps in ((5, 0.15), (12, 0.05), (300, 0.3)):
        png = w.png
        with w.hold():
            w.controls["digit"].value = digit
            w.controls["eps"].value = eps
        s = w.state()
        expected = fgsm(net, "cross_entropy", X[digit:digit + 1], y[digit:digit + 1], eps)[0]
        assert w.last_error is None and s["label"] == y[digit]
        assert np.array_equal(s["x_adv"], expected) and np.array_equal(s["x"], X[digit])
        assert np.allclose(s["perturbed_plotted"], expected.reshape(8, 8))
        assert np.allclose(s["perturbation_plotted"], (expected - X[digit]).reshape(8, 8))
        assert np.abs(s["perturbation"]).max() <= eps + 1e-12 and 0 <= s["x_adv"].min() and s["x_adv"].max() <= 1
        P = bp.activations.softmax(net.forward(np.stack([X[digit], expected])), axis=1)
        assert np.allclose(s["bars_clean"], P[0]) and np.allclose(s["bars_adv"], P[1])
        assert s["pred_adv"] == P[1].argmax() and f"Digit #{digit}" in s["text"]
        assert_png_changed(png, w.png)


@pytest.mark.parametrize("model", ["MLP", "CNN"])
def test_adversarial_explorer_fgsm_fools_where_random_signs_do_not(model):
    w = bw.AdversarialExplorer(eps=0.1, model=model)
    fooled = {"FGSM": 0, "random signs": 0}
    for attack in fooled:
        w.controls["attack"].value = attack
        for digit in range(40):
            w.controls["digit"].value = digit
            s = w.state()
            assert s["model"] == model
            fooled[attack] += s["pred_clean"] == s["label"] and s["pred_adv"] != s["label"]
    # notebook 16 measured, at ε = 0.1, 38-48 % (MLP) and 49-57 % (CNN) accuracy under FGSM, 94-98 % under random signs
    assert fooled["FGSM"] >= 10 and fooled["random signs"] <= 4, fooled


def test_adversarial_explorer_cnn_sees_images():
    from bpcourse.input_gradients import fgsm
    w = bw.AdversarialExplorer(digit=3, eps=0.1, model="MLP")
    assert w.controls["model"].options == ("MLP", "CNN")
    mlp_adv = w.state()["x_adv"]
    w.controls["model"].value = "CNN"
    s = w.state()
    cnn, shape = w.models["CNN"]
    X, y = _digits_test_split()
    expected = fgsm(cnn, "cross_entropy", X[3].reshape(1, 1, 8, 8), y[3:4], 0.1)
    assert shape == (1, 8, 8) and np.array_equal(s["x_adv"], expected.reshape(64))
    assert not np.array_equal(s["x_adv"], mlp_adv)                  # another network, another attack
    P = bp.activations.softmax(cnn.forward(expected), axis=1)[0]
    assert np.allclose(s["bars_adv"], P) and "CNN" in s["text"]


def test_adversarial_explorer_eps_zero_and_the_random_pattern():
    w = bw.AdversarialExplorer(digit=7, eps=0.0)
    s = w.state()
    assert np.array_equal(s["x_adv"], s["x"]) and np.array_equal(s["bars_adv"], s["bars_clean"])
    w.controls["attack"].value = "random signs"
    w.controls["eps"].value = 0.1
    small = w.state()["perturbation"]
    w.controls["eps"].value = 0.2
    large = w.state()["perturbation"]
    inside = np.isclose(np.abs(small), 0.1) & np.isclose(np.abs(large), 0.2)       # not clipped at either ε
    assert inside.sum() > 10 and np.array_equal(np.sign(small[inside]), np.sign(large[inside]))  # one pattern, scaled
    w.controls["digit"].value = 8
    w.controls["digit"].value = 7
    assert np.array_equal(w.state()["perturbation"], large)                                    # reproducible


def test_adversarial_explorer_takes_other_models_and_input_shapes():
    X, y = _digits_test_split()

    class Flatten(bp.nn.Module):
        def forward(self, X):
            self._cache = X.shape
            return X.reshape(len(X), -1)

        def backward(self, dY):
            return dY.reshape(self._cache)

    lin = bp.nn.Linear(64, 10, seed=0)
    image_net = bp.nn.Sequential(Flatten(), lin)
    w = bw.AdversarialExplorer(models={"linear": lin, "on images": (image_net, (1, 8, 8))}, model="on images")
    assert w.controls["model"].options == ("linear", "on images")
    a = w.state()["x_adv"]
    w.controls["model"].value = "linear"
    assert np.array_equal(w.state()["x_adv"], a)                 # the same network either way
    with pytest.raises(ValueError, match="models must be a non-empty dict"):
        bw.AdversarialExplorer(models={})
    with pytest.raises(ValueError, match="must hold the 64 pixels"):
        bw.AdversarialExplorer(models={"m": (lin, (1, 7, 7))})
    with pytest.raises(ValueError, match="does not take digits of shape \\(N, 1, 8, 8\\)"):
        bw.AdversarialExplorer(models={"m": (lin, (1, 8, 8))})
    with pytest.raises(ValueError, match="must output 10 logits"):
        bw.AdversarialExplorer(models={"m": bp.nn.Linear(64, 3)})
    with pytest.raises(ValueError, match="must be a bpcourse Module"):
        bw.AdversarialExplorer(models={"m": "mlp"})


def test_adversarial_explorer_arguments():
    with pytest.raises(ValueError, match="digit must be an integer in \\[0, 448\\]"):
        bw.AdversarialExplorer(digit=449)
    with pytest.raises(ValueError, match=r"AdversarialExplorer: eps must be a finite number >= 0 and <= 0.3, got 0.5"):
        bw.AdversarialExplorer(eps=0.5)
    with pytest.raises(ValueError, match="attack.*valid: FGSM, random signs"):
        bw.AdversarialExplorer(attack="PGD")
    with pytest.raises(ValueError, match="model.*valid: MLP, CNN"):
        bw.AdversarialExplorer(model="transformer")


@pytest.mark.parametrize("cls, changes", [
    (bw.InitExplorer, [("depth", 20), ("init", "he"), ("depth", 3), ("activation", "relu"), ("width", 300),
                       ("init", "normal_0.01"), ("activation", "sigmoid"), ("depth", 30)]),
    (bw.Playground, [("activation", "relu"), ("dataset", "xor"), ("hidden_layers", 4), ("lr", 0.3)]),
    (bw.RNNExplorer, [("length", 60), ("rho", 1.5), ("clip", 1.0), ("activation", "identity"), ("length", 7)]),
    (bw.LearningRateExplorer, [("dims", 2), ("steps", 100), ("curvature", 5.0), ("dims", 1)]),
], ids=lambda x: getattr(x, "__name__", ""))
def test_background_redraws_give_the_same_pixels_as_a_full_draw(cls, changes):
    """Blitting over a background that was redrawn axes by axes must show exactly what a full draw shows."""
    w, ref = cls(), cls()
    for name, value in changes:
        w.controls[name].value = value
        ref.controls[name].value = value
        assert np.array_equal(png_pixels(w.png), png_pixels(ref.render(full=True))), f"after {name} = {value!r}"
    assert w.partial_redraws > 0                   # the axes-by-axes path was taken


def test_going_back_to_a_recent_setting_reuses_its_background_with_the_same_pixels():
    w, ref = bw.InitExplorer(), bw.InitExplorer()
    for value in ["he", "normal_0.01", "xavier", "he", "normal_0.01", "xavier", "lecun"]:
        w.controls["init"].value = value
        ref.controls["init"].value = value
        assert np.array_equal(png_pixels(w.png), png_pixels(ref.render(full=True))), f"init = {value}"
    assert w.cached_redraws >= 2                   # second visits restored kept backgrounds (limits are sticky,
                                                   # so not every revisit has the same key)
    for top in range(1, 12):                       # many new backgrounds: only the last few are kept
        w.figure.axes[2].set_ylim(1e-3, 10.0 ** top)
        w.render()
    assert len(w._kept) == w.KEPT_BACKGROUNDS
    w.render(full=True)                            # a full render forgets the others
    assert len(w._kept) == 1


def test_hand_set_tick_labels_are_part_of_the_background_key():
    w = bw.InitExplorer()
    before = w._static_key()
    ax = w.figure.axes[2]
    ax.set_xticks(ax.get_xticks(), [f"L{int(t)}" for t in ax.get_xticks()])
    assert w._static_key() != before


def test_encode_png_is_lossless():
    from bpcourse.widgets._base import encode_png
    w = bw.SoftmaxExplorer()
    rgba = np.asarray(w.figure.canvas.buffer_rgba())
    decoded = np.asarray(PIL.Image.open(io.BytesIO(encode_png(rgba))).convert("RGBA"))
    assert np.array_equal(decoded[:, :, :3], rgba[:, :, :3])
    assert np.array_equal(png_pixels(w.png), rgba[:, :, :3])           # what the view shows is the canvas


def test_play_interval_adapts_to_slow_ticks():
    pg = bw.Playground()
    play = pg.controls["play"]
    play.interval = 1                                   # far faster than any tick
    play.value = 1
    assert play.interval >= 1000 * pg.tick_times[-1]    # ticks no longer queue up in the kernel


# ----------------------------------------------------------------------------------------------
# GateExplorer (notebook 14)
# ----------------------------------------------------------------------------------------------

def _gate_data(T, seed=0):
    return bp.data.marked_memory(bw.GateExplorer.BATCH, bw.GateExplorer.MAX_LENGTH, seed=seed)[0][:, :T]


def test_gate_explorer_draws_the_engines_bptt():
    w = bw.GateExplorer(cell="LSTM", length=40, forget_bias=1.0)
    s = w.state()
    X = _gate_data(40)
    for cell, layer in (("RNN", bp.nn.RNN(2, 16, seed=0)), ("LSTM", bp.nn.LSTM(2, 16, seed=0)),
                        ("GRU", bp.nn.GRU(2, 16, seed=0, update_bias=1.0))):
        g = layer.hidden_gradient_norms(X)
        assert np.allclose(s["plotted"][cell], g / g[-1], rtol=1e-12), cell
    dc = bp.nn.LSTM(2, 16, seed=0).cell_gradient_norms(X)
    assert np.allclose(s["cell_plotted"], dc / dc[-1], rtol=1e-12)
    assert np.array_equal(s["steps_back_plotted"], 40 - np.arange(41))
    assert s["bold"] == ["LSTM"] and s["window_line"] is None


def test_gate_explorer_forget_bias_keeps_the_gradient_and_cell_choice_moves_the_bold_line():
    w = bw.GateExplorer(cell="LSTM", length=80, forget_bias=0.0)
    low = w.state()["first_over_last"]
    before = w.png
    w.controls["forget_bias"].value = 3.0
    high = w.state()["first_over_last"]
    assert high > 1e6 * low                                   # 80 steps: 0.5^80 against 0.95^80, roughly
    assert_png_changed(before, w.png)
    assert w.state()["mean_keep_gate"][0] > 0.9
    w.controls["cell"].value = "GRU"
    s = w.state()
    assert s["bold"] == ["GRU"] and s["cell_plotted"] is None
    assert s["first_over_last"] == s["grad_norms"]["GRU"][0]
    w.controls["cell"].value = "RNN"
    assert w.state()["mean_keep_gate"] is None and w.last_error is None


def test_gate_explorer_truncation_cuts_the_curve_and_length_changes_the_axis():
    w = bw.GateExplorer(cell="GRU", length=60, forget_bias=2.0)
    w.controls["truncate"].value = 20
    s = w.state()
    assert s["truncate"] == 20 and s["window_line"] == 20.0
    for cell in ("RNN", "LSTM", "GRU"):                      # 20 steps back reached, further back nothing
        g = s["grad_norms"][cell]
        assert np.all(g[-20:] > 0) and np.all(g[:-20] == 0)
    w.controls["truncate"].value = 0                         # "off"
    assert w.state()["truncate"] is None and np.all(w.state()["grad_norms"]["GRU"] > 0)
    w.controls["length"].value = 150
    assert len(w.state()["plotted"]["RNN"]) == 151 and w.ax.get_xlim()[1] >= 150


def test_gate_explorer_arguments():
    w = bw.GateExplorer(cell="GRU", length=10, forget_bias=-1.5, truncate=5, n_hidden=8, seed=3)
    s = w.state()
    assert (s["cell"], s["length"], s["forget_bias"], s["truncate"]) == ("GRU", 10, -1.5, 5)
    assert w.model().W_hh.data.shape == (24, 8)
    with pytest.raises(ValueError, match="GateExplorer: unknown cell 'gru'; valid: RNN, LSTM, GRU"):
        bw.GateExplorer(cell="gru")
    with pytest.raises(ValueError, match="length must be an integer in \\[2, 150\\]"):
        bw.GateExplorer(length=1)
    with pytest.raises(ValueError, match=r"GateExplorer: forget_bias must be a finite number >= -2 and <= 5, got 9"):
        bw.GateExplorer(forget_bias=9)
    with pytest.raises(ValueError, match="truncate .*valid: 5, 10, 20, 40"):
        bw.GateExplorer(truncate=7)


def test_gate_explorer_blitted_frames_equal_a_full_draw():
    w, ref = bw.GateExplorer(), bw.GateExplorer()
    for name, value in [("length", 30), ("forget_bias", 3.0), ("cell", "GRU"), ("truncate", 10), ("length", 120),
                        ("forget_bias", 3.0), ("cell", "LSTM")]:
        w.controls[name].value = value
        ref.controls[name].value = value
        assert np.array_equal(png_pixels(w.png), png_pixels(ref.render(full=True))), f"after {name} = {value!r}"


def test_widgets_read_the_engine_lists():
    """One list per concept: widget menus are drawn from the engine's names, the palette is plotting's."""
    from bpcourse import activations, optim, plotting
    from bpcourse.widgets import _base, explorers, playground, recurrent
    assert set(playground.ACTIVATIONS) == set(activations.ACTIVATIONS) == set(bp.nn.ACTIVATION_LAYERS)
    assert list(bp.nn.ACTIVATION_LAYERS) == list(activations.ACTIVATIONS)
    assert set(recurrent.RNNExplorer.ACTIVATIONS) <= set(activations.ACTIVATIONS)
    assert set(playground.OPTIMIZERS) <= set(optim.OPTIMIZERS)
    assert set(explorers.OptimizerExplorer.NAMES) == set(optim.OPTIMIZERS)
    assert set(explorers.SoftmaxExplorer.LOSS_NAMES) <= set(bp.losses.LOSSES)
    assert {k: v for k, v in _base.OKABE_ITO.items() if k != "grey"} == dict(plotting.PALETTE)


# ConvExplorer (notebook 15)
# ----------------------------------------------------------------------------------------------

def test_conv_explorer_feature_map_pooling_and_gradient_reach():
    from bpcourse.conv import conv2d_naive
    w = bw.ConvExplorer(digit=0, preset="vertical edge", i=3, j=2)
    s = w.state()
    K = np.array(bw.conv.KERNEL_PRESETS["vertical edge"])
    np.testing.assert_array_equal(s["kernel"], K)
    X = s["image"][None, None]
    Z = conv2d_naive(X, K[None, None], np.zeros(1), padding=1)[0, 0]
    np.testing.assert_allclose(s["feature_map_plotted"], Z, atol=1e-12)
    np.testing.assert_allclose(s["pooled_plotted"], Z.reshape(4, 2, 4, 2).max(axis=(1, 3)))
    Xp = np.pad(s["image"], 1)
    np.testing.assert_allclose(s["dW_plotted"], Xp[3:6, 2:5])          # dZ_ij/dW = the window it saw
    assert s["field_plotted"] == (0.5, 1.5, 3, 3)                       # columns 1..3, rows 2..4
    # a corner output: part of its window is padding, and those weights get no gradient
    before = w.png
    with w.hold():
        w.controls["i"].value = 0
        w.controls["j"].value = 7
    s = w.state()
    assert not s["on_image"][0].any() and not s["on_image"][:, 2].any()
    assert not s["weights_reached"][0].any() and np.all(s["dW"][0] == 0)
    assert s["field_plotted"] == (5.5, -0.5, 2, 2)
    assert_png_changed(before, w.png)


def test_conv_explorer_presets_and_sliders():
    w = bw.ConvExplorer()
    w.controls["preset"].value = "blur"
    np.testing.assert_allclose(w.kernel(), np.full((3, 3), 0.11))          # sliders step 0.05, rounded to 2 places
    assert w.state()["feature_map"].min() >= 0                             # a blur of a non-negative image
    w.controls["w11"].value = 2.0
    assert w.controls["preset"].value == "custom" and w.kernel()[1, 1] == 2.0
    w.controls["preset"].value = "identity"
    np.testing.assert_allclose(w.state()["feature_map"], w.state()["image"])   # identity kernel: Z = X
    w.controls["digit"].value = 7
    assert w.state()["digit"] == 7 and w.last_error is None


def test_conv_explorer_bad_arguments():
    with pytest.raises(ValueError, match="ConvExplorer: unknown preset 'emboss'; valid: vertical edge"):
        bw.ConvExplorer(preset="emboss")
    with pytest.raises(ValueError, match=r"ConvExplorer: digit must be an integer in \[0, 9\], got 10"):
        bw.ConvExplorer(digit=10)
    with pytest.raises(ValueError, match=r"ConvExplorer: i must be an integer in \[0, 7\]"):
        bw.ConvExplorer(i=8)
