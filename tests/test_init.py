"""Weight initialisers (``bp.init``): shapes, variances (Glorot & Bengio 2010; He et al. 2015),
reproducibility by seed, Generators passed through, bad names."""
import numpy as np
import pytest

import bpcourse as bp
from bpcourse import init

N_IN, N_OUT = 300, 500                    # 150,000 weights: the sample variance is within ~0.4 %

# name -> the variance the method promises for W (n_out, n_in)
VARIANCE = {
    "xavier_uniform": 2.0 / (N_IN + N_OUT),
    "xavier_normal": 2.0 / (N_IN + N_OUT),
    "xavier": 2.0 / (N_IN + N_OUT),
    "glorot": 2.0 / (N_IN + N_OUT),
    "he_normal": 2.0 / N_IN,
    "he_uniform": 2.0 / N_IN,
    "he": 2.0 / N_IN,
    "lecun": 1.0 / N_IN,
}
RANDOM_INITS = list(VARIANCE) + ["normal"]


@pytest.mark.parametrize("name", list(VARIANCE))
def test_variance_matches_the_paper(name):
    W = init.initialize(name, N_IN, N_OUT, rng=0)
    assert W.shape == (N_OUT, N_IN) and W.dtype == np.float64
    assert W.var() == pytest.approx(VARIANCE[name], rel=0.02)
    assert abs(W.mean()) < 4 * np.sqrt(VARIANCE[name] / W.size)          # mean 0, within 4 s.e.


@pytest.mark.parametrize("name,limit", [("xavier_uniform", np.sqrt(6 / (N_IN + N_OUT))), ("he_uniform", np.sqrt(6 / N_IN))])
def test_uniform_inits_stay_inside_their_limit(name, limit):
    W = init.initialize(name, N_IN, N_OUT, rng=1)
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.99 * limit


@pytest.mark.parametrize("name", ["xavier_normal", "he_normal", "lecun"])
def test_normal_inits_look_gaussian(name):
    W = init.initialize(name, N_IN, N_OUT, rng=2)
    z = W / np.sqrt(VARIANCE[name])
    assert np.mean(np.abs(z) < 1) == pytest.approx(0.6827, abs=0.01)       # one-sigma mass
    assert np.mean(z ** 4) == pytest.approx(3.0, rel=0.05)                 # Gaussian kurtosis


def test_normal_takes_a_std_and_constant_a_value():
    W = init.initialize("normal", N_IN, N_OUT, rng=3, std=0.01)
    assert W.std() == pytest.approx(0.01, rel=0.02)
    C = init.initialize("constant", 3, 2, value=0.25)
    np.testing.assert_array_equal(C, np.full((2, 3), 0.25))
    assert np.all(init.initialize("constant", 4, 5) == init.initialize("constant", 4, 5)[0, 0])


@pytest.mark.parametrize("name", RANDOM_INITS + ["constant"])
@pytest.mark.parametrize("n_in,n_out", [(1, 1), (3, 7), (10, 2)])
def test_shape_is_out_by_in(name, n_in, n_out):
    assert init.initialize(name, n_in, n_out, rng=0).shape == (n_out, n_in)
    assert init.get_init(name)(n_in, n_out).shape == (n_out, n_in)


@pytest.mark.parametrize("name", RANDOM_INITS)
def test_same_seed_same_weights_other_seed_other_weights(name):
    a, b = init.initialize(name, 20, 10, rng=7), init.initialize(name, 20, 10, rng=7)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, init.initialize(name, 20, 10, rng=8))


@pytest.mark.parametrize("name", RANDOM_INITS)
def test_generator_is_passed_through(name):
    g = np.random.default_rng(11)
    assert init.as_rng(g) is g
    first, second = init.initialize(name, 6, 4, rng=g), init.initialize(name, 6, 4, rng=g)
    assert not np.array_equal(first, second)                               # the generator advanced
    np.testing.assert_array_equal(first, init.initialize(name, 6, 4, rng=np.random.default_rng(11)))


def test_as_rng_from_int_and_none():
    assert isinstance(init.as_rng(None), np.random.Generator)
    assert init.as_rng(5).random() == np.random.default_rng(5).random()


@pytest.mark.parametrize("name", ["xavier", "he_normal", "normal"])
def test_dtype_argument(name):
    W = init.initialize(name, 5, 4, rng=0, dtype=np.float32)
    assert W.dtype == np.float32
    np.testing.assert_allclose(W, init.initialize(name, 5, 4, rng=0), rtol=1e-6)


def test_linear_uses_the_named_init():
    lin = bp.nn.Linear(N_IN, N_OUT, init="he_normal", seed=0)
    np.testing.assert_array_equal(lin.W.data, init.he_normal(N_IN, N_OUT, np.random.default_rng(0)))
    assert not lin.b.data.any()                                            # biases start at zero
    assert bp.nn.Linear(3, 2, init="normal", std=0.0).W.data.tolist() == [[0.0] * 3] * 2


def test_mlp_picks_he_for_relu_and_xavier_otherwise():
    assert bp.nn.MLP([2, 3, 1], activation="relu").init == "he"
    assert bp.nn.MLP([2, 3, 1], activation="leaky_relu").init == "he"
    assert bp.nn.MLP([2, 3, 1], activation="tanh").init == "xavier"
    assert bp.nn.MLP([2, 3, 1], activation="relu", init="xavier_normal").init == "xavier_normal"
    big = bp.nn.MLP([N_IN, N_OUT, 1], activation="relu", seed=0)
    assert big.layers[0].W.data.var() == pytest.approx(2.0 / N_IN, rel=0.02)


def test_callable_init_is_used_as_is():
    def ones(n_in, n_out, rng=None, dtype=np.float64):
        return np.ones((n_out, n_in), dtype=dtype)
    assert init.get_init(ones) is ones
    np.testing.assert_array_equal(bp.nn.Linear(2, 3, init=ones).W.data, np.ones((3, 2)))


@pytest.mark.parametrize("bad", ["kaiming", "Xavier", "", None, 3])
def test_unknown_init_lists_valid_names(bad):
    with pytest.raises(ValueError) as info:
        init.get_init(bad)
    msg = str(info.value)
    assert f"unknown init {bad!r}" in msg and all(name in msg for name in init.INITS)
