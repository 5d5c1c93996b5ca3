"""MaskFormer's transformer predictor (MaskFormer ``transformer/transformer_predictor.py``).

``TransformerPredictor.forward(x, mask_features)`` of the original, channels last: sine
positions of the input feature (``res5`` or the pixel decoder's transformer feature),
``input_proj`` (1×1) when its width differs from ``hidden_dim``, DETR's transformer
(``enc_layers`` = 0 by default: decoder only) with ``num_queries`` learned queries, then on
every decoder layer's output (through the shared final LayerNorm) ``class_embed``
(``num_classes + 1`` logits) and ``mask_embed`` (3-layer MLP to ``mask_dim``); masks are
``einsum("lbqc,bhwc->lbqhw", mask_embed, mask_features)``. With ``deep_supervision`` the
earlier layers' predictions are returned as ``aux_outputs``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.models.detr.heads import MLP, torch_dense, torch_linear_init
from tfmodels.models.detr.position_encoding import build_position_encoding
from tfmodels.models.detr.transformer import DetrTransformer


@keras.saving.register_keras_serializable(package="tfmodels")
class TransformerPredictor(keras.layers.Layer):
    """Query decoder + class and mask heads; returns the original's output dict
    (``pred_logits`` [B, Q, K + 1], ``pred_masks`` [B, Q, h, w], ``aux_outputs``)."""

    def __init__(self, in_channels, num_classes, hidden_dim=256, num_queries=100, nheads=8,
                 dropout=0.1, dim_feedforward=2048, enc_layers=0, dec_layers=6,
                 pre_norm=False, deep_supervision=True, mask_dim=256,
                 enforce_input_project=False, **kwargs):
        super().__init__(**kwargs)
        self.in_channels, self.num_classes = int(in_channels), int(num_classes)
        self.hidden_dim, self.num_queries, self.nheads = int(hidden_dim), int(num_queries), \
            int(nheads)
        self.dropout, self.dim_feedforward = float(dropout), int(dim_feedforward)
        self.enc_layers, self.dec_layers = int(enc_layers), int(dec_layers)
        self.pre_norm, self.deep_supervision = bool(pre_norm), bool(deep_supervision)
        self.mask_dim, self.enforce_input_project = int(mask_dim), bool(enforce_input_project)
        self.pe_layer = build_position_encoding(self.hidden_dim, "sine", name="pe_layer")
        self.transformer = DetrTransformer(
            d_model=hidden_dim, nhead=nheads, num_encoder_layers=enc_layers,
            num_decoder_layers=dec_layers, dim_feedforward=dim_feedforward, dropout=dropout,
            normalize_before=pre_norm, return_intermediate_dec=deep_supervision,
            name="transformer")
        self.query_embed = keras.layers.Embedding(
            num_queries, hidden_dim,
            embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0), name="query_embed")
        self.input_proj = None
        if self.in_channels != self.hidden_dim or self.enforce_input_project:
            kernel, bias = torch_linear_init(self.in_channels)
            self.input_proj = keras.layers.Conv2D(hidden_dim, 1, kernel_initializer=kernel,
                                                  bias_initializer=bias, name="input_proj")
        self.class_embed = torch_dense(self.num_classes + 1, self.hidden_dim, "class_embed")
        self.mask_embed = MLP(self.hidden_dim, self.mask_dim, 3, name="mask_embed")

    def build(self, input_shape=None):
        d = self.hidden_dim
        self.transformer.build((None, None, d))
        self.query_embed.build((self.num_queries,))
        if self.input_proj is not None:
            self.input_proj.build((None, None, None, self.in_channels))
        self.class_embed.build((None, d))
        self.mask_embed.build((None, d))
        self.built = True

    def call(self, x, mask_features, training=None):
        s = tf.shape(x)
        mask = tf.ones(s[:3], tf.float32)
        pos = tf.cast(self.pe_layer(mask), x.dtype)
        src = self.input_proj(x) if self.input_proj is not None else x
        flat = lambda t: tf.reshape(t, [s[0], s[1] * s[2], self.hidden_dim])  # noqa: E731
        hs, _ = self.transformer(flat(src), tf.reshape(mask, [s[0], -1]),
                                 self.query_embed.embeddings, flat(pos), training=training)
        logits = self.class_embed(hs)  # [L, B, Q, K + 1]
        embed = self.mask_embed(hs)  # [L, B, Q, mask_dim]
        masks = tf.einsum("lbqc,bhwc->lbqhw", embed, tf.cast(mask_features, embed.dtype))
        out = {"pred_logits": logits[-1], "pred_masks": masks[-1]}
        if self.deep_supervision:
            out["aux_outputs"] = [{"pred_logits": logits[i], "pred_masks": masks[i]}
                                  for i in range(self.dec_layers - 1)]
        return out

    def get_config(self):
        config = super().get_config()
        config.update(in_channels=self.in_channels, num_classes=self.num_classes,
                      hidden_dim=self.hidden_dim, num_queries=self.num_queries,
                      nheads=self.nheads, dropout=self.dropout,
                      dim_feedforward=self.dim_feedforward, enc_layers=self.enc_layers,
                      dec_layers=self.dec_layers, pre_norm=self.pre_norm,
                      deep_supervision=self.deep_supervision, mask_dim=self.mask_dim,
                      enforce_input_project=self.enforce_input_project)
        return config
