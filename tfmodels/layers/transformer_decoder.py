"""Transformer decoder block: self-attention, cross-attention, feed-forward.

Mirrors ``TransformerDecoderLayer`` of facebookresearch/detr
``models/transformer.py``: the query positional embedding is added to the
queries and keys of self-attention and to the queries of cross-attention at
every layer; the memory positional encoding is added to the cross-attention
keys; values never get positions. Post-norm by default (DETR), pre-norm with
``norm_first=True`` (DETR ``pre_norm``).

Sublayers (the same scheme as :class:`TransformerEncoderBlock`), with DETR's names:
``self_attention`` (``self_attn``), ``self_attention_layer_norm`` (``norm1``),
``cross_attention`` (``multihead_attn``), ``cross_attention_layer_norm`` (``norm2``),
``feed_forward`` (``linear1``/``linear2``), ``output_layer_norm`` (``norm3``), and the
``*_dropout`` layers before each residual (``dropout1``..``dropout3``).
"""

from __future__ import annotations

import keras

from tfmodels.layers.attention import MultiHeadAttention, head_size
from tfmodels.layers.feed_forward import FeedForward
from tfmodels.layers.layer_norm import LayerNorm


def _with_pos(x, pos):
    return x if pos is None else x + pos


@keras.saving.register_keras_serializable(package="tfmodels")
class TransformerDecoderBlock(keras.layers.Layer):
    """DETR-style decoder layer.

    call(tgt, memory, query_pos=None, memory_pos=None, self_attention_mask=None,
    memory_mask=None, training=None); masks use 1 = attend, 0 = ignore
    (the opposite of PyTorch's ``key_padding_mask``).
    """

    def __init__(
        self,
        num_heads,
        hidden_size,
        intermediate_size,
        activation="relu",
        dropout=0.1,
        norm_first=False,
        epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        mask_value=-1e9,
        **kwargs,
    ):
        super().__init__(**kwargs)
        head = head_size(hidden_size, num_heads)
        self.num_heads = int(num_heads)
        self.hidden_size = int(hidden_size)
        self.intermediate_size = int(intermediate_size)
        self.activation = activation
        self.dropout_rate = float(dropout)
        self.norm_first = bool(norm_first)
        self.epsilon = float(epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.mask_value = float(mask_value)
        common = dict(
            dropout=dropout, kernel_initializer=self.kernel_initializer, mask_value=mask_value
        )
        self.self_attention = MultiHeadAttention(num_heads, head, name="self_attention", **common)
        self.cross_attention = MultiHeadAttention(
            num_heads, head, name="cross_attention", **common
        )
        self.feed_forward = FeedForward(
            intermediate_size,
            hidden_size,
            activation=activation,
            inner_dropout=dropout,
            kernel_initializer=self.kernel_initializer,
            name="feed_forward",
        )
        self.self_attention_layer_norm = LayerNorm(
            epsilon=epsilon, name="self_attention_layer_norm"
        )
        self.cross_attention_layer_norm = LayerNorm(
            epsilon=epsilon, name="cross_attention_layer_norm"
        )
        self.output_layer_norm = LayerNorm(epsilon=epsilon, name="output_layer_norm")
        self.self_attention_dropout = keras.layers.Dropout(dropout)
        self.cross_attention_dropout = keras.layers.Dropout(dropout)
        self.feed_forward_dropout = keras.layers.Dropout(dropout)

    def build(self, tgt_shape, memory_shape=None):
        memory_shape = memory_shape or tgt_shape
        self.self_attention.build(tgt_shape)
        self.cross_attention.build(tgt_shape, memory_shape, memory_shape)
        self.feed_forward.build(tgt_shape)
        for norm in (
            self.self_attention_layer_norm,
            self.cross_attention_layer_norm,
            self.output_layer_norm,
        ):
            norm.build(tgt_shape)
        self.built = True

    def call(
        self,
        tgt,
        memory,
        query_pos=None,
        memory_pos=None,
        self_attention_mask=None,
        memory_mask=None,
        training=None,
    ):
        def self_attn(x):
            qk = _with_pos(x, query_pos)
            return self.self_attention(
                qk, value=x, key=qk, attention_mask=self_attention_mask, training=training
            )

        def cross_attn(x):
            return self.cross_attention(
                _with_pos(x, query_pos),
                value=memory,
                key=_with_pos(memory, memory_pos),
                attention_mask=memory_mask,
                training=training,
            )

        def ffn(x):
            return self.feed_forward(x, training=training)

        if self.norm_first:
            h = self_attn(self.self_attention_layer_norm(tgt))
            tgt = tgt + self.self_attention_dropout(h, training=training)
            h = cross_attn(self.cross_attention_layer_norm(tgt))
            tgt = tgt + self.cross_attention_dropout(h, training=training)
            h = ffn(self.output_layer_norm(tgt))
            return tgt + self.feed_forward_dropout(h, training=training)
        h = self.self_attention_dropout(self_attn(tgt), training=training)
        tgt = self.self_attention_layer_norm(tgt + h)
        h = self.cross_attention_dropout(cross_attn(tgt), training=training)
        tgt = self.cross_attention_layer_norm(tgt + h)
        h = self.feed_forward_dropout(ffn(tgt), training=training)
        return self.output_layer_norm(tgt + h)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            activation=self.activation,
            dropout=self.dropout_rate,
            norm_first=self.norm_first,
            epsilon=self.epsilon,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            mask_value=self.mask_value,
        )
        return config
