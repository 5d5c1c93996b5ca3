"""DETR's prediction heads (facebookresearch/detr ``models/detr.py``).

``class_embed`` is one linear layer to ``num_classes + 1`` logits (the last is "no
object"); ``bbox_embed`` is :class:`MLP` (3 layers, ReLU between them) followed by a
sigmoid, giving boxes as normalised (cx, cy, w, h).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf


def torch_linear_init(fan_in):
    """PyTorch's default ``nn.Linear``/``nn.Conv2d`` initialisation for ``fan_in`` inputs:
    kernel and bias uniform in ±1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5))."""
    bound = 1.0 / math.sqrt(fan_in)
    return (keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
            keras.initializers.RandomUniform(-bound, bound))


def torch_dense(units, fan_in, name):
    kernel, bias = torch_linear_init(fan_in)
    return keras.layers.Dense(units, kernel_initializer=kernel, bias_initializer=bias,
                              name=name)


@keras.saving.register_keras_serializable(package="tfmodels")
class MLP(keras.layers.Layer):
    """The original ``MLP``: ``num_layers`` linear layers with ReLU between (not after the last)."""

    def __init__(self, hidden_dim, output_dim, num_layers, input_dim=None, **kwargs):
        super().__init__(**kwargs)
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be >= 1; got {num_layers}")
        self.hidden_dim = int(hidden_dim)
        self.output_dim = int(output_dim)
        self.num_layers = int(num_layers)
        self.input_dim = int(input_dim or hidden_dim)
        dims = [self.hidden_dim] * (self.num_layers - 1) + [self.output_dim]
        fans = [self.input_dim] + [self.hidden_dim] * (self.num_layers - 1)
        # PyTorch's default Linear initialisation, as the original's nn.Linear layers.
        self.dense_layers = [torch_dense(d, f, f"layers_{i}")
                             for i, (d, f) in enumerate(zip(dims, fans))]

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
                      num_layers=self.num_layers, input_dim=self.input_dim)
        return config
