"""Stochastic depth (Huang et al. 2016, "Deep Networks with Stochastic Depth").

During training each example's residual branch is dropped with probability ``rate``
and the kept ones are scaled by ``1 / (1 - rate)`` (timm ``drop_path``; big_vision's
``DropPath``), so the expectation is unchanged; at inference it is the identity.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfmodels")
class DropPath(keras.layers.Layer):
    """Drops the whole input of an example (one Bernoulli draw per batch row)."""

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"DropPath rate must be in [0, 1); got {rate}")
        self.rate = float(rate)
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed) if self.rate else None

    def call(self, x, training=None):
        if not training or not self.rate:
            return x
        keep = 1.0 - self.rate
        shape = tf.concat([tf.shape(x)[:1], tf.ones([tf.rank(x) - 1], tf.int32)], 0)
        u = keras.random.uniform(shape, seed=self._seed_generator, dtype=x.dtype)
        return x * tf.floor(keep + u) / tf.cast(keep, x.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config
