"""DETR's prediction heads (facebookresearch/detr ``models/detr.py``).

``class_embed`` is one linear layer to ``num_classes + 1`` logits (the last is "no
object"); ``bbox_embed`` is :class:`MLP` (3 layers, ReLU between them) followed by a
sigmoid, giving boxes as normalised (cx, cy, w, h).
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfmodels")
class MLP(keras.layers.Layer):
    """The original ``MLP``: ``num_layers`` linear layers with ReLU between (not after the last)."""

    def __init__(self, hidden_dim, output_dim, num_layers, **kwargs):
        super().__init__(**kwargs)
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be >= 1; got {num_layers}")
        self.hidden_dim = int(hidden_dim)
        self.output_dim = int(output_dim)
        self.num_layers = int(num_layers)
        dims = [self.hidden_dim] * (self.num_layers - 1) + [self.output_dim]
        self.dense_layers = [keras.layers.Dense(d, name=f"layers_{i}") for i, d in enumerate(dims)]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.dense_layers:
            layer.build(shape)
            shape = shape[:-1] + (layer.units,)
        self.built = True

    def call(self, x):
        for i, layer in enumerate(self.dense_layers):
            x = layer(x)
            if i < self.num_layers - 1:
                x = tf.nn.relu(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, output_dim=self.output_dim,
                      num_layers=self.num_layers)
        return config
