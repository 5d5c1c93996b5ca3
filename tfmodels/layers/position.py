"""Position encodings: learned 1-D embeddings and DETR's 2-D sine encoding."""

from __future__ import annotations

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfmodels")
class PositionEmbedding(keras.layers.Layer):
    """Learned absolute position embeddings (BERT ``position_embeddings``).

    ``call(x)`` returns the first ``T`` rows of the table broadcast to
    ``x.shape`` ([B, T, D]); the caller adds it. A sequence longer than
    ``max_length`` raises, as the original's ``assert_less_equal``.
    """

    def __init__(self, max_length, initializer="truncated_normal", **kwargs):
        super().__init__(**kwargs)
        self.max_length = int(max_length)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.max_length, int(input_shape[-1])),
            initializer=self.initializer,
        )
        self.built = True

    def call(self, x):
        length = tf.shape(x)[-2]
        static = x.shape[-2]
        if static is not None and static > self.max_length:
            raise ValueError(
                f"sequence length {static} exceeds max_position_embeddings {self.max_length}"
            )
        tf.debugging.assert_less_equal(
            length, self.max_length, message="sequence length exceeds max_position_embeddings"
        )
        table = tf.cast(self.embeddings[:length], x.dtype)
        return tf.broadcast_to(table, tf.shape(x))

    def get_config(self):
        config = super().get_config()
        config.update(
            max_length=self.max_length,
            initializer=keras.initializers.serialize(self.initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="tfmodels")
class SinePositionEncoding2D(keras.layers.Layer):
    """Fixed 2-D sine/cosine encoding of DETR ``PositionEmbeddingSine``.

    Input: a mask ``[B, H, W]`` with True (1) on valid pixels. Output:
    ``[B, H, W, 2·num_pos_feats]``, channels last, y features first then x,
    each interleaving sin (even) and cos (odd) as the original's
    ``stack(sin, cos).flatten``. With ``normalize`` the cumulative
    coordinates are divided by their last value (+1e-6) and scaled by 2π.
    """

    def __init__(self, num_pos_feats=128, temperature=10000, normalize=True, scale=None, **kw):
        super().__init__(**kw)
        if scale is not None and not normalize:
            raise ValueError("normalize should be True if scale is passed")
        self.num_pos_feats = int(num_pos_feats)
        self.temperature = float(temperature)
        self.normalize = bool(normalize)
        self.scale = 2 * math.pi if scale is None else float(scale)

    def call(self, mask):
        not_mask = tf.cast(mask, tf.float32)
        y_embed = tf.cumsum(not_mask, axis=1)
        x_embed = tf.cumsum(not_mask, axis=2)
        if self.normalize:
            eps = 1e-6
            y_embed = y_embed / (y_embed[:, -1:, :] + eps) * self.scale
            x_embed = x_embed / (x_embed[:, :, -1:] + eps) * self.scale
        i = tf.range(self.num_pos_feats, dtype=tf.float32)
        dim_t = self.temperature ** (2.0 * tf.math.floordiv(i, 2.0) / self.num_pos_feats)
        pos_x = x_embed[..., None] / dim_t
        pos_y = y_embed[..., None] / dim_t

        def interleave(p):
            s = tf.sin(p[..., 0::2])
            c = tf.cos(p[..., 1::2])
            stacked = tf.stack([s, c], axis=-1)  # [..., F/2, 2]
            shape = tf.concat([tf.shape(p)[:-1], [self.num_pos_feats]], 0)
            return tf.reshape(stacked, shape)

        return tf.concat([interleave(pos_y), interleave(pos_x)], axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_pos_feats=self.num_pos_feats,
            temperature=self.temperature,
            normalize=self.normalize,
            scale=self.scale,
        )
        return config
