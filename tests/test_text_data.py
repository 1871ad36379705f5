"""Tests for the shipped text corpus and the character-level helpers of bpcourse.data (notebook 17)."""
from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpcourse as bp
from bpcourse import data

TEXT_FILE = Path(data.__file__).parent / "data_files" / "tinyshakespeare.txt.gz"


def test_corpus_is_shipped_attributed_and_intact():
    raw = gzip.decompress(TEXT_FILE.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    readme = (TEXT_FILE.parent / "README.md").read_text(encoding="utf-8")
    assert "tinyshakespeare.txt.gz" in readme and "Karpathy" in readme and "public domain" in readme
    assert "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed" in readme


def test_package_data_includes_the_corpus():
    pyproject = (Path(data.__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^bpcourse = \[[^\]\n]*"data_files/\*"', pyproject, flags=re.M)   # (tomllib is 3.11+)


def test_load_text_shakespeare():
    text = bp.data.load_text("shakespeare")
    assert isinstance(text, str) and len(text) == 1_115_394 and len(set(text)) == 65
    assert text.startswith("First Citizen:")
    assert bp.data.load_text() is text                 # read once, then cached
    with pytest.raises(ValueError, match="load_text: unknown text 'hamlet'; valid: shakespeare"):
        bp.data.load_text("hamlet")


def test_char_vocab_round_trip_on_the_corpus():
    text = bp.data.load_text("shakespeare")
    vocab = bp.data.CharVocab(text)
    assert len(vocab) == 65 and vocab.chars == sorted(vocab.chars)
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),) and ids.min() == 0 and ids.max() == 64
    assert vocab.decode(ids[:1000]) == text[:1000]


@given(text=st.text(min_size=1, max_size=40))
def test_char_vocab_round_trip_any_text(text):
    vocab = bp.data.CharVocab(text)
    assert vocab.decode(vocab.encode(text)) == text
    assert len(vocab) == len(set(text))


def test_char_vocab_errors():
    vocab = bp.data.CharVocab("abc")
    with pytest.raises(ValueError, match=r"CharVocab.encode: character 'z' \(position 1\) is not in the vocabulary of 3"):
        vocab.encode("azb")
    with pytest.raises(ValueError, match=r"CharVocab.decode: ids must lie in \[0, 3\), got values from 0 to 3"):
        vocab.decode(np.array([0, 3]))
    with pytest.raises(ValueError, match="CharVocab.decode: expected a 1-D integer array"):
        vocab.decode(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="CharVocab: expected a non-empty str"):
        bp.data.CharVocab("")
    with pytest.raises(ValueError, match="CharVocab.encode: expected a str"):
        vocab.encode(["a"])


def test_split_ids_is_90_10_and_contiguous():
    ids = np.arange(1000)
    train, val = bp.data.split_ids(ids)
    assert len(train) == 900 and len(val) == 100
    np.testing.assert_array_equal(np.concatenate([train, val]), ids)
    assert len(bp.data.split_ids(ids, 0.5)[0]) == 500
    for bad in (0, 1, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="split_ids: train_fraction"):
            bp.data.split_ids(ids, bad)


@given(seed=st.integers(0, 2**32 - 1), block=st.integers(1, 9), batch=st.integers(1, 5), n=st.integers(10, 40))
def test_get_batch_targets_are_inputs_shifted_by_one(seed, block, batch, n):
    ids = np.random.default_rng(seed).integers(0, 7, n)
    X, Y = bp.data.get_batch(ids, block, batch, np.random.default_rng(seed))
    assert X.shape == Y.shape == (batch, block) and X.dtype == Y.dtype == np.int64
    np.testing.assert_array_equal(X[:, 1:], Y[:, :-1])
    # every row is a real window of ids
    for x, y in zip(X, Y):
        starts = [i for i in range(n - block) if np.array_equal(ids[i:i + block], x)]
        assert any(np.array_equal(ids[i + 1:i + block + 1], y) for i in starts)


def test_get_batch_seeded_and_covers_the_last_window():
    ids = np.arange(12)
    a = bp.data.get_batch(ids, 4, 3, 0)
    np.testing.assert_array_equal(a[0], bp.data.get_batch(ids, 4, 3, 0)[0])
    X, Y = bp.data.get_batch(ids, 4, 2000, np.random.default_rng(1))
    assert X[:, 0].min() == 0 and Y[:, -1].max() == 11      # first and last windows both drawn


@pytest.mark.parametrize("args,message", [
    ((np.arange(5), 5, 2), r"get_batch: need at least block_size \+ 1 = 6 ids, got 5"),
    ((np.arange(20), 0, 2), "get_batch: block_size must be a positive integer, got 0"),
    ((np.arange(20), 4, 2.0), "get_batch: batch_size must be a positive integer"),
    ((np.arange(20.0), 4, 2), "get_batch: ids must be a 1-D integer array"),
])
def test_get_batch_errors(args, message):
    with pytest.raises(ValueError, match=message):
        bp.data.get_batch(*args, np.random.default_rng(0))
