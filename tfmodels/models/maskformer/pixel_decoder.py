"""MaskFormer pixel decoders (MaskFormer ``modeling/heads/pixel_decoder.py``).

``BasePixelDecoder``: a light FPN over ``res2..res5``. The coarsest feature goes through a
3×3 convolution + GroupNorm(32) + ReLU (``layer_4``); each finer one through a lateral 1×1
convolution + GroupNorm (``adapter_i``), plus the coarser output up-sampled by nearest
neighbour, then a 3×3 convolution + GroupNorm + ReLU (``layer_i``); ``mask_features`` (3×3
convolution with bias) gives the per-pixel embeddings at stride 4 (``mask_dim`` channels).
Convolutions before a norm have no bias (detectron2 ``use_bias = norm == ""``).

``TransformerEncoderPixelDecoder``: the same FPN, but ``res5`` first passes through
``input_proj`` (1×1) and a DETR transformer encoder with sine positions; its output (the
``transformer_encoder`` feature, ``conv_dim`` channels) also feeds the predictor.

``call(features)`` returns ``(mask_features [B, H/4, W/4, mask_dim], transformer_feature)``,
the latter ``None`` for the base decoder. Channels last.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.layers import LayerNorm, TransformerEncoderBlock
from tfmodels.models.detr.position_encoding import build_position_encoding
from tfmodels.models.detr.transformer import MASK_VALUE

FEATURE_NAMES = ("res2", "res3", "res4", "res5")
# detectron2 c2_xavier_fill: kaiming_uniform_(a=1) = uniform ±sqrt(3 / fan_in), bias 0.
_XAVIER = keras.initializers.VarianceScaling(1.0, "fan_in", "uniform")


def _conv(filters, kernel, use_bias, name):
    return keras.layers.Conv2D(filters, kernel, padding="same", use_bias=use_bias,
                               kernel_initializer=_XAVIER, name=name)


def _gn(name):
    return keras.layers.GroupNormalization(32, epsilon=1e-5, name=name)


def upsample_nearest(x, size):
    """PyTorch ``F.interpolate(mode="nearest")`` to ``size``: source index
    ``floor(i · in / out)`` (``tf.image.resize`` picks other pixels for non-integer scales)."""
    def idx(n_in, n_out):
        scale = tf.cast(n_in, tf.float32) / tf.cast(n_out, tf.float32)
        i = tf.cast(tf.floor(tf.cast(tf.range(n_out), tf.float32) * scale), tf.int32)
        return tf.minimum(i, n_in - 1)

    s = tf.shape(x)
    return tf.gather(tf.gather(x, idx(s[1], size[0]), axis=1), idx(s[2], size[1]), axis=2)


@keras.saving.register_keras_serializable(package="tfmodels")
class BasePixelDecoder(keras.layers.Layer):
    """FPN pixel decoder. ``in_channels``: the widths of ``res2..res5`` (a list of four)."""

    def __init__(self, in_channels, conv_dim=256, mask_dim=256, **kwargs):
        super().__init__(**kwargs)
        self.in_channels = [int(c) for c in in_channels]
        if len(self.in_channels) != 4:
            raise ValueError(f"in_channels must list the widths of {FEATURE_NAMES}; "
                             f"got {in_channels}")
        self.conv_dim, self.mask_dim = int(conv_dim), int(mask_dim)
        self.adapters = [_conv(self.conv_dim, 1, False, f"adapter_{i + 1}") for i in range(3)]
        self.adapter_norms = [_gn(f"adapter_{i + 1}_norm") for i in range(3)]
        self.layers_ = [_conv(self.conv_dim, 3, False, f"layer_{i + 1}") for i in range(4)]
        self.layer_norms = [_gn(f"layer_{i + 1}_norm") for i in range(4)]
        self.mask_features = keras.layers.Conv2D(self.mask_dim, 3, padding="same",
                                                 kernel_initializer=_XAVIER,
                                                 name="mask_features")

    def _top_in_channels(self):
        return self.in_channels[3]

    def build(self, input_shape=None):
        d = self.conv_dim
        for i in range(3):
            self.adapters[i].build((None, None, None, self.in_channels[i]))
            self.adapter_norms[i].build((None, None, None, d))
        for i in range(4):
            self.layers_[i].build((None, None, None, d if i < 3 else self._top_in_channels()))
            self.layer_norms[i].build((None, None, None, d))
        self.mask_features.build((None, None, None, d))
        self.built = True

    def _top(self, x, training=None):
        return x, None

    def call(self, features, training=None):
        x, transformer_feature = self._top(features["res5"], training)
        y = tf.nn.relu(self.layer_norms[3](self.layers_[3](x)))
        for i in (2, 1, 0):
            lateral = self.adapter_norms[i](self.adapters[i](features[FEATURE_NAMES[i]]))
            y = lateral + upsample_nearest(y, tf.shape(lateral)[1:3])
            y = tf.nn.relu(self.layer_norms[i](self.layers_[i](y)))
        return self.mask_features(y), transformer_feature

    def get_config(self):
        config = super().get_config()
        config.update(in_channels=self.in_channels, conv_dim=self.conv_dim,
                      mask_dim=self.mask_dim)
        return config


@keras.saving.register_keras_serializable(package="tfmodels")
class TransformerEncoderPixelDecoder(BasePixelDecoder):
    """FPN with a transformer encoder on ``res5`` (``TransformerEncoderPixelDecoder``).

    The encoder is DETR's (post-norm unless ``pre_norm``, then a final LayerNorm), built
    from the shared :class:`~tfmodels.layers.TransformerEncoderBlock`.
    """

    def __init__(self, in_channels, conv_dim=256, mask_dim=256, enc_layers=6, nheads=8,
                 dim_feedforward=2048, dropout=0.1, pre_norm=False, **kwargs):
        super().__init__(in_channels, conv_dim, mask_dim, **kwargs)
        self.enc_layers, self.nheads = int(enc_layers), int(nheads)
        self.dim_feedforward, self.dropout = int(dim_feedforward), float(dropout)
        self.pre_norm = bool(pre_norm)
        self.input_proj = _conv(self.conv_dim, 1, True, "input_proj")
        self.pe_layer = build_position_encoding(self.conv_dim, "sine", name="pe_layer")
        self.encoder_layers = [
            TransformerEncoderBlock(
                nheads, conv_dim, dim_feedforward, activation="relu", hidden_dropout=dropout,
                attention_dropout=dropout, inner_dropout=dropout, norm_first=pre_norm,
                epsilon=1e-5, mask_value=MASK_VALUE, name=f"encoder_layer_{i}")
            for i in range(self.enc_layers)]
        self.encoder_norm = LayerNorm(epsilon=1e-5, name="encoder_norm") if pre_norm else None

    def _top_in_channels(self):
        return self.conv_dim

    def build(self, input_shape=None):
        super().build(input_shape)
        self.input_proj.build((None, None, None, self.in_channels[3]))
        for layer in self.encoder_layers:
            layer.build((None, None, self.conv_dim))
        if self.encoder_norm is not None:
            self.encoder_norm.build((None, None, self.conv_dim))

    def _top(self, x, training=None):
        x = self.input_proj(x)
        s = tf.shape(x)
        mask = tf.ones(s[:3], tf.float32)
        pos = tf.reshape(tf.cast(self.pe_layer(mask), x.dtype), [s[0], -1, self.conv_dim])
        h = tf.reshape(x, [s[0], -1, self.conv_dim])
        flat_mask = tf.reshape(mask, [s[0], -1])
        for layer in self.encoder_layers:
            h = layer(h, attention_mask=flat_mask, pos=pos, training=training)
        if self.encoder_norm is not None:
            h = self.encoder_norm(h)
        h = tf.reshape(h, s)
        return h, h

    def get_config(self):
        config = super().get_config()
        config.update(enc_layers=self.enc_layers, nheads=self.nheads,
                      dim_feedforward=self.dim_feedforward, dropout=self.dropout,
                      pre_norm=self.pre_norm)
        return config


def build_pixel_decoder(name, in_channels, conv_dim=256, mask_dim=256, **kwargs):
    """``MODEL.SEM_SEG_HEAD.PIXEL_DECODER_NAME``: ``BasePixelDecoder`` or
    ``TransformerEncoderPixelDecoder``."""
    if name == "BasePixelDecoder":
        return BasePixelDecoder(in_channels, conv_dim, mask_dim, name="pixel_decoder")
    if name == "TransformerEncoderPixelDecoder":
        return TransformerEncoderPixelDecoder(in_channels, conv_dim, mask_dim,
                                              name="pixel_decoder", **kwargs)
    raise ValueError("pixel_decoder must be 'BasePixelDecoder' or "
                     f"'TransformerEncoderPixelDecoder'; got {name!r}")
