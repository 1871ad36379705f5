"""Optimisers (``bp.optim``): single steps against hand-computed updates, state kept across
learning-rate changes, weight decay, ``clip_grad_norm``, bad hyper-parameters."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse.nn import Parameter
from bpcourse.optim import SGD, Adam, RMSProp, clip_grad_norm, make_optimizer

OPTIMIZERS = {"SGD": SGD, "Adam": Adam, "RMSProp": RMSProp,
              "momentum": lambda params, lr: make_optimizer("momentum", params, lr)}


def param(values, grad=None):
    p = Parameter(np.array(values, dtype=float))
    if grad is not None:
        p.grad[...] = grad
    return p


# ---- single steps by hand ---------------------------------------------------------------------

def test_sgd_step():
    p = param([1.0, -2.0], grad=[0.5, -1.0])
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, -1.9], rtol=1e-15)


def test_sgd_momentum_two_steps():
    # v1 = g1 = [1, -2]               w1 = [1, -2] − 0.1 v1 = [0.9, −1.8]
    # v2 = 0.9 v1 + g2 = [1.4, −1.3]  w2 = w1 − 0.1 v2 = [0.76, −1.67]
    p = param([1.0, -2.0], grad=[1.0, -2.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    np.testing.assert_allclose(p.data, [0.9, -1.8], rtol=1e-15)
    p.grad[...] = [0.5, 0.5]
    opt.step()
    np.testing.assert_allclose(p.data, [0.76, -1.67], rtol=1e-14)


def test_sgd_momentum_keeps_velocity_when_lr_changes():
    p = param([1.0, -2.0], grad=[1.0, -2.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    opt.lr = 0.01                                       # v2 = [1.4, −1.3] as before, smaller step
    p.grad[...] = [0.5, 0.5]
    opt.step()
    np.testing.assert_allclose(p.data, [0.886, -1.787], rtol=1e-14)


def test_adam_first_step_is_lr_times_sign():
    # m̂1 = g, v̂1 = g², so the first step is lr · g / (|g| + eps)
    p = param([1.0, 1.0, 1.0], grad=[0.5, -2.0, 1e-3])
    Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [1 - 0.1 * 0.5 / (0.5 + 1e-8), 1 + 0.1 * 2 / (2 + 1e-8),
                                        1 - 0.1 * 1e-3 / (1e-3 + 1e-8)], rtol=1e-14)


def test_adam_second_step_with_new_lr_uses_bias_correction_for_t_2():
    p = param([1.0, 1.0], grad=[0.5, -2.0])
    opt = Adam([p], lr=0.1)
    opt.step()
    w1 = p.data.copy()
    opt.lr = 0.05
    p.grad[...] = [1.0, 1.0]
    opt.step()
    assert opt.t == 2
    # m2 = 0.9·0.1·g1 + 0.1·g2;  v2 = 0.999·0.001·g1² + 0.001·g2²;  bias corrections 1 − 0.9², 1 − 0.999²
    m2 = [0.9 * 0.05 + 0.1, 0.9 * -0.2 + 0.1]
    v2 = [0.999 * 0.00025 + 0.001, 0.999 * 0.004 + 0.001]
    step = [0.05 * (m / 0.19) / (math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8) for m, v in zip(m2, v2)]
    np.testing.assert_allclose(p.data, w1 - step, rtol=1e-13)


def test_rmsprop_first_step_and_state():
    # s1 = (1 − ρ) g², so the step is lr · g / (|g| √(1 − ρ) + eps)
    p = param([0.0, 0.0], grad=[2.0, -0.5])
    opt = RMSProp([p], lr=0.01, rho=0.9)
    opt.step()
    np.testing.assert_allclose(p.data, [-0.01 * 2 / (2 * math.sqrt(0.1) + 1e-8),
                                        0.01 * 0.5 / (0.5 * math.sqrt(0.1) + 1e-8)], rtol=1e-14)
    opt.lr = 0.02                                      # s2 = 0.9 s1 + 0.1 g² with the old s1
    p.grad[...] = [1.0, 1.0]
    before = p.data.copy()
    opt.step()
    s2 = [0.9 * 0.4 + 0.1, 0.9 * 0.025 + 0.1]
    np.testing.assert_allclose(p.data, before - [0.02 / (math.sqrt(s) + 1e-8) for s in s2], rtol=1e-14)


@pytest.mark.parametrize("make,expected", [
    # g_eff = g + wd·w = [0, 0] + 0.1·[1, −2]
    (lambda p: SGD([p], lr=0.5, weight_decay=0.1), [0.95, -1.9]),
    (lambda p: SGD([p], lr=0.5, momentum=0.9, weight_decay=0.1), [0.95, -1.9]),
    (lambda p: Adam([p], lr=0.5, weight_decay=0.1), [1 - 0.5 * 0.1 / (0.1 + 1e-8), -2 + 0.5 * 0.2 / (0.2 + 1e-8)]),
    (lambda p: RMSProp([p], lr=0.5, rho=0.75, weight_decay=0.1),
     [1 - 0.5 * 0.1 / (0.1 * 0.5 + 1e-8), -2 + 0.5 * 0.2 / (0.2 * 0.5 + 1e-8)]),
], ids=["SGD", "momentum", "Adam", "RMSProp"])
def test_weight_decay_adds_l2_gradient(make, expected):
    p = param([1.0, -2.0], grad=[0.0, 0.0])
    make(p).step()
    np.testing.assert_allclose(p.data, expected, rtol=1e-14)
    np.testing.assert_array_equal(p.grad, [0.0, 0.0])       # the stored gradient is left alone


# ---- several steps against an independent reference ------------------------------------------

def reference_steps(kind, w, grads, lr, **hp):
    """Plain-Python update rules, one float at a time (the textbook formulas)."""
    w = list(w)
    state = [dict(v=0.0, m=0.0, s=0.0) for _ in w]
    for t, g in enumerate(grads, start=1):
        for i, gi in enumerate(g):
            st_ = state[i]
            if kind == "momentum":
                st_["v"] = gi if t == 1 else hp["momentum"] * st_["v"] + gi
                w[i] -= lr * st_["v"]
            elif kind == "rmsprop":
                st_["s"] = hp["rho"] * st_["s"] + (1 - hp["rho"]) * gi * gi
                w[i] -= lr * gi / (math.sqrt(st_["s"]) + 1e-8)
            elif kind == "adam":
                b1, b2 = hp["betas"]
                st_["m"] = b1 * st_["m"] + (1 - b1) * gi
                st_["v"] = b2 * st_["v"] + (1 - b2) * gi * gi
                m_hat, v_hat = st_["m"] / (1 - b1 ** t), st_["v"] / (1 - b2 ** t)
                w[i] -= lr * m_hat / (math.sqrt(v_hat) + 1e-8)
    return w


@pytest.mark.parametrize("kind,make,hp", [
    ("momentum", SGD, dict(momentum=0.8)),
    ("rmsprop", RMSProp, dict(rho=0.95)),
    ("adam", Adam, dict(betas=(0.8, 0.99))),
])
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 6))
def test_steps_match_reference(kind, make, hp, seed, steps):
    rng = np.random.default_rng(seed)
    w0, grads = rng.normal(size=3), rng.normal(size=(steps, 3))
    p = param(w0)
    opt = make([p], lr=0.05, **hp)
    for g in grads:
        p.grad[...] = g
        opt.step()
    np.testing.assert_allclose(p.data, reference_steps(kind, w0, grads, 0.05, **hp), rtol=1e-12, atol=1e-15)


def test_each_parameter_has_its_own_state():
    a, b = param([1.0], grad=[1.0]), param([1.0], grad=[-3.0])
    opt = Adam([a, b], lr=0.1)
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 1.1], rtol=1e-7)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimisers_minimise_a_quadratic(name):
    target = np.array([3.0, -1.0])
    p = param([0.0, 0.0])
    opt = OPTIMIZERS[name]([p], lr=0.05)
    for _ in range(500):
        opt.zero_grad()
        p.grad += 2 * (p.data - target)                 # ∇ ‖w − c‖²
        opt.step()
    np.testing.assert_allclose(p.data, target, atol=0.05)


def test_zero_grad_zeroes_every_parameter():
    ps = [param([1.0, 2.0], grad=[3.0, 4.0]), param([[1.0]], grad=[[5.0]])]
    SGD(ps, lr=0.1).zero_grad()
    assert all(not p.grad.any() for p in ps)


# ---- clip_grad_norm ---------------------------------------------------------------------------

def test_clip_grad_norm_returns_pre_clip_norm_and_scales_to_max():
    a, b = param([0.0], grad=[3.0]), param([[0.0]], grad=[[4.0]])
    total = clip_grad_norm([a, b], max_norm=1.0)
    assert total == 5.0
    new = math.hypot(a.grad[0], b.grad[0, 0])
    assert new == pytest.approx(1.0, rel=1e-6) and new <= 1.0
    assert a.grad[0] / b.grad[0, 0] == pytest.approx(0.75, rel=1e-14)          # direction kept


def test_clip_grad_norm_leaves_small_gradients_alone():
    a = param([0.0, 0.0], grad=[0.3, 0.4])
    assert clip_grad_norm([a], max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(a.grad, [0.3, 0.4])
    z = param([0.0], grad=[0.0])
    assert clip_grad_norm([z], 1.0) == 0.0


def test_clip_grad_norm_on_a_network(rng):
    net = bp.nn.MLP([3, 5, 2], seed=0)
    net(rng.normal(size=(4, 3)))
    net.backward(100 * rng.normal(size=(4, 2)))
    before = math.sqrt(sum(float((p.grad ** 2).sum()) for p in net.parameters()))
    assert clip_grad_norm(net.parameters(), 0.5) == pytest.approx(before, rel=1e-14)
    after = math.sqrt(sum(float((p.grad ** 2).sum()) for p in net.parameters()))
    assert after == pytest.approx(0.5, rel=1e-5)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "big"])
def test_clip_grad_norm_rejects_bad_max_norm(bad):
    with pytest.raises(ValueError, match="clip_grad_norm: max_norm must be"):
        clip_grad_norm([param([0.0], grad=[1.0])], bad)


# ---- bad hyper-parameters --------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf"), "fast", None, [0.1]])
def test_bad_learning_rate(name, lr):
    with pytest.raises(ValueError, match=r"learning rate lr must be"):
        OPTIMIZERS[name]([param([1.0])], lr=lr)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_bad_learning_rate_set_later_keeps_the_old_one(name):
    opt = OPTIMIZERS[name]([param([1.0])], lr=0.1)
    with pytest.raises(ValueError, match=r"learning rate lr must be a finite number > 0, got -1"):
        opt.lr = -1
    assert opt.lr == 0.1


@pytest.mark.parametrize("lr", ["0.1", True])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_learning_rate_must_be_a_number_not_a_numeric_string_or_bool(name, lr):
    with pytest.raises(ValueError, match="learning rate lr must be a finite number"):
        OPTIMIZERS[name]([param([1.0])], lr=lr)


@pytest.mark.parametrize("make,match", [
    (lambda ps: SGD(ps, momentum=1.0), "SGD: momentum must be a finite number >= 0 and < 1"),
    (lambda ps: SGD(ps, momentum=-0.1), "SGD: momentum"),
    (lambda ps: SGD(ps, weight_decay=-1e-4), "SGD: weight_decay"),
    (lambda ps: Adam(ps, betas=(0.9, 1.0)), "Adam: beta2"),
    (lambda ps: Adam(ps, betas=(1.5, 0.999)), "Adam: beta1"),
    (lambda ps: Adam(ps, eps=0.0), "Adam: eps"),
    (lambda ps: RMSProp(ps, rho=1.0), "RMSProp: rho"),
    (lambda ps: RMSProp(ps, eps=-1e-8), "RMSProp: eps"),
])
def test_bad_hyper_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make([param([1.0])])


def test_empty_or_wrong_parameter_lists():
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([], lr=0.1)
    with pytest.raises(TypeError, match="item 1 is a ndarray, not a Parameter"):
        SGD([param([1.0]), np.zeros(2)], lr=0.1)


def test_make_optimizer_names():
    p = param([1.0])
    assert isinstance(make_optimizer("adam", [p], 1e-3), Adam)
    assert isinstance(make_optimizer("rmsprop", [p], 1e-3), RMSProp)
    mom = make_optimizer("momentum", [p], 1e-3)
    assert isinstance(mom, SGD) and mom.momentum == 0.9
    assert make_optimizer("momentum", [p], 1e-3, momentum=0.5).momentum == 0.5
    assert make_optimizer("sgd", [p], 1e-3).momentum == 0.0
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'; valid: sgd, momentum, rmsprop, adam"):
        make_optimizer("lbfgs", [p], 1e-3)
