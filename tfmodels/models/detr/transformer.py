"""DETR's encoder-decoder transformer (facebookresearch/detr ``models/transformer.py``).

``Transformer.forward`` of the original, channels last:

- the encoder (``enc_layers`` post-norm blocks; pre-norm with ``normalize_before`` and then
  a final LayerNorm) attends over the flattened feature map, the position encoding added to
  queries and keys only, padded pixels masked out of the keys;
- the decoder starts from zeros, adds the learned query embedding to its queries (and
  self-attention keys) at every layer, and passes every layer's output through the shared
  final LayerNorm (``return_intermediate=True``), giving ``[dec_layers, B, Q, D]`` for the
  auxiliary losses.

Built from the shared :class:`~tfmodels.layers.TransformerEncoderBlock` and
:class:`~tfmodels.layers.TransformerDecoderBlock` (ReLU, dropout on attention
probabilities, inside the FFN and before each residual, LayerNorm epsilon 1e-5).
``enc_layers=0`` gives MaskFormer's decoder-only predictor.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.layers import LayerNorm, TransformerDecoderBlock, TransformerEncoderBlock

# PyTorch masks with −inf; a large finite value gives the same softmax without NaNs.
MASK_VALUE = -1e9


@keras.saving.register_keras_serializable(package="tfmodels")
class DetrTransformer(keras.layers.Layer):
    """Encoder + decoder with DETR's defaults (d_model 256, 8 heads, FFN 2048, 6 + 6 layers).

    ``call(src, mask, query_embed, pos)``: ``src`` [B, N, D] flattened features, ``mask``
    [B, N] (1 = pixel, 0 = padding), ``query_embed`` [Q, D], ``pos`` [B, N, D]. Returns
    ``(hs, memory)``: ``hs`` [dec_layers, B, Q, D] (every layer through the final norm;
    only the last when ``return_intermediate_dec`` is False) and ``memory`` [B, N, D].
    """

    def __init__(self, d_model=256, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", normalize_before=False,
                 return_intermediate_dec=True, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.d_model = int(d_model)
        self.nhead = int(nhead)
        self.num_encoder_layers = int(num_encoder_layers)
        self.num_decoder_layers = int(num_decoder_layers)
        self.dim_feedforward = int(dim_feedforward)
        self.dropout = float(dropout)
        self.activation = activation
        self.normalize_before = bool(normalize_before)
        self.return_intermediate_dec = bool(return_intermediate_dec)
        self.epsilon = float(epsilon)
        if self.num_decoder_layers < 1:
            raise ValueError(f"num_decoder_layers must be >= 1; got {num_decoder_layers}")
        self.encoder_layers = [
            TransformerEncoderBlock(
                nhead, d_model, dim_feedforward, activation=activation, hidden_dropout=dropout,
                attention_dropout=dropout, inner_dropout=dropout, norm_first=normalize_before,
                epsilon=epsilon, mask_value=MASK_VALUE, name=f"encoder_layer_{i}")
            for i in range(self.num_encoder_layers)
        ]
        self.encoder_norm = (LayerNorm(epsilon=epsilon, name="encoder_norm")
                             if normalize_before and self.num_encoder_layers else None)
        self.decoder_layers = [
            TransformerDecoderBlock(
                nhead, d_model, dim_feedforward, activation=activation, dropout=dropout,
                norm_first=normalize_before, epsilon=epsilon, mask_value=MASK_VALUE,
                name=f"decoder_layer_{i}")
            for i in range(self.num_decoder_layers)
        ]
        self.decoder_norm = LayerNorm(epsilon=epsilon, name="decoder_norm")

    def build(self, src_shape, *args, **kwargs):
        shape = (None, None, self.d_model)
        for layer in self.encoder_layers:
            layer.build(shape)
        if self.encoder_norm is not None:
            self.encoder_norm.build(shape)
        for layer in self.decoder_layers:
            layer.build(shape, shape)
        self.decoder_norm.build(shape)
        self.built = True

    def encode(self, src, mask, pos, training=None):
        memory = src
        for layer in self.encoder_layers:
            memory = layer(memory, attention_mask=mask, pos=pos, training=training)
        if self.encoder_norm is not None:
            memory = self.encoder_norm(memory)
        return memory

    def decode(self, memory, mask, query_embed, pos, training=None):
        batch = tf.shape(memory)[0]
        query_pos = tf.tile(tf.cast(query_embed, memory.dtype)[None], [batch, 1, 1])
        tgt = tf.zeros_like(query_pos)
        intermediate = []
        for layer in self.decoder_layers:
            tgt = layer(tgt, memory, query_pos=query_pos, memory_pos=pos, memory_mask=mask,
                        training=training)
            if self.return_intermediate_dec:
                intermediate.append(self.decoder_norm(tgt))
        if not self.return_intermediate_dec:
            intermediate.append(self.decoder_norm(tgt))
        return tf.stack(intermediate)

    def call(self, src, mask, query_embed, pos, training=None):
        memory = self.encode(src, mask, pos, training=training)
        hs = self.decode(memory, mask, query_embed, pos, training=training)
        return hs, memory

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, nhead=self.nhead,
                      num_encoder_layers=self.num_encoder_layers,
                      num_decoder_layers=self.num_decoder_layers,
                      dim_feedforward=self.dim_feedforward, dropout=self.dropout,
                      activation=self.activation, normalize_before=self.normalize_before,
                      return_intermediate_dec=self.return_intermediate_dec,
                      epsilon=self.epsilon)
        return config
