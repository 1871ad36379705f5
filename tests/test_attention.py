"""Tests for bpcourse.attention: Embedding, CausalSelfAttention, TransformerBlock, TinyGPT (notebook 17).

Every backward pass is checked against central differences on random shapes (T = 1, one head and
heads = dim included); the whole TinyGPT in float64; the causal mask's exactly-zero gradient; the
embedding's scatter-add; bad input; and, when PyTorch is installed, the same model in torch.
"""
from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse.attention import CausalSelfAttention, Embedding, TinyGPT, TransformerBlock, softmax_jvp
from bpcourse.gradcheck import GradcheckWarning

TOL = 1e-6
SEEDS = st.integers(0, 2**32 - 1)
records = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _perturb(module, seed, scale=0.5):
    """Replace the tiny GPT-2 initial weights by O(1) ones, so the checks see nonlinear behaviour."""
    rng = np.random.default_rng([seed, 11])
    for p in module.parameters():
        p.data += scale * rng.standard_normal(p.data.shape)


def _param_errors(module, scalar):
    """Relative error of every Parameter's analytic gradient against central differences of ``scalar``.

    ``scalar()`` runs forward and returns the loss; the caller has already run backward once."""
    analytic = {name: p.grad.copy() for name, p in module.named_parameters()}
    return {name: bp.relative_error(analytic[name], bp.numerical_gradient(scalar, p.data))
            for name, p in module.named_parameters()}


# ---- every layer against central differences ------------------------------------------------

@records
@given(seed=SEEDS, B=st.integers(1, 3), T=st.integers(1, 5), heads=st.integers(1, 3), d=st.integers(1, 3))
def test_attention_backward_matches_central_differences(seed, B, T, heads, d, record_error):
    dim = heads * d                                  # d = 1 is heads = dim
    attn = CausalSelfAttention(dim, heads, seed=seed)
    _perturb(attn, seed)
    X = np.random.default_rng([seed, 1]).standard_normal((B, T, dim))
    err = bp.gradcheck(attn, X, tol=TOL)
    assert record_error("CausalSelfAttention gradcheck", err) <= TOL
    assert attn.A.shape == (B, heads, T, T)


@records
@given(seed=SEEDS, B=st.integers(1, 2), T=st.integers(1, 4), heads=st.sampled_from([1, 2, 4]))
def test_transformer_block_backward_matches_central_differences(seed, B, T, heads, record_error):
    dim = 4                                          # heads = 4 is heads = dim
    block = TransformerBlock(dim, heads, seed=seed)
    _perturb(block, seed)
    X = np.random.default_rng([seed, 2]).standard_normal((B, T, dim))
    err = bp.gradcheck(block, X, tol=TOL)
    assert record_error("TransformerBlock gradcheck", err) <= TOL


@records
@given(seed=SEEDS, B=st.integers(1, 3), T=st.integers(1, 5), n_in=st.integers(1, 4), n_out=st.integers(1, 4))
def test_linear_and_layernorm_act_on_the_last_axis(seed, B, T, n_in, n_out, record_error):
    rng = np.random.default_rng([seed, 3])
    X = rng.standard_normal((B, T, n_in))
    lin = bp.nn.Linear(n_in, n_out, init="normal", seed=seed)
    np.testing.assert_allclose(lin(X), (lin(X.reshape(-1, n_in))).reshape(B, T, n_out), rtol=1e-13, atol=1e-14)
    assert record_error("Linear (B, T, n) gradcheck", bp.gradcheck(lin, X, tol=TOL)) <= TOL
    ln = bp.nn.LayerNorm(n_in)
    ln.gamma.data[...] = rng.standard_normal(n_in)
    ln.beta.data[...] = rng.standard_normal(n_in)
    np.testing.assert_allclose(ln(X), ln(X.reshape(-1, n_in)).reshape(B, T, n_in), rtol=1e-12, atol=1e-13)
    # Over two features the normalised values are ±1 whatever X is, so dL/dX lives only in eps's term and,
    # for unit-sized X, is far below what central differences can see (gradcheck would warn, verifying
    # nothing).  Inputs of size 0.01 make the variance comparable to eps: the gradient is large and checked.
    X_ln = X if n_in != 2 else 0.01 * X
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradcheckWarning)
        assert record_error("LayerNorm (B, T, n) gradcheck", bp.gradcheck(ln, X_ln, tol=TOL)) <= TOL


@records
@given(seed=SEEDS, B=st.integers(1, 3), T=st.integers(1, 6), V=st.integers(1, 5), dim=st.integers(1, 4))
def test_embedding_backward_matches_central_differences(seed, B, T, V, dim, record_error):
    rng = np.random.default_rng([seed, 4])
    emb = Embedding(V, dim, seed=seed, std=1.0)
    ids = rng.integers(0, V, (B, T))                 # small V: repeats are the rule
    G = rng.standard_normal((B, T, dim))
    emb.zero_grad()
    emb(ids)
    assert emb.backward(G) is None
    errs = _param_errors(emb, lambda: np.sum(emb(ids) * G))
    assert record_error("Embedding gradcheck", max(errs.values())) <= TOL


@records
@given(seed=SEEDS, B=st.integers(1, 3), T=st.integers(1, 4), V=st.integers(2, 6))
def test_sequence_cross_entropy_matches_central_differences(seed, B, T, V, record_error):
    rng = np.random.default_rng([seed, 5])
    Z, y = 2.0 * rng.standard_normal((B, T, V)), rng.integers(0, V, (B, T))
    loss = bp.losses.SoftmaxCrossEntropy()
    assert record_error("SoftmaxCrossEntropy (B, T, V)", bp.gradcheck(loss, Z, y, tol=TOL)) <= TOL
    # the mean over every position: the same number as the flattened (B·T, V) problem
    assert loss(Z, y) == pytest.approx(loss(Z.reshape(-1, V), y.reshape(-1)), rel=1e-15)
    loss(Z, y)
    assert loss.backward().shape == (B, T, V)


def test_gelu_is_the_tanh_form_and_its_layer_gradchecks(record_error):
    Z = np.linspace(-5, 5, 41).reshape(1, -1)
    tanh_form = 0.5 * Z * (1 + np.tanh(np.sqrt(2 / np.pi) * (Z + 0.044715 * Z**3)))
    np.testing.assert_allclose(bp.nn.GELU()(Z), tanh_form, rtol=1e-12, atol=1e-15)
    assert bp.nn.make_activation("gelu").kind == "gelu"
    assert record_error("GELU layer gradcheck", bp.gradcheck(bp.nn.GELU(), Z, tol=TOL)) <= TOL


@pytest.mark.parametrize("B,T,heads,layers", [(2, 5, 2, 2), (1, 1, 1, 1), (3, 4, 4, 2)])
def test_whole_tinygpt_gradient_check_float64(B, T, heads, layers, record_error):
    V, block = 7, 6
    gpt = TinyGPT(V, block, dim=4, heads=heads, layers=layers, seed=3)
    _perturb(gpt, 3, scale=0.3)
    rng = np.random.default_rng(8)
    ids, y = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
    loss = bp.losses.SoftmaxCrossEntropy()
    gpt.zero_grad()
    loss(gpt(ids), y)
    gpt.backward(loss.backward())
    errs = _param_errors(gpt, lambda: loss(gpt(ids), y))
    assert len(errs) == 6 + 12 * layers          # tok, pos, ln_f (2), head (2); 12 per block
    worst = max(errs.values())
    assert record_error("TinyGPT whole-model gradcheck", worst) <= TOL, errs


# ---- the causal mask -----------------------------------------------------------------------------

@pytest.mark.parametrize("t", [0, 2, 4])
def test_masked_positions_get_exactly_zero_gradient(t):
    """A loss that reads positions ≤ t only sends exactly 0 to every later position."""
    B, T, dim = 2, 6, 6
    attn = CausalSelfAttention(dim, 3, seed=1)
    _perturb(attn, 1)
    X = np.random.default_rng(2).standard_normal((B, T, dim))
    G = np.random.default_rng(3).standard_normal((B, T, dim))
    G[:, t + 1:] = 0.0
    attn(X)
    dX = attn.backward(G)
    assert np.all(dX[:, t + 1:] == 0.0) and np.abs(dX[:, :t + 1]).min() > 0
    # the weights themselves: lower triangular, rows are distributions
    A = attn.A
    assert np.all(A[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] == 0.0)
    np.testing.assert_allclose(A.sum(-1), 1.0, rtol=0, atol=1e-12)
    # the softmax JVP gives exactly zero on every masked score, whatever the upstream dA
    dS = softmax_jvp(A, np.random.default_rng(4).standard_normal(A.shape))
    assert np.all(dS[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] == 0.0)
    # and the whole model: the position-embedding rows after t receive exactly 0
    gpt = TinyGPT(5, T, dim=4, heads=2, layers=2, seed=0)
    _perturb(gpt, 0)
    ids = np.random.default_rng(5).integers(0, 5, (B, T))
    Gl = np.random.default_rng(6).standard_normal((B, T, 5))
    Gl[:, t + 1:] = 0.0
    gpt.zero_grad()
    gpt(ids)
    gpt.backward(Gl)
    assert np.all(gpt.pos.W.grad[t + 1:] == 0.0) and np.abs(gpt.pos.W.grad[:t + 1]).min() > 0


def test_changing_the_future_does_not_change_the_past():
    gpt = TinyGPT(9, 8, dim=8, heads=2, layers=2, seed=0)
    ids = np.random.default_rng(0).integers(0, 9, (2, 8))
    other = ids.copy()
    other[:, 5:] = (other[:, 5:] + 1) % 9
    np.testing.assert_array_equal(gpt(ids)[:, :5], gpt(other)[:, :5])
    assert not np.allclose(gpt(ids)[:, 5:], gpt(other)[:, 5:])


# ---- the embedding's scatter-add ----------------------------------------------------------------

def test_repeated_tokens_rows_add():
    emb = Embedding(5, 3, seed=0)
    ids = np.array([[3, 3, 1], [3, 0, 1]])
    G = np.arange(18, dtype=float).reshape(2, 3, 3)
    emb.zero_grad()
    emb(ids)
    emb.backward(G)
    np.testing.assert_array_equal(emb.W.grad[3], G[0, 0] + G[0, 1] + G[1, 0])
    np.testing.assert_array_equal(emb.W.grad[1], G[0, 2] + G[1, 2])
    np.testing.assert_array_equal(emb.W.grad[0], G[1, 1])
    np.testing.assert_array_equal(emb.W.grad[[2, 4]], 0.0)          # absent tokens get nothing
    emb(ids)
    emb.backward(G)                                                  # a second backward adds on
    np.testing.assert_array_equal(emb.W.grad[0], 2 * G[1, 1])


# ---- generation --------------------------------------------------------------------------------

def test_generate_shapes_range_and_seed():
    gpt = TinyGPT(11, 4, dim=8, heads=2, layers=1, seed=0)
    prompt = np.array([[1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 0]])     # longer than block_size: cropped
    out = gpt.generate(prompt, 7, temperature=0.8, seed=5)
    assert out.shape == (2, 13) and out.dtype.kind == "i"
    np.testing.assert_array_equal(out[:, :6], prompt)
    assert out.min() >= 0 and out.max() < 11
    np.testing.assert_array_equal(out, gpt.generate(prompt, 7, temperature=0.8, seed=5))
    assert gpt.generate(np.array([1, 2]), 3).shape == (5,)
    # a very low temperature is (almost) the argmax of the logits
    greedy = gpt.generate(prompt[:1], 1, temperature=1e-6)[0, -1]
    assert greedy == np.argmax(gpt(prompt[:1, -4:])[0, -1])


# ---- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make,message", [
    (lambda: TinyGPT(10, 8)(np.array([[1, 2, 10]])), r"TinyGPT: ids must lie in \[0, 10\), got values from 1 to 10"),
    (lambda: TinyGPT(10, 8)(np.array([[-1, 2]])), r"TinyGPT: ids must lie in \[0, 10\)"),
    (lambda: TinyGPT(10, 4)(np.zeros((1, 5), dtype=int)), r"TinyGPT: sequence length T=5 exceeds block_size=4"),
    (lambda: TinyGPT(10, 4)(np.zeros((1, 3))), r"TinyGPT: ids must be an integer array.*float64"),
    (lambda: TinyGPT(10, 4)(np.zeros(3, dtype=int)), r"TinyGPT: expected ids of shape \(B, T\).*ids\[None\]"),
    (lambda: TinyGPT(10, 4, dim=10, heads=4), r"TinyGPT: dim must be divisible by heads, got dim=10, heads=4"),
    (lambda: CausalSelfAttention(6, 4), r"CausalSelfAttention: dim must be divisible by heads, got dim=6, heads=4"),
    (lambda: TransformerBlock(6, 4), r"TransformerBlock: dim must be divisible by heads"),
    (lambda: CausalSelfAttention(4, 2)(np.zeros((2, 3, 5))), r"expected input of shape \(B, T, 4\).*\(2, 3, 5\)"),
    (lambda: Embedding(5, 2)(np.array([0.0, 1.0])), r"Embedding\(5, 2\): ids must be an integer array"),
    (lambda: Embedding(5, 2)(np.array([[0, 5]])), r"Embedding\(5, 2\): ids must lie in \[0, 5\), got values from 0 to 5"),
    (lambda: Embedding(0, 2), r"Embedding: vocab_size must be a positive integer, got 0"),
    (lambda: TinyGPT(10, 4).generate(np.array([[1]]), 2, temperature=0), r"TinyGPT.generate: temperature"),
    (lambda: TinyGPT(10, 4).generate(np.array([[1]]), -1), r"TinyGPT.generate: n_new"),
    (lambda: bp.nn.Linear(3, 2)(np.zeros((2, 4, 5))), r"expected input of shape \(N, 3\) or \(\.\.\., 3\), got \(2, 4, 5\)"),
    (lambda: bp.losses.SoftmaxCrossEntropy()(np.zeros((2, 3, 4)), np.zeros((2, 4), dtype=int)),
     r"SoftmaxCrossEntropy: logits of shape \(2, 3, 4\) need targets of shape \(2, 3\), got \(2, 4\)"),
])
def test_bad_input_gets_a_clear_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_backward_shapes_are_checked():
    gpt = TinyGPT(5, 4, dim=4, heads=2, layers=1)
    gpt(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match=re.escape("expected upstream gradient of shape (2, 3, 5)")):
        gpt.backward(np.zeros((2, 3, 4)))


def test_exported_through_bp_nn():
    for name in ("Embedding", "CausalSelfAttention", "TransformerBlock", "TinyGPT", "GELU"):
        assert getattr(bp.nn, name) is getattr(bp.attention if name != "GELU" else bp.nn, name)
    assert "gelu" in bp.activations.ACTIVATIONS and "gelu" in bp.nn.ACTIVATION_LAYERS


def test_gpt2_initialisation_scales():
    gpt = TinyGPT(65, 64, dim=64, heads=4, layers=2, seed=0)
    assert np.std(gpt.blocks[0].fc.W.data) == pytest.approx(0.02, rel=0.05)
    assert np.std(gpt.blocks[1].proj.W.data) == pytest.approx(0.02 / 2, rel=0.05)       # 1/√(2·layers)
    assert np.std(gpt.blocks[1].attn.proj.W.data) == pytest.approx(0.02 / 2, rel=0.1)
    # at initialisation the model predicts close to uniformly: loss ≈ ln 65
    ids = np.random.default_rng(0).integers(0, 65, (4, 64))
    assert bp.losses.SoftmaxCrossEntropy()(gpt(ids), ids) == pytest.approx(np.log(65), abs=0.05)


# ---- the same model in PyTorch (optional) ---------------------------------------------------------

def test_tinygpt_against_torch(record_error):
    pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from torch_gpt import loss_and_grads  # the same model written in torch
    V, block = 13, 8
    gpt = TinyGPT(V, block, dim=8, heads=2, layers=2, seed=4)
    _perturb(gpt, 4, scale=0.2)
    rng = np.random.default_rng(9)
    ids, y = rng.integers(0, V, (3, block)), rng.integers(0, V, (3, block))
    loss = bp.losses.SoftmaxCrossEntropy()
    gpt.zero_grad()
    L = loss(gpt(ids), y)
    gpt.backward(loss.backward())
    L_torch, grads = loss_and_grads(gpt, ids, y)
    assert record_error("torch TinyGPT loss", abs(L - L_torch) / abs(L_torch)) <= 1e-12
    for name, p in gpt.named_parameters():
        assert record_error("torch TinyGPT grads", bp.relative_error(p.grad, grads[name])) <= 1e-10, name


def test_exercise_reference_is_the_engines_head():
    """ex17's checker compares learners with ``_reference``: it must be exactly one engine head."""
    from bpcourse.checks.ex17 import _reference
    layer = CausalSelfAttention(3, 1, seed=0)
    X = np.random.default_rng(1).standard_normal((1, 5, 3))
    out = layer(X)
    QKV = X[0] @ layer.qkv.W.data.T + layer.qkv.b.data
    Y = _reference(QKV[:, :3], QKV[:, 3:6], QKV[:, 6:])
    np.testing.assert_allclose(Y @ layer.proj.W.data.T + layer.proj.b.data, out[0], rtol=1e-13, atol=1e-14)
