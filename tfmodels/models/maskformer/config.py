"""MaskFormerConfig: the model keys of MaskFormer's detectron2 configs (``MODEL.*``).

``backbone`` is ``"resnet50"``/``"resnet101"`` (``build_resnet_backbone``) or ``"swin"``
(``D2SwinTransformer``; ``swin_*`` fields, Swin-T by default, Swin-S with depths 2-2-18-2).
``backbone_layers``/``backbone_width`` are additions for small ResNets; ``backbone_norm`` is
detectron2's ``RESNETS.NORM`` (``"frozen"`` = FrozenBN, ``"batch"`` = trainable BN).
Fields mirror ``MODEL.SEM_SEG_HEAD`` (``num_classes``, ``pixel_decoder``, ``conv_dim``,
``mask_dim``) and ``MODEL.MASK_FORMER`` (``hidden_dim``, ``num_queries``, ``nheads``,
``dim_feedforward``, ``enc_layers``, ``dec_layers``, ``pre_norm``, ``deep_supervision``,
``dropout``, ``enforce_input_proj``, ``transformer_enc_layers`` of the pixel decoder).
"""

from __future__ import annotations

import dataclasses

from tfmodels.models.config_json import JsonConfig

RESNETS = {"resnet50": 50, "resnet101": 101}
PIXEL_DECODERS = ("BasePixelDecoder", "TransformerEncoderPixelDecoder")


@dataclasses.dataclass
class MaskFormerConfig(JsonConfig):
    num_classes: int = 150  # ADE20K-150
    backbone: str = "resnet50"
    backbone_layers: tuple | None = None
    backbone_width: int = 64
    backbone_norm: str = "frozen"
    frozen_stages: int = -1  # detectron2 FREEZE_AT 0 (MaskFormer's configs): nothing frozen
    swin_embed_dim: int = 96
    swin_depths: tuple = (2, 2, 6, 2)
    swin_num_heads: tuple = (3, 6, 12, 24)
    swin_window_size: int = 7
    swin_patch_size: int = 4
    swin_mlp_ratio: float = 4.0
    swin_drop_path_rate: float = 0.3
    pixel_decoder: str = "BasePixelDecoder"
    conv_dim: int = 256
    mask_dim: int = 256
    transformer_enc_layers: int = 6  # of TransformerEncoderPixelDecoder
    hidden_dim: int = 256
    num_queries: int = 100
    nheads: int = 8
    dim_feedforward: int = 2048
    enc_layers: int = 0
    dec_layers: int = 6
    pre_norm: bool = False
    deep_supervision: bool = True
    dropout: float = 0.1
    enforce_input_proj: bool = False

    def __post_init__(self):
        if self.backbone not in RESNETS and self.backbone != "swin":
            raise ValueError(f"backbone must be one of {sorted(RESNETS) + ['swin']}; "
                             f"got {self.backbone!r}")
        if self.pixel_decoder not in PIXEL_DECODERS:
            raise ValueError(f"pixel_decoder must be one of {PIXEL_DECODERS}; "
                             f"got {self.pixel_decoder!r}")
        if self.backbone_layers is not None:
            self.backbone_layers = tuple(int(n) for n in self.backbone_layers)
        self.swin_depths = tuple(int(n) for n in self.swin_depths)
        self.swin_num_heads = tuple(int(n) for n in self.swin_num_heads)
        for name in ("num_classes", "hidden_dim", "nheads", "num_queries", "dec_layers",
                     "dim_feedforward", "conv_dim", "mask_dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive; got {getattr(self, name)}")
        if self.hidden_dim % self.nheads:
            raise ValueError(f"hidden_dim ({self.hidden_dim}) is not a multiple of nheads "
                             f"({self.nheads})")
        if self.conv_dim % 32:
            raise ValueError(f"conv_dim ({self.conv_dim}) must be a multiple of 32 "
                             "(GroupNorm with 32 groups)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout}")
