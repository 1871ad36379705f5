"""Tests for bpcourse.draw: the graph and network drawings, checked through their artists."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

import bpcourse as bp  # noqa: E402
from bpcourse.draw import MAX_GRAPH_NODES, draw_graph, draw_layer_shapes, draw_network  # noqa: E402
from bpcourse.plotting import PALETTE  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _by_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def _cs231n_circuit():
    x, y, z = bp.Value(-2.0, label="x"), bp.Value(5.0, label="y"), bp.Value(-4.0, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward()
    return f, (x, y, z, q)


# --------------------------------------------------------------------------------------------
# draw_graph
# --------------------------------------------------------------------------------------------

def test_one_box_per_value_showing_label_data_and_grad():
    f, (x, y, z, q) = _cs231n_circuit()           # CS231n: f = (x + y) z = -12
    ax = draw_graph(f)
    boxes = _by_gid(ax.texts, "value-node")
    assert len(boxes) == 5
    texts = sorted(t.get_text() for t in boxes)
    assert texts == sorted([
        "x\ndata -2\ngrad -4", "y\ndata 5\ngrad -4", "z\ndata -4\ngrad 3",
        "q\ndata 3\ngrad -4", "f\ndata -12\ngrad 1"])


def test_one_circle_per_operation_with_its_symbol():
    a, b = bp.Value(2.0, label="a"), bp.Value(-3.0, label="b")
    c = (a * b + a.tanh()) ** 2 / b.exp()
    c.backward()
    ax = draw_graph(c)
    order = c.topo()
    ops = [v for v in order if v._prev]
    assert len(_by_gid(ax.lines, "op-node")) == len(ops) == 7
    symbols = sorted(t.get_text() for t in _by_gid(ax.texts, "op-label"))
    assert symbols == sorted(["×", "tanh", "+", "^2", "exp", "^-1", "×"])
    boxes = _by_gid(ax.texts, "value-node")
    assert len(boxes) == len(order)
    shown = sorted(line for t in boxes for line in t.get_text().split("\n") if line.startswith("data"))
    assert shown == sorted(f"data {v.data:.4g}" for v in order)      # one box per Value, with its data
    grads = sorted(line for t in boxes for line in t.get_text().split("\n") if line.startswith("grad"))
    assert grads == sorted(f"grad {v.grad:.4g}" for v in order)


def test_edges_point_left_to_right_and_output_is_rightmost():
    f, (x, y, z, q) = _cs231n_circuit()
    ax = draw_graph(f)
    arrows = ax.patches
    # every input -> op and op -> result edge: 2 inputs per op for 2 binary ops, plus 2 op -> result
    assert len(arrows) == 2 * 2 + 2
    for arrow in arrows:
        (x0, _), (x1, _) = arrow._posA_posB
        assert x1 > x0
    boxes = {t.get_text().split("\n")[0]: t.get_position() for t in _by_gid(ax.texts, "value-node")}
    assert boxes["f"][0] > boxes["q"][0] > boxes["x"][0]
    assert boxes["x"][0] == boxes["y"][0]          # leaves of the same op share a column
    out_box = [t for t in _by_gid(ax.texts, "value-node") if t.get_text().startswith("f")][0]
    assert to_rgb(out_box.get_bbox_patch().get_edgecolor()) == to_rgb(PALETTE["vermillion"])


def test_forty_node_graph_draws_and_big_graphs_are_refused():
    x = bp.Value(0.5, label="x")
    h = x
    for _ in range(7):
        h = (h * bp.Value(0.9) + bp.Value(0.1)).tanh()
    h.backward()
    n = len(h.topo())
    assert 30 <= n <= 45
    ax = draw_graph(h)
    assert len(_by_gid(ax.texts, "value-node")) == n
    big = bp.Value(0.0)
    for i in range(MAX_GRAPH_NODES):
        big = big + i
    with pytest.raises(ValueError, match=f"has {len(big.topo())} nodes, more than max_nodes=200"):
        draw_graph(big)
    with pytest.raises(TypeError, match="expected a bp.Value"):
        draw_graph(3.0)


def test_draw_graph_into_a_given_axes_and_a_single_leaf():
    fig, ax = plt.subplots()
    v = bp.Value(1.5, label="w")
    assert draw_graph(v, ax=ax) is ax
    assert [t.get_text() for t in ax.texts] == ["w\ndata 1.5\ngrad 0"]
    assert _by_gid(ax.lines, "op-node") == []


# --------------------------------------------------------------------------------------------
# draw_network
# --------------------------------------------------------------------------------------------

def test_network_neurons_and_edges():
    ax = draw_network([2, 3, 1])
    neurons = _by_gid(ax.patches, "neuron")
    assert len(neurons) == 6
    xs = sorted({round(c.center[0], 6) for c in neurons})
    assert len(xs) == 3                               # three columns
    edges = [_by_gid(ax.collections, f"edges-{l}")[0] for l in range(2)]
    assert [len(e.get_segments()) for e in edges] == [2 * 3, 3 * 1]
    labels = [t.get_text() for t in _by_gid(ax.texts, "layer-label")]
    assert labels == ["input\n(2)", "hidden 1\n(3)", "output\n(1)"]


def test_network_edges_coloured_by_weight_sign_and_size():
    net = bp.nn.MLP([2, 3, 2], seed=0)
    W1 = net.layers[0].W.data
    W1[0, 0], W1[1, 1] = 0.9, -0.5
    ax = draw_network([2, 3, 2], weights=net)
    edges = _by_gid(ax.collections, "edges-0")[0]
    colors = edges.get_colors()
    widths = edges.get_linewidths()
    for i, w in enumerate(W1.ravel()):
        expected = PALETTE["vermillion"] if w > 0 else PALETTE["blue"]     # as the Playground's weight maps
        assert np.allclose(colors[i][:3], to_rgb(expected))
    biggest = int(np.argmax(np.abs(W1.ravel())))
    assert widths[biggest] == pytest.approx(3.4) and colors[biggest][3] == pytest.approx(1.0)
    # segment i joins input k to hidden j where i = j * n_in + k (W.ravel() order)
    seg = edges.get_segments()[1 * 2 + 1]             # j = 1, k = 1
    inputs = sorted(_by_gid(ax.patches, "neuron")[:2], key=lambda c: -c.center[1])
    hidden = sorted(_by_gid(ax.patches, "neuron")[2:5], key=lambda c: -c.center[1])
    assert np.allclose(seg[0], inputs[1].center) and np.allclose(seg[1], hidden[1].center)


def test_network_weight_list_and_bad_input():
    W = [np.array([[1.0, -1.0]]), ]
    ax = draw_network([2, 1], weights=W)
    assert len(_by_gid(ax.collections, "edges-0")[0].get_segments()) == 2
    with pytest.raises(ValueError, match=r"weight matrix 1 has shape \(2, 1\), expected \(n_out, n_in\) = \(1, 2\)"):
        draw_network([2, 1], weights=[np.ones((2, 1))])
    with pytest.raises(ValueError, match="need 2 weight matrices, got 1"):
        draw_network([2, 3, 1], weights=W)
    with pytest.raises(ValueError, match="at least two positive integers"):
        draw_network([3])
    with pytest.raises(ValueError, match="at least two positive integers"):
        draw_network([2, 0, 1])


def test_network_writes_values_beside_neurons():
    ax = draw_network([2, 3, 1], values={1: [0.5, -0.25, 1.0], 2: np.array([0.125])}, fmt=".2f")
    assert [t.get_text() for t in _by_gid(ax.texts, "value-1")] == ["0.50", "-0.25", "1.00"]
    assert [t.get_text() for t in _by_gid(ax.texts, "value-2")] == ["0.12"]
    assert _by_gid(ax.texts, "value-0") == []
    with pytest.raises(ValueError, match="values for layer 1 have 2 entries, expected 3"):
        draw_network([2, 3, 1], values={1: [1.0, 2.0]})
    with pytest.raises(ValueError, match="valid layers are 0..2"):
        draw_network([2, 3, 1], values={3: [1.0]})


# --------------------------------------------------------------------------------------------
# draw_layer_shapes
# --------------------------------------------------------------------------------------------

def _matrices(ax):
    """{label: (rows, cols)} of the matrix outlines on one panel, read from the Rectangles."""
    return {p.get_label(): (round(p.get_height()), round(p.get_width())) for p in _by_gid(ax.patches, "matrix")}


def test_layer_shapes_draws_the_three_products_of_every_layer_to_scale():
    sizes, N = [6, 4, 3], 5
    axes = draw_layer_shapes(sizes, N=N)
    assert len(axes) == 2
    for l, ax in enumerate(axes, start=1):
        n_in, n_out = sizes[l - 1], sizes[l]
        shapes = _matrices(ax)
        assert shapes == {f"A{l-1}": (N, n_in), f"W{l}.T": (n_in, n_out), f"Z{l}": (N, n_out),
                          f"delta{l}.T": (n_out, N), f"dW{l}": (n_out, n_in),
                          f"delta{l}": (N, n_out), f"W{l}": (n_out, n_in), f"dA{l-1}": (N, n_in)}
        # the shape rules the figure teaches, read back from the drawing itself
        assert shapes[f"dW{l}"] == shapes[f"W{l}"] and shapes[f"dA{l-1}"] == shapes[f"A{l-1}"]
        assert shapes[f"delta{l}"] == shapes[f"Z{l}"]
        labels = [t.get_text() for t in ax.texts]
        assert f"Z{l}\n{N}×{n_out}" in labels and "@" in labels and "=" in labels
    assert axes[0].get_xlim() == axes[1].get_xlim()        # one scale, so sizes compare across panels


def test_layer_shapes_matches_a_real_backward_pass():
    sizes, N = [3, 7, 2], 4
    net = bp.nn.MLP(sizes, activation="tanh", seed=0)
    X = np.random.default_rng(0).normal(size=(N, sizes[0]))
    net.backward(np.ones_like(net.forward(X)))
    for ax, lin in zip(draw_layer_shapes(sizes, N), net.linear_layers()):
        l = ax.get_title().split(":")[0].split()[-1]
        assert _matrices(ax)[f"dW{l}"] == lin.W.grad.shape


def test_layer_shapes_rejects_bad_input():
    with pytest.raises(ValueError, match="draw_layer_shapes: sizes"):
        draw_layer_shapes([4], N=2)
    with pytest.raises(ValueError, match="draw_layer_shapes: N"):
        draw_layer_shapes([4, 2], N=0)
    _, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="one per layer, 2"):
        draw_layer_shapes([4, 3, 2], N=2, axes=axes)
