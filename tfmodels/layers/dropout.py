"""Dropout whose mask is cheap under XLA on CPU.

``keras.layers.Dropout`` draws its mask with ``tf.random.stateless_uniform`` and the
``auto_select`` algorithm. Inside a ``jit_compile`` function on CPU that becomes XLA's
RngBitGenerator with the Philox algorithm, whose CPU expansion is slow: measured on a
[128, 200, 50] tensor, 0.97 s per mask against 13 ms outside XLA, and it dominated SASRec's
jit training step (0.26x the PyTorch peer). :class:`Dropout` is ``keras.layers.Dropout``
unchanged outside XLA; while tracing for XLA it draws the same Bernoulli(1 - rate) mask with
the counter-based Threefry-2x32 generator (Salmon et al. 2011, "Parallel random numbers: as
easy as 1, 2, 3"), which XLA expands into fused integer arithmetic: 8 ms for the same mask.

Deviation: under XLA the random stream differs from ``keras.layers.Dropout`` /
``tf.nn.dropout`` (another generator from the same per-call seed); the keep probability,
the 1 / (1 - rate) scaling of kept values, the seed generator and inference (the identity)
are the same.
"""

from __future__ import annotations

import keras
import tensorflow as tf

# Counter-based generator that XLA on CPU expands into fused elementwise integer ops.
XLA_RNG_ALG = "threefry"


def in_xla_context():
    """True while tracing a jit_compile function (it enters an XLA control-flow context)."""
    try:
        from tensorflow.python.ops import control_flow_util

        return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
    except (ImportError, AttributeError):
        return False


def _int32_seed(seed):
    """The [2] int64 SeedGenerator state as the int32 seed stateless ops take under XLA."""
    if seed.dtype == tf.int32:
        return seed
    return tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)


@keras.saving.register_keras_serializable(package="tfmodels")
class Dropout(keras.layers.Dropout):
    """``keras.layers.Dropout`` with a Threefry mask while tracing for XLA.

    Same arguments and config as ``keras.layers.Dropout`` (``rate``, ``noise_shape``,
    ``seed``). Outside XLA it is that layer exactly (same random stream).
    """

    def call(self, inputs, training=False):
        if not training or self.rate <= 0 or not in_xla_context():
            return super().call(inputs, training=training)
        inputs = tf.convert_to_tensor(inputs)
        noise_shape = tf.shape(inputs)
        if self.noise_shape is not None:
            noise_shape = [noise_shape[i] if d is None else d
                           for i, d in enumerate(self.noise_shape)]
        seed = _int32_seed(self.seed_generator.next())
        return tf.nn.experimental.stateless_dropout(
            inputs, rate=self.rate, seed=seed, rng_alg=XLA_RNG_ALG, noise_shape=noise_shape)
