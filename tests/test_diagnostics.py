"""Tests for bpcourse.diagnostics against numbers worked out by hand on tiny nets."""

import math

import numpy as np
import pytest
from catalogue import linear_layer

import bpcourse as bp
from bpcourse import diagnostics as dg

# --------------------------------------------------------------------------------------------
# gradient norms
# --------------------------------------------------------------------------------------------

def test_grad_and_delta_norms_of_a_one_neuron_net_by_hand():
    # z = 1*1 + 2*1 + 0 = 3; MSE L = (3 - 0)^2 = 9; dL/dz = 2*3 = 6
    # dW = 6 * [1, 1] -> ||dW|| = 6 sqrt(2);  db = 6
    net = bp.nn.Sequential(linear_layer([[1.0, 2.0]], [0.0]))
    loss = bp.losses.MSE()
    assert loss(net(np.array([[1.0, 1.0]])), np.array([[0.0]])) == 9.0
    net.backward(loss.backward())
    assert dg.grad_norms(net) == {"Linear(2->1)": pytest.approx(6 * math.sqrt(2))}
    assert dg.delta_norms(net) == {"Linear(2->1)": pytest.approx(6.0)}


def test_delta_norms_two_layers_by_hand():
    # x = [1], W1 = [[2], [-1]], b1 = 0 -> z1 = [2, -1], relu -> a1 = [2, 0]
    # W2 = [[1, 3]], z2 = 2; MSE with y = 0: dz2 = 4 -> db2 = 4, dW2 = 4 * [2, 0] -> ||dW2|| = 8
    # delta1 = (dz2 * W2) * relu'(z1) = [4, 12] * [1, 0] = [4, 0] -> ||db1|| = 4, dW1 = [[4], [0]] -> 4
    net = bp.nn.Sequential(linear_layer([[2.0], [-1.0]], [0.0, 0.0]), bp.nn.ReLU(), linear_layer([[1.0, 3.0]], [0.0]))
    loss = bp.losses.MSE()
    loss(net(np.array([[1.0]])), np.array([[0.0]]))
    net.backward(loss.backward())
    assert list(dg.delta_norms(net).values()) == pytest.approx([4.0, 4.0])
    assert list(dg.grad_norms(net).values()) == pytest.approx([4.0, 8.0])


def test_duplicate_layer_names_are_numbered():
    net = bp.nn.Sequential(bp.nn.Linear(2, 2, seed=0), bp.nn.Tanh(), bp.nn.Linear(2, 2, seed=1),
                           bp.nn.Tanh(), bp.nn.Linear(2, 1, seed=2))
    assert [n for n, _ in dg.linear_layers(net)] == ["Linear(2->2)[1]", "Linear(2->2)[2]", "Linear(2->1)"]
    assert [n for n, _ in dg.activation_layers(net)] == ["Tanh1", "Tanh2"]
    mlp = bp.nn.MLP([2, 3, 3, 1], activation="relu")
    assert list(dg.grad_norms(mlp)) == ["Linear1(2->3)", "Linear2(3->3)", "Linear3(3->1)"]
    assert list(dg.grad_norms(mlp).values()) == [0.0, 0.0, 0.0]      # nothing has run backward yet


def test_deep_sigmoid_net_first_layer_learns_slowest():
    """Nielsen ch. 5: in a deep sigmoid net ||δˡ|| grows from the first hidden layer to the last."""
    X, _, y, _ = bp.data.load_digits_split()
    net = bp.nn.MLP([64, 30, 30, 30, 30, 10], activation="sigmoid", init="normal", seed=0)
    norms = list(dg.layer_gradients(net, X[:1000], y[:1000], "cross_entropy")["db"].values())
    assert all(a < b for a, b in zip(norms, norms[1:]))
    assert norms[0] < norms[-1] / 5


def test_layer_gradients_leaves_weights_grads_and_mode_alone():
    X, y = bp.data.moons(n=40, seed=0)
    net = bp.nn.MLP([2, 8, 1], activation="tanh", seed=0)
    loss = bp.losses.BCE(from_logits=True)
    for p in net.parameters():
        p.grad[...] = 7.0
    weights = [p.data.copy() for p in net.parameters()]
    net.eval()
    out = dg.layer_gradients(net, X, y, loss)
    assert all(np.array_equal(p.data, W) for p, W in zip(net.parameters(), weights))
    assert all(np.all(p.grad == 7.0) for p in net.parameters())
    assert not net.training
    # same numbers as a plain forward/backward from zero gradients
    net.zero_grad()
    L = loss(net(X), y)
    net.backward(loss.backward())
    assert out["loss"] == pytest.approx(L)
    assert out["dW"] == pytest.approx(dict(dg.grad_norms(net)))
    assert out["db"] == pytest.approx(dict(dg.delta_norms(net)))


# --------------------------------------------------------------------------------------------
# activation statistics
# --------------------------------------------------------------------------------------------

def test_relu_with_bias_minus_100_is_completely_dead():
    X, _ = bp.data.moons(n=50, seed=0)
    net = bp.nn.MLP([2, 10, 1], activation="relu", seed=0)
    net.layers[0].b.data[...] = -100.0
    net(X)
    stats = dg.activation_stats(net)["ReLU"]
    assert stats == {"kind": "relu", "mean": 0.0, "std": 0.0, "saturation": None, "dead": 1.0}


def test_relu_dead_fraction_counts_units_zero_for_every_example():
    # identity weights: Z = X.  Unit 0 is > 0 for one example (alive), unit 1 is <= 0 for all
    # (dead, including an exact 0), unit 2 > 0 always.  -> dead = 1/3
    net = bp.nn.Sequential(linear_layer(np.eye(3), np.zeros(3)), bp.nn.ReLU())
    net(np.array([[1.0, 0.0, 2.0], [-1.0, -3.0, 1.0]]))
    s = dg.activation_stats(net)["ReLU"]
    assert s["dead"] == pytest.approx(1 / 3)
    A = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 1.0]])
    assert s["mean"] == pytest.approx(A.mean()) and s["std"] == pytest.approx(A.std())


def test_tanh_with_huge_weights_is_saturated():
    X, _ = bp.data.moons(n=50, seed=0)
    net = bp.nn.MLP([2, 10, 1], activation="tanh", seed=0)
    net.layers[0].W.data *= 1000.0
    net(X)
    s = dg.activation_stats(net)["Tanh"]
    assert s["saturation"] > 0.98 and s["dead"] is None
    net.layers[0].W.data /= 1e6                 # now tiny: the linear regime, nothing saturated
    net(X)
    assert dg.activation_stats(net)["Tanh"]["saturation"] == 0.0


@pytest.mark.parametrize("layer, z, expected", [
    # |tanh(z)| > 0.99 <=> |z| > 2.647: tanh(0)=0, tanh(3)=0.995, tanh(0.5)=0.46, tanh(-4)=-0.9993
    (bp.nn.Tanh, [[0.0, 3.0], [0.5, -4.0]], 0.5),
    # σ outside [0.01, 0.99] <=> |z| > 4.595: σ(0)=.5, σ(5)=.9933, σ(-5)=.0067, σ(4)=.982
    (bp.nn.Sigmoid, [[0.0, 5.0], [-5.0, 4.0]], 0.5),
    (bp.nn.Sigmoid, [[0.0, 1.0], [-1.0, 4.5]], 0.0),
])
def test_saturation_fraction_by_hand(layer, z, expected):
    net = bp.nn.Sequential(linear_layer(np.eye(2), np.zeros(2)), layer())
    net(np.array(z))
    assert next(iter(dg.activation_stats(net).values()))["saturation"] == expected


def test_activation_stats_before_forward_is_a_clear_error():
    net = bp.nn.MLP([2, 4, 1], activation="tanh")
    with pytest.raises(RuntimeError, match="Tanh has no cached output; run a forward pass"):
        dg.activation_stats(net)


# --------------------------------------------------------------------------------------------
# update ratios, snapshots
# --------------------------------------------------------------------------------------------

def test_update_ratio_by_hand():
    net = bp.nn.Sequential(linear_layer([[3.0, 4.0]], [0.0]))
    before = dg.snapshot(net)
    assert list(before) == ["0.Linear(2->1).W", "0.Linear(2->1).b"]
    net.layers[0].W.data[0, 1] = 4.5              # ||ΔW|| = 0.5, ||W|| = 5 -> 0.1
    assert before["0.Linear(2->1).W"][0, 1] == 4.0   # the snapshot is a copy
    r = dg.update_ratio(before, net)
    assert r["0.Linear(2->1).W"] == pytest.approx(0.1)
    assert r["0.Linear(2->1).b"] == 0.0           # a zero bias that did not move
    net.layers[0].b.data[0] = 1.0
    assert dg.update_ratio(before, dg.snapshot(net))["0.Linear(2->1).b"] == math.inf


def test_update_ratio_rejects_mismatched_snapshots():
    a = dg.snapshot(bp.nn.MLP([2, 3, 1]))
    b = dg.snapshot(bp.nn.MLP([2, 4, 1]))
    with pytest.raises(ValueError, match="different parameters|has shape"):
        dg.update_ratio(a, b)


def test_update_ratio_of_one_sgd_step_is_lr_times_grad_over_weight():
    X, y = bp.data.moons(n=40, seed=0)
    net = bp.nn.MLP([2, 8, 1], activation="tanh", seed=0)
    loss = bp.losses.BCE(from_logits=True)
    loss(net(X), y)
    net.backward(loss.backward())
    before = dg.snapshot(net)
    W = net.layers[0].W
    expected = 0.1 * np.linalg.norm(W.grad) / np.linalg.norm(W.data)
    bp.optim.SGD(net.parameters(), lr=0.1).step()
    assert dg.update_ratio(before, net)["0.Linear1(2->8).W"] == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Recorder on its own
# --------------------------------------------------------------------------------------------

def test_recorder_averages_step_norms_per_epoch():
    net = bp.nn.Sequential(linear_layer([[1.0, 2.0]], [0.0]))
    rec = dg.Recorder(grad_norms=True, delta_norms=True)
    for g in (1.0, 3.0):                            # two "steps" with known gradients
        net.layers[0].W.grad[...] = [[g, 0.0]]
        net.layers[0].b.grad[...] = [2 * g]
        rec.on_step(net)
    assert rec(1, None, net) is False
    assert rec.grad_norms == {"Linear(2->1)": [2.0]}
    assert rec.delta_norms == {"Linear(2->1)": [4.0]}
    net.layers[0].W.grad[...] = [[0.0, 10.0]]
    rec.on_step(net)
    rec(2, None, net)
    assert rec.grad_norms["Linear(2->1)"] == [2.0, 10.0]
    assert rec.as_dict()["epochs"] == [1, 2]


def test_recorder_probe_activation_stats_in_eval_mode():
    X, _ = bp.data.moons(n=30, seed=0)
    net = bp.nn.MLP([2, 6, 1], activation="relu", seed=0)
    net.layers[0].b.data[...] = -100.0
    rec = dg.Recorder(X_probe=X)
    net.train()
    rec(1, None, net)
    assert rec.activations["ReLU"]["dead"] == [1.0]
    assert rec.activations["ReLU"]["saturation"] == [None]
    assert net.training
    with pytest.raises(RuntimeError, match="no model seen yet"):
        dg.Recorder()(1)


def test_non_module_is_rejected():
    with pytest.raises(TypeError, match="expected a bpcourse Module"):
        dg.grad_norms([1, 2, 3])
