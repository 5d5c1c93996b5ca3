"""DETR (Carion et al. 2020, "End-to-End Object Detection with Transformers").

``DETR`` of facebookresearch/detr ``models/detr.py`` as a Keras model:
backbone → C5 features + down-sampled padding mask → position encoding → ``input_proj``
(1×1 convolution to ``hidden_dim``) → transformer with ``num_queries`` learned object queries
→ ``class_embed`` (``num_classes + 1`` logits) and ``bbox_embed`` (3-layer MLP + sigmoid,
normalised cx, cy, w, h) on every decoder layer.

Input: ``{"pixel_values": [B, H, W, 3] float (ImageNet-normalised), "pixel_mask": [B, H, W]
(1 = pixel, 0 = padding)}`` (the mask may be omitted: no padding). Output: ``{"pred_logits":
[B, Q, num_classes + 1], "pred_boxes": [B, Q, 4]}`` from the last decoder layer, and with
``aux_loss`` ``"aux_outputs"``: a list (one per earlier decoder layer) of dicts with the same
two keys, as the original's ``_set_aux_loss``. The original's ``NestedTensor`` mask is True on
padding; here it is the opposite (1 = pixel), as HF's ``pixel_mask``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.models.detr.backbone import ResNetBackbone, downsample_mask
from tfmodels.models.detr.config import DetrConfig
from tfmodels.models.detr.heads import MLP, torch_dense, torch_linear_init
from tfmodels.models.detr.position_encoding import build_position_encoding
from tfmodels.models.detr.transformer import DetrTransformer


@keras.saving.register_keras_serializable(package="tfmodels")
class DETR(keras.Model):
    """DETR detector; ``DETR(DetrConfig(...))`` or ``DETR(**config_fields)``."""

    def __init__(self, config=None, **kwargs):
        known = {k: kwargs.pop(k) for k in list(kwargs) if k in DetrConfig.__dataclass_fields__}
        super().__init__(**kwargs)
        if config is None:
            config = DetrConfig(**known)
        elif isinstance(config, dict):
            config = DetrConfig.from_dict(config)
        self.config = config
        c = config
        self.backbone = ResNetBackbone(
            depth=c.depth, layers=c.backbone_layers, width=c.backbone_width,
            dilation=c.dilation, train_backbone=c.train_backbone, out_features=("res5",),
            frozen_stages=c.frozen_stages, norm=c.backbone_norm, name="backbone")
        self.position_encoding = build_position_encoding(c.hidden_dim, c.position_embedding)
        # PyTorch's default initialisations, as the original (Conv2d/Linear: ±1/sqrt(fan_in);
        # Embedding: N(0, 1), which keeps the object queries distinct from the start).
        kernel, bias = torch_linear_init(self.backbone.num_channels)
        self.input_proj = keras.layers.Conv2D(c.hidden_dim, 1, kernel_initializer=kernel,
                                              bias_initializer=bias, name="input_proj")
        self.query_embed = keras.layers.Embedding(
            c.num_queries, c.hidden_dim, embeddings_initializer=keras.initializers.RandomNormal(
                0.0, 1.0), name="query_embed")
        self.transformer = DetrTransformer(
            d_model=c.hidden_dim, nhead=c.nheads, num_encoder_layers=c.enc_layers,
            num_decoder_layers=c.dec_layers, dim_feedforward=c.dim_feedforward,
            dropout=c.dropout, normalize_before=c.pre_norm, return_intermediate_dec=True,
            name="transformer")
        self.class_embed = torch_dense(c.num_classes + 1, c.hidden_dim, "class_embed")
        self.bbox_embed = MLP(c.hidden_dim, 4, 3, name="bbox_embed")

    def build(self, input_shape=None):
        c = self.config
        self.backbone.build((None, None, None, 3))
        self.input_proj.build((None, None, None, self.backbone.num_channels))
        self.query_embed.build((c.num_queries,))
        self.position_encoding.build((None, None, None))
        self.transformer.build((None, None, c.hidden_dim))
        self.class_embed.build((None, c.hidden_dim))
        self.bbox_embed.build((None, c.hidden_dim))
        self.built = True

    def features(self, pixel_values, pixel_mask, training=None):
        """Backbone + mask + position encoding + ``input_proj``, flattened: (src, mask, pos)."""
        feat = self.backbone(pixel_values, training=training)["res5"]
        shape = tf.shape(feat)
        mask = downsample_mask(pixel_mask, shape[1:3])
        pos = tf.cast(self.position_encoding(mask), feat.dtype)
        src = self.input_proj(feat)
        flat = lambda t: tf.reshape(t, [shape[0], shape[1] * shape[2], t.shape[-1]])  # noqa: E731
        return flat(src), tf.reshape(mask, [shape[0], -1]), flat(pos)

    def call(self, inputs, training=None):
        if isinstance(inputs, dict):
            pixel_values = inputs["pixel_values"]
            pixel_mask = inputs.get("pixel_mask")
        else:
            pixel_values, pixel_mask = inputs, None
        pixel_values = tf.convert_to_tensor(pixel_values)
        if pixel_mask is None:
            pixel_mask = tf.ones(tf.shape(pixel_values)[:3], tf.float32)
        src, mask, pos = self.features(pixel_values, tf.cast(pixel_mask, tf.float32), training)
        hs, _ = self.transformer(src, mask, self.query_embed.embeddings, pos, training=training)
        logits = self.class_embed(hs)  # [L, B, Q, C + 1]
        boxes = tf.sigmoid(self.bbox_embed(hs))  # [L, B, Q, 4]
        out = {"pred_logits": logits[-1], "pred_boxes": boxes[-1]}
        if self.config.aux_loss:
            out["aux_outputs"] = [
                {"pred_logits": logits[i], "pred_boxes": boxes[i]}
                for i in range(self.config.dec_layers - 1)
            ]
        return out

    def get_config(self):
        config = super().get_config()
        config.update(config=self.config.to_dict())
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(config=DetrConfig.from_dict(config.pop("config")), **config)
