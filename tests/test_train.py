"""Tests for bpcourse.train: fit, History, evaluate, predict, divergence, early stopping."""

import math
import time

import numpy as np
import pytest

import bpcourse as bp
from bpcourse.diagnostics import Recorder, layer_gradients
from bpcourse.train import History, Regularization, TrainingDiverged, evaluate, fit, predict


def _moons_net(seed=0):
    return bp.nn.MLP([2, 16, 16, 1], activation="tanh", seed=seed)


# --------------------------------------------------------------------------------------------
# it learns
# --------------------------------------------------------------------------------------------

def test_xor_solved_by_2_2_1_sigmoid_net():
    X, y = bp.data.xor(n=4, noise=0.0)          # the four corners
    net = bp.nn.MLP([2, 2, 1], activation="sigmoid", seed=1)
    h = fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=2.0), X, y,
            epochs=1500, batch_size=4, progress=False)
    loss, acc = evaluate(net, "bce_logits", X, y)
    assert acc == 1.0
    assert h.acc[-1] == 1.0
    assert loss < 0.01 and h.loss[-1] < h.loss[0]


def test_moons_reaches_97_percent_train_accuracy():
    X, y = bp.data.moons(n=300, noise=0.1, seed=0)
    net = _moons_net()
    fit(net, "bce_logits", bp.optim.Adam(net.parameters(), lr=1e-2), X, y, epochs=100, progress=False)
    _, acc = evaluate(net, "bce_logits", X, y)
    assert acc >= 0.97


def test_digits_97_percent_test_accuracy():
    X_train, X_test, y_train, y_test = bp.data.load_digits_split()
    net = bp.nn.MLP([64, 128, 10], activation="relu", seed=0)
    opt = bp.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    t0 = time.perf_counter()
    h = fit(net, "cross_entropy", opt, X_train, y_train, epochs=30, batch_size=32, progress=False)
    seconds = time.perf_counter() - t0
    _, acc = evaluate(net, "cross_entropy", X_test, y_test)
    print(f"digits MLP 64-128-10: {seconds:.2f} s for 30 epochs, test accuracy {acc:.4f}")
    assert acc >= 0.97
    assert seconds < 30               # the foundation issue's bound; it takes ~0.3 s, so noise cannot trip it
    assert h.acc[-1] > 0.99           # it fits the training set


# --------------------------------------------------------------------------------------------
# divergence
# --------------------------------------------------------------------------------------------

def test_huge_learning_rate_raises_training_diverged():
    X, y = bp.data.moons(n=200, seed=0)
    net = bp.nn.MLP([2, 16, 1], activation="relu", seed=0)
    opt = bp.optim.SGD(net.parameters(), lr=100)
    with pytest.raises(TrainingDiverged) as info:
        fit(net, "mse", opt, X, y, epochs=20, progress=False)
    err = info.value
    assert isinstance(err, FloatingPointError)
    msg = str(err)
    assert "learning rate" in msg and "lr=100" in msg
    assert f"epoch {err.epoch}" in msg and f"step {err.step}" in msg
    assert err.epoch == 1 and err.step >= 1
    assert not math.isfinite(err.loss)


def test_nonfinite_weights_found_in_forward_raise_training_diverged():
    class Poison(bp.optim.SGD):          # an optimizer step that leaves NaN in the first layer
        def step(self):
            super().step()
            self.params[0].data[0, 0] = np.nan

    X, y = bp.data.load_digits_split()[0::2]
    net = bp.nn.MLP([64, 16, 10], activation="tanh", seed=0)
    with pytest.raises(TrainingDiverged, match="learning rate") as info:
        fit(net, "cross_entropy", Poison(net.parameters(), lr=0.1), X, y, epochs=1, progress=False)
    assert info.value.epoch == 1 and info.value.step == 2      # the NaN is met by the 2nd forward
    assert "non-finite" in str(info.value)
    assert isinstance(info.value.__cause__, bp.validate.NonFiniteError)


def test_only_a_nonfinite_error_counts_as_divergence():
    """fit recognises divergence by the exception's type, never by words in its message."""
    class Picky(bp.nn.Module):           # a layer whose own ValueError happens to mention NaN
        def forward(self, X):
            raise ValueError("Picky: NaN or inf are not the problem here, the shape is")

    X, y = bp.data.moons(n=40, seed=0)
    net = bp.nn.Sequential(bp.nn.Linear(2, 2, seed=0), Picky())
    with pytest.raises(ValueError, match="Picky") as info:
        fit(net, "cross_entropy", bp.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=1, progress=False)
    assert not isinstance(info.value, TrainingDiverged)


@pytest.mark.parametrize("make", [
    lambda: bp.losses.MSE()(np.array([[np.nan]]), np.array([[1.0]])),
    lambda: bp.Value(float("inf")),
    lambda: bp.nn.Linear(2, 1)(np.array([[np.inf, 0.0]])),
    lambda: fit(bp.nn.MLP([2, 1]), "mse", bp.optim.SGD(bp.nn.MLP([2, 1]).parameters()),
                np.array([[np.nan, 0.0]]), np.array([0.0]), progress=False),
])
def test_every_nonfinite_check_raises_nonfinite_error(make):
    with pytest.raises(bp.validate.NonFiniteError):
        make()


# --------------------------------------------------------------------------------------------
# early stopping, callbacks, reproducibility
# --------------------------------------------------------------------------------------------

def _overfit_setup():
    X, y = bp.data.moons(n=400, noise=0.35, seed=3)
    X_tr, X_va, y_tr, y_va = bp.data.train_test_split(X, y, test_fraction=0.5, seed=0)
    X_tr, y_tr = X_tr[:30], y_tr[:30]          # tiny training set: the val loss turns up
    net = bp.nn.MLP([2, 64, 64, 1], activation="relu", seed=0)
    return net, X_tr, y_tr, X_va, y_va


def test_early_stopping_stops_and_restores_best_weights():
    net, X_tr, y_tr, X_va, y_va = _overfit_setup()
    h = fit(net, "bce_logits", bp.optim.Adam(net.parameters(), lr=1e-2), X_tr, y_tr, epochs=300,
            batch_size=10, X_val=X_va, y_val=y_va, early_stopping=10, progress=False)
    assert h.stopped_early and h.stop_reason == "early_stopping"
    assert len(h) < 300
    best = int(np.argmin(h.val_loss)) + 1
    assert h.best_epoch == best
    assert len(h) == best + 10                  # exactly k epochs without improvement
    val_loss, _ = evaluate(net, "bce_logits", X_va, y_va)
    assert val_loss == pytest.approx(h.val_loss[best - 1], rel=1e-12)   # best weights are back
    assert val_loss < h.val_loss[-1]


def test_without_early_stopping_runs_all_epochs():
    net, X_tr, y_tr, X_va, y_va = _overfit_setup()
    h = fit(net, "bce_logits", bp.optim.Adam(net.parameters(), lr=1e-2), X_tr, y_tr, epochs=40,
            batch_size=10, X_val=X_va, y_val=y_va, progress=False)
    assert len(h) == 40 and not h.stopped_early and h.epoch == list(range(1, 41))
    assert len(h.val_loss) == len(h.val_acc) == 40
    assert h.best_epoch == int(np.argmin(h.val_loss)) + 1


def test_callback_can_stop_and_on_step_is_called():
    X, y = bp.data.moons(n=100, seed=0)
    seen, steps = [], []

    class CB:
        def __call__(self, epoch, history, model):
            seen.append((epoch, len(history.loss), model is net))
            return epoch == 3

        def on_step(self, model):
            steps.append(1)

    net = _moons_net()
    h = fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=10,
            batch_size=32, callbacks=[CB()], progress=False)
    assert seen == [(1, 1, True), (2, 2, True), (3, 3, True)]
    assert len(steps) == 3 * 4                       # ceil(100 / 32) = 4 steps per epoch
    assert h.stopped_early and h.stop_reason == "callback" and len(h) == 3


def test_same_seed_same_history_other_seed_differs():
    X, y = bp.data.moons(n=200, seed=0)
    Xv, yv = bp.data.moons(n=100, seed=1)

    def run(seed):
        net = _moons_net(seed=0)
        return fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), X, y,
                   epochs=5, X_val=Xv, y_val=yv, seed=seed, record_grad_norms=True, progress=False)

    a, b, c = run(0), run(0), run(1)
    assert a.as_dict() == b.as_dict()
    assert a.as_dict()["loss"] != c.as_dict()["loss"]


def test_shuffle_false_is_independent_of_seed():
    X, y = bp.data.moons(n=100, seed=0)
    losses = []
    for seed in (0, 1):
        net = _moons_net()
        h = fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=3,
                seed=seed, shuffle=False, progress=False)
        losses.append(h.loss)
    assert losses[0] == losses[1]


# --------------------------------------------------------------------------------------------
# the step itself: regularisation, clipping, grad norms
# --------------------------------------------------------------------------------------------

def _one_full_batch_step(**kw):
    X, y = bp.data.moons(n=50, seed=0)
    net = _moons_net()
    before = [p.data.copy() for p in net.parameters()]
    h = fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.5), X, y, epochs=1, batch_size=50,
            shuffle=False, progress=False, **kw)
    ref = _moons_net()                      # same initial weights: compute the step by hand
    loss = bp.losses.BCE(from_logits=True)
    L = loss(ref(X), y)
    ref.backward(loss.backward())
    grads = [p.grad.copy() for p in ref.parameters()]
    return net, h, before, grads, L


@pytest.mark.parametrize("kind", ["l2", "l1"])
def test_regularization_gradient_and_penalty(kind):
    lam = 0.01
    net, h, before, grads, L = _one_full_batch_step(regularization=(kind, lam))
    penalty = 0.0
    for p, W0, g in zip(net.parameters(), before, grads):
        if W0.ndim == 2:
            extra = lam * W0 if kind == "l2" else lam * np.sign(W0)
            penalty += 0.5 * lam * np.sum(W0 ** 2) if kind == "l2" else lam * np.abs(W0).sum()
        else:
            extra = 0.0                       # biases are not regularised
        np.testing.assert_allclose(p.data, W0 - 0.5 * (g + extra), rtol=1e-12, atol=1e-14)
    assert h.loss[0] == pytest.approx(L + penalty, rel=1e-12)
    assert penalty > 0


def test_regularization_object_and_bad_values():
    net, h, before, grads, L = _one_full_batch_step(regularization=Regularization("l2", 0.0))
    for p, W0, g in zip(net.parameters(), before, grads):
        np.testing.assert_allclose(p.data, W0 - 0.5 * g, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="l1, l2"):
        Regularization("l3", 0.1)
    with pytest.raises(ValueError, match=">= 0"):
        Regularization("l2", -1)


def test_clip_norm_rescales_the_step():
    net, h, before, grads, L = _one_full_batch_step(clip_norm=0.01)
    total = math.sqrt(sum(np.sum(g ** 2) for g in grads))
    assert total > 0.01
    scale = 0.01 / (total + 1e-6)
    for p, W0, g in zip(net.parameters(), before, grads):
        np.testing.assert_allclose(p.data, W0 - 0.5 * scale * g, rtol=1e-10, atol=1e-14)


def test_record_grad_norms_matches_a_hand_computed_backward():
    X, y = bp.data.moons(n=64, seed=0)
    net = _moons_net()
    expected = layer_gradients(_moons_net(), X, y, bp.losses.BCE(from_logits=True))["dW"]
    h = fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=2, batch_size=64,
            record_grad_norms=True, progress=False)
    assert list(h.grad_norms) == ["Linear1(2->16)", "Linear2(16->16)", "Linear3(16->1)"]
    for name, value in expected.items():
        assert h.grad_norms[name][0] == pytest.approx(value, rel=1e-12)
        assert len(h.grad_norms[name]) == 2
    assert h.as_dict()["grad_norms"] == {k: list(v) for k, v in h.grad_norms.items()}


def test_recorder_as_callback_averages_over_steps():
    X, y = bp.data.moons(n=64, seed=0)
    net = _moons_net()
    rec = Recorder(grad_norms=True, delta_norms=True, update_ratios=True, X_probe=X[:20])
    fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=3, batch_size=32,
        shuffle=False, callbacks=[rec], progress=False)
    assert rec.epochs == [1, 2, 3]
    assert all(len(v) == 3 for v in rec.grad_norms.values())
    assert all(len(v) == 3 for v in rec.delta_norms.values())
    # epoch-3 average of ||dW1|| over its two steps, recomputed by replaying training
    ref = _moons_net()
    opt = bp.optim.SGD(ref.parameters(), lr=0.1)
    loss = bp.losses.BCE(from_logits=True)
    norms = []
    for epoch in range(3):
        for s in (0, 32):
            ref.zero_grad()
            loss(ref(X[s:s + 32]), y[s:s + 32])
            ref.backward(loss.backward())
            norms.append(np.linalg.norm(ref.layers[0].W.grad))
            opt.step()
    assert rec.grad_norms["Linear1(2->16)"][2] == pytest.approx((norms[4] + norms[5]) / 2, rel=1e-12)
    ratios = rec.update_ratios["0.Linear1(2->16).W"]
    assert len(ratios) == 3 and all(0 < r < 1 for r in ratios)
    assert rec.activations["Tanh1"]["mean"] and len(rec.activations["Tanh2"]["saturation"]) == 3


# --------------------------------------------------------------------------------------------
# modes, metrics, evaluate, predict, progress
# --------------------------------------------------------------------------------------------

class ModeSpy(bp.nn.Module):
    """Identity layer that records the mode of every forward pass."""

    def __init__(self):
        super().__init__("ModeSpy")
        self.modes = []

    def forward(self, X):
        self.modes.append(self.training)
        return X

    def backward(self, dY):
        return dY


def test_validation_runs_in_eval_mode_and_training_mode_is_restored():
    X, y = bp.data.moons(n=64, seed=0)
    spy = ModeSpy()
    net = bp.nn.Sequential(bp.nn.Linear(2, 8, seed=0), bp.nn.Tanh(), spy, bp.nn.Linear(8, 1, seed=1))
    fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=2, batch_size=32,
        X_val=X[:10], y_val=y[:10], progress=False)
    # per epoch: 2 training steps, then 1 validation pass
    assert spy.modes == [True, True, False, True, True, False]
    assert net.training and spy.training
    net.eval()
    predict(net, X)
    assert not net.training                    # predict restores the mode it found


def test_metric_auto_per_loss():
    X, y = bp.data.moons(n=64, seed=0)
    net = _moons_net()
    h = fit(net, "mse", bp.optim.SGD(net.parameters(), lr=0.01), X, y, epochs=2, progress=False)
    assert h.acc == [] and h.metric is None and len(h.loss) == 2
    net = _moons_net()
    h = fit(net, "mse", bp.optim.SGD(net.parameters(), lr=0.01), X, y, epochs=2, progress=False,
            metric="accuracy")
    assert len(h.acc) == 2 and 0 <= h.acc[0] <= 1


def test_evaluate_and_predict_match_direct_computation():
    X_train, X_test, y_train, y_test = bp.data.load_digits_split()
    net = bp.nn.MLP([64, 16, 10], activation="tanh", seed=0)
    logits = net(X_test)
    loss = bp.losses.SoftmaxCrossEntropy()
    expected_loss = loss(logits, y_test)
    expected_acc = np.mean(logits.argmax(1) == y_test)
    np.testing.assert_allclose(predict(net, X_test), logits)
    np.testing.assert_allclose(predict(net, X_test, batch_size=50), logits)
    L, acc = evaluate(net, loss, X_test, y_test)
    assert L == pytest.approx(expected_loss, rel=1e-12) and acc == expected_acc
    L2, acc2 = evaluate(net, "cross_entropy", X_test, y_test, batch_size=100)   # in chunks
    assert L2 == pytest.approx(expected_loss, rel=1e-12) and acc2 == expected_acc


def test_bce_accuracy_thresholds_logits_and_probabilities():
    X = np.zeros((4, 1))
    y = np.array([1, 0, 1, 0])
    net = bp.nn.Sequential(bp.nn.Linear(1, 1, seed=0))
    net.layers[0].W.data[...] = 0.0
    net.layers[0].b.data[...] = 0.3              # logit 0.3 > 0 -> class 1 everywhere
    assert evaluate(net, "bce_logits", X, y)[1] == 0.5
    sig = bp.nn.Sequential(net.layers[0], bp.nn.Sigmoid())
    sig.layers[0].b.data[...] = -0.3            # p = 0.43 < 0.5 -> class 0 everywhere
    assert evaluate(sig, "bce", X, y)[1] == 0.5
    y2 = np.array([0, 0, 0, 1])
    assert evaluate(sig, "bce", X, y2)[1] == 0.75


def test_progress_bar_writes_to_stderr_and_false_is_silent(capsys):
    X, y = bp.data.moons(n=64, seed=0)
    net = _moons_net()
    fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=2, progress="auto")
    err = capsys.readouterr().err
    assert "fit" in err and "loss=" in err and "acc=" in err
    fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=2, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_zero_epochs_and_history_repr():
    X, y = bp.data.moons(n=20, seed=0)
    net = _moons_net()
    before = [p.data.copy() for p in net.parameters()]
    h = fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=0, progress=False)
    assert isinstance(h, History) and len(h) == 0 and repr(h) == "History(no epochs)"
    assert all(np.array_equal(p.data, W) for p, W in zip(net.parameters(), before))
    h = fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=1, progress=False)
    assert "epochs=1" in repr(h) and "acc=" in repr(h)


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0), "batch_size must be a positive integer"),
    (dict(batch_size=2.5), "batch_size must be a positive integer"),
    (dict(batch_size=True), "batch_size must be a positive integer"),
    (dict(epochs=-1), "epochs must be an integer >= 0"),
    (dict(epochs=1.5), "epochs must be an integer >= 0"),
    (dict(X_val=np.zeros((3, 2))), "X_val and y_val must be given together"),
    (dict(X_val=np.zeros((3, 2)), y_val=np.zeros(4)), "X_val has 3 rows but y_val has 4"),
    (dict(early_stopping=3), "early_stopping needs validation data"),
    (dict(clip_norm=-1.0), "clip_norm must be None or a positive number"),
    (dict(progress="yes"), "progress must be 'auto', True or False"),
    (dict(regularization=("l3", 0.1)), "unknown kind 'l3'"),
    (dict(regularization=0.1), "expected None, \\('l2', lam\\)"),
    (dict(metric="f1"), "metric must be"),
])
def test_bad_arguments_give_clear_errors(kwargs, message):
    X, y = bp.data.moons(n=20, seed=0)
    net = _moons_net()
    with pytest.raises(ValueError, match=message):
        fit(net, "bce_logits", bp.optim.SGD(net.parameters(), lr=0.1), X, y, **{"progress": False, **kwargs})


def test_bad_data_and_objects():
    X, y = bp.data.moons(n=20, seed=0)
    net = _moons_net()
    opt = bp.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="X has 20 rows but y has 19"):
        fit(net, "bce_logits", opt, X, y[:19], progress=False)
    X_bad = X.copy()
    X_bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="X contains 1 NaN or inf"):
        fit(net, "bce_logits", opt, X_bad, y, progress=False)
    with pytest.raises(ValueError, match="X is empty"):
        fit(net, "bce_logits", opt, X[:0], y[:0], progress=False)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        fit(net, "hinge", opt, X, y, progress=False)
    with pytest.raises(TypeError, match="optimizer must have a step"):
        fit(net, "bce_logits", "sgd", X, y, progress=False)
    with pytest.raises(TypeError, match="callbacks\\[0\\]"):
        fit(net, "bce_logits", opt, X, y, callbacks=[42], progress=False)
    with pytest.raises(ValueError, match="Linear1\\(2->16\\): expected input of shape \\(N, 2\\)"):
        fit(net, "bce_logits", opt, np.zeros((20, 3)), y, progress=False)
