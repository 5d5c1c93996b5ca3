"""tfmodels.layers.Dropout: keras.layers.Dropout outside XLA, a Threefry mask under XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfmodels.layers import Dropout

RATE = 0.2
N_ROWS, N_COLS = 200, 500  # 100,000 mask entries per draw


def _jit_masks(layer, x, draws):
    """``draws`` masks (1 kept, 0 dropped) drawn by successive calls in one XLA function."""
    fn = tf.function(lambda z: tf.stack([layer(z, training=True) for _ in range(draws)]),
                     jit_compile=True)
    return fn(x).numpy()


def test_keep_rate_and_scaling_under_xla():
    x = tf.ones([N_ROWS, N_COLS])
    y = _jit_masks(Dropout(RATE, seed=3), x, 1)[0]
    kept = y != 0
    # Binomial(n, 0.8): the kept fraction within 5 standard deviations
    n, p = kept.size, 1.0 - RATE
    assert abs(kept.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[kept], 1.0 / (1.0 - RATE), rtol=1e-6)


def _corr(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return np.corrcoef(a, b)[0, 1]


def test_masks_independent_across_calls_and_positions():
    x = tf.ones([N_ROWS, N_COLS])
    layer = Dropout(RATE, seed=11)
    first = _jit_masks(layer, x, 2) != 0
    second = _jit_masks(layer, x, 1)[0] != 0  # the next step: the seed generator moved on
    bound = 5 / np.sqrt(first[0].size)  # |r| of independent masks: ~N(0, 1/n)
    assert abs(_corr(first[0], first[1])) < bound  # two calls in one step
    assert abs(_corr(first[0], second)) < bound  # two steps
    m = first[0]
    assert abs(_corr(m[:, :-1], m[:, 1:])) < bound  # neighbouring positions
    assert abs(_corr(m[:-1], m[1:])) < bound  # neighbouring rows
    # the kept fraction per row does not drift along the flattened index
    rows = m.mean(axis=1)
    assert abs(_corr(rows, np.arange(N_ROWS))) < 5 / np.sqrt(N_ROWS)


def test_xla_mask_uses_threefry():
    """The point of the layer: XLA's Threefry expansion, not the default (slow on CPU)."""
    x = tf.ones([8, 16])
    ours_layer, theirs_layer = Dropout(RATE, seed=1), keras.layers.Dropout(RATE, seed=1)
    ours = tf.function(lambda z: ours_layer(z, training=True), jit_compile=True)
    hlo = ours.experimental_get_compiler_ir(x)(stage="hlo")
    assert "algorithm=rng_three_fry" in hlo
    # ...while keras.layers.Dropout's compiled mask uses it (the slow path being replaced)
    theirs = tf.function(lambda z: theirs_layer(z, training=True), jit_compile=True)
    assert "rng_three_fry" not in theirs.experimental_get_compiler_ir(x)(stage="hlo")


def _training_call(layer, wrap):
    return wrap(lambda z: layer(z, training=True))


@pytest.mark.parametrize("wrap", [lambda f: f, tf.function], ids=["eager", "function"])
def test_outside_xla_it_is_keras_dropout(wrap):
    x = tf.random.normal([4, 6, 8], seed=0)
    ours = _training_call(Dropout(0.3, seed=5), wrap)
    theirs = _training_call(keras.layers.Dropout(0.3, seed=5), wrap)
    for _ in range(2):  # same stream on successive calls too
        np.testing.assert_array_equal(ours(x).numpy(), theirs(x).numpy())


@pytest.mark.parametrize("jit", [False, True])
def test_identity_at_inference(jit):
    x = tf.random.normal([4, 6, 8], seed=1)
    layer = Dropout(0.5, seed=2)
    fn = tf.function(lambda z: layer(z, training=False), jit_compile=jit)
    np.testing.assert_array_equal(fn(x).numpy(), x.numpy())
    no_rate = Dropout(0.0)
    zero = tf.function(lambda z: no_rate(z, training=True), jit_compile=jit)
    np.testing.assert_array_equal(zero(x).numpy(), x.numpy())


def test_noise_shape_under_xla():
    x = tf.ones([64, 32, 8])
    layer = Dropout(0.5, noise_shape=(None, 1, 8), seed=4)
    y = tf.function(lambda z: layer(z, training=True), jit_compile=True)(x).numpy()
    # one draw per (row, channel): identical along the broadcast axis
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1], y.shape))
    assert 0.3 < (y != 0).mean() < 0.7


def test_config_round_trip():
    layer = Dropout(0.25, noise_shape=(None, 1), seed=9, name="drop")
    config = keras.layers.serialize(layer)
    back = keras.layers.deserialize(config)
    assert isinstance(back, Dropout)
    assert (back.rate, back.noise_shape, back.seed, back.name) == (0.25, (None, 1), 9, "drop")
