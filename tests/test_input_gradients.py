"""bp.input_gradients: ∂L/∂X against central differences, FGSM raises the loss, ε = 0 changes
nothing, nothing is modified in place, bad input gets one clear ValueError."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse.input_gradients import class_score_gradient, fgsm, loss_input_gradient, optimise_input, random_sign_noise, saliency


def _mlp(activation="tanh", seed=0, sizes=(6, 5, 4)):
    return bp.nn.MLP(list(sizes), activation=activation, seed=seed)


def _central(f, X):
    Xc = X.copy()
    return bp.numerical_gradient(lambda: f(Xc), Xc, h=1e-6)


def _score(model, X, t):
    Z = model.forward(X)
    return Z[np.arange(len(X)), t].sum()


MODELS = {
    "tanh MLP": lambda: _mlp("tanh"),
    "relu MLP": lambda: _mlp("relu", seed=1),
    "sigmoid MLP, 3 layers": lambda: _mlp("sigmoid", seed=2, sizes=(6, 7, 5, 4)),
    # eval mode: batch norm on its running statistics, dropout off (the function switches mode)
    "with BatchNorm and Dropout": lambda: bp.nn.Sequential(bp.nn.Linear(6, 5, seed=3), bp.nn.BatchNorm(5),
                                                           bp.nn.Tanh(), bp.nn.Dropout(0.5), bp.nn.Linear(5, 4, seed=4)),
}


def _eval_copy_score(model, t):
    def f(X):
        was = model.training
        model.eval()
        try:
            return _score(model, X, t)
        finally:
            model.train(was)
    return f


@pytest.mark.parametrize("name", MODELS)
def test_class_score_gradient_matches_central_differences(name, rng):
    model = MODELS[name]()
    X = rng.normal(size=(5, 6))
    t = rng.integers(0, 4, size=5)
    Z, dX = class_score_gradient(model, X, t)
    assert Z.shape == (5, 4) and dX.shape == X.shape
    num = _central(_eval_copy_score(model, t), X)
    assert bp.relative_error(dX, num) < 1e-7


@pytest.mark.parametrize("name", MODELS)
def test_loss_input_gradient_matches_central_differences(name, rng):
    model = MODELS[name]()
    ce = bp.losses.SoftmaxCrossEntropy()
    X, y = rng.normal(size=(7, 6)), rng.integers(0, 4, size=7)
    L, dX = loss_input_gradient(model, "cross_entropy", X, y)

    def f(Xc):
        model.eval()
        try:
            return ce(model.forward(Xc), y)
        finally:
            model.train()
    assert L == pytest.approx(f(X))
    assert bp.relative_error(dX, _central(f, X)) < 1e-7


@given(n=st.integers(1, 4), n_in=st.integers(1, 5), n_out=st.integers(2, 5), seed=st.integers(0, 10**6),
       activation=st.sampled_from(["tanh", "sigmoid", "leaky_relu"]))
def test_saliency_is_the_absolute_score_gradient_for_any_shape(n, n_in, n_out, seed, activation):
    r = np.random.default_rng(seed)
    model = bp.nn.MLP([n_in, 3, n_out], activation=activation, seed=seed)
    X = r.normal(size=(n, n_in))
    t = int(r.integers(n_out))
    S = saliency(model, X, t)
    num = _central(lambda Xc: _score(model, Xc, np.full(n, t)), X)
    assert S.shape == X.shape and np.all(S >= 0)
    assert np.allclose(S, np.abs(num), rtol=1e-5, atol=1e-8)


def test_saliency_of_a_linear_model_is_its_weight_row():
    lin = bp.nn.Linear(4, 3, seed=0)
    X = np.random.default_rng(0).normal(size=(2, 4))
    assert np.allclose(saliency(lin, X, 2), np.abs(lin.W.data[2]))
    assert np.allclose(saliency(lin, X, [0, 1]), np.abs(lin.W.data[[0, 1]]))


def _trained_digits_mlp():
    X_tr, X_te, y_tr, y_te = bp.data.load_digits_split(seed=0)
    net = bp.nn.MLP([64, 32, 10], activation="tanh", seed=0)
    bp.train.fit(net, "cross_entropy", bp.optim.Adam(net.parameters(), lr=0.01), X_tr, y_tr, epochs=8,
                 progress=False)
    return net, X_te[:60], y_te[:60]


@pytest.fixture(scope="module")
def digits_net():
    return _trained_digits_mlp()


def test_fgsm_raises_the_loss_and_beats_random_noise(digits_net):
    net, X, y = digits_net
    ce = bp.losses.SoftmaxCrossEntropy()
    L0 = ce(net.forward(X), y)
    previous = L0
    for eps in (0.01, 0.05, 0.1):
        X_adv = fgsm(net, ce, X, y, eps)
        assert np.all(np.abs(X_adv - X) <= eps + 1e-12) and X_adv.min() >= 0 and X_adv.max() <= 1
        L_adv = ce(net.forward(X_adv), y)
        L_rand = ce(net.forward(random_sign_noise(X, eps, seed=1)), y)
        assert L_adv > previous and L_adv > L_rand
        previous = L_adv
    # to first order the loss rises by eps·‖∂L/∂X‖₁ (no clipping: bounds=None)
    _, g = loss_input_gradient(net, ce, X, y)
    eps = 1e-4
    rise = ce(net.forward(fgsm(net, ce, X, y, eps, bounds=None)), y) - L0
    assert rise == pytest.approx(eps * np.abs(g).sum(), rel=1e-2)


def test_fgsm_step_is_the_sign_of_the_loss_gradient():
    lin = bp.nn.Linear(3, 2, seed=0)
    X = np.array([[0.5, 0.5, 0.5]])
    _, g = loss_input_gradient(lin, "cross_entropy", X, [1])
    X_adv = fgsm(lin, "cross_entropy", X, [1], 0.2)
    assert np.allclose(X_adv, X + 0.2 * np.sign(g))
    # for a linear model the gradient's direction is w_other − w_true: sign known in advance
    assert np.allclose(np.sign(g[0]), np.sign(lin.W.data[0] - lin.W.data[1]))


def test_eps_zero_changes_nothing(digits_net):
    net, X, y = digits_net
    for out in (fgsm(net, "cross_entropy", X, y, 0.0), fgsm(net, "cross_entropy", X, y, 0),
                random_sign_noise(X, 0.0)):
        assert np.array_equal(out, X) and out is not X and not np.shares_memory(out, X)


def test_clipping_keeps_the_data_range_and_accepts_per_feature_bounds(digits_net):
    net, X, y = digits_net
    out = fgsm(net, "cross_entropy", X, y, 0.5)
    assert out.min() >= 0.0 and out.max() <= 1.0 and (out == 0).any() and (out == 1).any()
    unclipped = fgsm(net, "cross_entropy", X, y, 0.5, bounds=None)
    assert unclipped.min() < 0 and unclipped.max() > 1
    low, high = np.full(64, -1.0), np.full(64, 2.0)
    wide = fgsm(net, "cross_entropy", X, y, 0.5, bounds=(low, high))
    assert np.array_equal(wide, unclipped)          # nothing leaves [-1, 2] at eps = 0.5
    Xs, mean, std = bp.data.standardize(X)
    std_bounds = ((0 - mean) / std, (1 - mean) / std)
    adv = fgsm(net, "cross_entropy", Xs, y, 0.3, bounds=std_bounds)
    assert np.all(adv * std + mean >= -1e-12) and np.all(adv * std + mean <= 1 + 1e-12)


def _snapshot(model):
    return [(p.data.copy(), p.grad.copy()) for p in model.parameters()]


def test_inputs_parameters_gradients_and_mode_are_left_alone(rng):
    model = bp.nn.Sequential(bp.nn.Linear(6, 5, seed=0), bp.nn.BatchNorm(5), bp.nn.ReLU(), bp.nn.Dropout(0.3),
                             bp.nn.Linear(5, 4, seed=1))
    Xtr = rng.normal(size=(8, 6))
    ce = bp.losses.SoftmaxCrossEntropy()
    ce(model.forward(Xtr), rng.integers(0, 4, 8))
    model.backward(ce.backward())              # gradients in the middle of a training step
    before = _snapshot(model)
    X = rng.uniform(0, 1, size=(5, 6))
    y = np.array([0, 1, 2, 3, 0])
    X0, y0 = X.copy(), y.copy()
    x0 = rng.normal(size=(2, 6))
    x0_copy = x0.copy()
    results = [saliency(model, X, y), class_score_gradient(model, X, 3)[1], loss_input_gradient(model, ce, X, y)[1],
               fgsm(model, ce, X, y, 0.1), random_sign_noise(X, 0.1), optimise_input(model, [1, 2], steps=3, x0=x0),
               optimise_input(model, 1, steps=3)]
    assert np.array_equal(X, X0) and np.array_equal(y, y0) and np.array_equal(x0, x0_copy)
    assert all(not np.shares_memory(r, X) and not np.shares_memory(r, x0) for r in results)
    after = _snapshot(model)
    assert all(np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(before, after))
    assert model.training and all(layer.training for layer in model.layers)
    model.eval()
    saliency(model, X, 0)
    assert not model.training                    # eval mode is kept too


def test_the_model_runs_in_eval_mode():
    drop = bp.nn.Sequential(bp.nn.Linear(4, 4, seed=0), bp.nn.Dropout(0.9, seed=0), bp.nn.Linear(4, 2, seed=1))
    X = np.ones((3, 4))
    first = saliency(drop, X, 0)
    assert np.array_equal(first, saliency(drop, X, 0))      # no random mask: the same answer every time
    drop.eval()
    assert np.array_equal(first, saliency(drop, X, 0))


def test_optimise_input_draws_each_class(digits_net):
    net, _, _ = digits_net
    X = optimise_input(net, list(range(10)), steps=100, lr=0.1, l2=0.01, seed=0)
    assert X.shape == (10, 64)
    Z = net.forward(X)
    assert np.array_equal(Z.argmax(1), np.arange(10))
    start = 0.01 * np.random.default_rng(0).standard_normal((10, 64))
    Z0 = net.forward(start)
    assert np.all(Z[np.arange(10), np.arange(10)] > Z0[np.arange(10), np.arange(10)])
    # the same seed gives the same inputs; the L2 penalty keeps them small
    assert np.array_equal(X, optimise_input(net, list(range(10)), steps=100, lr=0.1, l2=0.01, seed=0))
    strong = optimise_input(net, list(range(10)), steps=100, lr=0.1, l2=1.0, seed=0)
    assert np.linalg.norm(strong) < 0.5 * np.linalg.norm(X)
    boxed = optimise_input(net, 3, steps=50, bounds=(0, 1), x0=np.full((1, 64), 0.5))
    assert boxed.min() >= 0 and boxed.max() <= 1 and net.forward(boxed).argmax() == 3


def test_optimise_input_maximises_the_penalised_score_of_a_linear_model():
    # S(x) − λ‖x‖² with S = w·x + b has its maximum at x* = w / (2λ); gradient ascent converges to it
    lin = bp.nn.Linear(3, 2, seed=0)
    lam = 0.5
    X = optimise_input(lin, 1, steps=300, lr=0.2, l2=lam)
    assert np.allclose(X[0], lin.W.data[1] / (2 * lam), atol=1e-8)


def test_optimise_input_needs_a_shape_it_cannot_infer():
    class Scale(bp.nn.Module):
        def forward(self, X):
            self._cache = X.shape
            return X.reshape(len(X), -1) * 2.0

        def backward(self, dY):
            return 2.0 * dY.reshape(self._cache)

    model = bp.nn.Sequential(Scale(), bp.nn.Linear(4, 3, seed=0))
    with pytest.raises(ValueError, match="optimise_input: cannot tell the input shape.*shape="):
        optimise_input(model, 0, steps=2)
    X = optimise_input(model, 2, steps=2, shape=(1, 2, 2))
    assert X.shape == (1, 1, 2, 2)


BAD = [
    (lambda m, X, y: saliency(m, X, 4), "saliency: target must lie in \\[0, 4\\)"),
    (lambda m, X, y: saliency(m, X, -1), "saliency: target must lie in"),
    (lambda m, X, y: saliency(m, X, 1.5), "saliency: target must be a class index"),
    (lambda m, X, y: saliency(m, X, [0, 1]), "saliency: target must be one class index or 3"),
    (lambda m, X, y: class_score_gradient(m, X, 9), "class_score_gradient: target must lie in"),
    (lambda m, X, y: fgsm(m, "cross_entropy", X, y, -0.1), "fgsm: eps must be a finite number >= 0, got -0.1"),
    (lambda m, X, y: fgsm(m, "cross_entropy", X, y, float("nan")), "fgsm: eps must be a finite number"),
    (lambda m, X, y: fgsm(m, "cross_entropy", X, y, float("inf")), "fgsm: eps must be a finite number"),
    (lambda m, X, y: fgsm(m, "cross_entropy", X, y, True), "fgsm: eps must be a finite number"),
    (lambda m, X, y: fgsm(m, "cross_entropy", X, y, "0.1"), "fgsm: eps must be a finite number"),
    (lambda m, X, y: fgsm(m, "cross_entropy", X, np.array([0, 1, 7]), 0.1), "fgsm: SoftmaxCrossEntropy: labels"),
    (lambda m, X, y: fgsm(m, "cross_entropy", X + 2, y, 0.1), "fgsm: X lies outside bounds"),
    (lambda m, X, y: fgsm(m, "cross_entropy", X, y, 0.1, bounds=(1, 0)), "fgsm: bounds"),
    (lambda m, X, y: fgsm(m, "cross_entropy", X, y, 0.1, bounds=3), "fgsm: bounds must be None or a pair"),
    (lambda m, X, y: fgsm(m, "hinge", X, y, 0.1), "unknown loss 'hinge'"),
    (lambda m, X, y: random_sign_noise(X, -1), "random_sign_noise: eps must be"),
    (lambda m, X, y: saliency(m, X[0], 0), "saliency: X must be a batch of shape \\(N, ...\\).*X\\[None\\]"),
    (lambda m, X, y: saliency(m, X[:, :5], 0), "saliency: the model cannot take X of shape \\(3, 5\\).*\\(N, 6\\)"),
    (lambda m, X, y: saliency(m, X[:0], 0), "saliency: X must be a batch"),
    (lambda m, X, y: saliency(m, np.full((3, 6), np.nan), 0), "saliency \\(X\\): input contains 18 non-finite"),
    (lambda m, X, y: saliency(m, np.array([["a"] * 6] * 3), 0), "saliency: X must be an array of numbers"),
    (lambda m, X, y: saliency("net", X, 0), "saliency: model must be a bpcourse Module"),
    (lambda m, X, y: fgsm(m, "cross_entropy", X.reshape(3, 2, 3), y, 0.1), "fgsm: the model cannot take X of shape"),
    (lambda m, X, y: optimise_input(m, 4, steps=3), "optimise_input: target must lie in \\[0, 4\\)"),
    (lambda m, X, y: optimise_input(m, 1, steps=0), "optimise_input: steps must be a positive integer"),
    (lambda m, X, y: optimise_input(m, 1, lr=0), "optimise_input: lr must be a finite number > 0"),
    (lambda m, X, y: optimise_input(m, 1, l2=-1), "optimise_input: l2 must be a finite number >= 0"),
    (lambda m, X, y: optimise_input(m, 1, lr=1e300, steps=5), "optimise_input \\(the input diverged: lower lr\\)"),
    (lambda m, X, y: optimise_input(m, 1, shape=(0, 6)), "optimise_input: shape must be a positive integer"),
]


@pytest.mark.parametrize("call, words", BAD, ids=[w[:40] for _, w in BAD])
def test_bad_input_gets_one_clear_value_error(call, words):
    model = _mlp()
    X = np.random.default_rng(0).uniform(0, 1, size=(3, 6))
    y = np.array([0, 1, 3])
    before = X.copy()
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(ValueError, match=words):
        call(model, X, y)
    assert np.array_equal(X, before)


def test_exported_through_the_package():
    assert bp.input_gradients.fgsm is fgsm and bp.input_gradients.saliency is saliency


def _small_cnn(seed=0):
    nn = bp.nn
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, seed=seed), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3 * 3 * 3, 4, seed=seed + 1))


def test_the_same_functions_work_for_a_cnn(rng):
    cnn = _small_cnn()
    X = rng.uniform(0, 1, size=(2, 1, 6, 6))           # random pixels: no ties in a max-pooling window
    t = np.array([1, 3])
    Z, dX = class_score_gradient(cnn, X, t)
    assert Z.shape == (2, 4) and dX.shape == X.shape
    assert bp.relative_error(dX, _central(lambda Xc: _score(cnn, Xc, t), X)) < 1e-7
    assert np.array_equal(saliency(cnn, X, t), np.abs(dX))
    X_adv = fgsm(cnn, "cross_entropy", X, t, 0.1)
    assert X_adv.shape == X.shape and 0 <= X_adv.min() and X_adv.max() <= 1
    ce = bp.losses.SoftmaxCrossEntropy()
    assert ce(cnn.forward(X_adv), t) > ce(cnn.forward(X), t)
    with pytest.raises(ValueError, match="optimise_input: cannot tell the input shape.*shape=\\(1, 8, 8\\)"):
        optimise_input(cnn, 0, steps=2)
    V = optimise_input(cnn, [0, 2], steps=30, lr=0.5, l2=0.01, shape=(1, 6, 6))
    assert V.shape == (2, 1, 6, 6) and np.array_equal(cnn.forward(V).argmax(1), [0, 2])
    with pytest.raises(ValueError, match="saliency: the model cannot take X of shape \\(2, 36\\).*\\(N, 1, H, W\\)"):
        saliency(cnn, X.reshape(2, 36), 0)
