"""DETR's position encodings (facebookresearch/detr ``models/position_encoding.py``).

``sine`` is the shared :class:`~tfmodels.layers.SinePositionEncoding2D` (normalised
cumulative coordinates of the valid pixels, scale 2π, temperature 10,000; y features
first, then x). ``learned`` is ``PositionEmbeddingLearned``: 50 learned row and column
embeddings, x (column) features first, then y. Both take a [B, h, w] mask with
1 = pixel, 0 = padding and return [B, h, w, hidden_dim].
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.layers import SinePositionEncoding2D

_UNIT = keras.initializers.RandomUniform(0.0, 1.0)  # nn.init.uniform_


@keras.saving.register_keras_serializable(package="tfmodels")
class LearnedPositionEncoding2D(keras.layers.Layer):
    """``PositionEmbeddingLearned``: ``concat(col_embed[x], row_embed[y])`` per pixel.

    The original draws both tables from U(0, 1) (``nn.init.uniform_``) and supports feature
    maps up to 50×50; the mask only sets the batch size, as in the original.
    """

    def __init__(self, num_pos_feats=256, max_size=50, **kwargs):
        super().__init__(**kwargs)
        self.num_pos_feats = int(num_pos_feats)
        self.max_size = int(max_size)

    def build(self, input_shape):
        shape = (self.max_size, self.num_pos_feats)
        self.row_embed = self.add_weight(name="row_embed", shape=shape, initializer=_UNIT)
        self.col_embed = self.add_weight(name="col_embed", shape=shape, initializer=_UNIT)
        self.built = True

    def call(self, mask):
        shape = tf.shape(mask)
        b, h, w = shape[0], shape[1], shape[2]
        x_emb = self.col_embed[:w]  # [w, F]
        y_emb = self.row_embed[:h]  # [h, F]
        pos = tf.concat([tf.tile(x_emb[None], [h, 1, 1]), tf.tile(y_emb[:, None], [1, w, 1])],
                        axis=-1)
        return tf.tile(pos[None], [b, 1, 1, 1])

    def get_config(self):
        config = super().get_config()
        config.update(num_pos_feats=self.num_pos_feats, max_size=self.max_size)
        return config


def build_position_encoding(hidden_dim, kind="sine", name="position_encoding"):
    """The original's ``build_position_encoding(args)``: ``"sine"`` (v2) or ``"learned"`` (v3)."""
    n_steps = hidden_dim // 2
    if kind in ("v2", "sine"):
        return SinePositionEncoding2D(n_steps, normalize=True, name=name)
    if kind in ("v3", "learned"):
        return LearnedPositionEncoding2D(n_steps, name=name)
    raise ValueError(f"position_embedding must be 'sine' or 'learned'; got {kind!r}")
