"""ObjectCheckpoint saves every weight of a Keras model, layers in Python lists included."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfmodels import training


class _Stack(keras.Model):
    def __init__(self, seed, **kwargs):
        super().__init__(**kwargs)
        init = keras.initializers.RandomNormal(seed=seed)
        self.blocks = [keras.layers.Dense(4, kernel_initializer=init) for _ in range(3)]
        self.parts = {"norm": keras.layers.BatchNormalization()}

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return self.parts["norm"](x)


def _built(seed):
    model = _Stack(seed)
    model(np.ones((2, 4), "float32"))
    return model


def test_every_weight_round_trips(tmp_path):
    model = _built(1)
    optimizer = keras.optimizers.Adam(1e-2)
    optimizer.build(model.trainable_variables)
    for var in model.non_trainable_variables:  # batch-norm statistics too
        var.assign(var + 3.0)
    ckpt = training.ObjectCheckpoint(str(tmp_path), model=model, optimizer=optimizer)
    ckpt.save(7)
    saved = [n for n, _ in tf.train.list_variables(str(tmp_path / "model.ckpt-7"))
             if n.startswith("model/")]
    assert len(saved) == len(model.weights) == 3 * 2 + 4

    other = _built(2)
    assert not np.allclose(other.blocks[0].kernel.numpy(), model.blocks[0].kernel.numpy())
    other_opt = keras.optimizers.Adam(1e-2)
    other_opt.build(other.trainable_variables)
    step = training.ObjectCheckpoint(str(tmp_path), model=other, optimizer=other_opt).restore()
    assert step == 7
    for a, b in zip(model.weights, other.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_unbuilt_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="build it"):
        training.ObjectCheckpoint(str(tmp_path), model=_Stack(0)).save(1)
