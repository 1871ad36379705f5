"""bpcourse against PyTorch on the same networks, inputs, losses and optimiser settings.

PyTorch is not a course dependency: without it this module is skipped.  To run it:

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch numpy matplotlib ipywidgets tqdm pytest hypothesis
    /tmp/torchvenv/bin/pip install -e . --no-deps
    /tmp/torchvenv/bin/python -m pytest tests/test_against_torch.py -q -p no:nbval -o addopts=""

The worst relative error per kind of comparison is printed in the terminal summary.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import bpcourse as bp  # noqa: E402
from bpcourse.nn import MLP, Linear  # noqa: E402
from catalogue import ACTIVATION_NAMES, rel_error  # noqa: E402

TOL = 1e-6

TORCH_ACTIVATION = {
    "sigmoid": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
    "leaky_relu": lambda: torch.nn.LeakyReLU(0.01),
    "identity": torch.nn.Identity,
    "gelu": lambda: torch.nn.GELU(approximate="tanh"),
}

# name -> (our loss, the same loss in torch, output width, output activation, target maker)
LOSSES = {
    "mse": (bp.losses.MSE, F.mse_loss, 3, "identity", lambda rng, N: rng.normal(size=(N, 3))),
    "bce": (bp.losses.BCE, F.binary_cross_entropy, 2, "sigmoid",
            lambda rng, N: rng.integers(0, 2, (N, 2)).astype(float)),
    "bce_logits": (lambda: bp.losses.BCE(from_logits=True), F.binary_cross_entropy_with_logits, 2, "identity",
                   lambda rng, N: rng.integers(0, 2, (N, 2)).astype(float)),
    "cross_entropy": (bp.losses.SoftmaxCrossEntropy, F.cross_entropy, 4, "identity",
                      lambda rng, N: rng.integers(0, 4, N)),
    "cosine": (bp.losses.CosineDistance, lambda a, y: (1 - F.cosine_similarity(a, y, dim=1)).mean(), 3,
               "identity", lambda rng, N: rng.normal(size=(N, 3))),
}


def t(array, **kw):
    return torch.tensor(np.asarray(array), dtype=torch.float64, **kw)


def torch_twin(net):
    """A torch.nn.Sequential with the same layers and a copy of every W and b (float64)."""
    modules = []
    for layer in net.layers:
        if isinstance(layer, Linear):
            lin = torch.nn.Linear(layer.n_in, layer.n_out, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(t(layer.W.data))        # both store W as (out, in)
                lin.bias.copy_(t(layer.b.data))
            modules.append(lin)
        else:
            modules.append(TORCH_ACTIVATION[layer.kind]())
    return torch.nn.Sequential(*modules)


def torch_linears(model):
    return [m for m in model if isinstance(m, torch.nn.Linear)]


def torch_target(kind, target):
    return torch.tensor(target, dtype=torch.long) if kind == "cross_entropy" else t(target)


def _setup(activation, kind, seed=0, N=6):
    rng = np.random.default_rng(seed)
    ours_loss, torch_loss, n_out, out_act, make_target = LOSSES[kind]
    net = MLP([5, 8, 7, n_out], activation=activation, output_activation=out_act, seed=seed)
    return rng.normal(size=(N, 5)), make_target(rng, N), net, ours_loss(), torch_loss


@pytest.mark.parametrize("kind", list(LOSSES))
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_gradients_match_torch(activation, kind, record_error):
    X, T, net, loss, torch_loss = _setup(activation, kind)
    model = torch_twin(net)

    L = loss(net(X), T)
    net.zero_grad()
    dX = net.backward(loss.backward())

    Xt = t(X, requires_grad=True)
    Lt = torch_loss(model(Xt), torch_target(kind, T))
    Lt.backward()

    assert record_error("loss value", rel_error(L, Lt.item())) <= 1e-12
    assert record_error("dL/dX", rel_error(dX, Xt.grad.numpy())) <= TOL
    for ours, theirs in zip(net.linear_layers(), torch_linears(model), strict=True):
        assert record_error("dL/dW", rel_error(ours.W.grad, theirs.weight.grad.numpy())) <= TOL, ours.name
        assert record_error("dL/db", rel_error(ours.b.grad, theirs.bias.grad.numpy())) <= TOL, ours.name


OPTIMIZERS = {
    "SGD momentum": (lambda ps: bp.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
                     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3)),
    "SGD": (lambda ps: bp.optim.SGD(ps, lr=0.2),
            lambda ps: torch.optim.SGD(ps, lr=0.2)),
    "Adam": (lambda ps: bp.optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-7, weight_decay=1e-2),
             lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-7, weight_decay=1e-2)),
    "RMSProp": (lambda ps: bp.optim.RMSProp(ps, lr=0.01, rho=0.9, eps=1e-6),
                lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-6)),
}


def _torch_params(model):
    """Parameters in our order: for each Linear, W then b."""
    return [q for lin in torch_linears(model) for q in (lin.weight, lin.bias)]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimiser_steps_match_torch(name, record_error):
    X, T, net, loss, torch_loss = _setup("tanh", "cross_entropy", seed=3, N=16)
    model = torch_twin(net)
    make_ours, make_theirs = OPTIMIZERS[name]
    opt, opt_t = make_ours(net.parameters()), make_theirs(_torch_params(model))
    Xt, Tt = t(X), torch_target("cross_entropy", T)
    start = [p.data.copy() for p in net.parameters()]
    for step in range(5):
        opt.zero_grad()
        loss(net(X), T)
        net.backward(loss.backward())
        opt.step()
        opt_t.zero_grad()
        torch_loss(model(Xt), Tt).backward()
        opt_t.step()
    for p, q, p0 in zip(net.parameters(), _torch_params(model), start, strict=True):
        assert not np.allclose(p.data, p0)                          # the steps did move the weights
        assert record_error(f"params after 5 steps: {name}", rel_error(p.data, q.detach().numpy())) <= TOL


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e3])
def test_clip_grad_norm_matches_torch(max_norm, record_error):
    X, T, net, loss, torch_loss = _setup("relu", "mse", seed=4)
    model = torch_twin(net)
    loss(net(X), T)
    net.zero_grad()
    net.backward(loss.backward())
    torch_loss(model(t(X)), t(T)).backward()

    total = bp.optim.clip_grad_norm(net.parameters(), max_norm)
    total_t = torch.nn.utils.clip_grad_norm_(_torch_params(model), max_norm)
    assert record_error("clip_grad_norm: returned norm", rel_error(total, total_t.item())) <= 1e-12
    for p, q in zip(net.parameters(), _torch_params(model), strict=True):
        assert record_error("clip_grad_norm: clipped grads", rel_error(p.grad, q.grad.numpy())) <= TOL
