"""Patch embedding of ViT (Dosovitskiy et al. 2021): conv with kernel = stride
= patch size, then flatten the grid into a sequence.

The kernel is HWIO, the layout of the original ``embedding/kernel`` in the
google-research/vision_transformer checkpoints.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfmodels")
class PatchEmbedding(keras.layers.Layer):
    """``[B, H, W, C]`` images → ``[B, (H/p)·(W/p), hidden]`` patch tokens."""

    def __init__(self, patch_size, hidden_size, kernel_initializer="lecun_normal", **kwargs):
        super().__init__(**kwargs)
        self.patch_size = int(patch_size)
        self.hidden_size = int(hidden_size)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.conv = keras.layers.Conv2D(
            hidden_size,
            kernel_size=patch_size,
            strides=patch_size,
            padding="valid",
            kernel_initializer=self.kernel_initializer,
            name="embedding",
        )

    def build(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        for dim, name in ((h, "height"), (w, "width")):
            if dim is not None and dim % self.patch_size:
                raise ValueError(
                    f"image {name} {dim} is not a multiple of patch_size {self.patch_size}"
                )
        self.conv.build(input_shape)
        self.built = True

    def call(self, images):
        x = self.conv(images)
        b = tf.shape(x)[0]
        return tf.reshape(x, [b, -1, self.hidden_size])

    def get_config(self):
        config = super().get_config()
        config.update(
            patch_size=self.patch_size,
            hidden_size=self.hidden_size,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
