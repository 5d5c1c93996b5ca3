"""Transformer encoder block, post-norm (BERT, DETR) or pre-norm (ViT).

Post-norm mirrors the loop body of ``transformer_model`` in google-research/bert
``modeling.py``::

    a = dropout(attention(x));  x = LayerNorm(x + a)
    f = dropout(ffn(x));        x = LayerNorm(x + f)

Pre-norm (Xiong et al. 2020; ViT ``Encoder1DBlock``)::

    x = x + dropout(attention(LayerNorm(x)))
    x = x + dropout(ffn(LayerNorm(x)))

``pos`` (DETR's ``forward_post(src, pos=...)``) is added to queries and keys
only, never to values.

Sublayer names are shared with :class:`TransformerDecoderBlock`: ``self_attention``,
``self_attention_layer_norm``, ``feed_forward``, ``output_layer_norm`` (and the
``*_dropout`` layers before each residual). Original names map to them in each
family's weight table (BERT: ``attention/self`` -> ``self_attention``,
``attention/output/LayerNorm`` -> ``self_attention_layer_norm``, ``intermediate`` /
``output/dense`` -> ``feed_forward``, ``output/LayerNorm`` -> ``output_layer_norm``).
"""

from __future__ import annotations

import keras

from tfmodels.layers.attention import MultiHeadAttention, head_size
from tfmodels.layers.feed_forward import FeedForward
from tfmodels.layers.layer_norm import LayerNorm


@keras.saving.register_keras_serializable(package="tfmodels")
class TransformerEncoderBlock(keras.layers.Layer):
    """Self-attention + feed-forward with residuals and LayerNorm.

    Args:
      num_heads, hidden_size, intermediate_size: shapes; ``hidden_size`` must
        be divisible by ``num_heads``.
      activation: FFN activation (``"gelu_tanh"`` as the original BERT).
      hidden_dropout: dropout on each sub-layer output before the residual.
      attention_dropout: dropout on attention probabilities.
      inner_dropout: dropout inside the FFN (DETR, ViT).
      norm_first: pre-norm if True, post-norm (BERT) if False.
      epsilon: LayerNorm epsilon (BERT 1e-12, ViT 1e-6, DETR 1e-5).
      mask_value: additive attention-mask value (BERT −10000).
    """

    def __init__(
        self,
        num_heads,
        hidden_size,
        intermediate_size,
        activation="gelu_tanh",
        hidden_dropout=0.1,
        attention_dropout=0.1,
        inner_dropout=0.0,
        norm_first=False,
        epsilon=1e-12,
        kernel_initializer="glorot_uniform",
        mask_value=-10000.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        head = head_size(hidden_size, num_heads)
        self.num_heads = int(num_heads)
        self.hidden_size = int(hidden_size)
        self.intermediate_size = int(intermediate_size)
        self.activation = activation
        self.hidden_dropout_rate = float(hidden_dropout)
        self.attention_dropout_rate = float(attention_dropout)
        self.inner_dropout_rate = float(inner_dropout)
        self.norm_first = bool(norm_first)
        self.epsilon = float(epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.mask_value = float(mask_value)

        self.self_attention = MultiHeadAttention(
            num_heads,
            head,
            dropout=attention_dropout,
            kernel_initializer=self.kernel_initializer,
            mask_value=mask_value,
            name="self_attention",
        )
        self.self_attention_layer_norm = LayerNorm(
            epsilon=epsilon, name="self_attention_layer_norm"
        )
        self.feed_forward = FeedForward(
            intermediate_size,
            hidden_size,
            activation=activation,
            inner_dropout=inner_dropout,
            kernel_initializer=self.kernel_initializer,
            name="feed_forward",
        )
        self.output_layer_norm = LayerNorm(epsilon=epsilon, name="output_layer_norm")
        self.self_attention_dropout = keras.layers.Dropout(hidden_dropout)
        self.feed_forward_dropout = keras.layers.Dropout(hidden_dropout)

    def build(self, input_shape):
        if int(input_shape[-1]) != self.hidden_size:
            raise ValueError(
                f"input width {input_shape[-1]} does not match hidden_size {self.hidden_size}"
            )
        self.self_attention.build(input_shape)
        self.self_attention_layer_norm.build(input_shape)
        self.feed_forward.build(input_shape)
        self.output_layer_norm.build(input_shape)
        self.built = True

    def _attend(self, x, attention_mask, pos, training):
        qk = x if pos is None else x + pos
        return self.self_attention(
            qk, value=x, key=qk, attention_mask=attention_mask, training=training
        )

    def call(self, x, attention_mask=None, pos=None, training=None):
        if self.norm_first:
            h = self.self_attention_layer_norm(x)
            x = x + self.self_attention_dropout(
                self._attend(h, attention_mask, pos, training), training=training
            )
            h = self.output_layer_norm(x)
            f = self.feed_forward(h, training=training)
            return x + self.feed_forward_dropout(f, training=training)
        a = self._attend(x, attention_mask, pos, training)
        x = self.self_attention_layer_norm(x + self.self_attention_dropout(a, training=training))
        f = self.feed_forward(x, training=training)
        return self.output_layer_norm(x + self.feed_forward_dropout(f, training=training))

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            activation=self.activation,
            hidden_dropout=self.hidden_dropout_rate,
            attention_dropout=self.attention_dropout_rate,
            inner_dropout=self.inner_dropout_rate,
            norm_first=self.norm_first,
            epsilon=self.epsilon,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            mask_value=self.mask_value,
        )
        return config
