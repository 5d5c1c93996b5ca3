"""Position-wise feed-forward network: Dense → activation → dropout → Dense.

BERT names the two projections ``intermediate/dense`` and ``output/dense``;
here they are ``intermediate`` and ``output_dense``. The dropout after the
second projection belongs to the enclosing block (it precedes the residual).
"""

from __future__ import annotations

import keras

from tfmodels.layers.activations import get_activation
from tfmodels.layers.dense_ops import apply_dense
from tfmodels.layers.dropout import Dropout


@keras.saving.register_keras_serializable(package="tfmodels")
class FeedForward(keras.layers.Layer):
    """Two dense layers with an activation between them.

    Args:
      intermediate_size: width of the hidden layer (BERT ``intermediate_size``).
      output_size: width of the output (default: input width).
      activation: ``"gelu_tanh"`` (original BERT), ``"gelu"`` (exact erf),
        ``"relu"`` (DETR) or any name :func:`get_activation` knows.
      inner_dropout: dropout between the two layers (DETR, ViT); BERT has none.
    """

    def __init__(
        self,
        intermediate_size,
        output_size=None,
        activation="gelu_tanh",
        inner_dropout=0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_size = int(intermediate_size)
        self.output_size = output_size
        self.activation_name = activation
        self.activation = get_activation(activation)
        self.inner_dropout_rate = float(inner_dropout)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.intermediate = keras.layers.Dense(
            self.intermediate_size, kernel_initializer=self.kernel_initializer, name="intermediate"
        )
        self.inner_dropout = Dropout(self.inner_dropout_rate)
        self.output_dense = None

    def build(self, input_shape):
        self.intermediate.build(input_shape)
        out = self.output_size or int(input_shape[-1])
        self.output_dense = keras.layers.Dense(
            out, kernel_initializer=self.kernel_initializer, name="output_dense"
        )
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_size,))
        self.built = True

    def call(self, x, training=None):
        # Flattened MatMul + BiasAdd (+ activation) on the Dense weights: see dense_ops.
        h = apply_dense(self.intermediate, x, activation=self.activation)
        h = self.inner_dropout(h, training=training)
        return apply_dense(self.output_dense, h)

    def get_config(self):
        config = super().get_config()
        config.update(
            intermediate_size=self.intermediate_size,
            output_size=self.output_size,
            activation=self.activation_name,
            inner_dropout=self.inner_dropout_rate,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
