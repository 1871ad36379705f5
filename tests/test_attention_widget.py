"""Kernel-side tests of bp.widgets.AttentionExplorer (notebook 17): drive the prompt, layer, head and
temperature from Python and read back what the figure shows against the model itself."""
import numpy as np
import pytest
from test_widgets import assert_png_changed

import bpcourse as bp
import bpcourse.widgets as bw

VOCAB = bp.data.CharVocab(bp.data.load_text("shakespeare"))


@pytest.fixture(scope="module")
def trained():
    """A TinyGPT trained a little (60 Adam steps), so its heads and predictions are not uniform."""
    text_ids = VOCAB.encode(bp.data.load_text("shakespeare")[:200_000])
    gpt = bp.nn.TinyGPT(len(VOCAB), 16, dim=16, heads=2, layers=2, seed=0)
    opt = bp.optim.Adam(gpt.parameters(), lr=1e-2)
    loss, rng = bp.losses.SoftmaxCrossEntropy(), np.random.default_rng(0)
    for _ in range(60):
        X, Y = bp.data.get_batch(text_ids, 16, 16, rng)
        opt.zero_grad()
        loss(gpt(X), Y)
        gpt.backward(loss.backward())
        opt.step()
    return gpt


def test_map_and_distribution_are_the_models(trained):
    w = bw.AttentionExplorer(trained, VOCAB, prompt="To be, or not", layer=2, head=2, temperature=0.7)
    s = w.state()
    ids = VOCAB.encode("To be, or not")
    logits = trained(ids[None])[0, -1]
    np.testing.assert_allclose(s["A"], trained.blocks[1].attn.A[0, 1])
    np.testing.assert_allclose(s["A_plotted"], s["A"])
    assert np.allclose(s["A"].sum(axis=1), 1) and np.all(np.triu(s["A"], 1) == 0)    # causal rows
    p = bp.activations.softmax(logits / 0.7)
    np.testing.assert_allclose(s["probs"], p)
    top = np.argsort(-p)[:w.TOP]
    np.testing.assert_allclose(s["bars"], p[top])
    assert s["bar_labels"] == [repr(VOCAB.chars[i]) for i in top]
    expected = VOCAB.decode(trained.generate(ids[None], w.N_NEW, temperature=0.7, seed=0)[0, len(ids):])
    assert s["continuation"] == expected and expected.replace("\n", "⏎") in s["sample_text"]


def test_controls_change_the_figure(trained):
    w = bw.AttentionExplorer(trained, VOCAB, prompt="ROMEO:\nBut soft", layer=1, head=1)
    before, A1 = w.png, w.state()["A"]
    w.controls["head"].value = 2
    assert not np.allclose(w.state()["A"], A1)
    np.testing.assert_allclose(w.state()["A"], w.state()["A_plotted"])
    assert_png_changed(before, w.png)
    w.controls["layer"].value = 2
    assert w.state()["layer"] == 2 and w.state()["A"].shape == A1.shape
    cold = w.state()["probs"]
    w.controls["temperature"].value = 0.3
    hot = w.state()["probs"]
    assert hot.max() > cold.max()                 # lower temperature: a sharper distribution
    w.controls["prompt"].value = "KING"
    s = w.state()
    assert s["chars"] == list("KING") and s["A"].shape == (4, 4)
    # a prompt longer than block_size: only its last block_size characters are read
    w.controls["prompt"].value = "x" * 5 + "First Citizen: speak"
    assert len(w.state()["chars"]) == trained.block_size


def test_unknown_character_is_reported_not_raised(trained):
    w = bw.AttentionExplorer(trained, VOCAB)
    good = w.state()["prompt"]
    w.controls["prompt"].value = "hello ~ world"
    assert isinstance(w.last_error, ValueError) and "'~'" in str(w.last_error)
    assert w.state()["prompt"] == good            # the view keeps the last good state
    w.controls["prompt"].value = "hello world"
    assert w.last_error is None and w.state()["prompt"] == "hello world"


def test_bad_arguments():
    with pytest.raises(ValueError, match="AttentionExplorer: model must be a bp.nn.TinyGPT"):
        bw.AttentionExplorer(model=bp.nn.MLP([2, 1]), vocab=VOCAB)
    gpt = bp.nn.TinyGPT(10, 8, dim=8, heads=2, layers=1)
    with pytest.raises(ValueError, match="vocab must be the bp.data.CharVocab of the model's 10"):
        bw.AttentionExplorer(gpt, VOCAB)
    with pytest.raises(ValueError, match="layer"):
        bw.AttentionExplorer(layer=3)
    with pytest.raises(ValueError, match="is not in the vocabulary"):
        bw.AttentionExplorer(prompt="~")
