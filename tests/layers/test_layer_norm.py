"""tfmodels.layers.LayerNorm: a drop-in for keras.layers.LayerNormalization on the fused op."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.ops.reference import layer_norm_backward, layer_norm_forward
from tfmodels.layers import LayerNorm


def _layer(n, epsilon=1e-12, seed=0, **kwargs):
    layer = LayerNorm(epsilon=epsilon, **kwargs)
    layer.build((None, n))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.standard_normal(n).astype("float32") for _ in range(2)])
    return layer


def _x(shape, seed=1):
    return (np.random.default_rng(seed).standard_normal(shape) * 3 - 1).astype("float32")


@pytest.mark.parametrize("mode", ["eager", "function", "jit_ffi", "jit_builder"])
def test_forward_and_gradients_match_numpy(mode):
    x = _x((2, 5, 48))
    dy = _x((2, 5, 48), seed=2)
    lowering = mode.split("_")[1] if mode.startswith("jit") else None
    layer = _layer(48, lowering=lowering)

    def step(x, dy):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        return y, tape.gradient(y, [x, layer.gamma, layer.beta], output_gradients=dy)

    if mode != "eager":
        step = tf.function(step, jit_compile=mode.startswith("jit"))
    y, (dx, dgamma, dbeta) = step(tf.constant(x), tf.constant(dy))
    gamma, beta = layer.get_weights()
    np.testing.assert_allclose(y, layer_norm_forward(x, gamma, beta, 1e-12)[0], atol=1e-5)
    for got, ref in zip((dx, dgamma, dbeta), layer_norm_backward(dy, x, gamma, 1e-12)):
        np.testing.assert_allclose(got, ref, atol=1e-5)


def test_drop_in_for_keras_layer_normalization():
    x = _x((4, 7, 32))
    ours = _layer(32, epsilon=1e-5)
    theirs = keras.layers.LayerNormalization(epsilon=1e-5)
    theirs.build((None, 32))
    theirs.set_weights(ours.get_weights())
    assert [w.name for w in theirs.weights] == [w.name for w in ours.weights] == ["gamma", "beta"]
    np.testing.assert_allclose(ours(x), theirs(x), atol=1e-5)


def test_get_config_round_trip_and_saving(tmp_path):
    layer = _layer(16, epsilon=1e-6, lowering="builder", name="ln")
    config = layer.get_config()
    assert config["epsilon"] == 1e-6 and config["lowering"] == "builder"
    clone = LayerNorm.from_config(config)
    assert clone.epsilon == 1e-6 and clone.lowering == "builder"
    inputs = keras.Input((3, 16))
    model = keras.Model(inputs, layer(inputs))
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    x = _x((2, 3, 16))
    np.testing.assert_allclose(restored(x), model(x), atol=1e-6)


def test_center_and_scale_off():
    layer = LayerNorm(epsilon=1e-12, center=False, scale=False)
    x = _x((3, 10))
    y = layer(x)
    assert layer.weights == []
    np.testing.assert_allclose(y, layer_norm_forward(x, np.ones(10), np.zeros(10), 1e-12)[0],
                               atol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("jit", [False, True])
def test_mixed_precision(policy, jit):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        layer = _layer(64, epsilon=1e-6)
        compute = tf.as_dtype(layer.compute_dtype)
        x = tf.cast(_x((4, 64)), compute)

        def step(x):
            with tf.GradientTape() as tape:
                y = layer(x)
                loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.range(64, dtype=tf.float32))
            return y, tape.gradient(loss, [layer.gamma, layer.beta])

        y, (dgamma, dbeta) = tf.function(step, jit_compile=jit)(x)
    finally:
        keras.config.set_dtype_policy(previous)
    assert y.dtype == compute
    assert layer.gamma.dtype == "float32" and dgamma.dtype == tf.float32
    xf = np.asarray(tf.cast(x, tf.float64))
    gamma, beta = layer.get_weights()
    ref = layer_norm_forward(xf, gamma, beta, 1e-6)[0]
    tol = 4e-3 if policy == "mixed_float16" else 3e-2
    np.testing.assert_allclose(np.asarray(tf.cast(y, tf.float64)), ref, atol=tol * 4, rtol=tol)
    _, rdgamma, rdbeta = layer_norm_backward(np.tile(np.arange(64.0), (4, 1)), xf, gamma, 1e-6)
    np.testing.assert_allclose(dgamma, rdgamma, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dbeta, rdbeta, rtol=1e-4, atol=1e-3)


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="epsilon"):
        LayerNorm(epsilon=-1e-3)
    with pytest.raises(ValueError, match="lowering"):
        LayerNorm(lowering="gpu")
    with pytest.raises(ValueError, match="last axis"):
        LayerNorm(axis=[1, 2])
    with pytest.raises(ValueError, match="rank >= 1"):
        LayerNorm()(tf.constant(3.0))
    with pytest.raises(ValueError, match="last axis only"):
        LayerNorm(axis=1)(tf.ones((2, 3, 4)))
    layer = _layer(8)
    with pytest.raises(ValueError, match="last dim 8"):
        layer(tf.ones((2, 5)))
