"""MaskFormer (Cheng et al. 2021, "Per-Pixel Classification is Not All You Need for Semantic
Segmentation"), ``MaskFormer`` of facebookresearch/MaskFormer ``mask_former_model.py``.

backbone (ResNet of DETR's backbone module, or Swin) → ``res2..res5`` → ``sem_seg_head`` =
pixel decoder (per-pixel embeddings at stride 4) + transformer predictor (class logits and
mask embeddings per query) → masks as dot products of the two.

Input ``{"pixel_values": [B, H, W, 3] float, ImageNet-normalised}`` (or the tensor itself).
Output, with HF ``MaskFormerForInstanceSegmentation``'s names: ``class_queries_logits``
[B, Q, K + 1], ``masks_queries_logits`` [B, Q, ⌈H/4⌉, ⌈W/4⌉], and with
``deep_supervision`` ``aux_outputs`` (one dict with both keys per earlier decoder layer).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.models.detr.backbone import ResNetBackbone
from tfmodels.models.maskformer.config import RESNETS, MaskFormerConfig
from tfmodels.models.maskformer.pixel_decoder import FEATURE_NAMES, build_pixel_decoder
from tfmodels.models.maskformer.predictor import TransformerPredictor
from tfmodels.models.maskformer.swin import SwinBackbone


def build_backbone(c):
    if c.backbone == "swin":
        return SwinBackbone(c.swin_embed_dim, c.swin_depths, c.swin_num_heads,
                            c.swin_window_size, c.swin_patch_size, c.swin_mlp_ratio,
                            drop_path_rate=c.swin_drop_path_rate, name="backbone")
    return ResNetBackbone(depth=RESNETS[c.backbone], layers=c.backbone_layers,
                          width=c.backbone_width, train_backbone=True,
                          out_features=FEATURE_NAMES, frozen_stages=c.frozen_stages,
                          norm=c.backbone_norm, name="backbone")


@keras.saving.register_keras_serializable(package="tfmodels")
class MaskFormer(keras.Model):
    """``MaskFormer(MaskFormerConfig(...))`` or ``MaskFormer(**config_fields)``."""

    def __init__(self, config=None, **kwargs):
        known = {k: kwargs.pop(k) for k in list(kwargs)
                 if k in MaskFormerConfig.__dataclass_fields__}
        super().__init__(**kwargs)
        if config is None:
            config = MaskFormerConfig(**known)
        elif isinstance(config, dict):
            config = MaskFormerConfig.from_dict(config)
        self.config = c = config
        self.backbone = build_backbone(c)
        channels = [self.backbone.channels[f] for f in FEATURE_NAMES]
        extra = {}
        if c.pixel_decoder == "TransformerEncoderPixelDecoder":
            extra = dict(enc_layers=c.transformer_enc_layers, nheads=c.nheads,
                         dim_feedforward=c.dim_feedforward, dropout=c.dropout,
                         pre_norm=c.pre_norm)
        self.pixel_decoder = build_pixel_decoder(c.pixel_decoder, channels, c.conv_dim,
                                                 c.mask_dim, **extra)
        in_channels = c.conv_dim if extra else channels[-1]
        self.predictor = TransformerPredictor(
            in_channels, c.num_classes, c.hidden_dim, c.num_queries, c.nheads, c.dropout,
            c.dim_feedforward, c.enc_layers, c.dec_layers, c.pre_norm, c.deep_supervision,
            c.mask_dim, c.enforce_input_proj, name="predictor")

    def build(self, input_shape=None):
        self.backbone.build((None, None, None, 3))
        self.pixel_decoder.build()
        self.predictor.build()
        self.built = True

    def call(self, inputs, training=None):
        x = inputs["pixel_values"] if isinstance(inputs, dict) else inputs
        features = self.backbone(tf.convert_to_tensor(x), training=training)
        mask_features, transformer_feature = self.pixel_decoder(features, training=training)
        source = features["res5"] if transformer_feature is None else transformer_feature
        out = self.predictor(source, mask_features, training=training)
        result = {"class_queries_logits": out["pred_logits"],
                  "masks_queries_logits": out["pred_masks"]}
        if "aux_outputs" in out:
            result["aux_outputs"] = [
                {"class_queries_logits": a["pred_logits"], "masks_queries_logits": a["pred_masks"]}
                for a in out["aux_outputs"]]
        return result

    def get_config(self):
        config = super().get_config()
        config.update(config=self.config.to_dict())
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(config=MaskFormerConfig.from_dict(config.pop("config")), **config)
